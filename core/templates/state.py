"""What the database holds, in the shapes templates compare and export:
a role's grants and a model's workflow rows. Read through the model API as
the acting user (an administrator)."""
from ..base.security_models import OPERATIONS


def role_state(env, role_id):
    """The grants of role ``role_id`` in the role format
    (``core.security.roles``): ``permissions`` {model: [ops]}, ``scopes``
    {model: scope}, ``domains`` and ``actions`` (only where set) and
    ``fields`` {model: {field: mode}}."""
    out = {"permissions": {}, "scopes": {}, "domains": {}, "actions": {}, "fields": {}}
    perms = env["core.permission"].search_read(
        [["role_id", "=", role_id]], ["model", "scope", "domain", "actions",
                                      *(f"perm_{op}" for op in OPERATIONS)], order="model")
    for p in perms:
        model = p["model"]
        out["permissions"][model] = [op for op in OPERATIONS if p[f"perm_{op}"]]
        out["scopes"][model] = p["scope"]
        if p["domain"]:
            out["domains"][model] = p["domain"]
        if p["actions"] is not None:
            out["actions"][model] = p["actions"]
    for r in env["core.field_rule"].search_read([["role_id", "=", role_id]], ["model", "field", "mode"],
                                                order="model, field"):
        out["fields"].setdefault(r["model"], {})[r["field"]] = r["mode"]
    return out


def workflow_state(env, model):
    """The workflow rows of ``model``: ``field``, ``states``,
    ``transitions`` (each with its ``triggers`` as ``{"kind", "params"}``)
    and ``modes``, in their order."""
    states = env["core.workflow_state"].search_read(
        [["model", "=", model]], ["field", "code", "label", "sequence", "folded", "terminal"],
        order="sequence, code")
    transitions = env["core.workflow_transition"].search_read(
        [["model", "=", model]], ["action", "label", "from_states", "to_state", "roles", "condition",
                                  "required_fields", "sequence"], order="sequence, action")
    triggers = {}
    if transitions:
        for t in env["core.workflow_trigger"].search_read(
                [["transition_id", "in", [t["id"] for t in transitions]]],
                ["transition_id", "kind", "params", "sequence"], order="sequence, id"):
            triggers.setdefault(t["transition_id"]["id"], []).append(
                {"kind": t["kind"], "params": dict(t["params"] or {})})
    for t in transitions:
        t["triggers"] = triggers.get(t["id"], [])
        for key in ("from_states", "roles", "required_fields"):
            value = t[key]
            t[key] = [value] if isinstance(value, str) else list(value or [])
        t["condition"] = t["condition"] or None
    for s in states:
        s["folded"], s["terminal"] = bool(s["folded"]), bool(s["terminal"])
    modes = env["core.workflow_field_mode"].search_read([["model", "=", model]],
                                                        ["state", "field", "mode"], order="state, field")
    return {"field": states[0]["field"] if states else None, "states": states,
            "transitions": transitions, "modes": modes}
