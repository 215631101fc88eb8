"""``GET /api/v1/users/ID/activity``: what one user did, from the audit log.

Audit readers (administrators, or a role with read on ``core.audit``) see
anyone's activity; everyone else only their own — another user's answers
403. Entries come newest first, without the fields hidden from the caller;
``model=`` narrows them to one model, ``limit``/``offset`` page them.
"""
from flask import request

from ..errors import NotFound, UserInputError
from ..security import audit
from . import bp, http


@bp.get("/users/<int(max=2147483647):uid>/activity")
@http.unit_of_work
def user_activity(env, uid):
    model = request.args.get("model") or None
    if model is not None and model not in env.registry.models:
        raise UserInputError(f"model: unknown model {model[:80]!r}", {"parameter": "model"})
    entries = audit.user_activity(env, uid, http.integer("limit", http.DEFAULT_LIMIT, http.MAX_LIMIT),
                                  http.integer("offset", 0, http.MAX_OFFSET), model=model)
    if not entries and not env["core.user"].search([["id", "=", uid]], limit=1):
        raise NotFound(f"core.user {uid} does not exist", {"model": "core.user", "id": uid})
    return {"items": [{**e, "at": e["at"].isoformat() if e["at"] else None} for e in entries]}
