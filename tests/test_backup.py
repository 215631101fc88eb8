"""Backups and restore (issue 6 point 2) on the test database's dialect:
backup → wipe → restore gives back every table row and every file; a
backup taken while another thread writes is consistent; damaged, newer and
other-dialect backups are refused before anything is touched; retention;
the ``keel backup`` commands and their exit codes."""
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.config import load_config
from core.db import Database
from core.errors import UserInputError
from core.services import backup, backup_pg, backup_sqlite
from tests.conftest import PG_URL, reset_postgres

KEEL = str(Path(sys.executable).with_name("keel"))
CUSTOMERS = [{"name": "上海东方机械有限公司", "city": "上海", "phone": "021-5555 0101"},
             {"name": "北京华信科技", "city": "北京", "phone": "010-8888 0202"},
             {"name": "O'Brien & Söhne GmbH", "city": "Berlin", "phone": "+49 30 1234"}]


@pytest.fixture
def config(tmp_path, db_url):
    return load_config(environ={}, database_url=db_url, data_dir=str(tmp_path / "var"))


def put_file(config, content):
    """A file stored as the files service stores them: root/ab/cd/<sha256>."""
    sha = hashlib.sha256(content).hexdigest()
    path = backup.files_root(config) / sha[:2] / sha[2:4] / sha
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def fill(db, config):
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create(CUSTOMERS)
    put_file(config, "合同扫描件 第一页".encode())
    put_file(config, bytes(range(256)) * 1000)


def snapshot_tables(url):
    """Every table's rows (sorted), read through SQLAlchemy reflection on a
    fresh engine."""
    engine = sa.create_engine(url)
    try:
        meta = sa.MetaData()
        with engine.connect() as conn:
            meta.reflect(conn)
            out = {}
            for name, table in sorted(meta.tables.items()):
                rows = conn.execute(sa.select(table)).all()
                out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    finally:
        engine.dispose()
    return out


def snapshot_files(config):
    root = backup.files_root(config)
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def wipe(db, url, config):
    """Drop everything: the database (file or schema) and the files."""
    db.dispose()
    if PG_URL:
        reset_postgres(url)
    else:
        path = Path(sa.make_url(url).database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    import shutil
    shutil.rmtree(backup.files_root(config))


def rewrite(path, target, manifest_change=None, member_change=None):
    """A copy of the backup ``path`` at ``target`` with its manifest and/or
    one member changed (checksums of the manifest left as they were)."""
    with tarfile.open(path, "r:gz") as src, tarfile.open(target, "w:gz") as out:
        for info in src:
            data = src.extractfile(info).read()
            if info.name == backup.MANIFEST and manifest_change:
                manifest = json.loads(data)
                manifest_change(manifest)
                data = json.dumps(manifest).encode()
            elif member_change and info.name.startswith("files/"):
                data = member_change(data)
                member_change = None
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
    return target


# -- backup -> wipe -> restore ----------------------------------------------------------
def test_backup_wipe_restore_is_identical(make_db, db_url, config, dialect):
    db = make_db()
    fill(db, config)
    tables, files = snapshot_tables(db_url), snapshot_files(config)
    assert len(files) == 2 and len(tables["crm_customer"]) == 3
    path = backup.create(db, config)
    assert path.parent == Path(config.data_dir) / "backups"
    assert path.name.startswith("keel-") and path.name.endswith(".tar.gz") and ":" not in path.name

    manifest = backup.read_manifest(path)
    assert manifest["database"] == dialect and manifest["files"] == 2
    assert manifest["addons"]["crm_base"] and manifest["addons"]["sales"]
    assert {m["name"] for m in manifest["members"]} >= {f"files/{name}" for name in files}

    wipe(db, db_url, config)
    assert snapshot_files(config) == {} if backup.files_root(config).exists() else True
    done = backup.restore(db_url, path, config)
    assert done["files_added"] == 2
    assert snapshot_tables(db_url) == tables
    assert snapshot_files(config) == files

    # the restored database works: sequences (ids, codes) go on after the restored rows
    again = Database(db_url)
    with again.unit_of_work("admin") as env:
        new = env["crm.customer"].create({"name": "深圳新客户"})
        assert new.id > max(r[0] for r in tables["crm_customer"])
        assert env["crm.customer"].search_count([]) == 4
    again.dispose()


def test_attachments_come_back_through_the_attachment_service(make_db, db_url, config):
    """End to end: files attached through ``core.attachments`` (stored by the
    files service under its root) are read back the same after backup →
    wipe → restore."""
    attachments = pytest.importorskip("core.attachments")
    db = make_db()
    contract = "采购合同 第 1 版\n".encode() * 200
    with db.unit_of_work("admin", context={"config": config}) as env:
        customer = env["crm.customer"].create({"name": "杭州西湖茶叶有限公司"})
        aid = attachments.add(env, "crm.customer", customer.id, "合同.txt", contract)
    assert snapshot_files(config)  # on disk, under the root the backup reads
    path = backup.create(db, config)
    wipe(db, db_url, config)
    backup.restore(db_url, path, config)
    again = Database(db_url)
    with again.unit_of_work("admin", context={"config": config}) as env:
        found = attachments.get(env, aid)
    again.dispose()
    assert found["name"] == "合同.txt" and found["data"] == contract


def test_restore_over_a_changed_live_database(make_db, db_url, config):
    """What happened after the backup is gone: changed rows and a table
    made since (an addon installed later); the files root keeps extra
    files (content-addressed, unreferenced)."""
    db = make_db()
    fill(db, config)
    tables, files = snapshot_tables(db_url), snapshot_files(config)
    path = backup.create(db, config)
    with db.unit_of_work("admin") as env:
        env["crm.customer"].search([]).write({"city": "广州"})
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE x_later (id INTEGER PRIMARY KEY, customer_id INTEGER "
                             "REFERENCES crm_customer(id))")
        conn.exec_driver_sql("INSERT INTO x_later VALUES (1, 1)")
    extra = put_file(config, b"uploaded after the backup")
    db.dispose()
    backup.restore(db_url, path, config)
    assert snapshot_tables(db_url) == tables
    assert {k: v for k, v in snapshot_files(config).items() if k != extra.relative_to(
        backup.files_root(config)).as_posix()} == files and extra.exists()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
def test_restore_into_another_postgresql_database(make_db, db_url, config):
    db = make_db()
    fill(db, config)
    tables = snapshot_tables(db_url)
    path = backup.create(db, config)
    other = sa.make_url(db_url).set(database=sa.make_url(db_url).database + "2")
    admin = sa.create_engine(sa.make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": other.database}).scalar():
            conn.exec_driver_sql(f'CREATE DATABASE "{other.database}"')
    admin.dispose()
    reset_postgres(other)
    backup.restore(other, path, config)
    assert snapshot_tables(other) == tables


def test_manifest_and_list(make_db, config, dialect):
    db = make_db()
    fill(db, config)
    first = backup.create(db, config)
    second = backup.create(db, config)
    (first.parent / "notes.txt").write_text("not a backup")
    (first.parent / "keel-20200101-000000-broken.tar.gz").write_bytes(b"garbage")
    listed = backup.list_backups(config)
    assert [b["name"] for b in listed] == [second.name, first.name]
    b = listed[0]
    assert b["path"] == str(second) and b["size"] == second.stat().st_size
    assert b["created_at"].tzinfo is not None and b["created_at"].utcoffset().total_seconds() == 0
    assert b["database"] == dialect and b["keel_version"] and "crm_base" in b["addons"]
    manifest = backup.read_manifest(second)
    for member in manifest["members"]:
        assert len(member["sha256"]) == 64 and member["size"] > 0
    assert backup.verify(second)["created_at"] == manifest["created_at"]


# -- consistency while writing -----------------------------------------------------------
@pytest.mark.skipif(bool(PG_URL), reason="SQLite's online backup API")
def test_backup_while_another_thread_writes_is_consistent(make_db, config, tmp_path):
    db = make_db()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE bk_a (id INTEGER PRIMARY KEY, payload TEXT)")
        conn.exec_driver_sql("CREATE TABLE bk_b (id INTEGER PRIMARY KEY, payload TEXT)")
    stop, errors, written = threading.Event(), [], [0]

    def writer():
        n = 0
        try:
            while not stop.is_set():
                with db.engine.begin() as conn:  # one transaction writes both tables
                    for k in range(20):
                        n += 1
                        conn.exec_driver_sql("INSERT INTO bk_a VALUES (?, ?)", (n, "甲" * 500))
                        conn.exec_driver_sql("INSERT INTO bk_b VALUES (?, ?)", (n, "乙" * 500))
                written[0] = n
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        paths = []
        while len(paths) < 4 or written[0] < 2000:
            paths.append(backup.create(db, config))
    finally:
        stop.set()
        thread.join()
    assert not errors and written[0] >= 2000
    counts = []
    for path in paths:
        staging = tmp_path / path.name
        backup.verify(path, staging)
        file = staging / backup_sqlite.MEMBER
        backup_sqlite.check_file(file)
        engine = sa.create_engine(f"sqlite:///{file}")
        with engine.connect() as conn:
            a = conn.exec_driver_sql("SELECT count(*), coalesce(max(id), 0) FROM bk_a").one()
            b = conn.exec_driver_sql("SELECT count(*), coalesce(max(id), 0) FROM bk_b").one()
        engine.dispose()
        assert a == b and a[0] == a[1] and a[0] % 20 == 0  # whole transactions only
        counts.append(a[0])
    assert counts == sorted(counts) and counts[-1] > counts[0]  # taken while rows kept coming


# -- refusals: nothing touched ------------------------------------------------------------
def changed_after(db, config):
    """Change the live database and files after a backup: a refused
    restore must leave these changes as they are."""
    with db.unit_of_work("admin") as env:
        env["crm.customer"].search([]).write({"city": "重庆"})
    put_file(config, b"after")
    db.dispose()


def test_tampered_backup_is_refused_and_nothing_is_touched(make_db, db_url, config, tmp_path):
    db = make_db()
    fill(db, config)
    path = backup.create(db, config)
    changed_after(db, config)
    tables, files = snapshot_tables(db_url), snapshot_files(config)

    # one byte of an attachment changed, the manifest left as it was
    member = rewrite(path, tmp_path / "member.tar.gz", member_change=lambda d: bytes([d[0] ^ 1]) + d[1:])
    with pytest.raises(UserInputError, match=r"checksum mismatch in member files/.*nothing was restored"):
        backup.restore(db_url, member, config)
    # one byte of the file itself changed
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    flipped = tmp_path / "flipped.tar.gz"
    flipped.write_bytes(bytes(raw))
    with pytest.raises(UserInputError, match="damaged|checksum|not a Keel backup"):
        backup.restore(db_url, flipped, config)
    # a member missing
    with tarfile.open(path, "r:gz") as src, tarfile.open(tmp_path / "short.tar.gz", "w:gz") as out:
        for info in src:
            if not info.name.startswith("files/"):
                out.addfile(info, src.extractfile(info))
    with pytest.raises(UserInputError, match="is missing"):
        backup.restore(db_url, tmp_path / "short.tar.gz", config)
    assert snapshot_tables(db_url) == tables and snapshot_files(config) == files
    assert not list(backup.files_root(config).parent.glob(".keel-restore-*"))  # staging removed


def test_newer_keel_other_dialect_and_newer_addon_are_refused(make_db, db_url, config, tmp_path, dialect):
    db = make_db()
    fill(db, config)
    path = backup.create(db, config)
    changed_after(db, config)
    tables, files = snapshot_tables(db_url), snapshot_files(config)

    newer = rewrite(path, tmp_path / "newer.tar.gz", lambda m: m.update(keel_version="99.0.0"))
    with pytest.raises(UserInputError, match=r"made by Keel 99\.0\.0, newer than this Keel"):
        backup.restore(db_url, newer, config)
    other = "postgresql" if dialect == "sqlite" else "sqlite"
    crossed = rewrite(path, tmp_path / "other.tar.gz", lambda m: m.update(database=other))
    with pytest.raises(UserInputError, match=f"is a {other} backup and cannot be restored into a {dialect}"):
        backup.restore(db_url, crossed, config)
    addon = rewrite(path, tmp_path / "addon.tar.gz", lambda m: m["addons"].update(crm_base="99.0"))
    with pytest.raises(UserInputError, match="holds addon crm_base 99.0, newer than"):
        backup.restore(db_url, addon, config)
    with pytest.raises(UserInputError, match="not a Keel backup"):
        backup.restore(db_url, rewrite(path, tmp_path / "fmt.tar.gz", lambda m: m.pop("format")), config)
    assert snapshot_tables(db_url) == tables and snapshot_files(config) == files


def test_versions_compare_as_numbers():
    assert backup.newer("0.10.0", "0.9.9") and not backup.newer("0.9.9", "0.10.0")
    assert not backup.newer("1.0", "1.0.0") and backup.newer("1.0.1", "1.0")
    assert backup.version_key("2.1.0rc1") == (2, 1, 0)


# -- retention and the daily job ---------------------------------------------------------
def test_retention_keeps_the_newest_n_of_this_database(make_db, config, tmp_path):
    db = make_db()
    keep3 = config.with_overrides(backup_keep=3)
    other_folder = backup.backup_folder(config)
    other_folder.mkdir(parents=True)
    stranger = rewrite(backup.create(db, config.with_overrides(backup_dir=str(tmp_path / "x"))),
                       other_folder / "keel-20200101-000000-elsewhere.tar.gz",
                       lambda m: m.update(database_name="elsewhere"))
    made = [backup.create(db, keep3) for _ in range(5)]
    names = [b["name"] for b in backup.list_backups(config) if b["database_name"] != "elsewhere"]
    assert names == [p.name for p in reversed(made[-3:])]
    assert stranger.exists()  # another database's backups are not this one's to remove
    keep_all = config.with_overrides(backup_keep=0)
    for _ in range(2):
        backup.create(db, keep_all)
    assert len(backup.list_backups(config)) == 6
    with pytest.raises(UserInputError, match="backup_keep must be 0 .keep all. or more, got -1"):
        backup.create(db, config.with_overrides(backup_keep=-1))
    assert len(backup.list_backups(config)) == 6


def test_scheduled_backup_job(make_db, config):
    db = make_db()
    fill(db, config)
    config = config.with_overrides(backup_keep=2)
    for _ in range(3):
        with db.unit_of_work(None, context={"config": config}) as env:
            path = backup.scheduled_backup(env)
    listed = backup.list_backups(config)
    assert len(listed) == 2 and listed[0]["path"] == path and listed[0]["files"] == 2


# -- PostgreSQL client programs ----------------------------------------------------------
def test_missing_postgresql_programs_are_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("KEEL_PG_BIN", raising=False)
    with pytest.raises(UserInputError, match="pg_dump not found on PATH: install the PostgreSQL client"):
        backup_pg.program("pg_dump")
    monkeypatch.setenv("KEEL_PG_BIN", str(tmp_path))
    with pytest.raises(UserInputError, match=f"pg_restore not found in KEEL_PG_BIN={tmp_path}"):
        backup_pg.program("pg_restore")


def test_postgresql_url_to_programs():
    url = "postgresql+psycopg://keel:p%40ss@db.example.com:5433/erp?options=-csearch_path%3Dtenant1&sslmode=require"
    env = backup_pg.libpq_env(url)
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGPASSWORD"], env["PGDATABASE"],
            env["PGSSLMODE"]) == ("db.example.com", "5433", "keel", "p@ss", "erp", "require")
    assert backup_pg.schema_of(url) == "tenant1" and backup_pg.database_name(url) == "erp.tenant1"
    assert backup_pg.schema_of("postgresql://u@h/erp") == "public"
    assert backup_pg.major_of("pg_dump (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)") == (15,)
    assert backup_pg.major_of("9.6.24") == (9, 6) < (10,)


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
def test_pg_dump_older_than_the_server_is_refused(make_db, config, tmp_path, monkeypatch):
    db = make_db()
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (fake / "pg_dump").chmod(0o755)
    monkeypatch.setenv("KEEL_PG_BIN", str(fake))
    with pytest.raises(UserInputError, match=r"is version pg_dump \(PostgreSQL\) 9.6.24 but the server"):
        backup.create(db, config)
    assert not list(backup.backup_folder(config).glob("*.tar.gz"))


def test_schema_in_the_url_is_the_one_dumped(make_db, db_url, config, dialect):
    if dialect != "postgresql":
        pytest.skip("PostgreSQL only")
    schema_url = sa.make_url(db_url).update_query_dict({"options": "-csearch_path=t_backup_schema"})
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS t_backup_schema CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA t_backup_schema")
    engine.dispose()
    try:
        db = make_db(url=schema_url)
        fill(db, config)
        make_db()  # another Keel in public: not in the schema's backup
        path = backup.create(db, config)
        assert backup.read_manifest(path)["postgresql"]["schema"] == "t_backup_schema"
        with db.unit_of_work("admin") as env:
            env["crm.customer"].search([]).unlink()
        db.dispose()
        backup.restore(schema_url, path, config)
        check = Database(schema_url)
        with check.unit_of_work("admin") as env:
            assert env["crm.customer"].search_count([]) == 3
        check.dispose()
        with pytest.raises(UserInputError, match="holds schema t_backup_schema but .* uses schema public"):
            backup.restore(db_url, path, config)
    finally:
        engine = sa.create_engine(db_url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS t_backup_schema CASCADE")
        engine.dispose()


# -- the keel command --------------------------------------------------------------------
@pytest.fixture
def keel(db_url, tmp_path):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
    env["KEEL_DATA_DIR"] = str(tmp_path / "var")

    def run(*args, path=None):
        e = dict(env, PATH=path) if path is not None else env
        return subprocess.run([KEEL, "--db", db_url, *args], check=False, cwd=cwd, env=e, capture_output=True,
                              text=True, timeout=120)
    return run


def one_line_error(result, code=1):
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_create_list_restore(make_db, db_url, config, keel, tmp_path):
    db = make_db()
    fill(db, config)
    tables, files = snapshot_tables(db_url), snapshot_files(config)
    db.dispose()
    out = keel("backup", "create", "-o", str(tmp_path / "外部备份"))
    assert out.returncode == 0, out.stderr
    assert "backup written" in out.stdout and "2 files" in out.stdout
    made = keel("backup", "create")
    assert made.returncode == 0, made.stderr

    listed = keel("backup", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert len(rows) == 1 and {"name", "created", "size", "keel_version", "database"} <= set(rows[0])
    other = json.loads(keel("backup", "list", "--json", "--dir", str(tmp_path / "外部备份")).stdout)
    assert len(other) == 1
    text = keel("backup", "list").stdout
    assert rows[0]["name"] in text and "DATABASE" in text
    file = rows[0]["path"]

    with db.unit_of_work("admin") as env:
        env["crm.customer"].search([]).write({"city": "成都"})
    db.dispose()
    line = one_line_error(keel("backup", "restore", file))
    assert "replaces the whole database" in line and "--yes" in line
    assert snapshot_tables(db_url) != tables  # nothing restored without --yes
    done = keel("backup", "restore", file, "--yes")
    assert done.returncode == 0, done.stderr
    assert snapshot_tables(db_url) == tables and snapshot_files(config) == files

    assert "no such backup file" in one_line_error(keel("backup", "restore", str(tmp_path / "nope.tar.gz"),
                                                        "--yes"))
    (tmp_path / "bad.tar.gz").write_bytes(b"not a tar")
    assert "is not a Keel backup" in one_line_error(keel("backup", "restore", str(tmp_path / "bad.tar.gz"),
                                                         "--yes"))
    one_line_error(keel("backup", "restore"), code=2)
    one_line_error(keel("backup", "create", "--bogus"), code=2)
    one_line_error(keel("backup", "frobnicate"), code=2)


def test_cli_refuses_an_uninitialised_database(keel):
    assert "not initialised" in one_line_error(keel("backup", "create"))


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")
def test_cli_without_postgresql_programs(make_db, keel):
    make_db()
    line = one_line_error(keel("backup", "create", path=""))
    assert "pg_dump not found on PATH" in line


def test_cli_only_an_administrator_backs_up_or_restores(make_db, db_url, config, keel):
    db = make_db()
    with db.unit_of_work(None) as env:
        role = env["core.role"].search([["code", "=", "sales_rep"]]).id
        env["core.user"].create({"login": "rep", "name": "销售代表", "roles": [role]})
    path = backup.create(db, config)
    tables = snapshot_tables(db_url)
    db.dispose()
    assert "user rep is not an administrator" in one_line_error(keel("--user", "rep", "backup", "create"))
    line = one_line_error(keel("--user", "rep", "backup", "restore", str(path), "--yes"))
    assert "user rep is not an administrator" in line
    assert snapshot_tables(db_url) == tables
    assert len(backup.list_backups(config)) == 1


@pytest.mark.skipif(bool(PG_URL), reason="SQLite: the restore writes into the live file")
def test_sqlite_restore_under_an_open_connection(make_db, db_url, config):
    """A process that keeps its connections open (a server not stopped)
    sees the restored database whole on its next unit of work, and the
    database file stays sound (WAL kept coherent)."""
    db = make_db()
    fill(db, config)
    path = backup.create(db, config)
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create({"name": "备份之后的客户"})
        assert env["crm.customer"].search_count([]) == 4
    backup.restore(db_url, path, config)
    with db.unit_of_work("admin") as env:
        names = {r["name"] for r in env["crm.customer"].search_read([], ["name"])}
    assert names == {c["name"] for c in CUSTOMERS}
    backup_sqlite.check_file(sa.make_url(db_url).database)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
