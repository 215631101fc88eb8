"""Reports and export (issue 6 "Show"):

* export of N ``crm.customer`` rows (default 100,000) to XLSX on SQLite
  through :func:`core.export.export` (the model API, rights, batches) —
  beside SQLAlchemy Core selecting the same columns (names of many2one by a
  join, selection labels mapped) written by the same openpyxl write-only
  workbook: the baseline;
* a pivot over 1,000,000 customers on PostgreSQL (``KEEL_BENCH_PG_URL``, in
  a schema of its own, dropped afterwards; skipped with a note when it does
  not answer) — ``read_group`` with two dimensions and a sum as a sales
  director, ≤ 1 s, beside the same GROUP BY in raw Core; and the whole
  report (groups and grand total) through :func:`core.services.reports.run`.

The 1,000,000 customers come from ``bench/web.py``'s builder, with grades,
credit limits and regions spread over the rows before they are copied.
``KEEL_BENCH_PG_ROWS`` shrinks the PostgreSQL table, ``KEEL_BENCH_PG_URL=``
(empty) skips it.
"""
import io
import os
import time
from decimal import Decimal

import sqlalchemy as sa

from core.export import export
from core.services import reports

from . import data, web
from .custom_field import DEFAULT_PG_URL, _reachable
from .customers import (
    MODEL,
    admin_values,
    core_rows,
    env_int,
    median_ms,
    new_db,
    now_utc,
    pg_schema_db,
)
from .results import entry

SCHEMA = "keel_bench_reports"
PIVOT_GROUPBY = ["city", "grade"]
PIVOT_MEASURES = ["credit_limit:sum", "id:count"]
REPEATS = 5
GRADES = ("potential", "intent", "deal")
REGIONS = ("华东", "华北", "华南", "西部")


def run(folder, n, log=print):
    """The entries of this benchmark (``bench.results.entry``)."""
    db = new_db(folder, "reports")
    web.load(db, n, log)
    entries = [_export(db, n, log)]
    db.dispose()
    pg_url = os.environ.get("KEEL_BENCH_PG_URL", DEFAULT_PG_URL)
    big = env_int("KEEL_BENCH_PG_ROWS", 1_000_000)
    if pg_url and _reachable(pg_url):
        entries += _postgres(pg_url, big, log)
    else:
        log(f"  PostgreSQL at {pg_url or '(none)'} not reachable: the 1,000,000-row pivot is skipped")
    return entries


# -- export ----------------------------------------------------------------------------------
def _export(db, n, log):
    out = io.BytesIO()
    started = time.perf_counter()
    with db.unit_of_work("admin") as env:
        done = export(env, MODEL, out, "xlsx", lang="zh_CN")
    keel = time.perf_counter() - started
    with db.unit_of_work("admin") as env:
        meta, names = env.registry[MODEL], done.fields
    started = time.perf_counter()
    core_bytes = _core_export(db, meta, names)
    core = time.perf_counter() - started
    log(f"  export of {done.count:,} customers to XLSX: {keel:.2f} s "
        f"({len(out.getvalue()) / 1e6:.1f} MB); Core + openpyxl {core:.2f} s "
        f"({core_bytes / 1e6:.1f} MB): × {keel / core:.2f}")
    return entry(f"export {n:,} customers to XLSX (SQLite)", keel, "s", core=core,
                 note="core.export through the model API vs Core SELECT + openpyxl write-only")


def _core_export(db, meta, names):
    """The same sheet written from one Core SELECT (many2one names joined,
    selection labels from the field's options)."""
    from openpyxl import Workbook

    table = meta.table
    columns, joins, convert = [], table, []
    for name in names:
        field = meta.fields[name]
        if field.type == "many2one":
            other = sa.table(field.relation.replace(".", "_"), sa.column("id"),
                             sa.column("name")).alias(f"j_{name}")
            joins = joins.outerjoin(other, table.c[name] == other.c.id)
            columns.append(other.c.name)
            convert.append(None)
        else:
            columns.append(table.c[name])
            convert.append(dict(field.options) if field.type == "selection" else None)
    book = Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    sheet.append([meta.fields[n].label or n for n in names])
    with db.engine.connect() as conn:
        result = conn.execution_options(stream_results=True).execute(
            sa.select(*columns).select_from(joins).order_by(table.c.name, table.c.id))
        for row in result:
            sheet.append([v if labels is None or v is None else labels.get(v, v)
                          for v, labels in zip(row, convert)])
    out = io.BytesIO()
    book.save(out)
    return len(out.getvalue())


# -- the pivot over 1,000,000 rows -----------------------------------------------------------
def _postgres(url, n, log):
    with pg_schema_db(url, SCHEMA) as db:
        _load(db, n, log)
        entries = _pivot(db, n, log)
        return entries


def _load(db, n, log):
    """``n`` customers by ``bench/web.py``'s builder (COPY of the first rows,
    copies made by the database, indexes rebuilt, statistics fresh), with
    grades, regions and credit limits spread over them; and a sales
    director to ask as."""
    started = time.perf_counter()
    uid, dept = admin_values(db)
    table = web._meta(db).table
    base = min(n, web._CHUNK)
    rows = core_rows(db, data.customers(base, uid), uid, dept, now_utc())
    for i, row in enumerate(rows):
        row.update(grade=GRADES[i % 3], region=REGIONS[i % 4], credit_limit=Decimal((i % 1000) * 100))
    with db.engine.begin() as conn:
        for index in table.indexes:
            index.drop(conn)
    web._copy(db, table, rows)
    with db.engine.begin() as conn:
        web._multiply(conn, table, base, n)
        for index in table.indexes:
            index.create(conn)
    web._settle(db, table)
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", "sales_director"]]).id
        env["core.user"].create({"login": "bench_director", "name": "销售总监", "roles": [role]})
    log(f"  {n:,} customers loaded on {db.engine.dialect.name} in {time.perf_counter() - started:.1f} s")


def _timed(call):
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median_ms(samples) / 1000


def _pivot(db, n, log):
    def keel():
        with db.unit_of_work("bench_director") as env:
            return env[MODEL].read_group([], PIVOT_GROUPBY, PIVOT_MEASURES)

    def report():
        with db.unit_of_work("bench_director") as env:
            return reports.run(env, "crm.customers_by_grade", dimensions=PIVOT_GROUPBY,
                               measures=PIVOT_MEASURES)

    with db.unit_of_work("admin") as env:
        table = env.registry[MODEL].table
    statement = sa.select(table.c.city, table.c.grade, sa.func.sum(table.c.credit_limit),
                          sa.func.count()).group_by(table.c.city, table.c.grade) \
        .order_by(table.c.city.asc().nulls_last(), table.c.grade.asc().nulls_last())

    def core():
        with db.engine.connect() as conn:
            return conn.execute(statement).all()
    groups = keel()
    assert len(groups) == len(core()), "read_group and Core disagree"
    keel_s, core_s, report_s = _timed(keel), _timed(core), _timed(report)
    log(f"  pivot over {n:,} customers on PostgreSQL ({len(groups)} groups, city × grade, "
        f"sum of credit limits): read_group {keel_s * 1000:.0f} ms, Core {core_s * 1000:.0f} ms "
        f"(× {keel_s / core_s:.2f}); whole report with its total {report_s * 1000:.0f} ms")
    return [entry(f"pivot over {n:,} customers, 2 dimensions + sum (PostgreSQL)", keel_s, "s",
                  core=core_s, target={"max": 1.0}, note="read_group as a sales director"),
            entry(f"report over {n:,} customers with its total (PostgreSQL)", report_s, "s",
                  target={"max": 2.0}, note="core.services.reports.run: groups + grand total")]
