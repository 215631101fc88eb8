"""Kernel models of notifications (``core.services.notify``):

* ``core.notification`` — an in-app message for one user (the bell in the
  header, ``/web/notifications``), with its unread flag;
* ``core.outbox`` — one delivery through another channel (email, file,
  webhook, an addon's SMS…), written in the transaction of the business
  change and delivered afterwards by the job ``core.notify.deliver``, with
  retries and back-off; failures stay visible to administrators;
* ``core.notification_channel`` — the channels an administrator configured
  (Settings › Notification channels): file, email, webhooks to WeCom,
  DingTalk, Feishu or any HTTP endpoint;
* ``core.notification_pref`` — a user's opt-outs, per channel and
  optionally per kind of notification;

and the ``email`` field of ``core.user`` (the address mail goes to).
"""
from core import fields as F
from core.i18n import _
from core.models import Extend, Model

OUTBOX_STATES = [("pending", _("Pending")), ("sent", _("Sent")), ("failed", _("Failed")),
                 ("cancelled", _("Cancelled"))]
CHANNEL_TYPES = [("file", _("File (log)")), ("email", _("Email")), ("webhook", _("Webhook"))]
WEBHOOK_FORMATS = [("generic", _("Generic JSON")), ("wecom", _("WeCom robot (企业微信)")),
                   ("dingtalk", _("DingTalk robot (钉钉)")), ("feishu", _("Feishu bot (飞书)"))]


def models():
    return [
        Extend("core.user", fields={"email": F.Char(_("Email"), size=254)}),
        # owner_id is the user the row is for: the "own" scope of a role then
        # shows each user their own notifications
        Model("core.notification", _("Notification"), order="id desc", rec_name="message", fields={
            "owner_id": F.Many2one("core.user", _("For"), required=True, ondelete="cascade"),
            "message": F.Text(_("Message"), required=True),
            "body": F.Text(_("Details")),
            "kind": F.Char(_("Kind"), help=_("What it is about: workflow, approval.requested…")),
            "model": F.Char(_("Model")),
            "record_id": F.Integer(_("Record"), index=True),
            "author_id": F.Many2one("core.user", _("From"), ondelete="set null"),
            "is_read": F.Boolean(_("Read"), default=False),
            "read_at": F.Datetime(_("Read at")),
        }),
        Model("core.outbox", _("Outgoing message"), order="id desc", rec_name="subject", fields={
            "channel": F.Char(_("Delivery channel"), required=True, index=True),
            "recipient_id": F.Many2one("core.user", _("Recipient"), ondelete="cascade"),
            "address": F.Char(_("Address"), help=_("Email address, URL or number it goes to")),
            "subject": F.Char(_("Subject"), required=True),
            "body": F.Text(_("Body")),
            "kind": F.Char(_("Kind")),
            "model": F.Char(_("Model")),
            "record_id": F.Integer(_("Record")),
            "payload": F.Json(_("Payload")),
            "state": F.Selection(_("State"), options=OUTBOX_STATES, required=True, default="pending",
                                 index=True),
            "attempts": F.Integer(_("Attempts"), default=0),
            "next_attempt_at": F.Datetime(_("Next attempt"), index=True),
            "last_error": F.Text(_("Last error")),
            "sent_at": F.Datetime(_("Sent at")),
        }),
        Model("core.notification_channel", _("Notification channel"), order="code", rec_name="label",
              fields={
                  "code": F.Char(_("Code"), required=True, unique=True,
                                 help=_("Named by senders and by users' opt-outs, e.g. wecom_sales")),
                  "label": F.Char(_("Label"), required=True),
                  "type": F.Selection(_("Type"), options=CHANNEL_TYPES, required=True),
                  "format": F.Selection(_("Webhook format"), options=WEBHOOK_FORMATS,
                                        default="generic"),
                  "url": F.Char(_("Webhook address"), size=1000),
                  "secret": F.Char(_("Signing secret"),
                                   help=_("DingTalk and Feishu robots with signature checks")),
                  "timeout": F.Integer(_("Timeout (s)"), default=10),
                  "is_default": F.Boolean(_("Send by default"), default=False,
                                       help=_("Used by every notification that names no channels")),
                  "active": F.Boolean(_("Active"), default=True),
              }),
        # owner_id: whose preference it is (a role's "own" scope then lets
        # users change their own through the model API)
        Model("core.notification_pref", _("Notification preference"), order="owner_id, channel, kind",
              rec_name="channel", unique_together=[("owner_id", "channel", "kind")], fields={
                  "owner_id": F.Many2one("core.user", _("User"), required=True, ondelete="cascade"),
                  "channel": F.Char(_("Delivery channel"), required=True,
                                    help=_("inapp, email or a channel's code")),
                  "kind": F.Char(_("Kind"), required=True, default="*",
                                 help=_("*: every kind; approval: every approval notice")),
                  "enabled": F.Boolean(_("Receive"), default=False),
              }),
    ]


def menus():
    return [{"key": "settings.notification_channels", "label": _("Notification channels"),
             "parent": "settings", "model": "core.notification_channel", "sequence": 60},
            {"key": "settings.outbox", "label": _("Outgoing messages"), "parent": "settings",
             "model": "core.outbox", "sequence": 61}]


def jobs():
    return [{"key": "core.notify.deliver", "label": _("Deliver notifications"),
             "function": "core.services.notify:deliver", "interval": 60}]
