"""crm_base's fixed reports (the ``keel_reports`` hook): customers by grade,
source, region, industry and owner; new customers per month; follow-ups per
rep per month against the department average; opportunities by stage; won
amount this month against last month. See docs/reports.md.

Weighted amounts (amount × probability) are not among them: a measure is
one ``field:function`` of ``read_group``, and a product of two fields is
not one.
"""
from core.i18n import _


def reports():
    customers = [("grade", _("Customers by grade"), "pie"), ("source", _("Customers by source"), "bar"),
                 ("region", _("Customers by region"), "bar"),
                 ("industry", _("Customers by industry"), "pie"),
                 ("owner_id", _("Customers by owner"), "bar")]
    found = [{"key": f"crm.customers_by_{field.removesuffix('_id')}", "label": label,
              "model": "crm.customer", "dimensions": [field], "measures": ["count"], "chart": chart,
              "sequence": 10 + i} for i, (field, label, chart) in enumerate(customers)]
    return found + [
        {"key": "crm.new_customers", "label": _("New customers per month"), "model": "crm.customer",
         "dimensions": ["created_at:month"], "measures": ["count"], "chart": "line",
         "compare": ["period"], "period": "year", "sequence": 20,
         "description": _("Customers created each month of this year, beside the same month last year")},
        {"key": "crm.followups_per_rep", "label": _("Follow-ups per rep"), "model": "crm.interaction",
         "dimensions": ["owner_id", "at:month"], "measures": ["count"], "chart": "bar",
         "compare": ["team"], "date_field": "at", "period": "quarter", "sequence": 30,
         "description": _("Follow-ups of each rep per month, beside the average of the rep's department")},
        {"key": "crm.opportunities_by_stage", "label": _("Opportunities by stage"),
         "model": "crm.opportunity", "dimensions": ["stage"], "measures": ["count", "amount:sum"],
         "chart": "funnel", "sequence": 40},
        {"key": "crm.won_amount", "label": _("Won amount: this month against last"),
         "model": "crm.opportunity", "dimensions": ["owner_id"], "measures": ["amount:sum", "count"],
         "domain": [["stage", "=", "won"]], "chart": "bar", "compare": ["period"], "period": "month",
         "date_field": "expected_close", "sequence": 50,
         "description": _("Won opportunities by their close date, per owner")},
    ]
