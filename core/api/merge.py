"""Merging records over HTTP (administrators): ``POST
/api/v1/data/MODEL/ID/merge`` ``{"ids": [other ids], "fill": false}``.

The records ``ids`` are merged into ``ID`` (:func:`core.services.merge.merge`:
every reference moves to ``ID``, the others are deleted, an audit entry
``merge`` names them); with ``"fill": true`` the kept record's empty fields
take the others' values first. 200 with the kept record; 400 for a bad body
(no ids, the kept id among them, an unknown key), 403 for a caller who is
not an administrator, 404 for a missing record, 409 when a unique
constraint of a referencing model stops it.
"""
from ..errors import UserInputError
from ..services.merge import merge
from . import bp, http
from .routes import RECORD, _read_back


@bp.post(RECORD + "/merge")
@http.unit_of_work
def data_merge(env, model, rid):
    http.model(env, model)
    body = http.body_object()
    unknown = sorted(set(body) - {"ids", "fill"})
    if unknown:
        raise UserInputError(f"body: unknown key {unknown[0]!r} (only ids, fill)",
                             {"parameter": "body"})
    fill = body.get("fill", False)
    if not isinstance(fill, bool):
        raise UserInputError("body: fill must be true or false", {"parameter": "fill"})
    return _read_back(merge(env, model, rid, body.get("ids"), fill=fill))


def openapi_paths():
    """The OpenAPI operation of this route (merged into ``/openapi.json``)."""
    from .openapi_paths import _answers, _param
    body = {"type": "object", "required": ["ids"], "properties": {
        "ids": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1}},
        "fill": {"type": "boolean", "default": False,
                 "description": "fill the kept record's empty fields from the merged ones"}}}
    return {"/data/{model}/{id}/merge": {"parameters": [_param("model"), _param("id")], "post": {
        "tags": ["data"], "summary": "merge records into this one (administrators)",
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": _answers({200: {"description": "the kept record"}}, 400, 403, 404, 409)}}}
