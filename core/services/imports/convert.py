"""Cell → value: one converter per column, raising ``ValueError(reason)``.

Spreadsheet habits are accepted: numbers with thousands separators and a
currency sign (``¥1,234.50``), booleans as true/false/yes/no/1/0/是/否/对/错,
dates as ISO, ``2024/1/5``, ``2024.1.5``, ``2024年1月5日`` or Excel date
cells, selections by value or by label (English or Chinese). Many2one cells
are matched by :class:`Relations`, a batch at a time: by the related
model's display name, or its ``code`` (or ``login``) — only among the
records the importing user may see.
"""
import datetime as dt
import decimal
import re

from ...i18n import _, translate
from .report import Reason

_NUMBER_JUNK = re.compile(r"[\s,，_'¥￥$]")
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                   r"(?:[ T]+(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?$")
_TRUE = {"1", "true", "yes", "y", "是", "对", "真", "t", "x", "✓"}
_FALSE = {"0", "false", "no", "n", "否", "错", "假", "f"}
_PHONE = re.compile(r"^\+?[\d\s\-()（）.]{3,}(?:\s*(?:转|ext\.?|x|#)\s*\d+)?$", re.IGNORECASE)
_NOT_DIGITS = re.compile(r"\D+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def empty(cell):
    return cell is None or (isinstance(cell, str) and not cell.strip())


def _text(cell):
    if cell.__class__ is str:
        return cell.strip()
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # a phone or code typed as a number in Excel
    if isinstance(cell, (dt.datetime, dt.date)):
        return cell.isoformat()
    return str(cell).strip()


def _number_text(cell):
    text = _NUMBER_JUNK.sub("", str(cell).strip())
    if text.endswith("%"):
        raise ValueError(_("is a percentage: give the number"))
    return text


def _integer(cell):
    if isinstance(cell, bool):
        raise ValueError(_("is not a whole number"))  # noqa: TRY004 - converters raise ValueError
    if isinstance(cell, int):
        return cell
    if isinstance(cell, float):
        if cell.is_integer():
            return int(cell)
        raise ValueError(_("is not a whole number"))
    text = _number_text(cell)
    try:
        value = decimal.Decimal(text)
        if value.is_finite() and value == value.to_integral_value():
            return int(value)
    except decimal.InvalidOperation:
        pass
    raise ValueError(_("is not a whole number"))


def _decimal(cell):
    if isinstance(cell, bool):
        raise ValueError(_("is not a number"))  # noqa: TRY004 - converters raise ValueError
    if isinstance(cell, (int, float)):
        return decimal.Decimal(repr(cell)) if isinstance(cell, float) else decimal.Decimal(cell)
    try:
        value = decimal.Decimal(_number_text(cell))
    except decimal.InvalidOperation:
        raise ValueError(_("is not a number")) from None
    if not value.is_finite():
        raise ValueError(_("is not a number"))
    return value


def _boolean(cell):
    if isinstance(cell, bool):
        return cell
    text = _text(cell).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(_("is not yes or no (true/false, 是/否, 1/0)"))


def _date_parts(cell):
    if isinstance(cell, dt.datetime):
        return cell
    if isinstance(cell, dt.date):
        return dt.datetime(cell.year, cell.month, cell.day)
    text = _text(cell)
    match = _DATE.match(text)
    try:
        if match:
            y, m, d, hh, mm, ss = (int(g) if g else 0 for g in match.groups())
            return dt.datetime(y, m, d, hh, mm, ss)
        return dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(_("is not a date (e.g. 2024-01-05 or 2024/1/5)")) from None


def _date(cell):
    value = _date_parts(cell)
    if value.time() != dt.time():
        raise ValueError(_("is a date and time: give a date"))
    return value.date()


def _datetime(cell):
    value = _date_parts(cell)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _selection(field):
    lookup = {}
    for value, label in field.options:
        for text in (label, translate(label, "zh_CN")):
            lookup.setdefault(str(text).strip().lower(), value)
    for value, _label in field.options:
        lookup[str(value).lower()] = value
    shown = ", ".join(v for v, _label in field.options)

    def convert(cell):
        found = lookup.get(_text(cell).lower())
        if found is None:
            raise ValueError(Reason(_("is not one of %(values)s"), {"values": shown}))
        return found
    return convert


def _char(field, kind=None):
    def convert(cell):
        text = _text(cell)
        if kind == "phone" and (not _PHONE.match(text) or len(_NOT_DIGITS.sub("", text)) < 5):
            raise ValueError(_("is not a phone number"))
        if kind == "email" and not _EMAIL.match(text):
            raise ValueError(_("is not an email address"))
        return text
    return convert


def converter(field, kind=None):
    """``convert(cell) -> value`` for a non-empty cell of a column of
    ``field`` (many2one: the text to match); ``kind`` is the key normaliser
    of the field (``phone``, ``email``) that also checks the text's shape."""
    simple = {"integer": _integer, "float": _decimal, "decimal": _decimal, "boolean": _boolean,
              "date": _date, "datetime": _datetime}
    base = simple.get(field.type)
    if field.type == "selection":
        base = _selection(field)
    elif field.type in ("char", "text"):
        base = _char(field, kind)
    elif field.type == "many2one" or base is None:
        base = _text
    if field.type in ("many2one", "selection", "char", "text"):
        return base
    check = field.convert

    def convert(cell):
        value = base(cell)
        if field.type == "float":
            value = float(value)
        return check(value)  # range, digits: the field's own checks
    return convert


class Relations:
    """Many2one cells of one batch → ids, one query per column: a text names
    a record when exactly one visible record has it as display name, code or
    login (a number also matches an id)."""

    def __init__(self, env, field):
        self.env = env
        self.field = field
        self.meta = env.registry[field.relation]
        fields = self.meta.fields
        rec_name = self.meta.rec_name
        self.keys = ([rec_name] if fields[rec_name].type in ("char", "text") else []) + [
            k for k in ("code", "login") if k in fields and fields[k].unique and k != rec_name]
        self.found = {}

    def load(self, texts):
        texts = sorted({t for t in texts if t not in self.found})
        if not texts or not self.keys:
            self.found.update((t, set()) for t in texts)
            return
        domain = []
        for key in self.keys:
            domain = ["|", *domain, [key, "in", texts]] if domain else [[key, "in", texts]]
        hits = {}
        for row in self.env[self.meta.name].search_read(domain, self.keys):
            for key in self.keys:
                value = row.get(key)
                if isinstance(value, str) and value.strip() in texts:
                    hits.setdefault(value.strip(), set()).add(row["id"])
        for text in texts:
            self.found[text] = hits.get(text, set())

    def resolve(self, text):
        ids = self.found.get(text, set())
        if len(ids) == 1:
            return next(iter(ids))
        label = self.meta.label or self.meta.name
        if not ids:
            raise ValueError(Reason(_("names no %(model)s you can see (by name or code)"),
                                    {"model": Reason(label)}))
        raise ValueError(Reason(_("names %(n)s records of %(model)s: give the code instead"),
                                {"n": len(ids), "model": Reason(label)}))
