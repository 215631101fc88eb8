"""Running workflow actions: the checks, the approval gate, the transition.

``records.action(name, comment)`` (the model API) comes here. For each
record, in this order — so that every way in answers the same:

1. the record exists and the caller may change it (else ``NotFound``, as a
   missing record: HTTP 404);
2. the model has the action (else ``UserInputError`` naming it: 400);
3. the record's state is one the action runs from (else ``Conflict`` with
   ``details.allowed_actions``: 409);
4. the caller's roles may run it (else ``AccessDenied``: 403) — see
   :func:`may_run`; administrators and the system context may run every
   action;
5. the record matches the action's condition domain (else ``Conflict``
   naming the condition: 409);
6. the fields the action and the target state require are filled (else
   ``ValidationError`` with ``details.fields``: 422).

Then :func:`gate` decides whether the transition runs now (approval
policies hold it there), and :func:`run_transition` writes the new state
through the kernel's own path (``write()`` refuses the state field), runs
the triggers and logs a ``transition`` audit entry.
"""
import dataclasses
import json

import sqlalchemy as sa

from ..errors import AccessDenied, Conflict, NotFound, UserInputError, ValidationError
from ..security import audit
from . import triggers
from .matrix import matrix


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What ``action()`` did to one record: the transition ``ran``, or an
    approval request (``approval``, a dict with at least ``id`` and
    ``state``) now holds it."""
    id: int
    ran: bool
    approval: dict = None


def run(records, name, comment=None, through_gate=True):
    """Run action ``name`` on every record of ``records``: all the checks on
    all of them first, then the transitions. ``through_gate=False`` is for
    the approval engine running an approved request (as the requester)."""
    env, meta = records.env, records._meta
    m = _matrix_or_refuse(records, name)
    if comment is not None and not isinstance(comment, str):
        raise UserInputError(f"{meta.name}.{name}: the comment must be text", {"parameter": "comment"})
    _check_writable(records)
    transition = m.transitions.get(name)
    if transition is None:
        raise UserInputError(f"{meta.name} has no action {name!r} (its actions: "
                             f"{', '.join(m.transitions) or 'none'})",
                             {"model": meta.name, "action": name, "actions": list(m.transitions)})
    ids = list(dict.fromkeys(records.ids))
    states = current_states(records, m)
    for rid in ids:
        if states[rid] not in transition.from_states:
            allowed = allowed_actions(records.browse(rid))[rid]
            raise Conflict(f"{meta.name} {rid}: action {name!r} cannot run in state {states[rid]!r} "
                           f"(it runs from {', '.join(transition.from_states) or 'no state'}; "
                           f"allowed now: {', '.join(allowed) or 'none'})",
                           {"model": meta.name, "id": rid, "action": name, "state": states[rid],
                            "allowed_actions": allowed})
    if not may_run(env, meta, transition):
        raise AccessDenied(f"your roles may not run the action {name!r} on {meta.name} records"
                           + (f" (roles allowed: {', '.join(transition.roles)})" if transition.roles else ""),
                           {"model": meta.name, "action": name, "roles": list(transition.roles)})
    failing = [i for i in ids if i not in _matching(records, ids, transition.condition)]
    if failing:
        raise Conflict(f"{meta.name} {failing[0]}: action {name!r} needs its condition "
                       f"{_text(transition.condition)}",
                       {"model": meta.name, "id": failing[0], "action": name,
                        "condition": transition.condition})
    _check_required(records, ids, m, transition)
    outcomes = []
    for rid in ids:
        record = records.browse(rid)
        held = gate(env, record, m, transition, comment) if through_gate else None
        if held is None:
            run_transition(record, m, transition, states[rid], comment)
            outcomes.append(Outcome(rid, True))
        else:
            outcomes.append(Outcome(rid, False, held))
    return outcomes


def gate(env, record, m, transition, comment):
    """Where approval policies intercept a transition (issue 4, point 3).

    Called once per record after every check passed and before anything
    changed. Returns ``None`` to run the transition now, or the approval
    request that now holds it (a dict: ``{"id", "state": "pending", …}``),
    in which case the record is left as it is and the API answers 202.
    The approval engine later runs the transition as the requester with
    ``run(records, name, comment, through_gate=False)``.

    The policies are in :mod:`core.approvals`.
    """
    from .. import approvals
    return approvals.gate(record, transition.action, comment)


def run_transition(record, m, transition, from_state, comment):
    """Move ``record`` from ``from_state`` to the transition's target (the
    kernel's own write of the state field: a new version, ``updated_*``),
    log it and run its triggers. Refuses with ``Conflict`` when another
    transaction moved the record meanwhile."""
    env, meta = record.env, record._meta
    table = meta.table
    column = table.c[m.field]
    rid = record.id
    stored = from_state if from_state != m.initial else None
    same = column == from_state if stored is not None else sa.or_(column == from_state, column.is_(None))
    count = env.conn.execute(sa.update(table).where(table.c.id == rid, same).values(
        {m.field: transition.to_state, "version": table.c.version + 1,
         "updated_at": env.now, "updated_by_id": env.uid})).rowcount
    if count != 1:
        raise Conflict(f"{meta.name} {rid} left state {from_state!r} meanwhile; reload and try again",
                       {"model": meta.name, "id": rid, "action": transition.action})
    record._invalidate()
    audit.log(env, "transition", meta.name, rid, {"action": transition.action, "from": from_state,
                                                  "to": transition.to_state, "comment": comment})
    triggers.run(record, m, transition, from_state, comment)


def allowed_actions(records):
    """``{id: [action, …]}``: per record, the actions the caller may run on
    it now (state, roles and condition; not the required fields, so that a
    button pressed too early says which fields are missing). Records the
    caller may not change get an empty list."""
    env, meta = records.env, records._meta
    ids = list(dict.fromkeys(records.ids))
    out = {rid: [] for rid in ids}
    m = matrix(env, meta.name)
    if m is None or not ids:
        return out
    writable = _writable(records, ids)
    states = current_states(records.browse([i for i in ids if i in writable]), m)
    runnable = [t for t in m.transitions.values() if may_run(env, meta, t)]
    for t in runnable:
        candidates = [i for i in ids if i in states and states[i] in t.from_states]
        if candidates and t.condition:
            matching = _matching(records, candidates, t.condition)
            candidates = [i for i in candidates if i in matching]
        for rid in candidates:
            out[rid].append(t.action)
    return out


def may_run(env, meta, transition):
    """May the caller's roles run ``transition``? A role may when it grants
    ``write`` on the model, its permission's ``actions`` (``None`` or
    ``["*"]``: all) include the action, and the transition's ``roles`` are
    empty or name it. The user's roles are pooled: scopes decided already
    which records they may change."""
    access = env.access
    if access.unrestricted:
        return True
    codes = _role_codes(env)
    for perm in access.perms.get(meta.name, ()):
        if not perm["perm_write"]:
            continue
        actions = perm.get("actions")
        if actions and "*" not in actions and transition.action not in actions:
            continue
        if transition.roles and codes.get(perm["role_id"]) not in transition.roles:
            continue
        return True
    return False


def current_states(records, m):
    """``{id: state}`` of the records, read as stored (a record created
    before its model had a workflow is in the initial state)."""
    table = records._meta.table
    column = table.c[m.field]
    states = {}
    ids = list(dict.fromkeys(records.ids))
    for start in range(0, len(ids), 900):
        for rid, state in records.env.conn.execute(
                sa.select(table.c.id, column).where(table.c.id.in_(ids[start:start + 900]))):
            states[rid] = state if state is not None else m.initial
    return states


# -- helpers ---------------------------------------------------------------------------
def _matrix_or_refuse(records, name):
    m = matrix(records.env, records._name)
    if m is None:
        raise UserInputError(f"{records._name} has no workflow (no action {name!r})",
                             {"model": records._name, "action": name})
    return m


def _writable(records, ids):
    """The ids among ``ids`` that exist and the caller may change."""
    if records.env.access.unrestricted:
        return set(records.browse(ids).exists().ids)
    return records._visible(ids, "write")


def _check_writable(records):
    ids = list(dict.fromkeys(records.ids))
    writable = _writable(records, ids)
    missing = [i for i in ids if i not in writable]
    if missing:
        raise NotFound(f"{records._name} {missing[0]} does not exist",
                       {"model": records._name, "id": missing[0]})


def _matching(records, ids, condition):
    """The ids among ``ids`` whose record matches ``condition`` (checked in
    the system context: a condition may look at fields the caller cannot)."""
    if not condition:
        return set(ids)
    model = records.env.sudo()[records._name]
    found = set()
    for start in range(0, len(ids), 900):
        found.update(model.search([["id", "in", ids[start:start + 900]], *condition]).ids)
    return found


def _check_required(records, ids, m, transition):
    """422 naming the fields that must be filled before the transition runs:
    the transition's own and those the target state requires."""
    meta = records._meta
    wanted = [f for f in dict.fromkeys([*transition.required,
                                        *sorted(m.fields_in(transition.to_state, "required"))])
              if f in meta.fields]
    if not wanted:
        return
    table = meta.table
    columns = [f for f in wanted if meta.fields[f].column]
    values = {}
    if columns:
        stmt = sa.select(table.c.id, *[table.c[f] for f in columns]).where(table.c.id.in_(ids))
        values = {r[0]: dict(zip(columns, r[1:])) for r in records.env.conn.execute(stmt)}
    system = records.env.sudo()[meta.name]
    for rid in ids:
        empty = [f for f in wanted
                 if (values.get(rid, {}).get(f) in (None, "") if meta.fields[f].column
                     else not getattr(system.browse(rid), f))]  # x2many: no lines
        if empty:
            raise ValidationError(
                f"{meta.name} {rid}: action {transition.action!r} needs {', '.join(empty)} filled in",
                {"model": meta.name, "id": rid, "action": transition.action, "field": empty[0],
                 "fields": empty, "reason": "is required"})


def _role_codes(env):
    """``{role id: code}`` of the caller's roles (cached with its rules)."""
    key = ("workflow", "role_codes")
    cache = env.access._cache
    codes = cache.get(key)
    if codes is None:
        role_ids = list(env.access.role_ids)
        codes = {}
        if role_ids:
            roles = env.registry["core.role"].table
            codes = dict(env.conn.execute(sa.select(roles.c.id, roles.c.code)
                                          .where(roles.c.id.in_(role_ids))).all())
        cache[key] = codes
    return codes


def _text(domain):
    return json.dumps(domain, ensure_ascii=False, default=str)
