"""What a model's workflow means for create, write and read — called by the
model API (``core.orm.recordset``) so that no way in can skip it.

* **create**: a record starts in the initial state (the state of lowest
  order); giving any other state is refused (an import never sets a
  workflow state). The fields the initial state requires must be filled.
* **write**: the state field changes only through actions (``AccessDenied``
  naming the field and listing the actions); a field ``readonly`` (or
  ``hidden``) in a record's state is refused (``AccessDenied`` naming it);
  a field ``required`` in its state cannot be emptied (``ValidationError``
  with ``details.fields``).
* **read**: fields ``hidden`` in a record's state are left out of that
  record's values.

Field modes bind every user, administrators included: they are business
rules, not permissions. Only the system context (migrations, the kernel's
own work) writes read-only fields and sees hidden ones; nobody writes the
state field but a transition.
"""
from ..errors import AccessDenied, ValidationError
from . import engine  # engine.current_states: imported late (engine → audit → orm → here)
from .matrix import matrix


def start(records, rows, single):
    """Before a create: refuse a given state other than the initial one and
    set the initial state. Returns the names of the fields the initial state
    requires (``None`` when the model has no workflow)."""
    m = matrix(records.env, records._name)
    if m is None:
        return None
    field = m.field
    for i, row in enumerate(rows):
        given = row.get(field)
        if given not in (None, "", m.initial):
            raise records._invalid(field, given, f"cannot be given: records start in {m.initial!r} and "
                                   f"change state only through actions ({', '.join(m.transitions)})",
                                   None if single else i)
        row[field] = m.initial
    meta = records._meta
    return [f for f in sorted(m.fields_in(m.initial, "required")) if f in meta.fields]


def check_write(records, converted, relations):
    """Before a write of ``converted`` (column values) and ``relations``
    (x2many values) to ``records``."""
    env, meta = records.env, records._meta
    m = matrix(env, meta.name)
    if m is None:
        return
    if m.field in converted:
        raise AccessDenied(f"{meta.name}.{m.field} changes only through actions: "
                           f"{', '.join(m.transitions) or 'none'}",
                           {"model": meta.name, "field": m.field, "fields": [m.field],
                            "actions": list(m.transitions)})
    touched = set(converted) | set(relations)
    if not any(touched & set(by_field) for by_field in m.modes.values()):
        return
    states = engine.current_states(records, m)
    for rid in dict.fromkeys(records.ids):
        state = states.get(rid)
        if state is None:
            continue  # missing: the write reports it
        locked = sorted(touched & m.fields_in(state, "readonly", "hidden")) if not env.su else []
        if locked:
            raise AccessDenied(f"{meta.name}.{locked[0]} is read-only in state {state!r}",
                               {"model": meta.name, "id": rid, "field": locked[0], "fields": locked,
                                "state": state})
        emptied = sorted(f for f in touched & m.fields_in(state, "required")
                         if f in converted and converted[f] in (None, ""))
        if emptied:
            raise ValidationError(f"{meta.name}.{emptied[0]} is required in state {state!r}",
                                  {"model": meta.name, "id": rid, "field": emptied[0], "fields": emptied,
                                   "state": state, "reason": "is required"})


def read_columns(records, columns):
    """The columns a read must fetch: ``columns`` plus the state field when
    some state hides fields (to know which)."""
    m = _hiding(records)
    if m is None or m.field in columns:
        return columns
    return [*columns, m.field]


def hide(records, rows, names):
    """Leave out of ``rows`` (read values) the fields hidden in each row's
    state, and the state field when only :func:`read_columns` asked for it."""
    m = _hiding(records)
    if m is None:
        return rows
    initial = m.initial
    for row in rows:
        state = row.get(m.field) or initial
        for fname in m.fields_in(state, "hidden"):
            row.pop(fname, None)
        if m.field not in names:
            row.pop(m.field, None)
    return rows


def _hiding(records):
    if records.env.su:
        return None
    m = matrix(records.env, records._name)
    return m if m is not None and m.has_hidden else None
