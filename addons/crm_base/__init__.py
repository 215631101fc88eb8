"""crm_base: customers, their contacts and opportunities — the heart of
the CRM.

The full CRM (follow-ups, lead pool…) grows here in later issues; this part
declares the models of CONTRACT.md §6 and the opportunity pipeline, a
workflow on ``crm.opportunity.stage`` (``workflow.py``).
"""
from core import hookimpl
from core.i18n import _

from . import (analyses, cycles, duplicates, followups, forecast, merge, panels, pool, targets,
               telemarketing, territories)
from .models import models
from .workflow import OPPORTUNITY_WORKFLOW

#: the parts of the CRM, each a module with some of the functions that
#: ``_collect``/``_call`` look for: ``models()``, ``menus()``, ``views()``,
#: ``roles()`` ({role code: {"permissions": {model: ops}, "scopes": {model:
#: scope}}} merged into the three CRM roles), ``jobs()``, ``reports()``,
#: ``sequences()``, ``data()``, ``cards(env)``, ``blueprints()``,
#: ``before_create(env, model, values_list)``, ``after_create(env, model,
#: records)``, ``before_write(env, model, records, values)``,
#: ``after_write(env, model, records, values)``, ``after_unlink(env, model, ids)``
FEATURES = (duplicates, merge, pool, forecast, cycles, followups, targets, territories,
            telemarketing, panels, analyses)


def _collect(name, *args):
    found = []
    for feature in FEATURES:
        fn = getattr(feature, name, None)
        if fn is not None:
            found.extend(fn(*args) or ())
    return found


def _call(name, *args):
    for feature in FEATURES:
        fn = getattr(feature, name, None)
        if fn is not None:
            fn(*args)

manifest = {
    "name": "crm_base",
    "label": "CRM",
    "version": "0.4.0",
    "summary": "Customers, contacts, follow-ups, opportunities",
    "category": "CRM",
    "depends": ["base"],
}


@hookimpl
def keel_models():
    return models() + _collect("models")


@hookimpl
def keel_sequences():
    return [{"code": "crm.customer", "label": _("Customer code"), "pattern": "C{yyyy}{seq:05}"}
            ] + _collect("sequences")


CRM_MODELS = ("crm.customer", "crm.contact", "crm.interaction", "crm.opportunity")
#: every CRM user sees and ticks off their own to-dos and notifications
#: (workflow triggers create them)
PERSONAL = {"core.activity": ["read", "write"], "core.notification": ["read", "write"],
            "core.notification_pref": ["read", "create", "write", "delete"]}


def _crm_role(code, label, description, ops, scope):
    return {"code": code, "label": label, "description": description,
            "permissions": {**{m: ops for m in CRM_MODELS}, **PERSONAL},
            "scopes": {**{m: scope for m in CRM_MODELS}, **{m: "own" for m in PERSONAL}}}


@hookimpl
def keel_roles():
    everyday = ["read", "create", "write", "export"]
    roles = [
        _crm_role("sales_rep", _("Sales representative"),
                  _("Own customers, contacts and follow-ups"), everyday, "own"),
        _crm_role("sales_manager", _("Sales manager"),
                  _("The customers of their department and the departments below"),
                  everyday + ["delete", "import", "approve"], "department_tree"),
        _crm_role("sales_director", _("Sales director"), _("Every customer"),
                  everyday + ["delete", "import", "approve"], "all"),
    ]
    # tags are shared: anyone in sales tags customers, managers tidy them up
    for role in roles:
        ops = ["read", "create"] if role["code"] == "sales_rep" else ["read", "create", "write", "delete"]
        role["permissions"]["crm.tag"] = ops
        role["scopes"]["crm.tag"] = "all"
    for feature in FEATURES:
        extra = getattr(feature, "roles", None)
        for role in roles:
            part = (extra() if extra else {}).get(role["code"], {})
            role["permissions"].update(part.get("permissions", {}))
            role["scopes"].update(part.get("scopes", {}))
    return roles


@hookimpl
def keel_menus():
    return [
        {"key": "crm", "label": _("CRM"), "sequence": 10},
        {"key": "crm.planning", "label": _("Sales planning"), "parent": "crm", "sequence": 60},
        {"key": "crm.config", "label": _("Configuration"), "parent": "crm", "sequence": 90},
        {"key": "crm.tags", "label": _("Customer tags"), "parent": "crm.config", "model": "crm.tag",
         "sequence": 5},
        {"key": "crm.customers", "label": _("Customers"), "parent": "crm", "model": "crm.customer",
         "sequence": 10},
        {"key": "crm.contacts", "label": _("Contacts"), "parent": "crm", "model": "crm.contact",
         "sequence": 20},
        {"key": "crm.interactions", "label": _("Follow-ups"), "parent": "crm",
         "model": "crm.interaction", "sequence": 25},
        {"key": "crm.opportunities", "label": _("Opportunities"), "parent": "crm",
         "model": "crm.opportunity", "sequence": 30},
    ] + _collect("menus")


@hookimpl
def keel_views():
    return [
        {"key": "crm.customer.list", "model": "crm.customer", "type": "list",
         "arch": {"fields": ["code", "name", "kind", "city", "grade", "owner_id", "next_contact_at"]}},
        {"key": "crm.customer.form", "model": "crm.customer", "type": "form",
         "arch": {"sections": [
             {"label": _("Customer"), "fields": ["code", "name", "kind", "grade", "level", "owner_id"]},
             {"label": _("Contact means"), "fields": ["phone", "mobile", "email", "city", "region"]},
             {"label": _("Classification"), "fields": ["industry", "source", "tag_ids",
                                                       "contact_cycle_days", "next_contact_at"]},
             {"label": _("Contacts"), "fields": ["contact_ids"]},
             {"label": _("Follow-ups"), "fields": ["interaction_ids"]}]}},
        {"key": "crm.interaction.list", "model": "crm.interaction", "type": "list",
         "arch": {"fields": ["at", "customer_id", "channel", "summary", "next_contact_at",
                             "owner_id"]}},
        {"key": "crm.interaction.calendar", "model": "crm.interaction", "type": "calendar",
         "arch": {"date": "at", "fields": ["summary", "customer_id"]}},
        {"key": "crm.opportunity.pivot", "model": "crm.opportunity", "type": "pivot",
         "arch": {"rows": ["stage"], "cols": [], "measures": ["amount:sum", "id:count"]}},
        {"key": "crm.contact.list", "model": "crm.contact", "type": "list",
         "arch": {"fields": ["name", "customer_id", "title", "mobile", "email"]}},
        {"key": "crm.opportunity.list", "model": "crm.opportunity", "type": "list",
         "arch": {"fields": ["name", "customer_id", "amount", "probability", "expected_close",
                             "stage", "owner_id"]}},
        {"key": "crm.opportunity.kanban", "model": "crm.opportunity", "type": "kanban",
         "arch": {"group_by": "stage", "fields": ["name", "customer_id", "amount", "predicted_probability",
                                                   "owner_id"]}},
        # the generated search views, with the filters a salesperson uses daily
        {"key": "crm.customer.search.followups", "model": "crm.customer", "type": "search",
         "arch": {"extends": "crm.customer.search", "append": {"filters": [
             {"key": "due_today", "label": _("Follow up today"), "group": "followup",
              "domain": [["next_contact_at", ">=", "@today"], ["next_contact_at", "<", "@tomorrow"]]},
             {"key": "overdue", "label": _("Overdue follow-up"), "group": "followup",
              "domain": [["next_contact_at", "<", "@today"]]}]}}},
        {"key": "crm.interaction.search.today", "model": "crm.interaction", "type": "search",
         "arch": {"extends": "crm.interaction.search", "append": {"filters": [
             {"key": "today", "label": _("Today"),
              "domain": [["at", ">=", "@today"], ["at", "<", "@tomorrow"]]}]}}},
        {"key": "crm.opportunity.form", "model": "crm.opportunity", "type": "form",
         "arch": {"header": {"state": "stage", "actions": True}, "sections": [
             {"label": _("Opportunity"), "fields": ["name", "customer_id", "contact_id", "owner_id"]},
             {"label": _("Forecast"), "fields": ["amount", "probability", "predicted_probability",
                                                 "weighted_amount", "expected_close", "stage_changed_at"]},
             {"label": _("Notes"), "fields": ["competitors", "description", "lost_reason"]}]}},
    ] + _collect("views")


@hookimpl
def keel_workbench_cards(env):
    """Today's follow-ups: the user's customers to contact today (or
    overdue), and the follow-ups they logged today."""
    if not env.access.allowed("crm.customer", "read"):
        return []
    from core.viewdefs import filter_domain
    mine = [["owner_id", "=", env.uid]]
    due = mine + filter_domain(env, [["next_contact_at", "<", "@tomorrow"]])
    customers = env["crm.customer"]
    rows = customers.search_read(due, ["name", "next_contact_at"], order="next_contact_at", limit=8)
    today = filter_domain(env, [["at", ">=", "@today"]])[0]
    items = [{"label": r["name"], "url": f"/web/crm.customer/{r['id']}", "note": r["next_contact_at"]}
             for r in rows]
    if env.access.allowed("crm.interaction", "read"):
        logged = env["crm.interaction"].search_count(mine + [today])
        items.append({"label": _("Follow-ups logged today"), "translate": True, "count": logged,
                      "url": "/web/crm.interaction?f=mine&f=today"})
    return [{"key": "crm.followups", "title": _("Today's follow-ups"), "sequence": 5,
             "count": customers.search_count(due),
             "url": "/web/crm.customer?f=mine&f=due_today&f=overdue",
             "empty": _("No customer to contact today."), "items": items}] + _collect("cards", env)


@hookimpl
def keel_workflows():
    return [OPPORTUNITY_WORKFLOW]


@hookimpl
def keel_workflow_trigger(env, model, records, action, name, params):
    # the parts' ``workflow_trigger(...)``: True when one handles ``name``
    for feature in FEATURES:
        fn = getattr(feature, "workflow_trigger", None)
        if fn is not None and fn(env, model, records, action, name, params):
            return True
    return None


@hookimpl
def keel_migrate(env, from_version, to_version):
    # Before 0.1.0 a customer could be saved without a kind.
    env["crm.customer"].search([["kind", "=", None]]).write({"kind": "company"})
    _call("migrate", env, from_version, to_version)


@hookimpl
def keel_before_create(env, model, values_list):
    _call("before_create", env, model, values_list)


@hookimpl
def keel_before_write(env, model, records, values):
    _call("before_write", env, model, records, values)


@hookimpl
def keel_after_write(env, model, records, values):
    _call("after_write", env, model, records, values)


@hookimpl
def keel_after_unlink(env, model, ids):
    _call("after_unlink", env, model, ids)


@hookimpl
def keel_jobs():
    return _collect("jobs")


@hookimpl
def keel_data():
    return _collect("data")


@hookimpl
def keel_blueprints():
    return _collect("blueprints")


@hookimpl
def keel_form_panels(env, model, record_id):
    # the 360° view of a customer (panels.py) and the parts' own panels
    return _collect("panels", env, model, record_id)


@hookimpl
def keel_record_actions():
    return _collect("record_actions")


@hookimpl
def keel_record_rules(env, model):
    return _collect("record_rules", env, model)


@hookimpl
def keel_after_create(env, model, records):
    _call("after_create", env, model, records)


@hookimpl
def keel_demo_data():
    from .demo import DEMO
    return DEMO


@hookimpl
def keel_addon_installed(env, addon):
    # the demo company (demo.py) links records by their ids: created once
    # crm_base is installed, in a database created with demo data
    if addon == "crm_base" and env.db is not None and env.db.get_meta(env.conn, "demo") == "1":
        from .demo import load
        load(env)


@hookimpl
def keel_reports():
    from .reports import reports
    return reports() + _collect("reports")
