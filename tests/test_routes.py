"""Every route refuses an anonymous caller (issue 3 "Show"; ARCHITECTURE.md).

The cases are generated from the application's URL map, so a new route is
covered the moment it exists. Only the public allowlist is exempt:
``/web/login``, static files, ``/api/v1/auth/token`` and
``/api/v1/openapi.json``. An API route (``/api…``) must answer 401 with the
JSON error body; any other route is a web route and must send the visitor
to ``/web/login`` or answer 401, 403 or 404 (a form post without its CSRF
token may also be refused with 400 before the sign-in check).
"""
import itertools
from urllib.parse import urlsplit

import pytest
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BuildError

from core.app import create_app
from core.config import load_config
from core.db import Database
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import make_app

PUBLIC_PATHS = {"/web/login", "/api/v1/auth/token", "/api/v1/openapi.json"}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}
#: values tried for a route's variables: an id, a model, any text, a path
SAMPLES = (1, "crm.customer", "x", "x/y", "approve")


def is_public(rule):
    return (rule.rule in PUBLIC_PATHS or rule.endpoint == "static"
            or rule.endpoint.endswith(".static"))


def sample_url(url_map, rule, method):
    """An address that ``rule`` itself matches, with sample values for its
    variables (found by asking the URL map, whatever their converters)."""
    adapter = url_map.bind("localhost")
    names = sorted(rule.arguments)
    for values in itertools.product(SAMPLES, repeat=len(names)):
        try:
            url = adapter.build(rule.endpoint, dict(zip(names, values)), method=method)
            found, _ = adapter.match(url, method=method, return_rule=True)
        except (BuildError, HTTPException, ValueError):
            continue
        if found is rule:
            return url
    raise AssertionError(f"no sample address for {rule.rule}; add a value to SAMPLES")


def _map_without_database():
    """The URL map, built at collection time (no database is opened)."""
    app = create_app(load_config(environ={}, database_url="sqlite://", secret_key="k"),
                     db=Database("sqlite://"))
    return app.url_map


CASES = sorted({(rule.rule, method) for rule in _map_without_database().iter_rules()
                if not is_public(rule) for method in rule.methods - SKIPPED_METHODS})


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_routes")
    yield make_app(db)
    drop_module_database(db, "t_routes")


def test_the_cases_cover_the_api_and_the_web_ui():
    paths = {path for path, _ in CASES}
    assert "/api/v1/data/<model>" in paths and "/api/v1/meta/models" in paths
    assert any(not p.startswith("/api") for p in paths)  # the web UI's routes
    assert not paths & PUBLIC_PATHS


def test_the_url_map_of_the_real_app_is_the_one_the_cases_came_from(app):
    real = sorted({(r.rule, m) for r in app.url_map.iter_rules() if not is_public(r)
                   for m in r.methods - SKIPPED_METHODS})
    assert real == CASES


@pytest.mark.parametrize("rule,method", CASES, ids=[f"{m} {r}" for r, m in CASES])
def test_an_anonymous_caller_is_refused(app, rule, method):
    matching = [r for r in app.url_map.iter_rules() if r.rule == rule and method in r.methods]
    assert matching, (rule, method)
    url = sample_url(app.url_map, matching[0], method)
    client = app.test_client()
    response = client.open(url, method=method, json={} if method in ("POST", "PUT", "PATCH") else None,
                           headers={"Accept": "application/json, text/html"})
    if rule.startswith("/api"):
        assert response.status_code == 401, (method, url, response.status_code, response.data[:300])
        assert response.is_json
        error = response.get_json()["error"]
        assert error["code"] == "unauthorized" and set(error) == {"code", "message", "details"}
        return
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        assert urlsplit(response.headers["Location"]).path == "/web/login", (method, url, response.headers)
    else:
        allowed = {401, 403, 404} | ({400} if method != "GET" else set())
        assert status in allowed, (method, url, status, response.data[:300])


def test_an_anonymous_caller_with_a_forged_session_cookie_is_refused(app):
    client = app.test_client()
    client.set_cookie("keel_session", "forged.value.here", domain="localhost")
    for rule, method in CASES:
        if method != "GET" or rule.startswith("/api") or "<" in rule:
            continue
        response = client.get(rule)
        assert response.status_code in (302, 401, 403, 404), (rule, response.status_code)
        if response.status_code == 302:
            assert urlsplit(response.headers["Location"]).path == "/web/login"
