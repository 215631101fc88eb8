"""The scheduler (issue 6 point 1): jobs declared through ``keel_jobs`` run
on APScheduler, each time slot exactly once however many schedulers run
against the database; runs are recorded; a failing job is retried with
back-off and never stops the others; runs of a dead scheduler are taken
back; ``keel scheduler`` on the command line."""
import datetime as dt
import itertools
import os
import signal
import subprocess
import threading
import time

import pytest

from core import fields as F
from core import hookimpl
from core.base.scheduler_models import backup_cron
from core.config import load_config
from core.db import Database
from core.errors import UserInputError
from core.models import Model
from core.services import scheduler_runs as runs
from core.services.scheduler import Scheduler, latest_slot, next_slot, trigger_of

from .conftest import addon_module, available_with
from .test_cli import KEEL, ok, refused, run  # noqa: F401  (run: a fixture)

UTC = dt.timezone.utc
#: a time slot of the tests' jobs (interval 60 s): a whole minute
T0 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


# -- the test addon's jobs (import paths: tests.test_scheduler:…) -------------------------
def tick_job(env):
    """Records the run it belongs to."""
    env["jobtest.tick"].create({"job": env.context["job"], "run": env.context["job_run"]})


def boom_job(env):
    """Writes, then fails: the write must not stay."""
    env["jobtest.tick"].create({"job": env.context["job"], "run": env.context["job_run"]})
    raise RuntimeError("客户同步失败 boom")


def slow_job(env):
    """Runs longer than its interval (1 s)."""
    time.sleep(1.6)
    env["jobtest.tick"].create({"job": env.context["job"], "run": env.context["job_run"]})


JOBS = [{"key": "jobtest.tick", "label": "Tick", "function": "tests.test_scheduler:tick_job",
         "interval": 60},
        {"key": "jobtest.boom", "label": "Boom", "function": "tests.test_scheduler:boom_job",
         "interval": 60},
        {"key": "jobtest.daily", "label": "Daily", "function": "tests.test_scheduler:tick_job",
         "cron": "0 2 * * *"}]


def jobtest_addon(jobs=JOBS):
    return addon_module(
        "jobtest", keel_jobs=hookimpl(lambda: jobs),
        keel_models=hookimpl(lambda: [Model("jobtest.tick", "Tick", fields={
            "job": F.Char("Job"), "run": F.Integer("Run")})]))


@pytest.fixture
def jdb(make_db):
    """A database with the test addon; the kernel's jobs are deactivated
    (the daily backup writes files, reminders are tested elsewhere)."""
    db = make_db(addons=["jobtest"], available=available_with(jobtest_addon()))
    with runs.system(db) as env:
        env["core.job"].search([["addon", "=", "base"]]).write({"active": False})
    return db


def run_rows(db, key=None, fields=("state", "attempt", "scheduled_for", "due_at", "error",
                                   "duration_ms", "started_at", "finished_at", "host", "pid",
                                   "lock_key", "trigger")):
    with runs.system(db) as env:
        domain = [["job_id.key", "=", key]] if key else []
        return env["core.job_run"].search_read(domain, list(fields), order="id")


def ticks(db, key="jobtest.tick"):
    with runs.system(db) as env:
        return env["jobtest.tick"].search_read([["job", "=", key]], ["run"])


def only(db, *keys):
    """Leave only these jobs active."""
    with runs.system(db) as env:
        env["core.job"].search([["key", "not in", list(keys)]]).write({"active": False})


# -- registration ------------------------------------------------------------------------
def test_jobs_are_registered_from_keel_jobs(jdb):
    with runs.system(jdb) as env:
        jobs = {j["key"]: j for j in env["core.job"].search_read(
            [], ["key", "function", "cron", "interval", "addon", "max_attempts", "retry_delay"])}
    assert jobs["jobtest.tick"]["addon"] == "jobtest" and jobs["jobtest.tick"]["interval"] == 60
    assert jobs["jobtest.tick"]["max_attempts"] == 3 and jobs["jobtest.tick"]["retry_delay"] == 60
    assert jobs["core.backup.daily"]["function"] == "core.services.backup:scheduled_backup"
    assert jobs["core.backup.daily"]["cron"] == "0 2 * * *"  # config backup_time 02:00
    assert jobs["core.scheduler.prune"]["addon"] == "base"
    assert jobs["core.approvals.remind"]["interval"] == 3600


def test_backup_time_from_config(monkeypatch):
    assert backup_cron("02:00") == "0 2 * * *"
    assert backup_cron("7:30") == "30 7 * * *"
    for bad in ("25:00", "2", "02:60", "两点", ""):
        with pytest.raises(UserInputError, match="backup_time"):
            backup_cron(bad)
    monkeypatch.setenv("KEEL_BACKUP_TIME", "23:15")
    assert backup_cron(load_config().backup_time) == "15 23 * * *"


def test_slots_of_cron_and_interval_triggers():
    hourly = trigger_of({"key": "k", "interval": 3600})
    assert latest_slot(hourly, T0 + dt.timedelta(minutes=59, seconds=59)) == T0
    assert next_slot(hourly, T0) == T0 + dt.timedelta(hours=1)
    daily = trigger_of({"key": "k", "cron": "30 2 * * *"})
    now = dt.datetime.now().astimezone()
    slot = latest_slot(daily, now)
    assert slot <= now < slot + dt.timedelta(days=1) and (slot.hour, slot.minute) == (2, 30)
    assert next_slot(daily, now) > now
    with pytest.raises(UserInputError, match="job k: bad schedule"):
        trigger_of({"key": "k", "cron": "61 * * * *"})
    with pytest.raises(UserInputError, match="neither cron nor interval"):
        trigger_of({"key": "k"})


# -- running -------------------------------------------------------------------------------
def test_a_job_runs_and_its_run_is_recorded(jdb):
    only(jdb, "jobtest.tick")
    done = Scheduler(jdb).run_once(T0 + dt.timedelta(seconds=5))
    assert done == [("jobtest.tick", "done")]
    [row] = run_rows(jdb, "jobtest.tick")
    assert row["state"] == "done" and row["attempt"] == 1 and row["trigger"] == "schedule"
    assert row["scheduled_for"] == T0.replace(tzinfo=None)
    assert row["duration_ms"] >= 0 and row["started_at"] <= row["finished_at"]
    assert row["host"] and row["pid"] and row["lock_key"] is None
    assert [t["run"] for t in ticks(jdb)] == [row["id"]]
    # the same slot again: already run, nothing happens
    assert Scheduler(jdb).run_once(T0 + dt.timedelta(seconds=30)) == []
    assert len(run_rows(jdb, "jobtest.tick")) == 1
    # the node said goodbye
    with runs.system(jdb) as env:
        assert env["core.scheduler_node"].search_count([["stopped_at", "=", None]]) == 0
        assert runs.alive_nodes(env) == []


def test_failing_job_is_retried_with_back_off_then_failed_and_others_still_run(jdb):
    only(jdb, "jobtest.tick", "jobtest.boom")
    service = Scheduler(jdb)
    done = dict(service.run_once(T0))
    assert done == {"jobtest.tick": "done", "jobtest.boom": "retrying"}
    assert ticks(jdb, "jobtest.boom") == []  # the failed run's write was rolled back
    first, retry = run_rows(jdb, "jobtest.boom")
    assert first["state"] == "retrying" and "客户同步失败 boom" in first["error"]
    assert "Traceback" in first["error"] and "boom_job" in first["error"]
    assert retry["state"] == "queued" and retry["attempt"] == 2 and retry["trigger"] == "retry"
    assert retry["due_at"] - first["finished_at"] == dt.timedelta(seconds=60)
    assert retry["scheduled_for"] == first["scheduled_for"]
    # not due yet: nothing runs
    service.start_node()
    try:
        assert service.run_queued() == []
        later = dt.datetime.now(UTC) + dt.timedelta(seconds=61)
        assert service.run_queued(later) == [("jobtest.boom", "retrying")]
        third = run_rows(jdb, "jobtest.boom")[-1]
        second = run_rows(jdb, "jobtest.boom")[1]
        assert third["attempt"] == 3 and third["due_at"] - second["finished_at"] == dt.timedelta(seconds=120)
        assert service.run_queued(later) == []  # 2 minutes, not 1
        assert service.run_queued(later + dt.timedelta(seconds=121)) == [("jobtest.boom", "failed")]
    finally:
        service.stop_node()
    states = [(r["attempt"], r["state"]) for r in run_rows(jdb, "jobtest.boom")]
    assert states == [(1, "retrying"), (2, "retrying"), (3, "failed")]  # no fourth attempt
    assert [r["state"] for r in run_rows(jdb, "jobtest.tick")] == ["done"]
    # the next slot runs again from attempt 1
    assert dict(Scheduler(jdb).run_once(T0 + dt.timedelta(minutes=1)))["jobtest.tick"] == "done"


def test_attempts_and_delay_are_set_per_job(jdb):
    only(jdb, "jobtest.boom")
    with runs.system(jdb) as env:
        env["core.job"].search([["key", "=", "jobtest.boom"]]).write(
            {"max_attempts": 1, "retry_delay": 5})
    assert Scheduler(jdb).run_once(T0) == [("jobtest.boom", "failed")]
    assert [r["state"] for r in run_rows(jdb, "jobtest.boom")] == ["failed"]


def test_an_inactive_job_does_not_run(jdb):
    only(jdb)
    assert Scheduler(jdb).run_once(T0) == []
    with pytest.raises(UserInputError, match="inactive or running"):
        Scheduler(jdb).run_now("jobtest.tick")
    with pytest.raises(UserInputError, match="unknown job"):
        Scheduler(jdb).run_now("nope")


def test_run_now_and_queued_requests(jdb):
    only(jdb, "jobtest.tick")
    run_id, outcome = Scheduler(jdb).run_now("jobtest.tick")
    assert outcome == "done" and run_rows(jdb)[-1]["trigger"] == "manual"
    with runs.system(jdb) as env:
        queued = runs.enqueue(env, "jobtest.tick")
        assert runs.enqueue(env, "jobtest.tick") == queued  # one request is enough
    service = Scheduler(jdb)
    service.start_node()
    try:
        assert service.run_queued() == [("jobtest.tick", "done")]
    finally:
        service.stop_node()
    assert [t["run"] for t in ticks(jdb)] == [run_id, queued.id]


# -- several schedulers ------------------------------------------------------------------------
def test_two_schedulers_run_each_slot_once(jdb):
    """Two schedulers, each with its own engine, fire the same five slots
    at the same moments: every slot runs exactly once."""
    only(jdb, "jobtest.tick")
    url = jdb.engine.url.render_as_string(hide_password=False)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def scheduler():
        db = Database(url, available=jdb.available)
        try:
            for n in range(5):
                barrier.wait(timeout=30)
                outcomes.extend(Scheduler(db).run_once(T0 + dt.timedelta(minutes=n, seconds=1)))
        except Exception as exc:  # pragma: no cover - shown by the assertion
            errors.append(exc)
        finally:
            db.dispose()
    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    assert outcomes == [("jobtest.tick", "done")] * 5
    rows = run_rows(jdb, "jobtest.tick")
    assert sorted(r["scheduled_for"] for r in rows) == [
        (T0 + dt.timedelta(minutes=n)).replace(tzinfo=None) for n in range(5)]
    assert len(ticks(jdb)) == 5


def serve_two(jdb, key, function, seconds):
    """Job ``key`` (every second) served by two schedulers on APScheduler,
    each in a thread with its own engine, for ``seconds``: its runs."""
    with runs.system(jdb) as env:
        env["core.job"].create({"key": key, "label": key, "function": function, "interval": 1,
                                "addon": "jobtest"})
    only(jdb, key)
    url = jdb.engine.url.render_as_string(hide_password=False)
    services = [Scheduler(Database(url, available=jdb.available), workers=3, poll=1)
                for _ in range(2)]
    threads = [threading.Thread(target=s.serve, kwargs={"install_signals": False})
               for s in services]
    for t in threads:
        t.start()
    time.sleep(seconds)
    for s in services:
        s.stop()
    for t in threads:
        t.join(timeout=60)
    for s in services:
        s.db.dispose()
    with runs.system(jdb) as env:
        assert runs.alive_nodes(env) == []  # both stopped cleanly
    return run_rows(jdb, key)


def test_two_serving_schedulers_run_each_slot_once(jdb):
    fast = serve_two(jdb, "jobtest.fast", "tests.test_scheduler:tick_job", 3.5)
    slots = [r["scheduled_for"] for r in fast]
    assert len(slots) >= 2 and len(set(slots)) == len(slots)
    assert all(r["state"] == "done" for r in fast)
    assert len(ticks(jdb, "jobtest.fast")) == len(fast)


def test_a_job_longer_than_its_interval_never_runs_twice_at_once(jdb):
    slow = serve_two(jdb, "jobtest.slow", "tests.test_scheduler:slow_job", 4)
    done = [r for r in slow if r["state"] == "done"]
    assert 1 <= len(done) <= 3 and len(slow) == len(done)
    spans = sorted((r["started_at"], r["finished_at"]) for r in done)
    for (_s1, end), (start, _e2) in itertools.pairwise(spans):
        assert start >= end


def test_runs_of_a_dead_scheduler_are_taken_back(jdb):
    only(jdb, "jobtest.tick")
    dead = runs.register_node(jdb)
    assert runs.claim_slot(jdb, "jobtest.tick", T0, dead) is not None
    # its lock holds: the next slot cannot start while the run is running
    assert runs.claim_slot(jdb, "jobtest.tick", T0 + dt.timedelta(minutes=1), dead) is None
    assert runs.reap(jdb) == 0  # the node is alive
    with runs.system(jdb) as env:  # ... then it stops sending heartbeats
        env["core.scheduler_node"].browse(dead).write(
            {"heartbeat_at": env.now - dt.timedelta(seconds=runs.LEASE + 1)})
    done = Scheduler(jdb).run_once(T0 + dt.timedelta(minutes=1))
    assert done == [("jobtest.tick", "done")]
    rows = run_rows(jdb, "jobtest.tick")
    assert [(r["attempt"], r["state"]) for r in rows] == [(1, "retrying"), (2, "queued"), (1, "done")]
    assert "stopped without finishing" in rows[0]["error"] and rows[0]["lock_key"] is None


def test_old_runs_are_pruned(jdb):
    only(jdb, "jobtest.tick")
    for n in range(3):
        Scheduler(jdb).run_once(T0 + dt.timedelta(minutes=n))
    with runs.system(jdb) as env:
        old = env["core.job_run"].search([], order="id", limit=2)
        old.write({"finished_at": env.now - dt.timedelta(days=runs.KEEP_DAYS + 1)})
        assert runs.prune_runs(env) == 2
        assert env["core.job_run"].search_count([]) == 1


# -- the command line -------------------------------------------------------------------------
@pytest.fixture
def cli_db(make_db):
    db = make_db(addons=["crm_base"])
    with runs.system(db) as env:
        env["core.job"].search([["key", "not in", ["core.approvals.remind",
                                                   "core.scheduler.prune"]]]).write({"active": False})
        env["core.job"].create({"key": "test.broken", "label": "坏任务",
                                "function": "json:no_such_function", "interval": 3600,
                                "active": False})
        role = env["core.role"].search([["code", "=", "sales_rep"]])
        env["core.user"].create({"login": "rep", "name": "销售", "roles": list(role.ids)})
    return db


def test_keel_scheduler_once_run_and_list(cli_db, run):  # noqa: F811
    out = ok(run("scheduler", "--once"))
    assert "core.approvals.remind: done" in out and "core.scheduler.prune: done" in out
    assert "nothing due" in ok(run("scheduler", "--once"))
    assert "core.scheduler.prune: done" in ok(run("scheduler", "--run", "core.scheduler.prune"))
    listed = {r["key"]: r for r in __import__("json").loads(ok(run("scheduler", "--list", "--json")))}
    assert listed["core.scheduler.prune"]["last_state"] == "done"
    assert listed["core.backup.daily"]["active"] is False and listed["core.backup.daily"]["next_at"] is None
    assert listed["core.approvals.remind"]["next_at"]
    assert "core.approvals.remind" in ok(run("scheduler", "--list"))
    with runs.system(cli_db) as env:
        env["core.job"].search([["key", "=", "test.broken"]]).write({"active": True})
    line = refused(run("scheduler", "--run", "test.broken"))
    assert "job test.broken failed" in line and "a retry is queued" in line
    assert "unknown job 'nope'" in refused(run("scheduler", "--run", "nope"))
    assert "administrators only" in refused(run("--user", "rep", "scheduler", "--once"))
    assert refused(run("scheduler", "--once", "--run", "x"), code=2)


def test_keel_scheduler_runs_until_sigterm(cli_db, run):  # noqa: F811
    """The foreground service: runs the due job at its start (catch-up),
    then stops cleanly on SIGTERM — node recorded as stopped, exit 0."""
    url = cli_db.engine.url.render_as_string(hide_password=False)
    with runs.system(cli_db) as env:
        env["core.job"].search([]).write({"active": False})
        env["core.job"].create({"key": "test.minutely", "label": "每分钟", "interval": 60,
                                "function": "core.services.scheduler_runs:prune_runs"})
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    process = subprocess.Popen([KEEL, "--db", url, "scheduler"], cwd=run.cwd, env=environ,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not [
                r for r in run_rows(cli_db, "test.minutely") if r["state"] == "done"]:
            time.sleep(0.5)
        with runs.system(cli_db) as env:
            assert len(runs.alive_nodes(env)) == 1
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert "scheduler started" in err and "scheduler stopped" in err and "Traceback" not in err
    assert [r["state"] for r in run_rows(cli_db, "test.minutely")][:1] == ["done"]
    with runs.system(cli_db) as env:
        assert runs.alive_nodes(env) == []
        assert env["core.scheduler_node"].search_count([["stopped_at", "!=", None]]) >= 1


# -- schedules from the config ---------------------------------------------------------------
def test_backup_time_is_read_when_a_scheduler_starts(jdb):
    """A changed ``backup_time`` takes effect at the next start (no addon
    upgrade): the job row — what Settings › Scheduled jobs and ``--list``
    show — holds the effective schedule; a bad value names the key."""
    from core.services.scheduler import apply_config, configured_crons
    with runs.system(jdb) as env:
        env["core.job"].search([]).write({"active": False})  # nothing runs in run_once
    config = load_config(backup_time="23:15")
    assert configured_crons(config)["core.backup.daily"] == ("backup_time", "23:15", "15 23 * * *")
    Scheduler(jdb, config=config).run_once()
    with runs.system(jdb) as env:
        job = env["core.job"].search_read([["key", "=", "core.backup.daily"]], ["cron"])[0]
    assert job["cron"] == "15 23 * * *"
    assert apply_config(jdb, config) == {}  # unchanged: nothing written
    assert apply_config(jdb, load_config(backup_time="4:05")) == {"core.backup.daily": "5 4 * * *"}
    with pytest.raises(UserInputError, match="backup_time '25:00'"):
        Scheduler(jdb, config=load_config(backup_time="25:00")).run_once()
    with runs.system(jdb) as env:  # a bad value changed nothing
        assert env["core.job"].search_read([["key", "=", "core.backup.daily"]], ["cron"])[0]["cron"] \
            == "5 4 * * *"
        assert env["core.job_run"].search_count([]) == 0


def test_keel_scheduler_start_reads_backup_time(cli_db, run):  # noqa: F811
    environ = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    environ.pop("PYTHONPATH", None)
    url = cli_db.engine.url.render_as_string(hide_password=False)

    def keel(*args, **extra):
        return subprocess.run([KEEL, "--db", url, *args], cwd=run.cwd, env={**environ, **extra},
                              capture_output=True, text=True, timeout=60)
    ok(keel("scheduler", "--once", KEEL_BACKUP_TIME="21:30"))
    listed = {r["key"]: r for r in __import__("json").loads(ok(keel("scheduler", "--list", "--json")))}
    assert listed["core.backup.daily"]["schedule"] == "30 21 * * *"
    line = refused(keel("scheduler", "--once", KEEL_BACKUP_TIME="9点"))
    assert "backup_time" in line and "9点" in line
    assert "30 21 * * *" in ok(keel("scheduler", "--list"))
