"""``/api/v1/notifications``: the caller's own in-app notifications and
their opt-outs (``core.services.inbox``, ``core.services.notify``).

* ``GET /notifications?unread=1&limit=&offset=`` — ``{"items", "total", "unread"}``;
* ``POST /notifications/ID/read`` — one marked read (404 if not the caller's);
* ``POST /notifications/read_all`` — every unread one: ``{"marked", "unread": 0}``;
* ``GET /notifications/preferences`` — ``{channel: receives}``;
* ``PUT /notifications/preferences`` ``{channel: true|false}`` — opt out or back in.

:func:`openapi_paths` describes them for ``/openapi.json``.
"""
from flask import request

from ..errors import UserInputError
from ..services import inbox, notify
from . import bp, http

ID = "/notifications/<int(max=2147483647):nid>"


def _flag(name):
    text = (request.args.get(name) or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise UserInputError(f"{name}: expected 1 or 0, got {text[:20]!r}", {"parameter": name})


@bp.get("/notifications")
@http.unit_of_work
def notifications_list(env):
    limit = http.integer("limit", http.DEFAULT_LIMIT, http.MAX_LIMIT)
    offset = http.integer("offset", 0, http.MAX_OFFSET)
    return inbox.listing(env, _flag("unread"), limit, offset)


@bp.post(ID + "/read")
@http.unit_of_work
def notification_read(env, nid):
    inbox.mark_read(env, [nid])
    note = inbox.get(env, nid)
    return {"id": nid, "is_read": note["is_read"], "read_at": note["read_at"],
            "unread": inbox.unread_count(env)}


@bp.post("/notifications/read_all")
@http.unit_of_work
def notifications_read_all(env):
    return {"marked": inbox.mark_all_read(env), "unread": 0}


@bp.get("/notifications/preferences")
@http.unit_of_work
def notification_preferences(env):
    return notify.preferences(env, env.uid)


@bp.put("/notifications/preferences")
@http.unit_of_work
def notification_preferences_set(env):
    notify.set_preferences(env, env.uid, http.body_object())
    return notify.preferences(env, env.uid)


def _answers(ok, *errors):
    from .openapi_paths import _answers as answers
    return answers(ok, *errors)


def _object(properties=None, additional=None):
    schema = {"type": "object"}
    if properties:
        schema["properties"] = properties
    if additional:
        schema["additionalProperties"] = additional
    return {"content": {"application/json": {"schema": schema}}}


_NOTE = {"type": "object", "properties": {
    "id": {"type": "integer"}, "message": {"type": "string"}, "body": {"type": "string", "nullable": True},
    "kind": {"type": "string", "nullable": True}, "model": {"type": "string", "nullable": True},
    "record_id": {"type": "integer", "nullable": True}, "url": {"type": "string", "nullable": True},
    "author": {"type": "string", "nullable": True}, "is_read": {"type": "boolean"},
    "read_at": {"type": "string", "format": "date-time", "nullable": True},
    "created_at": {"type": "string", "format": "date-time"}}}
_PREFS = {"description": "receives, per channel (inapp, email, …)",
          **_object(additional={"type": "boolean"})}


def openapi_paths():
    """The OpenAPI operations of these routes (merged by ``core.api.openapi_paths``)."""
    nid = {"name": "id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1}}
    page = [{"name": n, "in": "query", "schema": {"type": "integer", "minimum": 0}}
            for n in ("limit", "offset")]
    return {
        "/notifications": {"get": {
            "tags": ["notifications"], "summary": "the caller's in-app notifications, newest first",
            "parameters": [{"name": "unread", "in": "query",
                            "schema": {"type": "string", "enum": ["0", "1"]}}, *page],
            "responses": _answers({200: {"description": "notifications", **_object({
                "items": {"type": "array", "items": _NOTE}, "total": {"type": "integer"},
                "unread": {"type": "integer"}})}}, 400)}},
        "/notifications/{id}/read": {"parameters": [nid], "post": {
            "tags": ["notifications"], "summary": "mark one of the caller's notifications read",
            "responses": _answers({200: {"description": "marked", **_object({
                "id": {"type": "integer"}, "is_read": {"type": "boolean"},
                "unread": {"type": "integer"}})}}, 404)}},
        "/notifications/read_all": {"post": {
            "tags": ["notifications"], "summary": "mark every notification of the caller read",
            "responses": _answers({200: {"description": "marked", **_object({
                "marked": {"type": "integer"}, "unread": {"type": "integer"}})}})}},
        "/notifications/preferences": {
            "get": {"tags": ["notifications"], "summary": "the caller's channels and opt-outs",
                    "responses": _answers({200: _PREFS})},
            "put": {"tags": ["notifications"], "summary": "opt out of channels (false) or back in",
                    "requestBody": {"required": True, **_object(additional={"type": "boolean"})},
                    "responses": _answers({200: _PREFS}, 400)}},
    }


