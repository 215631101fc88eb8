"""Roles as data: turning the role format that addons ship (and templates
carry, CONTRACT.md §4) into ``core.permission`` and ``core.field_rule`` rows.

::

    {"code": "sales_rep", "label": "Sales representative",
     "permissions": {"crm.customer": ["read", "create", "write"]},
     "scopes": {"crm.customer": "own"},                 # own | department | department_tree | all
     "domains": {"crm.customer": [["in_pool", "=", False]]},   # optional, ANDed to the scope
     "actions": {"crm.opportunity": ["*"]},             # workflow actions (default: all)
     "fields": {"crm.customer": {"credit_limit": "readonly"}}}   # hidden | readonly
"""
from ..base.security_models import OPERATIONS
from ..errors import UserInputError

GRANT_KEYS = ("permissions", "scopes", "domains", "actions", "fields")
SCOPES = ("own", "department", "department_tree", "all")


def split_role(item):
    """``(role values, grants)`` of one shipped role dict."""
    item = dict(item)
    grants = {k: item.pop(k) for k in GRANT_KEYS if k in item}
    if "label" in item:
        item["name"] = item.pop("label")
    return item, grants


def apply_grants(env, role_id, code, grants, addon=None):
    """Create or update the role's permissions and field rules from ``grants``."""
    unknown = sorted(set(grants) - set(GRANT_KEYS))
    if unknown:
        raise UserInputError(f"role {code}: unknown key {unknown[0]!r} "
                             f"(one of {', '.join(GRANT_KEYS)})")
    permissions = grants.get("permissions") or {}
    scopes = grants.get("scopes") or {}
    domains = grants.get("domains") or {}
    actions = grants.get("actions") or {}
    for model in set(scopes) | set(domains) | set(actions):
        if model not in permissions:
            raise UserInputError(f"role {code}: {model} has a scope, domain or actions "
                                 "but no permissions")
    perm_model = env["core.permission"]
    for model, ops in permissions.items():
        if model not in env.registry:
            raise UserInputError(f"role {code}: unknown model {model!r}")
        unknown = [op for op in ops if op not in OPERATIONS]
        if unknown:
            raise UserInputError(f"role {code}: {model}: unknown permission {unknown[0]!r} "
                                 f"(one of {', '.join(OPERATIONS)})")
        scope = scopes.get(model, "all" if env.registry[model].fields.get("owner_id") is None else "own")
        if scope not in SCOPES:
            raise UserInputError(f"role {code}: {model}: scope {scope!r} is not one of {', '.join(SCOPES)}")
        values = {f"perm_{op}": op in ops for op in OPERATIONS}
        values.update(scope=scope, domain=domains.get(model), actions=actions.get(model))
        existing = perm_model.search([["role_id", "=", role_id], ["model", "=", model]])
        if existing:
            existing.write(values)
        else:
            perm_model.create({"role_id": role_id, "model": model, "addon": addon, **values})
    rules = env["core.field_rule"]
    for model, modes in (grants.get("fields") or {}).items():
        meta = env.registry[model] if model in env.registry else None
        if meta is None:
            raise UserInputError(f"role {code}: unknown model {model!r} in fields")
        for fname, mode in modes.items():
            if fname not in meta.fields:
                raise UserInputError(f"role {code}: {model} has no field {fname!r}")
            if mode not in ("hidden", "readonly"):
                raise UserInputError(f"role {code}: {model}.{fname}: mode {mode!r} is not hidden or readonly")
            existing = rules.search([["role_id", "=", role_id], ["model", "=", model], ["field", "=", fname]])
            if existing:
                existing.write({"mode": mode})
            else:
                rules.create({"role_id": role_id, "model": model, "field": fname, "mode": mode,
                              "addon": addon})


def load_addon_roles(env, addon, items):
    """Install or refresh the roles an addon ships; a role of another addon
    named again only receives the grants (which belong to this addon)."""
    roles = env["core.role"]
    codes = []
    for item in items:
        values, grants = split_role(item)
        code = values.get("code")
        if not code:
            raise UserInputError(f"addon {addon!r}: a role without a code: {item!r}")
        codes.append(code)
        existing = roles.search_read([["code", "=", code]], ["addon"])
        if existing:
            role_id = existing[0]["id"]
            if existing[0]["addon"] == addon:
                roles.browse(role_id).write({k: v for k, v in values.items() if k != "code"})
        else:
            role_id = roles.create({**values, "addon": addon}).id
        apply_grants(env, role_id, code, grants, addon)
    roles.search([["addon", "=", addon], ["code", "not in", codes]]).unlink()
