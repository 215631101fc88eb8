"""The CRM's figures (issue 7 "Show"):

* the workbench home page ``GET /web`` of a sales rep owning 2,000
  customers (and their 10,000 follow-ups) on SQLite — a whole request
  through a signed-in Flask test client, median ≤ 50 ms — beside raw
  SQLAlchemy Core running what the CRM's own card asks (the rep's customers
  due for contact, the first 8 and their count, and the follow-ups logged
  today) on the same engine;
* the 80/20 customer classification over 100,000 customers and 1,000,000
  follow-ups (30,000 won opportunities) on PostgreSQL (``KEEL_BENCH_PG_URL``,
  a schema of its own, dropped afterwards; skipped with a note when it does
  not answer): the report ``crm.value_classes`` as a sales director
  (≤ 1 s) beside the same GROUP BY in Core; the nightly job that stores the
  classes (``addons/crm_base/analyses.py``), first run and a settled run,
  beside Core computing the classes with a window function; and the
  follow-ups per rep report (department average) over the 1,000,000
  follow-ups beside its GROUP BY in Core.

Data are written by Core (executemany, ``INSERT … SELECT``) before the
clock starts. ``KEEL_BENCH_CRM_CUSTOMERS`` / ``KEEL_BENCH_CRM_FOLLOWUPS``
shrink the PostgreSQL set, ``KEEL_BENCH_WEB_REPS`` the requests per figure.
"""
import datetime as dt
import os
import random
import time

import sqlalchemy as sa

from core.app import create_app
from core.config import load_config
from core.security.auth import set_password
from core.services import report_engine

from . import web
from .custom_field import DEFAULT_PG_URL, _reachable
from .customers import (
    admin_values,
    env_int,
    median_ms,
    new_db,
    now_utc,
    pg_schema_db,
)
from .results import entry

SCHEMA = "keel_bench_crm"
REP_PASSWORD = "bench-rep-secret-1"
REPEATS = 5


def run(folder, n=None, log=print):
    """The entries of this benchmark (``bench.results.entry``)."""
    entries = _workbench(folder, log)
    pg_url = os.environ.get("KEEL_BENCH_PG_URL", DEFAULT_PG_URL)
    if pg_url and _reachable(pg_url):
        entries += _postgres(pg_url, env_int("KEEL_BENCH_CRM_CUSTOMERS", 100_000),
                             env_int("KEEL_BENCH_CRM_FOLLOWUPS", 1_000_000), log)
    else:
        log(f"  PostgreSQL at {pg_url or '(none)'} not reachable: the 80/20 report is skipped")
    return entries


# -- rows as the model API stores them ------------------------------------------------------
def _stored(meta, rows, uid, now):
    static = {k: v for k, v in meta.defaults.items() if not callable(v)}
    kernel = {"version": 1, "created_at": now, "created_by_id": uid, "updated_at": now,
              "updated_by_id": uid}
    names = [c.name for c in meta.table.c if c.name != "id"]
    return [{name: {**static, **kernel, **row}.get(name) for name in names} for row in rows]


def _column_defaults(meta, uid, now):
    """``{column: value}`` of the static defaults and kernel columns (for
    ``INSERT … SELECT``)."""
    out = {k: v for k, v in meta.defaults.items() if not callable(v) and k in meta.table.c}
    out.update({"version": 1, "created_at": now, "created_by_id": uid, "updated_at": now,
                "updated_by_id": uid})
    return out


def _make_user(db, login, role_code, department=None, password=None):
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", role_code]]).id
        values = {"login": login, "name": f"{login} 用户", "roles": [role]}
        if department:
            dept = env["core.department"].search([["code", "=", department]])
            values["department_id"] = dept.id if dept else env["core.department"].create(
                {"code": department, "name": "华东销售组"}).id
        uid = env["core.user"].create(values).id
        if password:
            set_password(env, uid, password)
        return uid


# -- the workbench of a rep with 2,000 customers (SQLite) -------------------------------------
def _workbench(folder, log, customers=2000, per_customer=5):
    db = new_db(folder, "crm_workbench")
    rep = _make_user(db, "bench.rep", "sales_rep", "BENCH_E", REP_PASSWORD)
    with db.unit_of_work("admin") as env:
        meta_c, meta_i = env.registry["crm.customer"], env.registry["crm.interaction"]
        dept = env["core.user"].browse(rep).read(["department_id"])[0]["department_id"]["id"]
    uid, _dept = admin_values(db)
    now = now_utc()
    rnd = random.Random(7)
    rows = [{"name": f"工作台客户{i:04d}有限公司", "kind": "company", "owner_id": rep, "department_id": dept,
             "code": f"BW{i:05d}", "city": "上海", "grade": "intent",
             "next_contact_at": now + dt.timedelta(days=rnd.randint(-20, 40))} for i in range(customers)]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(meta_c.table), _stored(meta_c, rows, uid, now))
        ids = [r[0] for r in conn.execute(sa.select(meta_c.table.c.id).where(meta_c.table.c.owner_id == rep))]
        follow = [{"customer_id": cid, "owner_id": rep, "channel": "phone", "summary": "电话跟进",
                   "at": now - dt.timedelta(days=rnd.randint(0, 365), minutes=rnd.randint(0, 600))}
                  for cid in ids for _ in range(per_customer)]
        conn.execute(sa.insert(meta_i.table), _stored(meta_i, follow, uid, now))
    db.optimize()
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(load_config(environ={}, database_url=url, secret_key="bench-secret"), db=db)
    client = app.test_client()
    form = client.get("/web/login").get_data(as_text=True)
    found = web._CSRF.search(form)
    answer = client.post("/web/login", data={"login": "bench.rep", "password": REP_PASSWORD,
                                             "csrf_token": found.group(1) or found.group(2)})
    assert answer.status_code == 302, answer.status_code
    pages = web.Pages.__new__(web.Pages)
    pages.reps = env_int("KEEL_BENCH_WEB_REPS", 100)
    clock = web.SqlClock(db.engine)
    try:
        timed = pages._time(clock, lambda c: c.get("/web"), client)
    finally:
        clock.close()
    ms, share, statements, cpu = timed
    core = _core_workbench(db, meta_c, meta_i, rep, pages.reps)
    load = os.getloadavg()[0]
    log(f"  GET /web as a rep with {customers:,} customers and {len(follow):,} follow-ups: {ms:.2f} ms "
        f"median ({cpu:.2f} ms CPU), {share:.0%} in SQL ({statements} statements); Core (the CRM "
        f"card's queries) {core:.2f} ms: × {ms / core:.1f}; load average {load:.1f}")
    db.dispose()
    return [entry(f"crm.workbench.rep{customers // 1000}k.sqlite", ms, "ms", core=core, target={"max": 50.0},
                  note=f"GET /web signed in as a sales rep owning {customers:,} customers and "
                       f"{len(follow):,} follow-ups, median of {pages.reps} ({cpu:.2f} ms CPU; load "
                       f"average {load:.1f}); {share:.0%} in SQL ({statements} statements); core = "
                       "the CRM card's three queries by Core (no page rendering)")]


def _core_workbench(db, meta_c, meta_i, rep, repeats):
    c, i = meta_c.table, meta_i.table
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        now = now_utc()
        tomorrow = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time())
        today = dt.datetime.combine(now.date(), dt.time())
        due = sa.and_(c.c.owner_id == rep, c.c.next_contact_at < tomorrow)
        with db.engine.begin() as conn:
            conn.execute(sa.select(c.c.id, c.c.name, c.c.next_contact_at).where(due)
                         .order_by(c.c.next_contact_at).limit(8)).all()
            conn.execute(sa.select(sa.func.count()).select_from(c).where(due)).scalar()
            conn.execute(sa.select(sa.func.count()).select_from(i)
                         .where(i.c.owner_id == rep, i.c.at >= today)).scalar()
        times.append(time.perf_counter() - t0)
    return median_ms(times)


# -- the 80/20 classification over 100,000 customers (PostgreSQL) ---------------------------
def _postgres(url, customers, followups, log):
    with pg_schema_db(url, SCHEMA) as db:
        _load(db, customers, followups, log)
        entries = _classes(db, customers, followups, log)
        return entries


def _load(db, customers, followups, log):
    """``customers`` by ``bench/web.py``'s loader, owned by 20 reps of two
    departments; ``followups`` spread over them and the last year; a won
    opportunity for 3 customers in 10."""
    started = time.perf_counter()
    web.load(db, customers, lambda m: None)
    reps = [_make_user(db, f"bench.rep{k}", "sales_rep", "BENCH_E" if k < 10 else "BENCH_N")
            for k in range(20)]
    _make_user(db, "bench.director", "sales_director")
    uid, _dept = admin_values(db)
    now = now_utc()
    with db.unit_of_work("admin") as env:
        meta_c, meta_i = env.registry["crm.customer"], env.registry["crm.interaction"]
        meta_o = env.registry["crm.opportunity"]
        depts = {r["id"]: r["department_id"]["id"] for r in env["core.user"].search_read(
            [["id", "in", reps]], ["department_id"])}
    c = meta_c.table
    owner = sa.case(*[(c.c.id % 20 == k, rep) for k, rep in enumerate(reps)])
    dept = sa.case(*[(c.c.id % 20 == k, depts[rep]) for k, rep in enumerate(reps)])
    per = max(followups // customers, 1)
    with db.engine.begin() as conn:
        conn.execute(sa.update(c).values(owner_id=owner, department_id=dept))
        series = sa.func.generate_series(1, per).table_valued("n").render_derived(name="g")
        g = series.c.n
        fixed = _column_defaults(meta_i, uid, now)
        values = {**{k: sa.literal(v) for k, v in fixed.items()},
                  "customer_id": c.c.id, "owner_id": c.c.owner_id, "channel": sa.literal("phone"),
                  "summary": sa.literal("电话跟进"),
                  "at": sa.literal(now) - sa.func.make_interval(0, 0, 0, (c.c.id * 7 + g * 37) % 365)}
        names = list(values)
        conn.execute(sa.insert(meta_i.table).from_select(
            names, sa.select(*[values[k].label(k) for k in names]).select_from(c.join(series, sa.true()))))
        fixed = _column_defaults(meta_o, uid, now)
        values = {**{k: sa.literal(v) for k, v in fixed.items()},
                  "name": sa.literal("年度采购"), "customer_id": c.c.id, "owner_id": c.c.owner_id,
                  "department_id": c.c.department_id, "stage": sa.literal("won"),
                  "probability": sa.literal(100),
                  "amount": ((c.c.id * 7919) % 1000 + 1) * 1000,
                  "expected_close": sa.literal(now.date())}
        names = list(values)
        conn.execute(sa.insert(meta_o.table).from_select(
            names, sa.select(*[values[k].label(k) for k in names]).where(c.c.id % 10 < 3)))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("crm_customer", "crm_interaction", "crm_opportunity"):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    log(f"  {customers:,} customers, {customers * per:,} follow-ups and {customers * 3 // 10:,} won "
        f"opportunities loaded on PostgreSQL in {time.perf_counter() - started:.1f} s")


def _timed(call, repeats=REPEATS):
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return median_ms(samples) / 1000


def _classes(db, customers, followups, log):
    from addons.crm_base.analyses import classify

    def job():
        with db.unit_of_work("admin") as env:
            return classify(env.sudo())

    started = time.perf_counter()
    moved = job()
    first = time.perf_counter() - started
    settled = _timed(job, 3)
    with db.unit_of_work("admin") as env:
        c, o = env.registry["crm.customer"].table, env.registry["crm.opportunity"].table
        i, u = env.registry["crm.interaction"].table, env.registry["core.user"].table
    value = sa.select(o.c.customer_id, sa.func.sum(o.c.amount).label("s")).where(o.c.stage == "won") \
        .group_by(o.c.customer_id).subquery()
    ranked = sa.select(value.c.customer_id, value.c.s,
                       (sa.func.sum(value.c.s).over(order_by=(value.c.s.desc(), value.c.customer_id))
                        - value.c.s).label("before"),
                       sa.func.sum(value.c.s).over().label("total")).subquery()
    window = sa.select(ranked.c.customer_id, sa.case(
        (ranked.c.before < ranked.c.total * 0.8, "gold"),
        (ranked.c.before < ranked.c.total * 0.95, "potential_gold"), else_="ordinary"))

    def core_window():
        with db.engine.connect() as conn:
            return conn.execute(window).all()
    core_job = _timed(core_window, 3)

    def report():
        with db.unit_of_work("bench.director") as env:
            return report_engine.run(env, "crm.value_classes", period_unit="all")

    def core_report():
        with db.engine.connect() as conn:
            return conn.execute(sa.select(c.c.value_class, sa.func.count()).group_by(c.c.value_class)
                                .order_by(c.c.value_class)).all()
    rows = report().rows
    assert len(rows) == len(core_report()), "report and Core disagree"
    report_s, core_s = _timed(report), _timed(core_report)

    def per_rep():
        with db.unit_of_work("bench.director") as env:
            return report_engine.run(env, "crm.followups_per_rep", period_unit="all")

    month = sa.func.to_char(i.c.at, "YYYY-MM")  # read_group's month bucket on PostgreSQL

    def core_per_rep():
        with db.engine.connect() as conn:
            return conn.execute(sa.select(i.c.owner_id, u.c.department_id, month, sa.func.count())
                                .select_from(i.outerjoin(u, u.c.id == i.c.owner_id))
                                .group_by(i.c.owner_id, u.c.department_id, month)).all()
    rep_s, rep_core = _timed(per_rep), _timed(core_per_rep)
    log(f"  80/20 over {customers:,} customers / {followups:,} follow-ups on PostgreSQL: report "
        f"{report_s * 1000:.0f} ms (Core GROUP BY {core_s * 1000:.1f} ms: × {report_s / core_s:.1f}); "
        f"nightly job first run {first:.2f} s ({moved}), settled {settled:.2f} s (Core window function "
        f"{core_job:.2f} s: × {settled / core_job:.1f}); follow-ups per rep with department average "
        f"{rep_s * 1000:.0f} ms (Core {rep_core * 1000:.0f} ms: × {rep_s / rep_core:.2f})")
    return [
        entry(f"crm.value_classes report, {customers:,} customers (PostgreSQL)", report_s, "s", core=core_s,
              target={"max": 1.0}, note="report_engine.run as a sales director over the stored classes "
                                        "vs Core GROUP BY value_class"),
        entry(f"crm.value_classes nightly job, settled, {customers:,} customers (PostgreSQL)", settled, "s",
              core=core_job, note=f"classify(): read_group by customer + split in Python + changed rows "
                                  f"written (first run {first:.2f} s) vs Core window function, no writes"),
        entry(f"crm.followups_per_rep report, {followups:,} follow-ups (PostgreSQL)", rep_s, "s",
              core=rep_core,
              note="report_engine.run with the department average, as a sales director, vs Core GROUP "
                   "BY owner, department, month; the gap: a follow-up's scope follows its customer "
                   "(access_parent), and read_group adds 'customer_id IN (SELECT id FROM crm_customer "
                   "WHERE true)' even for the scope 'all'"),
    ]


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory(prefix="keel-bench-crm-") as folder:
        for e in run(folder):
            print(e)
