"""The scheduler's models, menus and kernel jobs (issue 6 points 1 and 9).

* ``core.job`` — a scheduled job, shipped by an addon through ``keel_jobs``
  (stored by the installer); admins may deactivate it and change how often a
  failing run is retried.
* ``core.job_run`` — one attempt at running a job: the claim that makes one
  scheduler (of many) run it, then its outcome. Unique by (job, time slot,
  attempt); ``lock_key`` holds the job's key while the run runs (unique too),
  so that a job never runs twice at once anywhere.
* ``core.scheduler_node`` — a running ``keel scheduler`` process and its
  heartbeat (its lease): runs left ``running`` by a node whose heartbeat
  stopped are taken back by the others.

Their rows are written by :mod:`core.services.scheduler_runs` in the system
context; administrators read them (Settings › Scheduled jobs, Job runs,
System).
"""
import re

from core import fields as F
from core.config import load_config
from core.errors import UserInputError
from core.i18n import _
from core.models import Model

#: a run's states: waiting for its time (retries, "run now"), running, ended
RUN_STATES = [("queued", _("Queued")), ("running", _("Running")), ("done", _("Done")),
              ("retrying", _("Failed, will retry")), ("failed", _("Failed"))]
RUN_TRIGGERS = [("schedule", _("Schedule")), ("manual", _("Run now")), ("retry", _("Retry"))]

#: attempts of a failing job (the first included) and the first retry's
#: delay in seconds, doubled for each further retry — unless the job says
DEFAULT_ATTEMPTS, DEFAULT_RETRY_DELAY = 3, 60


def models():
    return [
        Model("core.job", _("Scheduled job"), order="key", rec_name="label", fields={
            "key": F.Char(_("Key"), required=True, unique=True, readonly=True),
            "label": F.Char(_("Label"), required=True, readonly=True, translate=True),
            "function": F.Char(_("Function"), required=True, readonly=True),
            "cron": F.Char(_("Cron"), readonly=True,
                           help=_("minute hour day month weekday, in the server's time zone")),
            "interval": F.Integer(_("Interval (s)"), readonly=True),
            "active": F.Boolean(_("Active"), default=True),
            "max_attempts": F.Integer(_("Attempts"), default=DEFAULT_ATTEMPTS,
                                      help=_("Runs of a failing job, the first included")),
            "retry_delay": F.Integer(_("First retry after (s)"), default=DEFAULT_RETRY_DELAY,
                                     help=_("Doubled for every further retry")),
            "addon": F.Char(_("Addon"), readonly=True, index=True),
        }),
        Model("core.scheduler_node", _("Scheduler process"), order="heartbeat_at desc",
              rec_name="host", fields={
                  "host": F.Char(_("Host"), required=True, readonly=True),
                  "pid": F.Integer(_("Process id"), readonly=True),
                  "keel_version": F.Char(_("Keel version"), readonly=True),
                  "started_at": F.Datetime(_("Started at"), readonly=True),
                  "heartbeat_at": F.Datetime(_("Last heartbeat"), readonly=True, index=True),
                  "stopped_at": F.Datetime(_("Stopped at"), readonly=True),
              }),
        Model("core.job_run", _("Job run"), order="id desc", rec_name="scheduled_for",
              unique_together=[("job_id", "scheduled_for", "attempt")], fields={
                  "job_id": F.Many2one("core.job", _("Job"), required=True, ondelete="cascade",
                                       index=True, readonly=True),
                  "scheduled_for": F.Datetime(_("Scheduled for"), required=True, readonly=True),
                  "state": F.Selection(_("State"), options=RUN_STATES, required=True,
                                       default="queued", index=True, readonly=True),
                  "attempt": F.Integer(_("Attempt"), required=True, default=1, readonly=True),
                  "duration_ms": F.Integer(_("Duration (ms)"), readonly=True),
                  "started_at": F.Datetime(_("Started at"), readonly=True),
                  "finished_at": F.Datetime(_("Finished at"), index=True, readonly=True),
                  "trigger": F.Selection(_("Started by"), options=RUN_TRIGGERS,
                                         default="schedule", readonly=True),
                  "due_at": F.Datetime(_("Due at"), index=True, readonly=True),
                  "error": F.Text(_("Error"), readonly=True),
                  "host": F.Char(_("Host"), readonly=True),
                  "pid": F.Integer(_("Process id"), readonly=True),
                  "node_id": F.Many2one("core.scheduler_node", _("Scheduler process"),
                                        readonly=True),
                  # the job's key while this run runs, else empty: unique,
                  # so a second run of the job cannot start anywhere
                  "lock_key": F.Char(_("Lock"), unique=True, readonly=True),
                  "requested_by_id": F.Many2one("core.user", _("Requested by"), readonly=True),
              }),
    ]


def menus():
    # the System page is shown to those who may read job runs: administrators
    return [{"key": "settings.jobs", "label": _("Scheduled jobs"), "parent": "settings",
             "model": "core.job", "url": "/web/settings/jobs", "sequence": 60},
            {"key": "settings.job_runs", "label": _("Job runs"), "parent": "settings",
             "model": "core.job_run", "sequence": 61},
            {"key": "settings.system", "label": _("System"), "parent": "settings",
             "model": "core.job_run", "url": "/web/settings/system", "sequence": 95}]


_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def backup_cron(value):
    """The crontab of the daily backup at ``value`` (config ``backup_time``,
    ``HH:MM`` in the server's time zone): ``"02:00"`` -> ``"0 2 * * *"``."""
    match = _HHMM.match(str(value or "").strip())
    if not match:
        raise UserInputError(f"config: backup_time {value!r} is not a time of day as HH:MM "
                             "(00:00 to 23:59), e.g. \"02:00\"")
    return f"{int(match.group(2))} {int(match.group(1))} * * *"


def jobs():
    return [{"key": "core.scheduler.prune", "label": _("Prune old job runs"),
             "function": "core.services.scheduler_runs:prune_runs", "cron": "40 3 * * *"},
            {"key": "core.backup.daily", "label": _("Daily backup"),
             "function": "core.services.backup:scheduled_backup",
             "cron": backup_cron(load_config().backup_time)}]
