"""Kernel models of approval chains (``core.approvals``).

* ``core.approval_policy`` — on (model, action), with a condition domain
  and ordered levels (JSON, the template format of CONTRACT.md §4: each
  level ``{"approvers": {"type": user|role|manager|manager_up, …},
  "mode": any|all|count, "count": N}``);
* ``core.approval_request`` — one run of an action held for approval, with
  a copy of the policy's levels as they were when it started (a policy
  changed later does not change it);
* ``core.approval_task`` — one approver's part at one level: the inbox
  ("waiting on me") is one indexed query on it.

Requests and tasks are written by the approval service only (in the system
context, after its own checks); nobody writes them through the model API.
"""
from core import fields as F
from core.i18n import _
from core.models import Model

MODES = [("any", _("Any one")), ("all", _("All")), ("count", _("At least N"))]
FALLBACKS = [("skip", _("Skip the level")), ("user", _("A named user"))]
REQUEST_STATES = [("pending", _("Pending")), ("approved", _("Approved")),
                  ("rejected", _("Rejected")), ("withdrawn", _("Withdrawn"))]
TASK_STATES = [("pending", _("Pending")), ("approved", _("Approved")), ("rejected", _("Rejected")),
               ("returned", _("Sent back")), ("cancelled", _("Cancelled"))]


def approval_models():
    return [
        Model("core.approval_policy", _("Approval policy"), order="model, action, name", fields={
            "name": F.Char(_("Name"), required=True, unique=True),
            "label": F.Char(_("Label")),
            "model": F.Char(_("Model"), required=True, index=True),
            "action": F.Char(_("Action"), required=True),
            "condition": F.Json(_("Condition"), help=_("A domain the record must match; "
                                                       "empty: every record")),
            "levels": F.Json(_("Levels"), required=True),
            "allow_self_approval": F.Boolean(_("Requester may approve"), default=False),
            "fallback": F.Selection(_("When a level has no approver"), options=FALLBACKS,
                                    default="skip", required=True),
            "fallback_user_id": F.Many2one("core.user", _("Fallback approver")),
            "remind_after_hours": F.Integer(_("Remind approvers after (hours)")),
            "escalate_after_hours": F.Integer(_("Escalate to their manager after (hours)")),
            "active": F.Boolean(_("Active"), default=True),
            "addon": F.Char(_("Addon"), readonly=True, index=True),
        }),
        Model("core.approval_request", _("Approval request"), order="id desc", rec_name="action",
              fields={
                  "policy_id": F.Many2one("core.approval_policy", _("Policy"), ondelete="restrict"),
                  "policy": F.Json(_("Policy as started"), readonly=True),
                  "model": F.Char(_("Model"), required=True),
                  "record_id": F.Integer(_("Record"), required=True),
                  "action": F.Char(_("Action"), required=True),
                  "comment": F.Text(_("Comment")),
                  "requester_id": F.Many2one("core.user", _("Requested by"), required=True),
                  "state": F.Selection(_("State"), options=REQUEST_STATES, default="pending",
                                       required=True, index=True),
                  "level": F.Integer(_("Current level"), default=0),
                  "level_started_at": F.Datetime(_("Level started at")),
                  "decided_at": F.Datetime(_("Decided at")),
                  "task_ids": F.One2many("core.approval_task", "request_id", _("Approvers")),
              }),
        Model("core.approval_task", _("Approval task"), order="request_id, level, id",
              rec_name="state", fields={
                  "request_id": F.Many2one("core.approval_request", _("Request"), required=True,
                                           ondelete="cascade"),
                  "level": F.Integer(_("Level"), required=True),
                  "approver_id": F.Many2one("core.user", _("Approver"), required=True),
                  # pending tasks are those of the current level only:
                  # the inbox is "my pending tasks"
                  "state": F.Selection(_("State"), options=TASK_STATES, default="pending",
                                       required=True, index=True),
                  "cosigner": F.Boolean(_("Added co-signer"), default=False),
                  "comment": F.Text(_("Comment")),
                  "decided_at": F.Datetime(_("Decided at")),
                  "reminded_at": F.Datetime(_("Reminded at")),
                  "escalated": F.Boolean(_("Escalated"), default=False),
              }),
    ]
