"""Web sessions: who the signed-in user is (Flask-Login).

The session cookie (signed by Flask with ``SECRET_KEY``; readable by its
holder, not forgeable) stores ``"<user id>:<session token>"``. The token is
an HMAC, keyed with the secret key, of the user's id and current password
hash: it reveals nothing of the hash, and it stops matching as soon as the
password changes, so a new password ends every existing session. The user
loader reads the user from the database on every request (one small
query) and refuses an inactive one, so deactivating a user ends their
sessions too. The token also covers the user's ``session_epoch``, which
signing out and deactivating move: a copied cookie dies with the session it
was taken from, and reactivating a user does not revive old cookies.
"""
import hashlib
import hmac

import sqlalchemy as sa
from flask import current_app
from flask_login import LoginManager, UserMixin

#: the columns the web layer needs, read with Core (no registry needed)
_USERS = sa.table("core_user", sa.column("id"), sa.column("login"), sa.column("name"),
                  sa.column("lang"), sa.column("active"), sa.column("password_hash"),
                  sa.column("session_epoch"))
_BY_ID = sa.select(_USERS).where(_USERS.c.id == sa.bindparam("uid"))

login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message = None  # the login page says nothing about why it is shown
login_manager.session_protection = "basic"


class WebUser(UserMixin):
    """The signed-in user of a request."""

    def __init__(self, row):
        self.id = row.id
        self.login = row.login
        self.name = row.name or row.login
        self.lang = row.lang
        self.session_token = session_token(row.id, row.password_hash, row.session_epoch)

    def get_id(self):
        return f"{self.id}:{self.session_token}"

    def __repr__(self):
        return f"<WebUser {self.login!r}>"


def session_token(uid, password_hash, epoch=0):
    key = current_app.config["SECRET_KEY"]
    key = key.encode("utf-8") if isinstance(key, str) else key
    message = f"keel-session:{uid}:{epoch or 0}:{password_hash or ''}".encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def database():
    return current_app.extensions["keel.db"]


def end_sessions(uid):
    """Sign ``uid`` out everywhere: every cookie issued so far stops working
    (a copied one too). Plain Core: not a change of the user's record."""
    with database().transaction() as conn:
        conn.execute(sa.update(_USERS).where(_USERS.c.id == uid)
                     .values(session_epoch=sa.func.coalesce(_USERS.c.session_epoch, 0) + 1))


def read_user(uid):
    """The row of user ``uid`` if it exists and is active, else ``None``."""
    with database().transaction() as conn:
        row = conn.execute(_BY_ID, {"uid": uid}).first()
    return row if row is not None and row.active else None


@login_manager.user_loader
def load_user(stored):
    uid, _, token = (stored or "").partition(":")
    if not (uid.isascii() and uid.isdigit() and len(uid) <= 9) or not token:
        return None
    row = read_user(int(uid))
    if row is None:
        return None
    user = WebUser(row)
    if not hmac.compare_digest(user.session_token, token):
        return None  # the password changed since this session began
    return user
