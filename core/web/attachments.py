"""Attachments of a record in the web UI: the panel of the form
(``web/_attachments.html``, filled by :func:`attachments_of`), upload,
download and delete. Rights are those of the record (:mod:`core.attachments`).
"""
from flask import g, redirect, request
from flask_login import login_required

from .. import attachments
from ..downloads import file_response
from ..errors import KeelError
from . import bp
from .context import error_page, page, unit_of_work


@bp.app_template_global()
def attachments_of(model, record_id):
    """The files of a record, for the form's panel (inside the page's unit
    of work); an empty list when there is none or no record yet."""
    env = g.get("keel_env")
    if env is None or not record_id:
        return []
    return attachments.list_for(env, model, record_id)


def _back(model, rid):
    return redirect(f"/web/{model}/{rid}#attachments")


@bp.post("/web/<model>/<int(max=2147483647):rid>/attachments")
@login_required
def attachment_upload(model, rid):
    files = [f for f in request.files.getlist("file") if f and f.filename]
    if not files:
        return _back(model, rid)
    try:
        with unit_of_work() as env:
            for f in files:
                attachments.add(env, model, rid, f.filename, f.read(), f.mimetype)
    except KeelError as exc:
        return error_page(exc)
    return _back(model, rid)


@bp.get("/web/attachments/<int(max=2147483647):aid>")
@page
def attachment_download(env, aid):
    found = attachments.get(env, aid)
    return file_response(found["data"], found["name"], found["mimetype"])


@bp.post("/web/attachments/<int(max=2147483647):aid>/delete")
@login_required
def attachment_delete(aid):
    try:
        with unit_of_work() as env:
            row = attachments.get(env, aid)
            attachments.remove(env, aid)
    except KeelError as exc:
        return error_page(exc)
    return _back(row["res_model"], row["res_id"])
