"""Adding a user-defined field to a table of N ``crm.customer`` rows
(issue 4: "adding a user-defined field to a 100,000-row table on SQLite and
PostgreSQL, time printed").

Two figures per database, each the whole of ``core.custom_fields.add``
(checks, ``core.field`` row, registry rebuild, schema sync, version, audit,
commit): an indexed char field (the index is built over N rows) and a
required selection field with a default (N rows are updated). PostgreSQL
runs when ``KEEL_BENCH_PG_URL`` is set, in a schema of its own that is
dropped afterwards.
"""
import os
import time

import sqlalchemy as sa

from core import custom_fields
from core.db import Database
from core.installer import Installer

from . import data
from .customers import ADMIN_PASSWORD, MODEL, admin_values, core_rows, now_utc
from .results import entry

SCHEMA = "keel_bench_custom_field"
#: the local PostgreSQL of CONTRACT.md §1; ``KEEL_BENCH_PG_URL=`` (empty) skips it
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_CHUNK = 10_000


def run(folder, n, log=print):
    """The entries of this benchmark (``bench.results.entry``)."""
    entries = _measure(f"sqlite:///{os.path.join(folder, 'custom_field.db')}", "sqlite", n, log)
    pg_url = os.environ.get("KEEL_BENCH_PG_URL", DEFAULT_PG_URL)
    if pg_url and _reachable(pg_url):
        entries += _measure_pg(pg_url, n, log)
    else:
        log(f"  PostgreSQL at {pg_url or '(none)'} not reachable: its figures are skipped")
    return entries


def _reachable(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def _measure_pg(url, n, log):
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    try:
        scoped = sa.make_url(url).update_query_dict({"options": f"-csearch_path={SCHEMA}"})
        return _measure(scoped, "postgresql", n, log)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        engine.dispose()


def _measure(url, dialect, n, log):
    db = Database(url)
    try:
        with db.transaction() as conn:
            Installer(db, conn).init(["crm_base"], ADMIN_PASSWORD, False)
        _fill(db, n)
        out = []
        for key, name, options in (
                ("add_indexed_char", "x_bench_tag", {"type": "char", "index": True}),
                ("add_required_with_default", "x_bench_level",
                 {"type": "selection", "selection": ["normal", "vip"], "required": True,
                  "default": "normal"})):
            kind = options.pop("type")
            start = time.perf_counter()
            custom_fields.add(db, MODEL, name, kind, **options)
            ms = (time.perf_counter() - start) * 1000
            core_ms = _core_add(db, dialect, name.replace("x_bench", "x_core"), options)
            log(f"  custom field {key} on {dialect}, {n:,} rows: {ms:,.0f} ms (Core {core_ms:,.0f} ms)")
            out.append(entry(f"custom_field.{key}.{dialect}", ms, "ms", core=core_ms,
                             note=f"N={n} {MODEL} rows; whole add (checks, DDL, "
                                  f"{'index build' if 'index' in options else 'default written to every row'}, "
                                  "registry, commit); core = the same DDL and update by hand"))
        return out
    finally:
        db.dispose()


def _core_add(db, dialect, column, options):
    """The same column added by hand, as the field service does it on this
    database: ADD COLUMN (+ CREATE INDEX), or the default written to every
    row (PostgreSQL: ADD COLUMN … DEFAULT, then DROP DEFAULT). In ms."""
    table = "crm_customer"
    start = time.perf_counter()
    with db.engine.begin() as conn:
        if "default" not in options:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR")
            conn.exec_driver_sql(f"CREATE INDEX ix_{table}_{column} ON {table} ({column})")
        elif dialect == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR "
                                 f"DEFAULT '{options['default']}'")
            conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
        else:
            conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR")
            conn.exec_driver_sql(f"UPDATE {table} SET {column} = '{options['default']}'")
    return (time.perf_counter() - start) * 1000


def _fill(db, n):
    """``n`` customers inserted with SQLAlchemy Core, as the model API
    would store them."""
    uid, dept = admin_values(db)
    rows = core_rows(db, data.customers(n, uid), uid, dept, now_utc())
    with db.unit_of_work("admin") as env:
        table = env.registry[MODEL].table
    columns = set(table.c.keys())
    with db.engine.begin() as conn:
        for i in range(0, n, _CHUNK):
            conn.execute(sa.insert(table), [{k: v for k, v in r.items() if k in columns}
                                            for r in rows[i:i + _CHUNK]])
    db.optimize()
