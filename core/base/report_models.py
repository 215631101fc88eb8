"""Kernel models, menus and jobs of the reports service (issue 6 point 5):
``core.report``, a user's own saved reports (柔性报表: a declared report
with the dimensions, measures, period and filter the user picked), and the
top-level "Reports" menu (``/web/reports``).

Like ``core.saved_filter``, a saved report belongs to one user and is only
read and written by the report pages for that user (:mod:`core.web.reports`),
in the system context with the user's id in the domain: nobody needs a role
to keep their own reports, and nobody sees anyone else's. The numbers are
always computed as the user who opens it.
"""
from core import fields as F
from core.i18n import _
from core.models import Model


def models():
    return [
        Model("core.report", _("Saved report"), order="name, id", fields={
            "user_id": F.Many2one("core.user", _("User"), required=True, ondelete="cascade",
                                  index=True),
            "report_key": F.Char(_("Report"), required=True),
            "name": F.Char(_("Name"), required=True),
            # the report page's query string (dimensions, measures, period,
            # chart, filter): what the user saw, replayed as is
            "query": F.Text(_("Query")),
        }),
    ]


def menus():
    # a menu with an address and no model: shown to everyone; the page lists
    # the reports of the models the user may read
    return [{"key": "reports", "label": _("Reports"), "url": "/web/reports", "sequence": 800}]


def jobs():
    return []
