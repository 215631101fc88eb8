"""Kernel models of user-defined fields beyond ``core.field`` itself.

``core.field_archive`` keeps the data of removed user-defined fields: when
``keel field remove`` (or ``DELETE /api/v1/meta/models/MODEL/fields/NAME``)
drops a column, every non-empty value is first copied here, one row per
record, so the data stays in the database — and in every later backup — and
can be put back by hand (docs/customizing.md, "Removing a field").
"""
from core import fields as F
from core.i18n import _
from core.models import Model


def field_models():
    return [
        Model("core.field_archive", _("Archived field value"), order="removed_at desc, id",
              rec_name="field", fields={
                  "model": F.Char(_("Model"), required=True, index=True),
                  "field": F.Char(_("Field"), required=True),
                  "type": F.Char(_("Type"), required=True),
                  "label": F.Char(_("Label")),
                  "relation": F.Char(_("Relation")),
                  "record_id": F.Integer(_("Record"), required=True),
                  # the value as the API writes it: text, numbers, true/false,
                  # decimals as text, dates ISO, a many2one as the record id
                  "value": F.Json(_("Value")),
                  "removed_at": F.Datetime(_("Removed on"), required=True),
                  "removed_by_id": F.Many2one("core.user", _("Removed by")),
              }),
    ]
