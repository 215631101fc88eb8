"""User-defined fields: real columns added and removed at run time.

The one service for them: the command line (``keel field``), the API
(``/api/v1/meta/models/MODEL/fields``) and templates all come through here.

A field is a row of ``core.field``. Adding one checks everything first —
the acting user, the name, the type and its options, identifier lengths,
the table's column limit, ``required`` against the rows already there —
and only then writes: the ``core.field`` row, the column and its index
(schema sync), the default into existing rows, a new registry version (so
every process rebuilds its registry on its next unit of work) and an audit
entry. Removing one copies the column's values into ``core.field_archive``,
then drops the index and the column and deletes the row. Each happens in
the caller's transaction: on PostgreSQL and on SQLite (whose engine here
opens explicit transactions) DDL rolls back with everything else, so a
failure at any step leaves nothing behind.

Only administrators (a role with ``is_admin``, such as ``admin``) may add
or remove fields; ``user=None`` is the kernel's own system context.
"""
import re

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects.postgresql import base as _pg
from sqlalchemy.dialects.sqlite import base as _sqlite

from . import fields as F
from . import schema
from .errors import AccessDenied, UserInputError, ValidationError
from .orm.env import SYSTEM_UID, Env
from .registry import table_name
from .security import audit

TYPES = ("char", "text", "integer", "decimal", "boolean", "date", "datetime", "selection", "many2one")
NAME = re.compile(r"^x_[a-z][a-z0-9_]*$")
#: PostgreSQL's identifier limit (NAMEDATALEN - 1), applied on every database
#: so that a field (or a template) that works on SQLite works on PostgreSQL
MAX_IDENTIFIER = 63
#: most columns a table may have: PostgreSQL's MaxHeapAttributeNumber
#: (dropped columns count), SQLite's default SQLITE_MAX_COLUMN
MAX_COLUMNS = {"postgresql": 1600, "sqlite": 2000}
#: words no field may be called: SQL keywords of both databases and the
#: hidden system columns (PostgreSQL's ctid…, SQLite's rowid)
RESERVED = frozenset(_pg.RESERVED_WORDS) | frozenset(_sqlite.SQLiteIdentifierPreparer.reserved_words) \
    | {"oid", "tableoid", "xmin", "xmax", "cmin", "cmax", "ctid", "rowid", "_rowid_"}
ARCHIVE = "core.field_archive"
#: rows copied into the archive per statement
_CHUNK = 5000


class UnknownName(UserInputError):
    """An unknown model or field (the API answers 404)."""
    http_status = 404
    code = "not_found"


# -- adding ------------------------------------------------------------------------
def add_field(db, conn, model, name, type, *, label=None, selection=None, relation=None,
              required=False, index=False, default=None, user=None, source=None):
    """Add field ``name`` of ``type`` to ``model`` inside the caller's
    transaction, acting as ``user`` (login or id; ``None``: the system
    context). ``selection``: option values, ``(value, label)`` pairs or
    ``{"value", "label"}`` dicts; ``relation``: the model a many2one refers
    to; ``default``: a value (or its text) of the field's type — it fills
    the existing records and applies to new ones; ``required`` needs a
    default unless the table is empty. Returns the new field."""
    _lock_customization(conn)
    registry = db.registry(conn)
    env = _acting_env(db, conn, registry, user, source, f"add fields to {model}")
    meta = _model(registry, model)
    check_name(name)
    if name in meta.fields:
        owner = meta.fields[name].addon
        raise ValidationError(f"{model} already has a field {name!r}"
                              + (f" (from addon {owner})" if owner else " (user-defined)"),
                              {"model": model, "field": name})
    if type not in TYPES:
        raise UserInputError(f"field type {type!r} is not one of {', '.join(TYPES)}",
                             {"parameter": "type"})
    options = normalise_options(type, selection)
    check_relation(registry, type, relation)
    label = field_label(name, label)
    table = meta.table.name
    _check_identifiers(table, name, indexed=bool(index) or type == "many2one",
                       foreign_key=type == "many2one")
    _check_column_free(conn, table, model, name)
    _check_column_room(conn, table)
    probe = _field(type, label, options, relation)
    default_text, value = _default(env, model, name, probe, default)
    if required and default_text is None:
        rows = conn.execute(sa.select(sa.func.count()).select_from(meta.table)).scalar()
        if rows:
            raise ValidationError(
                f"{model}.{name} cannot be required without a default: {table} already holds "
                f"{rows} record{'s' if rows != 1 else ''}; give a default (it fills them) or add "
                "the field as optional", {"model": model, "field": name, "rows": rows})
    # -- everything is checked: now write --------------------------------------
    env.sudo()["core.field"].create({
        "model": model, "name": name, "type": type, "label": label,
        "selection": [list(o) for o in options] or None, "relation": relation,
        "required": bool(required), "indexed": bool(index) or type == "many2one",
        "default_value": default_text})
    new = db.build_registry(conn, db.installed_addons(conn))
    column = new[model].table.c[name]
    if value is not None and conn.dialect.name == "postgresql":
        _add_column_with_default(conn, column, value)
    schema.sync(conn, new.metadata)  # the column (unless just added), its index, its reference
    if value is not None and conn.dialect.name != "postgresql":
        conn.execute(sa.update(column.table).values({column: value}))
    new.version = db.bump_version(conn)
    field = new[model].fields[name]
    audit.log(env.with_registry(new), "field_add", model, None,
              {"field": name, **_definition_of(field, default_text)})
    return field


def _add_column_with_default(conn, column, value):
    """PostgreSQL: ``ADD COLUMN … DEFAULT value`` then ``DROP DEFAULT``. The
    existing rows read the value from the catalog (PostgreSQL ≥ 11 stores a
    constant default of a new column once instead of rewriting every row,
    and keeps it for those rows when the default is dropped), so a default
    on a large table costs no UPDATE; new records get theirs from the model
    API, as every other field's. (SQLite gets an UPDATE: its ``DEFAULT``
    could never be dropped again without a table rebuild.)"""
    literal = sa.literal(value, column.type).compile(dialect=conn.dialect,
                                                     compile_kwargs={"literal_binds": True})
    ops = Operations(MigrationContext.configure(conn))
    table = column.table.name
    # without its reference: schema sync adds that (and the index) next
    ops.add_column(table, sa.Column(column.name, column.type, server_default=sa.text(str(literal))))
    ops.alter_column(table, column.name, server_default=None)


def add(db, model, name, type, **options):
    """:func:`add_field` in a transaction of its own."""
    with db.transaction() as conn:
        return add_field(db, conn, model, name, type, **options)


def check_name(name):
    """Refuse a field name that is not ``x_`` + lower-case letters, digits
    and ``_``, that is an SQL keyword, or that is too long for a column."""
    if not isinstance(name, str) or not name:
        raise UserInputError("a field needs a name (x_…)", {"parameter": "name"})
    if name.lower() in RESERVED:
        raise UserInputError(f"field name {name!r} is an SQL keyword; user-defined field names "
                             "start with x_", {"parameter": "name"})
    if not NAME.match(name):
        raise UserInputError(f"field name {name!r} must start with x_ and hold only a-z, 0-9 "
                             "and _ (a letter first after x_)", {"parameter": "name"})
    if len(name.encode()) > MAX_IDENTIFIER:
        raise UserInputError(f"field name {name!r} has {len(name.encode())} characters; "
                             f"at most {MAX_IDENTIFIER}", {"parameter": "name"})


def _check_identifiers(table, name, indexed, foreign_key):
    """The index and foreign key the column brings must fit PostgreSQL's
    63-byte identifiers too (a longer name would be cut, and clash)."""
    names = ([f"ix_{table}_{name}"] if indexed else []) + ([f"fk_{table}_{name}"] if foreign_key else [])
    for ident in names:
        size = len(ident.encode())
        if size > MAX_IDENTIFIER:
            raise UserInputError(
                f"field name {name!r} is too long for {table}: its index or key {ident} would "
                f"have {size} characters, PostgreSQL allows {MAX_IDENTIFIER}; shorten the name "
                f"by {size - MAX_IDENTIFIER}", {"parameter": "name"})


def _check_column_free(conn, table, model, name):
    """No column of that name in the table, even one the registry does not
    know (left by an uninstalled addon, whose data is kept)."""
    if name in {c["name"] for c in sa.inspect(conn).get_columns(table)}:
        raise ValidationError(f"{table} already has a column {name!r} (not a field of {model}: "
                              "left by an uninstalled addon?); choose another name",
                              {"model": model, "field": name})


def column_count(conn, table):
    """``(slots used, of which dropped)``: on PostgreSQL every column ever
    added keeps its slot (``pg_attribute`` rows, dropped ones included)."""
    if conn.dialect.name == "postgresql":
        row = conn.execute(sa.text(
            "SELECT count(*) AS used, count(*) FILTER (WHERE attisdropped) AS dropped "
            "FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0"),
            {"t": table}).one()
        return row.used, row.dropped
    return len(sa.inspect(conn).get_columns(table)), 0


def _check_column_room(conn, table):
    limit = MAX_COLUMNS.get(conn.dialect.name)
    if limit is None:
        return
    used, dropped = column_count(conn, table)
    if used + 1 > limit:
        why = (f" ({dropped} of them by columns dropped earlier, which PostgreSQL still counts; "
               "only rebuilding the table, e.g. a dump and restore, frees them)") if dropped else ""
        raise ValidationError(f"{table} has used {used} of the {limit} columns "
                              f"{conn.dialect.name} allows{why}; no field can be added",
                              {"table": table, "columns": used, "dropped": dropped, "limit": limit})


def normalise_options(kind, selection):
    """Selection options as ``[(value, label)]``."""
    if kind != "selection":
        if selection:
            raise UserInputError(f"options (selection) apply only to selection fields, not {kind}",
                                 {"parameter": "selection"})
        return []
    if not selection:
        raise UserInputError("a selection field needs its options (--selection a,b)",
                             {"parameter": "selection"})
    if not isinstance(selection, (list, tuple)):
        raise UserInputError("selection: expected a list of options", {"parameter": "selection"})
    options, seen = [], set()
    for item in selection:
        if isinstance(item, dict):
            value, label = item.get("value"), item.get("label")
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            value, label = item
        else:
            value, label = item, None
        if not isinstance(value, str) or not value.strip() or not isinstance(label, (str, type(None))):
            raise UserInputError(f"selection: bad option {item!r}: a value is non-empty text",
                                 {"parameter": "selection"})
        value = value.strip()
        if value in seen:
            raise UserInputError(f"selection: option {value!r} is given twice", {"parameter": "selection"})
        seen.add(value)
        options.append((value, (label or "").strip() or value))
    return options


def check_relation(registry, kind, relation):
    if kind != "many2one":
        if relation:
            raise UserInputError(f"a relation applies only to many2one fields, not {kind}",
                                 {"parameter": "relation"})
        return
    if not relation:
        raise UserInputError("a many2one field needs the model it refers to (--relation MODEL)",
                             {"parameter": "relation"})
    if relation not in registry:
        raise UserInputError(f"a many2one field needs a known model to refer to, got {relation!r}",
                             {"parameter": "relation"})


def field_label(name, label):
    if label is not None and not isinstance(label, str):
        raise UserInputError(f"label: expected text, got {label!r}", {"parameter": "label"})
    label = (label or "").strip()
    return label or name[2:].replace("_", " ").capitalize()


def _field(kind, label, options, relation):
    cls = F.TYPES[kind]
    if kind == "many2one":
        return cls(relation, label)
    if kind == "selection":
        return cls(label, options=options)
    return cls(label)


def _default(env, model, name, field, default):
    """``(text stored in core.field, value for the column)`` of a default,
    or ``(None, None)``. Text is what the field's type converts back."""
    if default is None or default == "":
        return None, None
    try:
        value = field.convert(default)
    except (ValueError, TypeError) as exc:
        raise UserInputError(f"default {default!r} for {model}.{name}: {exc}",
                             {"parameter": "default"}) from None
    if value is None:
        return None, None
    if field.type == "many2one":
        target = env.registry[field.relation].table
        if env.conn.execute(sa.select(target.c.id).where(target.c.id == value)).first() is None:
            raise UserInputError(f"default {default!r} for {model}.{name}: no {field.relation} "
                                 f"record has id {value}", {"parameter": "default"})
    if field.type == "boolean":
        return ("true" if value else "false"), value
    return str(field.to_json(value)), value


def _definition_of(field, default_text):
    data = {"type": field.type, "label": field.label, "required": bool(field.required),
            "indexed": bool(field.index or field.type == "many2one")}
    if field.type == "selection":
        data["selection"] = [list(o) for o in field.options]
    if field.type == "many2one":
        data["relation"] = field.relation
    if default_text is not None:
        data["default"] = default_text
    return data


# -- removing -----------------------------------------------------------------------
def remove_field(db, conn, model, name, *, confirm=False, user=None, source=None,
                 confirm_hint="confirm the removal"):
    """Remove user-defined field ``name`` of ``model`` inside the caller's
    transaction: copy its non-empty values into ``core.field_archive``,
    drop its field rules, its ``core.field`` row, its index and its column,
    move the registry version. Refused without ``confirm``. Returns
    ``{"model", "field", "archived"}``."""
    _lock_customization(conn)
    registry = db.registry(conn)
    env = _acting_env(db, conn, registry, user, source, f"remove fields of {model}")
    meta = _model(registry, model)
    field = meta.fields.get(name)
    if field is None:
        raise UnknownName(f"{model} has no field {name!r}", {"model": model, "field": name})
    if not field.custom:
        raise UserInputError(f"{model}.{name} belongs to addon {field.addon}, it is not a "
                             "user-defined field; only those can be removed",
                             {"model": model, "field": name})
    table = meta.table
    column = table.c[name]
    count = conn.execute(sa.select(sa.func.count()).where(column.isnot(None))).scalar()
    if not confirm:
        raise UserInputError(f"removing {model}.{name} drops its column; its {count} value"
                             f"{'s are' if count != 1 else ' is'} first kept in {ARCHIVE}. "
                             f"{confirm_hint[:1].upper()}{confirm_hint[1:]}",
                             {"model": model, "field": name, "parameter": "confirm", "values": count})
    _check_unreferenced(env, model, name)
    if schema.column_in_table_foreign_key(conn, table.name, name) \
            and conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise UserInputError(f"removing {model}.{name} needs the table {table.name} rebuilt, which "
                             "this transaction cannot do safely; use `keel field remove` or the API",
                             {"model": model, "field": name})
    # -- everything is checked: now write --------------------------------------
    archived = _archive(env, meta, field)
    sudo = env.sudo()
    sudo["core.field_rule"].search([["model", "=", model], ["field", "=", name]]).unlink()
    sudo["core.field"].search([["model", "=", model], ["name", "=", name]]).unlink()
    schema.drop_column(conn, table.name, name)
    new = db.build_registry(conn, db.installed_addons(conn))
    new.version = db.bump_version(conn)
    audit.log(env.with_registry(new), "field_remove", model, None,
              {"field": name, "archived": archived, **_definition_of(field, None)})
    return {"model": model, "field": name, "archived": archived}


def remove(db, model, name, **options):
    """:func:`remove_field` in a transaction of its own (what the CLI and the
    API use). On SQLite, a column that only a table rebuild can drop gets a
    transaction with foreign key enforcement off; every reference is
    checked before it commits (``Database.transaction``)."""
    relax = False
    if db.engine.dialect.name == "sqlite" and NAME.match(name or ""):
        with db.engine.connect() as conn:
            relax = schema.column_in_table_foreign_key(conn, table_name(model), name)
    with db.transaction(foreign_keys=not relax) as conn:
        return remove_field(db, conn, model, name, **options)


def _check_unreferenced(env, model, name):
    """A role's record rule (a permission's extra domain) naming the field
    would break every search of that role once the column is gone."""
    perms = env.sudo()["core.permission"].search_read([["domain", "!=", None]],
                                                      ["role_id", "model", "domain"])
    for perm in perms:
        if _names_field(perm["domain"], perm["model"], model, name):
            role = perm["role_id"]["name"] if perm["role_id"] else "?"
            raise ValidationError(f"{model}.{name} is used by the record rule of role {role!r} on "
                                  f"{perm['model']}; change that rule first",
                                  {"model": model, "field": name, "role": role})


def _names_field(domain, on_model, model, name):
    for term in domain if isinstance(domain, list) else ():
        if isinstance(term, (list, tuple)) and term and isinstance(term[0], str):
            path = term[0].split(".")
            if (on_model == model and path[0] == name) or name in path[1:]:
                return True
    return False


def _archive(env, meta, field):
    """Copy the non-empty values of ``field`` into ``core.field_archive``
    (keyset pages of :data:`_CHUNK` rows, one INSERT each); their count."""
    table, column = meta.table, meta.table.c[field.name]
    archive = env.registry[ARCHIVE].table
    common = {"model": meta.name, "field": field.name, "type": field.type,
              "label": field.label, "relation": getattr(field, "relation", None),
              "removed_at": env.now, "removed_by_id": env.uid, "version": 1,
              "created_at": env.now, "created_by_id": env.uid,
              "updated_at": env.now, "updated_by_id": env.uid}
    to_json = field.to_json if field.type not in ("boolean", "many2one") else (lambda v: v)
    done, last = 0, 0
    while True:
        rows = env.conn.execute(sa.select(table.c.id, column).where(column.isnot(None), table.c.id > last)
                                .order_by(table.c.id).limit(_CHUNK)).all()
        if not rows:
            return done
        env.conn.execute(sa.insert(archive), [{**common, "record_id": rid, "value": to_json(value)}
                                              for rid, value in rows])
        done += len(rows)
        last = rows[-1][0]


# -- reading ------------------------------------------------------------------------
def list_fields(db, conn, model, user=None):
    """The user-defined fields of ``model`` as dicts (name, type, label,
    required, indexed, selection, relation, default), for anyone who may
    read the model."""
    registry = db.registry(conn)
    meta = _model(registry, model)
    if user is not None:
        uid = user if isinstance(user, int) else db.resolve_user(conn, registry, user)
        Env(db, conn, registry, uid).access.check(meta, "read")
    rows = Env(db, conn, registry, SYSTEM_UID, su=True)["core.field"].search_read(
        [["model", "=", model]], ["name", "type", "label", "required", "indexed", "selection",
                                  "relation", "default_value"], order="name")
    return [{"name": r["name"], "type": r["type"], "label": r["label"],
             "required": bool(r["required"]), "indexed": bool(r["indexed"]),
             "selection": [{"value": v, "label": lbl} for v, lbl in r["selection"]]
             if r["selection"] else None,
             "relation": r["relation"], "default": r["default_value"]} for r in rows]


# -- shared ---------------------------------------------------------------------------
def _lock_customization(conn):
    """Serialise changes of the registry: on PostgreSQL lock the registry
    version's row before reading what is there, so two fields added at the
    same moment cannot both build on the same state (and move the version
    to the same number). SQLite has one writer at a time anyway."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT value FROM core_meta WHERE key = 'registry_version' FOR UPDATE"))


def _acting_env(db, conn, registry, user, source, what):
    """An ``Env`` of the acting user, who must be an administrator."""
    context = {"source": source} if source else {}
    if user is None:
        return Env(db, conn, registry, SYSTEM_UID, su=True, context=context)
    uid = user if isinstance(user, int) else db.resolve_user(conn, registry, user)
    env = Env(db, conn, registry, uid, context=context)
    if not env.access.unrestricted:
        login = env.user_values().get("login", user)
        raise AccessDenied(f"only administrators may {what}; {login} is not one",
                           {"operation": "customize"})
    return env


def _model(registry, model):
    if model not in registry:
        raise UnknownName(f"unknown model {model!r}", {"model": model})
    return registry[model]
