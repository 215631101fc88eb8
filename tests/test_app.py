"""The web application factory (a minimal page until the web UI lands)."""
import pytest

from core.app import create_app
from core.config import load_config


def test_root_redirects_to_login_and_login_page_lists_addons(db, db_url):
    app = create_app(load_config(environ={}, database_url=db_url), db=db)
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/web/login")
    page = client.get("/web/login")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "crm_base" in text and "sales" in text
    assert "网页界面" in text  # the page is UTF-8 throughout


def test_wsgi_module_builds_app_from_environment(db, db_url, monkeypatch):
    import importlib
    monkeypatch.setenv("KEEL_DATABASE_URL", db_url)
    monkeypatch.delenv("KEEL_SECRET_KEY", raising=False)
    import sys
    sys.modules.pop("core.wsgi", None)
    with pytest.raises(RuntimeError, match="KEEL_SECRET_KEY is not set"):
        importlib.import_module("core.wsgi")
    monkeypatch.setenv("KEEL_SECRET_KEY", "a-real-secret-for-tests")
    module = importlib.import_module("core.wsgi")
    assert module.app.config["SECRET_KEY"] == "a-real-secret-for-tests"
    assert module.app.test_client().get("/web/login").status_code == 200
