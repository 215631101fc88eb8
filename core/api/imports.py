"""``POST /api/v1/data/MODEL/import``: the file (the request body, or the
multipart part ``file``) imported by the import service
(:mod:`core.services.imports`) in the request's unit of work.

Query: ``dry_run=1`` (check only), ``on_duplicate=error|skip|update``,
``ignore_unknown=1``, ``map=Header=field`` (repeatable), ``filename``
(for a raw body; XLSX is also recognised by its content).

200 ``{"created","updated","skipped","errors":[]}``; a dry run answers 200
with every bad row in ``errors``; a real import with bad rows is 422
``validation_error`` with ``details.errors`` (``[{"line","column","value",
"reason"}]``) and writes nothing. A file that is not a table is 400.
The reasons are in the caller's language (their ``lang``, else
``Accept-Language``, else English).
"""
from flask import request

from ..errors import UserInputError
from ..services import imports
from . import bp, http

_TRUE = ("1", "true", "yes")


def _flag(name):
    text = (request.args.get(name) or "").strip().lower()
    if text and text not in (*_TRUE, "0", "false", "no"):
        raise UserInputError(f"{name}: {text[:20]!r} is not 1 or 0", {"parameter": name})
    return text in _TRUE


def _mapping():
    out = {}
    for item in request.args.getlist("map"):
        header, sep, field = item.partition("=")
        if not sep or not header.strip():
            raise UserInputError(f"map: {item[:80]!r} is not 'Header=field'", {"parameter": "map"})
        out[header.strip()] = field.strip()
    return out


def _file():
    upload = request.files.get("file")
    if upload is not None:
        return upload.read(), upload.filename
    if request.files:
        raise UserInputError("send the file as the multipart part 'file' or as the body",
                             {"parameter": "file"})
    return request.get_data(cache=False), request.args.get("filename")


@bp.post("/data/<model>/import")
@http.unit_of_work
def data_import(env, model):
    http.model(env, model)
    on_duplicate = (request.args.get("on_duplicate") or "error").strip()
    if on_duplicate not in imports.ON_DUPLICATE:
        raise UserInputError(f"on_duplicate: {on_duplicate[:20]!r} is not one of "
                             f"{', '.join(imports.ON_DUPLICATE)}", {"parameter": "on_duplicate"})
    dry_run = _flag("dry_run")
    ignore_unknown = _flag("ignore_unknown")
    data, filename = _file()
    lang = http.language(env)
    try:
        result = imports.run(env, model, data, filename, dry_run=dry_run, on_duplicate=on_duplicate,
                             mapping=_mapping(), ignore_unknown=ignore_unknown, lang=lang)
    except imports.ImportFileError as exc:
        raise imports.ImportFileError(imports.shown(exc.message, lang), exc.details) from None
    return http.json_response(result.as_dict(lang))
