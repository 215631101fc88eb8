"""Backup and restore of a SQLite database of N customers (default
100,000, loaded as ``bench.web`` loads them) plus a few hundred attachment
files, beside the natural Core baseline: SQLite's online backup API
copying the same database file by itself (no manifest, checksums, tar or
files) — into a new file for the backup, from the copy back into a new
database for the restore. ``KEEL_BENCH_BACKUP_REPS`` (default 2) runs each
figure that many times and keeps the best.
"""
import contextlib
import hashlib
import os
import sqlite3
import time
from pathlib import Path

from core.config import load_config
from core.services import backup

from .customers import env_int, new_db
from .results import entry
from .web import load

FILES = 200


def _attachments(config):
    """``FILES`` attachment files (4 to 200 KB) stored by content hash."""
    root = backup.files_root(config)
    total = 0
    for k in range(FILES):
        content = (f"合同 {k} ".encode() * 1000)[: 4096 * (1 + k % 50)]
        sha = hashlib.sha256(content).hexdigest()
        path = root / sha[:2] / sha[2:4] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        total += len(content)
    return total


def _sqlite_copy(source, target):
    Path(target).unlink(missing_ok=True)
    with contextlib.closing(sqlite3.connect(source)) as src, contextlib.closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def run(folder, n, log=print):
    """The entries of this benchmark (``bench.results.entry``)."""
    reps = env_int("KEEL_BENCH_BACKUP_REPS", 2)
    db = new_db(folder, "backup")
    load(db, n, log)
    source = db.engine.url.database
    config = load_config(environ={}, database_url=db.url, data_dir=os.path.join(folder, "backup_var"),
                         backup_keep=0)
    files_bytes = _attachments(config)
    db_bytes = os.path.getsize(source)

    create_s, core_create_s, path = [], [], None
    for rep in range(reps):
        t0 = time.perf_counter()
        _sqlite_copy(source, os.path.join(folder, "core_copy.db"))
        t1 = time.perf_counter()
        path = backup.create(db, config)
        t2 = time.perf_counter()
        core_create_s.append(t1 - t0)
        create_s.append(t2 - t1)
    db.dispose()
    size = path.stat().st_size
    log(f"  backup of {n:,} customers ({db_bytes / 2**20:.1f} MB) and {FILES} files "
        f"({files_bytes / 2**20:.1f} MB): {min(create_s):.2f} s, {size / 2**20:.1f} MB "
        f"(SQLite backup API alone: {min(core_create_s):.2f} s)")

    restore_s, core_restore_s = [], []
    for rep in range(reps):
        target = os.path.join(folder, f"restored_{rep}.db")
        t0 = time.perf_counter()
        _sqlite_copy(os.path.join(folder, "core_copy.db"), os.path.join(folder, "core_restored.db"))
        t1 = time.perf_counter()
        backup.restore(f"sqlite:///{target}", path, config)
        t2 = time.perf_counter()
        core_restore_s.append(t1 - t0)
        restore_s.append(t2 - t1)
        with contextlib.closing(sqlite3.connect(target)) as conn:
            count = conn.execute("SELECT count(*) FROM crm_customer").fetchone()[0]
        assert count == n, f"restored {count} customers of {n}"
    log(f"  restore: {min(restore_s):.2f} s, verified and into a new file "
        f"(SQLite backup API alone: {min(core_restore_s):.2f} s)")
    note = (f"N={n} customers ({db_bytes / 2**20:.1f} MB database) + {FILES} files "
            f"({files_bytes / 2**20:.1f} MB); best of {reps}; core = sqlite3 backup API copying the "
            "database file alone (no manifest, checksums, tar.gz or files)")
    return [entry("backup.create_s", min(create_s), "s", core=min(core_create_s), note=note),
            entry("backup.restore_s", min(restore_s), "s", core=min(core_restore_s),
                  note=note + "; Keel's restore checks every checksum first"),
            entry("backup.file_mb", size / 2**20, "MB", core=(db_bytes + files_bytes) / 2**20,
                  note="backup file (gzip level 1) vs database + files on disk")]
