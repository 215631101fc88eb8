"""Test fixtures: every test runs against a real database.

SQLite by default (a fresh file per test); with ``KEEL_TEST_DATABASE_URL``
set (CI sets the local PostgreSQL) the same tests run there, each on a
freshly emptied ``public`` schema.
"""
import os
import sqlite3
import sys
import types

import pytest
import sqlalchemy as sa

from core.addons import discover, manifest_of
from core.db import Database
from core.installer import Installer

PG_URL = os.environ.get("KEEL_TEST_DATABASE_URL")
ADMIN_PASSWORD = "admin-secret-1"


def reset_postgres(url):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def _pg_admin():
    """An AUTOCOMMIT engine on the server's ``postgres`` database (CREATE/DROP DATABASE)."""
    return sa.create_engine(sa.make_url(PG_URL).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _pg_test_url():
    """The database each test gets on PostgreSQL: ``<database of PG_URL>_run``."""
    url = sa.make_url(PG_URL)
    return url.set(database=f"{url.database}_run")


def _pg_recreate(name, template="template0"):
    engine = _pg_admin()
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    engine.dispose()


@pytest.fixture
def db_url(tmp_path):
    """A URL of an empty database: a new SQLite file, or on PostgreSQL the
    database ``<PG_URL's>_run``, created empty for each test."""
    if PG_URL:
        url = _pg_test_url()
        _pg_recreate(url.database)
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{tmp_path / 'keel.db'}"


#: (addons, demo) -> an installed database of this test session to copy
#: (a SQLite file, or a PostgreSQL database used as a template): installing
#: costs a second or more per test, a copy a fraction of it
_templates = {}


def _template(addons, demo, tmp_path_factory):
    key = (tuple(addons), bool(demo))
    if key not in _templates:
        n = len(_templates)
        if PG_URL:
            url = sa.make_url(PG_URL)
            name = f"{url.database}_tpl{n}"
            _pg_recreate(name)
            target = url.set(database=name)
        else:
            target = f"sqlite:///{tmp_path_factory.mktemp('templates') / f'tpl{n}.db'}"
        db = Database(target)
        with db.transaction() as conn:
            Installer(db, conn).init(list(addons), ADMIN_PASSWORD, demo)
        db.dispose()
        _templates[key] = name if PG_URL else sa.make_url(target).database
    return _templates[key]


def _copy_template(source, url):
    """Make the database at ``url`` a copy of the template ``source``."""
    if PG_URL:
        _pg_recreate(sa.make_url(url).database, source)
        return
    with sqlite3.connect(source) as src, sqlite3.connect(sa.make_url(url).database) as dst:
        src.backup(dst)
    src.close()
    dst.close()


@pytest.fixture
def dialect():
    return "postgresql" if PG_URL else "sqlite"


@pytest.fixture
def make_db(db_url, tmp_path_factory):
    """``make_db(addons=("crm_base", "sales"), demo=False, available=None)``:
    an initialised database with those addons installed — a copy of one
    installed once per session, unless the test brings its own addon
    modules (``available``) or ``url``."""
    made = []

    def make(addons=("crm_base", "sales"), demo=False, available=None, url=None):
        if url is None and available is None and not made:
            _copy_template(_template(addons, demo, tmp_path_factory), db_url)
            db = Database(db_url)
        else:
            db = Database(url or db_url, available=available)
            with db.transaction() as conn:
                Installer(db, conn).init(list(addons), ADMIN_PASSWORD, demo)
        made.append(db)
        return db

    yield make
    for db in made:
        db.dispose()


@pytest.fixture
def db(make_db):
    return make_db()


def module_database(tmp_path_factory, schema, addons=("crm_base", "sales"), available=None):
    """An initialised database shared by one test module: a SQLite file, or
    on PostgreSQL (``KEEL_TEST_DATABASE_URL``) a schema of its own."""
    if PG_URL:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine.dispose()
        url = sa.make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp(schema) / 'keel.db'}"
    db = Database(url, available=available)
    with db.transaction() as conn:
        Installer(db, conn).init(list(addons), ADMIN_PASSWORD, False)
    return db


def drop_module_database(db, schema):
    db.dispose()
    if PG_URL:
        engine = sa.create_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()


@pytest.fixture(scope="module")
def mdb(request, tmp_path_factory):
    """One database for a whole test module (crm_base, sales and the model
    API's test addons; on PostgreSQL a schema named after the module); tests
    work in it through transactions rolled back at their end
    (``tests.test_model_api.scratch_env``)."""
    from tests.test_model_api import test_addons
    schema = "t_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    db = module_database(tmp_path_factory, schema, ["crm_base", "sales", "keeltest", "keeltest2"],
                         available_with(*test_addons()))
    yield db
    drop_module_database(db, schema)


@pytest.fixture
def env(db):
    """A unit of work as admin, committed at the end of the test."""
    with db.unit_of_work("admin") as env:
        yield env


def addon_module(name, version="1.0.0", depends=(), **attrs):
    """A real module object acting as an addon package, for tests."""
    module = types.ModuleType(f"keel_test_addon_{name}")
    module.manifest = {"name": name, "version": version, "depends": list(depends)}
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[module.__name__] = module
    return module


def available_with(*modules):
    """The addons of this installation plus test addon modules."""
    found = dict(discover())
    for module in modules:
        found[module.manifest["name"]] = manifest_of(module, "test")
    return found


class StatementCounter:
    """Counts statements sent to the database (``before_cursor_execute``)."""

    def __init__(self, engine):
        self.engine = engine
        self.statements = []

    def _listen(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._listen)

    @property
    def count(self):
        return len(self.statements)
