"""``keel scheduler``: the jobs of ``core.job`` run on APScheduler 3.

A job's schedule is a crontab (``CronTrigger.from_crontab``, in the
server's time zone) or an interval in seconds (``IntervalTrigger``, aligned
on a fixed epoch so that every host computes the same time slots). When a
slot comes, every running scheduler tries to claim it in the database
(:mod:`core.services.scheduler_runs`): exactly one runs it. Within one
process APScheduler runs a job at most once at a time (``max_instances=1``);
across processes the run's ``lock_key`` does the same.

:class:`Scheduler` holds one process's part:

* :meth:`Scheduler.serve` — the foreground service: APScheduler fires the
  jobs' slots on a pool of worker threads (slots missed in the quarter of
  an hour before the start run at once); a control job every
  :data:`POLL` seconds takes back runs of dead schedulers, starts due
  retries and "run now" requests, and follows changes to the job list; a
  heartbeat thread renews this node's lease. SIGINT/SIGTERM (or
  :meth:`Scheduler.stop`) end it after the running jobs finish.
* :meth:`Scheduler.run_once` — run every job whose latest slot has not run
  yet, and the due queued runs, then return (``keel scheduler --once``,
  for a system cron).
* :meth:`Scheduler.run_now` — run one job now, in the foreground.
"""
import concurrent.futures
import datetime as dt
import logging
import signal
import threading

from apscheduler.executors.base import BaseExecutor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..errors import UserInputError
from . import scheduler_runs as runs

log = logging.getLogger("keel.scheduler")

#: seconds between two rounds of the control job
POLL = 5
#: slots missed this long before ``serve`` starts are run at the start
CATCH_UP = dt.timedelta(minutes=15)
#: interval slots are counted from here (every host the same)
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
#: how far back the latest slot of a crontab is looked for
_LOOKBACK = (dt.timedelta(hours=1), dt.timedelta(days=1), dt.timedelta(days=32),
             dt.timedelta(days=367))


def trigger_of(job):
    """The APScheduler trigger of a ``core.job`` row; ``UserInputError``
    naming the job when its schedule is wrong."""
    try:
        if job.get("cron"):
            return CronTrigger.from_crontab(job["cron"])
        if job.get("interval"):
            if int(job["interval"]) < 1:
                raise ValueError("the interval must be at least 1 second")
            return IntervalTrigger(seconds=int(job["interval"]), start_date=EPOCH,
                                   timezone=dt.timezone.utc)
    except ValueError as exc:
        raise UserInputError(f"job {job['key']}: bad schedule "
                             f"{job.get('cron') or job.get('interval')!r}: {exc}") from None
    raise UserInputError(f"job {job['key']}: neither cron nor interval is set")


def _backup_cron(value):
    from ..base.scheduler_models import backup_cron
    return backup_cron(value)


#: jobs whose schedule comes from a config key, read each time a scheduler
#: starts (``keel scheduler``, ``--once``, ``--run``), not only when the
#: kernel is installed: ``{job key: (config key, value -> crontab)}``. The
#: function raises ``UserInputError`` (or ``ValueError``) on a bad value.
CONFIG_SCHEDULES = {"core.backup.daily": ("backup_time", _backup_cron)}


def configured_crons(config):
    """``{job key: (config key, value, crontab)}`` of :data:`CONFIG_SCHEDULES`
    under ``config``; a bad value is a ``UserInputError`` naming the key."""
    out = {}
    for key, (config_key, to_cron) in CONFIG_SCHEDULES.items():
        value = getattr(config, config_key, None)
        try:
            cron = to_cron(value)
            CronTrigger.from_crontab(cron)
        except (UserInputError, ValueError) as exc:
            text = str(exc)
            if config_key not in text:
                text = f"config: {config_key} {value!r}: {text}"
            raise UserInputError(text, {"config": config_key}) from None
        out[key] = (config_key, value, cron)
    return out


def apply_config(db, config):
    """Store the schedules :data:`CONFIG_SCHEDULES` take from ``config`` in
    their ``core.job`` rows (the running schedulers follow them within a
    control round; Settings › Scheduled jobs and ``--list`` show them):
    ``{job key: crontab}`` of the rows changed."""
    wanted = configured_crons(config)
    changed = {}
    with runs.system(db) as env:
        rows = env[runs.JOB].search_read([["key", "in", sorted(wanted)]], ["key", "cron"])
        for row in rows:
            cron = wanted[row["key"]][2]
            if row["cron"] != cron:
                env[runs.JOB].browse(row["id"]).write({"cron": cron, "interval": None})
                changed[row["key"]] = cron
    for key, cron in changed.items():
        log.info("job %s now runs at %s (config %s)", key, cron, wanted[key][0])
    return changed


def _now():
    return dt.datetime.now(dt.timezone.utc)


def latest_slot(trigger, now=None):
    """The latest fire time of ``trigger`` at or before ``now`` (aware), or
    ``None`` when it has none within a year."""
    now = now or _now()
    if isinstance(trigger, IntervalTrigger):
        step = trigger.interval.total_seconds()
        return EPOCH + dt.timedelta(seconds=int((now - EPOCH).total_seconds() // step * step))
    for back in _LOOKBACK:
        moment = trigger.get_next_fire_time(None, now - back)
        if moment is None or moment > now:
            continue
        while True:
            following = trigger.get_next_fire_time(moment, moment + dt.timedelta(seconds=1))
            if following is None or following > now:
                return moment
            moment = following
    return None


def next_slot(trigger, now=None):
    """The next fire time of ``trigger`` after ``now`` (aware), or ``None``."""
    now = now or _now()
    return trigger.get_next_fire_time(None, now + dt.timedelta(microseconds=1))


class SlotExecutor(BaseExecutor):
    """An APScheduler executor that calls ``job.func(*job.args,
    scheduled_for=time)``: the run learns the time slot it claims
    (APScheduler's own executors do not pass it)."""

    def __init__(self, workers):
        super().__init__()
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="keel-job")

    def _do_submit_job(self, job, run_times):
        def done(future):
            exc = future.exception()
            if exc is not None:
                self._run_job_error(job.id, exc, exc.__traceback__)
            else:
                self._run_job_success(job.id, [])
        # coalesced: the latest missed time stands for the others
        future = self.pool.submit(job.func, *job.args,
                                  **{**job.kwargs, "scheduled_for": run_times[-1]})
        future.add_done_callback(done)

    def shutdown(self, wait=True):
        self.pool.shutdown(wait)


class Scheduler:
    """One scheduler process over ``db`` (a :class:`core.db.Database`);
    ``config`` (:class:`core.config.Config`) is handed to the jobs in their
    context (the backup job reads its folder from it)."""

    def __init__(self, db, workers=4, poll=POLL, config=None):
        self.db = db
        self.config = config
        self.workers = workers
        self.poll = poll
        self.node_id = None
        self._stopping = threading.Event()  # ends the heartbeat (stop_node)
        self._stop_serving = threading.Event()  # ends serve (stop, a signal)
        self._apscheduler = None
        self._executor = None
        self._schedules = {}  # job key -> (cron, interval) as scheduled
        self._beat = None

    def apply_config(self):
        """The schedules taken from the config (:func:`apply_config`), when
        this scheduler has one."""
        if self.config is not None:
            apply_config(self.db, self.config)

    # -- this node's lease ------------------------------------------------------
    def start_node(self):
        self.node_id = runs.register_node(self.db)
        self._beat = threading.Thread(target=self._heartbeat, name="keel-heartbeat", daemon=True)
        self._beat.start()
        return self.node_id

    def _heartbeat(self):
        while not self._stopping.wait(runs.HEARTBEAT):
            try:
                runs.heartbeat(self.db, self.node_id)
            except Exception:  # the database away for a moment: try again next time
                log.exception("heartbeat failed")

    def stop_node(self):
        """End the heartbeat and record that this node stopped."""
        self._stopping.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        if self.node_id is not None:
            runs.stop_node(self.db, self.node_id)
        self.node_id, self._beat, self._stopping = None, None, threading.Event()

    # -- one run ------------------------------------------------------------------
    def fire(self, key, scheduled_for):
        """A slot of job ``key`` came: claim it, run it if this process won.
        Returns the outcome (``None``: not run here)."""
        claim = runs.claim_slot(self.db, key, scheduled_for, self.node_id)
        if claim is None:
            return None
        run_id, job = claim
        return runs.execute(self.db, run_id, job, self.config)

    def run_queued(self, now=None):
        """Run the due queued runs (retries, "run now") one after the other:
        ``[(key, outcome)]``."""
        done = []
        while True:
            claimed = runs.claim_queued(self.db, self.node_id, now)
            if not claimed:
                return done
            for run_id, job in claimed:
                done.append((job["key"], runs.execute(self.db, run_id, job, self.config)))

    # -- modes --------------------------------------------------------------------
    def run_once(self, now=None):
        """Every active job whose latest slot (at or before ``now``) has not
        been run, then the due queued runs: ``[(key, outcome)]`` of the runs
        done here. Runs of dead schedulers are taken back first."""
        now = now or _now()
        self.apply_config()
        own = self.node_id is None
        if own:
            self.start_node()
        try:
            runs.reap(self.db)
            done = []
            for job in runs.active_jobs(self.db):
                try:
                    slot = latest_slot(trigger_of(job), now)
                except UserInputError as exc:
                    log.error("%s", exc)
                    continue
                if slot is not None:
                    outcome = self.fire(job["key"], slot)
                    if outcome is not None:
                        done.append((job["key"], outcome))
            return done + self.run_queued(now)
        finally:
            if own:
                self.stop_node()

    def run_now(self, key, requested_by=None):
        """Run job ``key`` now in this process: ``(run id, outcome)``;
        ``UserInputError`` when it is inactive or already running."""
        self.apply_config()
        own = self.node_id is None
        if own:
            self.start_node()
        try:
            claim = runs.claim_slot(self.db, key, _now(), self.node_id, trigger="manual",
                                    requested_by=requested_by)
            if claim is None:
                raise UserInputError(f"job {key} is inactive or running already; "
                                     "see Settings › Job runs")
            run_id, job = claim
            return run_id, runs.execute(self.db, run_id, job, self.config)
        finally:
            if own:
                self.stop_node()

    def serve(self, install_signals=True):
        """Run jobs until SIGINT/SIGTERM or :meth:`stop`."""
        self.apply_config()  # before anything runs: a bad value stops the start
        self.start_node()
        self._executor = SlotExecutor(self.workers)
        self._apscheduler = BackgroundScheduler(
            executors={"default": self._executor, "control": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None})
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_args: self.stop())
        try:
            self.sync_jobs()
            self._apscheduler.add_job(self.control, IntervalTrigger(seconds=self.poll),
                                      id="keel.control", executor="control",
                                      next_run_time=_now())
            self._apscheduler.start()
            self._catch_up()
            log.info("scheduler started (node %s, %d jobs)", self.node_id, len(self._schedules))
            self._stop_serving.wait()
        finally:
            if self._apscheduler.running:
                self._apscheduler.shutdown(wait=False)
            self._executor.shutdown(wait=True)  # running jobs finish and record
            self.stop_node()
            log.info("scheduler stopped")

    def _catch_up(self):
        """Slots missed within :data:`CATCH_UP` before the start (a restart
        at 02:01 still makes the 02:00 backup), unless another scheduler ran
        them."""
        now = _now()
        for key, (cron, interval) in self._schedules.items():
            trigger = trigger_of({"key": key, "cron": cron, "interval": interval})
            slot = latest_slot(trigger, now)
            if slot is not None and now - slot <= CATCH_UP:
                self._executor.pool.submit(self.fire, key, slot)

    def stop(self):
        """End :meth:`serve`: no new runs; the running ones finish and are
        recorded while the heartbeat goes on (so no other scheduler takes
        them back meanwhile)."""
        self._stop_serving.set()

    def control(self):
        """A round of the control job: take back dead runs, start due queued
        runs on the workers, follow the job list."""
        if self._stop_serving.is_set():
            return
        try:
            runs.reap(self.db)
            self.sync_jobs()
            for run_id, job in runs.claim_queued(self.db, self.node_id, limit=self.workers):
                self._executor.pool.submit(runs.execute, self.db, run_id, job, self.config)
        except Exception:  # logged; the next round tries again
            log.exception("scheduler control round failed")

    def sync_jobs(self):
        """Schedule the active jobs of ``core.job``: new ones added, changed
        ones rescheduled, deactivated or removed ones dropped."""
        wanted = {}
        for job in runs.active_jobs(self.db):
            try:
                wanted[job["key"]] = (job, trigger_of(job))
            except UserInputError as exc:
                log.error("%s", exc)
        for key in list(self._schedules):
            if key not in wanted:
                self._apscheduler.remove_job(key)
                del self._schedules[key]
        for key, (job, trigger) in wanted.items():
            schedule = (job["cron"], job["interval"])
            if self._schedules.get(key) == schedule:
                continue
            if key in self._schedules:
                self._apscheduler.remove_job(key)
            # scheduled_for: filled by SlotExecutor with the fire time
            self._apscheduler.add_job(self.fire, trigger, args=[key], kwargs={"scheduled_for": None},
                                      id=key, name=job["label"], executor="default")
            self._schedules[key] = schedule
