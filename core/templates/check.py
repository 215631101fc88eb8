"""Checking a template against CONTRACT.md §4 before anything is written.

Every refusal names the key path and the value: ``fields[2].type: field
type 'int' is not one of char, …``, ``approvals[0].levels[1].approvers.role:
unknown role 'x'``. Unknown keys are refused rather than ignored (a typo
must not pass silently). What the template itself brings counts as known:
a role it defines may approve, a field it adds may be required by a
transition. The few checks that need those written first (a condition
naming a new field, a trigger) run again, with the same key paths, when
:mod:`.apply` writes them — still in the same transaction.

:func:`check` returns the template normalised: every list present, field
options as ``(value, label)`` pairs, a role's grants complete.
"""
from .. import custom_fields
from ..approvals import check_levels
from ..base.security_models import OPERATIONS
from ..errors import UserInputError
from ..security.roles import SCOPES
from ..sequences import check_pattern
from ..workflow.data import ITEM_KEYS, MODES, STATE_KEYS, TRANSITION_KEYS
from ..workflow.matrix import matrix

TOP_KEYS = ("name", "label", "requires", "fields", "roles", "sequences", "workflows", "approvals")
FIELD_KEYS = ("model", "name", "type", "label", "selection", "relation", "required", "index",
              "default")
ROLE_KEYS = ("code", "label", "description", "permissions", "scopes", "domains", "actions", "fields")
SEQUENCE_KEYS = ("model", "field", "pattern")
APPROVAL_KEYS = ("name", "label", "model", "action", "condition", "levels", "allow_self_approval",
                 "fallback", "fallback_user", "remind_after_hours", "escalate_after_hours", "active")
FALLBACKS = ("skip", "user")
RULE_MODES = ("hidden", "readonly")


class TemplateError(UserInputError):
    """A template refused: the message starts with the key path."""


# -- small shape checks ---------------------------------------------------------------
def known(value, keys, where):
    if not isinstance(value, dict):
        raise TemplateError(f"{where}: expected a mapping, got {value!r}")
    unknown = sorted(set(value) - set(keys), key=str)
    if unknown:
        raise TemplateError(f"{where}.{unknown[0]}: unknown key (one of {', '.join(keys)})")
    return value


def items(data, key, where=None):
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise TemplateError(f"{where or key}: expected a list, got {type(value).__name__}")
    return value


def text(value, where, required=True):
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise TemplateError(f"{where}: expected non-empty text, got {value!r}")
    return value.strip()


def flag(value, where, default=False):
    if value is None:
        return default
    if not isinstance(value, bool):
        raise TemplateError(f"{where}: expected true or false, got {value!r}")
    return value


def mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TemplateError(f"{where}: expected a mapping, got {value!r}")
    return value


def domain(value, where):
    if value in (None, []):
        return None
    if not isinstance(value, list):
        raise TemplateError(f"{where}: expected a domain (a list of [field, operator, value]), "
                            f"got {value!r}")
    return value


# -- the template ------------------------------------------------------------------------
class Checker:
    """Checks one template against the database ``env`` sees."""

    def __init__(self, env):
        self.env = env
        self.registry = env.registry
        self.new_fields = set()   # (model, name) the template adds
        self.role_codes = set()   # roles the template defines

    def model(self, value, where):
        if value not in self.registry.models:
            raise TemplateError(f"{where}: unknown model {value!r}")
        return value

    def has_field(self, model, name):
        return name in self.registry[model].fields or (model, name) in self.new_fields

    def role_exists(self, code):
        return code in self.role_codes or bool(
            self.env.sudo()["core.role"].search_count([["code", "=", code]]))

    def check(self, data):
        known(data, TOP_KEYS, "template")
        out = {"name": text(data.get("name"), "name"),
               "label": text(data.get("label"), "label", required=False)}
        installed = set(self.env.db.installed_addons(self.env.conn))
        requires = items(data, "requires")
        for i, addon in enumerate(requires):
            if addon not in installed:
                raise TemplateError(f"requires[{i}]: addon {addon!r} is not installed "
                                    f"(install it first: keel addons install {addon})")
        out["requires"] = list(requires)
        out["fields"] = [self.field(f, f"fields[{i}]") for i, f in enumerate(items(data, "fields"))]
        raw_roles = items(data, "roles")
        self.role_codes = {r.get("code") for r in raw_roles if isinstance(r, dict)}
        out["roles"] = [self.role(r, f"roles[{i}]") for i, r in enumerate(raw_roles)]
        self.unique(out["roles"], "code", "roles")
        out["sequences"] = [self.sequence(s, f"sequences[{i}]")
                            for i, s in enumerate(items(data, "sequences"))]
        out["workflows"] = [self.workflow(w, f"workflows[{i}]")
                            for i, w in enumerate(items(data, "workflows"))]
        self.unique(out["workflows"], "model", "workflows")
        out["approvals"] = [self.approval(a, f"approvals[{i}]", out["workflows"])
                            for i, a in enumerate(items(data, "approvals"))]
        self.unique(out["approvals"], "name", "approvals")
        return out

    @staticmethod
    def unique(rows, key, where):
        seen = set()
        for i, row in enumerate(rows):
            if row[key] in seen:
                raise TemplateError(f"{where}[{i}].{key}: {row[key]!r} is given twice")
            seen.add(row[key])

    # -- fields ---------------------------------------------------------------------------
    def field(self, item, where):
        known(item, FIELD_KEYS, where)
        model = self.model(item.get("model"), f"{where}.model")
        name = item.get("name")
        try:
            custom_fields.check_name(name)
        except UserInputError as exc:
            raise TemplateError(f"{where}.name: {exc}") from None
        if (model, name) in self.new_fields:
            raise TemplateError(f"{where}.name: {model}.{name} is given twice")
        existing = self.registry[model].fields.get(name)
        if existing is not None and not existing.custom:
            raise TemplateError(f"{where}.name: {model} already has a field {name!r} "
                                f"(from addon {existing.addon})")
        kind = item.get("type")
        if kind not in custom_fields.TYPES:
            raise TemplateError(f"{where}.type: {kind!r} is not one of {', '.join(custom_fields.TYPES)}")
        try:
            options = custom_fields.normalise_options(kind, item.get("selection"))
            custom_fields.check_relation(self.registry, kind, item.get("relation"))
            label = custom_fields.field_label(name, item.get("label"))
        except UserInputError as exc:
            raise TemplateError(f"{where}.{exc.details.get('parameter', 'type')}: {exc}") from None
        default = item.get("default")
        if default is not None and not isinstance(default, (str, int, float, bool)):
            raise TemplateError(f"{where}.default: expected a single value, got {default!r}")
        self.new_fields.add((model, name))
        return {"model": model, "name": name, "type": kind, "label": label, "selection": options,
                "relation": item.get("relation") if kind == "many2one" else None,
                "required": flag(item.get("required"), f"{where}.required"),
                "index": flag(item.get("index"), f"{where}.index") or kind == "many2one",
                "default": None if default in (None, "") else default}

    # -- roles ----------------------------------------------------------------------------
    def role(self, item, where):
        known(item, ROLE_KEYS, where)
        code = text(item.get("code"), f"{where}.code")
        current = self.env.sudo()["core.role"].search_read([["code", "=", code]], ["is_admin"])
        if current and current[0]["is_admin"]:
            raise TemplateError(f"{where}.code: {code!r} is an administrator role; templates do not "
                                "change it")
        label = text(item.get("label"), f"{where}.label", required=bool(not current))
        permissions = mapping(item.get("permissions"), f"{where}.permissions")
        grants = {"permissions": {}, "scopes": {}, "domains": {}, "actions": {}, "fields": {}}
        for model, ops in permissions.items():
            here = f"{where}.permissions.{model}"
            self.model(model, here)
            if not isinstance(ops, list) or not all(isinstance(op, str) for op in ops):
                raise TemplateError(f"{here}: expected a list of operations, got {ops!r}")
            bad = [op for op in ops if op not in OPERATIONS]
            if bad:
                raise TemplateError(f"{here}: unknown operation {bad[0]!r} (one of {', '.join(OPERATIONS)})")
            grants["permissions"][model] = [op for op in OPERATIONS if op in ops]
            owned = self.registry[model].fields.get("owner_id") is not None
            grants["scopes"][model] = "own" if owned else "all"
        for key in ("scopes", "domains", "actions"):
            for model, value in mapping(item.get(key), f"{where}.{key}").items():
                here = f"{where}.{key}.{model}"
                if model not in permissions:
                    raise TemplateError(f"{here}: {model} has no permissions in this role")
                if key == "scopes" and value not in SCOPES:
                    raise TemplateError(f"{here}: {value!r} is not one of {', '.join(SCOPES)}")
                if key == "domains":
                    value = domain(value, here)
                if key == "actions" and value is not None and (
                        not isinstance(value, list) or not all(isinstance(a, str) for a in value)):
                    raise TemplateError(f"{here}: expected a list of actions (or [\"*\"]), got {value!r}")
                if value is not None:
                    grants[key][model] = value
        for model, modes in mapping(item.get("fields"), f"{where}.fields").items():
            self.model(model, f"{where}.fields.{model}")
            checked = self.field_modes(model, modes, f"{where}.fields.{model}", RULE_MODES)
            if checked:
                grants["fields"].setdefault(model, {}).update(checked)
        return {"code": code, "label": label,
                "description": text(item.get("description"), f"{where}.description", required=False),
                "described": "description" in item, "grants": grants}

    def field_modes(self, model, value, where, allowed):
        """``{field: mode}`` of ``model`` (field rules, per-state field
        modes): every field known, every mode one of ``allowed``."""
        out = {}
        for fname, mode in mapping(value, where).items():
            here = f"{where}.{fname}"
            if not self.has_field(model, fname):
                raise TemplateError(f"{here}: {model} has no field {fname!r}")
            if mode not in allowed:
                raise TemplateError(f"{here}: mode {mode!r} is not one of {', '.join(allowed)}")
            out[fname] = mode
        return out

    # -- sequences ------------------------------------------------------------------------
    def sequence(self, item, where):
        known(item, SEQUENCE_KEYS, where)
        model = self.model(item.get("model"), f"{where}.model")
        fname = item.get("field")
        fdef = self.registry[model].fields.get(fname)
        if fdef is None or not getattr(fdef, "sequence", None):
            raise TemplateError(f"{where}.field: {model}.{fname} is not filled from a sequence")
        try:
            pattern = check_pattern(item.get("pattern"))
        except UserInputError as exc:
            raise TemplateError(f"{where}.pattern: {exc}") from None
        if not self.env.sudo()["core.sequence"].search_count([["code", "=", fdef.sequence]]):
            raise TemplateError(f"{where}: sequence {fdef.sequence!r} does not exist (its addon "
                                "is not installed?)")
        return {"model": model, "field": fname, "code": fdef.sequence, "pattern": pattern}

    # -- workflows ------------------------------------------------------------------------
    def workflow(self, item, where):
        known(item, ITEM_KEYS, where)
        model = self.model(item.get("model"), f"{where}.model")
        if matrix(self.env, model) is None and not item.get("states"):
            raise TemplateError(f"{where}.states: {model} has no workflow yet; give its states "
                                "(and field)")
        for i, state in enumerate(items(item, "states", f"{where}.states")):
            known(state, STATE_KEYS, f"{where}.states[{i}]")
        for i, t in enumerate(items(item, "transitions", f"{where}.transitions")):
            here = f"{where}.transitions[{i}]"
            known(t, TRANSITION_KEYS, here)
            text(t.get("action"), f"{here}.action")
            if not isinstance(t.get("roles") or [], list):
                raise TemplateError(f"{here}.roles: expected a list of role codes")
            for role in t.get("roles") or ():
                if not self.role_exists(role):
                    raise TemplateError(f"{here}.roles: unknown role {role!r}")
            if not isinstance(t.get("required") or [], list):
                raise TemplateError(f"{here}.required: expected a list of fields")
            for fname in t.get("required") or ():
                if not self.has_field(model, fname):
                    raise TemplateError(f"{here}.required: {model} has no field {fname!r}")
            domain(t.get("condition"), f"{here}.condition")
        for state, by_field in mapping(item.get("field_modes"), f"{where}.field_modes").items():
            self.field_modes(model, by_field, f"{where}.field_modes.{state}", MODES)
        return {**item, "model": model, "replace": bool(item.get("states"))}

    # -- approvals ------------------------------------------------------------------------
    def approval(self, item, where, workflows):
        known(item, APPROVAL_KEYS, where)
        name = text(item.get("name"), f"{where}.name")
        model = self.model(item.get("model"), f"{where}.model")
        action = text(item.get("action"), f"{where}.action")
        current = matrix(self.env, model)
        actions = set(current.transitions) if current is not None else set()
        for w in workflows:
            if w["model"] == model:
                actions |= {t.get("action") for t in w.get("transitions") or ()}
        if action not in actions:
            raise TemplateError(f"{where}.action: {model} has no workflow action {action!r}"
                                + (f" (its actions: {', '.join(sorted(actions))})" if actions else ""))
        levels = item.get("levels")
        # roles this template defines count as known: check the levels with
        # an approver any database has in their place
        probe = [{**lv, "approvers": {"type": "manager"}}
                 if isinstance(lv, dict) and isinstance(lv.get("approvers"), dict)
                 and lv["approvers"].get("type") == "role" and lv["approvers"].get("role") in self.role_codes
                 and set(lv["approvers"]) == {"type", "role"} else lv
                 for lv in (levels if isinstance(levels, list) else [levels])] if levels else levels
        check_levels(self.env, probe, f"{where}.levels")
        levels = [{**lv, "mode": lv.get("mode", "any")} for lv in levels]
        fallback = item.get("fallback", "skip")
        if fallback not in FALLBACKS:
            raise TemplateError(f"{where}.fallback: {fallback!r} is not one of {', '.join(FALLBACKS)}")
        fallback_user = text(item.get("fallback_user"), f"{where}.fallback_user", required=fallback == "user")
        if fallback_user and not self.env.sudo()["core.user"].search_count([["login", "=", fallback_user]]):
            raise TemplateError(f"{where}.fallback_user: unknown user {fallback_user!r}")
        hours = {}
        for key in ("remind_after_hours", "escalate_after_hours"):
            value = item.get(key)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise TemplateError(f"{where}.{key}: expected a whole number of hours ≥ 1, got {value!r}")
            hours[key] = value
        condition = domain(item.get("condition"), f"{where}.condition")
        self.condition(model, condition, f"{where}.condition")
        return {"name": name, "label": text(item.get("label"), f"{where}.label", required=False),
                "model": model, "action": action, "condition": condition, "levels": levels,
                "allow_self_approval": flag(item.get("allow_self_approval"), f"{where}.allow_self_approval"),
                "fallback": fallback, "fallback_user": fallback_user, **hours,
                "active": flag(item.get("active"), f"{where}.active", default=True)}

    def condition(self, model, value, where):
        """A condition on fields that exist already is tried now (one count);
        one naming a field the template adds is tried when it is written."""
        if not value:
            return
        names = {str(term[0]).split(".")[0] for term in value
                 if isinstance(term, (list, tuple)) and term and isinstance(term[0], str)}
        if any((model, n) in self.new_fields for n in names):
            return
        try:
            self.env.sudo()[model].search_count(value)
        except UserInputError as exc:
            raise TemplateError(f"{where}: {exc}") from None


def check(env, data):
    """``data`` (a parsed template) checked and normalised, or a
    :class:`TemplateError` naming the key path."""
    try:
        return Checker(env).check(data)
    except TemplateError:
        raise
    except UserInputError as exc:  # check_levels and friends already name the path
        raise TemplateError(str(exc), exc.details) from None
