"""Installing, upgrading and uninstalling addons; creating a database.

Each operation works inside the caller's transaction (``Database.transaction``)
so that it is all or nothing: schema changes, data, installed state and the
registry version commit together, and a failure anywhere leaves the
database as it was.
"""
import logging
import secrets

import sqlalchemy as sa

from . import schema
from .addons import BASE, dependency_order, dependents, parse_version, with_dependencies
from .db import META
from .errors import AddonError, UserInputError
from .orm.env import SYSTEM_UID, Env
from .passwords import hash_password
from .security.roles import load_addon_roles
from .workflow.data import load_addon_workflows

log = logging.getLogger(__name__)

#: Data an addon ships through these hooks, stored with the addon's name:
#: hook, model, key field. (Roles go through ``security.roles``, workflows
#: through ``workflow.data``.)
SHIPPED = (("keel_menus", "core.menu", "key"), ("keel_views", "core.view", "key"),
           ("keel_jobs", "core.job", "key"))

#: What an uninstall removes: the rows these models hold for the addon.
OWNED_MODELS = ("core.role", "core.permission", "core.field_rule", "core.menu", "core.view",
                "core.job", "core.workflow_trigger", "core.workflow_transition",
                "core.workflow_field_mode", "core.workflow_state")


class Installer:
    def __init__(self, db, conn):
        self.db = db
        self.conn = conn
        self.messages = []

    # -- helpers -----------------------------------------------------------
    def _env(self, registry):
        return Env(self.db, self.conn, registry, SYSTEM_UID, su=True)

    def _installed_rows(self):
        if not sa.inspect(self.conn).has_table("core_addon"):
            return {}
        return {r.name: r for r in self.conn.execute(sa.text("SELECT name, addon_version AS version, state FROM core_addon"))}

    def installed(self):
        return [n for n, r in self._installed_rows().items() if r.state == "installed"]

    def _loadable(self, names):
        """Those of ``names`` whose code (and that of their dependencies) is
        here: an installed addon whose code is gone must not block the rest
        (``Database.installed_addons`` leaves it out with a warning too)."""
        ok = []
        for name in names:
            try:
                with_dependencies(self.db.available, [name])
            except AddonError:
                continue
            ok.append(name)
        return ok

    def _sync(self, registry):
        """The schema follows the registry; a refusal by the database (e.g. a
        unique index the existing rows violate) is a one-line error."""
        try:
            return schema.sync(self.conn, registry.metadata)
        except sa.exc.DBAPIError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise AddonError(f"the schema of addons {', '.join(registry.addon_names[1:]) or 'base'} "
                             f"cannot be applied: {reason}") from exc

    def _finish(self, registry):
        registry.version = self.db.bump_version(self.conn)
        return registry

    # -- init --------------------------------------------------------------
    def init(self, addons=(), admin_password=None, demo=False, edition=None):
        """Create the kernel schema, the system and admin users, and install
        ``addons``. Returns the admin password (generated if not given)."""
        conn = self.conn
        if admin_password is not None and len(admin_password) < 8:
            raise UserInputError("--admin-password: use at least 8 characters")
        META.create(conn, checkfirst=True)
        if self.db.get_meta(conn, "initialised") == "1":
            raise UserInputError("this database is already initialised")
        registry = self.db.build_registry(conn, [])
        self._sync(registry)
        users = registry["core.user"].table
        conn.execute(sa.insert(users).values(id=SYSTEM_UID, login="__system__", name="System",
                                             active=False, version=1))
        if conn.dialect.name == "postgresql":  # the explicit id above did not move the sequence
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('core_user', 'id'), "
                                 "(SELECT max(id) FROM core_user))")
        env = self._env(registry)
        env["core.addon"].create({"name": BASE, "addon_version": self.db.available[BASE].version})
        self.db.set_meta(conn, "demo", "1" if demo else "0")
        self._load_data(env, BASE, demo)
        password = admin_password or secrets.token_urlsafe(12)
        admin_role = env["core.role"].search([["code", "=", "admin"]])
        env["core.user"].create({"login": "admin", "name": "Administrator",
                                 "password_hash": hash_password(password), "roles": list(admin_role.ids)})
        self.db.set_meta(conn, "initialised", "1")
        if edition:
            self.db.set_meta(conn, "edition", edition)
        self._finish(registry)
        if addons:
            self.install(addons)
        return password

    # -- install -------------------------------------------------------------
    def install(self, names):
        available = self.db.available
        for name in names:
            if name not in available:
                raise UserInputError(f"unknown addon {name!r} (see `keel addons list`)")
        installed = set(self.installed())
        plan = [n for n in with_dependencies(available, list(names)) if n not in installed]
        if not plan:
            return []
        registry = self.db.build_registry(self.conn, set(self._loadable(installed)) | set(plan))
        self._sync(registry)
        env = self._env(registry)
        demo = self.db.get_meta(self.conn, "demo") == "1"
        rows = self._installed_rows()
        for name in plan:
            version = available[name].version
            if name in rows:
                self.conn.execute(sa.text("UPDATE core_addon SET state = 'installed', addon_version = :v "
                                          "WHERE name = :n"), {"v": version, "n": name})
            else:
                env["core.addon"].create({"name": name, "addon_version": version})
            self._load_data(env, name, demo)
        for name in plan:
            registry.hooks.notify("keel_addon_installed", env=env, addon=name)
        self._finish(registry)
        return plan

    # -- upgrade -------------------------------------------------------------
    def upgrade(self, names=None):
        available = self.db.available
        rows = self._installed_rows()
        installed = self._loadable(self.installed())
        targets = list(names) if names else installed
        for name in targets:
            if name not in available:
                raise UserInputError(f"unknown addon {name!r}")
            if name not in installed:
                raise UserInputError(f"addon {name!r} is not installed; install it first")
        # a new version may depend on an addon that is not installed yet
        new_deps = [n for n in with_dependencies(available, installed) if n not in installed]
        if new_deps:
            self.install(new_deps)
            self.messages.append(f"installed new dependencies: {', '.join(new_deps)}")
            installed = self._loadable(self.installed())
            rows = self._installed_rows()
        registry = self.db.build_registry(self.conn, installed)
        self._sync(registry)
        env = self._env(registry)
        demo = self.db.get_meta(self.conn, "demo") == "1"
        done = []
        for name in dependency_order(available, set(targets)):
            old, new = rows[name].version, available[name].version
            if parse_version(new) < parse_version(old):
                raise UserInputError(f"addon {name!r}: the database has version {old}, newer than "
                                     f"this code's {new}; install the newer code")
            if new != old:
                registry.hooks.gather("keel_migrate", only=name, env=env, from_version=old, to_version=new)
                self.conn.execute(sa.text("UPDATE core_addon SET addon_version = :v WHERE name = :n"),
                                  {"v": new, "n": name})
                done.append((name, old, new))
            self._load_data(env, name, demo, first=False)
        self._finish(registry)
        return done

    # -- uninstall -----------------------------------------------------------
    def uninstall(self, names, purge=False):
        available = self.db.available
        installed = self.installed()
        if purge and self.conn.dialect.name == "sqlite" \
                and self.conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
            # dropping a column rebuilds the table on SQLite: with foreign keys
            # enforced that would cascade-delete every row referring to it
            raise UserInputError("uninstall --purge on SQLite needs a transaction without foreign "
                                 "key enforcement: Database.transaction(foreign_keys=False)")
        rows = self._installed_rows()
        # an addon uninstalled earlier (data kept) may still have its data purged
        purge_only = [n for n in names if purge and n not in installed and n in rows
                      and rows[n].state == "uninstalled"]
        for name in names:
            if name == BASE:
                raise UserInputError("the kernel addon 'base' cannot be uninstalled")
            if name not in installed and name not in purge_only:
                known = name in available or name in rows
                raise UserInputError(f"addon {name!r} is not installed" if known
                                     else f"unknown addon {name!r}")
        remaining = [n for n in installed if n not in names]
        for name in names:
            users = dependents(available, name, [r for r in remaining if r in available])
            if users:
                raise UserInputError(f"cannot uninstall {name!r}: installed addon"
                                     f"{'s' if len(users) > 1 else ''} {', '.join(users)} "
                                     f"depend{'s' if len(users) == 1 else ''} on it; uninstall "
                                     f"{'them' if len(users) > 1 else 'it'} first or together")
        old = self.db.build_registry(self.conn, self._loadable(installed + purge_only))
        env = self._env(old)
        loadable = self._loadable(names)
        for name in reversed(dependency_order(available, set(loadable))
                             + [n for n in names if n not in loadable]):
            for model in OWNED_MODELS:
                self._unlink(env[model].search([["addon", "=", name]]))
            self.conn.execute(sa.text("UPDATE core_addon SET state = 'uninstalled' WHERE name = :n"),
                              {"n": name})
        new = self.db.build_registry(self.conn, self._loadable(remaining))
        new_env = self._env(new)
        for name in names:
            if name not in purge_only:
                new.hooks.notify("keel_addon_uninstalled", env=new_env, addon=name)
        if purge:
            self._purge(env, old, names)
        self._finish(new)
        return list(names)

    def _purge(self, env, old, names):
        tables, columns = [], {}
        for name in names:
            t, c = old.tables_of(name)
            tables += t
            for table, cols in c.items():
                columns.setdefault(table, []).extend(cols)
        gone_models = [m.name for m in old.models.values() if m.addon in names]
        if gone_models:
            self._unlink(env["core.field"].search([["model", "in", gone_models]]))
        self._unlink(env["core.sequence"].search([["addon", "in", list(names)]]))
        for line in schema.drop(self.conn, tables, columns):
            self.messages.append(line)
        self.conn.execute(sa.text("DELETE FROM core_addon WHERE name IN :names")
                          .bindparams(sa.bindparam("names", expanding=True)), {"names": list(names)})

    def _unlink(self, records):
        """``records.unlink()``; on SQLite without foreign key enforcement (a
        purge) first do what the references' ``ON DELETE`` would have done:
        role links, sequence counters… would otherwise be left dangling."""
        if records and self.conn.dialect.name == "sqlite" \
                and not self.conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
            self._cascade(records._meta.table.name, list(records.ids))
        records.unlink()

    def _cascade(self, table, ids):
        inspector = sa.inspect(self.conn)
        q = self.conn.dialect.identifier_preparer.quote
        for other in inspector.get_table_names():
            for fk in inspector.get_foreign_keys(other):
                if fk["referred_table"] != table or len(fk["constrained_columns"]) != 1:
                    continue
                column = fk["constrained_columns"][0]
                action = ((fk.get("options") or {}).get("ondelete") or "").upper()
                where = sa.text(f"{q(column)} IN :ids").bindparams(sa.bindparam("ids", expanding=True))
                if action == "CASCADE":
                    if other != table and "id" in {c["name"] for c in inspector.get_columns(other)}:
                        children = self.conn.execute(sa.select(sa.text("id")).select_from(sa.table(other))
                                                     .where(where), {"ids": ids}).scalars().all()
                        if children:
                            self._cascade(other, children)
                    self.conn.execute(sa.delete(sa.table(other)).where(where), {"ids": ids})
                elif action == "SET NULL":
                    self.conn.execute(sa.update(sa.table(other, sa.column(column))).where(where)
                                      .values({column: None}), {"ids": ids})

    # -- data an addon ships ----------------------------------------------------
    def _load_data(self, env, name, demo, first=True):
        hooks = env.registry.hooks
        load_addon_roles(env, name, [i for _a, r in hooks.gather("keel_roles", only=name) for i in r or ()])
        load_addon_workflows(env, name, [i for _a, r in hooks.gather("keel_workflows", only=name)
                                         for i in r or ()])
        for hook, model, key in SHIPPED:
            items = []
            for _addon, result in hooks.gather(hook, only=name):
                items.extend(result or ())
            records = []
            for item in items:
                if key not in item:
                    raise AddonError(f"addon {name!r}: {hook} item without {key!r}: {item!r}")
                records.append({**item, "addon": name})
            self._sync_records(env, model, key, records, owner=name)
        for _addon, result in hooks.gather("keel_sequences", only=name):
            for item in result or ():
                seq = env["core.sequence"]
                if not seq.search_count([["code", "=", item["code"]]]):
                    from .sequences import check_pattern
                    seq.create({"code": item["code"], "name": item.get("label", item["code"]),
                                "pattern": check_pattern(item["pattern"]), "addon": name})
        for _a, result in hooks.gather("keel_data", only=name):
            for dataset in result or ():
                self._sync_records(env, dataset["model"], dataset["key"], dataset["records"])
        if demo and first:
            # demo records look like users' records: created and owned by admin
            admin = self.conn.execute(sa.text("SELECT id FROM core_user WHERE login = 'admin'")).scalar()
            demo_env = Env(self.db, self.conn, env.registry, admin or SYSTEM_UID, su=True)
            for _a, result in hooks.gather("keel_demo_data", only=name):
                for dataset in result or ():
                    self._sync_records(demo_env, dataset["model"], dataset["key"], dataset["records"])

    @staticmethod
    def _sync_records(env, model, key, records, owner=None):
        """Create or update ``records`` by ``key``; with ``owner`` also remove
        that addon's records of ``model`` that are no longer shipped."""
        model_set = env[model]
        wanted = {r[key]: r for r in records}
        existing = {r[key]: r for r in model_set.search_read([[key, "in", list(wanted)]], [key])} \
            if wanted else {}
        new = [r for k, r in wanted.items() if k not in existing]
        for k, values in wanted.items():
            if k in existing:
                model_set.browse([existing[k]["id"]]).write({f: v for f, v in values.items() if f != key})
        if new:
            model_set.create(new)
        if owner is not None:
            stale = model_set.search([["addon", "=", owner], [key, "not in", list(wanted)]])
            stale.unlink()
