"""The web application factory: blueprints, sign-in first, the WSGI module."""
import pytest

from core.app import create_app
from core.config import load_config
from tests.conftest import ADMIN_PASSWORD
from tests.test_web_auth import csrf_of


def test_root_redirects_to_login_and_signed_in_admin_sees_the_workbench(db, db_url):
    app = create_app(load_config(environ={}, database_url=db_url), db=db)
    assert {"web", "api"} <= set(app.blueprints)
    client = app.test_client()
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/web/login")
    page = client.get("/web/login")
    assert page.status_code == 200
    token = csrf_of(page.get_data(as_text=True))
    response = client.post("/web/login", data={"login": "admin", "password": ADMIN_PASSWORD,
                                               "csrf_token": token})
    assert response.headers["Location"] == "/web"
    text = client.get("/web", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "crm_base" in text and "sales" in text
    assert "已安装的模块" in text  # the page is UTF-8 throughout


def test_the_app_ignores_templates_and_static_of_the_working_directory(db, db_url, tmp_path,
                                                                       monkeypatch):
    (tmp_path / "templates" / "web").mkdir(parents=True)
    (tmp_path / "templates" / "web" / "login.html").write_text("HIJACKED")
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "secret.txt").write_text("secret")
    monkeypatch.chdir(tmp_path)
    client = create_app(load_config(environ={}, database_url=db_url), db=db).test_client()
    assert "HIJACKED" not in client.get("/web/login").get_data(as_text=True)
    assert client.get("/static/secret.txt").status_code == 404


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
