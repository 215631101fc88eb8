"""The unit of work of a web request: every page reads and writes through
the model API as the signed-in user (source ``web``), in one transaction.

* :func:`unit_of_work` — ``with unit_of_work() as env:`` for views that need
  several transactions (a refused save rolls back, then the form is shown
  again with the errors, read in a second one);
* :func:`page` — decorator for the common case: ``view(env, **url_values)``
  runs in one unit of work and its answer is rendered before the commit;
  ``NotFound`` becomes the 404 page (a record outside the user's rules
  looks exactly like a missing one), ``AccessDenied`` the 403 page, any
  other ``KeelError`` a 400 page with its message.
"""
import contextlib
import functools

from flask import current_app, g, render_template
from flask_login import current_user

from ..errors import AccessDenied, KeelError, NotFound
from .i18n import gettext
from .session import database


@contextlib.contextmanager
def unit_of_work():
    with database().unit_of_work(current_user.id, context={"source": "web"}) as env:
        g.keel_env = env
        try:
            yield env
        finally:
            g.keel_env = None


def error_page(exc):
    if isinstance(exc, NotFound):
        return render_template("web/error.html", title=gettext("Page not found"), message=None), 404
    if isinstance(exc, AccessDenied):
        return render_template("web/error.html", title=gettext("Access denied"),
                               message=gettext("You may not do this.")), 403
    return render_template("web/error.html", title=gettext("Bad request"),
                           message=str(exc)), getattr(exc, "http_status", 400)


def page(view):
    """Run ``view(env, **values)`` in one unit of work as the signed-in user;
    strings and tuples are returned as Flask would, after rendering inside
    the transaction."""
    @functools.wraps(view)
    def wrapper(**values):
        try:
            with unit_of_work() as env:
                answer = view(env, **values)
                return current_app.make_response(answer)
        except KeelError as exc:
            return error_page(exc)
    return wrapper
