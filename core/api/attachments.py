"""Files attached to records over the API, through :mod:`core.attachments`
(the rights of the record they belong to):

* ``GET /data/MODEL/ID/attachments`` → ``{"items": [{"id", "name",
  "mimetype", "size", "created_at", "created_by_id"}], "total"}``;
* ``POST /data/MODEL/ID/attachments`` — a multipart upload (``file``, one
  or more) or JSON ``{"name", "data": BASE64, "mimetype"?}`` → 201
  ``{"items": [...]}`` of the new files;
* ``GET /attachments/ID`` → the file itself (always as a download);
* ``DELETE /attachments/ID`` → 204.
"""
import base64
import binascii

from flask import current_app, request

from .. import attachments
from ..downloads import file_response
from ..errors import UserInputError
from . import bp, http

RECORD = "/data/<model>/<int(max=2147483647):rid>/attachments"
ONE = "/attachments/<int(max=2147483647):aid>"


def _listed(rows):
    return [{**r, "created_at": r["created_at"].isoformat() if r.get("created_at") else None}
            for r in rows]


@bp.get(RECORD)
@http.unit_of_work
def attachment_list(env, model, rid):
    rows = attachments.list_for(env, model, rid)
    return {"items": _listed(rows), "total": len(rows)}


def _uploads():
    files = [f for f in request.files.getlist("file") if f and f.filename]
    if files:
        return [(f.filename, f.read(), f.mimetype) for f in files]
    body = http.body_object()
    name, data = body.get("name"), body.get("data")
    if not isinstance(name, str) or not isinstance(data, str):
        raise UserInputError("body: name and data (base64 text) are required, or a multipart "
                             "upload named file", {"parameter": "body", "fields": ["name", "data"]})
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UserInputError("data: not base64 text", {"parameter": "data"}) from None
    mimetype = body.get("mimetype")
    return [(name, content, mimetype if isinstance(mimetype, str) else None)]


@bp.post(RECORD)
@http.unit_of_work
def attachment_add(env, model, rid):
    ids = [attachments.add(env, model, rid, name, data, mimetype)
           for name, data, mimetype in _uploads()]
    rows = [r for r in attachments.list_for(env, model, rid) if r["id"] in ids]
    return {"items": _listed(rows)}, 201


@bp.get(ONE)
@http.unit_of_work
def attachment_get(env, aid):
    found = attachments.get(env, aid)
    return file_response(found["data"], found["name"], found["mimetype"])


@bp.delete(ONE)
@http.unit_of_work
def attachment_delete(env, aid):
    attachments.remove(env, aid)
    return current_app.response_class(status=204)
