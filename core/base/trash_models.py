"""The recycle bin's model, menu and daily jobs (issue 6 points 7 and 8).

``core.trash`` holds one entry per record deleted through the model API:
the rows of the record and of everything that cascaded with it (one2many
children with ``ondelete="cascade"``, many2many links, attachments) as a
JSON payload, kept ``trash_days`` days (:mod:`core.services.trash`).
Entries change only through that service (the kernel writes them in the
system context); administrators see every entry, other users those of
records they owned or deleted.

Jobs: ``core.trash.purge`` (daily, removes expired entries) and
``core.files.gc`` (daily, removes attachment files nothing references).
"""
from core import fields as F
from core.i18n import _
from core.models import Model


def models():
    return [
        Model("core.trash", _("Recycle bin"), order="deleted_at desc, id desc", rec_name="name",
              fields={
                  "model": F.Char(_("Model"), required=True, index=True, readonly=True),
                  "record_id": F.Integer(_("Record"), required=True, index=True, readonly=True),
                  "name": F.Char(_("Name"), readonly=True),
                  "deleted_by_id": F.Many2one("core.user", _("Deleted by"), readonly=True,
                                              index=True),
                  "deleted_at": F.Datetime(_("Deleted on"), readonly=True),
                  "expires_at": F.Datetime(_("Kept until"), readonly=True, index=True),
                  "owner_id": F.Many2one("core.user", _("Owner"), readonly=True),
                  "rows": F.Integer(_("Rows"), readonly=True),
                  "payload": F.Json(_("Rows deleted"), readonly=True),
                  # the checksums of the attachment files in the payload, space separated
                  "files": F.Text(_("Files"), readonly=True),
              }),
    ]


def menus():
    # shown to those who may read core.trash: administrators; others reach
    # their own deleted records at /web/trash
    return [{"key": "settings.trash", "label": _("Recycle bin"), "parent": "settings",
             "model": "core.trash", "url": "/web/trash", "sequence": 80}]


def jobs():
    return [{"key": "core.trash.purge", "label": _("Empty expired recycle bin entries"),
             "function": "core.services.trash:purge_expired", "cron": "30 3 * * *"},
            {"key": "core.files.gc", "label": _("Remove unreferenced attachment files"),
             "function": "core.services.files:gc_job", "cron": "45 3 * * *"}]
