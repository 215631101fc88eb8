"""``base``: the kernel's own addon. Every other addon depends on it.

It declares the kernel's models — users, departments, roles, installed
addons, sequences, menus, views, jobs and user-defined fields — through the
same hooks any addon uses.
"""
from core import hookimpl
from core import fields as F
from core.i18n import _
from core.models import Model

from .approval_models import approval_models
from .attachment_models import attachment_models
from .field_models import field_models
from .security_models import security_models
from .ui_models import keel_workbench_cards, ui_models  # noqa: F401  (a hook of the kernel)
from .workflow_models import workflow_models
# platform services (issue 6): each module gives its models, menus and jobs
from . import (import_models, notification_models, report_models, scheduler_models,
               trash_models)

SERVICES = (scheduler_models, notification_models, trash_models, report_models, import_models)

manifest = {
    "name": "base",
    "label": _("Kernel"),
    "version": "0.2.0",
    "summary": "Users, departments, roles, addons, sequences, menus, views, jobs",
    "category": "Kernel",
    "depends": [],
}

LANGS = [("zh_CN", "简体中文"), ("en", "English")]


@hookimpl
def keel_models():
    return [
        Model("core.user", _("User"), order="login", rec_name="name", readable_by_all=True, fields={
            "login": F.Char(_("Login"), required=True, unique=True),
            "name": F.Char(_("Name"), required=True, index=True),
            "password_hash": F.Char(_("Password hash"), readonly=True, secret=True),
            "failed_logins": F.Integer(_("Failed sign-ins in a row"), readonly=True, secret=True),
            "locked_until": F.Datetime(_("Locked until"), readonly=True, secret=True),
            # part of every web session's token: moving it ends them all
            "session_epoch": F.Integer(_("Session epoch"), readonly=True, secret=True, default=0),
            "active": F.Boolean(_("Active"), default=True),
            "lang": F.Selection(_("Language"), options=LANGS),
            "tz": F.Char(_("Time zone")),
            "department_id": F.Many2one("core.department", _("Department")),
            "roles": F.Many2many("core.role", _("Roles")),
        }),
        Model("core.department", _("Department"), order="code", readable_by_all=True, fields={
            "code": F.Char(_("Code"), required=True, unique=True),
            "name": F.Char(_("Name"), required=True),
            "parent_id": F.Many2one("core.department", _("Parent"), ondelete="restrict"),
            "manager_id": F.Many2one("core.user", _("Manager")),
        }),
        Model("core.role", _("Role"), order="code", readable_by_all=True, fields={
            "code": F.Char(_("Code"), required=True, unique=True),
            # shipped roles carry their addon's English name: shown translated
            "name": F.Char(_("Name"), required=True, translate=True),
            "is_admin": F.Boolean(_("Administrator"), help=_("Every permission on every model")),
            "permission_ids": F.One2many("core.permission", "role_id", _("Permissions")),
            "field_rule_ids": F.One2many("core.field_rule", "role_id", _("Field rules")),
            "description": F.Text(_("Description"), translate=True),
            "addon": F.Char(_("Addon"), readonly=True, index=True),
        }),
        Model("core.addon", _("Addon"), order="name", fields={
            "name": F.Char(_("Name"), required=True, unique=True),
            "addon_version": F.Char(_("Version"), required=True),
            "state": F.Selection(_("State"), options=[("installed", _("Installed")),
                                                     ("uninstalled", _("Uninstalled"))],
                                 required=True, default="installed"),
        }),
        Model("core.sequence", _("Sequence"), order="code", fields={
            "code": F.Char(_("Code"), required=True, unique=True),
            "name": F.Char(_("Name")),
            "pattern": F.Char(_("Pattern"), required=True),
            "addon": F.Char(_("Addon"), readonly=True, index=True),
        }),
        Model("core.sequence_counter", _("Sequence counter"), rec_name="period",
              unique_together=[("sequence_id", "period")], fields={
                  "sequence_id": F.Many2one("core.sequence", _("Sequence"), required=True,
                                            ondelete="cascade"),
                  "period": F.Char(_("Period")),
                  "next_number": F.Integer(_("Next number"), required=True, default=1),
              }),
        Model("core.menu", _("Menu item"), order="sequence, key", rec_name="label", fields={
            "key": F.Char(_("Key"), required=True, unique=True),
            "label": F.Char(_("Label"), required=True),
            "parent": F.Char(_("Parent key")),
            "model": F.Char(_("Model")),
            "url": F.Char(_("Address")),
            "sequence": F.Integer(_("Order"), default=10),
            "addon": F.Char(_("Addon"), readonly=True, index=True),
        }),
        Model("core.view", _("View"), order="model, type, key", rec_name="key", fields={
            "key": F.Char(_("Key"), required=True, unique=True),
            "model": F.Char(_("Model"), required=True, index=True),
            "type": F.Selection(_("Type"), required=True, options=[
                ("list", _("List")), ("form", _("Form")), ("kanban", _("Kanban")),
                ("calendar", _("Calendar")), ("pivot", _("Pivot")), ("graph", _("Graph")),
                ("search", _("Search"))]),
            "arch": F.Json(_("Definition")),
            "addon": F.Char(_("Addon"), readonly=True, index=True),
        }),
        Model("core.field", _("User-defined field"), order="model, name",
              unique_together=[("model", "name")], fields={
                  "model": F.Char(_("Model"), required=True),
                  "name": F.Char(_("Name"), required=True),
                  "type": F.Selection(_("Type"), required=True, options=FIELD_TYPES),
                  "label": F.Char(_("Label")),
                  "selection": F.Json(_("Options")),
                  "relation": F.Char(_("Relation")),
                  "required": F.Boolean(_("Required")),
                  "indexed": F.Boolean(_("Indexed")),
                  # the default as text, converted by the field's type
                  "default_value": F.Char(_("Default")),
              }),
    ] + security_models() + field_models() + workflow_models() + approval_models() \
        + attachment_models() + ui_models() + [m for service in SERVICES for m in service.models()]


#: the types of user-defined fields, with their labels
FIELD_TYPES = [("char", _("Text")), ("text", _("Long text")), ("integer", _("Whole number")),
               ("decimal", _("Decimal number")), ("boolean", _("Yes/no")), ("date", _("Date")),
               ("datetime", _("Date and time")), ("selection", _("Selection")),
               ("many2one", _("Link to a record"))]


#: written only by the approval service (``core.approvals``), which checks
#: who may decide what; nobody changes them through the model API
_APPROVAL_RECORDS = ("core.approval_request", "core.approval_task")


#: changed only by the user-defined field service (``core.custom_fields``),
#: which alters the table's column with the row
_FIELD_RECORDS = ("core.field", "core.field_archive")


def _service_only(env, model):
    from core.errors import AccessDenied
    if model in _FIELD_RECORDS and not env.su:
        raise AccessDenied(f"{model} records change only through `keel field` or "
                           "/api/v1/meta/models/MODEL/fields", {"model": model})
    from core.approvals import SERVICE
    if model in _APPROVAL_RECORDS and not env.context.get(SERVICE):
        raise AccessDenied(f"{model} records change only through approvals "
                           "(approve, reject, withdraw…)", {"model": model})
    from core import attachments
    if model == attachments.MODEL and not env.context.get(attachments.SERVICE):
        raise AccessDenied(f"{model} records change only through the attachments of their "
                           "record", {"model": model})


@hookimpl
def keel_before_create(env, model, values_list):
    _service_only(env, model)
    if model == "core.approval_policy":
        from core.approvals import check_policy
        for n, values in enumerate(values_list):
            check_policy(env, values, f"approval policy {values.get('name') or n}")
    if model == "core.notification_channel":
        from core.services.notify import check_channel
        for values in values_list:
            check_channel(values)


@hookimpl
def keel_before_write(env, model, records, values):
    _service_only(env, model)
    if model == "core.approval_policy" and ("levels" in values or "condition" in values):
        from core.approvals import check_policy
        for row in records.read(["name", "model"]):
            check_policy(env, {**values, "model": values.get("model", row["model"])},
                         f"approval policy {row['name']}")
    if model == "core.notification_channel":
        from core.services.notify import check_channel
        for row in records.read(["code", "type", "url", "timeout"]):
            check_channel({**{k: v for k, v in row.items() if k != "id"}, **values},
                          f"notification channel {row['code']}")
    # deactivating a user ends their web sessions for good: reactivating
    # them later does not bring old cookies back to life
    if model == "core.user" and values.get("active") is False:
        values["session_epoch"] = int(env.now.timestamp())


@hookimpl
def keel_before_unlink(env, model, records):
    _service_only(env, model)


@hookimpl
def keel_jobs():
    return [{"key": "core.approvals.remind", "label": _("Approval reminders and escalation"),
             "function": "core.approvals:remind_and_escalate", "interval": 3600}] \
        + [job for service in SERVICES for job in service.jobs()]


@hookimpl
def keel_roles():
    return [{"code": "admin", "label": _("Administrator"), "is_admin": True,
             "description": _("Everything, in every installed addon")}]


@hookimpl
def keel_menus():
    return [{"key": "settings", "label": _("Settings"), "sequence": 900},
            {"key": "settings.users", "label": _("Users"), "parent": "settings",
             "model": "core.user", "sequence": 10},
            {"key": "settings.departments", "label": _("Departments"), "parent": "settings",
             "model": "core.department", "sequence": 20},
            {"key": "settings.roles", "label": _("Roles"), "parent": "settings",
             "model": "core.role", "sequence": 30},
            # shown to those who may read core.field: administrators
            {"key": "settings.fields", "label": _("Fields"), "parent": "settings",
             "model": "core.field", "url": "/web/settings/fields", "sequence": 40}] \
        + [menu for service in SERVICES for menu in service.menus()]
