"""What an import reports: :class:`Problem` (one per bad cell or row, with
its line in the file, column, value and reason), the one-line wording shared
by the CLI, the web screen and the API, and the rejected-rows file (the bad
rows in the input's format with an extra column giving the reasons, to fix
and import again).

Reasons are worded in English with ``_()`` and kept as :class:`Reason`
(the message id and its values), so that each caller shows them in its
user's language (:func:`shown`: the web screen in the page's language, the
API in the caller's, the CLI in ``--user``'s) with the values put in after
translation.
"""
import csv
import datetime as dt
import io
from dataclasses import dataclass

from ...i18n import DEFAULT, _, translate

#: header of the reasons column of a rejected-rows file
REASON_HEADER = "错误 / error"


class Reason(str):
    """A text worded in English (its ``str``) that can be shown in another
    language: ``msgid % params`` with ``msgid`` translated first. Values
    that are themselves :class:`Reason` (a model's label) are translated
    too; lists of them are joined with commas."""

    def __new__(cls, msgid, params=None):
        params = dict(params or {})
        text = msgid % {k: _english(v) for k, v in params.items()} if params else msgid
        self = super().__new__(cls, text)
        self.msgid, self.params = msgid, params
        return self

    def shown(self, lang):
        text = translate(self.msgid, lang)
        if not self.params:
            return text
        try:
            return text % {k: shown(v, lang) for k, v in self.params.items()}
        except (KeyError, ValueError, TypeError):  # a catalog entry with other placeholders
            return str(self)


def _english(value):
    if isinstance(value, (list, tuple)):
        return ", ".join(_english(v) for v in value)
    return value


def shown(text, lang):
    """``text`` (a :class:`Reason`, a message id, a value) in ``lang``."""
    if isinstance(text, (list, tuple)):
        return ", ".join(str(shown(t, lang)) for t in text)
    if lang is None or lang == DEFAULT:
        return str(text) if isinstance(text, Reason) else text
    if isinstance(text, Reason):
        return text.shown(lang)
    if isinstance(text, str):
        return translate(text, lang)
    return text


@dataclass
class Problem:
    line: int
    column: str = None
    value: object = None
    reason: str = ""

    def as_dict(self, lang=None):
        """The problem as the API gives it, its reason in ``lang``."""
        return {"line": self.line, "column": shown(self.column, lang) if self.column else self.column,
                "value": None if self.value is None else _text(self.value),
                "reason": shown(self.reason, lang)}

    def text(self, lang=None):
        """``line 2, column 电话 (phone): '12x' is not a phone number`` in ``lang``."""
        parts = [shown(Reason(_("line %(line)s"), {"line": self.line}), lang)]
        if self.column:
            parts.append(shown(Reason(_("column %(column)s"), {"column": self.column}), lang))
        head = ", ".join(parts)
        reason = shown(self.reason, lang)
        if self.value not in (None, ""):
            return f"{head}: {_text(self.value)!r} {reason}"
        return f"{head}: {reason}"

    def __str__(self):
        return self.text()


def _text(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def rejects(table, problems, lang=None):
    """The rejected-rows file (bytes) of ``table``: its header plus a reasons
    column (in ``lang``), then every row with a problem; ``(data, suffix)``."""
    reasons = {}
    for p in problems:
        reasons.setdefault(p.line, []).append(
            (f"{shown(p.column, lang)}: " if p.column else "")
            + (f"{_text(p.value)!r} " if p.value not in (None, "") else "") + shown(p.reason, lang))
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
