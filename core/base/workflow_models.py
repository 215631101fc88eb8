"""Kernel models of workflow state matrices (``core.workflow``): a model's
states, the transitions between them, the field modes of each state and the
triggers a transition runs — plus ``core.activity`` (a to-do) that triggers
write to (their messages, ``core.notification``, are in
``notification_models``).

A matrix is data: addons seed it through ``keel_workflows`` (the ``addon``
column says which addon seeded a row, as for roles), admins and templates
change it. Changing any of these rows moves the security version, so every
process reloads the matrices (``core.workflow.matrix``).
"""
from core import fields as F
from core.i18n import _
from core.models import Model

FIELD_MODES = [("readonly", _("Read-only")), ("required", _("Required")), ("hidden", _("Hidden"))]
TRIGGER_KINDS = [("set_field", _("Set a field")), ("activity", _("Create an activity")),
                 ("notify", _("Send a notification")), ("hook", _("Call an addon hook"))]


def workflow_models():
    return [
        Model("core.workflow_state", _("Workflow state"), order="model, sequence, id", rec_name="label",
              unique_together=[("model", "code")], fields={
                  "model": F.Char(_("Model"), required=True, index=True),
                  "field": F.Char(_("State field"), required=True),
                  "code": F.Char(_("Code"), required=True),
                  "label": F.Char(_("Label")),
                  "sequence": F.Integer(_("Order"), default=10,
                                        help=_("The state of lowest order is where records start")),
                  "folded": F.Boolean(_("Folded"), default=False,
                                      help=_("Shown folded in kanban views")),
                  "terminal": F.Boolean(_("Terminal"), default=False,
                                        help=_("A closed state (won, lost, done…)")),
                  "addon": F.Char(_("Addon"), readonly=True, index=True),
              }),
        Model("core.workflow_transition", _("Workflow transition"), order="model, sequence, id",
              rec_name="action", unique_together=[("model", "action")], fields={
                  "model": F.Char(_("Model"), required=True, index=True),
                  "action": F.Char(_("Action"), required=True),
                  "label": F.Char(_("Label")),
                  "from_states": F.Json(_("From states"), help=_("A list of state codes")),
                  "to_state": F.Char(_("To state"), required=True),
                  "roles": F.Json(_("Roles allowed"),
                                  help=_("Role codes; empty: every role that may write the record")),
                  "condition": F.Json(_("Condition"), help=_("A domain the record must match")),
                  "required_fields": F.Json(_("Required fields"),
                                            help=_("Fields that must be filled to run it")),
                  "sequence": F.Integer(_("Order"), default=10),
                  "trigger_ids": F.One2many("core.workflow_trigger", "transition_id", _("Triggers")),
                  "addon": F.Char(_("Addon"), readonly=True, index=True),
              }),
        Model("core.workflow_field_mode", _("Workflow field mode"), order="model, state, field",
              rec_name="field", unique_together=[("model", "state", "field")], fields={
                  "model": F.Char(_("Model"), required=True, index=True),
                  "state": F.Char(_("State"), required=True),
                  "field": F.Char(_("Field"), required=True),
                  "mode": F.Selection(_("Mode"), options=FIELD_MODES, required=True),
                  "addon": F.Char(_("Addon"), readonly=True, index=True),
              }),
        Model("core.workflow_trigger", _("Workflow trigger"), order="transition_id, sequence, id",
              rec_name="kind", fields={
                  "transition_id": F.Many2one("core.workflow_transition", _("Transition"),
                                              required=True, ondelete="cascade"),
                  "kind": F.Selection(_("Kind"), options=TRIGGER_KINDS, required=True),
                  "params": F.Json(_("Parameters")),
                  "sequence": F.Integer(_("Order"), default=10),
                  "addon": F.Char(_("Addon"), readonly=True, index=True),
              }),
        # owner_id is the user the row is for: the "own" scope of a role
        # then shows each user their own activities
        Model("core.activity", _("Activity"), order="done, due_date, id", rec_name="summary", fields={
            "owner_id": F.Many2one("core.user", _("Assigned to"), required=True, ondelete="cascade"),
            "model": F.Char(_("Model")),
            "record_id": F.Integer(_("Record"), index=True),
            "summary": F.Char(_("Summary"), required=True),
            "due_date": F.Date(_("Due date")),
            "done": F.Boolean(_("Done"), default=False),
        }),
    ]
