"""SQLite side of backups: a consistent copy through SQLite's online backup
API, and a restore that replaces the live database in one step.

The copy (``sqlite3.Connection.backup`` in one step) holds a read snapshot
for its whole duration, so it is consistent while the application keeps
reading and writing (WAL mode lets writers go on meanwhile). The restore
copies the verified file back with the same API *into* the live database:
SQLite writes it as one transaction of the destination, so connections of
a running process see either the old or the new database, never a mix, and
the live file's ``-wal``/``-shm`` stay coherent (replacing the file by a
rename under a WAL file could corrupt it).
"""
import contextlib
import os
import sqlite3
from pathlib import Path

import sqlalchemy as sa

from ..errors import UserInputError
from ..i18n import _

#: name of the database member inside a backup file
MEMBER = "database/keel.sqlite3"


def database_path(url):
    """The file of a SQLite URL (refusing in-memory databases)."""
    path = sa.make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        raise UserInputError(_("backup: database {url} is not a SQLite file").format(url=url))
    return Path(path)


def database_name(url):
    return database_path(url).stem


def dump(url, target):
    """Copy the database of ``url`` into the new file ``target``; returns
    the installed addons and the Keel meta of that very snapshot."""
    source_path = database_path(url)
    if not source_path.is_file():
        raise UserInputError(_("backup: database file {path} does not exist").format(path=source_path))
    source = sqlite3.connect(source_path, timeout=30)
    try:
        with contextlib.closing(sqlite3.connect(target)) as dest:
            source.backup(dest)  # one step: one read snapshot of the whole file
            # the copy is a file on its own: no WAL beside it
            dest.execute("PRAGMA journal_mode=DELETE")
    finally:
        source.close()
    return read_info(target)


def read_info(path):
    """``(addons, meta)`` of a SQLite database file: installed addons by
    name -> version, and the ``core_meta`` key/values."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        addons, meta = {}, {}
        if "core_addon" in tables:
            addons = dict(conn.execute(
                "SELECT name, addon_version FROM core_addon WHERE state = 'installed' ORDER BY name"))
        if "core_meta" in tables:
            meta = dict(conn.execute("SELECT key, value FROM core_meta"))
    return addons, meta


def check_file(path):
    """A staged database must open and pass SQLite's integrity check."""
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise UserInputError(_("restore: the database in the backup does not open: {error}")
                             .format(error=exc)) from None
    if result != "ok":
        raise UserInputError(_("restore: the database in the backup fails SQLite's integrity check: "
                               "{error}").format(error=result))


def restore(url, staged):
    """Replace the database of ``url`` by the verified file ``staged``
    (checked by :func:`check_file` first)."""
    target = database_path(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.stat().st_size == 0:
        # nothing live to keep coherent: stale -wal/-shm of a deleted file
        # must not be replayed onto the restored one
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        temp = target.with_name(f".{target.name}.restore")
        with contextlib.closing(sqlite3.connect(staged)) as source, \
                contextlib.closing(sqlite3.connect(temp)) as dest:
            source.backup(dest)
            dest.execute("PRAGMA journal_mode=WAL")
        os.replace(temp, target)
        return
    with contextlib.closing(sqlite3.connect(staged)) as source, \
            contextlib.closing(sqlite3.connect(target, timeout=30)) as dest:
        dest.execute("PRAGMA busy_timeout=30000")
        try:
            source.backup(dest)
        except sqlite3.OperationalError as exc:
            raise UserInputError(_("restore: cannot write {path}: {error} (stop the server and "
                                   "the scheduler, then try again)").format(path=target, error=exc)) from None
