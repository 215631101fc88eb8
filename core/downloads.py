"""Answers that are files — exports and attachments — for the web UI and
the API alike: always sent as downloads, with the real (Chinese) file name
in RFC 5987 form beside an ASCII fallback."""
import tempfile
import urllib.parse

from flask import current_app, request
from werkzeug.wsgi import wrap_file

from . import export as exporting

#: bytes of an export kept in memory before the file being built moves to disk
SPOOL_BYTES = 8 * 1024 * 1024


def disposition(name, fallback):
    """``attachment`` with an ASCII ``filename`` (``fallback``, characters
    outside printable ASCII and quotes replaced) and the real ``name`` as
    RFC 5987 ``filename*=UTF-8''…``."""
    plain = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in fallback)
    encoded = urllib.parse.quote(name, safe="")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"


def file_response(data, name, mimetype=None):
    """``data`` (bytes) as a download named ``name``, never shown inline: an
    uploaded HTML or SVG file must not run in the application's origin."""
    response = current_app.response_class(data or b"", mimetype=mimetype or "application/octet-stream")
    response.headers["Content-Disposition"] = disposition(name, name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def export_response(env, meta, fmt, domain, fields, lang):
    """The records of ``meta`` matching ``domain`` as the file ``keel export``
    writes, built in ``env``'s unit of work (with its ``export`` audit entry)
    into a spooled temporary file, named after the model's label in
    ``lang`` and the day."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    try:
        exporting.export(env, meta.name, spool, fmt, domain, fields, lang)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    day = env.now.date().isoformat()
    response = current_app.response_class(wrap_file(request.environ, spool),
                                          content_type=exporting.CONTENT_TYPES[fmt],
                                          direct_passthrough=True)
    response.content_length = size
    response.headers["Content-Disposition"] = disposition(
        f"{exporting.model_label(meta, lang)}-{day}.{fmt}", f"{meta.name}-{day}.{fmt}")
    return response
