"""Export: the records of one model that a user may read, as a CSV or XLSX
file — the one service behind ``keel export`` (:mod:`core.cli_data`) and
``GET /api/v1/data/MODEL/export`` (:mod:`core.api.export`).

It goes through the model API only: ``search`` with the caller's domain
(record scopes are in its SQL), then ``search_read`` of the found ids in
batches of :data:`BATCH` (memory stays flat for big exports; the order is
the model's order, then id), so access rights, record scopes and field rules
apply exactly as for any read. On top of reading, the caller needs the
``export`` permission on the model (403 ``AccessDenied`` otherwise), and
each export writes one ``export`` entry in the audit log (part of the
caller's transaction).

The file
--------
One header row of field labels in the requested language, then one row per
record, columns in the order of ``fields``:

* many2one: the related record's display name (empty when the caller may
  not see that record: the model API reads its name as null);
* selection: the option's label in the language;
* boolean, date, datetime: ``true``/``false`` and ISO text in CSV, real
  boolean and date cells in XLSX (datetimes as stored: naive UTC);
* integer, float, decimal: numbers in XLSX, their plain text in CSV;
* json: JSON text; char and text: as they are.

CSV is UTF-8 without BOM, ``\\r\\n`` line ends (the ``csv`` module's). Values
are written as they are — no quote is put before ``=``, ``+``, ``-`` or
``@``, which would spoil phone numbers like ``+86 …`` and what ``keel import``
reads back. XLSX (openpyxl, a write-only workbook: flat memory) holds one
sheet named after the model's label; a text is always a text cell there,
never a formula, and characters that XLSX cannot hold (control
characters) are left out.

Which fields
------------
``fields`` names them (a field hidden from the caller, or unknown, is
refused exactly as ``read`` refuses it; binary, one2many and many2many fields
cannot be exported as one cell and are refused naming their type). Without
``fields``: every stored field the caller may read that fits one cell —
scalar and many2one fields in declaration order (custom ``x_`` fields last,
as declared), without the kernel's columns (id, version, created_*,
updated_*: they can still be asked for by name), json, binary, one2many,
many2many and secret fields.
"""
import csv
import io
import json
from collections import namedtuple

from .errors import UserInputError
from .i18n import LANGUAGES, translate
from .registry import MAGIC
from .security import audit

FORMATS = ("csv", "xlsx")
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: records read per query
BATCH = 1000
#: field types that do not fit one cell
NOT_EXPORTABLE = frozenset({"binary", "one2many", "many2many"})
#: field types left out of the default columns (they can be named)
NOT_DEFAULT = NOT_EXPORTABLE | {"json"}

Exported = namedtuple("Exported", "count fields")


# -- labels ------------------------------------------------------------------------------
def language(env, lang=None):
    """``lang`` if given, else the user's language, else English."""
    if lang is not None:
        if lang not in LANGUAGES:
            raise UserInputError(f"language {lang!r} is not one of {', '.join(LANGUAGES)}")
        return lang
    found = env.user_values().get("lang")
    return found if found in LANGUAGES else "en"


def model_label(meta, lang):
    return translate(meta.label or meta.name, lang)


# -- fields ------------------------------------------------------------------------------
def default_fields(env, meta):
    """The columns of an export without ``fields`` (see the module's doc)."""
    hidden = env.access.hidden(meta)
    return [name for name, field in meta.fields.items()
            if field.column and name not in MAGIC and name not in hidden
            and not field.secret and field.type not in NOT_DEFAULT]


def check_fields(env, meta, fields):
    """``fields`` (a list or ``"a,b"``) as a list of exportable names; an
    unknown or hidden field is refused as ``read`` refuses it, and a secret
    field even in the system context (a file is no place for hashes)."""
    if fields is None:
        return default_fields(env, meta)
    if isinstance(fields, str):
        fields = [f.strip() for f in fields.split(",")]
    names = list(dict.fromkeys(fields))
    if not names:
        raise UserInputError(f"{meta.name}: no field to export")
    hidden = env.access.hidden(meta)
    for name in names:
        if not isinstance(name, str) or not name:
            raise UserInputError(f"{meta.name}: empty field name in the field list")
        if name not in meta.fields or name in hidden or meta.fields[name].secret:
            raise UserInputError(f"{meta.name} has no field {name!r}",
                                 {"model": meta.name, "field": name})
        field = meta.fields[name]
        if field.type in NOT_EXPORTABLE or not field.column:
            raise UserInputError(f"{meta.name}.{name} is a {field.type} field and cannot be exported "
                                 "(export takes stored fields and many2one)",
                                 {"model": meta.name, "field": name})
    return names


# -- the service -------------------------------------------------------------------------
def export(env, model, out, fmt="csv", domain=None, fields=None, lang=None):
    """Write the records of ``model`` matching ``domain`` that ``env``'s user
    may read to the binary stream ``out`` as ``fmt`` (``csv`` or ``xlsx``),
    with labels in ``lang`` (default: the user's language, else English);
    log one ``export`` audit entry. Returns ``Exported(count, fields)``."""
    if fmt not in FORMATS:
        raise UserInputError(f"format {fmt!r} is not one of {', '.join(FORMATS)}",
                             {"parameter": "format"})
    records = env[model]  # UserInputError naming an unknown model
    meta = records._meta
    env.access.check(meta, "export")
    names = check_fields(env, meta, fields)
    lang = language(env, lang)
    domain = list(domain or [])
    header = [translate(meta.fields[n].label or n, lang) for n in names]
    columns = [_converter(meta.fields[n], fmt, lang) for n in names]
    counter = [0]
    # searched before any byte is written: a domain the database refuses
    # leaves no half-written file behind
    ids = records.search(domain).ids

    def rows():
        for row in _read(records, ids, names):
            counter[0] += 1
            yield [convert(row[n]) for n, convert in zip(names, columns)]

    if fmt == "csv":
        _write_csv(out, header, rows())
    else:
        _write_xlsx(out, model_label(meta, lang), header, rows())
    audit.log(env, "export", model, None,
              {"count": counter[0], "fields": names, "domain": domain, "format": fmt})
    return Exported(counter[0], names)


def _read(records, ids, names):
    """The rows of the records ``ids`` (found in the model's order), read
    ``BATCH`` at a time."""
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        # by id within the caller's rules: a row deleted meanwhile is skipped
        by_id = {r["id"]: r for r in records.search_read([["id", "in", chunk]], names)}
        for rid in chunk:
            row = by_id.get(rid)
            if row is not None:
                yield row


# -- cells -------------------------------------------------------------------------------
def _converter(field, fmt, lang):
    """``convert(value read by the model API) -> cell value`` for one column."""
    kind = field.type
    if kind == "many2one":
        return _relation_name
    if kind == "selection":
        labels = {value: translate(label, lang) for value, label in field.options}
        return lambda v: None if v is None else labels.get(v, v)
    if kind == "json":
        return lambda v: None if v is None else json.dumps(v, ensure_ascii=False)
    if fmt == "xlsx":
        return _same
    if kind == "boolean":
        return lambda v: None if v is None else ("true" if v else "false")
    if kind in ("date", "datetime"):
        return lambda v: None if v is None else v.isoformat()
    return _same


def _same(value):
    return value


def _relation_name(value):
    return None if value is None else value.get("name")


def _write_csv(out, header, rows):
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        writer = csv.writer(text)
        writer.writerow(header)
        writer.writerows(rows)
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open


def sheet_title(text):
    """A valid worksheet title: at most 31 characters, none of ``\\/?*[]:``,
    not starting or ending with an apostrophe."""
    title = "".join(" " if c in "\\/?*[]:" else c for c in str(text or ""))
    title = title.strip().strip("'").strip()[:31].strip()
    return title or "Export"


def _write_xlsx(out, title, header, rows):
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title=sheet_title(title))
    text_cell = _text_cell(sheet, WriteOnlyCell)
    sheet.append([text_cell(h) for h in header])
    for row in rows:
        sheet.append([text_cell(v) if isinstance(v, str) else v for v in row])
    book.save(out)


def _text_cell(sheet, cell_class):
    """``cell(text)``: the text without the characters XLSX cannot hold, as
    a plain value, or as a text cell where openpyxl would otherwise write a
    formula (``=…``) or an error value (``#N/A``)."""
    from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE

    def cell(text):
        text = ILLEGAL_CHARACTERS_RE.sub("", text)
        if text.startswith("=") or text in ERROR_CODES:
            made = cell_class(sheet, text)
            made.data_type = "s"
            return made
        return text
    return cell
