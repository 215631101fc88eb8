"""Outgoing mail: a MIME message (UTF-8, Chinese subjects and names encoded
as RFC 2047 words) sent through SMTP, or written to a file in development.

``smtp_url`` (config): ``smtp://user:password@host:port`` (plain, port 25
by default), ``smtp://…?starttls=1`` (upgraded with STARTTLS, port 587 by
default), ``smtps://…`` (TLS from the start, port 465 by default); user
and password may be percent-encoded. Empty: the development sink writes
each mail as an ``.eml`` file under ``<data_dir>/mail`` (open it with any
mail program).
"""
import datetime as dt
import email.utils
import os
import smtplib
import ssl
import urllib.parse
from email.headerregistry import Address
from email.message import EmailMessage

from ..errors import UserInputError

TIMEOUT = 30
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


def build(mail_from, to, subject, body, to_name=None, message_id=None):
    """The ``EmailMessage`` (UTF-8 text; headers encoded where needed)."""
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = Address(display_name=to_name or "", addr_spec=to) if to_name else to
    msg["Subject"] = subject.replace("\r", " ").replace("\n", " ")
    msg["Date"] = email.utils.formatdate(localtime=True)
    domain = mail_from.rpartition("@")[2].strip(">") or "localhost"
    msg["Message-ID"] = email.utils.make_msgid(f"keel.{message_id}" if message_id else "keel",
                                               domain=domain)
    msg.set_content(body or subject, charset="utf-8")
    return msg


def parse_url(url):
    """``{"scheme", "host", "port", "user", "password", "starttls"}`` of an
    ``smtp_url``; a malformed one is refused naming the key."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise UserInputError(f"config: smtp_url {_safe(url)!r} must look like "
                             "smtp://user:password@host:port or smtps://…")
    query = urllib.parse.parse_qs(parts.query)
    starttls = (query.get("starttls") or ["0"])[0].lower() in ("1", "true", "yes")
    try:
        port = parts.port
    except ValueError:
        raise UserInputError(f"config: smtp_url {_safe(url)!r} has a bad port") from None
    default = 587 if starttls and parts.scheme == "smtp" else _DEFAULT_PORTS[parts.scheme]
    return {"scheme": parts.scheme, "host": parts.hostname, "port": port or default,
            "user": urllib.parse.unquote(parts.username) if parts.username else None,
            "password": urllib.parse.unquote(parts.password) if parts.password else None,
            "starttls": starttls}


def _safe(url):
    """``url`` without its password (for messages and logs)."""
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@")
    return url


def send(config, to, subject, body, to_name=None, message_id=None):
    """Send one mail; raises ``OSError``/``smtplib.SMTPException`` on failure."""
    mail_from = getattr(config, "mail_from", None) or "keel@localhost"
    msg = build(mail_from, to, subject, body, to_name, message_id)
    url = getattr(config, "smtp_url", "") or ""
    if not url:
        return write_file(config, msg, message_id)
    server = parse_url(url)
    if server["scheme"] == "smtps":
        client = smtplib.SMTP_SSL(server["host"], server["port"], timeout=TIMEOUT,
                                  context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(server["host"], server["port"], timeout=TIMEOUT)
    with client:
        if server["starttls"]:
            client.starttls(context=ssl.create_default_context())
        if server["user"]:
            client.login(server["user"], server["password"] or "")
        client.send_message(msg)
    return None


def mail_dir(config):
    return os.path.join(getattr(config, "data_dir", None) or "var", "mail")


def write_file(config, msg, message_id=None):
    """The development sink: ``<data_dir>/mail/<time>-<id>.eml``; its path."""
    folder = mail_dir(config)
    os.makedirs(folder, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    path = os.path.join(folder, f"{stamp}-{message_id or 0}.eml")
    with open(path, "wb") as fh:
        fh.write(msg.as_bytes())
    return path
