"""The web import screen (issue 6 point 3): ``/web/MODEL/import``.

Upload (a CSV or XLSX file, what to do with duplicates) → preview: the
service's dry run (detected format and encoding, each column with a select
of the field it fills, the first rows, every bad row with its line, column
and reason, the counts) → confirm: the same service for real, in one
transaction, landing on the list with a message; any bad row found then
shows the preview again and writes nothing. The bad rows can be downloaded
as a file (``/web/MODEL/import/rejects?upload=…``) to fix and import again.

Between the steps the uploaded file waits in a private temporary folder
under a random name tied to the user (:func:`_store`); it is removed after a
successful import or after a day.
"""
import json
import os
import secrets
import tempfile
import time
from pathlib import Path

from flask import Response, current_app, flash, redirect, render_template, request
from flask_login import current_user, login_required

from ..errors import KeelError, NotFound, UserInputError
from ..i18n import translate
from ..services import imports
from ..services.imports import columns as import_columns
from . import bp
from .context import error_page, page, unit_of_work
from .i18n import best_language, gettext

#: uploads older than this are removed (seconds)
KEEP = 24 * 3600


def _folder():
    folder = Path(tempfile.gettempdir()) / "keel-imports"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _store(data, filename):
    folder = _folder()
    now = time.time()
    for old in folder.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP:
                old.unlink()
        except OSError:
            pass
    token = secrets.token_urlsafe(16)
    (folder / f"{current_user.id}-{token}.bin").write_bytes(data)
    _save_meta(token, {"filename": filename})
    return token


def _paths(token):
    if not token or not all(c.isalnum() or c in "-_" for c in token) or len(token) > 64:
        raise NotFound("no such upload")
    base = _folder() / f"{current_user.id}-{token}"
    return base.with_suffix(".bin"), base.with_suffix(".json")


def _load(token):
    data_path, meta_path = _paths(token)
    try:
        return data_path.read_bytes(), json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserInputError(gettext("The uploaded file is gone: upload it again.")) from None


def _save_meta(token, meta):
    _data, meta_path = _paths(token)
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def _drop(token):
    for path in _paths(token):
        path.unlink(missing_ok=True)


def _options():
    """What the preview form says: duplicates, unknown columns, mapping."""
    form = request.form
    on_duplicate = form.get("on_duplicate", "error")
    if on_duplicate not in imports.ON_DUPLICATE:
        raise UserInputError(f"on_duplicate: {on_duplicate!r} is not one of {', '.join(imports.ON_DUPLICATE)}")
    mapping = None
    count = form.get("columns")
    if count is not None and count.isdigit():
        mapping = {}
        for i in range(min(int(count), imports.source.MAX_COLUMNS)):
            if f"header_{i}" in form:
                mapping[form[f"header_{i}"]] = form.get(f"field_{i}", "")
    return {"on_duplicate": on_duplicate, "mapping": mapping,
            "ignore_unknown": bool(form.get("ignore_unknown"))}


def _check_model(env, model):
    if model not in env.registry.models:
        raise NotFound(f"unknown model {model}")
    env.access.check(env.registry[model], "create")
    return env.registry[model]


def _preview(env, model, token, options, result=None, status=200):
    meta = env.registry[model]
    lang = best_language()
    if result is None:
        data, stored = _load(token)
        try:
            result = imports.run(env, model, data, stored.get("filename"), dry_run=True,
                                 on_duplicate=options["on_duplicate"], mapping=options["mapping"],
                                 ignore_unknown=options["ignore_unknown"])
        except imports.ImportFailed as exc:
            result = exc.result
    choices = [(name, translate(label, lang)) for name, label in import_columns.choices(env, meta)]
    table = result.table
    return render_template(
        "web/import_preview.html", model=model, model_label=translate(meta.label, lang), token=token,
        options=options, result=result, table=table, choices=choices,
        preview=[(line, list(cells)) for line, cells in table.rows[:imports.run_module.PREVIEW]],
        problems=result.problems[:1000], more=max(0, len(result.problems) - 1000)), status


@bp.get("/web/<model>/import")
@page
def import_form(env, model):
    meta = _check_model(env, model)
    return render_template("web/import.html", model=model,
                           model_label=translate(meta.label, best_language()), error=None)


@bp.post("/web/<model>/import")
@login_required
def import_post(model):
    action = request.form.get("action", "preview")
    try:
        with unit_of_work() as env:
            _check_model(env, model)
            upload = request.files.get("file")
            if upload is not None and upload.filename:
                data = upload.read()
                limit = current_app.extensions["keel.config"].max_upload_mb * 1024 * 1024
                if len(data) > limit:
                    raise UserInputError(gettext("The file is larger than %(mb)s MB.",
                                                 mb=limit // (1024 * 1024)))
                imports.read(data, upload.filename)  # refuse what is no table at once
                token = _store(data, upload.filename)
            else:
                token = request.form.get("upload", "")
                if not token:
                    raise UserInputError(gettext("Choose a file to import."))
            options = _options()
            _save_meta(token, {**_load(token)[1], "options": options})
            if action != "confirm":
                return current_app.make_response(_preview(env, model, token, options))
        with unit_of_work() as env:
            data, stored = _load(token)
            result = imports.run(env, model, data, stored.get("filename"),
                                 on_duplicate=options["on_duplicate"], mapping=options["mapping"],
                                 ignore_unknown=options["ignore_unknown"])
        _drop(token)
        flash(gettext("Imported %(n)s records (created %(c)s, updated %(u)s, skipped %(s)s).",
                      n=result.created + result.updated, c=result.created, u=result.updated,
                      s=result.skipped), "success")
        return redirect(f"/web/{model}")
    except imports.ImportFailed as exc:
        with unit_of_work() as env:
            return current_app.make_response(_preview(env, model, token, options, exc.result, 422))
    except imports.ImportFileError as exc:
        with unit_of_work() as env:
            return render_template("web/import.html", model=model, error=str(exc),
                                   model_label=translate(env.registry[model].label, best_language())), 400
    except KeelError as exc:
        return error_page(exc)


@bp.get("/web/<model>/import/rejects")
@page
def import_rejects(env, model):
    _check_model(env, model)
    token = request.args.get("upload", "")
    data, stored = _load(token)
    options = stored.get("options") or {"on_duplicate": "error", "mapping": None, "ignore_unknown": False}
    result = imports.run(env, model, data, stored.get("filename"), dry_run=True, **options)
    content, suffix = imports.rejects(result.table, result.problems)
    name = os.path.splitext(stored.get("filename") or "import")[0] + "-rejects" + suffix
    kind = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if suffix == ".xlsx"
            else "text/csv")
    from urllib.parse import quote
    return Response(content, mimetype=kind, headers={
        "Content-Disposition": f"attachment; filename=\"rejects{suffix}\"; filename*=UTF-8''{quote(name)}"})
