"""User-defined fields: real columns added at run time.

A field is a row of ``core.field``; adding one rebuilds the registry, adds
the column (and index) through schema sync and moves the registry version,
so every process sees it on its next unit of work. The command line, the
API and templates (a later issue) all come through here.
"""
import re

from . import schema
from .errors import UserInputError
from .orm.env import SYSTEM_UID, Env

TYPES = ("char", "text", "integer", "decimal", "boolean", "date", "datetime", "selection", "many2one")
NAME = re.compile(r"^x_[a-z][a-z0-9_]*$")


def add_field(db, conn, model, name, type, label=None, selection=None, relation=None,
              required=False, index=False):
    """Add field ``name`` to ``model`` inside the caller's transaction."""
    registry = db.registry(conn)
    if model not in registry:
        raise UserInputError(f"unknown model {model!r}")
    if not NAME.match(name or ""):
        raise UserInputError(f"field name {name!r} must start with x_ and hold only a-z, 0-9 and _")
    if name in registry[model].fields:
        raise UserInputError(f"{model} already has a field {name!r}")
    if type not in TYPES:
        raise UserInputError(f"field type {type!r} is not one of {', '.join(TYPES)}")
    if type == "selection" and not selection:
        raise UserInputError("a selection field needs its options (--selection a,b)")
    if type == "many2one" and relation not in registry:
        raise UserInputError(f"a many2one field needs a known model to refer to, got {relation!r}")
    if required:
        raise UserInputError("required user-defined fields need a default; not supported yet")
    env = Env(db, conn, registry, SYSTEM_UID, su=True)
    options = [[o, o] if isinstance(o, str) else list(o) for o in selection or ()]
    env["core.field"].create({"model": model, "name": name, "type": type, "label": label or name,
                              "selection": options or None, "relation": relation,
                              "required": False, "indexed": bool(index)})
    new = db.build_registry(conn, db.installed_addons(conn))
    schema.sync(conn, new.metadata)
    new.version = db.bump_version(conn)
    return new[model].fields[name]
