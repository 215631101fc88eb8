"""Routes of the web UI: ``/``, sign-in, sign-out, the workbench."""
import logging
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import redirect, render_template, request, session
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField

from .. import __version__
from ..errors import AccessDenied
from ..security.auth import MAX_PASSWORD_LENGTH, authenticate
from . import bp
from .i18n import gettext
from .session import WebUser, database, end_sessions, read_user

log = logging.getLogger(__name__)

HOME = "/web"
LOGIN = "/web/login"
MAX_LOGIN_LENGTH = 256
REFUSED = "Wrong login or password, or too many failed attempts. Please try again later."


class LoginForm(FlaskForm):
    login = StringField()
    password = PasswordField()
    next = HiddenField()


def safe_next(target):
    """``target`` if it is a path on this site (``/…``), else ``None``: no
    scheme, no host, no ``//host`` or ``/\\host`` that a browser would read
    as another site, no control characters."""
    if not isinstance(target, str) or not target.startswith("/") or len(target) > 2000:
        return None
    if target.startswith("//") or "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def _audit(action, user_id, uid=None, changes=None):
    """An entry of the audit log, source ``web``, in a transaction of its own
    (a refused sign-in must be logged although nothing else commits)."""
    from ..security import audit
    with database().unit_of_work(uid, context={"source": "web"}) as env:
        audit.log(env, action, "core.user", user_id, changes, user_id=user_id)


def _audit_failure(login):
    """``login_failed`` with the id of the account tried (``None`` if the
    login is unknown) and the login given."""
    found = None
    if login:
        with database().transaction() as conn:
            found = conn.execute(sa.text("SELECT id FROM core_user WHERE login = :login"),
                                 {"login": login}).scalar()
    _audit("login_failed", found, changes={"login": login[:MAX_LOGIN_LENGTH]})


def render_login(form=None, error=None, status=200, target=None):
    form = form or LoginForm()
    form.password.data = None  # never sent back
    form.next.data = target if target is not None else safe_next(request.values.get("next"))
    notice = None if database().is_initialised() else gettext(
        "This database is not initialised yet: run keel init.")
    return render_template("web/login.html", form=form, error=error, notice=notice), status


@bp.get("/")
def index():
    return redirect(HOME if current_user.is_authenticated else LOGIN)


@bp.route("/web/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(target or HOME)
        return render_login(target=target)
    form = LoginForm()  # CSRF already checked (CSRFProtect): a post without it never gets here
    name = form.login.data if isinstance(form.login.data, str) else ""
    password = form.password.data if isinstance(form.password.data, str) else ""
    uid = None
    if len(name) <= MAX_LOGIN_LENGTH and len(password) <= MAX_PASSWORD_LENGTH:
        try:
            uid = authenticate(database(), name, password)
        except AccessDenied:
            uid = None
    row = read_user(uid) if uid is not None else None
    if row is None:
        _audit_failure(name)
        return render_login(form, gettext(REFUSED), 401, target)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(WebUser(row))
    session.permanent = True
    _audit("login", row.id, uid=row.id)
    return redirect(target or HOME)


@bp.route("/web/logout", methods=["GET", "POST"])
def logout():
    """POST (with its CSRF token) signs out; GET only asks for confirmation,
    so that a link or image on another site cannot sign anyone out."""
    if not current_user.is_authenticated:
        return redirect(LOGIN)
    if request.method == "GET":
        return render_template("web/logout.html")
    uid = current_user.id
    logout_user()
    session.clear()
    end_sessions(uid)
    _audit("logout", uid, uid=uid)
    return redirect(LOGIN)


@bp.get("/web")
@login_required
def workbench():
    db = database()
    with db.transaction() as conn:
        addons = conn.exec_driver_sql(
            "SELECT name, addon_version AS version FROM core_addon "
            "WHERE state = 'installed' ORDER BY name").all()
        edition = db.get_meta(conn, "edition")
    return render_template("web/workbench.html", addons=addons, edition=edition,
                           version=__version__)
