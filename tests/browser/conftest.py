"""Fixtures of the browser tests: the app over real HTTP on a database of
its own, Debian's Chromium driven by Playwright, screenshots.

* ``live`` (per module): crm_base installed, the CONTRACT.md personas
  (``tests.test_api_security.create_personas``: reps r1, r2, r3, manager m1,
  director x; password ``PASSWORD``), the app served by werkzeug on
  127.0.0.1 at a free port; SQLite, or PostgreSQL when
  ``KEEL_TEST_DATABASE_URL`` is set.
* ``browser`` (per module): ``/usr/bin/chromium`` headless, never a browser
  downloaded by Playwright. Missing, the tests fail — ``.ci/run`` installs it
  with apt — unless ``KEEL_SKIP_BROWSER=1`` skips them.
* ``page``: a fresh browser context at the ``viewport`` (a test may
  parametrize it), English; ``requested`` lists every URL it asked for.
* ``screenshot(step)``: saves ``<output>/screenshots/<test>-<step>.png``,
  output being ``$KEEL_TEST_OUTPUT`` or ``test-output/`` at the top of the
  checkout; a failing test leaves ``<test>-failed.png`` there too.
"""
import os
import pathlib
import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import drop_module_database, module_database
from tests.test_api_security import Server, create_personas, make_app

CHROMIUM = "/usr/bin/chromium"
OUTPUT = pathlib.Path(os.environ.get("KEEL_TEST_OUTPUT")
                      or pathlib.Path(__file__).resolve().parents[2] / "test-output")
DESKTOP = {"width": 1366, "height": 900}
TIMEOUT_MS = 10_000  # for each action and expectation; generous for a busy CI machine


@pytest.fixture(scope="module")
def live(request, tmp_path_factory):
    """The app over real HTTP: ``url``, ``db``, ``users`` ({persona: id})."""
    schema = "t_browser_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    db = module_database(tmp_path_factory, schema, ["crm_base"])
    users = create_personas(db)
    server = Server(make_app(db))
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.port}", db=db, users=users)
    server.close()
    drop_module_database(db, schema)


@pytest.fixture(scope="module")
def browser():
    if os.environ.get("KEEL_SKIP_BROWSER") == "1":
        pytest.skip("KEEL_SKIP_BROWSER=1")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does), "
                    "or set KEEL_SKIP_BROWSER=1 to skip the browser tests", pytrace=False)
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def viewport():
    return DESKTOP


@pytest.fixture
def requested():
    """Every URL the page asked for, in order."""
    return []


def shot_path(node, step):
    shots = OUTPUT / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^\w.-]+", "_", node.name).strip("_")
    return str(shots / f"{test}-{step}.png")


@pytest.fixture
def page(request, browser, live, viewport, requested):
    context = browser.new_context(base_url=live.url, viewport=viewport, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    context.on("request", lambda r: requested.append(r.url))
    tab = context.new_page()
    pathlib.Path(shot_path(request.node, "failed")).unlink(missing_ok=True)  # an earlier run's
    yield tab
    if getattr(request.node, "keel_failed", False):
        tab.screenshot(path=shot_path(request.node, "failed"), full_page=True)
    context.close()


@pytest.fixture
def screenshot(request, page):
    """``screenshot(step)``: the whole page, saved under the run's output."""
    def take(step):
        page.screenshot(path=shot_path(request.node, step), full_page=True)
    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed:
        item.keel_failed = True
    return report
