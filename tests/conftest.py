"""Test fixtures: every test runs against a real database.

SQLite by default (a fresh file per test); with ``KEEL_TEST_DATABASE_URL``
set (CI sets the local PostgreSQL) the same tests run there, each on a
freshly emptied ``public`` schema.
"""
import os
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


@pytest.fixture
def db_url(tmp_path):
    """A URL of an empty database."""
    if PG_URL:
        reset_postgres(PG_URL)
        return PG_URL
    return f"sqlite:///{tmp_path / 'keel.db'}"


@pytest.fixture
def dialect():
    return "postgresql" if PG_URL else "sqlite"


@pytest.fixture
def make_db(db_url):
    """``make_db(addons=("crm_base", "sales"), demo=False, available=None)``:
    an initialised database with those addons installed."""
    made = []

    def make(addons=("crm_base", "sales"), demo=False, available=None, url=None):
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
