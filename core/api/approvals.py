"""``/api/v1/approvals`` (CONTRACT.md §3): the approver's inbox and decisions.

* ``GET /approvals?state=pending`` — the requests waiting on the caller
  (``state`` another state: the requests the caller made or had a part in);
* ``GET /approvals/ID`` — one request with its approvers;
* ``POST /approvals/ID/approve`` / ``reject`` / ``return`` (退回, one level
  back) / ``withdraw`` (the requester) ``{"comment"?}``;
* ``POST /approvals/ID/cosign`` ``{"user_id", "comment"?}`` (加签).
"""
from flask import request

from .. import approvals
from ..errors import UserInputError
from . import bp, http

STATES = ("pending", "approved", "rejected", "withdrawn")
ID = "/approvals/<int(max=2147483647):rid>"


@bp.get("/approvals")
@http.unit_of_work
def approvals_list(env):
    state = request.args.get("state") or "pending"
    if state not in STATES:
        raise UserInputError(f"state: {state[:40]!r} is not one of {', '.join(STATES)}",
                             {"parameter": "state"})
    limit = http.integer("limit", http.DEFAULT_LIMIT, http.MAX_LIMIT)
    offset = http.integer("offset", 0, http.MAX_OFFSET)
    if state == "pending" and request.args.get("mine") is None:
        items, total = approvals.inbox(env, limit, offset)
    else:
        items, total = approvals.involved(env, state, limit, offset)
    return {"items": items, "total": total}


@bp.get(ID)
@http.unit_of_work
def approval_read(env, rid):
    return approvals.details(env, rid)


def _comment():
    body = http.body_object() if request.get_data() else {}
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise UserInputError("comment: expected a text", {"field": "comment"})
    return body, comment


@bp.post(ID + "/<any(approve, reject, return, withdraw):decision>")
@http.unit_of_work
def approval_decide(env, rid, decision):
    _, comment = _comment()
    act = {"approve": approvals.approve, "reject": approvals.reject,
           "return": approvals.send_back, "withdraw": approvals.withdraw}[decision]
    return act(env, rid, comment)


@bp.post(ID + "/cosign")
@http.unit_of_work
def approval_cosign(env, rid):
    body, comment = _comment()
    user_id = body.get("user_id")
    if not isinstance(user_id, int) or isinstance(user_id, bool):
        raise UserInputError("user_id: the co-signer's user id is required", {"field": "user_id"})
    return approvals.add_cosigner(env, rid, user_id, comment)
