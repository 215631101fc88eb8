"""``GET /api/v1/data/MODEL/export``: the file ``keel export`` writes, of
what the caller may read (CONTRACT.md §3).

``format`` is ``csv`` (default) or ``xlsx``; ``domain`` and ``fields`` are
read exactly as ``GET /data/MODEL`` reads them (400 ``bad_request`` naming
the parameter). The file is built in the request's unit of work — with its
``export`` audit entry — into a spooled temporary file (in memory while
small, on disk beyond), then sent as an attachment named after the model's
label in the caller's language and the day.
"""
from flask import request

from .. import export as exporting
from ..downloads import export_response
from ..errors import UserInputError
from . import bp, http


@bp.get("/data/<model>/export")
@http.unit_of_work
def data_export(env, model):
    records = http.model(env, model)
    fmt = _format()
    domain = http.domain()
    fields = http.fields(records)
    lang = http.language(env)
    return export_response(env, records._meta, fmt, domain, fields, lang)


def _format():
    text = request.args.get("format")
    if text is None or not text.strip():
        return "csv"
    fmt = text.strip().lower()
    if fmt not in exporting.FORMATS:
        raise UserInputError(f"format: {text[:40]!r} is not one of {', '.join(exporting.FORMATS)}",
                             {"parameter": "format"})
    return fmt

