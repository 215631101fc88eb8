"""marshmallow schemas generated from model metadata: one per model and per
caller view of it (CONTRACT.md §3, "OpenAPI … custom fields included").

A schema is the record as ``GET /data/MODEL/ID`` answers it to one caller:
every field of the model (user-defined ``x_`` fields included) but those
the caller's field rules hide, labels in the caller's language, and the
fields the caller may not change (kernel columns, read-only fields, fields
its roles make read-only, the workflow's state field) ``dump_only`` — which
OpenAPI shows as ``readOnly``, so a request body leaves them out.

The model API stays the judge of values (it answers 422 naming the field);
these schemas describe them, for :mod:`core.api.openapi`, and check the one
thing it leaves to the database: a record id past what an id column holds
(:func:`check_references`), which the database would refuse as a bad
value rather than as a missing record.

Building a schema walks the fields, so classes are kept per registry (a
new registry — a user-defined field added, an addon installed — builds new
ones) and per (model, language, hidden set, read-only set): callers with
the same view share them and a request pays nothing once they exist.
"""
import threading
import weakref

from marshmallow import EXCLUDE, Schema, ValidationError as Invalid, fields as mf, validate

from .. import fields as F
from .. import workflow
from ..errors import ValidationError
from ..i18n import translate

#: component holding a many2one value as read: ``{"id", "name"}``
REFERENCE = "Reference"
#: what the API writes for a decimal (text, exact) and a datetime (naive UTC)
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?$"

_classes = weakref.WeakKeyDictionary()   # registry or model metadata -> {key: Schema class}
_lock = threading.Lock()


def view(env, meta):
    """``(hidden, locked)``: the fields the caller does not see, and those it
    may not change (besides the kernel's own read-only fields)."""
    access = env.access
    locked = set(access.readonly(meta))
    flow = workflow.matrix(env, meta.name)
    if flow is not None:  # the state field changes only through actions
        locked.add(flow.field)
    return access.hidden(meta), frozenset(locked)


def record_schema(env, meta, lang):
    """The marshmallow ``Schema`` class of ``meta`` as this caller sees it."""
    hidden, locked = view(env, meta)
    key = (meta.name, lang, hidden, locked)
    with _lock:
        built = _classes.setdefault(env.registry, {})
        schema = built.get(key)
        if schema is None:
            schema = built[key] = _build(meta, lang, hidden, locked)
    return schema


def check_references(meta, values):
    """422 naming the field when a many2one or many2many value of a body
    (``values``) names an id no record can have, as for a missing record."""
    with _lock:
        built = _classes.setdefault(meta, {})
        schema = built.get("references")
        if schema is None:
            schema = built["references"] = Schema.from_dict(
                {f.name: mf.Raw(validate=_ids_in_range) for f in meta.fields.values()
                 if f.type in ("many2one", "many2many")}, name=f"{meta.name.replace('.', '_')}_ids")
    errors = schema(unknown=EXCLUDE).validate(values, partial=True)
    if errors:
        name = sorted(errors)[0]
        relation = meta.fields[name].relation
        raise ValidationError(f"{meta.name}.{name}: {values[name]!r:.60} names a {relation} that "
                              "does not exist", {"model": meta.name, "field": name, "fields": [name],
                                                 "reason": "does not exist"})


def _ids_in_range(value):
    """Every id in a many2one or many2many value (ids or ``{"id"}``
    dicts; other shapes are the model API's to refuse) fits an id column."""
    for item in value if isinstance(value, list) else [value]:
        rid = item.get("id") if isinstance(item, dict) else item
        if isinstance(rid, int) and not isinstance(rid, bool) and not F.Integer.MIN <= rid <= F.Integer.MAX:
            raise Invalid("names no record")


def create_required(meta, locked):
    """Fields a create must give: required, with no default, sequence or
    computed value, and not filled by the kernel (owner, department)."""
    filled = set(meta.defaults) | {"owner_id", "department_id"}
    return [f.name for f in meta.writable_columns
            if f.required and not f.sequence and not f.compute and f.name not in filled
            and f.name not in locked]


def _build(meta, lang, hidden, locked):
    attrs = {name: field_of(f, lang, f.readonly or name in locked)
             for name, f in meta.fields.items() if name not in hidden}
    return Schema.from_dict(attrs, name=meta.name.replace(".", "_"))


def field_of(field, lang, readonly):
    """The marshmallow field of one model field."""
    meta = {"title": translate(field.label or field.name, lang)}
    if field.help:
        meta["description"] = translate(field.help, lang)
    kind = _KINDS[field.type]
    made = kind(field, meta)
    made.dump_only = readonly
    made.allow_none = field.name != "id"
    made.metadata.update(meta)
    return made


def _text(field, meta):
    size = getattr(field, "size", None)
    return mf.String(validate=validate.Length(max=size) if size else None)


def _integer(field, meta):
    return mf.Integer(strict=True, validate=validate.Range(F.Integer.MIN, F.Integer.MAX))


def _decimal(field, meta):
    meta.update(type="string", format="decimal", pattern=DECIMAL_PATTERN,
                example="1000." + "0" * field.scale if field.scale else "1000")
    return mf.Decimal(places=field.scale, as_string=True, allow_nan=False)


def _datetime(field, meta):
    meta.update(pattern=DATETIME_PATTERN, example="2026-01-31T09:30:00")
    meta["description"] = (meta.get("description", "") + " (UTC, ISO 8601)").strip()
    return mf.String()


def _selection(field, meta):
    return mf.String(validate=validate.OneOf(field.values))


def _many2one(field, meta):
    meta.update(anyOf=[{"type": "integer", "description": "id, when writing"},
                       {"$ref": f"#/components/schemas/{REFERENCE}"}],
                **{"x-relation": field.relation})
    return mf.Raw()


def _x2many(field, meta):
    meta.update(type="array", items={"anyOf": [{"type": "integer"}, {"type": "object"}]},
                **{"x-relation": field.relation})
    return mf.List(mf.Raw())


def _binary(field, meta):
    meta.update(format="byte")
    return mf.String()


_KINDS = {"char": _text, "text": _text, "integer": _integer,
          "float": lambda f, m: mf.Float(allow_nan=False), "decimal": _decimal,
          "boolean": lambda f, m: mf.Boolean(), "date": lambda f, m: mf.Date(),
          "datetime": _datetime, "selection": _selection, "many2one": _many2one,
          "one2many": _x2many, "many2many": _x2many, "json": lambda f, m: mf.Raw(),
          "binary": _binary}
