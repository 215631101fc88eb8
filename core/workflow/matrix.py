"""A model's state matrix, read from the workflow tables and cached.

The matrices of all models are loaded together (a few small queries) the
first time a unit of work needs one, and kept with the registry object of
the process. Any change to a workflow row through the model API moves the
registry version (:func:`changed`), as adding a user-defined field does, so
every process — this one included — reloads them on its next unit of work:
an admin's change in one worker takes effect in all of them.

Why the registry version and not the security version: the model API must
know on *every* create, write and read whether a model has a workflow at
all. Cached per registry, that costs no query in a unit of work (the
registry version is read anyway when it starts), and one copy serves every
user. Workflow rows change rarely (an admin, a template, an install), and a
rebuild of the registry costs tens of milliseconds once per process.

A transaction that changed workflow rows itself never uses nor fills the
shared cache: it reads its own (uncommitted) rows, once per change, so that
a rollback cannot leave them behind in the process.
"""
import dataclasses

import sqlalchemy as sa

from ..errors import UserInputError
from ..registry_cache import RegistryCache

#: Changing a row of these models changes matrices (see :func:`changed`).
WORKFLOW_MODELS = frozenset({"core.workflow_state", "core.workflow_transition",
                             "core.workflow_field_mode", "core.workflow_trigger"})
MODES = ("readonly", "required", "hidden")


@dataclasses.dataclass(frozen=True)
class State:
    code: str
    label: str
    sequence: int
    folded: bool
    terminal: bool


@dataclasses.dataclass(frozen=True)
class Trigger:
    kind: str
    params: dict


@dataclasses.dataclass(frozen=True)
class Transition:
    action: str
    label: str
    from_states: tuple
    to_state: str
    roles: tuple          # role codes; empty: every role that may write the record
    condition: list       # a domain, or None
    required: tuple       # fields that must be filled to run it
    sequence: int
    triggers: tuple       # of Trigger, in order


@dataclasses.dataclass
class Matrix:
    """The workflow of one model: its state ``field``, ``states`` in order
    (the first is where records start), ``transitions`` by action (in
    order) and ``modes``: ``{state: {field: mode}}``."""
    model: str
    field: str
    states: list
    transitions: dict
    modes: dict

    @property
    def initial(self):
        return self.states[0].code

    def state(self, code):
        return next((s for s in self.states if s.code == code), None)

    def fields_in(self, state, *modes):
        """Fields with one of ``modes`` in ``state``."""
        return {f for f, m in self.modes.get(state, {}).items() if m in modes}

    @property
    def has_hidden(self):
        return any(m == "hidden" for by_field in self.modes.values() for m in by_field.values())

    def describe(self):
        """The matrix as ``GET /meta/models/MODEL`` shows it."""
        return {"field": self.field,
                "states": [dataclasses.asdict(s) for s in self.states],
                "transitions": [{"action": t.action, "label": t.label, "from": list(t.from_states),
                                 "to": t.to_state, "required": list(t.required)}
                                for t in self.transitions.values()],
                "field_modes": {s: dict(sorted(f.items())) for s, f in sorted(self.modes.items())}}


#: ``{model: Matrix}`` per registry (loaded by :func:`_load`, defined below)
_cache = RegistryCache("workflow.matrices", lambda env: _load(env))


def matrix(env, model):
    """The ``Matrix`` of ``model`` (a name), or ``None`` when it has no states."""
    return matrices(env).get(model)


def matrices(env):
    """``{model: Matrix}`` as this unit of work sees them."""
    return _cache.get(env)


def changed(env, model):
    """Called by the model API after it changed rows of ``model`` (one of
    :data:`WORKFLOW_MODELS`): this transaction reads its own rows from now
    on, and committing it makes every process reload the matrices."""
    _cache.changed(env)


def _table(env, name):
    return env.registry[name].table


def _load(env):
    """Every model's matrix, in five queries (none past the second when no
    model has a workflow)."""
    if "core.workflow_state" not in env.registry:
        return {}
    conn = env.conn
    states = _table(env, "core.workflow_state")
    if not _cache.changed_here(env) and not sa.inspect(conn).has_table(states.name):
        return {}  # a database whose kernel was not upgraded yet: no workflow can exist
    rows = conn.execute(sa.select(states).order_by(states.c.model, states.c.sequence,
                                                   states.c.id)).mappings().all()
    if not rows:
        return {}
    out = {}
    for r in rows:
        m = out.get(r["model"])
        if m is None:
            m = out[r["model"]] = Matrix(r["model"], r["field"], [], {}, {})
        elif r["field"] != m.field:
            raise UserInputError(f"workflow of {m.model}: states name two state fields, "
                                 f"{m.field!r} and {r['field']!r}")
        m.states.append(State(r["code"], r["label"] or r["code"], r["sequence"] or 0,
                              bool(r["folded"]), bool(r["terminal"])))
    transitions = _table(env, "core.workflow_transition")
    triggers = _table(env, "core.workflow_trigger")
    by_transition = {}
    for r in conn.execute(sa.select(triggers).order_by(triggers.c.sequence, triggers.c.id)).mappings():
        by_transition.setdefault(r["transition_id"], []).append(Trigger(r["kind"], dict(r["params"] or {})))
    for r in conn.execute(sa.select(transitions).order_by(transitions.c.sequence,
                                                          transitions.c.id)).mappings():
        m = out.get(r["model"])
        if m is None:
            continue  # transitions of a model without states do nothing
        m.transitions[r["action"]] = Transition(
            r["action"], r["label"] or r["action"], tuple(_codes(r["from_states"])), r["to_state"],
            tuple(_codes(r["roles"])), r["condition"] or None, tuple(_codes(r["required_fields"])),
            r["sequence"] or 0, tuple(by_transition.get(r["id"], ())))
    modes = _table(env, "core.workflow_field_mode")
    for r in conn.execute(sa.select(modes.c.model, modes.c.state, modes.c.field, modes.c.mode)):
        m = out.get(r.model)
        if m is not None:
            m.modes.setdefault(r.state, {})[r.field] = r.mode
    for m in out.values():
        _check(env, m)
    return out


def _codes(value):
    """A JSON list of codes (a single code is a list of one)."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _check(env, m):
    """A matrix edited into nonsense is refused where it is used, naming
    what is wrong (``keel_workflows`` data is checked when it is loaded)."""
    meta = env.registry.models.get(m.model)
    if meta is None:
        return
    if m.field not in meta.fields or not meta.fields[m.field].column:
        raise UserInputError(f"workflow of {m.model}: the state field {m.field!r} does not exist")
    codes = {s.code for s in m.states}
    for t in m.transitions.values():
        for code in (*t.from_states, t.to_state):
            if code not in codes:
                raise UserInputError(f"workflow of {m.model}: transition {t.action!r} names "
                                     f"an unknown state {code!r}")
