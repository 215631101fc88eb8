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

A file of more than :data:`BACKGROUND_ROWS` rows is imported in the
background (:func:`_start`): a thread of the web process runs the same
service in its own unit of work as the user — one transaction, all or
nothing — while the browser is sent to the import's page
(``/web/MODEL/import/status?upload=…``), which shows the progress of the
checking and then of the writing, and at the end the result, or the bad
rows with their download. The progress is kept beside the upload, in its
``.json`` file (rewritten atomically), so that any request — a reload,
another worker process of the same host, which the upload's folder already
assumes — reads it; a run whose process is gone shows as interrupted
(nothing was written: its transaction never committed). The page refreshes
itself (``<meta http-equiv=refresh>`` without JavaScript; with it,
``import_progress.js`` polls ``/web/MODEL/import/progress?upload=…``).
"""
import json
import logging
import os
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path

from flask import Response, current_app, flash, jsonify, redirect, render_template, request
from flask_login import current_user, login_required

from ..errors import KeelError, NotFound, UserInputError
from ..i18n import _, translate
from ..services import imports
from ..services.imports import columns as import_columns
from . import bp
from .context import error_page, page, unit_of_work
from .i18n import best_language, gettext
from .session import database

log = logging.getLogger("keel.web.imports")

#: uploads older than this are removed (seconds)
KEEP = 24 * 3600
#: files with more rows than this are imported in the background
BACKGROUND_ROWS = 2000
#: a background import whose progress has not moved for this long, in a
#: process that cannot be checked, is shown as interrupted (seconds)
STALE = 15 * 60
#: seconds between two progress writes of a background import
PROGRESS_EVERY = 0.3
#: problems kept for the page of a failed background import
SHOWN_PROBLEMS = 1000
#: background imports running in this process: upload token -> thread
_RUNNING = {}


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


def _paths(token, uid=None):
    if not token or not all(c.isalnum() or c in "-_" for c in token) or len(token) > 64:
        raise NotFound("no such upload")
    base = _folder() / f"{current_user.id if uid is None else uid}-{token}"
    return base.with_suffix(".bin"), base.with_suffix(".json")


def _load(token):
    data_path, meta_path = _paths(token)
    try:
        return data_path.read_bytes(), json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserInputError(gettext("The uploaded file is gone: upload it again.")) from None


def _load_data(token, uid=None):
    try:
        return _paths(token, uid)[0].read_bytes()
    except OSError:
        return None


def _save_meta(token, meta, uid=None):
    _data, meta_path = _paths(token, uid)
    part = meta_path.with_name(meta_path.name + f".{threading.get_ident()}.part")
    part.write_text(json.dumps(meta, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(part, meta_path)  # a reader never sees half a file


def _read_meta(token, uid=None):
    try:
        return json.loads(_paths(token, uid)[1].read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise NotFound("no such upload") from None


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
        _save_meta(token, {**stored, "rows": result.rows})
    choices = [(name, translate(label, lang)) for name, label in import_columns.choices(env, meta)]
    table = result.table
    return render_template(
        "web/import_preview.html", model=model, model_label=translate(meta.label, lang), token=token,
        options=options, result=result, table=table, choices=choices, lang=lang,
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
        data, stored = _load(token)
        if _job_state(stored) == "running":
            return redirect(_status_url(model, token), 303)
        rows = stored.get("rows")
        if rows is None:
            rows = len(imports.read(data, stored.get("filename")).rows)
        if rows > BACKGROUND_ROWS:
            _start(model, token, data, stored, options)
            return redirect(_status_url(model, token), 303)
        with unit_of_work() as env:
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
            return render_template("web/import.html", model=model,
                                   error=imports.shown(exc.message, best_language()),
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
    content, suffix = imports.rejects(result.table, result.problems, best_language())
    name = os.path.splitext(stored.get("filename") or "import")[0] + "-rejects" + suffix
    kind = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if suffix == ".xlsx"
            else "text/csv")
    from urllib.parse import quote
    return Response(content, mimetype=kind, headers={
        "Content-Disposition": f"attachment; filename=\"rejects{suffix}\"; filename*=UTF-8''{quote(name)}"})


# -- background imports ----------------------------------------------------------------------
def _status_url(model, token):
    return f"/web/{model}/import/status?upload={token}"


def _job_state(stored):
    job = stored.get("job") or {}
    state = job.get("state")
    if state == "running" and not _alive(job):
        # the run may have ended between reading ``stored`` and now: its
        # outcome is on disk then (written before its thread goes)
        try:
            again = _read_meta(job.get("token") or "").get("job") or {}
        except KeelError:
            again = {}
        if again.get("state") not in (None, "running"):
            stored["job"] = again
            return again["state"]
        return "interrupted"
    return state


def _alive(job):
    """Whether the process running ``job`` still runs it."""
    if job.get("host") == socket.gethostname():
        pid = job.get("pid")
        if pid == os.getpid():
            thread = _RUNNING.get(job.get("token"))
            return thread is not None and thread.is_alive()
        try:
            os.kill(int(pid), 0)
        except (OSError, TypeError, ValueError):
            return False
    return time.time() - float(job.get("updated") or 0) < STALE


def _start(model, token, data, stored, options):
    """Start the background import of the upload ``token``."""
    uid, lang = current_user.id, best_language()
    db = database()
    now = time.time()
    job = {"state": "running", "phase": "check", "done": 0, "total": stored.get("rows") or 0,
           "started": now, "updated": now, "host": socket.gethostname(), "pid": os.getpid(),
           "token": token, "lang": lang}
    _save_meta(token, {**stored, "job": job}, uid)
    thread = threading.Thread(target=_background, name=f"keel-import-{token[:8]}", daemon=True,
                              args=(db, uid, lang, model, token, data, stored, options, job))
    _RUNNING[token] = thread
    thread.start()


def _background(db, uid, lang, model, token, data, stored, options, job):
    """The thread of a background import: the import in one unit of work as
    the user, its progress and outcome written to the upload's ``.json``."""
    last = [0.0]

    def save(**changes):
        job.update(changes, updated=time.time())
        _save_meta(token, {**stored, "job": job}, uid)

    def progress(phase, done, total):
        now = time.monotonic()
        if phase != job["phase"] or done in (0, total) or now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            save(phase=phase, done=done, total=total)
    try:
        with db.unit_of_work(uid, context={"source": "web"}) as env:
            result = imports.run(env, model, data, stored.get("filename"), progress=progress,
                                 on_duplicate=options["on_duplicate"], mapping=options["mapping"],
                                 ignore_unknown=options["ignore_unknown"], lang=lang)
        save(state="done", created=result.created, updated_rows=result.updated,
             skipped=result.skipped, rows=result.rows)
        _paths(token, uid)[0].unlink(missing_ok=True)  # the file is no longer needed
    except imports.ImportFailed as exc:
        problems = exc.result.problems
        save(state="failed", problems=[p.as_dict(lang) for p in problems[:SHOWN_PROBLEMS]],
             more=max(0, len(problems) - SHOWN_PROBLEMS), count=len(problems))
    except KeelError as exc:
        save(state="error", message=imports.shown(exc.message, lang))
    except Exception:  # noqa: BLE001 - logged; the page says it failed, nothing was written
        log.exception("background import %s of %s failed", token, model)
        save(state="error", message=translate(_("The import failed unexpectedly; nothing was "
                                                "imported. The server log has the details."), lang))
    finally:
        _RUNNING.pop(token, None)


def _progress_of(stored):
    """What the page and the JSON answer say of the import of ``stored``."""
    state = _job_state(stored)  # first: it may find the run's outcome on disk
    job = dict(stored.get("job") or {})
    total, done = int(job.get("total") or 0), int(job.get("done") or 0)
    percent = 100 if state == "done" else (done * 100 // total if total else 0)
    if state == "running":
        message = _("Checking: %(pct)s%% (%(done)s of %(total)s rows)") if job.get("phase") == "check" \
            else _("Writing: %(pct)s%% (%(done)s of %(total)s rows)")
        text = gettext(message, pct=percent, done=done, total=total)
    elif state == "done":
        text = gettext("Imported %(n)s records (created %(c)s, updated %(u)s, skipped %(s)s).",
                       n=job.get("created", 0) + job.get("updated_rows", 0), c=job.get("created", 0),
                       u=job.get("updated_rows", 0), s=job.get("skipped", 0))
    elif state == "failed":
        text = gettext("%(n)s problem(s) in the file: nothing was imported.", n=job.get("count", 0))
    elif state == "interrupted":
        text = gettext("The import was interrupted (the server stopped): nothing was imported. "
                       "Import the file again.")
    else:
        text = job.get("message") or gettext("The import failed: nothing was imported.")
    return {"state": state or "none", "phase": job.get("phase"), "done": done, "total": total,
            "percent": percent, "text": text}


@bp.get("/web/<model>/import/status")
@page
def import_status(env, model):
    meta = _check_model(env, model)
    token = request.args.get("upload", "")
    stored = _read_meta(token)
    if not stored.get("job"):
        raise NotFound("no import of this upload")
    progress = _progress_of(stored)  # first: the run may just have ended (its outcome is read)
    job = stored["job"]
    return render_template("web/import_status.html", model=model, token=token,
                           model_label=translate(meta.label, best_language()),
                           progress=progress, problems=job.get("problems") or [],
                           more=job.get("more", 0), options=stored.get("options") or {},
                           filename=stored.get("filename") or "")


@bp.get("/web/<model>/import/progress")
@page
def import_progress(env, model):
    _check_model(env, model)
    stored = _read_meta(request.args.get("upload", ""))
    if not stored.get("job"):
        raise NotFound("no import of this upload")
    return jsonify(_progress_of(stored))
