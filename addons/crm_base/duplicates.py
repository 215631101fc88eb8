"""Duplicate check of customers (客户查重), CONTRACT.md §6 "Duplicates".

* **Keys**: a customer is a likely duplicate of another when one of its
  *active* keys is equal after normalisation (:mod:`core.services.normalize`):
  the company name (companies only: two people may share a name), phone and
  mobile (one number space: a phone may match another customer's mobile),
  email, and the unified social credit code (统一社会信用代码). Which keys
  take part is data: ``crm.duplicate_key`` (one row per key, seeded all on;
  an administrator switches them off), read once per unit of work.
* **Stored keys**: the normalised values live in ``dup_name``,
  ``dup_phone``, ``dup_mobile`` and ``dup_email`` (``credit_code`` is
  stored normalised itself), kept by ``before_create``/``before_write`` and
  indexed, so a save costs one indexed query. They are ``secret`` fields:
  the kernel's way of keeping a column out of forms, lists, exports, the
  API and the audit log (shown as ``***``); only the system context reads
  them. ``migrate`` fills them for rows saved before they existed.
* **Refusal**: a create or an edit whose keys match another customer is
  refused with 409 ``conflict``, ``details.duplicates: [{"id", "name",
  "owner"}]`` (``owner`` the owner's name, ``None`` in the lead pool).
  These three facts are read in the system context (the one exception to
  "out of scope answers as missing"); the record itself still answers 404.
  Two rows of one batch with the same key are duplicates too. The system
  context may pass ``env.with_context(duplicates_allowed=True)`` to load
  known duplicates on purpose.
* **Before saving**: ``GET /web/crm/duplicates?name=&phone=&mobile=&email=
  &credit_code=&kind=&id=`` answers the same list (plus ``merge_url`` for
  administrators editing a record); the customer form calls it while the
  user types (the form view's ``duplicates_url``, ``web/static/duplicates.js``).
"""
import sqlalchemy as sa
from flask import Blueprint, jsonify, request

from core import fields as F
from core.errors import AccessDenied, Conflict, ValidationError
from core.i18n import _
from core.models import Extend, Model
from core.registry_cache import RegistryCache
from core.services import normalize
from core.web.context import page

MODEL = "crm.customer"
KEY_MODEL = "crm.duplicate_key"
#: env.cache key of the active keys of this unit of work
_CACHE = "crm.duplicate_keys"
#: key -> (field of the customer, stored column, normaliser)
KEYS = {
    "name": ("name", "dup_name", normalize.company),
    "phone": ("phone", "dup_phone", normalize.phone),
    "mobile": ("mobile", "dup_mobile", normalize.phone),
    "email": ("email", "dup_email", normalize.email),
    "credit_code": ("credit_code", "credit_code", normalize.credit_code),
}
KEY_LABELS = [("name", _("Company name")), ("phone", _("Phone")), ("mobile", _("Mobile")),
              ("email", _("Email")), ("credit_code", _("Unified social credit code"))]
#: phone and mobile are one number space
PHONES = ("phone", "mobile")
#: at most this many duplicates are named
LIMIT = 10
#: rows of a batch create looked up per query (bound parameters stay few)
CHUNK = 2000


def _stored(label):
    # secret: never shown or given through the model API (only the system
    # context sees them); readonly: nobody types them
    return F.Char(label, index=True, secret=True, readonly=True)


def models():
    return [
        Extend(MODEL, fields={
            # no size: "9135 0100 …" may be typed with spaces, stored as the 18 characters
            "credit_code": F.Char(_("Unified social credit code"), index=True,
                                  help=_("The 18-character code of a Chinese organisation; "
                                         "its last character is a check")),
            "dup_name": _stored(_("Normalised name")),
            "dup_phone": _stored(_("Normalised phone")),
            "dup_mobile": _stored(_("Normalised mobile")),
            "dup_email": _stored(_("Normalised email")),
        }),
        Model(KEY_MODEL, _("Duplicate check key"), order="key", rec_name="key", trash=False,
              description=_("The values a new customer is compared by"), fields={
                  "key": F.Selection(_("Key"), options=KEY_LABELS, required=True, unique=True),
                  "active": F.Boolean(_("Checked"), default=True),
              }),
    ]


def data():
    # only the keys: reloading the data on an upgrade leaves ``active`` as
    # the administrator set it
    return [{"model": KEY_MODEL, "key": "key", "records": [{"key": k} for k, _l in KEY_LABELS]}]


def menus():
    return [{"key": "crm.duplicate_keys", "label": _("Duplicate check"), "parent": "crm.config",
             "model": KEY_MODEL, "sequence": 50}]


def views():
    return [
        {"key": "crm.duplicate_key.list", "model": KEY_MODEL, "type": "list",
         "arch": {"fields": ["key", "active"]}},
        {"key": "crm.customer.form.duplicates", "model": MODEL, "type": "form",
         "arch": {"extends": "crm.customer.form",
                  "add": [{"field": "credit_code", "after": "email"}],
                  "set": {"duplicates_url": "/web/crm/duplicates"}}},
    ]


# -- keys ---------------------------------------------------------------------------------------
def active_keys(env):
    """The keys that take part (read once per registry: a change of the
    settings moves the registry version, see :func:`after_write`)."""
    return _ACTIVE.get(env)


def _load_keys(env):
    table = env.registry[KEY_MODEL].table
    rows = env.conn.execute(sa.select(table.c.key, table.c.active)).all()
    # a database without the rows yet (before the data is loaded) checks every key
    return tuple(k for k, active in rows if active) if rows else tuple(KEYS)


_ACTIVE = RegistryCache(_CACHE, _load_keys)


def stored_keys(values, kind):
    """``{column: normalised value}`` of the key fields in ``values``."""
    out = {}
    for _key, (fname, column, normalise) in KEYS.items():
        if fname in values and fname != "credit_code":
            value = normalise(values[fname])
            out[column] = value if fname != "name" or kind == "company" else None
    return out


def _probe(values, keys):
    """``{key: normalised value}`` of the active keys a record has."""
    out = {}
    for key in keys:
        fname, _column, normalise = KEYS[key]
        value = normalise(values.get(fname))
        if value is not None and (key != "name" or values.get("kind", "company") == "company"):
            out[key] = value
    return out


def find(env, probe, exclude=(), limit=LIMIT):
    """The customers matching any key of ``probe`` (``{key: value}``, from
    :func:`_probe`): ``[{"id", "name", "owner", "keys"}]``, read in the
    system context (only these facts leave this function)."""
    found = _query(env, {k: {v} for k, v in probe.items()}, exclude, limit)
    return _public(d for d in found if _matches(d, probe))


def _query(env, merged, exclude=(), limit=LIMIT):
    """One indexed query: the customers holding any of the values of
    ``merged`` (``{key: {normalised values}}``), with their stored keys."""
    if not merged:
        return []
    params = {}
    numbers = set()
    for key, values in merged.items():
        if key in PHONES:
            numbers |= values
        else:
            params[KEYS[key][1]] = sorted(values)
    if numbers:
        # a number is looked for in both columns (a phone may be another's mobile)
        params.update({KEYS[k][1]: sorted(numbers) for k in PHONES})
    stmt = _statement(env.registry, tuple(sorted(params)), bool(exclude))
    params = {**params, "limit": limit, **({"exclude": list(exclude)} if exclude else {})}
    return [{"id": row["id"], "name": row["name"], "owner": None if row["in_pool"] else row["owner"],
             "_stored": {k: row[KEYS[k][1]] for k in KEYS}}
            for row in env.conn.execute(stmt, params).mappings()]


def _statement(registry, columns, exclude):
    """The duplicate query on ``columns`` (bound values: built once per
    registry, compiled once — a save costs the query, not its making)."""
    key = ("crm_base.duplicates", columns, exclude)
    stmt = registry.statements.get(key)
    if stmt is None:
        table = registry[MODEL].table
        users = registry["core.user"].table
        stmt = (sa.select(table.c.id, table.c.name, table.c.in_pool, users.c.name.label("owner"),
                          *[table.c[KEYS[k][1]] for k in KEYS])
                .select_from(table.outerjoin(users, users.c.id == table.c.owner_id))
                .where(sa.or_(*[table.c[c].in_(sa.bindparam(c, expanding=True)) for c in columns]))
                .order_by(table.c.id).limit(sa.bindparam("limit")))
        if exclude:
            stmt = stmt.where(table.c.id.not_in(sa.bindparam("exclude", expanding=True)))
        registry.statements[key] = stmt
    return stmt


def _refuse(found, row=None):
    keys = sorted({k for d in found for k in d.pop("keys", ())}) or ["name"]
    fields = [KEYS[k][0] for k in keys]
    names = ", ".join(f"{d['name']} ({d['owner'] or ('lead pool' if d['id'] else 'in this batch')})"
                      for d in found)
    where = f" (row {row + 1})" if row is not None else ""
    details = {"model": MODEL, "field": fields[0], "fields": fields, "duplicates": found}
    if row is not None:
        details["row"] = row + 1
    return Conflict(f"{MODEL}: likely a duplicate of {names}, by {', '.join(fields)}{where}",
                    details)


def _check_credit(env, values, row=None):
    if values.get("credit_code") is None:
        return
    code = normalize.credit_code(values["credit_code"])
    reason = normalize.credit_code_error(code) if code else None
    if reason:
        where = f" (row {row + 1})" if row is not None else ""
        details = {"model": MODEL, "field": "credit_code", "fields": ["credit_code"],
                   "value": values["credit_code"], "reason": reason}
        if row is not None:
            details["row"] = row + 1
        raise ValidationError(f"{MODEL}.credit_code: {values['credit_code']!r} {reason}{where}",
                              details)
    values["credit_code"] = code


# -- hooks (collected by crm_base) --------------------------------------------------------------
def before_create(env, model, values_list):
    if model != MODEL:
        return
    many = len(values_list) > 1
    for i, values in enumerate(values_list):
        _check_credit(env, values, i if many else None)
        values.update(stored_keys({f: values.get(f) for f in ("name", "phone", "mobile", "email")},
                                  values.get("kind")))
    if env.context.get("duplicates_allowed") and env.su:
        return
    keys = active_keys(env)
    # the keys were just normalised into their columns: no second pass
    probes = [{key: values[KEYS[key][1]] for key in keys if values.get(KEYS[key][1]) is not None}
              for values in values_list]
    # within the batch: the first row holding a key is the one the others repeat
    seen = {}
    for i, probe in enumerate(probes):
        for key, value in probe.items():
            group = "phone" if key in PHONES else key
            first = seen.setdefault((group, value), i)
            if first != i:
                raise _refuse([{"id": None, "name": values_list[first].get("name"), "owner": None,
                                "keys": [key]}], i if many else None)
    for start in range(0, len(probes), CHUNK):
        chunk = probes[start:start + CHUNK]
        merged = {}
        for probe in chunk:
            for key, value in probe.items():
                merged.setdefault(key, set()).add(value)
        found = _query(env, merged, limit=LIMIT * len(chunk))
        # the first row a duplicate belongs to
        for i, probe in enumerate(chunk, start):
            mine = [d for d in found if _matches(d, probe)] if found else ()
            if mine:
                raise _refuse(_public(mine[:LIMIT]), i if many else None)


def _matches(found, probe):
    """Does the customer ``found`` (from :func:`_query`) hold a key of
    ``probe``? Its ``keys`` are then the keys that matched."""
    stored = found["_stored"]
    keys = [key for key, value in probe.items()
            if (value in (stored["phone"], stored["mobile"]) if key in PHONES
                else stored[key] == value)]
    found["keys"] = keys
    return bool(keys)


def _public(found):
    """Only what anyone may see of a duplicate: id, name, owner (and the
    keys that matched, taken out by :func:`_refuse`)."""
    return [{"id": d["id"], "name": d["name"], "owner": d["owner"], "keys": d.get("keys", [])}
            for d in found]


def before_write(env, model, records, values):
    if model != MODEL or not ({"name", "kind", "phone", "mobile", "email", "credit_code"} & set(values)):
        return
    _check_credit(env, values)
    ids = list(dict.fromkeys(records.ids))
    if "name" in values or "kind" in values:
        table = env.registry[MODEL].table
        current = env.conn.execute(sa.select(table.c.name, table.c.kind)
                                   .where(table.c.id.in_(ids))).all()
        kinds = {values.get("kind", kind) for _n, kind in current}
        name = values["name"] if "name" in values else (current[0][0] if len(current) == 1 else None)
        if "name" in values or len(current) == 1:
            # one stored value for all: a mixed batch keeps companies' (persons are cleared after)
            values["dup_name"] = (normalize.company(name)
                                  if "company" in kinds else None)
    given = {f: values[f] for f in ("phone", "mobile", "email") if f in values}
    values.update(stored_keys(given, None))
    if env.context.get("duplicates_allowed") and env.su:
        return
    probe = {key: values[KEYS[key][1]] for key in active_keys(env)
             if values.get(KEYS[key][1]) is not None}
    if not probe:
        return
    if len(ids) > 1:
        # the same new key on several customers makes them duplicates of each other
        names = [{"id": r["id"], "name": r["name"], "owner": None, "keys": list(probe)}
                 for r in env.sudo()[MODEL].browse(ids[:LIMIT]).read(["name"])]
        raise _refuse(names)
    found = find(env, probe, exclude=ids)
    if found:
        raise _refuse(_public(found))


def after_write(env, model, records, values):
    if model == MODEL and values.get("dup_name") is not None and len(set(records.ids)) > 1:
        table = env.registry[MODEL].table
        env.conn.execute(sa.update(table).where(table.c.id.in_(list(records.ids)),
                                                table.c.kind != "company").values(dup_name=None))
    if model == KEY_MODEL:
        _ACTIVE.changed(env)


def after_create(env, model, records):
    if model == KEY_MODEL:
        _ACTIVE.changed(env)


def after_unlink(env, model, ids):
    if model == KEY_MODEL:
        _ACTIVE.changed(env)


def migrate(env, from_version, to_version):
    """Fill the stored keys of every customer, 2,000 rows per statement, by
    direct UPDATEs: derived columns, no audit entry, no new version;
    duplicates already there stay as they are (merge them)."""
    table = env.registry[MODEL].table
    last = 0
    while True:
        rows = env.conn.execute(
            sa.select(table.c.id, table.c.name, table.c.kind, table.c.phone, table.c.mobile,
                      table.c.email).where(table.c.id > last).order_by(table.c.id).limit(2000)).all()
        if not rows:
            break
        last = rows[-1].id
        params = [{"_id": r.id, **stored_keys({"name": r.name, "phone": r.phone, "mobile": r.mobile,
                                                "email": r.email}, r.kind)} for r in rows]
        env.conn.execute(sa.update(table).where(table.c.id == sa.bindparam("_id")).values(
            {c: sa.bindparam(c) for c in ("dup_name", "dup_phone", "dup_mobile", "dup_email")}),
            params)


# -- the check while typing ---------------------------------------------------------------------
@page
def check(env):
    """``[{"id", "name", "owner"}]`` (and ``merge_url`` for administrators
    editing a record): the customers the values typed so far match."""
    if not (env.access.allowed(MODEL, "create") or env.access.allowed(MODEL, "write")):
        raise AccessDenied(f"you may not create or change {MODEL} records", {"model": MODEL})
    args = request.args
    values = {f: (args.get(f) or "").strip() or None
              for f in ("name", "phone", "mobile", "email", "credit_code")}
    values["kind"] = args.get("kind") or "company"
    rid = args.get("id", type=int)
    found = find(env, _probe(values, active_keys(env)), exclude=[rid] if rid else ())
    admin = env.access.unrestricted
    for item in found:
        item.pop("keys", None)
        if admin and rid:
            item["merge_url"] = f"/web/{MODEL}/{rid}/merge?ids={item['id']}"
    return jsonify(found)


def blueprints():
    # a new blueprint per application: each app registers (and sets up) its own
    bp = Blueprint("crm_duplicates", __name__, url_prefix="/web/crm")
    bp.add_url_rule("/duplicates", "check", check, methods=["GET"])
    return [bp]
