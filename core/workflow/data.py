"""Workflows as data: the format addons ship through ``keel_workflows`` (the
``workflows:`` items of a template, CONTRACT.md §4, plus ``field`` and
``states``) turned into rows of the workflow models.

::

    {"model": "crm.opportunity", "field": "stage",
     "states": [{"code": "new", "label": "New", "sequence": 10},
                {"code": "won", "label": "Won", "terminal": True, "folded": False}, …],
     "transitions": [{"action": "win", "label": "Mark won", "from": ["negotiation"], "to": "won",
                      "roles": [],                       # empty: every role that may write
                      "condition": [["amount", ">", 0]], # optional domain
                      "required": ["amount"],            # optional
                      "triggers": [{"kind": "set_field", "field": "probability", "value": 100}]}],
     "field_modes": {"won": {"amount": "readonly"}}}    # readonly | required | hidden

``"from": "*"`` is every state that is not terminal. An item without
``states`` (and ``field``) extends the matrix the model has, as the
``workflows:`` items of a template do.

At install and upgrade the rows an addon ships are created when missing
and removed when the addon stops shipping them; rows that exist are left
as they are, because an admin (or a template) may have changed them — an
addon that must change a shipped row in a new version does it in
``keel_migrate``. Uninstall removes the rows the addon seeded.
"""
import dataclasses

from ..errors import UserInputError
from . import triggers
from .matrix import matrix

MODES = ("readonly", "required", "hidden")
STATE_TYPES = ("char", "selection")
ITEM_KEYS = ("model", "field", "states", "transitions", "field_modes")
STATE_KEYS = ("code", "label", "sequence", "folded", "terminal")
TRANSITION_KEYS = ("action", "label", "from", "to", "roles", "condition", "required", "sequence",
                   "triggers")


def _known(value, keys, where):
    """Refuse a key that is not one of ``keys`` (a typo must not pass silently)."""
    if not isinstance(value, dict):
        raise UserInputError(f"{where}: expected a mapping, got {value!r}")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise UserInputError(f"{where}.{unknown[0]}: unknown key (one of {', '.join(keys)})")


def check(env, item, where="workflow"):
    """Refuse a malformed workflow dict, naming the key and the reason;
    returns it normalised (``from`` as a list, ``*`` expanded)."""
    _known(item, ITEM_KEYS, where)
    model = item.get("model")
    meta = env.registry.models.get(model)
    if meta is None:
        raise UserInputError(f"{where}.model: unknown model {model!r}")
    where = f"{where} ({model})"
    current = matrix(env, model)
    field = item.get("field") or (current.field if current is not None else None)
    fdef = meta.fields.get(field)
    if fdef is None or fdef.type not in STATE_TYPES:
        raise UserInputError(f"{where}.field: {field!r} is not a char or selection field of {model}")
    if current is not None and current.field != field:
        raise UserInputError(f"{where}.field: the workflow of {model} is on {current.field!r}")
    # without states the item extends the model's matrix (a template's
    # workflows: items): its states are the existing ones
    for i, state in enumerate(item.get("states") or ()):
        _known(state, STATE_KEYS, f"{where}.states[{i}]")
    states = [dict(s) for s in item.get("states") or ()] or \
        ([dataclasses.asdict(s) for s in current.states] if current is not None else [])
    codes = [s.get("code") for s in states]
    if not states or not all(isinstance(c, str) and c for c in codes) or len(set(codes)) != len(codes):
        raise UserInputError(f"{where}.states: a non-empty list of states with distinct codes")
    if fdef.type == "selection":
        unknown = [c for c in codes if c not in fdef.values]
        if unknown:
            raise UserInputError(f"{where}.states: {unknown[0]!r} is not an option of {model}.{field}")
    open_states = [s["code"] for s in states if not s.get("terminal")]
    transitions = []
    for i, t in enumerate(item.get("transitions") or ()):
        here = f"{where}.transitions[{i}]"
        _known(t, TRANSITION_KEYS, here)
        t = dict(t)
        if not t.get("action"):
            raise UserInputError(f"{here}.action: missing")
        source = t.get("from")
        source = open_states if source == "*" else [source] if isinstance(source, str) else list(source or ())
        if not source:
            raise UserInputError(f"{here}.from: at least one state (or \"*\")")
        for code in (*source, t.get("to")):
            if code not in codes:
                raise UserInputError(f"{here}: unknown state {code!r}")
        t["from"] = source
        for role in t.get("roles") or ():
            if not env["core.role"].search_count([["code", "=", role]]):
                raise UserInputError(f"{here}.roles: unknown role {role!r}")
        for fname in t.get("required") or ():
            if fname not in meta.fields:
                raise UserInputError(f"{here}.required: {model} has no field {fname!r}")
        if t.get("condition"):
            try:
                env.sudo()[model].search_count(t["condition"])
            except UserInputError as exc:  # a bad domain says why
                raise UserInputError(f"{here}.condition: {exc}") from None
        t["triggers"] = [triggers.check(meta, field, trig, f"{here}.triggers[{j}]")
                         for j, trig in enumerate(t.get("triggers") or ())]
        transitions.append(t)
    actions = [t["action"] for t in transitions]
    if len(set(actions)) != len(actions):
        raise UserInputError(f"{where}.transitions: an action is named twice")
    modes = item.get("field_modes") or {}
    for state, by_field in modes.items():
        if state not in codes:
            raise UserInputError(f"{where}.field_modes: unknown state {state!r}")
        for fname, mode in by_field.items():
            if fname not in meta.fields or fname == field:
                raise UserInputError(f"{where}.field_modes.{state}: {model} has no field {fname!r} "
                                     "(or it is the state field)")
            if mode not in MODES:
                raise UserInputError(f"{where}.field_modes.{state}.{fname}: mode {mode!r} is not one of "
                                     f"{', '.join(MODES)}")
    return {"model": model, "field": field, "states": states, "transitions": transitions,
            "field_modes": modes}


def load_addon_workflows(env, addon, items):
    """Install or refresh the workflows ``addon`` ships (see the module doc)."""
    items = [check(env, item, f"addon {addon!r}: keel_workflows[{i}]") for i, item in enumerate(items)]
    state_model, trans_model = env["core.workflow_state"], env["core.workflow_transition"]
    mode_model, trigger_model = env["core.workflow_field_mode"], env["core.workflow_trigger"]
    kept = {"state": [], "transition": [], "mode": []}
    for item in items:
        model, field = item["model"], item["field"]
        existing = {r["code"]: r for r in state_model.search_read([["model", "=", model]], ["code", "field"])}
        other = {r["field"] for r in existing.values()} - {field}
        if other:
            raise UserInputError(f"addon {addon!r}: the workflow of {model} is on {other.pop()!r}, "
                                 f"not {field!r}")
        new = [{"model": model, "field": field, "code": s["code"], "label": s.get("label") or s["code"],
                "sequence": s.get("sequence", 10 * (i + 1)), "folded": bool(s.get("folded")),
                "terminal": bool(s.get("terminal")), "addon": addon}
               for i, s in enumerate(item["states"]) if s["code"] not in existing]
        if new:
            state_model.create(new)
        kept["state"] += [(model, s["code"]) for s in item["states"]]
        have = {r["action"] for r in trans_model.search_read([["model", "=", model]], ["action"])}
        for i, t in enumerate(item["transitions"]):
            kept["transition"].append((model, t["action"]))
            if t["action"] in have:
                continue
            created = trans_model.create({
                "model": model, "action": t["action"], "label": t.get("label") or t["action"],
                "from_states": t["from"], "to_state": t["to"], "roles": list(t.get("roles") or []),
                "condition": t.get("condition") or None, "required_fields": list(t.get("required") or []),
                "sequence": t.get("sequence", 10 * (i + 1)), "addon": addon})
            if t["triggers"]:
                trigger_model.create([{"transition_id": created.id, "kind": kind, "params": params,
                                       "sequence": 10 * (j + 1), "addon": addon}
                                      for j, (kind, params) in enumerate(t["triggers"])])
        have = {(r["state"], r["field"]) for r in mode_model.search_read([["model", "=", model]],
                                                                        ["state", "field"])}
        rows = []
        for state, by_field in item["field_modes"].items():
            for fname, mode in by_field.items():
                kept["mode"].append((model, state, fname))
                if (state, fname) not in have:
                    rows.append({"model": model, "state": state, "field": fname, "mode": mode,
                                 "addon": addon})
        if rows:
            mode_model.create(rows)
    _remove_unshipped(state_model, addon, ("model", "code"), kept["state"])
    _remove_unshipped(trans_model, addon, ("model", "action"), kept["transition"])
    _remove_unshipped(mode_model, addon, ("model", "state", "field"), kept["mode"])


def _remove_unshipped(model_set, addon, key, kept):
    kept = set(kept)
    stale = [r["id"] for r in model_set.search_read([["addon", "=", addon]], list(key))
             if tuple(r[k] for k in key) not in kept]
    if stale:
        model_set.browse(stale).unlink()
