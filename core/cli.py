"""The ``keel`` command line (CONTRACT.md §2).

Exit status: 0 done; 1 refused or bad input, with one line on stderr and no
traceback; 2 usage error (click's own).
"""
import json
import logging
import sys

import click
import sqlalchemy as sa

from . import __version__
from .addons import BASE, dependency_order, with_dependencies
from .config import load_config
from .db import Database
from .editions import edition_addons, load_editions
from .errors import KeelError, UserInputError
from .installer import Installer


class Context:
    def __init__(self, db_url, user):
        self.config = load_config(**({"database_url": db_url} if db_url else {}))
        self.user = user
        self._db = None

    @property
    def db(self):
        if self._db is None:
            self._db = Database(self.config.database_url)
        return self._db

    def initialised_db(self):
        if not self.db.is_initialised():
            raise UserInputError(f"database {self.config.database_url} is not initialised; "
                                 "run `keel init` first")
        return self.db

    def check_user(self):
        """The acting user must exist (and later, hold the rights)."""
        with self.db.unit_of_work(self.user):
            pass


def warn(message):
    click.echo(f"warning: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keel")
@click.option("--db", "db_url", metavar="URL", help="Database URL (else KEEL_DATABASE_URL, else sqlite:///var/keel.db).")
@click.option("--user", default="admin", show_default=True, metavar="LOGIN", help="The user a command acts as.")
@click.pass_context
def cli(ctx, db_url, user):
    """Keel: a modular ERP/CRM."""
    ctx.obj = Context(db_url, user)
    logging.getLogger().setLevel(ctx.obj.config.log_level.upper())


# -- init ------------------------------------------------------------------------
@cli.command()
@click.option("--edition", type=click.Choice(["lite", "standard", "enhanced"]), default=None,
              help="Addon set to install (default from config: standard).")
@click.option("--demo", is_flag=True, help="Load demo data.")
@click.option("--admin-password", metavar="PW", help="Password of the admin user (else one is generated and printed).")
@click.pass_obj
def init(obj, edition, demo, admin_password):
    """Create the schema, install an edition, create the admin user."""
    edition = edition or obj.config.edition
    db = obj.db
    if db.is_initialised():
        raise UserInputError(f"database {obj.config.database_url} is already initialised")
    if admin_password is not None and len(admin_password) < 8:
        raise UserInputError("--admin-password: use at least 8 characters")
    present, missing = edition_addons(edition, db.available)
    for name in missing:
        warn(f"edition {edition!r} names addon {name!r}, which is not available yet; skipped")
    with db.transaction() as conn:
        password = Installer(db, conn).init(present, admin_password, demo, edition)
    click.echo(f"initialised {obj.config.database_url} with edition {edition}: "
               f"{', '.join(present) or 'kernel only'}")
    if admin_password:
        click.echo("admin login: admin (password as given)")
    else:
        click.echo(f"admin login: admin  password: {password}  (shown once; change it after signing in)")


# -- addons ----------------------------------------------------------------------
@cli.group()
def addons():
    """List, install, upgrade and uninstall addons."""


def _addon_rows(db):
    with db.transaction() as conn:
        rows = {r.name: r for r in conn.execute(sa.text("SELECT name, addon_version AS version, state FROM core_addon"))}
        registry = db.registry(conn)
    implementers = registry.hooks.implementers()
    result = []
    for name, m in sorted(db.available.items()):
        row = rows.get(name)
        state = row.state if row else "uninstalled"
        result.append({"name": name, "version": m.version,
                       "installed_version": row.version if row and state == "installed" else None,
                       "state": state, "depends": [d for d in m.depends if d != BASE] if name != BASE else [],
                       "summary": m.summary, "category": m.category, "origin": m.origin,
                       "hooks": sorted(h for h, who in implementers.items() if name in who)})
    return result


@addons.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def addons_list(obj, as_json):
    """Every addon found: name, version, state, depends."""
    db = obj.initialised_db()
    obj.check_user()
    rows = _addon_rows(db)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    width = max(len(r["name"]) for r in rows)
    click.echo(f"{'NAME':<{width}}  {'VERSION':<8}  {'STATE':<11}  DEPENDS")
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['version']:<8}  {r['state']:<11}  {', '.join(r['depends'])}")


@addons.command("install")
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def addons_install(obj, names):
    """Install addons and what they depend on."""
    db = obj.initialised_db()
    obj.check_user()
    with db.transaction() as conn:
        done = Installer(db, conn).install(list(names))
    click.echo(f"installed: {', '.join(done)}" if done else "nothing to install: already installed")


@addons.command("uninstall")
@click.argument("names", nargs=-1, required=True)
@click.option("--purge", is_flag=True, help="Also drop the addon's tables and columns (data is lost).")
@click.pass_obj
def addons_uninstall(obj, names, purge):
    """Uninstall addons (their data is kept unless --purge)."""
    db = obj.initialised_db()
    obj.check_user()
    with db.transaction(foreign_keys=not purge) as conn:
        installer = Installer(db, conn)
        done = installer.uninstall(list(names), purge=purge)
    click.echo(f"uninstalled: {', '.join(done)}" + ("" if purge else " (data kept)"))
    for line in installer.messages:
        click.echo(f"  {line}")


@addons.command("upgrade")
@click.argument("names", nargs=-1)
@click.pass_obj
def addons_upgrade(obj, names):
    """Upgrade installed addons (all when none is named)."""
    db = obj.initialised_db()
    obj.check_user()
    with db.transaction() as conn:
        installer = Installer(db, conn)
        done = installer.upgrade(list(names) or None)
    for line in installer.messages:
        click.echo(line)
    if done:
        for name, old, new in done:
            click.echo(f"upgraded {name}: {old} -> {new}")
    else:
        click.echo("up to date; data reloaded")


# -- editions --------------------------------------------------------------------
@cli.group()
def edition():
    """Show or change the edition (a set of addons)."""


@edition.command("show")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def edition_show(obj, as_json):
    db = obj.initialised_db()
    obj.check_user()
    with db.transaction() as conn:
        current = db.get_meta(conn, "edition")
        installed = set(Installer(db, conn).installed())
    rows = []
    for name, data in load_editions().items():
        rows.append({"name": name, "label": data["label"], "current": name == current,
                     "addons": [{"name": a, "available": a in db.available, "installed": a in installed}
                                for a in data["addons"]]})
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    click.echo(f"edition: {current or '(none)'}")
    for row in rows:
        marks = [a["name"] + ("" if a["available"] else " (not available)") for a in row["addons"]]
        click.echo(f"{'*' if row['current'] else ' '} {row['name']:<9} {', '.join(marks)}")


@edition.command("set")
@click.argument("name", type=click.Choice(list(load_editions())))
@click.option("--yes", is_flag=True, help="Confirm uninstalling the addons the edition lacks (data kept).")
@click.pass_obj
def edition_set(obj, name, yes):
    db = obj.initialised_db()
    obj.check_user()
    present, missing = edition_addons(name, db.available)
    for addon in missing:
        warn(f"edition {name!r} names addon {addon!r}, which is not available yet; skipped")
    keep = set(with_dependencies(db.available, present + [BASE]))
    with db.transaction() as conn:
        installer = Installer(db, conn)
        installed = installer.installed()
        drop = [a for a in installed if a not in keep]
        if drop and not yes:
            raise UserInputError(f"moving to {name} uninstalls {', '.join(drop)} (data kept); "
                                 "repeat with --yes")
        if drop:
            installer.uninstall(dependency_order(db.available, set(drop) & set(db.available))
                                + [d for d in drop if d not in db.available])
        added = installer.install(present)
        db.set_meta(conn, "edition", name)
    click.echo(f"edition {name}: installed {', '.join(added) or 'nothing new'}"
               + (f"; uninstalled {', '.join(drop)} (data kept)" if drop else ""))


# -- shell and serve -------------------------------------------------------------------
@cli.command()
@click.option("-c", "command", metavar="CODE", help="Run CODE instead of an interactive shell.")
@click.pass_obj
def shell(obj, command):
    """A Python shell with ``env`` (one unit of work as --user) and ``db``.
    Changes are committed when the shell ends without an error."""
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        namespace = {"env": env, "db": db}
        if command:
            exec(compile(command, "<keel shell -c>", "exec"), namespace)
        else:
            import code
            code.interact(banner=f"Keel {__version__} shell: env = {env!r}; changes commit on exit",
                          local=namespace, exitmsg="")


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default from config).")
@click.option("--port", default=None, type=int, help="Port (default 8069, KEEL_PORT).")
@click.pass_obj
def serve(obj, host, port):
    """Run the development web server."""
    from .app import create_app
    obj.initialised_db()
    app = create_app(obj.config, db=obj.db)
    app.run(host=host or obj.config.host, port=port or obj.config.port, debug=False)


# -- departments and users (CONTRACT.md §2) --------------------------------------------
def _find(env, model, field, value, what):
    """The id of the record of ``model`` whose ``field`` is ``value``, else exit 1 naming it."""
    domain = [[field, "=", value]] + ([["login", "!=", "__system__"]] if model == "core.user" else [])
    found = env[model].search(domain, limit=1)
    if not found:
        raise UserInputError(f"unknown {what} {value!r}")
    return found.id


def _department_values(env, name, parent, manager):
    values = {}
    if name is not None:
        if not name.strip():
            raise UserInputError("--name: must not be empty")
        values["name"] = name
    if parent is not None:  # "" clears
        values["parent_id"] = _find(env, "core.department", "code", parent, "department") if parent else None
    if manager is not None:  # "" clears
        values["manager_id"] = _find(env, "core.user", "login", manager, "user") if manager else None
    return values


@cli.group()
def department():
    """The department tree: create, update, list."""


@department.command("create")
@click.argument("code")
@click.option("--name", required=True, metavar="N", help="Name of the department.")
@click.option("--parent", metavar="CODE", help="Code of the parent department.")
@click.option("--manager", metavar="LOGIN", help="Login of the department's manager.")
@click.pass_obj
def department_create(obj, code, name, parent, manager):
    """Create a department."""
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        if not code.strip():
            raise UserInputError("department code must not be empty")
        if env["core.department"].search_count([["code", "=", code]]):
            raise UserInputError(f"department {code!r} already exists")
        values = _department_values(env, name, parent or None, manager or None)
        env["core.department"].create({"code": code, **values})
    click.echo(f"department {code} created")


@department.command("update")
@click.argument("code")
@click.option("--name", metavar="N", help="New name.")
@click.option("--parent", metavar="CODE", help="Code of the new parent department (\"\" for none).")
@click.option("--manager", metavar="LOGIN", help="Login of the new manager (\"\" for none).")
@click.pass_obj
def department_update(obj, code, name, parent, manager):
    """Change a department's name, parent or manager."""
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        dept_id = _find(env, "core.department", "code", code, "department")
        values = _department_values(env, name, parent, manager)
        if values.get("parent_id"):  # no cycles: the new parent must not lie below
            depts = env["core.department"]
            seen, current = set(), values["parent_id"]
            while current and current not in seen:
                if current == dept_id:
                    raise UserInputError(f"department {parent!r} is {code!r} or lies below it; "
                                         "a department cannot be its own ancestor")
                seen.add(current)
                current = depts.browse(current).parent_id.ids[:1]
                current = current[0] if current else None
        if not values:
            raise UserInputError("nothing to change: give --name, --parent or --manager")
        env["core.department"].browse(dept_id).write(values)
    click.echo(f"department {code} updated")


@department.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def department_list(obj, as_json):
    """Every department: code, name, parent, manager."""
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        rows = env["core.department"].search_read([], ["code", "name", "parent_id", "manager_id"])
        codes = {r["id"]: r["code"] for r in rows}
        logins = dict((r["id"], r["login"]) for r in env["core.user"].search_read(
            [["id", "in", sorted({r["manager_id"]["id"] for r in rows if r["manager_id"]})]], ["login"]))
    out = [{"code": r["code"], "name": r["name"],
            "parent": codes.get(r["parent_id"]["id"]) if r["parent_id"] else None,
            "manager": logins.get(r["manager_id"]["id"]) if r["manager_id"] else None} for r in rows]
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for r in out:
        click.echo(f"{r['code']:<12}  {r['name']:<24}  parent: {r['parent'] or '-':<12}  "
                   f"manager: {r['manager'] or '-'}")


@cli.group()
def user():
    """Users: create, list, API tokens."""


@user.command("create")
@click.argument("login")
@click.option("--password", required=True, metavar="PW", help="Initial password (at least 8 characters).")
@click.option("--name", metavar="N", help="Display name (default: the login).")
@click.option("--role", "roles", multiple=True, metavar="CODE", help="A role to hold (repeatable).")
@click.option("--department", metavar="CODE", help="Code of the user's department.")
@click.option("--lang", type=click.Choice(["zh_CN", "en"]), help="Language (default: the browser's).")
@click.option("--tz", metavar="ZONE", help="Time zone, e.g. Asia/Shanghai.")
@click.pass_obj
def user_create(obj, login, password, name, roles, department, lang, tz):
    """Create a user."""
    from .security.auth import check_password_policy, set_password
    db = obj.initialised_db()
    if not login.strip() or login != login.strip():
        raise UserInputError(f"login {login!r}: no empty login, no leading or trailing spaces")
    check_password_policy(password, login)
    with db.unit_of_work(obj.user) as env:
        if env["core.user"].search_count([["login", "=", login]]):
            raise UserInputError(f"user {login!r} already exists")
        role_ids = [_find(env, "core.role", "code", code, "role") for code in dict.fromkeys(roles)]
        values = {"login": login, "name": name or login, "roles": role_ids}
        if department:
            values["department_id"] = _find(env, "core.department", "code", department, "department")
        if lang:
            values["lang"] = lang
        if tz:
            values["tz"] = tz
        uid = env["core.user"].create(values).id
        set_password(env, uid, password)
    click.echo(f"user {login} created")


def _manager_of(user_id, department_id, managers, parents):
    """The manager of a user: its department's manager, or when the user
    manages that department itself, the nearest manager above."""
    seen = set()
    while department_id and department_id not in seen:
        seen.add(department_id)
        manager = managers.get(department_id)
        if manager and manager != user_id:
            return manager
        department_id = parents.get(department_id)
    return None


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def user_list(obj, as_json):
    """Every user: login, name, active, lang, department, roles, manager."""
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        users = env["core.user"].search_read([["login", "!=", "__system__"]],
                                              ["login", "name", "active", "lang", "department_id", "roles"])
        depts = env["core.department"].search_read([], ["code", "parent_id", "manager_id"])
        roles = {r["id"]: r["code"] for r in env["core.role"].search_read([], ["code"])}
    logins = {u["id"]: u["login"] for u in users}
    codes = {d["id"]: d["code"] for d in depts}
    parents = {d["id"]: d["parent_id"]["id"] for d in depts if d["parent_id"]}
    managers = {d["id"]: d["manager_id"]["id"] for d in depts if d["manager_id"]}
    out = []
    for u in users:
        dept = u["department_id"]["id"] if u["department_id"] else None
        manager = _manager_of(u["id"], dept, managers, parents)
        out.append({"login": u["login"], "name": u["name"], "active": bool(u["active"]),
                    "lang": u["lang"], "department": codes.get(dept),
                    "roles": sorted(roles[r] for r in u["roles"] if r in roles),
                    "manager": logins.get(manager)})
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    for r in out:
        click.echo(f"{r['login']:<16}  {r['name']:<24}  {'active' if r['active'] else 'inactive':<8}  "
                   f"{r['lang'] or '-':<5}  {r['department'] or '-':<12}  {','.join(r['roles']) or '-':<20}  "
                   f"manager: {r['manager'] or '-'}")


@user.command("token")
@click.argument("login")
@click.option("--label", metavar="TEXT", help="What the token is for.")
@click.option("--days", type=click.IntRange(min=1), default=90, show_default=True,
              help="Days until the token expires.")
@click.option("--list", "list_", is_flag=True, help="List the user's tokens instead (never the tokens themselves).")
@click.option("--revoke", type=int, metavar="ID", help="Revoke the user's token ID instead.")
@click.option("--json", "as_json", is_flag=True, help="With --list: print a JSON array.")
@click.pass_obj
def user_token(obj, login, label, days, list_, revoke, as_json):
    """Print a new API token for LOGIN (shown once), or list or revoke its tokens."""
    from .security.auth import issue_token, list_tokens, revoke_token
    if list_ and revoke is not None:
        raise click.UsageError("--list and --revoke exclude each other")
    db = obj.initialised_db()
    with db.unit_of_work(obj.user) as env:
        uid = _find(env, "core.user", "login", login, "user")
        if list_:
            rows = list_tokens(env, uid)
        elif revoke is not None:
            revoke_token(env, revoke, uid)
        else:
            token = issue_token(env, uid, label=label, days=days)
    if list_:
        rows = [{"id": r["id"], "label": r["label"], "state": r["state"],
                 **{k: r[k].isoformat(sep=" ") if r[k] else None
                    for k in ("created_at", "expires_at", "last_used_at", "revoked_at")}} for r in rows]
        if as_json:
            click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for r in rows:
            click.echo(f"{r['id']:>5}  {r['state']:<8}  expires {r['expires_at'] or 'never':<19}  "
                       f"last used {r['last_used_at'] or 'never':<19}  {r['label'] or ''}")
    elif revoke is not None:
        click.echo(f"token {revoke} of {login} revoked")
    else:
        click.echo(token)


# Command groups kept in their own modules, each a click command or group:
# data in and out (export, later import) and customization (fields, later
# templates).
from .cli_data import COMMANDS as _data_commands  # noqa: E402
from .cli_custom import COMMANDS as _custom_commands  # noqa: E402
from .cli_scheduler import COMMANDS as _scheduler_commands  # noqa: E402
from .cli_backup import COMMANDS as _backup_commands  # noqa: E402

for _command in (*_data_commands, *_custom_commands, *_scheduler_commands, *_backup_commands):
    cli.add_command(_command)


def main(argv=None):
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        cli.main(args=argv, prog_name="keel", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:  # one line, as every other mistake
        if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
            exc.show()  # a bare group (`keel addons`): its help
            return exc.exit_code
        where = exc.ctx.command_path if exc.ctx else "keel"
        click.echo(f"error: {exc.format_message()} (see `{where} --help`)", err=True)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 1
    except KeelError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except sa.exc.OperationalError as exc:
        click.echo(f"error: database: {str(exc.orig).strip().splitlines()[0]}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
