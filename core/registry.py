"""The registry: model metadata merged from every loaded addon (and the
user-defined fields stored in the database), with the SQLAlchemy ``Table``
of each model.

A registry is immutable once built. It is rebuilt when addons are installed
or removed or user-defined fields change; ``core.db`` notices that through a
version number stored in the database.
"""
import json
import logging
import time

import sqlalchemy as sa

from . import fields as F
from .addons import with_dependencies
from .errors import AddonError
from .i18n import _
from .models import Extend, Model

log = logging.getLogger(__name__)

#: Columns every model has; the model API maintains them.
MAGIC = ("id", "version", "created_at", "created_by_id", "updated_at", "updated_by_id")


def table_name(model_name):
    return model_name.replace(".", "_")


def _magic_fields():
    return {
        "id": F.Integer("ID", readonly=True),
        "version": F.Integer(_("Version"), readonly=True),
        "created_at": F.Datetime(_("Created on"), readonly=True),
        "created_by_id": F.Many2one("core.user", _("Created by"), readonly=True),
        "updated_at": F.Datetime(_("Updated on"), readonly=True),
        "updated_by_id": F.Many2one("core.user", _("Updated by"), readonly=True),
    }


class ModelMeta:
    """Everything the kernel knows about one model."""

    def __init__(self, name, label, addon, order, rec_name, description="", unique_together=()):
        self.name = name
        self.label = label
        self.addon = addon
        self.order = order
        self._rec_name = rec_name
        self.description = description
        self.unique_together = list(unique_together)
        self.fields = {}
        self.access_parent = None
        self.readable_by_all = False
        self.import_keys = []
        self.trash = None
        self.security = False  # changes move the security version (Model(security=True))
        self.extended_by = []
        self.table = None
        self.link_tables = {}

    def __repr__(self):
        return f"<ModelMeta {self.name}>"

    @property
    def rec_name(self):
        if self._rec_name:
            return self._rec_name
        return "name" if "name" in self.fields else "id"

    def add_field(self, fname, field, addon):
        if fname in self.fields:
            owner = self.fields[fname].addon or "the database"
            raise AddonError(f"{self.name}.{fname} is already defined by {owner}; "
                             f"addon {addon!r} should change it with Extend(attrs=...)")
        field = field.clone()
        field.name, field.model, field.addon = fname, self.name, addon
        self.fields[fname] = field
        return field

    def finish(self):
        """Precompute what the model API needs on every call."""
        fs = self.fields
        self.stored = [f for f in fs.values() if f.column]
        self.writable_columns = [f for f in self.stored if f.name not in MAGIC]
        self.many2one = [f for f in fs.values() if f.type == "many2one"]
        self.many2many = [f for f in fs.values() if f.type == "many2many"]
        self.one2many = [f for f in fs.values() if f.type == "one2many"]
        self.required = [f.name for f in self.writable_columns if f.required]
        self.sequenced = [f for f in self.writable_columns if f.sequence]
        self.computed = [f for f in self.writable_columns if f.compute]
        self.defaults = {f.name: f.default for f in self.writable_columns
                         if f.default is not None and not f.compute}

    def describe(self):
        return {"name": self.name, "label": self.label, "addon": self.addon,
                "fields": [f.describe() for f in self.fields.values()]}


class Registry:
    """Merged models of a set of loaded addons.

    ``loaded``: ``[(manifest, module)]`` in dependency order;
    ``hooks``: their ``AddonHooks``; ``custom_fields``: rows of
    ``core_field`` (user-defined fields) as dicts.
    """

    def __init__(self, available, loaded, hooks, custom_fields=(), version=0):
        started = time.perf_counter()
        self.available = available
        self.addons = [m for m, _ in loaded]
        self.addon_names = [m.name for m in self.addons]
        self.hooks = hooks
        self.version = version
        #: statements built once per registry and reused (see core.db)
        self.statements = {}
        self.models = {}
        self.metadata = sa.MetaData()
        self._merge(available)
        self._add_custom_fields(custom_fields)
        for meta in self.models.values():
            self._check_relations(meta)
        self._build_tables()
        for meta in self.models.values():
            meta.finish()
        self.build_seconds = time.perf_counter() - started

    def __getitem__(self, name):
        try:
            return self.models[name]
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name):
        return name in self.models

    # -- merging ---------------------------------------------------------
    def _merge(self, available):
        for addon, declarations in self.hooks.gather("keel_models"):
            for decl in declarations or ():
                if isinstance(decl, Model):
                    self._declare(addon, decl)
                elif isinstance(decl, Extend):
                    self._extend(addon, decl, available)
                else:
                    raise AddonError(f"addon {addon!r}: keel_models returned {decl!r}; "
                                     "expected core.models.Model or Extend")

    def _declare(self, addon, decl):
        if decl.name in self.models:
            raise AddonError(f"model {decl.name} is declared by both "
                             f"{self.models[decl.name].addon!r} and {addon!r}")
        meta = ModelMeta(decl.name, decl.label, addon, decl.order, decl.rec_name, decl.description,
                         decl.unique_together)
        meta.access_parent = decl.access_parent
        meta.readable_by_all = decl.readable_by_all
        meta.import_keys = list(decl.import_keys)
        meta.trash = decl.trash
        meta.security = getattr(decl, "security", False)
        for fname, field in _magic_fields().items():
            meta.add_field(fname, field, "base")
        for fname, field in decl.fields.items():
            if fname in MAGIC:
                raise AddonError(f"{decl.name}.{fname}: {fname} is maintained by the kernel")
            meta.add_field(fname, field, addon)
        self.models[decl.name] = meta

    def _extend(self, addon, decl, available):
        meta = self.models.get(decl.name)
        if meta is None:
            raise AddonError(f"addon {addon!r} extends {decl.name}, which no loaded addon declares")
        if meta.addon not in with_dependencies(available, [addon]):
            raise AddonError(f"addon {addon!r} extends {decl.name} of addon {meta.addon!r} "
                             f"but does not depend on it")
        meta.extended_by.append(addon)
        if decl.label:
            meta.label = decl.label
        if decl.order:
            meta.order = decl.order
        for fname, field in decl.fields.items():
            meta.add_field(fname, field, addon)
        for fname, options in decl.selection_add.items():
            field = self._field(meta, fname, addon)
            if field.type != "selection":
                raise AddonError(f"addon {addon!r}: {decl.name}.{fname} is not a selection")
            known = set(field.values)
            field.options = field.options + [(o, o) if isinstance(o, str) else tuple(o)
                                             for o in options if (o if isinstance(o, str) else o[0]) not in known]
        for fname, changes in decl.attrs.items():
            field = self._field(meta, fname, addon)
            try:
                meta.fields[fname] = field.clone(**changes)
            except TypeError as exc:
                raise AddonError(f"addon {addon!r}: {decl.name}.{fname}: {exc}") from None

    def _field(self, meta, fname, addon):
        field = meta.fields.get(fname)
        if field is None:
            raise AddonError(f"addon {addon!r}: {meta.name} has no field {fname!r}")
        # copy on write: declarations may be shared module constants
        field = meta.fields[fname] = field.clone()
        if field.type == "selection":
            field.options = list(field.options)
        return field

    def _add_custom_fields(self, rows):
        for row in rows:
            meta = self.models.get(row["model"])
            if meta is None:  # its addon is not loaded: the column stays, unseen
                continue
            cls = F.TYPES[row["type"]]
            kwargs = {"required": bool(row.get("required")), "index": bool(row.get("indexed"))}
            if row["type"] == "selection":
                options = row.get("selection") or []
                if isinstance(options, str):  # read as raw text before any registry exists
                    options = json.loads(options)
                kwargs["options"] = [tuple(o) for o in options]
            if row["type"] == "many2one":
                field = cls(row["relation"], row.get("label") or row["name"], **kwargs)
            else:
                field = cls(row.get("label") or row["name"], **kwargs)
            if row.get("default_value") is not None:  # stored as text, checked when added
                try:
                    field.default = field.convert(row["default_value"])
                except ValueError as exc:  # changed by hand since: the field still works
                    log.warning("%s.%s: default %r ignored: %s", meta.name, row["name"],
                                row["default_value"], exc)
            meta.add_field(row["name"], field, None).custom = True

    def _check_relations(self, meta):
        for field in meta.fields.values():
            relation = getattr(field, "relation", None)
            if relation and relation not in self.models:
                raise AddonError(f"{meta.name}.{field.name} refers to {relation}, "
                                 f"which no loaded addon declares")
            if field.type == "one2many":
                inverse = self.models[relation].fields.get(field.inverse)
                if inverse is None or inverse.type != "many2one" or inverse.relation != meta.name:
                    raise AddonError(f"{meta.name}.{field.name}: {relation}.{field.inverse} "
                                     f"is not a many2one to {meta.name}")

    # -- tables ----------------------------------------------------------
    def _build_tables(self):
        for meta in self.models.values():
            tname = table_name(meta.name)
            columns = [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
                       sa.Column("version", sa.Integer, nullable=False, server_default="1")]
            indexes = []
            for field in meta.fields.values():
                if not field.column or field.name in ("id", "version"):
                    continue
                columns.append(field.sa_column())
                if field.unique:
                    indexes.append(sa.Index(f"uq_{tname}_{field.name}", field.name, unique=True))
                elif field.index or field.type == "many2one" and field.name not in MAGIC:
                    indexes.append(sa.Index(f"ix_{tname}_{field.name}", field.name))
            scoped = _scope_index(meta)
            if scoped:
                indexes.append(sa.Index(f"ix_{tname}_{scoped[0]}_scope", *scoped))
            for names in meta.unique_together:
                missing = [n for n in names if n not in meta.fields or not meta.fields[n].column]
                if missing:
                    raise AddonError(f"{meta.name}: unique_together names {missing}, not stored fields")
                indexes.append(sa.Index(f"uq_{tname}_{'_'.join(names)}", *names, unique=True))
            # AUTOINCREMENT on SQLite: an id is never handed out twice, so a
            # record restored from the recycle bin gets its own id back
            meta.table = sa.Table(tname, self.metadata, *columns, *indexes, sqlite_autoincrement=True)
        for meta in self.models.values():
            for field in [f for f in meta.fields.values() if f.type == "many2many"]:
                target = table_name(field.relation)
                link = field.link_table_name()
                meta.link_tables[field.name] = sa.Table(
                    link, self.metadata,
                    sa.Column("source_id", sa.Integer,
                              sa.ForeignKey(f"{meta.table.name}.id", ondelete="CASCADE",
                                            name=f"fk_{link}_source"), primary_key=True),
                    sa.Column("target_id", sa.Integer,
                              sa.ForeignKey(f"{target}.id", ondelete="CASCADE",
                                            name=f"fk_{link}_target"), primary_key=True),
                    sa.Index(f"ix_{link}_target", "target_id"))

    def tables_of(self, addon):
        """Tables and columns that exist because of ``addon``:
        ``(tables, {table: [columns]})`` — used by a purge."""
        tables, columns = [], {}
        for meta in self.models.values():
            if meta.addon == addon:
                tables.append(meta.table.name)
                tables.extend(t.name for t in meta.link_tables.values())
                continue
            for field in meta.fields.values():
                if field.addon == addon:
                    if field.column:
                        columns.setdefault(meta.table.name, []).append(field.name)
                    elif field.type == "many2many":
                        tables.append(meta.link_tables[field.name].name)
        return tables, columns


def scope_columns(meta):
    """The columns a record rule of ``meta`` tests — the followed parent,
    the owner, the department — for models whose records are owned
    (``owner_id``) or follow a parent (``access_parent``); ``()`` otherwise."""
    if meta.readable_by_all or not ("owner_id" in meta.fields or meta.access_parent):
        return ()
    names = [meta.access_parent] if meta.access_parent else []
    if "owner_id" in meta.fields:
        names.append("owner_id")
    dept = meta.fields.get("department_id")
    if dept is not None and dept.type == "many2one" and dept.relation == "core.department":
        names.append("department_id")
    return tuple(names)


def _scope_index(meta):
    """For an owned model: ``(order field, id, scope columns…)``, an index
    that answers a user's list in its default order under their record
    rules from the index alone — each row skipped is tested on the index
    entry, with no table lookup — so a scoped page costs about what the
    unscoped one does. The field's own plain index stays for everything
    else (SQLite picks the narrower one where the rule is not tested)."""
    scope = scope_columns(meta)
    first = (meta.order or "").split(",")[0].split()
    field = meta.fields.get(first[0]) if first else None
    if not scope or field is None or not field.column or field.name == "id":
        return ()
    return (field.name, "id", *[c for c in scope if c != field.name])
