"""``keel export`` and ``keel import``: data in and out of the model API,
with the acting user's rights (CONTRACT.md §2).
"""
import json
import os
import sys
import tempfile
from pathlib import Path

import click

from . import export as exporting
from .errors import UserInputError
from .i18n import _
from .services import imports

#: file suffix -> export format
SUFFIXES = {".csv": "csv", ".xlsx": "xlsx"}


def _format_of(path):
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        named = f"suffix {suffix!r}" if suffix else "no suffix"
        raise UserInputError(f"{path}: {named}; the file's suffix gives the format: "
                             f"{' or '.join(SUFFIXES)}")
    return SUFFIXES[suffix]


def _not_json(name):
    raise ValueError(f"{name} is not JSON")


def _domain(text):
    """``--domain``: a JSON list of terms (``[]`` when not given)."""
    if text is None or not text.strip():
        return []
    try:
        value = json.loads(text, parse_constant=_not_json)
    except (ValueError, RecursionError) as exc:
        raise UserInputError(f"--domain: not valid JSON ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(value, list):
        raise UserInputError("--domain: expected a JSON list of [field, operator, value] terms "
                             "and '&', '|', '!'")
    return value


def _fields(text):
    """``--fields a,b``: the names in order (``None`` when not given)."""
    if text is None:
        return None
    names = [n.strip() for n in text.split(",")]
    if not all(names):
        raise UserInputError(f"--fields: an empty item in {text[:80]!r}")
    return names


def _write_beside(target, write):
    """``write(stream)`` into a temporary file beside ``target`` (so that the
    rename stays on one file system), then the rename — after ``write``
    returned, i.e. after the export's transaction committed with its audit
    entry. On any error the temporary file is removed and an existing
    ``target`` is left as it was."""
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise UserInputError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as out:
            result = write(out)
        os.chmod(temp, _file_mode())
        os.replace(temp, target)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise UserInputError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return result


def _file_mode():
    """The mode a new file gets under the process's umask (a temporary
    file is made private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@click.command("export")
@click.argument("model")
@click.option("-o", "--output", "output", required=True, metavar="FILE",
              help="File to write: .csv or .xlsx (the suffix gives the format).")
@click.option("--domain", metavar="JSON", help='Which records, e.g. \'[["city", "=", "上海"]]\'.')
@click.option("--fields", metavar="a,b", help="Columns in this order (default: every exportable field).")
@click.option("--lang", type=click.Choice(list(exporting.LANGUAGES)),
              help="Language of the labels (default: the user's, else en).")
@click.pass_obj
def export_command(obj, model, output, domain, fields, lang):
    """Export the records of MODEL that --user may read to FILE.

    One header row of field labels, then one row per record. The file is
    written only when the whole export succeeded."""
    target = Path(output)
    fmt = _format_of(target)
    domain = _domain(domain)
    fields = _fields(fields)
    folder = target.parent
    if not folder.is_dir():
        raise UserInputError(f"{output}: folder {str(folder)!r} does not exist")
    if target.is_dir():
        raise UserInputError(f"{output} is a folder")
    db = obj.initialised_db()

    def write(out):
        with db.unit_of_work(obj.user, context={"source": "cli"}) as env:
            return exporting.export(env, model, out, fmt, domain, fields, lang)
    done = _write_beside(target, write)
    click.echo(f"exported {done.count} {model} records to {output}")


def _mapping(items):
    """``--map 'Header=field'`` (repeatable) as ``{header: field}``."""
    out = {}
    for item in items:
        header, sep, field = item.partition("=")
        if not sep or not header.strip():
            raise UserInputError(f"--map {item!r}: expected 'Header=field' (an empty field leaves "
                                 "the column out)")
        out[header.strip()] = field.strip()
    return out


@click.command("import")
@click.argument("model")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report, write nothing.")
@click.option("--on-duplicate", type=click.Choice(imports.ON_DUPLICATE), default="error",
              show_default=True, help="A row naming an existing record (by the model's keys).")
@click.option("--map", "maps", multiple=True, metavar="'Header=field'",
              help="The field a column fills (repeatable); 'Header=' leaves it out.")
@click.option("--ignore-unknown", is_flag=True, help="Leave out columns that name no field.")
@click.option("--rejects", metavar="FILE",
              help="Write the bad rows here, with a column giving the reasons, to fix and import again.")
@click.option("--progress-every", type=click.IntRange(1), default=None,
              help="Rows between progress updates (default: about every 1%; shown only when "
                   "stderr is a terminal).")
@click.pass_obj
def import_command(obj, model, file, dry_run, on_duplicate, maps, ignore_unknown, rejects,
                   progress_every):
    """Import FILE (CSV in UTF-8 or GBK, or XLSX) into MODEL as --user.

    All rows or none: every bad row is reported on stderr (line in the file,
    column, value, reason, in --user's language) and nothing is written. On
    a terminal, stderr shows the progress of the checking and the writing."""
    path = Path(file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserInputError(f"cannot read {file}: {exc.strerror or exc}") from None
    mapping = _mapping(maps)
    db = obj.initialised_db()
    lang = [None]
    progress = ProgressLine(sys.stderr, lang, progress_every) if sys.stderr.isatty() else None
    try:
        with db.unit_of_work(obj.user, context={"source": "cli"}) as env:
            lang[0] = env.user_values().get("lang") or None  # the user's, else English
            result = imports.run(env, model, data, path.name, dry_run=dry_run,
                                 on_duplicate=on_duplicate, mapping=mapping,
                                 ignore_unknown=ignore_unknown, progress=progress, lang=lang[0])
    except imports.ImportFailed as exc:
        result = exc.result
    finally:
        if progress is not None:
            progress.close()
    lang = lang[0]
    for problem in result.problems:
        click.echo(problem.text(lang), err=True)
    if rejects and result.problems:
        content, _suffix = imports.rejects(result.table, result.problems, lang)
        target = Path(rejects)
        _write_beside(target, lambda out: out.write(content))
        click.echo(imports.shown(imports.Reason(_("rejected rows written to %(file)s"),
                                                {"file": rejects}), lang), err=True)
    if result.problems:
        raise UserInputError(imports.shown(imports.Reason(
            _("%(n)s problem(s) in %(rows)s row(s) of %(file)s: nothing imported"),
            {"n": len(result.problems), "rows": len(result.bad_lines), "file": file}), lang))
    click.echo(result.summary(lang))


class ProgressLine:
    """``progress(phase, done, total)`` of an import on a terminal: one line
    ``checking 45% (4500/10000 rows)`` rewritten in place (``\\r``), then
    ``writing …``; :meth:`close` ends the line."""

    PHASES = {"check": _("checking %(pct)s%% (%(done)s/%(total)s rows)"),
              "write": _("writing %(pct)s%% (%(done)s/%(total)s rows)")}

    def __init__(self, stream, lang, every=None):
        self.stream, self.lang, self.every = stream, lang, every
        self.last = None   # (phase, done) last shown
        self.width = 0

    def __call__(self, phase, done, total):
        step = self.every or max(1, total // 100)
        if self.last is not None and self.last[0] == phase and done < total \
                and done - self.last[1] < step:
            return
        self.last = (phase, done)
        pct = 100 if not total else done * 100 // total
        text = imports.shown(imports.Reason(self.PHASES[phase],
                                            {"pct": pct, "done": done, "total": total}), self.lang[0])
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = max(self.width, len(text))

    def close(self):
        if self.last is not None:
            self.stream.write("\n")
            self.stream.flush()
            self.last = None


#: click commands added to ``keel`` by :mod:`core.cli`
COMMANDS = [export_command, import_command]
