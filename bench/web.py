"""The web UI and the REST API over many customers (issue 5 "Show"):

* ``GET /api/v1/data/crm.customer?limit=80`` over N customers (default
  100,000) on SQLite — median ≤ 10 ms;
* the server-side render of the list page ``GET /web/crm.customer?limit=80``
  through a signed-in Flask test client — median ≤ 30 ms;
* both first pages over 1,000,000 customers on PostgreSQL
  (``KEEL_BENCH_PG_URL``, in a schema of its own, dropped afterwards) — the
  web page ≤ 200 ms.

Each figure is a whole request through the Flask app (WSGI, no network),
with the share of it spent in SQL (statements timed with SQLAlchemy's
``before/after_cursor_execute``), beside raw SQLAlchemy Core running the
same statements a page needs — the page of 80 rows, its count, one query
per many2one for the related names — on the same engine in the same run.
A page that does not exist yet prints "not available".
``KEEL_BENCH_PG_ROWS`` (default 1,000,000) and ``KEEL_BENCH_WEB_REPS``
(requests per figure) shrink a quick run; ``KEEL_BENCH_PG_URL=`` (empty)
skips PostgreSQL.
"""
import os
import re
import time

import sqlalchemy as sa

from core.app import create_app
from core.config import load_config

from . import data
from .custom_field import DEFAULT_PG_URL, _reachable
from .customers import (
    ADMIN_PASSWORD,
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

SCHEMA = "keel_bench_web"
API_PAGE = f"/api/v1/data/{MODEL}?limit=80"
WEB_PAGE = f"/web/{MODEL}?limit=80"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')
#: customers made in Python; the rest are copies made by the database
_CHUNK = 100_000


def run(folder, n, log=print):
    """The entries of this benchmark (``bench.results.entry``)."""
    db = new_db(folder, "web")
    load(db, n, log)
    entries = Pages(db, n, "sqlite", log).run(api_max=10.0, web_max=30.0)
    db.dispose()
    pg_url = os.environ.get("KEEL_BENCH_PG_URL", DEFAULT_PG_URL)
    big = env_int("KEEL_BENCH_PG_ROWS", 1_000_000)
    if pg_url and _reachable(pg_url):
        entries += _postgres(pg_url, big, log)
    else:
        log(f"  PostgreSQL at {pg_url or '(none)'} not reachable: its figures are skipped")
    return entries


def _postgres(url, n, log):
    with pg_schema_db(url, SCHEMA) as db:
        load(db, n, log)
        entries = Pages(db, n, "postgresql", log).run(web_max=200.0)
        return entries


# -- data ------------------------------------------------------------------------------------
def load(db, n, log):
    """``n`` customers as the model API would store them, written by Core
    with the table's indexes dropped and rebuilt afterwards: the first
    ``_CHUNK`` made in Python (``COPY`` on PostgreSQL), the rest copied from
    them by the database (``INSERT … SELECT``, codes made unique); then
    fresh statistics, as a table at rest has."""
    started = time.perf_counter()
    uid, dept = admin_values(db)
    table = _meta(db).table
    base = min(n, _CHUNK)
    rows = core_rows(db, data.customers(base, uid), uid, dept, now_utc())
    with db.engine.begin() as conn:
        for index in table.indexes:
            index.drop(conn)
    if db.engine.dialect.name == "postgresql":
        _copy(db, table, rows)
    else:
        with db.engine.begin() as conn:
            conn.execute(sa.insert(table), rows)
    with db.engine.begin() as conn:
        _multiply(conn, table, base, n)
        for index in table.indexes:
            index.create(conn)
    _settle(db, table)
    log(f"  {n:,} customers loaded on {db.engine.dialect.name} in {time.perf_counter() - started:.1f} s")


def _multiply(conn, table, base, n):
    """Copies of the first ``base`` rows until the table holds ``n``."""
    last = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
    columns = [c for c in table.c if c.name != "id"]
    copy = 1
    while base * copy < n:
        values = [(c + f"-{copy}").label("code") if c.name == "code" else c for c in columns]
        select = sa.select(*values).where(table.c.id <= last).order_by(table.c.id)
        conn.execute(sa.insert(table).from_select([c.name for c in columns],
                                                  select.limit(min(base, n - base * copy))))
        copy += 1


def _copy(db, table, rows):
    names = list(rows[0])
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in names])
        raw.commit()
    finally:
        raw.close()


def _settle(db, table):
    if db.engine.dialect.name == "postgresql":
        # what autovacuum leaves: statistics and the visibility map (index-only scans)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")
    else:
        db.optimize()


def _meta(db):
    with db.unit_of_work("admin") as env:
        return env.registry[MODEL]


# -- timing ----------------------------------------------------------------------------------
class SqlClock:
    """Seconds spent in SQL statements on an engine since the last ``reset``."""

    def __init__(self, engine):
        self.engine, self.seconds, self.statements = engine, 0.0, 0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.seconds += time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        self.statements += 1

    def reset(self):
        self.seconds, self.statements = 0.0, 0

    def close(self):
        sa.event.remove(self.engine, "before_cursor_execute", self._before)
        sa.event.remove(self.engine, "after_cursor_execute", self._after)


def core_page(conn, meta, cap=None):
    """What a first list page asks the database, written with Core: 80 rows
    in the model's order, their count (capped past ``cap``), the names of
    each many2one's records."""
    table = meta.table
    order = [table.c[p.split()[0]].desc() if p.strip().endswith("desc") else table.c[p.split()[0]]
             for p in (meta.order or "id").split(",")]
    rows = conn.execute(sa.select(table).order_by(*order, table.c.id).limit(80)).mappings().all()
    counted = sa.select(table.c.id)
    if cap is not None:
        counted = counted.limit(cap + 1)
    conn.execute(sa.select(sa.func.count()).select_from(counted.subquery())).scalar()
    for field in meta.many2one:
        ids = sorted({r[field.name] for r in rows if r[field.name] is not None})
        if ids:
            target = field.relation.replace(".", "_")
            other = meta.table.metadata.tables[target]
            rec = "name" if "name" in other.c else "id"
            conn.execute(sa.select(other.c.id, other.c[rec]).where(other.c.id.in_(ids))).all()


class Pages:
    """The API page and the web page of one database, timed."""

    def __init__(self, db, n, dialect, log):
        self.db, self.n, self.dialect, self.log = db, n, dialect, log
        self.reps = env_int("KEEL_BENCH_WEB_REPS", 200 if dialect == "sqlite" else 40)
        url = db.engine.url.render_as_string(hide_password=False)
        self.app = create_app(load_config(environ={}, database_url=url, secret_key="bench-secret"), db=db)
        self.meta = _meta(db)

    def run(self, api_max=None, web_max=None):
        entries = []
        clock = SqlClock(self.db.engine)
        try:
            label = "1m" if self.n >= 1_000_000 else f"{self.n // 1000}k"
            token = self._token()
            api = self._time(clock, lambda c: c.get(API_PAGE, headers={"Authorization": f"Bearer {token}"}),
                             self.app.test_client())
            client = self._signed_in()
            page = client and self._time(clock, lambda c: c.get(WEB_PAGE), client)
            for timed, name, cap, ceiling, what in (
                    (api, "api_list80", None, api_max, f"GET {API_PAGE}"),
                    (page, "list_page80", _count_cap(), web_max,
                     f"GET {WEB_PAGE}, server-side render, signed in as admin")):
                if timed is None:
                    self.log(f"  {what}: not available (the page does not answer 200)")
                else:
                    entries.append(self._entry(f"web.{name}.{label}.{self.dialect}", timed, cap,
                                               ceiling, what))
        finally:
            clock.close()
        return entries

    def _time(self, clock, call, client):
        """``(median ms, SQL share, statements, median CPU ms)`` of
        ``call(client)``, or ``None`` when the page does not answer 200. The
        process's CPU time tells what the wall clock means on a busy host."""
        first = call(client)
        if first.status_code != 200:
            return None
        totals, sql, cpu = [], [], []
        for _ in range(self.reps):
            clock.reset()
            t0, c0 = time.perf_counter(), time.process_time()
            answer = call(client)
            totals.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            sql.append(clock.seconds)
            assert answer.status_code == 200, answer.status_code
        return median_ms(totals), sum(sql) / sum(totals), clock.statements, median_ms(cpu)

    def _entry(self, name, timed, cap, target_max, what):
        ms, share, statements, cpu = timed
        core = self._core(cap)
        load = os.getloadavg()[0]
        self.log(f"  {what}: {ms:.2f} ms median ({cpu:.2f} ms CPU), {share:.0%} in SQL "
                 f"({statements} statements); Core {core:.2f} ms; load average {load:.1f}")
        return entry(name, ms, "ms", core=core, target={"max": target_max} if target_max else None,
                     note=f"{what} over {self.n:,} customers, median of {self.reps} "
                          f"({cpu:.2f} ms of CPU; load average {load:.1f}); {share:.0%} of it in SQL "
                          f"({statements} statements); core = the page's statements by Core")

    def _core(self, cap):
        times = []
        for _ in range(self.reps):
            t0 = time.perf_counter()
            with self.db.engine.begin() as conn:
                core_page(conn, self.meta, cap)
            times.append(time.perf_counter() - t0)
        return median_ms(times)

    def _token(self):
        answer = self.app.test_client().post("/api/v1/auth/token",
                                             json={"login": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.json["token"]

    def _signed_in(self):
        """A test client signed in at ``/web/login`` as admin, or ``None``."""
        client = self.app.test_client()
        form = client.get("/web/login").get_data(as_text=True)
        found = _CSRF.search(form)
        if not found:
            return None
        answer = client.post("/web/login", data={"login": "admin", "password": ADMIN_PASSWORD,
                                                 "csrf_token": found.group(1) or found.group(2)})
        return client if answer.status_code == 302 else None


def _count_cap():
    """The web list's count cap (rows counted exactly), where it has one."""
    try:
        from core.web import model_views
    except ImportError:
        return None
    return getattr(model_views, "COUNT_CAP", None)
