"""``/api/v1/trash``: the recycle bin (:mod:`core.services.trash`).

Administrators see every entry, other users those of records they owned or
deleted; an entry outside that answers 404 like a missing one.

* ``GET /trash?model=&limit=&offset=`` — ``{"items": [{"id", "model",
  "record_id", "name", "deleted_by_id", "deleted_at", "expires_at",
  "owner_id", "rows"}], "total"}``, newest first;
* ``POST /trash/ID/restore`` — 200 ``{"model", "record_id"}``: the rows are
  back with their ids; 409 ``conflict`` naming what is in the way;
* ``DELETE /trash/ID`` — 204, gone for good.

:func:`openapi_paths` describes them for ``/openapi.json``.
"""
from flask import current_app, request

from ..services import trash
from . import bp, http

ID = "/trash/<int(max=2147483647):tid>"


def _item(row):
    return {**row, **{k: row[k].isoformat() if row.get(k) else None
                      for k in ("deleted_at", "expires_at")},
            **{k: row[k]["id"] if isinstance(row.get(k), dict) else row.get(k)
               for k in ("deleted_by_id", "owner_id")}}


@bp.get("/trash")
@http.unit_of_work
def trash_list(env):
    limit = http.integer("limit", http.DEFAULT_LIMIT, http.MAX_LIMIT)
    offset = http.integer("offset", 0, http.MAX_OFFSET)
    rows, total = trash.entries(env, request.args.get("model") or None, limit, offset)
    return {"items": [_item(r) for r in rows], "total": total}


@bp.post(ID + "/restore")
@http.unit_of_work
def trash_restore(env, tid):
    found = trash.restore(env, tid)
    return {"model": found["model"], "record_id": found["record_id"]}


@bp.delete(ID)
@http.unit_of_work
def trash_delete(env, tid):
    trash.delete_forever(env, tid)
    return current_app.response_class(status=204)


def openapi_paths():
    """The OpenAPI operations of these routes (to merge into ``/openapi.json``)."""
    from .openapi_paths import _answers
    tid = {"name": "id", "in": "path", "required": True,
           "schema": {"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1}}
    params = [{"name": n, "in": "query", "schema": {"type": "integer", "minimum": 0}}
              for n in ("limit", "offset")] + [{"name": "model", "in": "query",
                                                "schema": {"type": "string"}}]
    return {
        "/trash": {"get": {"tags": ["trash"], "summary": "deleted records the caller may restore",
                           "parameters": params,
                           "responses": _answers({200: {"description": "entries"}}, 400)}},
        "/trash/{id}/restore": {"parameters": [tid], "post": {
            "tags": ["trash"], "summary": "put a deleted record back whole, same ids",
            "responses": _answers({200: {"description": "restored"}}, 404, 409)}},
        "/trash/{id}": {"parameters": [tid], "delete": {
            "tags": ["trash"], "summary": "delete an entry for good",
            "responses": _answers({204: {"description": "deleted"}}, 404)}},
    }
