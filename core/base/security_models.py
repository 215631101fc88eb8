"""The kernel's security models: permissions and field rules of roles,
shares, API tokens and the audit log."""
from core import fields as F
from core.i18n import _
from core.models import Model

OPERATIONS = ("read", "create", "write", "delete", "export", "import", "approve")
#: the labels of the operations' columns (written out for the message extractor)
OPERATION_LABELS = {"read": _("Read"), "create": _("Create"), "write": _("Write"),
                    "delete": _("Delete"), "export": _("Export"), "import": _("Import"),
                    "approve": _("Approve")}
SCOPES = [("own", _("Own records")), ("department", _("Own department")),
          ("department_tree", _("Own department and those below")), ("all", _("All records"))]


def security_models():
    return [
        Model("core.permission", _("Permission"), order="role_id, model", rec_name="model",
              unique_together=[("role_id", "model")], fields={
                  "role_id": F.Many2one("core.role", _("Role"), required=True, ondelete="cascade"),
                  "model": F.Char(_("Model"), required=True, index=True),
                  **{f"perm_{op}": F.Boolean(OPERATION_LABELS[op], default=False) for op in OPERATIONS},
                  "scope": F.Selection(_("Scope"), options=SCOPES, default="own", required=True),
                  "domain": F.Json(_("Extra domain"),
                                   help=_("Records must also match this domain")),
                  "actions": F.Json(_("Actions"),
                                    help=_('Workflow actions allowed: a list of codes, or ["*"]')),
                  "addon": F.Char(_("Addon"), readonly=True, index=True),
              }),
        Model("core.field_rule", _("Field rule"), order="role_id, model, field", rec_name="field",
              unique_together=[("role_id", "model", "field")], fields={
                  "role_id": F.Many2one("core.role", _("Role"), required=True, ondelete="cascade"),
                  "model": F.Char(_("Model"), required=True),
                  "field": F.Char(_("Field"), required=True),
                  "mode": F.Selection(_("Mode"), required=True, options=[
                      ("hidden", _("Hidden")), ("readonly", _("Read-only"))]),
                  "addon": F.Char(_("Addon"), readonly=True, index=True),
              }),
        Model("core.share", _("Share"), order="model, record_id", rec_name="model",
              unique_together=[("model", "record_id", "user_id", "department_id")], fields={
                  "model": F.Char(_("Model"), required=True),
                  "record_id": F.Integer(_("Record"), required=True),
                  "user_id": F.Many2one("core.user", _("With user"), ondelete="cascade"),
                  "department_id": F.Many2one("core.department", _("With department"),
                                              ondelete="cascade"),
                  "mode": F.Selection(_("Mode"), required=True, default="read", options=[
                      ("read", _("Read")), ("edit", _("Edit"))]),
              }),
        Model("core.token", _("API token"), order="id desc", rec_name="label", fields={
            "user_id": F.Many2one("core.user", _("User"), required=True, ondelete="cascade"),
            "label": F.Char(_("Label")),
            "token_hash": F.Char(_("Token hash"), required=True, unique=True, readonly=True,
                                 secret=True),
            "expires_at": F.Datetime(_("Expires")),
            "revoked_at": F.Datetime(_("Revoked")),
            "last_used_at": F.Datetime(_("Last used"), readonly=True),
        }),
        Model("core.audit", _("Audit entry"), order="id desc", rec_name="action", fields={
            # record_id is selective enough for a record's history; user_id
            # (a many2one) is indexed for a user's activity; every other
            # index would cost each audited change an extra write
            "model": F.Char(_("Model")),
            "record_id": F.Integer(_("Record"), index=True),
            "action": F.Char(_("Action"), required=True),
            "user_id": F.Many2one("core.user", _("User")),
            "at": F.Datetime(_("At")),
            "source": F.Selection(_("Source"), options=[
                ("web", _("Web")), ("api", _("API")), ("cli", _("Command line")),
                ("job", _("Scheduled job")), ("system", _("System"))]),
            "changes": F.Json(_("Changes")),
        }),
    ]
