"""``keel field`` and ``keel template``: customization without code
(CONTRACT.md §2, §4). Every command acts as ``--user`` through
:mod:`core.custom_fields` or :mod:`core.templates`, in one transaction; a
refusal exits 1 with one line naming the problem (for a template, its key
path).
"""
import json

import click

from . import custom_fields, templates
from .errors import UserInputError


@click.group("field")
def field():
    """User-defined fields: add, list, remove."""


def _selection(text):
    """``--selection a,b`` or ``a:Label A,b:Label B``: a list of options."""
    if text is None:
        return None
    items = [i.strip() for i in text.split(",")]
    if not all(items):
        raise UserInputError(f"--selection: an empty option in {text[:80]!r}")
    return [tuple(p.strip() for p in i.split(":", 1)) if ":" in i else i for i in items]


@field.command("add")
@click.argument("model")
@click.argument("name")
@click.option("--type", "type_", type=click.Choice(custom_fields.TYPES),
              help="The field's type (required).")
@click.option("--label", metavar="L", help="Label shown in forms and lists (default from the name).")
@click.option("--selection", metavar="a,b", help="Options of a selection field; `value:Label` gives a label.")
@click.option("--relation", metavar="MODEL", help="The model a many2one field refers to.")
@click.option("--default", "default", metavar="V",
              help="Default value: fills the existing records and applies to new ones.")
@click.option("--required", is_flag=True, help="A value is required (needs --default unless the table is empty).")
@click.option("--index", is_flag=True, help="Create an index on the column.")
@click.pass_obj
def field_add(obj, model, name, type_, label, selection, relation, default, required, index):
    """Add user-defined field NAME (x_…) to MODEL: a real column."""
    if type_ is None:  # click's own message would list the choices over many lines
        raise click.UsageError(f"missing option '--type' (one of {', '.join(custom_fields.TYPES)})")
    db = obj.initialised_db()
    added = custom_fields.add(db, model, name, type_, label=label, selection=_selection(selection),
                              relation=relation, required=required, index=index, default=default,
                              user=obj.user, source="cli")
    click.echo(f"field {model}.{name} added ({added.type}{', required' if required else ''}"
               f"{', indexed' if index or added.type == 'many2one' else ''})")


@field.command("list")
@click.argument("model")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def field_list(obj, model, as_json):
    """The user-defined fields of MODEL: name, type, label, required,
    indexed, options or relation, default."""
    db = obj.initialised_db()
    with db.transaction() as conn:
        rows = custom_fields.list_fields(db, conn, model, user=obj.user)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo(f"{model} has no user-defined fields")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        flags = ",".join(f for f in ("required", "indexed") if r[f]) or "-"
        extra = r["relation"] or ",".join(o["value"] for o in r["selection"] or ()) or ""
        default = f"  default: {r['default']}" if r["default"] is not None else ""
        click.echo(f"{r['name']:<{width}}  {r['type']:<9}  {r['label']:<20}  {flags:<16}  {extra}{default}")


@field.command("remove")
@click.argument("model")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Confirm: the column is dropped (its values are archived first).")
@click.pass_obj
def field_remove(obj, model, name, yes):
    """Remove user-defined field NAME of MODEL: its values go into
    core.field_archive, then its column is dropped."""
    db = obj.initialised_db()
    done = custom_fields.remove(db, model, name, confirm=yes, user=obj.user, source="cli",
                                confirm_hint="repeat with --yes")
    click.echo(f"field {model}.{name} removed; {done['archived']} value"
               f"{'s' if done['archived'] != 1 else ''} kept in {custom_fields.ARCHIVE}")


@click.group("template")
def template():
    """Templates: list those addons ship, apply one, export the database's customization."""


@template.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def template_list(obj, as_json):
    """The templates of the installed addons: name, label, addon."""
    db = obj.initialised_db()
    obj.check_user()
    with db.transaction() as conn:
        rows = [{k: r[k] for k in ("name", "label", "addon")} for r in templates.find_templates(db, conn)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("no installed addon ships a template")
        return
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        click.echo(f"{r['name']:<{width}}  {r['addon']:<12}  {r['label']}")


@template.command("apply")
@click.argument("name_or_file")
@click.option("--dry-run", is_flag=True, help="Print what would change; write nothing.")
@click.pass_obj
def template_apply(obj, name_or_file, dry_run):
    """Apply template NAME_OR_FILE (a template of an installed addon, or a
    YAML file): all of it or nothing; applying it again changes nothing.
    Prints the changes, one per line."""
    db = obj.initialised_db()
    changes = templates.apply(db, name_or_file, dry_run=dry_run, user=obj.user)
    for line in changes:
        click.echo(line)
    if not changes:
        click.echo("nothing to change")
    if dry_run:
        click.echo(f"dry run: {len(changes)} change{'s' if len(changes) != 1 else ''}, nothing written",
                   err=True)


@template.command("export")
@click.option("-o", "--output", "output", required=True, metavar="FILE", help="The YAML file to write.")
@click.option("--name", default="export", show_default=True, metavar="N", help="The template's name.")
@click.pass_obj
def template_export(obj, output, name):
    """Write the database's whole customization (fields, roles, sequences,
    workflows, approvals) as template N to FILE, deterministically."""
    db = obj.initialised_db()
    text = templates.export(db, name=name, user=obj.user)
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UserInputError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"template {name} written to {output}")


#: click commands added to ``keel`` by :mod:`core.cli`
COMMANDS = [field, template]
