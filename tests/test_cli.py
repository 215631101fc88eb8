"""The real ``keel`` command (CONTRACT.md §2), run as a subprocess from a
working directory outside the project: commands, output and exit codes."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.passwords import verify_password
from tests.conftest import ADMIN_PASSWORD

KEEL = str(Path(sys.executable).with_name("keel"))


@pytest.fixture
def run(db_url, tmp_path):
    """``run(*args, db=True)``: ``keel --db URL args…`` from a directory of
    its own (not the project's), with no KEEL_* variables set."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env.pop("PYTHONPATH", None)

    def keel(*args, db=True):
        argv = [KEEL, *(["--db", db_url] if db else []), *args]
        return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
    keel.cwd = cwd
    return keel


def refused(result, code=1):
    """Exit ``code`` with a one-line reason on stderr and no traceback."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def ok(result):
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.fixture
def initialised(make_db):
    """crm_base installed (through the API: the CLI's init has its own tests)."""
    return make_db(addons=["crm_base"])


def query(db_url, sql):
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


# -- init -------------------------------------------------------------------------

def test_init_prints_the_admin_password_once_and_refuses_twice(run, db_url):
    result = run("init", "--edition", "lite")
    out = ok(result)
    line = next(line for line in out.splitlines() if "password:" in line)
    password = line.split("password:")[1].split()[0]
    assert len(password) >= 12
    assert (out + result.stderr).count(password) == 1
    [(stored,)] = query(db_url, "SELECT password_hash FROM core_user WHERE login = 'admin'")
    assert verify_password(password, stored)
    # lite's addons that do not exist yet are named, one warning each
    warnings = [w for w in result.stderr.splitlines() if w.startswith("warning:")]
    assert len(warnings) == 2 and "'workspace'" in warnings[0] + warnings[1] \
        and "'marketing'" in warnings[0] + warnings[1]
    installed = {r[0] for r in query(db_url, "SELECT name FROM core_addon WHERE state = 'installed'")}
    assert installed == {"base", "crm_base", "sales"}  # found from the installation, not the cwd
    assert "already initialised" in refused(run("init", "--admin-password", "another-pass-1"))
    [(again,)] = query(db_url, "SELECT password_hash FROM core_user WHERE login = 'admin'")
    assert again == stored


def test_init_with_admin_password_does_not_print_it(run, db_url):
    out = ok(run("init", "--edition", "lite", "--admin-password", "s3cret-pass-word"))
    assert "s3cret-pass-word" not in out
    [(stored,)] = query(db_url, "SELECT password_hash FROM core_user WHERE login = 'admin'")
    assert verify_password("s3cret-pass-word", stored)
    # the admin user holds the admin role only
    roles = query(db_url, "SELECT r.code FROM core_user u JOIN core_user__roles l ON l.source_id = u.id "
                          "JOIN core_role r ON r.id = l.target_id WHERE u.login = 'admin'")
    assert roles == [("admin",)]


def test_init_refuses_a_short_password_and_leaves_nothing(run, db_url):
    assert "8 characters" in refused(run("init", "--admin-password", "short"))
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("core_user")
    engine.dispose()


def test_default_database_is_relative_to_the_working_directory(run):
    ok(run("init", "--edition", "lite", "--admin-password", ADMIN_PASSWORD, db=False))
    assert (run.cwd / "var" / "keel.db").is_file()


# -- addons --------------------------------------------------------------------------

def test_addons_list_table_and_json(run, initialised):
    out = ok(run("addons", "list"))
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "STATE", "DEPENDS"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["base"] == ["0.2.0", "installed"]
    assert rows["crm_base"] == ["0.4.0", "installed"]
    assert rows["sales"] == ["0.1.0", "uninstalled", "crm_base"]
    data = json.loads(ok(run("addons", "list", "--json")))
    by_name = {r["name"]: r for r in data}
    for row in data:
        assert {"name", "version", "state", "depends"} <= set(row)
    assert {k: by_name["sales"][k] for k in ("name", "version", "state", "depends")} == {
        "name": "sales", "version": "0.1.0", "state": "uninstalled", "depends": ["crm_base"]}
    assert by_name["crm_base"]["state"] == "installed"


def test_addons_install_uninstall_upgrade(run, initialised, db_url):
    assert "sales" in ok(run("addons", "install", "sales"))
    states = dict(query(db_url, "SELECT name, state FROM core_addon"))
    assert states["sales"] == "installed"
    message = refused(run("addons", "uninstall", "crm_base"))
    assert "sales" in message and "crm_base" in message
    assert "up to date" in ok(run("addons", "upgrade"))
    out = ok(run("addons", "uninstall", "sales"))
    assert "data kept" in out
    assert dict(query(db_url, "SELECT name, state FROM core_addon"))["sales"] == "uninstalled"
    assert "'sales' is not installed" in refused(run("addons", "upgrade", "sales"))


def test_addons_uninstall_purge(run, make_db, db_url):
    db = make_db()
    with db.unit_of_work() as env:
        acme = env["crm.customer"].create({"name": "Acme", "credit_limit": 10})
        env["crm.contact"].create({"name": "Bob", "customer_id": acme.id})
    out = ok(run("addons", "uninstall", "sales", "--purge"))
    assert "drop column crm_customer.credit_limit" in out
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert "credit_limit" not in {c["name"] for c in sa.inspect(conn).get_columns("crm_customer")}
        assert conn.execute(sa.text("SELECT count(*) FROM crm_contact")).scalar() == 1
    engine.dispose()
    assert "sales" not in dict(query(db_url, "SELECT name, state FROM core_addon"))


def test_addon_errors_are_one_line(run, initialised):
    assert "unknown addon 'nope'" in refused(run("addons", "install", "nope"))
    assert "unknown addon 'nope'" in refused(run("addons", "uninstall", "nope"))
    assert "cannot be uninstalled" in refused(run("addons", "uninstall", "base"))


# -- editions, shell, users --------------------------------------------------------------

def test_edition_show_and_set(run, initialised, db_url):
    out = ok(run("edition", "set", "lite"))
    assert "sales" in out
    out = ok(run("edition", "show"))
    assert out.splitlines()[0] == "edition: lite"
    assert [line for line in out.splitlines() if line.startswith("*")][0].split()[1] == "lite"
    assert {r[0] for r in query(db_url, "SELECT name FROM core_addon WHERE state = 'installed'")} \
        == {"base", "crm_base", "sales"}
    refused(run("edition", "set", "gold"), code=2)


def test_shell_runs_code_as_the_user_and_commits(run, initialised, db_url):
    out = ok(run("shell", "-c", "env['core.department'].create({'code': 'HQ', 'name': 'Head office'}); "
                                "print(env.user.login, env['core.department'].search_count([]))"))
    assert out.split() == ["admin", "1"]
    assert query(db_url, "SELECT code FROM core_department") == [("HQ",)]
    result = run("shell", "-c", "env['core.department'].create({'code': 'X', 'name': 'X'}); 1/0")
    assert result.returncode != 0
    assert query(db_url, "SELECT code FROM core_department") == [("HQ",)]  # rolled back
    assert "unknown model 'no.such'" in refused(run("shell", "-c", "env['no.such']"))


def test_unknown_user_is_refused(run, initialised):
    for args in (["addons", "install", "sales"], ["shell", "-c", "pass"]):
        assert "ghost" in refused(run("--user", "ghost", *args))


def test_usage_errors_exit_2(run, initialised):
    for args, reason in ((["frobnicate"], "frobnicate"), (["addons", "list", "--bogus"], "--bogus"),
                         (["init", "--edition", "gold"], "gold")):
        assert reason in refused(run(*args), code=2)


def test_bare_group_shows_its_help(capsys):
    from core.cli import main
    assert main(["addons"]) == 2
    captured = capsys.readouterr()
    assert "Usage: keel addons" in captured.err + captured.out
    assert "Traceback" not in captured.err


def test_commands_on_an_uninitialised_database_are_refused(run):
    for args in (["addons", "list"], ["edition", "set", "lite"]):
        assert "not initialised" in refused(run(*args))


def test_unusable_database_url_is_refused(run):
    assert refused(run("--db", "nosuchdb://x/y", "addons", "list", db=False))


# -- serve --------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve(run, initialised, db_url, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    proc = subprocess.Popen([KEEL, "--db", db_url, "serve", "--port", str(port)], cwd=run.cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/web/login", timeout=2) as resp:
                    login_page = resp.read().decode()
                    assert resp.status == 200
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "keel serve did not answer"
                time.sleep(0.1)
        assert 'name="password"' in login_page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as resp:
            assert resp.status == 200 and resp.url.endswith("/web/login")  # redirected
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
