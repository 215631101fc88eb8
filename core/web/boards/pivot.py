"""The pivot view: measures (``field:function``) of the records grouped by
row and column dimensions (fields, dates by a unit), each number from one
``read_group``; and the same table as a CSV or XLSX file (``export=csv``).

:func:`pivot_args`, :func:`build_pivot` and the labels here serve the graph
view (:mod:`.graph`) too: a chart is a pivot drawn.
"""
import dataclasses
import io
import itertools

from flask import current_app, request

from ... import export as exporting
from ...downloads import disposition
from ...errors import UserInputError
from ...security import audit
from ...viewdefs import resolve
from .. import boards
from ..i18n import format_number, gettext
from . import DATE_UNITS, DIMENSION_TYPES, FUNCTION_LABELS, MEASURE_FUNCTIONS, NUMERIC


@dataclasses.dataclass
class Pivot:
    """The cells of a pivot table, each from ``read_group``: ``cells[(row
    key, column key)]``, the row and column totals and the grand total are
    ``{measure: value}``; a key is a tuple of group values (ids for
    many2one)."""
    rows: list
    cols: list
    measures: list
    row_keys: list
    col_keys: list
    labels: dict           # key -> tuple of labels
    cells: dict
    row_totals: dict
    col_totals: dict
    grand: dict
    truncated: bool        # more groups than MAX_ROWS or MAX_COLUMNS: the first shown


def pivot_args(board, arch):
    """Rows, columns and measures from the query string, else the view."""
    def listed(name, default):
        given = request.args.getlist(name)  # "a,b" or a=…&a=… (checkboxes)
        if not given:
            return list(default or [])
        return [p.strip() for text in given for p in text.split(",") if p.strip()]
    rows = [_dimension(board, d) for d in listed("rows", arch.get("rows"))]
    cols = [_dimension(board, d) for d in listed("cols", arch.get("cols"))]
    measures = [_measure(board, m) for m in listed("measures", arch.get("measures"))] or ["id:count"]
    return rows, cols, list(dict.fromkeys(measures))


def _bad(what, spec):
    return UserInputError(gettext("%(what)s: %(spec)s cannot be used here.", what=what, spec=spec[:60]))


def _dimension(board, spec):
    path, _, unit = spec.partition(":")
    field = board.meta.fields.get(path)
    if field is None or path in board.env.access.hidden(board.meta) or field.type not in DIMENSION_TYPES \
            or (unit and (field.type not in ("date", "datetime") or unit not in DATE_UNITS)):
        raise _bad(gettext("Group by"), spec)
    return f"{path}:{unit or 'month'}" if field.type in ("date", "datetime") else path


def _measure(board, spec):
    path, _, func = spec.rpartition(":")
    field = board.meta.fields.get(path)
    if field is None or path in board.env.access.hidden(board.meta) or func not in MEASURE_FUNCTIONS \
            or (func != "count" and field.type not in NUMERIC):
        raise _bad(gettext("Measures"), spec)
    return spec


def build_pivot(board, rows, cols, measures):
    """Four GROUP BYs at most: the grand total, the row and column totals,
    the cells."""
    def groups(dims, limit=None):
        return {tuple(_key(g[d]) for d in dims): g
                for g in board.records.read_group(board.domain, dims, measures, limit=limit)}

    def ordered(dims, totals):
        sorters = [(d, board.sort_key(_field(board, d))) for d in dims]
        return sorted(totals, key=lambda k: tuple(f(totals[k][d]) for d, f in sorters))
    grand = groups([]).get((), {})
    row_totals = groups(rows, boards.MAX_ROWS + 1) if rows else {(): grand}
    col_totals = groups(cols, boards.MAX_COLUMNS + 1) if cols else {(): grand}
    truncated = len(row_totals) > boards.MAX_ROWS or len(col_totals) > boards.MAX_COLUMNS
    if truncated:  # the first groups only (by value): a pivot is for reading, not a dump
        row_totals = dict(list(row_totals.items())[:boards.MAX_ROWS])
        col_totals = dict(list(col_totals.items())[:boards.MAX_COLUMNS])
    cells = groups(rows + cols) if rows and cols else (row_totals if rows else col_totals)
    labels = {k: tuple(board.value_label(_field(board, d), g[d]) for d in dims)
              for dims, totals in ((rows, row_totals), (cols, col_totals)) for k, g in totals.items()}
    row_keys, col_keys = ordered(rows, row_totals), ordered(cols, col_totals)
    return Pivot(rows, cols, measures, row_keys, col_keys, labels,
                 {(r, c): cells.get(r + c, {}) for r in row_keys for c in col_keys},
                 row_totals, col_totals, grand, truncated)


def _key(value):
    return value["id"] if isinstance(value, dict) else value


def _field(board, dim):
    return board.meta.fields[dim.partition(":")[0]]


def pivot_table(board, p):
    """The table as lists of cells (labels, and numbers as read): header
    rows, body rows, the totals row — for the page and for the files. Each
    body and totals row starts with ``max(len(p.rows), 1)`` labels."""
    measure_labels = [_measure_label(board, m) for m in p.measures]
    dim_labels = [board.field_label(d) for d in p.rows] or [""]
    head = []
    if p.cols:
        head.append([""] * len(dim_labels)
                    + [" / ".join(p.labels[c]) for c in p.col_keys for _ in p.measures]
                    + [gettext("Total")] * len(p.measures))
    head.append(dim_labels + measure_labels * (len(p.col_keys) + (1 if p.cols else 0)))
    body = []
    for r in p.row_keys:
        line = list(p.labels.get(r, ())) or [gettext("Total")]
        for c in p.col_keys:
            line += [p.cells[(r, c)].get(m) for m in p.measures]
        if p.cols:
            line += [p.row_totals.get(r, {}).get(m) for m in p.measures]
        body.append(line)
    foot = []
    if p.rows:
        foot = [gettext("Total")] + [""] * (len(dim_labels) - 1)
        for c in p.col_keys:
            foot += [p.col_totals.get(c, {}).get(m) for m in p.measures]
        if p.cols:
            foot += [p.grand.get(m) for m in p.measures]
    return head, body, foot


def _measure_label(board, spec):
    path, _, func = spec.rpartition(":")
    if path == "id" and func == "count":
        return gettext("Count")
    return f"{board.field_label(path)} ({gettext(FUNCTION_LABELS[func])})"


def _choices(board):
    """The dimensions and measures the selectors offer."""
    hidden = board.env.access.hidden(board.meta)
    dims, measures = [], [("id:count", gettext("Count"))]
    for name, field in board.meta.fields.items():
        if name in hidden or field.secret or name in ("id", "version"):
            continue
        if field.type in ("date", "datetime"):
            dims += [(f"{name}:{u}", board.field_label(f"{name}:{u}")) for u in DATE_UNITS[:3]]
        elif field.type in ("selection", "many2one", "boolean"):
            dims.append((name, board.field_label(name)))
        if field.type in ("decimal", "float"):
            measures += [(f"{name}:{f}", _measure_label(board, f"{name}:{f}")) for f in ("sum", "avg")]
    return dims, measures


def pivot(board):
    arch = resolve(board.env, board.model, "pivot")
    rows, cols, measures = pivot_args(board, arch)
    p = build_pivot(board, rows, cols, measures)
    head, body, foot = pivot_table(board, p)
    fmt = request.args.get("export")
    if fmt:
        return _export(board, p, fmt, head, body, foot)
    dims, choices = _choices(board)
    lead, cell = max(len(p.rows), 1), _formatter(board, p.measures)
    spans = [[(text, len(list(same))) for text, same in itertools.groupby(line)] for line in head[:-1]]
    return board.page("web/pivot.html", "pivot", head=[*spans, [(text, 1) for text in head[-1]]], p=p,
                      dims=dims, choices=choices,
                      body=[(line[:lead], [cell(i, v) for i, v in enumerate(line[lead:])]) for line in body],
                      foot=(foot[:lead], [cell(i, v) for i, v in enumerate(foot[lead:])]) if foot else None,
                      export_csv=board.url("pivot", export="csv"),
                      export_xlsx=board.url("pivot", export="xlsx"))


def _formatter(board, measures):
    """``cell(i, value)``: the value of the ``i``-th measure column as text."""
    specs = [(board.meta.fields[m.rpartition(":")[0]], m.endswith(":count")) for m in measures]

    def cell(i, value):
        field, count = specs[i % len(specs)]
        if value is None:
            return ""
        return format_number(value) if count else board.value_label(field, value)
    return cell


def _export(board, p, fmt, head, body, foot):
    """The pivot table as a CSV or XLSX file (the caller needs ``export``
    on the model; an ``export`` audit entry records it)."""
    if fmt not in exporting.FORMATS:
        raise UserInputError(gettext("Export as CSV or XLSX."))
    board.env.access.check(board.meta, "export")
    out = io.BytesIO()
    lines = [*head[1:], *body, *([foot] if foot else [])]
    title = f"{board.label(board.meta.label)}-{gettext('Pivot')}"
    if fmt == "csv":
        exporting._write_csv(out, head[0], lines)
    else:
        exporting._write_xlsx(out, title, head[0], lines)
    audit.log(board.env, "export", board.model, None,
              {"view": "pivot", "rows": p.rows, "cols": p.cols, "measures": p.measures,
               "domain": board.domain, "format": fmt, "count": len(body)})
    day = board.env.now.date().isoformat()
    response = current_app.response_class(out.getvalue(), content_type=exporting.CONTENT_TYPES[fmt])
    response.headers["Content-Disposition"] = disposition(f"{title}-{day}.{fmt}",
                                                          f"{board.model}-pivot-{day}.{fmt}")
    return response
