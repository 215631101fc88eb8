"""Routes of the web UI: ``/``, sign-in, sign-out, the workbench."""
import logging
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import g, redirect, render_template, request, session
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField

from .. import __version__
from ..errors import AccessDenied
from ..security.auth import MAX_PASSWORD_LENGTH, authenticate
from . import bp
from ..i18n import _, translate
from ..security.menus import menu_tree, trail, visible_menus
from .context import page, unit_of_work
from .i18n import best_language, gettext
from .session import WebUser, database, end_sessions, read_user

log = logging.getLogger(__name__)

HOME = "/web"
LOGIN = "/web/login"
MAX_LOGIN_LENGTH = 256
REFUSED = _("Wrong login or password, or too many failed attempts. Please try again later.")


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
@page
def workbench(env):
    """The home page: the cards every addon fills (``keel_workbench_cards``)
    and, in one small line at the bottom, the version, edition and addons."""
    addons = env.sudo()["core.addon"].search_read([["state", "=", "installed"]],
                                                  ["name", "addon_version"], order="name")
    system = {"version": __version__, "addons": addons,
              "edition": env.db.get_meta(env.conn, "edition") if env.db else None}
    return render_template("web/workbench.html", cards=workbench_cards(env), system=system)


def workbench_cards(env):
    """Every addon's cards, by ``sequence`` then addon order."""
    hooks = env.registry.hooks
    found = [(addon, card) for addon, cards in hooks.gather("keel_workbench_cards", env=env)
             for card in cards or ()]
    return [card for _, card in sorted(found, key=lambda item: item[1].get("sequence", 50))]


def request_menus(env):
    """The user's visible menus, read once per request."""
    menus = g.get("keel_menus")
    if menus is None:
        menus = g.keel_menus = visible_menus(env)
    return menus


@bp.app_context_processor
def _shell_context():
    """``shell``: what ``_shell.html`` draws around a page (menus, breadcrumbs),
    computed on first use only."""
    return {"shell": Shell()}


class Shell:
    """The signed-in user's menus and the breadcrumbs of the current page,
    read through the request's unit of work (or a short one of its own, for
    pages drawn outside it, such as error pages)."""

    @property
    def menus(self):
        env = g.get("keel_env")
        if env is not None or g.get("keel_menus") is not None:
            return request_menus(env)
        with unit_of_work() as env:
            return request_menus(env)

    @property
    def tree(self):
        return menu_tree(self.menus)

    def label(self, text):
        return translate(text, best_language())

    def crumbs(self, record=None):
        """``[(label, url)]``: workbench › menu › model › record, from the
        page's address (``/web/MODEL[/ID|/new]``); ``record``: the record's
        name, when the page knows it."""
        items = [(gettext("Workbench"), HOME)]
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "web" or "." not in parts[1]:
            return items
        model = parts[1]
        path = trail(self.menus, model)
        items.extend((self.label(m["label"]), None) for m in path[:-1])
        env = g.get("keel_env")
        meta = env.registry.models.get(model) if env is not None else None
        if path:
            items.append((self.label(path[-1]["label"]), f"/web/{model}"))
        elif meta is not None:
            items.append((self.label(meta.label), f"/web/{model}"))
        if len(parts) > 2 and parts[2]:
            items.append((record or (gettext("New") if parts[2] == "new" else f"#{parts[2]}"), None))
        return items
