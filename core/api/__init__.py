"""The REST API, ``/api/v1`` (CONTRACT.md §3).

Layout:

* :mod:`core.api.errors` — the one place where exceptions become the
  contract's error answers ``{"error": {"code", "message", "details"}}``;
* :mod:`core.api.http` — bearer tokens, the unit of work of a request,
  query-string parsing and JSON serialisation;
* :mod:`core.api.routes` — the routes: parse → model API → serialise;
* :mod:`core.api.export`, :mod:`core.api.fields`, :mod:`core.api.actions`,
  :mod:`core.api.activity`, :mod:`core.api.attachments` — export files,
  user-defined fields, workflow actions, per-user audit activity, files;
* :mod:`core.api.openapi` — ``GET /openapi.json`` (public), from the
  marshmallow schemas of :mod:`core.api.schemas`.

Every call but ``POST /auth/token`` and ``GET /openapi.json`` needs
``Authorization: Bearer TOKEN`` (401 ``unauthorized`` otherwise); each
request is one unit of work as the token's user (``source`` ``api``): any
error rolls all of it back.
"""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

#: endpoints a caller without a token may reach
PUBLIC_ENDPOINTS = {"api.token", "api.openapi"}


def init_app(app):
    from . import errors
    app.register_blueprint(bp)
    errors.init_app(app)


# the routes and the blueprint's hooks, then the routes of each topic
from . import routes  # noqa: E402,F401
from . import activity, actions, approvals, attachments, export, fields, openapi  # noqa: E402,F401
from . import imports, notifications, reports, trash  # noqa: E402,F401
from . import merge  # noqa: E402,F401
