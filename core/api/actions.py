"""Workflow actions over HTTP (CONTRACT.md §3).

``POST /api/v1/data/MODEL/ID/actions/ACTION`` with an optional body
``{"comment": "…"}`` runs the action through the model API
(``records.action``): 200 with the record after the transition; 202
``{"approval": {"id", "state": "pending"}}`` when an approval policy holds
it. The refusals are the model API's: 404 for a record the caller may not
change (as a missing one), 400 for an unknown action, 409 with
``details.allowed_actions`` from a state the action does not run from, 403
when the caller's roles may not run it, 422 with ``details.fields`` for
fields that must be filled first.

Addons' record actions (``core.record_actions``, e.g. the lead pool's
``claim``) run the same way; those that declare ``params`` accept them as
further keys of the body (``{"comment"?, "user_id": 7}``); any other key
is a 400.

``GET /api/v1/data/MODEL/ID/actions`` answers ``{"allowed_actions": […]}``:
the actions the caller may run on the record now (the buttons a client
shows), for a record the caller may read (404 otherwise).
"""
from flask import request

from .. import record_actions
from ..errors import UserInputError
from . import bp, http
from .routes import RECORD, _as_missing, _read_back, _visible


@bp.get(RECORD + "/actions")
@http.unit_of_work
def data_allowed_actions(env, model, rid):
    record = _visible(http.model(env, model), rid)
    return {"allowed_actions": record.allowed_actions()[rid]}


@bp.post(RECORD + "/actions/<action>")
@http.unit_of_work
def data_action(env, model, rid, action):
    records = http.model(env, model)
    body = http.body_object() if request.get_data(cache=True).strip() else {}
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise UserInputError("body: comment must be text", {"parameter": "comment"})
    declared = record_actions.spec(env, model, action)
    accepted = ["comment", *(declared["params"] if declared else ())]
    unknown = sorted(set(body) - set(accepted))
    if unknown:
        raise UserInputError(f"body: unknown key {unknown[0]!r} (only {', '.join(accepted)})",
                             {"parameter": "body"})
    params = {k: v for k, v in body.items() if k != "comment"}
    record = records.browse(rid)
    with _as_missing(model, rid):
        outcome = record.action(action, comment, params or None)[0]
    if not outcome.ran:
        return {"approval": outcome.approval}, 202
    return _read_back(record)
