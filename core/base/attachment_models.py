"""``core.attachment``: files attached to any record.

The content lives on disk under the files root, by content hash
(:mod:`core.services.files`); the row keeps name, mimetype (decided by the
content), size and checksum. ``data`` is only read: rows of databases made
before the file store keep their content there. Rows change only through
:mod:`core.attachments`, which checks the caller's rights on the record the
file belongs to.
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
            "checksum": F.Char(_("SHA-256"), index=True),
            # legacy: the content of rows written before the file store
            "data": F.Binary(_("Content"), readonly=True),
        }),
    ]
