"""Administrators' pages of the platform (issue 6 points 1 and 9):

* ``/web/settings/system`` — the system monitor: Keel, Python and
  SQLAlchemy versions, the database (dialect, size), installed addons, the
  last backups, the scheduler's status and the recent job failures;
* ``/web/settings/jobs`` — the scheduled jobs with their schedule, last
  run and next time; "run now" (``POST …/jobs/ID/run``: a queued run that
  a scheduler starts within seconds) and activate/deactivate
  (``POST …/jobs/ID/active``).

A run's details (its traceback) are the generic form ``/web/core.job_run/ID``.
Administrators only: anyone else gets the 403 page, as on other settings
pages.
"""
import logging
import os
import platform
import sqlite3

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for

from .. import __version__
from ..errors import AccessDenied, NotFound
from ..i18n import translate
from ..services import scheduler_runs as runs
from ..services.scheduler import next_slot, trigger_of
from . import bp
from .context import page
from .i18n import best_language, gettext

log = logging.getLogger(__name__)

SYSTEM, JOBS = "/web/settings/system", "/web/settings/jobs"
#: failed runs shown on the system page, backups listed
FAILURES_SHOWN, BACKUPS_SHOWN = 10, 5


def _require_admin(env):
    if not env.access.unrestricted:
        raise AccessDenied("only administrators may see the system's state",
                           {"operation": "system"})


def human_size(size):
    """``1536`` -> ``"1.5 KB"``."""
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def database_info(env):
    """``{"dialect", "name", "size"}`` of the unit of work's database."""
    conn = env.conn
    url = conn.engine.url
    if conn.dialect.name == "sqlite":
        path = url.database or ""
        size = None
        if path and path != ":memory:" and os.path.exists(path):
            size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        return {"dialect": "SQLite", "name": os.path.basename(path) or path, "size": size,
                "server": sqlite3.sqlite_version}
    size = conn.execute(sa.select(sa.func.pg_database_size(sa.func.current_database()))).scalar()
    server = conn.execute(sa.text("SHOW server_version")).scalar()
    return {"dialect": "PostgreSQL", "name": url.database, "size": size, "server": server}


def addons_info(env):
    """Installed addons: name, label, version (installed and available)."""
    available = env.db.available
    rows = env["core.addon"].search_read([["state", "=", "installed"]], ["name", "addon_version"])
    lang = best_language()
    out = []
    for row in rows:
        manifest = available.get(row["name"])
        label = getattr(manifest, "label", None) or row["name"]
        out.append({"name": row["name"], "label": translate(label, lang),
                    "version": row["addon_version"],
                    "code_version": getattr(manifest, "version", None)})
    return out


def backups_info():
    """The newest backups (``core.services.backup.list_backups``), or
    ``(None, reason)`` when they cannot be listed."""
    try:
        from ..services.backup import list_backups
        config = current_app.extensions.get("keel.config")
        return list_backups(config)[:BACKUPS_SHOWN], None
    except (ImportError, AttributeError):
        return None, gettext("Backups are not available in this installation.")
    except Exception as exc:  # a folder not readable: say so on the page
        log.warning("cannot list backups: %s", exc)
        return None, str(exc)


def scheduler_info(env):
    """Nodes alive, the last run, runs queued and running."""
    system = env.sudo()
    last = system[runs.RUN].search_read([["state", "in", ["done", "failed", "retrying"]]],
                                        ["job_id", "state", "finished_at"],
                                        order="finished_at desc, id desc", limit=1)
    counts = {row["state"]: row["id:count"] for row in system[runs.RUN].read_group(
        [["state", "in", ["queued", "running"]]], ["state"], ["id:count"])}
    return {"nodes": runs.alive_nodes(env), "last": last[0] if last else None,
            "queued": counts.get("queued", 0), "running": counts.get("running", 0),
            "lease": runs.LEASE}


def failures(env, limit=FAILURES_SHOWN):
    rows = env.sudo()[runs.RUN].search_read(
        [["state", "in", ["failed", "retrying"]]],
        ["job_id", "state", "attempt", "finished_at", "error"], order="finished_at desc, id desc",
        limit=limit)
    for row in rows:
        lines = (row["error"] or "").strip().splitlines()
        row["error_line"] = lines[-1] if lines else ""
    return rows


def _state_labels(env):
    field = env.registry[runs.RUN].fields["state"]
    return {value: gettext(label) for value, label in field.options}


@bp.get(SYSTEM)
@page
def system_page(env):
    _require_admin(env)
    backups, backups_error = backups_info()
    return render_template(
        "web/system.html", version=__version__, python=platform.python_version(),
        sqlalchemy=sa.__version__, database=database_info(env), addons=addons_info(env),
        backups=backups, backups_error=backups_error, scheduler=scheduler_info(env),
        failures=failures(env), states=_state_labels(env), human_size=human_size,
        job_label=lambda label: translate(label, best_language()))


def jobs_info(env):
    """Every job with its schedule, last run and next time."""
    system = env.sudo()
    jobs = system[runs.JOB].search_read([], runs.JOB_FIELDS + ["addon"])
    last_ids = {row["job_id"]["id"]: row["id:max"] for row in system[runs.RUN].read_group(
        [["state", "!=", "queued"]], ["job_id"], ["id:max"])}
    last = {r["id"]: r for r in system[runs.RUN].browse(sorted(last_ids.values())).read(
        ["state", "started_at", "duration_ms"])} if last_ids else {}
    queued = {row["job_id"]["id"] for row in system[runs.RUN].read_group(
        [["state", "=", "queued"]], ["job_id"], ["id:count"])}
    lang = best_language()
    for job in jobs:
        job["label"] = translate(job["label"], lang)
        job["last"] = last.get(last_ids.get(job["id"]))
        job["queued"] = job["id"] in queued
        try:
            job["next_at"] = next_slot(trigger_of(job)) if job["active"] else None
            job["schedule_error"] = None
        except Exception as exc:  # a bad schedule is shown, not a 500
            job["next_at"], job["schedule_error"] = None, str(exc)
        if job["next_at"] is not None:
            job["next_at"] = job["next_at"].replace(tzinfo=None) \
                if job["next_at"].utcoffset() is None else runs.naive_utc(job["next_at"])
    return jobs


@bp.get(JOBS)
@page
def jobs_page(env):
    _require_admin(env)
    return render_template("web/system_jobs.html", jobs=jobs_info(env), states=_state_labels(env),
                           alive=bool(runs.alive_nodes(env)))


def _job(env, job_id):
    _require_admin(env)
    rows = env[runs.JOB].search_read([["id", "=", job_id]], ["key", "label", "active"])
    if not rows:
        raise NotFound(f"core.job {job_id} does not exist")
    return rows[0]


@bp.post(JOBS + "/<int:job_id>/run")
@page
def job_run_now(env, job_id):
    job = _job(env, job_id)
    if not job["active"]:
        flash(gettext("Activate the job first: an inactive job does not run."), "error")
        return redirect(url_for("web.jobs_page"))
    runs.enqueue(env, job["key"], requested_by=env.uid)
    if runs.alive_nodes(env):
        flash(gettext("%(job)s will start within a few seconds.",
                      job=translate(job["label"], best_language())), "success")
    else:
        flash(gettext("%(job)s is queued, but no scheduler is running: it starts when "
                      "one does.", job=translate(job["label"], best_language())),
              "error")
    return redirect(url_for("web.jobs_page"))


@bp.post(JOBS + "/<int:job_id>/active")
@page
def job_set_active(env, job_id):
    job = _job(env, job_id)
    active = request.form.get("active") == "1"
    env[runs.JOB].browse(job_id).write({"active": active})
    label = translate(job["label"], best_language())
    flash(gettext("%(job)s is active.", job=label) if active
          else gettext("%(job)s is inactive: it will not run until activated again.", job=label),
          "success")
    return redirect(url_for("web.jobs_page"))

