"""crm_base: customers, their contacts and opportunities — the heart of
the CRM.

The full CRM (follow-ups, lead pool…) grows here in later issues; this part
declares the models of CONTRACT.md §6 and the opportunity pipeline, a
workflow on ``crm.opportunity.stage`` (``workflow.py``).
"""
from core import hookimpl
from core.i18n import _

from .models import models
from .workflow import OPPORTUNITY_WORKFLOW

manifest = {
    "name": "crm_base",
    "label": "CRM",
    "version": "0.2.0",
    "summary": "Customers, contacts, opportunities",
    "category": "CRM",
    "depends": ["base"],
}


@hookimpl
def keel_models():
    return models()


@hookimpl
def keel_sequences():
    return [{"code": "crm.customer", "label": _("Customer code"), "pattern": "C{yyyy}{seq:05}"}]


CRM_MODELS = ("crm.customer", "crm.contact", "crm.opportunity")
#: every CRM user sees and ticks off their own to-dos and notifications
#: (workflow triggers create them)
PERSONAL = {"core.activity": ["read", "write"], "core.notification": ["read", "write"]}


def _crm_role(code, label, description, ops, scope):
    return {"code": code, "label": label, "description": description,
            "permissions": {**{m: ops for m in CRM_MODELS}, **PERSONAL},
            "scopes": {**{m: scope for m in CRM_MODELS}, **{m: "own" for m in PERSONAL}}}


@hookimpl
def keel_roles():
    everyday = ["read", "create", "write", "export"]
    return [
        _crm_role("sales_rep", _("Sales representative"),
                  _("Own customers, contacts and follow-ups"), everyday, "own"),
        _crm_role("sales_manager", _("Sales manager"),
                  _("The customers of their department and the departments below"),
                  everyday + ["delete", "import", "approve"], "department_tree"),
        _crm_role("sales_director", _("Sales director"), _("Every customer"),
                  everyday + ["delete", "import", "approve"], "all"),
    ]


@hookimpl
def keel_menus():
    return [
        {"key": "crm", "label": _("CRM"), "sequence": 10},
        {"key": "crm.customers", "label": _("Customers"), "parent": "crm", "model": "crm.customer",
         "sequence": 10},
        {"key": "crm.contacts", "label": _("Contacts"), "parent": "crm", "model": "crm.contact",
         "sequence": 20},
        {"key": "crm.opportunities", "label": _("Opportunities"), "parent": "crm",
         "model": "crm.opportunity", "sequence": 30},
    ]


@hookimpl
def keel_views():
    return [
        {"key": "crm.customer.list", "model": "crm.customer", "type": "list",
         "arch": {"fields": ["code", "name", "kind", "city", "grade", "owner_id", "next_contact_at"]}},
        {"key": "crm.customer.form", "model": "crm.customer", "type": "form",
         "arch": {"sections": [
             {"label": _("Customer"), "fields": ["code", "name", "kind", "grade", "level", "owner_id"]},
             {"label": _("Contact means"), "fields": ["phone", "mobile", "email", "city", "region"]},
             {"label": _("Classification"), "fields": ["industry", "source", "contact_cycle_days",
                                                       "next_contact_at"]},
             {"label": _("Contacts"), "fields": ["contact_ids"]}]}},
        {"key": "crm.contact.list", "model": "crm.contact", "type": "list",
         "arch": {"fields": ["name", "customer_id", "title", "mobile", "email"]}},
        {"key": "crm.opportunity.list", "model": "crm.opportunity", "type": "list",
         "arch": {"fields": ["name", "customer_id", "amount", "probability", "expected_close",
                             "stage", "owner_id"]}},
        {"key": "crm.opportunity.kanban", "model": "crm.opportunity", "type": "kanban",
         "arch": {"group_by": "stage", "fields": ["name", "customer_id", "amount", "owner_id"]}},
        {"key": "crm.opportunity.form", "model": "crm.opportunity", "type": "form",
         "arch": {"header": {"state": "stage", "actions": True}, "sections": [
             {"label": _("Opportunity"), "fields": ["name", "customer_id", "contact_id", "owner_id"]},
             {"label": _("Forecast"), "fields": ["amount", "probability", "expected_close"]},
             {"label": _("Notes"), "fields": ["description", "lost_reason"]}]}},
    ]


@hookimpl
def keel_workflows():
    return [OPPORTUNITY_WORKFLOW]


@hookimpl
def keel_migrate(env, from_version, to_version):
    # Before 0.1.0 a customer could be saved without a kind.
    env["crm.customer"].search([["kind", "=", None]]).write({"kind": "company"})


@hookimpl
def keel_demo_data():
    from .demo import DEMO
    return DEMO


@hookimpl
def keel_addon_installed(env, addon):
    # demo opportunities need their customers' ids: created once the demo
    # customers exist, in a database created with demo data
    if addon == "crm_base" and env.db is not None and env.db.get_meta(env.conn, "demo") == "1":
        from .demo import load_opportunities
        load_opportunities(env)
