"""Authentication: passwords, sign-in with lock-out, API bearer tokens.

Passwords are hashed by :mod:`core.passwords` (scrypt); the clear text is
never stored nor logged. API tokens are random strings shown once; only
their SHA-256 hex digest is stored (``core.token.token_hash``).

Lock-out policy
---------------
``failed_logins`` counts consecutive wrong passwords. From the
``LOCK_AFTER``-th (5) one on, each further wrong password locks the account
for ``LOCK_BASE`` (30 s) doubled per failure beyond the threshold, capped at
``LOCK_MAX`` (15 min): 30 s, 1 min, 2 min … 15 min. While the account is
locked every attempt is refused — the right password too — and does not
move the counter (an attacker guessing during the lock learns nothing and
cannot make the lock longer than the password owner's next mistake would).
A successful sign-in, or a new password (:func:`set_password`), clears the
counter and the lock. So "20 wrong passwords, then the right one" is refused
until the lock (30 s after the fifth failure) has passed.

Why two functions
-----------------
A refusal must *persist* the failure counter, yet a refusal is an exception,
and a unit of work rolls back on an exception. Hence:

* :func:`check_login` ``(env, login, password) -> LoginResult`` never raises
  for bad credentials: it records the outcome (counter, lock) in ``env``'s
  transaction and returns a result object; the caller commits, then acts on
  ``result.ok``. For callers that already hold a unit of work.
* :func:`authenticate` ``(db, login, password, now=None) -> user id`` takes
  the :class:`~core.db.Database`, runs :func:`check_login` in its own short
  system transaction (committed whatever the outcome), and only then raises
  :class:`~core.errors.AccessDenied` — one generic message whether the login
  is unknown, the password wrong, the user inactive or the account locked
  (no user enumeration). This is what the web sign-in and
  ``POST /auth/token`` call.

Unknown logins still cost one scrypt hash (of a dummy hash) so that the
answer takes about as long as for a known login.

Bookkeeping writes (``failed_logins``, ``locked_until``, ``last_used_at``)
go through SQLAlchemy Core, not the model API: they must not bump the
record's ``version`` (a sign-in attempt would otherwise make an open user
form stale) nor fill the audit log with every attempt.
"""
import datetime as dt
import hashlib
import logging
import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from ..errors import AccessDenied, NotFound, UserInputError, ValidationError
from ..passwords import hash_password, verify_password

log = logging.getLogger(__name__)

LOCK_AFTER = 5
LOCK_BASE = dt.timedelta(seconds=30)
LOCK_MAX = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "keel_"
TOKEN_DAYS = 90

#: the one message of every refused sign-in
REFUSED = "sign-in refused: wrong login or password, or too many failed attempts (try again later)"

_dummy_hash = None


def _dummy():
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hash_password(secrets.token_urlsafe(16))
    return _dummy_hash


def lock_delay(failures):
    """How long the account is locked after ``failures`` consecutive wrong
    passwords (zero below the threshold)."""
    if failures < LOCK_AFTER:
        return dt.timedelta(0)
    steps = min(failures - LOCK_AFTER, 16)  # 2**16 * 30 s is far past the cap
    return min(LOCK_BASE * (2 ** steps), LOCK_MAX)


# -- passwords -----------------------------------------------------------------------
def check_password_policy(password, login=None):
    """Refuse a password that is too short or too easy, with a
    ``ValidationError`` naming the field ``password``."""
    def refuse(reason):
        return ValidationError(f"password: {reason}",
                               {"model": "core.user", "field": "password", "fields": ["password"],
                                "reason": reason})
    if not isinstance(password, str):
        raise refuse("expected text")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(f"use at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refuse(f"use at most {MAX_PASSWORD_LENGTH} characters")
    if len(set(password)) == 1:
        raise refuse("must not repeat a single character")
    if login and password.strip().lower() == str(login).strip().lower():
        raise refuse("must not be the login")


def _users(env):
    return env.registry["core.user"].table


def set_password(env, user_id, password):
    """Check ``password`` against the policy, store its hash, and clear the
    failure counter and lock of the user."""
    table = _users(env)
    login = env.conn.execute(sa.select(table.c.login).where(table.c.id == user_id)).scalar()
    if login is None:
        raise NotFound(f"core.user {user_id} does not exist")
    check_password_policy(password, login)
    env.sudo()["core.user"].browse(user_id).write(
        {"password_hash": hash_password(password), "failed_logins": 0, "locked_until": None})
    return True


# -- sign-in -------------------------------------------------------------------------
@dataclass
class LoginResult:
    """What :func:`check_login` found. ``reason`` is for the server's log
    only (``unknown``, ``inactive``, ``locked``, ``wrong_password``,
    ``ok``); never show it to the caller."""
    ok: bool
    user_id: int = None
    reason: str = "unknown"
    failed_logins: int = 0
    locked_until: dt.datetime = None


def check_login(env, login, password):
    """Check a login and password at ``env.now`` and record the outcome in
    ``env``'s transaction (which the caller must commit, refusal or not)."""
    table = _users(env)
    row = None
    if isinstance(login, str) and login and isinstance(password, str):
        row = env.conn.execute(
            sa.select(table.c.id, table.c.active, table.c.password_hash, table.c.failed_logins,
                      table.c.locked_until).where(table.c.login == login)).first()
    if not isinstance(password, str):
        password = ""
    if row is None or not row.password_hash:
        verify_password(password, _dummy())  # as long as a real check
        return LoginResult(False, reason="unknown" if row is None else "no_password")
    now = env.now
    right = verify_password(password, row.password_hash)
    failures = row.failed_logins or 0
    if not row.active:
        return LoginResult(False, row.id, "inactive", failures, row.locked_until)
    if row.locked_until is not None and row.locked_until > now:
        return LoginResult(False, row.id, "locked", failures, row.locked_until)
    if right:
        if failures or row.locked_until is not None:
            env.conn.execute(sa.update(table).where(table.c.id == row.id)
                             .values(failed_logins=0, locked_until=None))
        return LoginResult(True, row.id, "ok")
    failures += 1
    delay = lock_delay(failures)
    until = now + delay if delay else None
    env.conn.execute(sa.update(table).where(table.c.id == row.id)
                     .values(failed_logins=failures, locked_until=until))
    return LoginResult(False, row.id, "wrong_password", failures, until)


def authenticate(db, login, password, now=None):
    """The id of the user ``login`` if ``password`` is right and the user
    active and not locked; else ``AccessDenied`` (one generic message). The
    outcome is committed in a transaction of its own before raising."""
    if not hasattr(db, "unit_of_work"):
        raise TypeError("authenticate() takes the Database (it commits the outcome itself); "
                        "inside a unit of work call check_login() and commit")
    with db.unit_of_work(None) as env:
        if now is not None:
            env.now = now
        result = check_login(env, login, password)
    if not result.ok:
        log.info("sign-in refused for %r: %s", login, result.reason)
        raise AccessDenied(REFUSED)
    return result.user_id


# -- API tokens ----------------------------------------------------------------------
class IssuedToken(str):
    """The clear token (a ``str``, shown once) with the ``id`` and
    ``expires_at`` of its ``core.token`` record."""
    id = None
    expires_at = None


def token_hash(token):
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(env, user_id, label=None, days=TOKEN_DAYS):
    """A new token for an active user, valid ``days`` days (``None``: no
    expiry). Returns the clear token; only its hash is stored."""
    table = _users(env)
    row = env.conn.execute(sa.select(table.c.active).where(table.c.id == user_id)).first()
    if row is None:
        raise NotFound(f"core.user {user_id} does not exist")
    if not row.active:
        raise UserInputError(f"user {user_id} is inactive: no token for it")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days <= 0):
        raise UserInputError(f"token validity must be a positive number of days, got {days!r}")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = env.now + dt.timedelta(days=days) if days is not None else None
    record = env.sudo()["core.token"].create({"user_id": user_id, "label": label,
                                              "token_hash": token_hash(clear), "expires_at": expires})
    issued = IssuedToken(clear)
    issued.id = record.id
    issued.expires_at = expires
    return issued


def verify_token(env, token):
    """The id of the token's user if the token exists, is neither expired
    nor revoked and its user is active; else ``None``. Records the use."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    tokens = env.registry["core.token"].table
    users = _users(env)
    row = env.conn.execute(
        sa.select(tokens.c.id, tokens.c.user_id, tokens.c.expires_at, tokens.c.revoked_at,
                  tokens.c.last_used_at, users.c.active)
        .join_from(tokens, users, users.c.id == tokens.c.user_id)
        .where(tokens.c.token_hash == token_hash(token))).first()
    now = env.now
    if row is None or row.revoked_at is not None or not row.active:
        return None
    if row.expires_at is not None and row.expires_at <= now:
        return None
    if row.last_used_at != now:
        env.conn.execute(sa.update(tokens).where(tokens.c.id == row.id).values(last_used_at=now))
    return row.user_id


def revoke_token(env, token_id, user_id=None):
    """Revoke a token (by its record id); with ``user_id``, only one of that
    user's. Revoking twice keeps the first date."""
    tokens = env.sudo()["core.token"]
    domain = [["id", "=", token_id]] + ([["user_id", "=", user_id]] if user_id is not None else [])
    found = tokens.search_read(domain, ["revoked_at"])
    if not found:
        raise NotFound(f"no API token {token_id}" + (f" of user {user_id}" if user_id is not None else ""))
    if found[0]["revoked_at"] is None:
        tokens.browse(found[0]["id"]).write({"revoked_at": env.now})
    return True


def list_tokens(env, user_id):
    """The user's tokens, newest first, without their hashes: dicts of
    ``id, label, created_at, expires_at, last_used_at, revoked_at, state``
    (``active``, ``expired`` or ``revoked``)."""
    rows = env.sudo()["core.token"].search_read(
        [["user_id", "=", user_id]],
        ["label", "created_at", "expires_at", "last_used_at", "revoked_at"], order="id desc")
    for r in rows:
        r["state"] = ("revoked" if r["revoked_at"] is not None
                      else "expired" if r["expires_at"] is not None and r["expires_at"] <= env.now
                      else "active")
    return rows
