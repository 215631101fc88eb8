"""``keel import`` of N ``crm.customer`` rows (default 100,000) from a CSV
file on SQLite, with duplicate checking (code, normalised name, phone,
mobile, email), beside raw SQLAlchemy Core inserting the same rows
(already converted, codes computed) on the same table.

Targets: the import within 20 s and at most 4× Core.
"""
import csv
import gc
import io
import time

import sqlalchemy as sa

from core.services import imports

from . import data
from .customers import MODEL, admin_values, core_rows, new_db, now_utc
from .results import entry

COLUMNS = ["name", "kind", "phone", "mobile", "email", "city"]


def rows_of(n):
    rows = data.customers(n, None)
    for i, row in enumerate(rows):  # unique keys: every row is a new customer
        row["name"] = f"{i}号{row['name']}"
        row["phone"] = f"0{10 + i % 90}-{20000000 + i}"
        row["mobile"] = f"13{i:09d}"
        row.pop("owner_id", None)
    return rows


def csv_of(rows):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(["名称", "类型", "电话", "手机", "email", "城市"])
    writer.writerows([[r[c] for c in COLUMNS] for r in rows])
    return out.getvalue().encode("utf-8")


def run(folder, n, log=print):
    rows = rows_of(n)
    content = csv_of(rows)
    # Core: the same rows inserted by one executemany
    db = new_db(folder, "import_core")
    uid, dept = admin_values(db)
    prepared = core_rows(db, [{c: r[c] for c in COLUMNS} for r in rows], uid, dept, now_utc())
    with db.unit_of_work("admin") as env:
        table = env.registry[MODEL].table
    gc.collect()
    start = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(sa.insert(table), prepared)
    core = time.perf_counter() - start
    db.dispose()
    # the import: file bytes to committed records
    db = new_db(folder, "import_keel")
    gc.collect()
    start = time.perf_counter()
    with db.unit_of_work("admin", context={"source": "cli"}) as env:
        result = imports.run(env, MODEL, content, "customers.csv", on_duplicate="error")
    keel = time.perf_counter() - start
    with db.unit_of_work("admin") as env:
        stored = env[MODEL].search_count([])
    db.dispose()
    assert result.created == n == stored, (result.summary(), stored)
    log(f"  import {n} rows: {keel:.2f} s; Core insert {core:.2f} s; ratio {keel / core:.2f}")
    return [entry(f"import_csv_{n // 1000}k", keel, "s", core=core,
                  target={"max": 20.0, "ratio_max": 4.0},
                  note="keel import (CSV, duplicate checks) vs Core executemany of the same rows")]


if __name__ == "__main__":
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as folder:
        for e in run(folder, int(sys.argv[1]) if len(sys.argv) > 1 else 100_000):
            print(e)
