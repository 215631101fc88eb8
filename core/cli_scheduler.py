"""``keel scheduler``: run the scheduled jobs (CONTRACT.md §2).

* ``keel scheduler`` — in the foreground until SIGINT/SIGTERM, beside the
  web server (several may run on several hosts: each run happens once);
* ``--once`` — run every job whose latest time has come and not run yet,
  and the due retries, then exit (for a system cron: ``* * * * *``);
* ``--run KEY`` — run one job now and say how it went (exit 1 if it failed);
* ``--list [--json]`` — the jobs: key, schedule, active, last run, next run.

Jobs always run in the system context; ``--run`` and ``--once`` are for
administrators (``--user``).
"""
import json
import logging

import click

from .errors import AccessDenied, UserInputError
from .services import scheduler_runs as runs
from .services.scheduler import Scheduler, next_slot, trigger_of


def _require_admin(obj):
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        if not env.access.unrestricted:
            raise AccessDenied(f"user {obj.user!r} may not run scheduled jobs: administrators only")
        return db, env.uid


def job_rows(db):
    """Every job with its last run and next time: the rows of ``--list``."""
    with runs.system(db) as env:
        jobs = env[runs.JOB].search_read([], runs.JOB_FIELDS + ["addon"])
        last = {}
        for row in env[runs.RUN].read_group([["state", "!=", "queued"]], ["job_id"],
                                            ["id:max"]):
            last[row["job_id"]["id"]] = row["id:max"]
        states = {r["id"]: r for r in env[runs.RUN].browse(sorted(last.values())).read(
            ["state", "started_at"])} if last else {}
    out = []
    for job in jobs:
        try:
            upcoming = next_slot(trigger_of(job)) if job["active"] else None
            schedule_error = None
        except UserInputError as exc:
            upcoming, schedule_error = None, str(exc)
        run = states.get(last.get(job["id"]))
        out.append({"key": job["key"], "label": job["label"], "addon": job["addon"],
                    "schedule": job["cron"] or f"every {job['interval']} s",
                    "active": job["active"], "last_state": run["state"] if run else None,
                    "last_started_at": run["started_at"].isoformat() if run and run["started_at"]
                    else None,
                    "next_at": upcoming.astimezone().replace(microsecond=0).isoformat()
                    if upcoming else None, "schedule_error": schedule_error})
    return out


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then exit (for cron).")
@click.option("--run", "run_key", metavar="KEY", help="Run this job now, in the foreground.")
@click.option("--list", "list_jobs", is_flag=True, help="List the jobs and their last runs.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print a JSON array.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Jobs run at the same time by this process.")
@click.pass_obj
def scheduler(obj, once, run_key, list_jobs, as_json, workers):
    """Run the scheduled jobs in the foreground (until Ctrl-C / SIGTERM)."""
    if sum(map(bool, (once, run_key, list_jobs))) > 1:
        raise click.UsageError("use one of --once, --run and --list")
    if as_json and not list_jobs:
        raise click.UsageError("--json goes with --list")
    db, uid = _require_admin(obj)
    if list_jobs:
        rows = job_rows(db)
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        width = max([len(r["key"]) for r in rows] + [3])
        click.echo(f"{'KEY':<{width}}  {'SCHEDULE':<14}  {'ACTIVE':<6}  {'LAST RUN':<28}  NEXT")
        for r in rows:
            last = f"{r['last_state']} {r['last_started_at'] or ''}" if r["last_state"] else "-"
            click.echo(f"{r['key']:<{width}}  {r['schedule']:<14}  {'yes' if r['active'] else 'no':<6}"
                       f"  {last:<28}  {r['next_at'] or r['schedule_error'] or '-'}")
        return
    service = Scheduler(db, workers=workers, config=obj.config)
    # --run and --once say how each run went themselves; serving logs every run
    logging.getLogger("keel.scheduler").setLevel(logging.INFO if not (run_key or once)
                                                 else logging.ERROR)
    if run_key:
        run_id, outcome = service.run_now(run_key, requested_by=uid)
        if outcome != "done":
            with runs.system(db) as env:
                error = env[runs.RUN].browse(run_id).read(["error"])[0]["error"] or ""
            last = (error.strip().splitlines() or ["?"])[-1]
            retry = " (a retry is queued)" if outcome == "retrying" else ""
            raise UserInputError(f"job {run_key} failed (run {run_id}){retry}: {last}")
        click.echo(f"{run_key}: done (run {run_id})")
        return
    if once:
        done = service.run_once()
        for key, outcome in done:
            click.echo(f"{key}: {outcome}")
        if not done:
            click.echo("nothing due")
        return
    click.echo(f"scheduler running on {db!r}; stop with Ctrl-C", err=True)
    service.serve()


COMMANDS = [scheduler]
