"""Backups and restore: one file holds a database and every attachment file.

A backup is a gzip-compressed tar file named
``keel-YYYYMMDD-HHMMSS-<database>.tar.gz`` (UTC time, no colons) in the
backup folder (config ``backup_dir``, else ``<data_dir>/backups``). Its
members, in this order:

* ``manifest.json`` — format, Keel version, dialect, database name,
  ``created_at`` (UTC), installed addons and their versions, and the size
  and SHA-256 of every other member;
* ``database/keel.sqlite3`` (SQLite's online backup API, see
  :mod:`.backup_sqlite`) or ``database/keel.pgdump`` (``pg_dump
  --format=custom``, see :mod:`.backup_pg`);
* ``files/ab/cd/<sha256>`` — every file under the files root.

A restore reads the manifest, refuses a backup of a newer Keel (or newer
addon) and of the other dialect, then extracts and checks every member
against its checksum into a staging folder *before* anything is touched;
only then are the files put back (added to the content-addressed root:
files not in the backup are left, they are harmless) and the database
replaced in one step.
"""
import datetime as dt
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

import sqlalchemy as sa

from .. import __version__
from ..errors import UserInputError
from ..i18n import _
from . import backup_pg, backup_sqlite
from .backup_archive import (FORMAT, FORMAT_VERSION, MANIFEST, created_at_of, digest, newer,
                             read_manifest, verify, version_key, write_archive)

log = logging.getLogger(__name__)

SUFFIX = ".tar.gz"
_NAME = re.compile(r"^keel-\d{8}-\d{6}-.+\.tar\.gz$")
_ENGINES = {"sqlite": backup_sqlite, "postgresql": backup_pg}

__all__ = ["FORMAT", "FORMAT_VERSION", "MANIFEST", "apply_retention", "backup_folder",
           "check_compatible", "create", "files_root", "list_backups", "read_manifest", "restore",
           "scheduled_backup", "verify", "version_key"]


# -- places ----------------------------------------------------------------------------------
def _under_data_dir(config, value, default):
    return Path(value) if value else Path(config.data_dir) / default


def backup_folder(config, folder=None):
    """Where backups go: ``folder``, else config ``backup_dir``, else
    ``<data_dir>/backups``."""
    return Path(folder) if folder else _under_data_dir(config, config.backup_dir, "backups")


def files_root(config):
    """The root of attachment files (``core.services.files.root`` once it
    exists; the same rule meanwhile: ``files_dir``, else ``<data_dir>/files``)."""
    try:
        from .files import root
    except ImportError:
        return _under_data_dir(config, config.files_dir, "files")
    return Path(root(config))


def dialect_of(url):
    name = sa.make_url(url).get_backend_name()
    if name not in _ENGINES:
        raise UserInputError(_("backup: database {url} is neither SQLite nor PostgreSQL").format(url=url))
    return name


def _url_of(db):
    """The URL of a :class:`core.db.Database`, password included."""
    return db.engine.url.render_as_string(hide_password=False)


# -- create ------------------------------------------------------------------------------------
def _attachment_files(root, skip):
    """``(member name, path)`` of every file under the files root, sorted
    (not the folder ``skip``, the backups', should it lie under the root)."""
    if not root.is_dir():
        return []
    found, skip = [], skip.resolve()
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and (Path(folder) / d).resolve() != skip)
        for name in sorted(names):
            if name.startswith("."):  # a file being written
                continue
            path = Path(folder) / name
            found.append(("files/" + path.relative_to(root).as_posix(), path))
    return found


def _safe(text):
    return re.sub(r"[^\w.-]+", "_", text or "keel").strip("._") or "keel"


def _new_name(folder, created, database_name):
    stem = f"keel-{created:%Y%m%d-%H%M%S}-{_safe(database_name)}"
    name, n = stem + SUFFIX, 2
    while (folder / name).exists():
        name, n = f"{stem}-{n}{SUFFIX}", n + 1
    return name


def _publish(part, folder, created, database_name):
    """Give the finished file its name, never replacing another backup (two
    backups started in the same second: the second gets ``-2``)."""
    while True:
        final = folder / _new_name(folder, created, database_name)
        try:
            os.link(part, final)  # fails if the name was taken meanwhile
        except FileExistsError:
            continue
        except OSError:  # no hard links on this file system
            os.replace(part, final)
        return final


def create(db, config, folder=None):
    """Back up the database ``db`` and every attachment file into one new
    file in the backup folder; apply retention; return the new file's path."""
    _check_keep(config.backup_keep)
    url = _url_of(db)
    dialect = dialect_of(url)
    engine = _ENGINES[dialect]
    target_folder = backup_folder(config, folder)
    try:
        target_folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(_("backup: cannot create folder {folder}: {error}")
                             .format(folder=target_folder, error=exc.strerror or exc)) from None
    created = dt.datetime.now(dt.timezone.utc)
    database_name = engine.database_name(url)
    with tempfile.TemporaryDirectory(prefix=".keel-backup-", dir=target_folder) as work:
        dumped = Path(work) / "database"
        extra = {}
        if dialect == "sqlite":
            addons, meta = engine.dump(url, dumped)
        else:
            addons, meta, extra = engine.dump(url, dumped)
        members = [(engine.MEMBER, dumped)] + _attachment_files(files_root(config), target_folder)
        listed = []
        for name, path in members:
            try:
                sha, size = digest(path)
            except FileNotFoundError:  # removed since the walk: not in the snapshot either
                continue
            listed.append({"name": name, "size": size, "sha256": sha, "path": path})
        manifest = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "keel_version": __version__,
            "created_at": created.isoformat().replace("+00:00", "Z"), "database": dialect,
            "database_name": database_name, "edition": meta.get("edition"),
            "registry_version": meta.get("registry_version"), "addons": addons,
            "files": sum(1 for m in listed if m["name"].startswith("files/")),
            "members": [{k: m[k] for k in ("name", "size", "sha256")} for m in listed]}
        if extra:
            manifest["postgresql"] = extra
        part = Path(work) / "backup.part"
        final = target_folder / _new_name(target_folder, created, database_name)
        try:
            write_archive(part, manifest, listed, created)
            os.chmod(part, 0o600)  # it holds every password hash and every file
            final = _publish(part, target_folder, created, database_name)
        except OSError as exc:
            raise UserInputError(_("backup: cannot write {path}: {error}").format(
                path=final, error=exc.strerror or exc)) from None
    log.info("backup %s: %s files, %s bytes", final, manifest["files"], final.stat().st_size)
    apply_retention(target_folder, config.backup_keep, dialect, database_name)
    return final


# -- listing and retention ------------------------------------------------------------------
def list_backups(config, folder=None):
    """The backups in the backup folder, newest first: dicts with ``name``,
    ``path``, ``created_at`` (UTC datetime), ``size`` (bytes),
    ``keel_version``, ``addons`` (name -> version), ``database``
    ('sqlite' | 'postgresql'), ``database_name`` and ``files`` (count).
    Files that are not readable Keel backups are skipped (and logged)."""
    where = backup_folder(config, folder)
    if not where.is_dir():
        return []
    found = []
    for path in where.iterdir():
        if not _NAME.match(path.name) or not path.is_file():
            continue
        try:
            manifest = read_manifest(path)
            created = created_at_of(manifest)
        except (UserInputError, ValueError) as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        found.append({"name": path.name, "path": str(path), "created_at": created,
                      "size": path.stat().st_size, "keel_version": manifest["keel_version"],
                      "addons": manifest["addons"], "database": manifest["database"],
                      "database_name": manifest.get("database_name"), "files": manifest.get("files", 0)})
    found.sort(key=lambda b: (b["created_at"], b["name"]), reverse=True)
    return found


def _check_keep(keep):
    if not isinstance(keep, int) or keep < 0:
        raise UserInputError(_("config: backup_keep must be 0 (keep all) or more, got {keep}").format(keep=keep))


def apply_retention(folder, keep, database, database_name):
    """Keep the ``keep`` newest backups of this database in ``folder``
    (0 keeps all); returns the paths removed."""
    _check_keep(keep)
    if int(keep) == 0:
        return []
    mine = [b for b in list_backups(None, folder)
            if b["database"] == database and b["database_name"] == database_name]
    removed = []
    for old in mine[int(keep):]:
        try:
            Path(old["path"]).unlink(missing_ok=True)
        except OSError as exc:  # the new backup is written: say so, do not fail it
            log.warning("retention: cannot remove %s: %s", old["path"], exc)
            continue
        removed.append(old["path"])
        log.info("retention: removed %s", old["path"])
    return removed


# -- the daily job -------------------------------------------------------------------------------
def scheduled_backup(env):
    """The daily job ``core.backup.daily``: back up env's database into the
    configured folder and apply retention (config ``backup_keep``). The
    configuration is the unit of work's (``context["config"]`` of a job or
    a test, else the process's). Returns the new file's path."""
    try:
        from .files import config_of
    except ImportError:  # the files service not there: the same rule
        from ..config import load_config
        config = (env.context or {}).get("config") or load_config()
    else:
        config = config_of(env)
    return str(create(env.db, config))


# -- restore ---------------------------------------------------------------------------------
def check_compatible(path, manifest, db_url, available=None):
    """Refuse, before anything is touched, a backup this Keel cannot restore
    into ``db_url``: another dialect, a newer Keel, a newer addon."""
    if newer(manifest["keel_version"], __version__):
        raise UserInputError(_("{path} was made by Keel {backup}, newer than this Keel {current}: "
                               "upgrade Keel before restoring it").format(
            path=path, backup=manifest["keel_version"], current=__version__))
    target = dialect_of(db_url)
    if manifest["database"] != target:
        raise UserInputError(_("{path} is a {backup} backup and cannot be restored into a {target} "
                               "database").format(path=path, backup=manifest["database"], target=target))
    if available is None:
        from ..addons import discover
        available = discover()
    for name, version in sorted(manifest["addons"].items()):
        here = available.get(name)
        if here is not None and newer(version, here.version):
            raise UserInputError(_("{path} holds addon {name} {backup}, newer than the {current} "
                                   "installed here: upgrade it before restoring").format(
                path=path, name=name, backup=version, current=here.version))


def restore(db_url, path, config):
    """Replace the database of ``db_url`` and add the attachment files by
    the backup ``path``, after checking it whole. Returns a summary dict."""
    path = Path(path)
    db_url = db_url.render_as_string(hide_password=False) if isinstance(db_url, sa.URL) else str(db_url)
    manifest = read_manifest(path)
    check_compatible(path, manifest, db_url)
    root = files_root(config)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".keel-restore-", dir=root.parent))
    except OSError as exc:
        raise UserInputError(_("restore: cannot write beside the files root {root}: {error}").format(
            root=root, error=exc.strerror or exc)) from None
    try:
        verify(path, staging)
        engine = _ENGINES[manifest["database"]]
        staged_db = staging.joinpath(*PurePosixPath(engine.MEMBER).parts)
        if manifest["database"] == "postgresql":
            engine.check_restore(db_url, manifest)
        else:
            engine.check_file(staged_db)
        added = _put_files(staging / "files", root)
        if manifest["database"] == "sqlite":
            engine.restore(db_url, staged_db)
        else:
            engine.restore(db_url, staged_db, manifest, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"database": manifest["database"], "created_at": created_at_of(manifest),
            "keel_version": manifest["keel_version"], "files": manifest.get("files", 0), "files_added": added}


def _put_files(staged, root):
    """Move the staged files into the files root; a file already there
    with the same name (its content hash) and size is kept. Files of the
    root not in the backup are left: nothing refers to them, and removing
    them cannot be undone."""
    added = 0
    if not staged.is_dir():
        return 0
    for folder, _dirs, names in os.walk(staged):
        for name in names:
            source = Path(folder) / name
            dest = root / source.relative_to(staged)
            if dest.is_file() and dest.stat().st_size == source.stat().st_size:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, dest)
            except OSError:  # another file system
                shutil.copyfile(source, dest.with_name("." + name + ".part"))
                os.replace(dest.with_name("." + name + ".part"), dest)
            added += 1
    return added
