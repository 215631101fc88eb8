"""``crm.customer`` at N rows (default 100,000) on SQLite: the model API
beside raw SQLAlchemy Core on the same engine and the same table."""
import contextlib
import datetime as dt
import gc
import os
import resource
import statistics
import time
import tracemalloc

import sqlalchemy as sa

from addons.crm_base import duplicates
from core import sequences
from core.db import Database
from core.installer import Installer

from . import data
from .results import entry

MODEL = "crm.customer"
ADMIN_PASSWORD = "admin-secret-1"
FIELDS = ["name", "city", "phone"]


def env_int(name, default):
    return int(os.environ.get(name) or default)


def new_db(folder, label):
    path = os.path.join(folder, f"{label}.db")
    db = Database(f"sqlite:///{path}")
    with db.transaction() as conn:
        Installer(db, conn).init(["crm_base", "sales"], ADMIN_PASSWORD, False)
    return db


@contextlib.contextmanager
def pg_schema_db(url, schema):
    """A database installed like :func:`new_db` in a schema of its own on
    the PostgreSQL at ``url``; the schema is dropped afterwards."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    db = None
    try:
        db = Database(sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}))
        with db.transaction() as conn:
            Installer(db, conn).init(["crm_base", "sales"], ADMIN_PASSWORD, False)
        yield db
    finally:
        if db is not None:
            db.dispose()
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        engine.dispose()


def admin_values(db):
    with db.unit_of_work("admin") as env:
        return env.uid, env.user_values().get("department_id")


def core_rows(db, rows, uid, department_id, now):
    """The rows exactly as the model API stores them (defaults, sequence
    codes, kernel columns), computed before the clock starts."""
    with db.unit_of_work("admin") as env:
        meta = env.registry[MODEL]
        pattern = env.conn.execute(sa.text("SELECT pattern FROM core_sequence WHERE code = :c"),
                                   {"c": MODEL}).scalar()
    static = {k: v for k, v in meta.defaults.items() if not callable(v)}
    day = now.date()
    out = []
    for n, row in enumerate(rows, start=1):
        r = {**static, **row, "department_id": department_id,
             "code": sequences.render(pattern, day, n), "version": 1,
             "created_at": now, "created_by_id": uid, "updated_at": now, "updated_by_id": uid}
        # what crm_base's hooks fill: the duplicate check's keys, the lead pool's clock
        r.update(duplicates.stored_keys(r, r.get("kind") or "company"))
        if r.get("owner_id") and "assigned_at" in meta.fields:
            r["assigned_at"] = now
        out.append(r)
    return out


def median_ms(samples):
    return statistics.median(samples) * 1000


def now_utc():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)


class CustomerBench:
    def __init__(self, folder, n, log=print):
        self.folder = folder
        self.n = n
        self.log = log
        self.entries = []
        self.db = None  # the database the read figures use (rows made by the model API)

    def add(self, *args, **kwargs):
        e = entry(*args, **kwargs)
        self.entries.append(e)
        return e

    # -- batch create ----------------------------------------------------
    def _create_core(self, label, rows_in):
        db = new_db(self.folder, label)
        uid, dept = admin_values(db)
        rows = core_rows(db, rows_in, uid, dept, now_utc())
        with db.unit_of_work("admin") as env:
            table = env.registry[MODEL].table
        gc.collect()
        start = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(sa.insert(table), rows)
        return time.perf_counter() - start, db

    def _create_api(self, label, rows_in):
        db = new_db(self.folder, label)
        gc.collect()
        start = time.perf_counter()
        with db.unit_of_work("admin") as env:
            env[MODEL].create(rows_in)
        return time.perf_counter() - start, db

    def bench_create(self):
        n = self.n
        probe = new_db(self.folder, "probe")
        uid, _ = admin_values(probe)
        probe.dispose()
        rows_in = data.customers(n, uid)
        self.rows_in = rows_in
        reps = env_int("KEEL_BENCH_CREATE_REPS", 2)
        core_t, api_t = [], []
        for rep in range(reps):
            order = (("core", self._create_core), ("api", self._create_api))
            if rep % 2:
                order = order[::-1]
            for side, fn in order:
                seconds, db = fn(f"create_{side}_{rep}", rows_in)
                (core_t if side == "core" else api_t).append(seconds)
                self.log(f"  create {side:4s} rep {rep}: {n / seconds:,.0f} rows/s")
                if side == "core" and rep == 0:
                    self.core_db = db
                elif side == "api" and self.db is None:
                    self.db = db
                else:
                    db.dispose()
        core_rate, api_rate = n / min(core_t), n / min(api_t)
        self.add("customer.create_batch", api_rate, "rows/s", core=core_rate,
                 better="higher", target={"ratio_max": 2.0},
                 note=f"N={n}, best of {reps} (fresh database each); ratio = Keel's time / Core's")
        self._check_same_rows()
        self._memory(rows_in)

    def _check_same_rows(self):
        """Fairness: both sides stored the same rows (bar id and timestamps)."""
        def fetch(db):
            with db.unit_of_work("admin") as env:
                table = env.registry[MODEL].table
                cols = [c for c in table.c if c.name not in ("id", "created_at", "updated_at")]
                return env.conn.execute(sa.select(*cols).order_by(table.c.id)).all()
        a, b = fetch(self.core_db), fetch(self.db)
        same = a == b
        self.log(f"  fairness: Core and model API rows identical (bar id, timestamps): {same}")
        if not same:
            diff = next(((x, y) for x, y in zip(a, b) if x != y), (len(a), len(b)))
            self.log(f"    first difference: {diff}")
        self.core_db.dispose()

    def _memory(self, rows_in):
        n = min(self.n, env_int("KEEL_BENCH_MEMORY_ROWS", self.n))
        peaks = {}
        for side in ("core", "api"):
            if side == "core":
                db = new_db(self.folder, "mem_core")
                uid, dept = admin_values(db)
                rows = core_rows(db, rows_in[:n], uid, dept, now_utc())
                with db.unit_of_work("admin") as env:
                    table = env.registry[MODEL].table
            else:
                db = new_db(self.folder, "mem_api")
                rows = rows_in[:n]
            gc.collect()
            tracemalloc.start()
            if side == "core":
                with db.engine.begin() as conn:
                    conn.execute(sa.insert(table), rows)
            else:
                with db.unit_of_work("admin") as env:
                    env[MODEL].create(rows)
            peaks[side] = tracemalloc.get_traced_memory()[1] / 2 ** 20
            tracemalloc.stop()
            db.dispose()
        self.add("customer.create_batch.tracemalloc_peak", peaks["api"], "MiB", core=peaks["core"],
                 note=f"allocated during create of {n} rows, input list excluded")
        self.add("process.ru_maxrss_after_create",
                 resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 "MiB", note="whole bench process peak RSS after the create figures")

    # -- pages -----------------------------------------------------------
    def _pages(self, name, params, domain_of, core_where, reps):
        db = self.db
        with db.unit_of_work("admin") as env:
            table = env.registry[MODEL].table
        cols = [table.c.id] + [table.c[f] for f in FIELDS]
        core_s, sr_s, srd_s = [], [], []
        engine = db.engine
        for i in range(reps):
            domain, offset = domain_of(params[i % len(params)])
            # raw Core: its own connection and transaction, as a request
            t0 = time.perf_counter()
            with engine.begin() as conn:
                stmt = sa.select(*cols).where(core_where(table, params[i % len(params)]))
                stmt = stmt.order_by(table.c.name).limit(80)
                if offset:
                    stmt = stmt.offset(offset)
                core_rows_ = conn.execute(stmt).all()
            t1 = time.perf_counter()
            with db.unit_of_work("admin") as env:
                api_rows = env[MODEL].search(domain, order="name", limit=80, offset=offset).read(FIELDS)
            t2 = time.perf_counter()
            with db.unit_of_work("admin") as env:
                sr_rows = env[MODEL].search_read(domain, FIELDS, order="name", limit=80, offset=offset)
            t3 = time.perf_counter()
            core_s.append(t1 - t0)
            sr_s.append(t2 - t1)
            srd_s.append(t3 - t2)
            if i < len(params):  # same pages on every side
                assert [r[0] for r in core_rows_] == [r["id"] for r in api_rows] == [r["id"] for r in sr_rows], name
        core = median_ms(core_s)
        self.add(f"{name}.search_then_read_ms", median_ms(sr_s), "ms", core=core,
                 target={"ratio_max": 3.0, "max": 5.0},
                 note=f"search(...).read(3 fields), median of {reps}")
        self.add(f"{name}.search_read_ms", median_ms(srd_s), "ms", core=core,
                 target={"ratio_max": 1.25},
                 note=f"search_read(...), median of {reps}; ANCHORS target ≤1.25× Core")

    def bench_pages(self):
        reps = env_int("KEEL_BENCH_READ_REPS", 300)
        offsets = [0, 80, 400, 800, 1200]
        # the figure: a list page, filtered, ordered by an indexed field
        kind_params = [(kind, 80 * k) for k in range(25) for kind in ("company", "person")]
        self._pages("customer.page80_kind_filter", kind_params,
                    lambda p: ([["kind", "=", p[0]]], p[1]),
                    lambda t, p: t.c.kind == p[0], reps)
        city_params = [(c, offsets[k % len(offsets)]) for k, c in enumerate(data.CITIES)]
        self._pages("customer.page80_city_eq_offset", city_params,
                    lambda p: ([["city", "=", p[0]]], p[1]),
                    lambda t, p: t.c.city == p[0], reps)
        prefixes = data.name_prefixes(self.rows_in)
        self._pages("customer.page80_name_prefix", prefixes,
                    lambda p: ([["name", "like", p]], 0),
                    lambda t, p: t.c.name.like(p), reps)

    # -- read_group --------------------------------------------------------
    def bench_read_group(self):
        reps = env_int("KEEL_BENCH_GROUP_REPS", 60)
        db = self.db
        with db.unit_of_work("admin") as env:
            table = env.registry[MODEL].table
        core_s, api_s = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            with db.engine.begin() as conn:
                core = conn.execute(sa.select(table.c.city, sa.func.count())
                                    .group_by(table.c.city).order_by(table.c.city)).all()
            t1 = time.perf_counter()
            with db.unit_of_work("admin") as env:
                groups = env[MODEL].read_group([], ["city"], ["id:count"])
            t2 = time.perf_counter()
            core_s.append(t1 - t0)
            api_s.append(t2 - t1)
        assert sorted((g["city"], g["id:count"]) for g in groups) == sorted(tuple(r) for r in core)
        self.add("customer.read_group_city_ms", median_ms(api_s), "ms", core=median_ms(core_s),
                 target={"ratio_max": 1.5}, note=f"GROUP BY city, {len(core)} groups, median of {reps}; "
                                                   "ANCHORS target ≤1.25×")

    # -- single-row updates ------------------------------------------------
    def bench_updates(self):
        count = env_int("KEEL_BENCH_UPDATES", 1000)
        db = self.db
        with db.unit_of_work("admin") as env:
            meta = env.registry[MODEL]
            table = meta.table
            uid = env.uid
            ids = env.conn.execute(sa.select(table.c.id).order_by(table.c.id).limit(count * 2)).scalars().all()
        core_ids, api_ids = ids[0::2], ids[1::2]
        core_s = api_s = 0.0
        block = 50
        for start in range(0, count, block):  # interleaved blocks: same disk, same moment
            t0 = time.perf_counter()
            for k, rid in enumerate(core_ids[start:start + block]):
                with db.engine.begin() as conn:
                    conn.execute(sa.update(table).where(table.c.id == rid).values(
                        phone=f"021-{start + k:08d}", version=table.c.version + 1,
                        updated_at=now_utc(), updated_by_id=uid))
            t1 = time.perf_counter()
            for k, rid in enumerate(api_ids[start:start + block]):
                with db.unit_of_work("admin") as env:
                    env[MODEL].browse(rid).write({"phone": f"021-{start + k:08d}"})
            t2 = time.perf_counter()
            core_s += t1 - t0
            api_s += t2 - t1
        done = len(core_ids)
        self.add("customer.update_single_own_txn", len(api_ids) / api_s, "rows/s", core=done / core_s,
                 better="higher", target={"ratio_max": round(1 / 0.9, 3)},
                 note=f"{done} updates each side, one transaction each; target ≥0.9× Core's rate")

    # -- registry ------------------------------------------------------------
    def bench_registry(self):
        reps = env_int("KEEL_BENCH_REGISTRY_REPS", 15)
        db = self.db
        times = []
        with db.transaction() as conn:
            names = db.installed_addons(conn)
            for _ in range(reps):
                t0 = time.perf_counter()
                db.build_registry(conn, db.installed_addons(conn))
                times.append(time.perf_counter() - t0)
        self.add("registry.build_s", statistics.median(times), "s", target={"max": 0.5},
                 note=f"addons {', '.join(names)}; median of {reps}")

    # -- record scopes -------------------------------------------------------
    def bench_scoped_pages(self):
        """A sales manager's list page under a department-tree scope against
        the same search by admin (no scope), and against raw Core running
        the same scoped SQL by hand."""
        reps = env_int("KEEL_BENCH_READ_REPS", 300)
        db = self.db
        with db.unit_of_work(None) as env:
            roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
            depts = env["core.department"]
            d1 = depts.create({"code": "BD1", "name": "华东销售部"}).id
            d1a = depts.create({"code": "BD1A", "name": "上海组", "parent_id": d1}).id
            d2 = depts.create({"code": "BD2", "name": "华北销售部"}).id
            users = env["core.user"]

            def user(login, dept, role):
                return users.create({"login": login, "name": login, "department_id": dept,
                                     "roles": [roles[role]]}).id
            manager = user("bench_m1", d1, "sales_manager")
            r1, r2, r3 = (user("bench_r1", d1, "sales_rep"), user("bench_r2", d1a, "sales_rep"),
                          user("bench_r3", d2, "sales_rep"))
            table = env.registry[MODEL].table
            admin = env["core.user"].search([["login", "=", "admin"]]).id
        owner = sa.case((table.c.id % 4 == 0, r1), (table.c.id % 4 == 1, r2), (table.c.id % 4 == 2, r3),
                        else_=admin)
        dept = sa.case((table.c.id % 4 == 0, d1), (table.c.id % 4 == 1, d1a), (table.c.id % 4 == 2, d2),
                       else_=None)
        with db.engine.begin() as conn:
            conn.execute(sa.update(table).values(owner_id=owner, department_id=dept))
        db.optimize()  # fresh statistics after the bulk change, as after an import
        users_t = sa.table("core_user", sa.column("id"), sa.column("department_id"))
        tree = [d1, d1a]
        cols = [table.c.id] + [table.c[f] for f in FIELDS]
        for label, pages in (("first_page", [0]), ("pages_1_25", [80 * k for k in range(25)])):
            scoped_s, admin_s, core_s = [], [], []
            for i in range(reps):
                offset = pages[i % len(pages)]
                t0 = time.perf_counter()
                with db.unit_of_work(manager) as env:
                    rows = env[MODEL].search([], order="name", limit=80, offset=offset).read(FIELDS)
                t1 = time.perf_counter()
                with db.unit_of_work("admin") as env:
                    env[MODEL].search([], order="name", limit=80, offset=offset).read(FIELDS)
                t2 = time.perf_counter()
                with db.engine.begin() as conn:
                    where = sa.or_(table.c.department_id.in_(tree), table.c.owner_id.in_(
                        sa.select(users_t.c.id).where(users_t.c.department_id.in_(tree))))
                    core_rows_ = conn.execute(sa.select(*cols).where(where).order_by(table.c.name, table.c.id)
                                              .limit(80).offset(offset)).all()
                t3 = time.perf_counter()
                scoped_s.append(t1 - t0)
                admin_s.append(t2 - t1)
                core_s.append(t3 - t2)
                if i < len(pages):
                    assert [r["id"] for r in rows] == [r[0] for r in core_rows_], "scoped page differs"
            scoped = median_ms(scoped_s)
            name = f"customer.page80_scope_tree.{label}"
            self.add(f"{name}.search_then_read_ms", scoped, "ms", core=median_ms(core_s),
                     note=f"sales manager (department tree scope), offsets {pages[0]}..{pages[-1]}, "
                          f"median of {reps}; core = the same scoped SQL written by hand")
            self.add(f"{name}.vs_admin", scoped / median_ms(admin_s), "×", target={"max": 1.3},
                     note=f"the same search as admin: {median_ms(admin_s):.3f} ms median")

    def run(self):
        steps = [("batch create", self.bench_create), ("pages of 80", self.bench_pages),
                 ("read_group", self.bench_read_group), ("single-row updates", self.bench_updates),
                 ("registry build", self.bench_registry), ("record scopes", self.bench_scoped_pages)]
        for label, step in steps:
            t0 = time.perf_counter()
            self.log(f"- {label} …")
            step()
            self.log(f"  ({time.perf_counter() - t0:.1f} s)")
        if self.db is not None:
            self.db.dispose()
        return self.entries
