"""Notifications: the one way Keel tells users something.

:func:`send` is used by everything that notifies — workflow ``notify``
triggers, approval notices, addons, later marketing's mass sends. In the
caller's transaction it writes

* an in-app notification (``core.notification``) per recipient, unless
  they opted out of ``inapp`` (``mandatory=True`` — an approval waiting
  on them — cannot be opted out of);
* an outbox row (``core.outbox``) per recipient and other channel, unless
  they opted out of that channel or it has no address for them (email
  without an email address).

Nothing leaves the machine then: a rolled-back transaction sends nothing.
The job ``core.notify.deliver`` (:func:`deliver`, every minute) hands the
due rows to their channel; a failure is retried after 1, 2, 4, 8 …
minutes, and after :data:`MAX_ATTEMPTS` the row is ``failed`` (Settings ›
Outgoing messages). Channels: :mod:`core.services.channels` (built-in),
``core.notification_channel`` records (administrators) and the hook
``keel_notification_channels`` (addons). Opt-outs:
``core.notification_pref``; the inbox of a user: :mod:`core.services.inbox`.
"""
import datetime as dt
import logging

import sqlalchemy as sa

from ..errors import AddonError, UserInputError
from ..orm.env import SYSTEM_UID
from ..registry_cache import RegistryCache
from . import channels as _channels

log = logging.getLogger(__name__)

NOTIFICATION, OUTBOX, CHANNEL, PREF = ("core.notification", "core.outbox",
                                       "core.notification_channel", "core.notification_pref")
#: the in-app channel's code (opt-outs name it like any other channel)
INAPP = "inapp"
MAX_ATTEMPTS = 5
#: the first retry waits this long; each next one twice as long
BACKOFF = dt.timedelta(minutes=1)
#: rows handed to channels per run of the job
BATCH = 200


# -- sending ---------------------------------------------------------------------------
def send(env, recipients, subject, body="", record=None, channels=None, kind="message",
         mandatory=False, payload=None):
    """Notify ``recipients`` (user ids, logins or a ``core.user`` recordset).

    ``subject`` and ``body``: texts, or functions of the recipient's
    language code (``"zh_CN"``, ``"en"``) returning them. ``record``: the
    record it is about (a recordset of one, or ``(model, id)``), linked from
    the notification. ``channels``: codes to use beside in-app (default:
    every channel marked "send by default", email as shipped); ``[]`` for
    in-app only. ``kind`` names what it is (``workflow``,
    ``approval.requested`` …) for finer opt-outs. ``mandatory``: the in-app
    copy is shown whatever the recipient's opt-outs. Inactive users get
    nothing. Returns ``{"notifications": n, "outbox": n}``."""
    users = _users(env, recipients)
    if not users:
        return {"notifications": 0, "outbox": 0}
    available = available_channels(env)
    if channels is None:
        codes = [code for code, channel in available.items() if getattr(channel, "default", False)]
    else:
        codes = [c for c in dict.fromkeys(channels) if c != INAPP]
        unknown = [c for c in codes if c not in available]
        if unknown:
            raise UserInputError(f"notification channel {unknown[0]!r} is not one of "
                                 f"{', '.join([INAPP, *available])}", {"field": "channels"})
    model, record_id = _record(record)
    prefs = _prefs(env, [u["id"] for u in users])
    notes, outbox = [], []
    for user in users:
        lang = user.get("lang") or "en"
        title = _text(subject, lang)
        if not title:
            raise UserInputError("notification: the subject is empty", {"field": "subject"})
        text = _text(body, lang) or ""
        if mandatory or not opted_out(prefs, user["id"], INAPP, kind):
            notes.append({"owner_id": user["id"], "message": title, "body": text or None,
                          "kind": kind, "model": model, "record_id": record_id,
                          "author_id": None if env.uid == SYSTEM_UID else env.uid})
        for code in codes:
            if opted_out(prefs, user["id"], code, kind):
                continue
            channel = available[code]
            address = channel.address(user) if hasattr(channel, "address") else None
            if hasattr(channel, "address") and address is None:
                continue
            outbox.append({"channel": code, "recipient_id": user["id"], "address": address,
                           "subject": title, "body": text, "kind": kind, "model": model,
                           "record_id": record_id, "payload": payload, "state": "pending",
                           "attempts": 0, "next_attempt_at": env.now})
    system = env.sudo()
    if notes:
        system[NOTIFICATION].create(notes)
    if outbox:
        system[OUTBOX].create(outbox)
    return {"notifications": len(notes), "outbox": len(outbox)}


def _text(value, lang):
    return value(lang) if callable(value) else value


def _record(record):
    if record is None:
        return None, None
    if isinstance(record, tuple):
        return record[0], int(record[1])
    return record._name, record.id


def _users(env, recipients):
    """The active users among ``recipients`` (ids, logins or a recordset),
    in order, each once; an unknown one is refused naming it."""
    if recipients is None:
        return []
    if hasattr(recipients, "ids") and hasattr(recipients, "_name"):
        recipients = list(recipients.ids)
    elif isinstance(recipients, (int, str)):
        recipients = [recipients]
    wanted = list(dict.fromkeys(r for r in recipients if r is not None))
    ids = [r for r in wanted if isinstance(r, int) and not isinstance(r, bool)]
    logins = [r for r in wanted if isinstance(r, str)]
    if len(ids) + len(logins) != len(wanted):
        bad = next(r for r in wanted if r not in ids and r not in logins)
        raise UserInputError(f"notification recipient {bad!r} is neither a user id nor a login",
                             {"field": "recipients"})
    users = env.sudo()["core.user"]
    domain = ([["id", "in", ids]] if ids else []) + ([["login", "in", logins]] if logins else [])
    if len(domain) == 2:
        domain = ["|", *domain]
    # every stored, non-secret value of the user's own row: a channel's
    # address(user) may need one an addon added (a mobile number); no
    # relation (reading their names would cost a query each)
    fields = [f.name for f in env.registry["core.user"].stored
              if not f.secret and f.type not in ("many2one", "one2many", "many2many")]
    rows = users.search_read(domain, fields) if domain else []
    by_id = {r["id"]: r for r in rows}
    by_login = {r["login"]: r for r in rows}
    found = []
    for who in wanted:
        row = by_id.get(who) if isinstance(who, int) else by_login.get(who)
        if row is None:
            raise UserInputError(f"notification recipient {who!r}: no such user",
                                 {"field": "recipients", "value": who})
        if row["active"] and row not in found:
            found.append(row)
    return found


# -- channels ----------------------------------------------------------------------------
def available_channels(env):
    """``{code: channel}``: the built-in ``email`` and ``file``, replaced or
    joined by the active ``core.notification_channel`` records (a record
    that is inactive removes the built-in of its code), then the addons'
    channels. Loaded once per registry (:func:`channels_changed` after a
    change of the records)."""
    return _CHANNELS.get(env)


def channels_changed(env):
    """``core.notification_channel`` rows changed in ``env``'s transaction."""
    _CHANNELS.changed(env)


def _load_channels(env):
    found = _channels.builtin()
    rows = env.sudo()[CHANNEL].search_read([], ["code", "label", "type", "format", "url", "secret",
                                                "timeout", "is_default", "active"])
    for row in rows:
        found.pop(row["code"], None)
        if row["active"] and row["code"] != INAPP:
            found[row["code"]] = _channels.from_record(row)
    hooks = env.registry.hooks
    if hooks.has("keel_notification_channels"):
        for addon, result in hooks.gather("keel_notification_channels"):
            for channel in result or ():
                code = getattr(channel, "code", None)
                if not code or not callable(getattr(channel, "deliver", None)) or code == INAPP:
                    raise AddonError(f"addon {addon!r}: keel_notification_channels returned "
                                     f"{channel!r}; a channel needs a code (not {INAPP!r}), a "
                                     "label and deliver(message)")
                found.setdefault(code, channel)  # an administrator's record wins
    return found


_CHANNELS = RegistryCache("notify.channels", _load_channels)


def channel_choices(env):
    """``[(code, label)]`` a user may opt out of: in-app first."""
    from ..i18n import _
    return [(INAPP, _("In the application")), *[
        (code, getattr(channel, "label", code)) for code, channel in available_channels(env).items()]]


def check_channel(values, where="notification channel"):
    """Refuse a ``core.notification_channel`` row that could not work: the
    reserved code ``inapp``, a webhook without an ``http(s)://`` address, a
    timeout outside 1–120 s (called by the base addon before create/write)."""
    code = values.get("code")
    if code == INAPP:
        raise UserInputError(f"{where}: the code {INAPP!r} is the in-app channel's", {"field": "code"})
    url = values.get("url")
    if values.get("type") == "webhook" and not (isinstance(url, str)
                                                and url.startswith(("http://", "https://"))):
        raise UserInputError(f"{where} {code or ''}: a webhook needs an http:// or https:// "
                             f"address, got {url!r}", {"field": "url"})
    timeout = values.get("timeout")
    if timeout is not None and not 1 <= int(timeout) <= 120:
        raise UserInputError(f"{where} {code or ''}: timeout {timeout} is not between 1 and 120 "
                             "seconds", {"field": "timeout"})


# -- opt-outs ----------------------------------------------------------------------------
def _prefs(env, user_ids):
    """``{(user_id, channel): [(kind, enabled)]}`` in one query."""
    rows = env.sudo()[PREF].search_read([["owner_id", "in", list(user_ids)]],
                                        ["owner_id", "channel", "kind", "enabled"])
    prefs = {}
    for row in rows:
        prefs.setdefault((row["owner_id"]["id"], row["channel"]), []).append(
            (row["kind"] or "*", row["enabled"]))
    return prefs


def opted_out(prefs, user_id, channel, kind):
    """Does the most specific preference of ``user_id`` for ``channel``
    matching ``kind`` say no? ``*`` matches every kind, ``approval`` every
    ``approval.*``; without any, everything is received."""
    best, enabled = -1, True
    for pref_kind, pref_enabled in prefs.get((user_id, channel), ()):
        if pref_kind == "*":
            score = 0
        elif kind and (kind == pref_kind or kind.startswith(pref_kind + ".")):
            score = len(pref_kind)
        else:
            continue
        if score > best:
            best, enabled = score, pref_enabled
    return not enabled


def preferences(env, user_id):
    """``{channel: receives}`` of ``user_id`` for every kind (``*``)."""
    prefs = _prefs(env, [user_id])
    return {code: not opted_out(prefs, user_id, code, None) for code, _label in channel_choices(env)}


def set_preferences(env, user_id, values):
    """Store ``{channel: receives}`` (every kind) for ``user_id`` in one
    go; an unknown channel is refused naming it."""
    known = dict(channel_choices(env))
    for code, value in values.items():
        if code not in known:
            raise UserInputError(f"notification channel {code!r} is not one of {', '.join(known)}",
                                 {"field": code})
        if not isinstance(value, bool):
            raise UserInputError(f"{code}: expected true or false, got {value!r}", {"field": code})
    prefs = env.sudo()[PREF]
    existing = {r["channel"]: r["id"] for r in prefs.search_read(
        [["owner_id", "=", user_id], ["kind", "=", "*"]], ["channel"])}
    new = [{"owner_id": user_id, "channel": code, "kind": "*", "enabled": value}
           for code, value in values.items() if code not in existing]
    for code, value in values.items():
        if code in existing:
            prefs.browse(existing[code]).write({"enabled": value})
    if new:
        prefs.create(new)


# -- delivery ----------------------------------------------------------------------------
def config_of(env):
    """The configuration a delivery uses: the unit of work's
    ``context["config"]`` (the scheduler's, a test's), else the process's."""
    config = env.context.get("config")
    if config is None:
        from ..config import load_config
        config = load_config()
    return config


def _due_ids(env, limit):
    """Ids of pending rows due now, locked on PostgreSQL (two deliverers
    never take the same row)."""
    table = env.registry[OUTBOX].table
    stmt = (sa.select(table.c.id).where(table.c.state == "pending",
                                        sa.or_(table.c.next_attempt_at.is_(None),
                                               table.c.next_attempt_at <= env.now))
            .order_by(table.c.id).limit(limit))
    if env.conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return env.conn.execute(stmt).scalars().all()


def deliver(env, limit=BATCH):
    """The job ``core.notify.deliver``: hand every due outbox row to its
    channel. ``{"sent", "retried", "failed"}``."""
    ids = _due_ids(env, limit)
    done = {"sent": 0, "retried": 0, "failed": 0}
    if not ids:
        return done
    outbox = env.sudo()[OUTBOX]
    rows = outbox.search_read([["id", "in", ids]], ["channel", "recipient_id", "address", "subject",
                                                    "body", "kind", "model", "record_id", "payload",
                                                    "attempts"], order="id")
    recipients = {r["id"]: r for r in env.sudo()["core.user"].search_read(
        [["id", "in", sorted({r["recipient_id"]["id"] for r in rows if r["recipient_id"]})]],
        ["login", "name", "email", "lang"])}
    available = available_channels(env)
    config = config_of(env)
    for row in rows:
        attempt = (row["attempts"] or 0) + 1
        recipient = recipients.get((row["recipient_id"] or {}).get("id"))
        message = _channels.Message(
            id=row["id"], channel=row["channel"], subject=row["subject"], body=row["body"] or "",
            address=row["address"], recipient=recipient, kind=row["kind"], model=row["model"],
            record_id=row["record_id"], payload=row["payload"], attempt=attempt, config=config)
        try:
            channel = available.get(row["channel"])
            if channel is None:
                raise _channels.DeliveryError(f"channel {row['channel']!r} is not configured "
                                              "or inactive")
            channel.deliver(message)
        except Exception as exc:  # noqa: BLE001 (any failure of a channel: retried, never stops the others)
            error = f"{exc.__class__.__name__}: {exc}"[:2000]
            log.warning("outbox %s (%s) attempt %s failed: %s", row["id"], row["channel"], attempt,
                        error)
            if attempt >= MAX_ATTEMPTS:
                values = {"state": "failed", "next_attempt_at": None}
                done["failed"] += 1
            else:
                values = {"next_attempt_at": env.now + BACKOFF * 2 ** (attempt - 1)}
                done["retried"] += 1
            outbox.browse(row["id"]).write({**values, "attempts": attempt, "last_error": error})
            continue
        outbox.browse(row["id"]).write({"state": "sent", "attempts": attempt, "sent_at": env.now,
                                        "next_attempt_at": None, "last_error": None})
        done["sent"] += 1
    return done


def retry(env, ids):
    """Put failed (or cancelled) outbox rows back in the queue, due now."""
    outbox = env[OUTBOX].search([["id", "in", list(ids)], ["state", "in", ["failed", "cancelled"]]])
    if outbox:
        outbox.write({"state": "pending", "attempts": 0, "next_attempt_at": env.now,
                      "last_error": None})
    return len(outbox)
