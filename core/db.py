"""A Keel database: its engine, its current registry and units of work.

The registry of a database depends on what is installed in it. A version
number in the ``core_meta`` table changes whenever addons or user-defined
fields change; every unit of work reads it (one cheap query) and rebuilds
the registry when another process moved it.
"""
import logging
import os
import threading
from contextlib import contextmanager

import sqlalchemy as sa

from . import addons as addon_mod
from .errors import AddonError, Conflict, UserInputError
from .orm.env import SYSTEM_UID, Env
from .plugins import AddonHooks
from .registry import Registry

log = logging.getLogger(__name__)

_meta_md = sa.MetaData()
#: Kernel bookkeeping outside any model: registry version, edition, init flag.
META = sa.Table("core_meta", _meta_md,
                sa.Column("key", sa.String(64), primary_key=True),
                sa.Column("value", sa.Text))


#: SQLSTATEs of PostgreSQL's concurrency failures: serialization failure,
#: deadlock, lock not available
_CONCURRENCY_STATES = {"40001", "40P01", "55P03"}


def is_concurrency_error(exc):
    """Did the database refuse because another transaction changed the same
    data at the same moment? (PostgreSQL: serialization failure, deadlock;
    SQLite: busy — another writer holds the database, or this transaction's
    snapshot is older than a change committed since it began.)"""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _CONCURRENCY_STATES:
        return True
    text = str(orig or "").lower()
    return "database is locked" in text or "database is busy" in text


#: Built once: every unit of work runs it (SQLAlchemy then reuses the compiled form).
_META_VALUE = sa.select(META.c.value).where(META.c.key == sa.bindparam("key"))


_USERS = sa.table("core_user", sa.column("id"), sa.column("login"), sa.column("active"))
_VERSION_AND_USER = {
    by: sa.select(sa.select(META.c.value).where(META.c.key == "registry_version")
                  .scalar_subquery().label("version"),
                  sa.select(META.c.value).where(META.c.key == "security_version")
                  .scalar_subquery().label("security"), _USERS.c.id, _USERS.c.active)
    .where(_USERS.c[by] == sa.bindparam("user"))
    for by in ("id", "login")}


def make_engine(url):
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        path = url.database
        if path and path != ":memory:" and not path.startswith("file:"):
            folder = os.path.dirname(os.path.abspath(path))
            os.makedirs(folder, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi_conn, record):
            # Let SQLAlchemy, not the sqlite3 module, open transactions, so
            # that DDL is transactional too (install, upgrade: all or nothing).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            # like is case-sensitive as on PostgreSQL (ilike is not), and a
            # prefix pattern can then use the column's index
            cur.execute("PRAGMA case_sensitive_like=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN")
        return engine
    if url.get_backend_name() == "postgresql" and url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    try:
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise UserInputError(f"cannot use database URL {url!r}: {exc}") from None


class Database:
    """One database and the addons available to this process."""

    def __init__(self, url, available=None):
        self.url = str(url)
        self.engine = make_engine(url)
        self._available = available
        self._registry = None
        self._lock = threading.Lock()
        self._has_meta = False
        self._access_cache = {}

    def __repr__(self):
        return f"<Database {self.engine.url.render_as_string(hide_password=True)}>"

    def dispose(self):
        self.engine.dispose()

    def optimize(self):
        """Refresh the query planner's statistics (after installs, large
        imports, and nightly): SQLite's ``PRAGMA optimize``, PostgreSQL's
        ``ANALYZE``. Without them SQLite may sort a whole scope rather than
        walk the sort column's index."""
        with self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.connection.driver_connection.execute("PRAGMA optimize=0x10002")
            else:
                conn.execute(sa.text("ANALYZE"))
                conn.commit()

    @property
    def available(self):
        if self._available is None:
            self._available = addon_mod.discover()
        return self._available

    def rediscover(self):
        self._available = None
        self._registry = None

    # -- bookkeeping -------------------------------------------------------
    def get_meta(self, conn, key, default=None):
        if not self._has_meta:
            if not sa.inspect(conn).has_table("core_meta"):  # not initialised
                return default
            self._has_meta = True
        value = conn.execute(_META_VALUE, {"key": key}).scalar()
        return default if value is None else value

    @staticmethod
    def set_meta(conn, key, value):
        updated = conn.execute(sa.update(META).where(META.c.key == key).values(value=str(value))).rowcount
        if not updated:
            conn.execute(sa.insert(META).values(key=key, value=str(value)))

    def is_initialised(self):
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("core_meta"):
                return False
            return conn.execute(sa.select(META.c.value).where(META.c.key == "initialised")).scalar() == "1"

    def bump_version(self, conn):
        """Tell every process that the registry changed."""
        current = int(self._read_version(conn) or 0)
        self.set_meta(conn, "registry_version", current + 1)
        return current + 1

    @staticmethod
    def _read_version(conn):
        return conn.execute(sa.select(META.c.value).where(META.c.key == "registry_version")).scalar()

    # -- registry ----------------------------------------------------------
    def installed_addons(self, conn):
        """Names of installed addons (base always), in dependency order."""
        rows = []
        if sa.inspect(conn).has_table("core_addon"):
            rows = conn.execute(sa.text("SELECT name FROM core_addon WHERE state = 'installed'")).scalars().all()
        names, available = [], self.available
        for name in rows:
            if name not in available:
                log.warning("addon %r is installed in the database but not available here; "
                            "it and what depends on it are not loaded", name)
                continue
            names.append(name)
        ok = []
        for name in names:
            try:
                addon_mod.with_dependencies(available, [name])
                ok.append(name)
            except AddonError as exc:
                log.warning("addon %r is not loaded: %s", name, exc)
        return addon_mod.dependency_order(available, set(ok) | {addon_mod.BASE})

    def build_registry(self, conn, names, version=0):
        """A registry of the addons ``names`` (plus dependencies)."""
        available = self.available
        ordered = addon_mod.dependency_order(
            available, set(addon_mod.with_dependencies(available, list(names) + [addon_mod.BASE])))
        loaded = [(available[n], addon_mod.load_module(available[n])) for n in ordered]
        hooks = AddonHooks([(m.name, module) for m, module in loaded])
        custom = []
        if sa.inspect(conn).has_table("core_field"):
            custom = [dict(r) for r in conn.execute(sa.text("SELECT * FROM core_field ORDER BY id")).mappings()]
        return Registry(available, loaded, hooks, custom, version)

    def registry(self, conn):
        """The current registry, rebuilt if another process changed it."""
        version = int(self.get_meta(conn, "registry_version", 0) or 0)
        current = self._registry
        if current is not None and current.version == version:
            return current
        with self._lock:
            if self._registry is None or self._registry.version != version:
                self._registry = self.build_registry(conn, self.installed_addons(conn), version)
            return self._registry

    def set_registry(self, registry):
        self._registry = registry

    # -- units of work -----------------------------------------------------
    @contextmanager
    def transaction(self, foreign_keys=True):
        """A connection in one transaction: commit at the end, roll back on
        error. ``foreign_keys=False`` (SQLite: a purge rebuilding tables)
        turns enforcement off for this transaction and checks every
        reference before committing."""
        try:
            with self._transaction(foreign_keys) as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            if is_concurrency_error(exc):
                raise Conflict("another change to the same data was made at the same moment; "
                               "nothing was saved — try again", {"retry": True}) from exc
            raise

    @contextmanager
    def _transaction(self, foreign_keys):
        relax = not foreign_keys and self.engine.dialect.name == "sqlite"
        with self.engine.connect() as conn:
            conn.info.pop("security_touched", None)  # info outlives the checkout (pool)
            if relax:  # must happen outside a transaction, on the driver's connection
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    yield conn
                    if relax:
                        bad = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if bad:
                            raise UserInputError(f"foreign key check failed: {bad[:3]}")
            finally:
                if relax:
                    conn.connection.driver_connection.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def unit_of_work(self, user="admin", su=False, context=None, now=None):
        """An ``Env`` for one request or command: everything in it commits
        together or not at all. ``user`` is a login, a user id or ``None``
        for the system context; ``now`` (naive UTC) the clock it reads —
        a job's slot, or a test's frozen day — the current time if not
        given."""
        with self.transaction() as conn:
            registry = uid = security = None
            current = self._registry
            if current is not None and user is not None and self._has_meta:
                # the usual case in one round trip: registry version, security
                # version and the user
                by = "id" if isinstance(user, int) else "login"
                row = conn.execute(_VERSION_AND_USER[by], {"user": user}).first()
                if row is not None and row.active and int(row.version or 0) == current.version:
                    registry, uid, security = current, row.id, row.security or "0"
            if registry is None:
                registry = self.registry(conn)
                uid = SYSTEM_UID if user is None else self.resolve_user(conn, registry, user)
            env = Env(self, conn, registry, uid, su=su or user is None, context=context, now=now)
            env.security_version = security  # None: not read (system context, first use)
            self._load_access(env, security)
            yield env

    def _load_access(self, env, security):
        """The user's rules, loaded as the unit of work starts — from this
        process's cache while the security version has not moved."""
        from .security.access import Access
        if env.su or security is None:
            env._access = Access(env)
            return
        key = (env.uid, env.registry.version, security)
        data = self._access_cache.get(env.uid)
        if data is not None and data[0] == key:
            env._access = Access(env, data[1])
            return
        env._access = Access(env)
        self._access_cache[env.uid] = (key, env._access.snapshot())

    def touch_security(self, conn):
        """Roles, permissions, users or departments changed: every process
        reloads access rules on its next unit of work. This transaction then
        sees its own changes, never a cache (``conn.info["security_touched"]``)."""
        conn.info["security_touched"] = True
        current = int(self.get_meta(conn, "security_version", 0) or 0)
        self.set_meta(conn, "security_version", current + 1)

    @staticmethod
    def resolve_user(conn, registry, user):
        by = "id" if isinstance(user, int) else "login"
        stmt = registry.statements.get(("user_by", by))
        if stmt is None:
            table = registry["core.user"].table
            stmt = registry.statements[("user_by", by)] = sa.select(table.c.id, table.c.active).where(
                table.c[by] == sa.bindparam("user"))
        row = conn.execute(stmt, {"user": user}).first()
        if row is None or not row.active:
            raise UserInputError(f"unknown or inactive user {user!r}")
        return row.id
