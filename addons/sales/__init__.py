"""sales: quotations, orders and products grow here; for now it extends
``crm.customer`` — the example of one addon extending another's model."""
from core import fields as F
from core import hookimpl
from core.i18n import _
from core.models import Extend

manifest = {
    "name": "sales",
    "label": "Sales",
    "version": "0.1.0",
    "summary": "Sales terms on customers (orders come later)",
    "category": "Sales",
    "depends": ["crm_base"],
}


@hookimpl
def keel_models():
    return [Extend(
        "crm.customer",
        fields={
            "credit_limit": F.Decimal(_("Credit limit"), help=_("Open orders may not exceed it")),
            "payment_terms": F.Selection(_("Payment terms"), options=[
                ("prepaid", _("Prepaid")), ("net30", _("30 days")), ("net60", _("60 days"))]),
        },
        selection_add={"source": [("quotation_request", _("Quotation request"))]},
        attrs={"grade": {"label": _("Customer grade")}},
    )]


@hookimpl
def keel_menus():
    return [{"key": "sales", "label": _("Sales"), "sequence": 20}]


@hookimpl
def keel_reports():
    from .reports import reports
    return reports()
