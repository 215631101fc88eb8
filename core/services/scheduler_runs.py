"""Job runs in the database: claiming a run, running it, recording it.

Every step is its own short unit of work in the system context (source
``job``), through the model API:

1. **claim** — a scheduled time slot is claimed by creating its
   ``core.job_run`` row (state ``running``); the row is unique by (job, slot,
   attempt), and its ``lock_key`` (the job's key, unique) is set while it
   runs. Of several schedulers firing the same slot, one creates the row;
   the others' inserts are refused by the database and they move on. A
   queued run (a retry, "run now") is claimed by writing it with the
   version read: only one writer wins.
2. **run** — the job's function, ``function(env)``, in one unit of work of
   its own: its writes commit together or not at all.
3. **record** — done, or failed with the traceback (then, attempts left, a
   queued retry after ``retry_delay × 2^(attempt-1)`` seconds), in a third
   unit of work, so a failure is recorded even though the job's own
   transaction rolled back.

Nodes (``core.scheduler_node``) send a heartbeat every :data:`HEARTBEAT`
seconds; a node silent for :data:`LEASE` seconds is dead and its running
runs are taken back (:func:`reap`) — failed, and retried while attempts are
left.
"""
import datetime as dt
import importlib
import itertools
import logging
import os
import socket
import time
import traceback

from .. import __version__
from ..base.scheduler_models import DEFAULT_ATTEMPTS, DEFAULT_RETRY_DELAY
from ..errors import Conflict, KeelError, UserInputError

log = logging.getLogger("keel.scheduler")

JOB, RUN, NODE = "core.job", "core.job_run", "core.scheduler_node"
#: seconds between heartbeats; a node without one for LEASE seconds is dead
HEARTBEAT, LEASE = 15, 60
#: finished runs are kept this many days (the kernel job core.scheduler.prune)
KEEP_DAYS = 30
#: seconds the scheduler's own steps (claims, records) are tried again
#: while the database refuses them for concurrent changes; a job's own
#: transaction is run again as long before the refusal counts as a failure
PATIENCE = 30
#: the longest error text kept (a traceback's end is what matters)
ERROR_CHARS = 20000
JOB_FIELDS = ["key", "label", "function", "cron", "interval", "active", "max_attempts",
              "retry_delay"]


def system(db):
    """A unit of work of the scheduler: the system context, source ``job``."""
    return db.unit_of_work(None, context={"source": "job"})


def _retrying(step, patience=PATIENCE):
    """Run ``step()`` (one unit of work) again when the database refused it
    for a concurrent change (SQLite busy, PostgreSQL serialization) — such
    a refusal says nothing about the step itself — for up to ``patience``
    seconds, waiting a little longer each time."""
    deadline = time.monotonic() + patience
    for attempt in itertools.count():
        try:
            return step()
        except Conflict as exc:
            if not exc.details.get("retry") or time.monotonic() > deadline:
                raise
            time.sleep(min(0.02 * 2 ** attempt, 1.0))


def naive_utc(moment):
    """``moment`` as stored: naive UTC, whole seconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment.replace(microsecond=0)


def active_jobs(db):
    """The active jobs, as dicts of :data:`JOB_FIELDS` and ``id``."""
    with system(db) as env:
        return env[JOB].search_read([["active", "=", True]], JOB_FIELDS)


def job_by_key(env, key):
    rows = env[JOB].search_read([["key", "=", key]], JOB_FIELDS, limit=1)
    if not rows:
        raise UserInputError(f"unknown job {key!r} (see `keel scheduler --list`)")
    return rows[0]


# -- nodes -----------------------------------------------------------------------
def register_node(db):
    """A node for this process; its id."""
    def step():
        with system(db) as env:
            return env[NODE].create({"host": socket.gethostname(), "pid": os.getpid(),
                                     "keel_version": __version__, "started_at": env.now,
                                     "heartbeat_at": env.now}).id
    return _retrying(step)


def heartbeat(db, node_id):
    def step():
        with system(db) as env:
            env[NODE].browse(node_id).write({"heartbeat_at": env.now})
    _retrying(step)


def stop_node(db, node_id):
    def step():
        with system(db) as env:
            env[NODE].browse(node_id).write({"stopped_at": env.now, "heartbeat_at": env.now})
    _retrying(step)


def alive_nodes(env):
    """Nodes whose lease holds: heartbeat within :data:`LEASE` seconds, not stopped."""
    cutoff = env.now - dt.timedelta(seconds=LEASE)
    return env.sudo()[NODE].search_read([["heartbeat_at", ">=", cutoff], ["stopped_at", "=", None]],
                                        ["host", "pid", "started_at", "heartbeat_at",
                                         "keel_version"])


def _where(node_id):
    return {"host": socket.gethostname(), "pid": os.getpid(), "node_id": node_id}


# -- claims ------------------------------------------------------------------------
def claim_slot(db, key, slot, node_id, trigger="schedule", requested_by=None):
    """Claim the run of job ``key`` at ``slot`` (a datetime): ``(run id,
    job)`` when this process is to run it, ``None`` when another scheduler
    has it, the job is running already, or it is inactive."""
    slot = naive_utc(slot)

    def step():
        with system(db) as env:
            job = job_by_key(env, key)
            if not job["active"]:
                return None
            run = env[RUN].create({"job_id": job["id"], "scheduled_for": slot, "attempt": 1,
                                   "trigger": trigger, "state": "running", "due_at": slot,
                                   "started_at": env.now, "lock_key": key,
                                   "requested_by_id": requested_by, **_where(node_id)})
            return run.id, job
    try:
        return _retrying(step)
    except UserInputError:
        raise
    except KeelError as exc:
        # refused by a unique constraint (the slot's or the lock's): which
        # one, for the log only
        with system(db) as env:
            taken = env[RUN].search_count([["job_id.key", "=", key], ["scheduled_for", "=", slot],
                                           ["attempt", "=", 1]])
        log.info("job %s at %s: %s", key, slot, "run by another scheduler" if taken
                 else f"not started, a run of it is still running ({exc})")
        return None


def enqueue(env, key, requested_by=None):
    """Queue a run of job ``key`` due now ("run now"): a scheduler starts it
    within seconds. A request already waiting stands for a new one. Returns
    the run."""
    job = job_by_key(env, key)
    runs = env.sudo()[RUN]
    pending = runs.search([["job_id", "=", job["id"]], ["state", "=", "queued"],
                           ["trigger", "=", "manual"]], limit=1)
    if pending:
        return pending
    # slots are whole seconds: a run of this very second (a "run now" just
    # done) takes it, so this request takes the next free one
    taken = {r["scheduled_for"] for r in runs.search_read(
        [["job_id", "=", job["id"]], ["attempt", "=", 1], ["scheduled_for", ">=", env.now]],
        ["scheduled_for"])}
    slot = env.now
    while slot in taken:
        slot += dt.timedelta(seconds=1)
    return runs.create({"job_id": job["id"], "scheduled_for": slot, "attempt": 1,
                        "trigger": "manual", "state": "queued", "due_at": env.now,
                        "requested_by_id": requested_by})


def claim_queued(db, node_id, now=None, limit=20):
    """Claim due queued runs of active jobs: ``[(run id, job)]``."""
    with system(db) as env:
        now = naive_utc(now) if now else env.now
        due = env[RUN].search_read([["state", "=", "queued"], ["due_at", "<=", now],
                                    ["job_id.active", "=", True]],
                                   ["job_id", "version"], order="due_at, id", limit=limit)
        jobs = {j["id"]: j for j in env[JOB].search_read(
            [["id", "in", sorted({r["job_id"]["id"] for r in due})]], JOB_FIELDS)} if due else {}
    claimed = []
    for row in due:
        job = jobs[row["job_id"]["id"]]

        def step(row=row, job=job):
            with system(db) as env:
                env[RUN].browse(row["id"]).write({
                    "version": row["version"], "state": "running", "started_at": env.now,
                    "lock_key": job["key"], **_where(node_id)})
        try:
            _retrying(step)
        except KeelError as exc:  # taken by another scheduler, or the job is running
            log.info("queued run %s of %s not started now: %s", row["id"], job["key"], exc)
            continue
        claimed.append((row["id"], job))
    return claimed


# -- running -------------------------------------------------------------------------
def resolve(function):
    """The callable named ``module:callable``."""
    module, _sep, name = (function or "").partition(":")
    if not module or not name:
        raise UserInputError(f"job function {function!r} is not of the form module:callable")
    try:
        target = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise UserInputError(f"job function {function}: cannot be imported ({exc})") from exc
    if not callable(target):
        raise UserInputError(f"job function {function} is not callable")
    return target


def execute(db, run_id, job, config=None):
    """Run a claimed run and record its outcome; ``"done"``, ``"retrying"``
    or ``"failed"``. An exception of the job never leaves this function.

    The job's ``env.context`` holds ``source`` (``"job"``), ``job`` (its
    key), ``job_run`` (the run's id) and, when given, ``config`` (the
    process's :class:`core.config.Config`)."""
    context = {"source": "job", "job": job["key"], "job_run": run_id}
    if config is not None:
        context["config"] = config
    started = time.monotonic()
    try:
        function = resolve(job["function"])
        def step():
            with db.unit_of_work(None, context=context) as env:
                function(env)
        _retrying(step)
    except Exception:  # any failure of the job is recorded, never propagated
        error = traceback.format_exc()
        log.warning("job %s (run %s) failed: %s", job["key"], run_id, error.strip().splitlines()[-1])
        return record_failure(db, run_id, job, error, _ms(started))
    duration = _ms(started)
    log.info("job %s (run %s) done in %d ms", job["key"], run_id, duration)
    return record_done(db, run_id, duration)


def _ms(started):
    return int((time.monotonic() - started) * 1000)


def record_done(db, run_id, duration_ms):
    def step():
        with system(db) as env:
            env[RUN].browse(run_id).write({"state": "done", "finished_at": env.now,
                                           "duration_ms": duration_ms, "lock_key": None})
    _retrying(step)
    return "done"


def record_failure(db, run_id, job, error, duration_ms=None, version=None):
    """The run failed: ``"retrying"`` with a queued retry while attempts are
    left, else ``"failed"``. With ``version``, only if the run has not
    changed since (two schedulers taking back the same dead run)."""
    def step():
        with system(db) as env:
            runs = env[RUN]
            run = runs.browse(run_id).read(["attempt", "scheduled_for"])[0]
            attempts = DEFAULT_ATTEMPTS if job.get("max_attempts") is None \
                else max(1, job["max_attempts"])
            retry = run["attempt"] < attempts
            values = {"state": "retrying" if retry else "failed", "finished_at": env.now,
                      "error": _clip(error), "lock_key": None}
            if duration_ms is not None:
                values["duration_ms"] = duration_ms
            if version is not None:
                values["version"] = version
            runs.browse(run_id).write(values)
            if retry:
                first = job.get("retry_delay")
                delay = max(0, DEFAULT_RETRY_DELAY if first is None else first) \
                    * 2 ** (run["attempt"] - 1)
                runs.create({"job_id": job["id"], "scheduled_for": run["scheduled_for"],
                             "attempt": run["attempt"] + 1, "trigger": "retry",
                             "state": "queued",
                             "due_at": env.now + dt.timedelta(seconds=delay)})
            return values["state"]
    return _retrying(step)


def _clip(text):
    text = text or ""
    return text if len(text) <= ERROR_CHARS else "…\n" + text[-ERROR_CHARS:]


def reap(db):
    """Take back the running runs of dead nodes (no heartbeat for
    :data:`LEASE` seconds, or gone): failed, retried while attempts are
    left. Returns how many."""
    with system(db) as env:
        running = env[RUN].search_read([["state", "=", "running"]],
                                       ["job_id", "node_id", "host", "pid", "version"])
        if not running:
            return 0
        alive = {n["id"] for n in alive_nodes(env)}
        dead = [r for r in running if not r["node_id"] or r["node_id"]["id"] not in alive]
        jobs = {j["id"]: j for j in env[JOB].search_read(
            [["id", "in", sorted({r["job_id"]["id"] for r in dead})]], JOB_FIELDS)} if dead else {}
    taken = 0
    for run in dead:
        error = (f"the scheduler running it ({run['host']}, process {run['pid']}) stopped "
                 f"without finishing it: no heartbeat for {LEASE} seconds")
        try:
            record_failure(db, run["id"], jobs[run["job_id"]["id"]], error, version=run["version"])
        except KeelError as exc:  # another scheduler took it back first
            log.info("run %s: %s", run["id"], exc)
            continue
        log.warning("job %s: run %s taken back: %s", run["job_id"]["id"], run["id"], error)
        taken += 1
    return taken


# -- the kernel's job ------------------------------------------------------------------
def prune_runs(env, days=KEEP_DAYS):
    """The job ``core.scheduler.prune``: forget finished runs older than
    ``days`` days, and scheduler nodes silent as long. Returns how many runs."""
    cutoff = env.now - dt.timedelta(days=days)
    runs = env.sudo()[RUN]
    old = runs.search([["state", "in", ["done", "failed", "retrying"]],
                       ["finished_at", "<", cutoff]])
    count = len(old)
    for start in range(0, count, 1000):
        runs.browse(old.ids[start:start + 1000]).unlink()
    env.sudo()[NODE].search([["heartbeat_at", "<", cutoff]]).unlink()
    return count
