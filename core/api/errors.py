"""The one place where an exception becomes an API error answer.

Every error of ``/api/…`` answers ``{"error": {"code", "message",
"details"}}`` (CONTRACT.md §3). The kernel's errors carry their HTTP status
and code (:mod:`core.errors`): 400 ``bad_request`` (``UserInputError``,
``DomainError``), 403 ``forbidden``, 404 ``not_found``, 409 ``conflict``,
422 ``validation_error``; :class:`Unauthorized` adds 401 ``unauthorized``.
HTTP errors of routing (404, 405) and of request parsing keep their status;
a value the database refuses (``DataError``: out of range, bad pattern…) or
its driver cannot bind (``OverflowError``: an integer past 64 bits) is
400; anything else is logged and answered 500 ``internal_error`` without
the traceback.
"""
import json
import logging

import sqlalchemy as sa
from flask import current_app, request
from werkzeug.exceptions import HTTPException, default_exceptions

from ..errors import KeelError

log = logging.getLogger(__name__)

#: codes of HTTP errors that do not come from core.errors
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
              415: "unsupported_media_type", 422: "validation_error", 429: "too_many_requests",
              500: "internal_error"}


class Unauthorized(KeelError):
    """No token, or a token that is unknown, expired or revoked; or refused
    credentials at ``POST /auth/token``."""
    http_status = 401
    code = "unauthorized"


def describe(exc):
    """``(status, code, message, details)`` of any exception."""
    if isinstance(exc, KeelError):
        return exc.http_status, exc.code, exc.message, exc.details or {}
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        message = exc.description or exc.name
        if status == 404:
            message = f"no such address: {request.method} {request.path}"
        if status == 405:
            allowed = sorted(m for m in (exc.valid_methods or ()) if m not in ("HEAD", "OPTIONS"))
            message = f"{request.method} is not allowed on {request.path}"
            return status, HTTP_CODES[405], message, {"allowed_methods": allowed}
        if status >= 500:
            return status, HTTP_CODES.get(status, "internal_error"), "internal error", {}
        return status, HTTP_CODES.get(status, "error"), message, {}
    if isinstance(exc, sa.exc.DataError):
        # the driver's one-line reason (never the statement)
        reason = (str(getattr(exc, "orig", "")) or "out of range or malformed").splitlines()[0]
        return 400, "bad_request", f"the database refused a value: {reason}", {}
    if isinstance(exc, OverflowError):
        # a whole number past what the driver binds (SQLite: 64 bits), as
        # PostgreSQL's "out of range" DataError above
        return 400, "bad_request", f"a number is out of range: {exc}", {}
    log.exception("internal error on %s %s", request.method, request.path, exc_info=exc)
    return 500, "internal_error", "internal error", {}


def error_response(exc):
    status, code, message, details = describe(exc)
    body = json.dumps({"error": {"code": code, "message": message, "details": details}},
                      ensure_ascii=False, default=str)
    response = current_app.response_class(body, status, mimetype="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="keel"'
    if status == 405 and isinstance(exc, HTTPException):
        response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response


def is_api_path(path=None):
    path = request.path if path is None else path
    return path == "/api" or path.startswith("/api/")


def init_app(app):
    """Errors of the whole ``/api`` prefix answer JSON: the blueprint's own
    views (any exception) and routing errors (404, 405) and 500s of
    addresses no view matched. The application's handlers for other
    addresses (the web UI's error pages) are kept."""
    for code in (404, 405, 500):
        exc_class = default_exceptions[code]
        previous = app.error_handler_spec[None][code].get(exc_class)
        app.register_error_handler(code, _prefix_handler(previous))


def _prefix_handler(previous):
    def handler(exc):
        if is_api_path():
            return error_response(exc)
        if previous is not None:
            return previous(exc)
        return exc
    return handler
