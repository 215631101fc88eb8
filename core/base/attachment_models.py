"""``core.attachment``: files attached to any record.

The content lives in the database with its row: an upload and the record
it belongs to commit or roll back together (nothing half-written, no orphan
files), both databases need nothing more, and a database backup holds every
file. Rows change only through :mod:`core.attachments`, which checks the
caller's rights on the record the file belongs to.
"""
from core import fields as F
from core.i18n import _
from core.models import Model


def attachment_models():
    return [
        Model("core.attachment", _("Attachment"), order="id desc", fields={
            "res_model": F.Char(_("Model"), required=True, index=True),
            "res_id": F.Integer(_("Record"), required=True, index=True),
            "name": F.Char(_("File name"), required=True),
            "mimetype": F.Char(_("Type")),
            "size": F.Integer(_("Size (bytes)")),
            "checksum": F.Char(_("SHA-256")),
            "data": F.Binary(_("Content")),
        }),
    ]
