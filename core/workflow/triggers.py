"""Triggers: what a transition does besides moving the state.

A trigger is a ``kind`` and its parameters (as an addon or a template
writes them, ``{"kind": "notify", "to": "owner", "message": "…"}``):

``set_field``  ``field`` and ``value`` (or ``values``: ``{field: value}``);
               a value ``"$now"``, ``"$today"`` or ``"$user"`` is the
               moment, the day or the user running the action
``activity``   a to-do (``core.activity``): ``summary``, ``user``
               (default ``owner``), ``due_days`` (from today)
``notify``     a notification (``core.services.notify.send``): ``message``
               (its subject), ``body``, ``to`` (default ``owner``; one
               recipient or a list), ``channels`` (default: in-app and
               the default channels), ``kind`` (default ``workflow``)
``hook``       calls ``keel_workflow_trigger`` with ``name`` and the
               parameters; an addon handling ``name`` returns ``True``

Recipients (``user``, ``to``): ``owner`` (the record's owner, else its
creator), ``creator``, ``actor`` (who runs the action), ``manager`` (the
manager of the record's department, else of its owner's), or a login.
Texts may use ``{record}``, ``{action}``, ``{from}``, ``{to}``, ``{user}``
and ``{comment}``.

Triggers run in the system context (the user running the action need not
be allowed to create notifications), within the transition's transaction,
still logged under the user's id.
"""
import datetime as dt

import sqlalchemy as sa

from ..errors import AddonError, UserInputError

KINDS = ("set_field", "activity", "notify", "hook")
RECIPIENTS = ("owner", "creator", "actor", "manager")


def run(record, m, transition, from_state, comment):
    for trigger in transition.triggers:
        _RUNNERS[trigger.kind](record, m, transition, from_state, comment, trigger.params)


def check(model_meta, field, trigger, where):
    """Refuse a malformed trigger dict (``where`` names it in the message)."""
    kind = trigger.get("kind")
    if kind not in KINDS:
        raise UserInputError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    params = {k: v for k, v in trigger.items() if k != "kind"}
    if kind == "set_field":
        values = params.get("values") or ({params["field"]: params.get("value")} if "field" in params else {})
        if not values:
            raise UserInputError(f"{where}: set_field needs field and value (or values)")
        for fname in values:
            if fname not in model_meta.fields or not model_meta.fields[fname].column:
                raise UserInputError(f"{where}: {model_meta.name} has no field {fname!r}")
            if fname == field:
                raise UserInputError(f"{where}: set_field cannot set the state field {field!r}")
    elif kind == "activity" and not params.get("summary"):
        raise UserInputError(f"{where}: activity needs a summary")
    elif kind == "notify" and not params.get("message"):
        raise UserInputError(f"{where}: notify needs a message")
    elif kind == "notify" and params.get("channels") is not None and not (
            isinstance(params["channels"], list) and all(isinstance(c, str) for c in params["channels"])):
        raise UserInputError(f"{where}: notify channels must be a list of channel codes")
    elif kind == "hook" and not params.get("name"):
        raise UserInputError(f"{where}: hook needs a name")
    return kind, params


# -- the kinds ---------------------------------------------------------------------------
def _set_field(record, m, transition, from_state, comment, params):
    values = dict(params.get("values") or {params["field"]: params.get("value")})
    env = record.env
    special = {"$now": env.now, "$today": env.now.date(), "$user": env.uid}
    values = {k: special.get(v, v) if isinstance(v, str) else v for k, v in values.items()}
    env.sudo()[record._name].browse(record.id).write(values)


def _activity(record, m, transition, from_state, comment, params):
    env = record.env
    due = params.get("due_days")
    due_date = env.now.date() + dt.timedelta(days=int(due)) if due is not None else None
    text = _format(record, transition, from_state, comment, params["summary"])
    rows = [{"owner_id": uid, "model": record._name, "record_id": record.id, "summary": text,
             "due_date": due_date} for uid in _recipients(record, params.get("user", "owner"))]
    if rows:
        env.sudo()["core.activity"].create(rows)


def _notify(record, m, transition, from_state, comment, params):
    from ..services import notify
    text = _format(record, transition, from_state, comment, params["message"])
    body = _format(record, transition, from_state, comment, params["body"]) \
        if params.get("body") else ""
    notify.send(record.env, _recipients(record, params.get("to", "owner")), text, body,
                record=(record._name, record.id), channels=params.get("channels"),
                kind=params.get("kind") or "workflow")


def _hook(record, m, transition, from_state, comment, params):
    env = record.env
    results = env.registry.hooks.gather(
        "keel_workflow_trigger", env=env, model=record._name, records=record,
        action=transition.action, name=params["name"], params=params)
    if not any(handled for _addon, handled in results):
        raise AddonError(f"workflow of {record._name}: action {transition.action!r} calls the hook "
                         f"{params['name']!r}, which no installed addon handles")


_RUNNERS = {"set_field": _set_field, "activity": _activity, "notify": _notify, "hook": _hook}


# -- helpers -----------------------------------------------------------------------------
def _recipients(record, who):
    """User ids (no duplicates, no empties) for ``who``: a recipient or a list."""
    env = record.env
    meta = record._meta
    table = meta.table
    names = [who] if isinstance(who, str) else list(who or ())
    cols = [c for c in ("owner_id", "created_by_id", "department_id") if c in table.c]
    row = env.conn.execute(sa.select(*[table.c[c] for c in cols])
                           .where(table.c.id == record.id)).mappings().first() or {}
    users = env.registry["core.user"].table
    depts = env.registry["core.department"].table
    found = []
    for name in names:
        if name == "owner":
            uid = row.get("owner_id") or row.get("created_by_id")
        elif name == "creator":
            uid = row.get("created_by_id")
        elif name == "actor":
            uid = env.uid
        elif name == "manager":
            dept = row.get("department_id")
            if dept is None and row.get("owner_id"):
                dept = env.conn.execute(sa.select(users.c.department_id)
                                        .where(users.c.id == row["owner_id"])).scalar()
            uid = env.conn.execute(sa.select(depts.c.manager_id).where(depts.c.id == dept)).scalar() \
                if dept is not None else None
        else:
            uid = env.conn.execute(sa.select(users.c.id).where(users.c.login == name)).scalar()
            if uid is None:
                raise UserInputError(f"workflow of {record._name}: trigger recipient {name!r} is "
                                     f"not one of {', '.join(RECIPIENTS)} nor a user's login")
        if uid is not None and uid not in found:
            found.append(uid)
    return found


class _Keep(dict):
    """``str.format_map`` values; an unknown ``{name}`` stays as it is."""

    def __missing__(self, key):
        return "{" + key + "}"


def _format(record, transition, from_state, comment, text):
    env = record.env
    values = _Keep(record=env.sudo()[record._name].browse(record.id).display_name,
                   action=transition.label, to=transition.to_state, comment=comment or "",
                   user=env.user_values().get("name"))
    values["from"] = from_state
    try:
        return str(text).format_map(values)
    except (ValueError, IndexError, AttributeError):
        return str(text)
