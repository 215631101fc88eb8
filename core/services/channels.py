"""The channels Keel ships for notifications, and the message they deliver.

A channel is any object with ``code``, ``label`` and ``deliver(message)``
(raising on failure: the outbox row is retried later). Optional attributes:
``default`` (used by sends that name no channels), ``address(user)`` (where
a user's copy goes — ``None`` sends them nothing on this channel; without
it every recipient gets a copy, addressed to nobody in particular).

* :class:`FileChannel` (``file``) — one JSON line per message appended to
  ``<data_dir>/notifications.log``: development and audit trails;
* :class:`EmailChannel` (``email``) — mail through :mod:`core.services.mail`;
* :class:`WebhookChannel` — an HTTP POST of JSON to a configured address,
  in the generic shape or as a WeCom (企业微信), DingTalk (钉钉) or Feishu
  (飞书) robot expects it; a non-2xx answer, or a robot's non-zero error
  code, is a failure.

Addons add channels (SMS, fax …) through ``keel_notification_channels``.
"""
import base64
import dataclasses
import hashlib
import hmac
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from ..i18n import _
from . import mail

FORMATS = ("generic", "wecom", "dingtalk", "feishu")
#: longest answer body kept in an error message
_ANSWER = 300


class DeliveryError(Exception):
    """A channel could not deliver a message (retried later)."""


@dataclasses.dataclass
class Message:
    """One outbox row as a channel sees it."""
    id: int
    channel: str
    subject: str
    body: str = ""
    address: str = None
    #: ``{"id", "login", "name", "email", "lang"}`` or ``None``
    recipient: dict = None
    kind: str = None
    model: str = None
    record_id: int = None
    payload: dict = None
    attempt: int = 1
    #: the effective ``core.config.Config`` (data_dir, smtp_url, mail_from …)
    config: object = None

    @property
    def text(self):
        """Subject and body as one text (chat messages)."""
        return f"{self.subject}\n{self.body}".strip() if self.body else self.subject

    def as_json(self):
        """The generic JSON form (the file channel, generic webhooks)."""
        return {"id": self.id, "kind": self.kind, "subject": self.subject, "body": self.body,
                "recipient": self.recipient, "address": self.address,
                "record": {"model": self.model, "id": self.record_id} if self.model else None,
                "payload": self.payload or {}}


def data_dir(config):
    return getattr(config, "data_dir", None) or "var"


class FileChannel:
    code, label, default = "file", _("File (log)"), False

    def __init__(self, code="file", label=None, default=False, path=None):
        self.code, self.label, self.default = code, label or self.label, default
        self.path = path

    def deliver(self, message):
        path = self.path or os.path.join(data_dir(message.config), "notifications.log")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        line = json.dumps({"channel": self.code, **message.as_json()}, ensure_ascii=False, default=str)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


class EmailChannel:
    code, label, default = "email", _("Email"), True

    def __init__(self, code="email", label=None, default=True):
        self.code, self.label, self.default = code, label or self.label, default

    @staticmethod
    def address(user):
        return (user.get("email") or "").strip() or None

    def deliver(self, message):
        if not message.address:
            raise DeliveryError("no email address")
        mail.send(message.config, message.address, message.subject, message.body,
                  to_name=(message.recipient or {}).get("name"), message_id=message.id)


class WebhookChannel:
    """``url`` receives a POST of JSON in ``fmt``; ``secret`` signs DingTalk
    and Feishu robot calls (their "加签" security setting)."""
    default = False

    def __init__(self, code, label, url, fmt="generic", secret=None, timeout=10, default=False):
        if fmt not in FORMATS:
            raise ValueError(f"webhook format {fmt!r} is not one of {', '.join(FORMATS)}")
        self.code, self.label, self.url, self.format = code, label, url, fmt
        self.secret, self.timeout, self.default = secret or None, timeout or 10, default

    def body(self, message, now=None):
        """The JSON document posted for ``message``."""
        name = (message.recipient or {}).get("name")
        text = f"{name}: {message.text}" if name and self.format != "generic" else message.text
        if self.format == "wecom":
            return {"msgtype": "text", "text": {"content": text}}
        if self.format == "dingtalk":
            return {"msgtype": "text", "text": {"content": text}}
        if self.format == "feishu":
            doc = {"msg_type": "text", "content": {"text": text}}
            if self.secret:
                stamp = str(int(now or time.time()))
                key = f"{stamp}\n{self.secret}".encode()
                doc.update(timestamp=stamp, sign=base64.b64encode(
                    hmac.new(key, b"", hashlib.sha256).digest()).decode())
            return doc
        return {"channel": self.code, **message.as_json()}

    def target(self, now=None):
        """The address posted to (DingTalk: signed with timestamp and sign)."""
        if self.format != "dingtalk" or not self.secret:
            return self.url
        stamp = str(int((now or time.time()) * 1000))
        digest = hmac.new(self.secret.encode(), f"{stamp}\n{self.secret}".encode(),
                          hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest).decode())
        return f"{self.url}{'&' if '?' in self.url else '?'}timestamp={stamp}&sign={sign}"

    def deliver(self, message):
        if not self.url:
            raise DeliveryError(f"channel {self.code}: no webhook address configured")
        data = json.dumps(self.body(message), ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(self.target(), data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "User-Agent": "Keel-notify"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as answer:
                status, text = answer.status, answer.read(64 * 1024).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read(_ANSWER).decode("utf-8", "replace")
            raise DeliveryError(f"HTTP {exc.code} from {self.url}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"cannot reach {self.url}: {getattr(exc, 'reason', exc)}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status} from {self.url}: {text[:_ANSWER]}")
        self._check_answer(text)

    def _check_answer(self, text):
        """Robots answer 200 even when they refuse: their error code decides."""
        if self.format == "generic":
            return
        try:
            answer = json.loads(text) if text.strip() else {}
        except ValueError:
            return
        if not isinstance(answer, dict):
            return
        code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
        if code not in (0, None, "0"):
            reason = answer.get("errmsg") or answer.get("msg") or answer.get("StatusMessage")
            raise DeliveryError(f"{self.format} robot refused the message: {code} {reason}")


def from_record(row):
    """The channel an administrator configured (a ``core.notification_channel`` row)."""
    kind = row["type"]
    if kind == "file":
        return FileChannel(row["code"], row["label"], bool(row["is_default"]))
    if kind == "email":
        return EmailChannel(row["code"], row["label"], bool(row["is_default"]))
    return WebhookChannel(row["code"], row["label"], row["url"], row["format"] or "generic",
                          row["secret"], row["timeout"], bool(row["is_default"]))


#: the channels that exist without any configuration (a record of the same
#: code replaces one: to turn email off by default, or point ``file`` elsewhere)
def builtin():
    return {"email": EmailChannel(), "file": FileChannel()}
