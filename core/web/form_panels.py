"""What the form of a stored record shows below its fields: the approval
requests of the record (``web/_approval_panel.html``) and its history from
the audit log (``web/_history.html``), as plain data for the templates.

Both read through the kernel's own gates: ``core.approvals.details`` shows
a request only to who may see it, ``core.security.audit.history`` the
entries of a record the user can see, without the fields hidden from them.
"""
import datetime as dt

from .. import approvals, workflow
from ..i18n import _
from ..security import audit
from .forms import tr
from .i18n import format_date, format_datetime, gettext

#: the newest requests and history entries shown on a form
REQUESTS_SHOWN, HISTORY_SHOWN = 5, 30


def action_label(env, model, action):
    """A workflow (or record) action's label in the request's language."""
    flow = workflow.matrix(env, model)
    transition = flow.transitions.get(action) if flow is not None else None
    if transition is not None:
        return tr(transition.label)
    from .. import record_actions  # an addon's record action (claim)
    return tr(record_actions.label(env, model, action) or action)


def _state_labels(env, model):
    field = env.registry[model].fields["state"]
    return {value: tr(text) for value, text in field.options}


def approval_requests(env, model, rid):
    """The record's newest approval requests, each with its levels (their
    approvers and decisions) and what the user may do with it now."""
    if approvals.REQUEST not in env.registry.models:
        return []
    system = env.sudo()
    rows = system[approvals.REQUEST].search_read([["model", "=", model], ["record_id", "=", rid]],
                                                 ["requester_id"], order="id desc",
                                                 limit=REQUESTS_SHOWN)
    if not rows:
        return []
    request_states = _state_labels(env, approvals.REQUEST)
    task_states = _state_labels(env, approvals.TASK)
    out = []
    for row in rows:
        info = approvals.details(env, row["id"])
        pending = info["state"] == "pending"
        mine = pending and bool(system[approvals.TASK].search(
            [["request_id", "=", row["id"]], ["level", "=", info["level"]],
             ["approver_id", "=", env.uid], ["state", "=", "pending"]], limit=1))
        levels = [{"number": n + 1, "current": pending and n == info["level"],
                   "tasks": [{**t, "state_label": task_states.get(t["state"], t["state"])}
                             for t in info["tasks"] if t["level"] == n]}
                  for n in range(info["levels"])]
        out.append({**info, "steps": levels, "action_label": action_label(env, model, info["action"]),
                    "state_label": request_states.get(info["state"], info["state"]),
                    "may_decide": mine, "may_return": mine and info["level"] > 0,
                    "may_withdraw": pending and (row["requester_id"] or {}).get("id") == env.uid})
    return out


#: what an audit entry's ``action`` and an approval step's ``event`` say
_ACTIONS = {"create": _("Created"), "write": _("Changed"), "unlink": _("Deleted"),
            "transition": _("Workflow"), "approval": _("Approval"),
            "route": _("Routed to a territory")}
_EVENTS = {"submitted": _("Submitted for approval"), "approved": _("Approved"),
           "rejected": _("Rejected"), "returned": _("Sent back"), "withdrawn": _("Withdrawn"),
           "cosigner": _("Co-signer added"), "fallback": _("Handed to the fallback approver"),
           "skipped": _("Level skipped: no approver"), "approved_final": _("Approved at every level"),
           "reminded": _("Approver reminded"), "escalated": _("Escalated to the approver's manager")}


def history(env, lay, model, rid):
    """The record's newest audit entries as ``{at, user, what, lines:
    [text]}``: fields by their labels, values as the form shows them."""
    entries = audit.history(env, model, rid, limit=HISTORY_SHOWN)
    meta = env.registry[model]
    names = _related_names(env, meta, entries)
    states = dict(lay.states)
    out = []
    for entry in entries:
        changes = entry["changes"] if isinstance(entry["changes"], dict) else {}
        action = entry["action"]
        lines = []
        if action in ("create", "write"):
            for name, value in changes.items():
                field = meta.fields.get(name)
                label = tr(field.label or name) if field is not None else name
                if action == "write" and isinstance(value, list) and len(value) == 2:
                    lines.append(f"{label}: {_text(field, value[0], names, lay)} → "
                                 f"{_text(field, value[1], names, lay)}")
                else:
                    lines.append(f"{label}: {_text(field, value, names, lay)}")
        elif action == "transition":
            lines.append(f"{states.get(changes.get('from'), changes.get('from'))} → "
                         f"{states.get(changes.get('to'), changes.get('to'))}")
        elif action == "route":  # crm_base/territories.py: the territory chosen
            lines.append(str(changes.get("territory")))
        elif action == "action":  # an addon's record action (claim, release…): by its label
            what = action_label(env, model, changes.get("action") or "")
            if changes.get("comment"):
                lines.append(gettext("Comment: %(comment)s", comment=changes["comment"]))
            out.append({"at": entry["at"], "user": entry["user"] or "—", "lines": lines, "what": what})
            continue
        elif action == "approval":
            event = changes.get("event")
            lines.append(gettext(_EVENTS[event]) if event in _EVENTS else str(event))
        if action in ("transition", "approval") and changes.get("comment"):
            lines.append(gettext("Comment: %(comment)s", comment=changes["comment"]))
        out.append({"at": entry["at"], "user": entry["user"] or "—", "lines": lines,
                    "what": gettext(_ACTIONS[action]) if action in _ACTIONS else action})
    return out


def _related_names(env, meta, entries):
    """``{(relation, id): name}`` of the records the entries' many2one
    values name, one query per relation, under the user's rules (a record
    they may not see stays a number)."""
    wanted = {}
    for entry in entries:
        for name, value in (entry["changes"] or {}).items() if isinstance(entry["changes"], dict) else ():
            field = meta.fields.get(name)
            if field is not None and field.type == "many2one":
                values = value if isinstance(value, list) else [value]
                wanted.setdefault(field.relation, set()).update(v for v in values if isinstance(v, int))
    found = {}
    for relation, ids in wanted.items():
        if not env.access.allowed(relation, "read"):
            continue
        rec = env.registry[relation].rec_name
        for row in env[relation].search_read([["id", "in", sorted(ids)]], ["id", rec]):
            found[(relation, row["id"])] = str(row[rec])
    return found


def _text(field, value, names, lay):
    if value is None or value == "":
        return "—"
    if field is None:
        return str(value)
    if field.name == lay.state_field:
        return dict(lay.states).get(value, value)
    if field.type == "selection":
        return tr(dict(field.options).get(value, value))
    if field.type == "many2one":
        return names.get((field.relation, value), f"#{value}")
    if field.type == "boolean":
        return gettext("Yes") if value else gettext("No")
    if field.translate:
        return tr(value)
    if field.type in ("datetime", "date") and isinstance(value, str):  # as the audit log keeps it
        try:
            if field.type == "date":
                return format_date(dt.date.fromisoformat(value))
            return format_datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def form_panels(env, model, rid):
    """The panels addons add to the form of record ``rid`` of ``model``
    (``keel_form_panels``: a customer's orders, contracts, service cases…),
    by ``sequence`` then addon order."""
    found = [card for _addon, cards in env.registry.hooks.gather(
        "keel_form_panels", env=env, model=model, record_id=rid) for card in cards or ()]
    return sorted(found, key=lambda card: card.get("sequence", 50))
