"""``GET /api/v1/data/MODEL/export``: the file ``keel export`` writes, of
what the caller may read (CONTRACT.md §3).

``format`` is ``csv`` (default) or ``xlsx``; ``domain`` and ``fields`` are
read exactly as ``GET /data/MODEL`` reads them (400 ``bad_request`` naming
the parameter). The file is built in the request's unit of work — with its
``export`` audit entry — into a spooled temporary file (in memory while
small, on disk beyond), then sent as an attachment named after the model's
label in the caller's language and the day.
"""
import tempfile
import urllib.parse

from flask import current_app, request
from werkzeug.wsgi import wrap_file

from .. import export as exporting
from ..errors import UserInputError
from . import bp, http

#: bytes kept in memory before the file being built moves to disk
SPOOL_BYTES = 8 * 1024 * 1024


@bp.get("/data/<model>/export")
@http.unit_of_work
def data_export(env, model):
    records = http.model(env, model)
    fmt = _format()
    domain = http.domain()
    fields = http.fields(records)
    lang = http.language(env)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        exporting.export(env, model, spool, fmt, domain, fields, lang)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    label = exporting.model_label(records._meta, lang)
    day = env.now.date().isoformat()
    response = current_app.response_class(
        wrap_file(request.environ, spool), content_type=exporting.CONTENT_TYPES[fmt],
        direct_passthrough=True)
    response.content_length = size
    response.headers["Content-Disposition"] = disposition(f"{label}-{day}.{fmt}", f"{model}-{day}.{fmt}")
    return response


def _format():
    text = request.args.get("format")
    if text is None or not text.strip():
        return "csv"
    fmt = text.strip().lower()
    if fmt not in exporting.FORMATS:
        raise UserInputError(f"format: {text[:40]!r} is not one of {', '.join(exporting.FORMATS)}",
                             {"parameter": "format"})
    return fmt


def disposition(name, fallback):
    """``attachment`` with an ASCII ``filename`` (``fallback``, characters
    outside printable ASCII and quotes replaced) and the real ``name`` as
    RFC 5987 ``filename*=UTF-8''…``."""
    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in fallback)
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"
