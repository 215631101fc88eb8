"""A database's whole customization written as a template.

What goes in: every user-defined field; every role but the administrator
roles (``is_admin``: a template cannot express or change them) — shipped
roles too, whole, so that the file is the complete security set-up and
applying it elsewhere gives roles exactly these grants; the pattern of every
sequence a field is filled from; every workflow as its whole matrix
(``states`` given, so applying it replaces the matrix); every approval
policy. ``requires`` lists the installed addons.

Deterministic: the same customization gives the same bytes — no
timestamps, no ids; items sorted by their key (fields by model and name,
roles by code, sequences by model and field, workflows by model, states
and transitions by order then code, policies by name), keys of each item
in one fixed order, free-form mappings (permissions, field modes, trigger
parameters) sorted by key.
"""
import yaml

from ..orm.env import SYSTEM_UID, Env
from .state import role_state, workflow_state


def export(db, name="export", user=None):
    """The customization of ``db`` as template text named ``name``. With a
    ``user`` (login), that user must be an administrator."""
    with db.transaction() as conn:
        if user is not None:
            from .apply import _admin_env
            env = _admin_env(db, conn, user)
        else:
            env = Env(db, conn, db.registry(conn), SYSTEM_UID, su=True)
        doc = {"name": name,
               "requires": [a for a in db.installed_addons(conn) if a != "base"]}
        doc["requires"].sort()
        for key, part in (("fields", _fields), ("roles", _roles), ("sequences", _sequences),
                          ("workflows", _workflows), ("approvals", _approvals)):
            rows = part(env)
            if rows:
                doc[key] = rows
    return yaml.dump(doc, Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=100)


class _Dumper(yaml.SafeDumper):
    """Block style, but a list of plain values on one line
    (``[read, create, write]``), as people write templates."""


def _list(dumper, value):
    flow = bool(value) and all(isinstance(v, (str, int, float, bool)) or v is None for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


_Dumper.add_representer(list, _list)


def _sorted(value):
    """Free-form data with every mapping's keys sorted (and tuples as lists)."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_sorted(v) for v in value]
    return value


def _fields(env):
    out = []
    for r in env.sudo()["core.field"].search_read([], ["model", "name", "type", "label", "selection",
                                                       "relation", "required", "indexed",
                                                       "default_value"], order="model, name"):
        item = {"model": r["model"], "name": r["name"], "type": r["type"], "label": r["label"]}
        if r["selection"]:
            item["selection"] = [v if lbl == v else {"value": v, "label": lbl} for v, lbl in r["selection"]]
        if r["relation"]:
            item["relation"] = r["relation"]
        if r["required"]:
            item["required"] = True
        if r["indexed"] and r["type"] != "many2one":
            item["index"] = True
        if r["default_value"] is not None:
            item["default"] = r["default_value"]
        out.append(item)
    return out


def _roles(env):
    out = []
    for r in env["core.role"].search_read([["is_admin", "!=", True]], ["code", "name", "description"],
                                          order="code"):
        item = {"code": r["code"], "label": r["name"]}
        if r["description"]:
            item["description"] = r["description"]
        grants = role_state(env, r["id"])
        for key in ("permissions", "scopes", "domains", "actions", "fields"):
            if grants[key]:
                item[key] = _sorted(grants[key])
        out.append(item)
    return out


def _sequences(env):
    codes = {r["code"]: r["pattern"] for r in env["core.sequence"].search_read([], ["code", "pattern"])}
    out = []
    for model in sorted(env.registry.models):
        fields = env.registry[model].fields
        for fname in sorted(fields):
            code = getattr(fields[fname], "sequence", None)
            if code and code in codes:
                out.append({"model": model, "field": fname, "pattern": codes[code]})
    return out


def _workflows(env):
    models = sorted({r["model"] for r in env["core.workflow_state"].search_read([], ["model"])})
    out = []
    for model in models:
        w = workflow_state(env, model)
        transitions = []
        for t in w["transitions"]:
            item = {"action": t["action"], "label": t["label"], "from": t["from_states"],
                    "to": t["to_state"], "roles": t["roles"]}
            if t["condition"]:
                item["condition"] = _sorted(t["condition"])
            item.update(required=t["required_fields"], sequence=t["sequence"],
                        triggers=[_sorted({"kind": g["kind"], **g["params"]}) for g in t["triggers"]])
            transitions.append(item)
        modes = {}
        for m in w["modes"]:
            modes.setdefault(m["state"], {})[m["field"]] = m["mode"]
        out.append({"model": model, "field": w["field"],
                    "states": [{"code": s["code"], "label": s["label"], "sequence": s["sequence"],
                                "folded": s["folded"], "terminal": s["terminal"]} for s in w["states"]],
                    "transitions": transitions, "field_modes": _sorted(modes)})
    return out


def _approvals(env):
    out = []
    for p in env["core.approval_policy"].search_read([], [
            "name", "label", "model", "action", "condition", "levels", "allow_self_approval",
            "fallback", "fallback_user_id", "remind_after_hours", "escalate_after_hours", "active"],
            order="name"):
        item = {"name": p["name"]}
        if p["label"]:
            item["label"] = p["label"]
        item.update(model=p["model"], action=p["action"])
        if p["condition"]:
            item["condition"] = _sorted(p["condition"])
        item["levels"] = _sorted(p["levels"])
        if p["allow_self_approval"]:
            item["allow_self_approval"] = True
        if p["fallback"] and p["fallback"] != "skip":
            item["fallback"] = p["fallback"]
        if p["fallback_user_id"]:
            login = env.sudo()["core.user"].browse(p["fallback_user_id"]["id"]).read(["login"])[0]["login"]
            item["fallback_user"] = login
        for key in ("remind_after_hours", "escalate_after_hours"):
            if p[key]:
                item[key] = p[key]
        if p["active"] is False:
            item["active"] = False
        out.append(item)
    return out
