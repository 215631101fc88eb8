"""Kernel models of the web UI: ``core.saved_filter``, a user's named
searches of a list view.

A saved filter belongs to one user and is only ever read and written by the
list view for that user (``core.web.model_views``), in the system context
with the user's id in the domain: nobody needs a role to keep their own
searches, and nobody sees anyone else's.
"""
from core import fields as F
from core import hookimpl
from core.i18n import _
from core.models import Model


def ui_models():
    return [
        Model("core.saved_filter", _("Saved filter"), order="model, name", fields={
            "user_id": F.Many2one("core.user", _("User"), required=True, ondelete="cascade",
                                  index=True),
            "model": F.Char(_("Model"), required=True),
            "name": F.Char(_("Name"), required=True),
            # the list view's query string (search text, filters, query rows,
            # grouping, order, columns): what the user saw, replayed as is
            "query": F.Text(_("Query")),
            "domain": F.Json(_("Domain")),
            "is_default": F.Boolean(_("Default"), default=False),
        }),
    ]


# -- the kernel's workbench cards --------------------------------------------------------------
#: items a card lists before its "see all" link
CARD_ITEMS = 5


def record_url(model, record_id):
    return f"/web/{model}/{record_id}" if model and record_id else None


@hookimpl
def keel_workbench_cards(env):
    """Pending approvals (always: an empty inbox is news too) and the user's
    open activities and unread notifications (when they may read them)."""
    from core import approvals
    cards = []
    items, total = approvals.inbox(env, limit=CARD_ITEMS)
    registry = env.registry
    cards.append({"key": "base.approvals", "title": _("Pending approvals"), "sequence": 10,
                  "count": total, "empty": _("Nothing is waiting for your approval."),
                  "items": [{"label": f"{_label(registry, i['model'])} #{i['record_id']} · {i['action']}",
                             "url": record_url(i["model"], i["record_id"]),
                             "note": i["requester"]}
                            for i in items]})
    mine = [["owner_id", "=", env.uid]]
    todo = []
    if env.access.allowed("core.activity", "read"):
        domain = mine + [["done", "=", False]]
        for row in env["core.activity"].search_read(domain, ["summary", "due_date", "model", "record_id"],
                                                    limit=CARD_ITEMS):
            todo.append({"label": row["summary"], "note": row["due_date"],
                         "url": record_url(row["model"], row["record_id"])
                         or f"/web/core.activity/{row['id']}"})
    if env.access.allowed("core.notification", "read"):
        domain = mine + [["is_read", "=", False]]
        for row in env["core.notification"].search_read(domain, ["message", "model", "record_id"],
                                                        limit=CARD_ITEMS):
            todo.append({"label": row["message"],
                         "url": record_url(row["model"], row["record_id"])
                         or f"/web/core.notification/{row['id']}"})
    if todo or env.access.allowed("core.activity", "read"):
        cards.append({"key": "base.activities", "title": _("My activities and notifications"),
                      "sequence": 20, "url": "/web/core.activity?f=mine",
                      "empty": _("No open activity, no unread notification."), "items": todo})
    return cards


def _label(registry, model):
    """The model's label in the page's language."""
    from core.i18n import translate
    from core.web.i18n import best_language
    meta = registry.models.get(model)
    return translate(meta.label, best_language()) if meta is not None else model
