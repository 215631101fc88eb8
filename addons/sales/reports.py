"""sales' fixed reports (the ``keel_reports`` hook). The addon has no
orders yet (they come later): its reports read the sales terms it adds to
customers — credit limits per payment terms and per owner. Order reports
(orders and amount per month, per customer) belong here once ``sale.order``
exists. See docs/reports.md.
"""
from core.i18n import _


def reports():
    return [
        {"key": "sales.credit_by_terms", "label": _("Credit limits by payment terms"),
         "model": "crm.customer", "dimensions": ["payment_terms"],
         "measures": ["count", "credit_limit:sum"], "chart": "pie", "sequence": 60},
        {"key": "sales.credit_by_owner", "label": _("Credit limits by owner"), "model": "crm.customer",
         "dimensions": ["owner_id"], "measures": ["credit_limit:sum", "credit_limit:avg"],
         "chart": "bar", "compare": ["team"], "sequence": 61},
    ]
