"""Record actions besides workflow transitions (``keel_record_actions``).

An addon declares actions on a model that are not moves of a state field —
the lead pool's ``release`` / ``claim`` / ``assign`` on ``crm.customer`` —
as dicts::

    {"model": "crm.customer", "action": "claim", "label": _("Claim"),
     "run": claim,                 # run(records, comment, params) -> None
     "allowed": may_claim,         # optional: allowed(records) -> set of ids
     "params": ["user_id"],        # optional: accepted parameter names
     "on": "read"}                 # "read" or "write" (default)

``records.action(name, comment, params)`` runs the model's workflow
transition ``name`` when its state matrix has one, else the registered
action, with the same error shapes as a transition:

1. every record exists and the caller may read it (``on: "read"``) or
   change it (``"write"``), else ``NotFound`` (404, as a missing record);
2. the model has the action, else ``UserInputError`` naming the model's
   actions (400); a parameter the action does not declare is a 400 too;
3. ``run`` itself refuses with ``Conflict`` (409), ``AccessDenied`` (403)
   or ``ValidationError`` (422) naming the reason — it runs in the caller's
   unit of work and goes through the model API (or says why not).

Each record run is logged in the audit trail as an ``action`` entry
(``{"action", "comment", "params"}``). ``records.allowed_actions()`` lists
the action for the records the caller may run it on now (``allowed``; all
the visible ones when the action gives none), so that the form shows its
button (actions with ``params`` are left out of form buttons) and ``GET
/api/v1/data/MODEL/ID/actions`` lists it.
"""
from .errors import NotFound, UserInputError
from .security import audit

MODES = ("read", "write")


def declared(env):
    """``{model: {action: spec}}`` of the installed addons (cached per
    registry: the hook depends on nothing else)."""
    registry = env.registry
    found = getattr(registry, "_record_actions", None)
    if found is None:
        found = {}
        hooks = registry.hooks
        if hooks.has("keel_record_actions"):
            for addon, result in hooks.gather("keel_record_actions"):
                for spec in result or ():
                    _validate(addon, spec)
                    found.setdefault(spec["model"], {})[spec["action"]] = dict(
                        spec, on=spec.get("on", "write"), params=list(spec.get("params") or ()),
                        addon=addon)
        registry._record_actions = found
    return found


def _validate(addon, spec):
    from .errors import AddonError
    missing = [k for k in ("model", "action", "run") if not spec.get(k)]
    if missing:
        raise AddonError(f"addon {addon!r}: record action {spec!r} lacks {', '.join(missing)}")
    if spec.get("on", "write") not in MODES:
        raise AddonError(f"addon {addon!r}: record action {spec['action']!r}: on must be read or write")


def of_model(env, model):
    """``{action: spec}`` registered on ``model``."""
    return declared(env).get(model, {})


def spec(env, model, action):
    return of_model(env, model).get(action)


def label(env, model, action):
    found = spec(env, model, action)
    return found.get("label") if found else None


def run(records, name, comment=None, params=None):
    """Run the registered action ``name`` (see the module docstring): a
    list of ``core.workflow.Outcome``, one per record, all ``ran``."""
    from .workflow.engine import Outcome
    env, model = records.env, records._name
    action = spec(env, model, name)
    ids = list(dict.fromkeys(records.ids))
    if comment is not None and not isinstance(comment, str):
        raise UserInputError(f"{model}.{name}: the comment must be text", {"parameter": "comment"})
    mode = action["on"] if action else "read"
    _check_visible(records, ids, mode)
    if action is None:
        raise unknown(env, model, name)
    params = dict(params or {})
    extra = sorted(set(params) - set(action["params"]))
    if extra:
        raise UserInputError(f"{model}.{name}: unknown parameter {extra[0]!r} (accepted: "
                             f"{', '.join(['comment', *action['params']])})",
                             {"parameter": extra[0], "action": name})
    action["run"](records.browse(ids), comment, params)
    for rid in ids:
        audit.log(env, "action", model, rid, {"action": name, "comment": comment, "params": params})
    records.browse(ids)._invalidate()
    return [Outcome(rid, True) for rid in ids]


def unknown(env, model, name):
    from .workflow.matrix import matrix
    m = matrix(env, model)
    names = list(m.transitions) if m is not None else []
    names += [a for a in of_model(env, model) if a not in names]
    workflow = "" if m is not None else "no workflow; "
    return UserInputError(f"{model} has no action {name!r} ({workflow}its actions: "
                          f"{', '.join(names) or 'none'})",
                          {"model": model, "action": name, "actions": names})


def _check_visible(records, ids, mode):
    if records.env.access.unrestricted:
        found = set(records.browse(ids).exists().ids)
    else:
        found = records._visible(ids, mode)
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"{records._name} {missing[0]} does not exist",
                       {"model": records._name, "id": missing[0]})


def allowed(records, out):
    """Add to ``out`` (``{id: [action, …]}``) the registered actions the
    caller may run on each record now."""
    env = records.env
    actions = of_model(env, records._name)
    if not actions or not records.ids:
        return out
    ids = list(dict.fromkeys(records.ids))
    visible = {}
    for name, action in actions.items():
        mode = action["on"]
        if mode not in visible:
            visible[mode] = (set(records.browse(ids).exists().ids) if env.access.unrestricted
                             else records._visible(ids, mode))
        candidates = [i for i in ids if i in visible[mode]]
        if candidates and action.get("allowed"):
            ok = set(action["allowed"](records.browse(candidates)) or ())
            candidates = [i for i in candidates if i in ok]
        for rid in candidates:
            out.setdefault(rid, []).append(name)
    return out


def form_buttons(env, model, names):
    """The actions among ``names`` a form shows as buttons: registered
    ones without parameters (``[(action, English label)]``)."""
    out = []
    for name in names:
        action = spec(env, model, name)
        if action is not None and not action["params"]:
            out.append((name, action.get("label") or name))
    return out
