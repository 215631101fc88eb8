"""The lead pool (公海) as a rule engine — issue 7 point 5, CONTRACT.md §6.

* Models: ``crm.pool`` (who sees it, claim limit per day, ownership caps
  per rep and department (库容), cooldown, warning days, extra protections),
  ``crm.pool_rule`` (a domain over ``crm.customer`` and a clock: days
  without a follow-up, or days since assignment without a deal) and
  ``crm.pool_log`` (every release, claim, recycle and assignment, with its
  reason). Fields on ``crm.customer``: ``pool_id``, ``assigned_at``,
  ``last_contact_at``, ``locked``, ``previous_owner_id``, ``released_at``.
* Actions (``core.record_actions``): ``release``, ``claim``, ``assign``
  (``{"user_id"}``) — see :mod:`.pool_actions`.
* Visibility (``keel_record_rules``): pool customers are readable by the
  departments their pool names (everyone with read on customers when it
  names none).
* Recycling: the daily job ``crm.pool.recycle`` and its dry run — see
  :mod:`.pool_engine`; web pages in :mod:`.pool_web`.

docs/lead_pool.md describes it for users and implementers.
"""
from core import fields as F
from core.i18n import _
from core.models import Extend, Model

from .pool_actions import record_actions  # noqa: F401  (collected by crm_base)
from .pool_engine import cards, jobs  # noqa: F401
from .pool_web import blueprints  # noqa: F401

CLOCKS = [("no_followup", _("Days without a follow-up")),
          ("no_deal", _("Days since assignment without a deal"))]
LOG_ACTIONS = [("release", _("Release")), ("claim", _("Claim")), ("recycle", _("Recycle")),
               ("assign", _("Assign"))]


def models():
    return [
        Model("crm.pool", _("Lead pool"), order="sequence, id", security=True, fields={
            "name": F.Char(_("Name"), required=True),
            "sequence": F.Integer(_("Sequence"), default=10),
            "department_ids": F.Many2many("core.department", _("Departments that see it"),
                                          help=_("Empty: everyone who may read customers")),
            "claim_limit": F.Integer(_("Claims per rep per day"), default=0,
                                     help=_("0: no limit")),
            "cap_per_rep": F.Integer(_("Ownership cap per rep"), default=0,
                                     help=_("Customers a rep may own at most; 0: no cap")),
            "cap_per_department": F.Integer(_("Ownership cap per department"), default=0,
                                            help=_("0: no cap")),
            "cooldown_days": F.Integer(_("Cooldown (days)"), default=0,
                                       help=_("Days before a previous owner may claim again")),
            "warn_days": F.Integer(_("Warning (days before recycling)"), default=3),
            "protect_domain": F.Json(_("Protected customers (domain)"),
                                     help=_("Customers matching this domain are never recycled")),
            "active": F.Boolean(_("Active"), default=True),
            "rule_ids": F.One2many("crm.pool_rule", "pool_id", _("Rules")),
        }),
        Model("crm.pool_rule", _("Lead pool rule"), order="sequence, id", fields={
            "pool_id": F.Many2one("crm.pool", _("Lead pool"), required=True, ondelete="cascade"),
            "name": F.Char(_("Name"), required=True),
            "sequence": F.Integer(_("Sequence"), default=10),
            "domain": F.Json(_("Customers (domain)"),
                             help=_("e.g. [[\"grade\", \"=\", \"potential\"]]; empty: every customer")),
            "clock": F.Selection(_("Clock"), options=CLOCKS, default="no_followup", required=True),
            "days": F.Integer(_("Days"), required=True, default=30),
            "active": F.Boolean(_("Active"), default=True),
        }),
        Model("crm.pool_log", _("Lead pool log"), order="at desc, id desc", rec_name="action",
              access_parent="customer_id", trash=False, fields={
                  "customer_id": F.Many2one("crm.customer", _("Customer"), required=True,
                                            ondelete="cascade", index=True),
                  "action": F.Selection(_("Action"), options=LOG_ACTIONS, required=True, index=True),
                  "from_user_id": F.Many2one("core.user", _("From owner")),
                  "to_user_id": F.Many2one("core.user", _("To owner")),
                  "pool_id": F.Many2one("crm.pool", _("Lead pool")),
                  "rule_id": F.Many2one("crm.pool_rule", _("Rule")),
                  "clock_start": F.Datetime(_("Clock start")),
                  "days": F.Integer(_("Days")),
                  "reason": F.Text(_("Reason")),
                  "at": F.Datetime(_("Time"), index=True),
                  "by_id": F.Many2one("core.user", _("By"), index=True),
              }),
        Extend("crm.customer", fields={
            "pool_id": F.Many2one("crm.pool", _("Lead pool")),
            "assigned_at": F.Datetime(_("Assigned on")),
            "last_contact_at": F.Datetime(_("Last contact"), index=True),
            "locked": F.Boolean(_("Locked"), default=False,
                                help=_("A locked customer never goes back to the lead pool")),
            "previous_owner_id": F.Many2one("core.user", _("Previous owner")),
            "released_at": F.Datetime(_("Released on")),
        }),
    ]


# -- visibility ---------------------------------------------------------------------------
def record_rules(env, model):
    """Pool customers readable by the departments their pool names (all
    CRM users when it names none, or for customers in no pool)."""
    if model != "crm.customer":
        return []
    depts = set(env.access.department_ids(False))
    # the pools' departments, whatever the user may read of crm.pool (a
    # change to a pool moves the security version: security=True)
    pools = env.sudo()["crm.pool"].search_read([], ["department_ids"])
    visible = [p["id"] for p in pools
               if not p["department_ids"] or depts & set(_ids(p["department_ids"]))]
    return [[["in_pool", "=", True], ["pool_id", "in", [*visible, None]]]]


def _ids(values):
    return [v["id"] if isinstance(v, dict) else v for v in values]


# -- bookkeeping ----------------------------------------------------------------------------
def before_create(env, model, values_list):
    if model != "crm.customer":
        return
    for values in values_list:
        if values.get("owner_id") and not values.get("in_pool") and not values.get("assigned_at"):
            values["assigned_at"] = env.now


def before_write(env, model, records, values):
    if model == "crm.customer" and values.get("owner_id") and "assigned_at" not in values:
        values["assigned_at"] = env.now


def data():
    """The lead pool every CRM starts with (公海: every CRM user sees it; no
    limits and no recycling rule until an administrator sets them). Only
    its name is shipped, so an administrator's settings survive upgrades."""
    return [{"model": "crm.pool", "key": "name", "records": [{"name": "公海"}]}]


# -- menus, views, roles -----------------------------------------------------------------
def menus():
    return [
        {"key": "crm.pool", "label": _("Lead pool"), "parent": "crm", "sequence": 15,
         "model": "crm.customer", "url": "/web/crm.customer?f=in_pool"},
        {"key": "crm.pool.pools", "label": _("Lead pools"), "parent": "crm.config", "model": "crm.pool",
         "sequence": 10},
        {"key": "crm.pool.rules", "label": _("Lead pool rules"), "parent": "crm.config",
         "model": "crm.pool_rule", "sequence": 20},
        {"key": "crm.pool.logs", "label": _("Lead pool log"), "parent": "crm.planning",
         "model": "crm.pool_log", "sequence": 40},
        {"key": "crm.pool.preview", "label": _("Lead pool preview"), "parent": "crm.planning",
         "model": "crm.customer", "url": "/web/crm/pool/preview", "sequence": 50},
    ]


def views():
    return [
        {"key": "crm.pool.list", "model": "crm.pool", "type": "list",
         "arch": {"fields": ["name", "department_ids", "claim_limit", "cap_per_rep",
                             "cooldown_days", "warn_days", "active"]}},
        {"key": "crm.pool.form", "model": "crm.pool", "type": "form",
         "arch": {"sections": [
             {"label": _("Lead pool"), "fields": ["name", "sequence", "department_ids", "active"]},
             {"label": _("Limits"), "fields": ["claim_limit", "cap_per_rep", "cap_per_department",
                                               "cooldown_days", "warn_days"]},
             {"label": _("Protections"), "fields": ["protect_domain"]}],
             "tabs": [{"label": _("Rules"), "fields": ["rule_ids"]}]}},
        {"key": "crm.pool_rule.list", "model": "crm.pool_rule", "type": "list",
         "arch": {"fields": ["sequence", "name", "pool_id", "clock", "days", "domain", "active"]}},
        {"key": "crm.pool_log.list", "model": "crm.pool_log", "type": "list",
         "arch": {"fields": ["at", "customer_id", "action", "from_user_id", "to_user_id",
                             "pool_id", "rule_id", "days", "reason", "by_id"]}},
    ]


def roles():
    manage = ["read", "create", "write", "delete"]
    pool = {"crm.pool": "all", "crm.pool_rule": "all"}
    return {
        "sales_rep": {"permissions": {"crm.pool": ["read"], "crm.pool_rule": ["read"],
                                      "crm.pool_log": ["read"]},
                      "scopes": {**pool, "crm.pool_log": "own"}},
        "sales_manager": {"permissions": {"crm.pool": manage, "crm.pool_rule": manage,
                                          "crm.pool_log": ["read", "export"]},
                          "scopes": {**pool, "crm.pool_log": "department_tree"}},
        "sales_director": {"permissions": {"crm.pool": manage, "crm.pool_rule": manage,
                                           "crm.pool_log": ["read", "export"]},
                           "scopes": {**pool, "crm.pool_log": "all"}},
    }

