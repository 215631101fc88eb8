"""``keel backup create | list | restore`` (CONTRACT.md §2): one file holds
the database and every attachment file (:mod:`core.services.backup`)."""
import json
from pathlib import Path

import click
import sqlalchemy as sa

from .db import Database
from .errors import AccessDenied, UserInputError
from .i18n import _
from .services import backup as backups


def _size(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def _require_admin(db, user):
    """A backup holds every record and password hash; a restore replaces
    them all: only an administrator (a role marked admin) may do either."""
    with db.unit_of_work(user) as env:
        if not (env.su or env.access.admin):
            raise AccessDenied(_("keel backup: user {user} is not an administrator").format(user=user))


@click.group("backup")
def backup_group():
    """Back up and restore the database and its attachment files."""


@backup_group.command("create")
@click.option("-o", "--output", "folder", metavar="DIR",
              help="Folder to write the backup to (default: config backup_dir, else <data_dir>/backups).")
@click.pass_obj
def backup_create(obj, folder):
    """Write one backup file: database, attachment files and manifest.
    Older backups beyond config backup_keep are then removed."""
    if folder and Path(folder).exists() and not Path(folder).is_dir():
        raise UserInputError(_("-o {folder}: not a folder").format(folder=folder))
    db = obj.initialised_db()
    try:
        _require_admin(db, obj.user)
        path = backups.create(db, obj.config, folder)
    finally:
        db.dispose()
    manifest = backups.read_manifest(path)
    click.echo(_("backup written: {path} ({size}, {files} files)").format(
        path=path, size=_size(path.stat().st_size), files=manifest["files"]))


@backup_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("-d", "--dir", "folder", metavar="DIR", help="Folder to list (default: the backup folder).")
@click.pass_obj
def backup_list(obj, as_json, folder):
    """The backups in the backup folder, newest first: name, created (UTC),
    size, Keel version, database."""
    rows = backups.list_backups(obj.config, folder)
    if as_json:
        out = [{"name": b["name"], "created": b["created_at"].isoformat().replace("+00:00", "Z"),
                "size": b["size"], "keel_version": b["keel_version"], "database": b["database"],
                "database_name": b["database_name"], "files": b["files"], "addons": b["addons"],
                "path": b["path"]} for b in rows]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(_("no backups in {folder}").format(folder=backups.backup_folder(obj.config, folder)))
        return
    width = max(len(b["name"]) for b in rows)
    click.echo(f"{'NAME':<{width}}  {'CREATED (UTC)':<19}  {'SIZE':>9}  {'KEEL':<8}  DATABASE")
    for b in rows:
        click.echo(f"{b['name']:<{width}}  {b['created_at']:%Y-%m-%d %H:%M:%S}  {_size(b['size']):>9}  "
                   f"{b['keel_version']:<8}  {b['database']}")


@backup_group.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--yes", is_flag=True, help="Confirm: the database is replaced by the backup's.")
@click.pass_obj
def backup_restore(obj, file, yes):
    """Replace the database by the backup FILE and put back its attachment
    files. Every checksum is verified before anything is touched. Stop the
    server and the scheduler first; start them again afterwards."""
    manifest = backups.read_manifest(file)
    url = sa.make_url(obj.config.database_url)
    backups.check_compatible(file, manifest, obj.config.database_url)
    if not yes:
        raise UserInputError(_("restoring {file} (made {created}) replaces the whole database "
                               "{url} and adds {files} files to {root}; add --yes to do it").format(
            file=file, created=manifest["created_at"], url=url.render_as_string(hide_password=True),
            files=manifest.get("files", 0), root=backups.files_root(obj.config)))
    current = Database(obj.config.database_url)
    try:  # a database that is there: its administrator restores it; none (a disaster): anyone
        initialised = current.is_initialised()
    except sa.exc.SQLAlchemyError:
        initialised = False
    try:
        if initialised:
            _require_admin(current, obj.user)
    finally:
        current.dispose()
    done = backups.restore(obj.config.database_url, file, obj.config)
    click.echo(_("restored {file} (made {created}, Keel {version}) into {url}: {files} files, "
                 "{added} added").format(
        file=file, created=manifest["created_at"], version=done["keel_version"],
        url=url.render_as_string(hide_password=True), files=done["files"], added=done["files_added"]))


#: click commands added to ``keel`` by :mod:`core.cli`
COMMANDS = [backup_group]
