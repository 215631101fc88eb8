"""``keel department …`` and ``keel user …`` (CONTRACT.md §2), run as the
real ``keel`` subprocess: output, exit codes, what lands in the database."""
import json
import os

import pytest
import sqlalchemy as sa

from core.errors import AccessDenied
from core.passwords import verify_password
from core.security import auth
from tests.conftest import ADMIN_PASSWORD
from tests.test_cli import initialised, ok, query, refused, run  # noqa: F401 (fixtures)

PASSWORD = "S3cret-clear-text-77"


@pytest.fixture
def roles(initialised):
    """Two roles besides ``admin`` (crm_base may ship them already)."""
    with initialised.unit_of_work(None) as env:
        for code in ("sales_rep", "sales_manager"):
            if not env["core.role"].search_count([["code", "=", code]]):
                env["core.role"].create({"code": code, "name": code})
    return initialised


def departments(db_url):
    rows = query(db_url, "SELECT d.code, d.name, p.code, u.login FROM core_department d "
                         "LEFT JOIN core_department p ON p.id = d.parent_id "
                         "LEFT JOIN core_user u ON u.id = d.manager_id ORDER BY d.code")
    return {code: (name, parent, manager) for code, name, parent, manager in rows}


def test_department_tree_create_and_update(run, initialised, db_url):
    assert "department HQ created" in ok(run("department", "create", "HQ", "--name", "Head office",
                                             "--manager", "admin"))
    ok(run("department", "create", "SALES", "--name", "Sales", "--parent", "HQ"))
    ok(run("department", "create", "EAST", "--name", "Sales East", "--parent", "SALES"))
    ok(run("department", "create", "EAST1", "--name", "East team 1", "--parent", "EAST"))
    ok(run("department", "create", "OPS", "--name", "运营部"))
    assert departments(db_url) == {"HQ": ("Head office", None, "admin"),
                                   "SALES": ("Sales", "HQ", None), "EAST": ("Sales East", "SALES", None),
                                   "EAST1": ("East team 1", "EAST", None), "OPS": ("运营部", None, None)}
    ok(run("user", "create", "mgr", "--password", PASSWORD, "--department", "SALES"))
    assert "updated" in ok(run("department", "update", "EAST", "--name", "East", "--manager", "mgr"))
    ok(run("department", "update", "OPS", "--parent", "HQ"))
    ok(run("department", "update", "HQ", "--manager", ""))  # "" clears
    assert departments(db_url)["EAST"] == ("East", "SALES", "mgr")
    assert departments(db_url)["OPS"] == ("运营部", "HQ", None)
    assert departments(db_url)["HQ"] == ("Head office", None, None)
    listed = json.loads(ok(run("department", "list", "--json")))
    assert {"code": "EAST1", "name": "East team 1", "parent": "EAST", "manager": None} in listed
    assert "EAST1" in ok(run("department", "list"))


def test_department_errors(run, initialised, db_url):
    ok(run("department", "create", "HQ", "--name", "Head office"))
    ok(run("department", "create", "A", "--name", "A", "--parent", "HQ"))
    ok(run("department", "create", "B", "--name", "B", "--parent", "A"))
    assert "HQ" in refused(run("department", "create", "HQ", "--name", "Again"))
    assert "NOPE" in refused(run("department", "create", "X", "--name", "X", "--parent", "NOPE"))
    assert "ghost" in refused(run("department", "create", "X", "--name", "X", "--manager", "ghost"))
    assert "__system__" in refused(run("department", "create", "X", "--name", "X", "--manager", "__system__"))
    assert "NOPE" in refused(run("department", "update", "NOPE", "--name", "Y"))
    assert "NOPE" in refused(run("department", "update", "A", "--parent", "NOPE"))
    assert "ghost" in refused(run("department", "update", "A", "--manager", "ghost"))
    # no cycles: HQ under B (B lies below HQ), nor a department under itself
    assert "ancestor" in refused(run("department", "update", "HQ", "--parent", "B"))
    assert "ancestor" in refused(run("department", "update", "A", "--parent", "A"))
    refused(run("department", "update", "A"))  # nothing to change
    refused(run("department", "create", "X"), 2)  # --name missing
    refused(run("department", "create", "X", "--name", "X", "--colour", "red"), 2)
    refused(run("department", "frobnicate"), 2)
    assert sorted(departments(db_url)) == ["A", "B", "HQ"]
    assert departments(db_url)["HQ"] == ("Head office", None, None)


def test_user_create_with_roles_department_and_lang(run, roles, db_url):
    ok(run("department", "create", "HQ", "--name", "Head office", "--manager", "admin"))
    ok(run("department", "create", "SALES", "--name", "Sales", "--parent", "HQ"))
    out = ok(run("user", "create", "lily", "--password", PASSWORD, "--role", "sales_rep",
                 "--role", "sales_manager", "--department", "SALES", "--lang", "zh_CN",
                 "--name", "李莉"))
    assert "lily" in out and PASSWORD not in out
    ok(run("user", "create", "bob", "--password", PASSWORD + "b", "--lang", "en"))
    ok(run("department", "update", "SALES", "--manager", "lily"))
    ok(run("user", "create", "rep", "--password", PASSWORD + "r", "--role", "sales_rep",
           "--department", "SALES"))
    [(name, lang, dept, stored)] = query(db_url, "SELECT u.name, u.lang, d.code, u.password_hash "
                                                 "FROM core_user u JOIN core_department d "
                                                 "ON d.id = u.department_id WHERE login = 'lily'")
    assert (name, lang, dept) == ("李莉", "zh_CN", "SALES")
    assert stored != PASSWORD and verify_password(PASSWORD, stored)
    assert query(db_url, "SELECT lang, department_id FROM core_user WHERE login = 'bob'") == [("en", None)]
    # lang stays empty (the browser's language) unless given
    assert query(db_url, "SELECT lang FROM core_user WHERE login = 'rep'") == [(None,)]
    users = {u["login"]: u for u in json.loads(ok(run("user", "list", "--json")))}
    assert users["lily"]["roles"] == ["sales_manager", "sales_rep"]
    assert users["lily"]["department"] == "SALES" and users["lily"]["lang"] == "zh_CN"
    # manager derived from the department; the manager of a department
    # answers to the manager above
    assert users["rep"]["manager"] == "lily"
    assert users["lily"]["manager"] == "admin"
    assert users["bob"]["manager"] is None and users["bob"]["roles"] == []
    assert users["admin"]["roles"] == ["admin"]
    assert "__system__" not in users
    assert "lily" in ok(run("user", "list"))
    # the new user can sign in
    db = initialised_db(db_url)
    try:
        assert auth.authenticate(db, "lily", PASSWORD) == users_id(db_url, "lily")
    finally:
        db.dispose()


def initialised_db(db_url):
    from core.db import Database
    return Database(db_url)


def users_id(db_url, login):
    return query(db_url, f"SELECT id FROM core_user WHERE login = '{login}'")[0][0]


def test_user_create_errors(run, roles, db_url):
    ok(run("department", "create", "HQ", "--name", "Head office"))
    ok(run("user", "create", "lily", "--password", PASSWORD))
    assert "lily" in refused(run("user", "create", "lily", "--password", PASSWORD))
    assert "'ghost_role'" in refused(run("user", "create", "x1", "--password", PASSWORD,
                                         "--role", "sales_rep", "--role", "ghost_role"))
    assert "'NOPE'" in refused(run("user", "create", "x2", "--password", PASSWORD,
                                   "--department", "NOPE"))
    assert "password" in refused(run("user", "create", "x3", "--password", "short"))
    assert "password" in refused(run("user", "create", "x4", "--password", "xxxxxxxxxx"))
    assert "password" in refused(run("user", "create", "x5longlogin", "--password", "x5longlogin"))
    refused(run("user", "create", "x6", "--password", PASSWORD, "--lang", "fr"), 2)
    refused(run("user", "create", "x7"), 2)  # --password missing
    refused(run("user", "create", "x8", "--password", PASSWORD, "--bogus"), 2)
    refused(run("--user", "ghost", "user", "create", "x9", "--password", PASSWORD))
    logins = {r[0] for r in query(db_url, "SELECT login FROM core_user")}
    assert logins == {"__system__", "admin", "lily"}  # nothing half-made


def test_user_token_issue_list_revoke(run, initialised, db_url):
    ok(run("user", "create", "api", "--password", PASSWORD))
    out = ok(run("user", "token", "api"))
    token = out.strip()
    assert out.count("\n") == 1 and token.startswith(auth.TOKEN_PREFIX)
    second = ok(run("user", "token", "api", "--label", "ci", "--days", "7")).strip()
    assert second != token
    stored = [r[0] for r in query(db_url, "SELECT token_hash FROM core_token")]
    assert token not in stored and auth.token_hash(token) in stored
    db = initialised_db(db_url)
    try:
        with db.unit_of_work(None) as env:
            assert auth.verify_token(env, token) == users_id(db_url, "api")
        listed = json.loads(ok(run("user", "token", "api", "--list", "--json")))
        assert [r["label"] for r in listed] == ["ci", None]
        assert all(r["state"] == "active" for r in listed)
        assert token not in json.dumps(listed) and "token_hash" not in listed[0]
        assert listed[1]["last_used_at"] is not None and listed[0]["last_used_at"] is None
        first_id = listed[1]["id"]
        assert "revoked" in ok(run("user", "token", "api", "--revoke", str(first_id)))
        with db.unit_of_work(None) as env:
            assert auth.verify_token(env, token) is None
            assert auth.verify_token(env, second) == users_id(db_url, "api")
    finally:
        db.dispose()
    states = {r["id"]: r["state"] for r in json.loads(ok(run("user", "token", "api", "--list", "--json")))}
    assert states[first_id] == "revoked"
    assert "revoked" in ok(run("user", "token", "api", "--list"))
    # the token of another user cannot be revoked through this one
    ok(run("user", "create", "other", "--password", PASSWORD))
    ok(run("user", "token", "other"))
    other_id = json.loads(ok(run("user", "token", "other", "--list", "--json")))[0]["id"]
    assert str(other_id) in refused(run("user", "token", "api", "--revoke", str(other_id)))
    assert "ghost" in refused(run("user", "token", "ghost"))
    refused(run("user", "token", "api", "--days", "0"), 2)
    refused(run("user", "token", "api", "--revoke", "x"), 2)
    refused(run("user", "token", "api", "--list", "--revoke", "1"), 2)
    refused(run("user", "token"), 2)


def test_no_clear_password_in_the_database_file_or_audit(run, initialised, db_url):
    ok(run("user", "create", "carol", "--password", PASSWORD))
    token = ok(run("user", "token", "carol")).strip()
    db = initialised_db(db_url)
    try:
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "carol", PASSWORD + "x")
        assert auth.authenticate(db, "carol", PASSWORD)
        with db.engine.connect() as conn:
            everything = []
            for table in sa.inspect(conn).get_table_names():
                everything += [repr(tuple(r)) for r in conn.execute(sa.text(f'SELECT * FROM "{table}"'))]
            audit = repr(conn.execute(sa.text("SELECT * FROM core_audit")).all())
    finally:
        db.dispose()
    text = "\n".join(everything)
    for secret in (PASSWORD, PASSWORD + "x", token, ADMIN_PASSWORD):
        assert secret not in text and secret not in audit
    if db_url.startswith("sqlite:///"):
        path = db_url[len("sqlite:///"):]
        folder = os.path.dirname(path)
        for name in os.listdir(folder):
            if name.startswith(os.path.basename(path)):
                with open(os.path.join(folder, name), "rb") as f:
                    data = f.read()
                for secret in (PASSWORD, token, ADMIN_PASSWORD):
                    assert secret.encode() not in data, name


def test_twenty_wrong_passwords_then_the_right_one_after_cli_create(run, initialised, db_url):
    import datetime as dt
    ok(run("user", "create", "dora", "--password", PASSWORD))
    db = initialised_db(db_url)
    t0 = dt.datetime(2031, 5, 1, 8, 0, 0)
    try:
        for i in range(20):
            with pytest.raises(AccessDenied):
                auth.authenticate(db, "dora", f"wrong-{i}", now=t0)
        with pytest.raises(AccessDenied):
            auth.authenticate(db, "dora", PASSWORD, now=t0 + dt.timedelta(seconds=10))
        assert auth.authenticate(db, "dora", PASSWORD, now=t0 + auth.LOCK_BASE) == users_id(db_url, "dora")
    finally:
        db.dispose()
