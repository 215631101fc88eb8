"""What an import reports: :class:`Problem` (one per bad cell or row, with
its line in the file, column, value and reason), the one-line wording shared
by the CLI, the web screen and the API, and the rejected-rows file (the bad
rows in the input's format with an extra column giving the reasons, to fix
and import again).
"""
import csv
import datetime as dt
import io
from dataclasses import dataclass

from ...i18n import _

#: header of the reasons column of a rejected-rows file
REASON_HEADER = "错误 / error"


@dataclass
class Problem:
    line: int
    column: str = None
    value: object = None
    reason: str = ""

    def as_dict(self):
        return {"line": self.line, "column": self.column,
                "value": None if self.value is None else _text(self.value), "reason": self.reason}

    def __str__(self):
        parts = [_("line %(line)s") % {"line": self.line}]
        if self.column:
            parts.append(_("column %(column)s") % {"column": self.column})
        head = ", ".join(parts)
        if self.value not in (None, ""):
            return f"{head}: {_text(self.value)!r} {self.reason}"
        return f"{head}: {self.reason}"


def _text(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def rejects(table, problems):
    """The rejected-rows file (bytes) of ``table``: its header plus a reasons
    column, then every row with a problem; ``(data, suffix)``."""
    reasons = {}
    for p in problems:
        reasons.setdefault(p.line, []).append(
            (f"{p.column}: " if p.column else "") + (f"{_text(p.value)!r} " if p.value not in (None, "") else "")
            + p.reason)
    header = [*table.header, REASON_HEADER]
    width = len(table.header)
    rows = []
    for line, cells in table.rows:
        if line in reasons:
            cells = list(cells)[:width] + [None] * (width - len(cells))
            rows.append([*cells, "; ".join(reasons[line])])
    if table.format == "xlsx":
        return _xlsx(header, rows), ".xlsx"
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=table.delimiter)
    writer.writerow(header)
    writer.writerows([["" if c is None else _text(c) for c in row] for row in rows])
    encoding = "gb18030" if table.encoding == "gbk" else table.encoding
    return out.getvalue().encode(encoding, errors="replace"), ".csv"


def _xlsx(header, rows):
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    book = Workbook(write_only=True)
    sheet = book.create_sheet("rejects")
    for row in [header, *rows]:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) if isinstance(c, str) else c for c in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
