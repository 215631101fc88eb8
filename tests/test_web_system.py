"""The system monitor and the scheduled jobs page (issue 6 points 1 and 9):
what an administrator sees — versions, database, addons, backups,
scheduler status, recent failures with a link to the run — "run now" and
deactivating a job; nobody else gets in."""
import re

import pytest

from core import __version__
from core.services import scheduler_runs as runs
from core.services.scheduler import Scheduler

from .conftest import ADMIN_PASSWORD, drop_module_database, module_database
from .test_api_security import PASSWORD, create_personas, make_app
from .web_helpers import csrf_token, sign_in


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_web_system")
    users = create_personas(db)
    with runs.system(db) as env:
        env["core.job"].search([]).write({"active": False})
        env["core.job"].create({"key": "test.broken", "label": "坏任务 broken job",
                                "function": "json:no_such_function", "interval": 3600})
    app = make_app(db)
    yield db, users, app
    drop_module_database(db, "t_web_system")


def text(answer, status=200):
    assert answer.status_code == status, answer.get_data(as_text=True)[-800:]
    return answer.get_data(as_text=True)


def test_system_page_for_administrators(world, dialect):
    db, _users, app = world
    run_id, outcome = Scheduler(db).run_now("test.broken")
    assert outcome == "retrying"
    admin = sign_in(app, "admin", ADMIN_PASSWORD)
    page = text(admin.get("/web/settings/system"))
    assert __version__ in page and "Python" in page and "SQLAlchemy" in page
    assert ("PostgreSQL" if dialect == "postgresql" else "SQLite") in page
    size = re.search(r'data-bytes="(\d+)"', page)
    assert size and int(size.group(1)) > 10000  # the database's real size
    assert "<code>crm_base</code>" in page and "<code>sales</code>" in page
    # the failure: job, first line of the error, a link to the run
    assert "坏任务 broken job" in page and "cannot be imported" in page
    assert f'href="/web/core.job_run/{run_id}"' in page
    assert "keel scheduler" in page  # no scheduler alive: said so
    detail = text(admin.get(f"/web/core.job_run/{run_id}"))
    assert "no_such_function" in detail  # the traceback, for the admin
    # a scheduler alive shows as such
    service = Scheduler(db)
    service.start_node()
    try:
        page = text(admin.get("/web/settings/system"))
        assert "Scheduler processes alive: 1" in page and "keel scheduler` beside" not in page
    finally:
        service.stop_node()
    assert "/web/settings/system" in text(admin.get("/web"))  # in the menu


def test_run_now_and_deactivate_from_the_jobs_page(world):
    db, _users, app = world
    admin = sign_in(app, "admin", ADMIN_PASSWORD)
    page = text(admin.get("/web/settings/jobs"))
    assert "坏任务 broken job" in page and "core.scheduler.prune" in page
    with runs.system(db) as env:
        job = env["core.job"].search([["key", "=", "test.broken"]])
    assert f'href="/web/core.job/{job.id}"' in page
    # attempts and delay are edited on the job's form; what it runs is not
    form = text(admin.get(f"/web/core.job/{job.id}"))
    assert 'name="max_attempts"' in form and 'name="function"' not in form
    saved = admin.post(f"/web/core.job/{job.id}", data={
        "csrf_token": csrf_token(form), "active": "y", "max_attempts": "5", "retry_delay": "30",
        "function": "os:system", "save": "1"})
    assert saved.status_code == 302
    with runs.system(db) as env:
        assert env["core.job"].browse(job.id).read(["max_attempts", "retry_delay", "function"])[0] \
            == {"id": job.id, "max_attempts": 5, "retry_delay": 30, "function": "json:no_such_function"}
    token = csrf_token(page)
    answer = admin.post(f"/web/settings/jobs/{job.id}/run", data={"csrf_token": token})
    assert answer.status_code == 302
    assert "no scheduler is running" in text(admin.get("/web/settings/jobs"))
    with runs.system(db) as env:
        queued = env["core.job_run"].search_read([["job_id", "=", job.id], ["state", "=", "queued"],
                                                  ["trigger", "=", "manual"]], ["requested_by_id"])
    assert len(queued) == 1 and queued[0]["requested_by_id"]["name"] == "Administrator"
    # deactivated: it does not run, and "run now" says why
    answer = admin.post(f"/web/settings/jobs/{job.id}/active", data={"csrf_token": token, "active": "0"})
    assert answer.status_code == 302
    with runs.system(db) as env:
        assert env["core.job"].browse(job.id).active is False
    admin.post(f"/web/settings/jobs/{job.id}/run", data={"csrf_token": token})
    assert "Activate the job first" in text(admin.get("/web/settings/jobs"))
    assert Scheduler(db).run_once() == []  # the queued run waits for the job to be active
    answer = admin.post(f"/web/settings/jobs/{job.id}/active", data={"csrf_token": token, "active": "1"})
    with runs.system(db) as env:
        assert env["core.job"].browse(job.id).active is True
    assert admin.post("/web/settings/jobs/999999/run", data={"csrf_token": token}).status_code == 404


def test_only_administrators(world):
    db, _users, app = world
    rep = sign_in(app, "r1", PASSWORD)
    assert rep.get("/web/settings/system").status_code == 403
    assert rep.get("/web/settings/jobs").status_code == 403
    with runs.system(db) as env:
        job = env["core.job"].search([["key", "=", "test.broken"]])
        before = env["core.job_run"].search_count([])
    token = csrf_token(text(rep.get("/web")))
    assert rep.post(f"/web/settings/jobs/{job.id}/run", data={"csrf_token": token}).status_code == 403
    assert rep.post(f"/web/settings/jobs/{job.id}/active",
                    data={"csrf_token": token, "active": "0"}).status_code == 403
    with runs.system(db) as env:
        assert env["core.job_run"].search_count([]) == before
        assert env["core.job"].browse(job.id).active is True
    home = text(rep.get("/web"))
    assert "/web/settings/system" not in home and "/web/settings/jobs" not in home
    assert rep.get("/web/core.job_run").status_code in (403, 404)
    assert sign_in(app, "admin", ADMIN_PASSWORD).get("/web/settings/system",
                                                      headers={"Accept-Language": "zh-CN"}).status_code == 200
