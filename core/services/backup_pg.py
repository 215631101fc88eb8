"""PostgreSQL side of backups: ``pg_dump --format=custom`` of Keel's schema
and its restore, with the client programs found on ``PATH`` (or in the
folder ``KEEL_PG_BIN`` names).

Connection parameters come from the SQLAlchemy URL and are passed through
the libpq environment (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``,
``PGDATABASE``, ``PGSSLMODE`` …), never on the command line. Keel lives in
one schema: the first of ``options=-csearch_path=X`` in the URL, else
``public``; that schema alone is dumped (``-n``) and restored.

The dump runs on a snapshot exported by the transaction that reads the
installed addons, so the manifest describes exactly the dumped data. The
restore turns the archive into SQL with ``pg_restore --no-owner`` and runs
it with ``psql --single-transaction`` after ``DROP SCHEMA … CASCADE``: one
transaction, so a failure leaves the database as it was, and tables made
after the backup (an addon installed since) do not survive beside the
restored ones.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import sqlalchemy as sa

from ..errors import UserInputError
from ..i18n import _

#: name of the database member inside a backup file
MEMBER = "database/keel.pgdump"
#: URL query keys passed on to libpq
_LIBPQ = {"host": "PGHOST", "port": "PGPORT", "sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT", "sslcert": "PGSSLCERT",
          "sslkey": "PGSSLKEY", "connect_timeout": "PGCONNECT_TIMEOUT",
          "application_name": "PGAPPNAME"}
_SEARCH_PATH = re.compile(r"-c\s*search_path\s*=\s*([^\s,]+)")


def program(name):
    """The path of the PostgreSQL client program ``name``."""
    folder = os.environ.get("KEEL_PG_BIN")
    if folder:
        path = shutil.which(name, path=folder)
        where = _("in KEEL_PG_BIN={folder}").format(folder=folder)
    else:
        path = shutil.which(name)
        where = _("on PATH")
    if not path:
        raise UserInputError(_("{name} not found {where}: install the PostgreSQL client programs "
                               "(Debian/Ubuntu: apt install postgresql-client) or set KEEL_PG_BIN "
                               "to their folder").format(name=name, where=where))
    return path


def major_of(text):
    """Major version of ``pg_dump (PostgreSQL) 15.20 (Debian …)`` or
    ``15.20``, as a tuple to compare: ``(15,)``; before 10 two numbers made
    the major version: ``9.6.24`` -> ``(9, 6)``. ``()`` when none is found."""
    match = re.search(r"(\d+)(?:\.(\d+))?", text or "")
    if not match:
        return ()
    major = int(match.group(1))
    return (major,) if major >= 10 else (major, int(match.group(2) or 0))


def _major_text(text):
    return ".".join(map(str, major_of(text)))


def tool_version(path):
    out = subprocess.run([path, "--version"], check=False, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def schema_of(url):
    """The schema Keel uses at ``url``."""
    options = sa.make_url(url).query.get("options") or ""
    if isinstance(options, tuple):
        options = " ".join(options)
    match = _SEARCH_PATH.search(options)
    return match.group(1).split(",")[0].strip('"') if match else "public"


def database_name(url):
    url = sa.make_url(url)
    schema = schema_of(url)
    return url.database if schema == "public" else f"{url.database}.{schema}"


def libpq_env(url):
    """The environment for a client program connecting to ``url``."""
    url = sa.make_url(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") or k == "PGPASSFILE"}
    for key, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", url.database)):
        if value not in (None, ""):
            env[key] = str(value)
    for key, var in _LIBPQ.items():  # e.g. a Unix socket: postgresql:///keel?host=/run/postgresql
        value = url.query.get(key)
        if value and var not in env:
            env[var] = value if isinstance(value, str) else value[0]
    return env


def _engine(url):
    url = sa.make_url(url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(url, poolclass=sa.pool.NullPool)


def _run(argv, env, what):
    done = subprocess.run(argv, check=False, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [l for l in done.stderr.splitlines() if l.strip()]
        first = next((l for l in lines if "error" in l.lower()), lines[0] if lines else "")
        raise UserInputError(_("{what} failed (exit {code}): {error}").format(
            what=what, code=done.returncode, error=first.strip()[:300]))
    return done


def dump(url, target):
    """``pg_dump`` Keel's schema at ``url`` into ``target``; returns
    ``(addons, meta, info)`` read from the very snapshot dumped."""
    pg_dump = program("pg_dump")
    client = tool_version(pg_dump)
    schema = schema_of(url)
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            server = conn.execute(sa.text("SHOW server_version")).scalar()
            if major_of(client) < major_of(server):
                raise UserInputError(_("{program} is version {client} but the server is PostgreSQL "
                                       "{server}: install client programs of version {major} or newer")
                                     .format(program=pg_dump, client=client, server=server,
                                             major=_major_text(server)))
            snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar()
            addons, meta = _read_info(conn, schema)
            _run([pg_dump, "--format=custom", "--no-owner", "-n", schema, f"--snapshot={snapshot}",
                  "-f", str(target)], libpq_env(url), "pg_dump")
            conn.rollback()
    finally:
        engine.dispose()
    return addons, meta, {"schema": schema, "server_version": server, "pg_dump": client}


def _read_info(conn, schema):
    def has(table):
        return conn.execute(sa.text("SELECT to_regclass(:t)"), {"t": f'"{schema}".{table}'}).scalar()
    addons, meta = {}, {}
    if has("core_addon"):
        addons = dict(conn.execute(sa.text(
            f'SELECT name, addon_version FROM "{schema}".core_addon '
            "WHERE state = 'installed' ORDER BY name")).all())
    if has("core_meta"):
        meta = dict(conn.execute(sa.text(f'SELECT key, value FROM "{schema}".core_meta')).all())
    return addons, meta


def check_restore(url, manifest):
    """Before anything is touched: the same schema, and the programs
    exist and are recent enough for the archive and the server. Returns
    their paths."""
    source_schema = (manifest.get("postgresql") or {}).get("schema") or "public"
    if source_schema != schema_of(url):
        raise UserInputError(_("restore: the backup holds schema {source} but {url} uses schema "
                               "{target}; restore it into a URL whose search_path is {source}")
                             .format(source=source_schema, target=schema_of(url),
                                     url=sa.make_url(url).render_as_string(hide_password=True)))
    pg_restore, psql = program("pg_restore"), program("psql")
    client = tool_version(pg_restore)
    dumped = (manifest.get("postgresql") or {}).get("pg_dump")
    if dumped and major_of(client) < major_of(dumped):
        raise UserInputError(_("{program} is version {client} but the backup was made by {dumped}: "
                               "install client programs of that version or newer")
                             .format(program=pg_restore, client=client, dumped=dumped))
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            server = conn.execute(sa.text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    if major_of(client) < major_of(server):
        raise UserInputError(_("{program} is version {client} but the server is PostgreSQL {server}")
                             .format(program=pg_restore, client=client, server=server))
    return pg_restore, psql


def restore(url, staged, manifest, workdir):
    """Replace Keel's schema at ``url`` by the archive ``staged``, in one
    transaction."""
    pg_restore, psql = check_restore(url, manifest)
    schema = schema_of(url)
    script = Path(workdir) / "restore.sql"
    env = libpq_env(url)
    _run([pg_restore, "--no-owner", "--no-acl", "-f", str(script), str(staged)], env, "pg_restore")
    quoted = '"' + schema.replace('"', '""') + '"'
    toc = _run([pg_restore, "-l", str(staged)], env, "pg_restore -l").stdout
    creates = re.search(rf"^\d+; \d+ \d+ SCHEMA - {re.escape(schema)} ", toc, re.MULTILINE)
    steps = ["-c", f"DROP SCHEMA IF EXISTS {quoted} CASCADE"]
    if not creates:
        steps += ["-c", f"CREATE SCHEMA {quoted}"]
    # a session holding the schema's tables makes the restore fail after a
    # minute rather than wait for ever
    env["PGOPTIONS"] = "-c lock_timeout=60000"
    _run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", *steps, "-f", str(script)],
         env, "psql (restore)")

