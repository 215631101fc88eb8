"""CRM analyses beyond the fixed reports of ``reports.py``: the 80/20
customer classification (gold / potential gold / ordinary) and new
customers per rep against the department average.

The 80/20 classification
------------------------
Customers are ranked by their value — by default the amount of their won
opportunities (revenue), or the amount of their open opportunities
(``basis="open"``) — and cut where the running total crosses 80 % of the
whole (gold: the few customers making 80 % of the value), then 95 %
(potential gold: the next 15 %); the rest, customers without value
included, are ordinary.

The class is *stored* on the customer (``value_class``) and recomputed by a
nightly job (``crm.value_classes``) rather than computed at each report:

* the cut needs a running total over customers sorted by value — a window
  function the report engine (``read_group`` only) cannot express, so a
  computed report would have to fetch one group per customer (100,000 rows
  through Python) at every page view;
* stored, the reports are plain ``read_group`` calls grouping by
  ``value_class`` (one GROUP BY over the customers, with their record
  scopes: a rep sees how many gold customers *they* own), in milliseconds
  for 100,000 customers; the job pays the per-customer pass once a night;
* the job writes only the customers whose class changed, in one UPDATE
  per class and batch (a few customers a night once settled), each change
  in the audit log.

The job computes the ranking with ``read_group`` (one GROUP BY of the won
opportunities by customer, in SQL); the cumulative split over the grouped
rows is done in Python — that is the one step SQL through the model API
does not offer. Classes are company-wide: the split is over every customer
(system context), whoever owns them.
"""
import decimal

from core import fields as F
from core.i18n import _
from core.models import Extend

from .workflow import OPEN

VALUE_CLASSES = [("gold", _("Gold")), ("potential_gold", _("Potential gold")),
                 ("ordinary", _("Ordinary"))]
#: the running share of the total value up to which a customer is gold,
#: then potential gold
GOLD_SHARE, POTENTIAL_SHARE = decimal.Decimal("0.80"), decimal.Decimal("0.95")
#: customers written per UPDATE (the IN list of one statement)
BATCH = 5000


def models():
    return [Extend("crm.customer", fields={
        "value_class": F.Selection(_("Value class (80/20)"), options=VALUE_CLASSES, index=True,
                                   readonly=True,
                                   help=_("Gold: the customers making up 80%, by revenue; potential "
                                          "gold: the next 15%; recomputed every night")),
    })]


def split(values):
    """``{customer id: class}`` from ``[(customer id, value)]``: sorted by
    value (highest first, then id), gold while the running total before the
    customer is under 80 % of the whole, potential gold under 95 %, else
    ordinary (customers of value 0 or less are always ordinary)."""
    ranked = sorted(((cid, v or 0) for cid, v in values), key=lambda item: (-item[1], item[0]))
    total = sum(v for _cid, v in ranked if v > 0)
    out, running = {}, 0
    for cid, value in ranked:
        if value <= 0 or not total:
            out[cid] = "ordinary"
            continue
        share = decimal.Decimal(running) / decimal.Decimal(total)
        out[cid] = "gold" if share < GOLD_SHARE else "potential_gold" if share < POTENTIAL_SHARE \
            else "ordinary"
        running += value
    return out


def classify(env, basis="won"):
    """Recompute every customer's ``value_class`` (run in the system
    context); ``basis`` ``won`` (revenue) or ``open`` (open pipeline).
    Writes only the customers whose class changes; returns ``{class:
    number of customers moved into it}``."""
    stages = ["won"] if basis == "won" else list(OPEN)
    groups = env["crm.opportunity"].read_group([["stage", "in", stages]], ["customer_id.id"],
                                               ["amount:sum"])
    wanted = split([(g["customer_id.id"], g["amount:sum"]) for g in groups
                    if g["customer_id.id"] is not None])
    customers = env["crm.customer"]
    moved = {}
    for code in ("gold", "potential_gold"):
        ids = sorted(cid for cid, c in wanted.items() if c == code)
        holding = set()
        for start in range(0, len(ids), BATCH):
            holding.update(customers.search([["id", "in", ids[start:start + BATCH]],
                                             ["value_class", "=", code]]).ids)
        moved[code] = [cid for cid in ids if cid not in holding]
    # everyone else is ordinary: those unset or holding a higher class today
    keep = {cid for cid, c in wanted.items() if c != "ordinary"}
    now_high = customers.search(["|", ["value_class", "=", None],
                                 ["value_class", "in", ["gold", "potential_gold"]]])
    moved["ordinary"] = sorted(cid for cid in now_high.ids if cid not in keep)
    for code, ids in moved.items():
        for start in range(0, len(ids), BATCH):
            customers.browse(ids[start:start + BATCH]).write({"value_class": code})
    return {code: len(ids) for code, ids in moved.items()}


def value_classes(env):
    """The nightly job: revenue-based classes."""
    classify(env, "won")


def jobs():
    return [{"key": "crm.value_classes", "label": _("Customer value classes (80/20)"),
             "function": "addons.crm_base.analyses:value_classes", "cron": "30 2 * * *"}]


def reports():
    return [
        {"key": "crm.value_classes", "label": _("Customers by value class (80/20)"),
         "model": "crm.customer", "dimensions": ["value_class"], "measures": ["count"],
         "chart": "pie", "sequence": 15,
         "description": _("Gold customers make up 80%, by revenue; potential gold the next 15%; "
                          "classes are recomputed every night")},
        {"key": "crm.revenue_by_value_class", "label": _("Revenue by value class (80/20)"),
         "model": "crm.opportunity", "dimensions": ["customer_id.value_class"],
         "measures": ["amount:sum", "customer_id:count_distinct"], "domain": [["stage", "=", "won"]],
         "chart": "bar", "sequence": 16,
         "description": _("Won amount of the gold, potential gold and ordinary customers")},
        {"key": "crm.new_customers_per_rep", "label": _("New customers per rep"),
         "model": "crm.customer", "dimensions": ["owner_id", "created_at:month"],
         "measures": ["count"], "chart": "bar", "compare": ["team"], "date_field": "created_at",
         "period": "quarter", "sequence": 25,
         "description": _("Customers each rep created per month, beside the average of the "
                          "rep's department")},
    ]
