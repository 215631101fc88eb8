"""crm_base: customers and their contacts — the heart of the CRM.

The full CRM (follow-ups, lead pool, opportunities…) grows here in later
issues; this first part declares the models of CONTRACT.md §6.
"""
from core import hookimpl
from core.i18n import _

from .models import models

manifest = {
    "name": "crm_base",
    "label": "CRM",
    "version": "0.1.0",
    "summary": "Customers, contacts",
    "category": "CRM",
    "depends": ["base"],
}


@hookimpl
def keel_models():
    return models()


@hookimpl
def keel_sequences():
    return [{"code": "crm.customer", "label": _("Customer code"), "pattern": "C{yyyy}{seq:05}"}]


CRM_MODELS = ("crm.customer", "crm.contact")


def _crm_role(code, label, description, ops, scope):
    return {"code": code, "label": label, "description": description,
            "permissions": {m: ops for m in CRM_MODELS},
            "scopes": {m: scope for m in CRM_MODELS}}


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
    ]


@hookimpl
def keel_migrate(env, from_version, to_version):
    # Before 0.1.0 a customer could be saved without a kind.
    env["crm.customer"].search([["kind", "=", None]]).write({"kind": "company"})


@hookimpl
def keel_demo_data():
    from .demo import DEMO
    return DEMO
