"""The audit log: who changed what, when, from where.

The model API calls :func:`record_create`, :func:`record_write` and
:func:`record_unlink` after it changed records; other code calls
:func:`log` for events that are not row changes (sign-in, failed sign-in,
export, import, workflow transition, approval decision). Entries are rows
of ``core.audit`` inserted here, **one executemany per call** whatever the
number of records: an INSERT compiled once per registry by SQLAlchemy Core
and sent to the driver as it is (``exec_driver_sql``), so that a batch of
100,000 records costs one tuple and one JSON text per record and no
per-row parameter processing. It is part of the caller's transaction.
``core.audit`` itself cannot be written through the model API by anyone
(the model API refuses it).

An entry
--------
``model``, ``record_id``, ``action`` (``create``, ``write``, ``unlink`` or
the event's name), ``user_id`` (``env.uid``: the real user, also under
``sudo()``), ``at`` (``env.now``: the unit of work's time, naive UTC) and
``source``, plus ``changes`` (JSON):

* create: ``{field: value}`` — the record's stored business values as
  created, ``None`` values and the kernel's columns (id, version,
  created_*/updated_*) left out;
* write: ``{field: [old, new]}`` for the fields whose value really changed
  (stored computed fields included); a record whose values did not change
  gets no entry at all;
* unlink: no changes (the row is gone when the model API reports it).

Values are stored as JSON: decimals as text, dates and datetimes in ISO
format, binary content as ``{"size": bytes, "sha256": hex}`` (a file is not
copied into the log, but a changed content is seen and a file can be checked
against it), and **secret fields** (password and token hashes) as ``"***"``:
the log says that they changed, never what they are.

Source
------
``env.context["source"]`` when the caller set it — the web app ``"web"``,
the REST API ``"api"``, the command line ``"cli"``, the job runner ``"job"``
(``db.unit_of_work(user, context={"source": "web"})``). Without it: the
system context (``su``: install, upgrade, migrations) is ``"system"``, any
other unit of work ``"cli"`` (scripts and shells, the only ways in that do
not name themselves). A value outside these five is a programming error
(``ValueError``).

What is not audited
-------------------
``core.audit`` itself, approval requests and tasks (each of their steps is
an ``approval`` entry on the record they concern) and notifications
(:data:`NOT_AUDITED`). Everything else is, including
``core.sequence_counter``: the kernel takes numbers with Core (not the model
API), so numbering never fills the log, while a counter changed through the
model API (someone resetting a numbering) is exactly what an auditor wants
to see. Rows the database changes by itself (``ondelete`` cascade or set
null) and many2many link rows are not row changes of the model API and are
not logged.

Reading
-------
:func:`history` (one record, newest first) and :func:`user_activity` (one
user, newest first). Readers of the audit log (the system context,
administrators, roles with read permission on ``core.audit``) may read
every entry; other users the history of a record they can currently see
(fields hidden from them left out of the changes, and writes of hidden
fields only left out altogether — after ``limit``/``offset``, so such a
page may be shorter), and their own activity.
"""
import datetime as dt
import decimal
import hashlib
import json
import weakref

import sqlalchemy as sa

from ..errors import AccessDenied, NotFound, UserInputError
from ..orm.domain import page
from ..registry import MAGIC

#: Models whose changes are never logged.
NOT_AUDITED = frozenset({
    "core.audit",
    # approval requests and tasks: every step is an ``approval`` entry of the
    # record's own history (core.approvals); notifications are messages
    "core.approval_request", "core.approval_task", "core.notification",
    # the scheduler's runs and heartbeats, and the outbox's delivery attempts,
    # are logs themselves
    "core.job_run", "core.scheduler_node", "core.outbox"})
SOURCES = ("web", "api", "cli", "job", "system")
MODEL = "core.audit"
SECRET = "***"

#: meta -> _Plan, built once per model of a registry (a new registry has new metas)
_plans = weakref.WeakKeyDictionary()


def _binary(value):
    return {"size": len(value), "sha256": hashlib.sha256(value).hexdigest()}


def _secret(value):
    return SECRET


class _Plan:
    """What one model's audit needs, computed once: the audited columns and,
    for those whose values are not JSON as they are, a converter."""
    __slots__ = ("audited", "columns", "convert", "__weakref__")

    def __init__(self, meta):
        from ..fields import Field
        self.audited = meta.name not in NOT_AUDITED
        self.columns = frozenset(f.name for f in meta.fields.values()
                                 if f.column and f.name not in MAGIC)
        convert = {}
        for name in self.columns:
            field = meta.fields[name]
            if field.secret:
                convert[name] = _secret
            elif field.type == "binary":
                convert[name] = _binary
            elif type(field).to_json is not Field.to_json:
                convert[name] = field.to_json  # decimal, date, datetime, addon types
        self.convert = convert


def _plan(meta):
    plan = _plans.get(meta)
    if plan is None:
        plan = _plans[meta] = _Plan(meta)
    return plan


def _source(env):
    source = env.context.get("source")
    if source is None:
        return "system" if env.su else "cli"
    if source not in SOURCES:
        raise ValueError(f"audit: unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    return source


#: ``log(user_id=...)`` not given: the unit of work's user
_USER = object()
_COLUMNS = ("model", "record_id", "action", "user_id", "at", "source", "changes")


def _make_dumps():
    """``dumps(value) -> str``: compact JSON, Chinese as it is (not
    ``\\uXXXX``), what ``json`` does not know through :func:`_jsonable`.
    The C encoder is made once (``JSONEncoder.encode`` makes one per call,
    a third of the cost of encoding an entry); plain ``json`` otherwise."""
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                               default=lambda value: _jsonable(value))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - no C accelerator
        return encoder.encode
    try:
        c_encode = make(None, encoder.default, json.encoder.encode_basestring, None, ":", ",",
                        False, False, False)

        def dumps(value, _join="".join):
            return _join(c_encode(value, 0))

        if dumps({"a": [1, "中", None]}) == encoder.encode({"a": [1, "中", None]}):
            return dumps
    except TypeError:  # pragma: no cover - another signature
        pass
    return encoder.encode  # pragma: no cover


_dumps = _make_dumps()


def _driver_insert(env):
    """``(sql, positional, processors)``: the INSERT of one entry as the
    driver takes it, compiled once per registry and dialect."""
    dialect = env.conn.dialect
    key = ("core.audit.insert", dialect.name, dialect.driver)
    statements = env.registry.statements
    found = statements.get(key)
    if found is None:
        table = env.registry[MODEL].table
        compiled = sa.insert(table).inline().values(  # inline: no RETURNING of the id
            {c: sa.bindparam(c, type_=table.c[c].type) for c in _COLUMNS}).compile(dialect=dialect)
        positional = compiled.positional
        if positional and tuple(compiled.positiontup) != _COLUMNS:  # pragma: no cover
            raise RuntimeError(f"audit: unexpected parameter order {compiled.positiontup}")
        processors = {c: table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
                      for c in ("at",)}
        found = statements[key] = (compiled.string, positional, processors)
    return found


def _insert(env, model, action, entries, user_id=_USER):
    """Insert ``entries`` (``[(record_id, changes as JSON text or None)]``)
    as one executemany sent as it is to the driver. What the entries share
    is converted once; per entry only a tuple is built (SQLAlchemy's
    per-row parameter processing would cost more than all the rest of the
    audit of a large batch)."""
    sql, positional, processors = _driver_insert(env)
    at = processors["at"](env.now) if processors["at"] else env.now
    uid = env.uid if user_id is _USER else user_id
    source = _source(env)
    if positional:
        params = [(model, rid, action, uid, at, source, changes) for rid, changes in entries]
    else:
        params = [{"model": model, "record_id": rid, "action": action, "user_id": uid, "at": at,
                   "source": source, "changes": changes} for rid, changes in entries]
    env.conn.exec_driver_sql(sql, params)


# -- row changes (called by the model API) ---------------------------------
def record_create(env, meta, ids, rows):
    """After ``ids`` of ``meta`` were inserted with the value dicts ``rows``
    (in the same order): one ``create`` entry per record."""
    if not ids:
        return
    plan = _plan(meta)
    if not plan.audited:
        return
    first = rows[0]
    width = len(first)
    if all(len(row) == width for row in rows):  # the model API gives every row every column
        present = first.keys()
    else:
        present = set().union(*rows)
    names = [n for n in present if n in plan.columns]
    convert = [(n, c) for n, c in plan.convert.items() if n in present]
    get, dumps = dict.get, _dumps
    if convert:
        entries = []
        for rid, row in zip(ids, rows):
            changes = {n: v for n in names if (v := get(row, n)) is not None}
            for n, c in convert:
                if n in changes:
                    changes[n] = c(changes[n])
            entries.append((rid, dumps(changes)))
    else:
        entries = [(rid, dumps({n: v for n in names if (v := get(row, n)) is not None}))
                   for rid, row in zip(ids, rows)]
    _insert(env, meta.name, "create", entries)


def record_write(env, meta, ids, old, new):
    """After ``ids`` were updated: ``old`` and ``new`` map each id to the
    changed columns' values before and after (computed fields included).
    One ``write`` entry per record with ``{field: [old, new]}`` of the
    values that really changed; none for a record that did not change."""
    if not ids:
        return
    plan = _plan(meta)
    if not plan.audited:
        return
    columns, convert = plan.columns, plan.convert
    entries = []
    for rid in ids:
        after = new.get(rid)
        if not after:
            continue
        before = old.get(rid, {})
        changes = {}
        for name, value in after.items():
            if name not in columns:
                continue
            was = before.get(name)
            if _same(was, value):
                continue
            conv = convert.get(name)
            if conv is not None:
                changes[name] = [None if was is None else conv(was),
                                 None if value is None else conv(value)]
            else:
                changes[name] = [was, value]
        if changes:
            entries.append((rid, _dumps(changes)))
    if entries:
        _insert(env, meta.name, "write", entries)


def _same(a, b):
    """Unchanged? (``1 == True`` in Python, not in the log)."""
    return a == b and (type(a) is type(b) or not (isinstance(a, bool) or isinstance(b, bool)))


def record_unlink(env, meta, ids):
    """After ``ids`` were deleted: one ``unlink`` entry per record."""
    if not ids or not _plan(meta).audited:
        return
    _insert(env, meta.name, "unlink", [(rid, None) for rid in ids])


def fields_to_read(meta, values):
    """The stored columns whose old values a write of ``values`` must keep:
    the columns written and the stored computed fields depending on them
    (none for a model that is not audited: no query)."""
    plan = _plan(meta)
    if not plan.audited:
        return []
    names = [name for name in values if name in plan.columns]
    if meta.computed:
        given = set(values)
        names += [f.name for f in meta.computed if f.name not in given and given.intersection(f.depends)]
    return names


# -- other events -----------------------------------------------------------
def log(env, action, model=None, record_id=None, changes=None, *, user_id=_USER):
    """Log an event that is not a row change of the model API: ``login``,
    ``login_failed``, ``export``, ``import``, ``transition``, ``approval``…

    ``changes`` is any JSON data describing it (decimals, dates, datetimes
    and bytes are converted; never put a password in it). ``user_id``
    overrides ``env.uid`` where the unit of work does not run as the user
    concerned (a failed sign-in is logged from the system context with the
    id of the account tried, or ``None`` for an unknown login). It is part of
    ``env``'s transaction: a caller that rolls back loses the entry, so log
    refusals in a unit of work that commits.
    """
    if not isinstance(action, str) or not action.strip():
        raise UserInputError(f"audit: the action must be a non-empty text, got {action!r}")
    if model is not None and model not in env.registry.models:
        raise UserInputError(f"audit: unknown model {model!r}")
    _insert(env, model, action.strip(), [(record_id, None if changes is None else _dumps(changes))],
            user_id)


def _jsonable(value):
    """JSON data for ``value``: decimals as text, dates and times in ISO
    format, bytes as size and digest, anything else unknown as its text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _binary(bytes(value))
    return str(value)


# -- reading ------------------------------------------------------------------
def is_reader(env):
    """May ``env``'s user read every entry of the audit log?"""
    access = env.access
    return access.unrestricted or access.allowed(MODEL, "read")


def history(env, model, record_id, limit=None, offset=0):
    """The entries of one record, newest first (``[{id, model, record_id,
    action, user_id, user, at, source, changes}]``).

    Audit readers see every record's history, deleted records' too; other
    users only that of a record they can see now (``NotFound`` otherwise,
    exactly as for a missing record), without the fields hidden from them.
    """
    if model not in env.registry.models:
        raise UserInputError(f"audit: unknown model {model!r}")
    try:
        record_id = int(record_id)
    except (TypeError, ValueError):
        raise UserInputError(f"audit: record id must be a whole number, got {record_id!r}") from None
    hidden = frozenset()
    if not is_reader(env):
        if not env[model].search([("id", "=", record_id)], limit=1):
            raise NotFound(f"{model} {record_id} does not exist", {"model": model, "id": record_id})
        hidden = env.access.hidden(env.registry[model])
    table = env.registry[MODEL].table
    return _entries(env, [table.c.model == model, table.c.record_id == record_id],
                    limit, offset, hidden)


def user_activity(env, user_id, limit=None, offset=0, model=None):
    """The entries made by one user (optionally on one model), newest first.
    Audit readers see anyone's; other users only their own."""
    try:
        user_id = int(user_id)
    except (TypeError, ValueError):
        raise UserInputError(f"audit: user id must be a whole number, got {user_id!r}") from None
    if user_id != env.uid and not is_reader(env):
        raise AccessDenied("you may not read other users' activity in the audit log",
                           {"model": MODEL, "operation": "read"})
    table = env.registry[MODEL].table
    where = [table.c.user_id == user_id]
    if model is not None:
        where.append(table.c.model == model)
    return _entries(env, where, limit, offset, None if is_reader(env) else ())


def _entries(env, where, limit, offset, hidden):
    """``hidden``: field names to leave out of the changes; a frozenset for
    every entry, ``None`` for none, ``()`` for those hidden from the user on
    each entry's model."""
    table = env.registry[MODEL].table
    users = env.registry["core.user"].table
    stmt = (sa.select(table.c.id, table.c.model, table.c.record_id, table.c.action, table.c.user_id,
                      users.c.name.label("user"), table.c.at, table.c.source, table.c.changes)
            .select_from(table.outerjoin(users, users.c.id == table.c.user_id))
            .where(*where).order_by(table.c.at.desc(), table.c.id.desc()))
    out = [dict(row) for row in env.conn.execute(page(stmt, limit, offset)).mappings()]
    if hidden is None:
        return out
    per_model, kept = {}, []
    for entry in out:
        drop = hidden
        if drop == () and entry["model"] in env.registry.models:
            drop = per_model.get(entry["model"])
            if drop is None:
                drop = per_model[entry["model"]] = env.access.hidden(env.registry[entry["model"]])
        if drop and isinstance(entry["changes"], dict):
            changes = {k: v for k, v in entry["changes"].items() if k not in drop}
            if not changes and entry["changes"] and entry["action"] == "write":
                continue  # a write of hidden fields only: nothing to show
            entry["changes"] = changes
        kept.append(entry)
    return kept
