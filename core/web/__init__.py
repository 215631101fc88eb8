"""The web UI: sign-in, the workbench, generated screens (CONTRACT.md §7).

Layout (grows with the web UI issue):

* ``core/web/templates/web/*.html`` — Jinja templates (``web/`` keeps their
  names apart from addons' templates); ``base.html`` is the page shell.
* ``core/web/static/`` — CSS (and later JS), served at ``/web/static/…``;
  nothing comes from a CDN.
* :mod:`core.web.session` — Flask-Login: the session cookie and the user
  loader; :mod:`core.web.i18n` — Flask-Babel: the page language, its
  texts (the gettext catalogs of :mod:`core.i18n`) and locale formatting;
  :mod:`core.web.views` — the routes.

Security set-up done by :func:`init_app`: CSRF protection (Flask-WTF) on
every form of the whole application except the ``api`` blueprint (bearer
tokens, no cookies: CSRF does not apply); session cookie ``keel_session``,
HttpOnly, SameSite=Lax, Secure when ``SESSION_COOKIE_SECURE`` is set (off by
default for ``http://127.0.0.1``), valid 12 hours after the last request;
every ``/web`` address but the login page and static files sends signed-out
visitors to ``/web/login``; HTML answers carry a strict Content-Security-
Policy (no inline script or style, no framing) and are not cached.
"""
import datetime as dt

from flask import Blueprint, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from .i18n import best_language, gettext, html_lang
from .i18n import init_app as init_i18n
from .session import login_manager

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/web/static")
csrf = CSRFProtect()

#: endpoints under /web that a signed-out visitor may reach
PUBLIC_ENDPOINTS = {"web.login", "web.logout", "web.static"}
SESSION_LIFETIME = dt.timedelta(hours=12)
CSP = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")


def is_web_path(path):
    return path == "/web" or path.startswith("/web/")


def init_app(app, csrf_exempt=()):
    """Set up sessions, CSRF and the web routes on ``app``; ``csrf_exempt``:
    blueprints that authenticate otherwise (the API)."""
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        # the CSRF token lives as long as the session (a form left open for
        # an afternoon still saves)
        WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
    )
    # SESSION_COOKIE_SECURE stays as configured (Flask's default: off, for http://127.0.0.1)
    if app.config.get("SESSION_COOKIE_NAME", "session") == "session":  # Flask's default would be
        app.config["SESSION_COOKIE_NAME"] = "keel_session"  # shared by every app on the host
    for key in ("HTTPONLY", "SAMESITE", "SECURE"):
        app.config.setdefault("REMEMBER_COOKIE_" + key, app.config["SESSION_COOKIE_" + key])

    login_manager.init_app(app)
    csrf.init_app(app)
    for blueprint in csrf_exempt:
        csrf.exempt(blueprint)

    # Flask-Babel first: its Jinja i18n extension installs a ``_`` of its own,
    # replaced by ours (plain text, escaped by Jinja like any other value)
    init_i18n(app)
    app.jinja_env.globals.update(_=gettext, html_lang=html_lang)
    app.before_request(_require_login)
    app.after_request(_headers)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(404, _not_found)

    from . import views, model_views, form_views, boards, profile, attachments, fields_admin  # noqa: F401,E501  (the routes)
    from . import imports, system, trash, notifications, reports  # noqa: F401  (platform services)
    from . import merge  # noqa: F401  (merging records)
    app.register_blueprint(bp)
    from . import addon_pages
    addon_pages.register(app)


def _require_login():
    """Signed-out visitors of any /web page (existing or not) go to the
    login page, which brings them back afterwards (``next``)."""
    if not is_web_path(request.path) or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    from flask_login import current_user
    if current_user.is_authenticated:
        return None
    return login_manager.unauthorized()


def _headers(response):
    if request.path.startswith("/api/"):
        return response
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Content-Language", html_lang())
        response.vary.update(("Cookie", "Accept-Language"))
    return response


def _csrf_error(error):
    """A form post without a valid CSRF token: refused (400). On the login
    page (usually an expired session) the form is shown again."""
    from flask_login import current_user
    if request.endpoint == "web.login":
        from .views import render_login
        return render_login(error=gettext("Your session has expired. Please try again."), status=400)
    if request.endpoint == "web.logout" and not current_user.is_authenticated:
        from flask import redirect
        return redirect("/web/login")  # nothing to sign out of
    return render_template("web/error.html", title=gettext("Bad request"),
                           message=gettext("The form could not be accepted. Reload the page and try again.")), 400


def _not_found(error):
    if not is_web_path(request.path) and request.path != "/":
        return error
    return render_template("web/error.html", title=gettext("Page not found"), message=None), 404


__all__ = ["bp", "csrf", "init_app", "login_manager", "best_language"]
