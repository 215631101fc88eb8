"""Periods of the report engine: this month, quarter or year (and the one
before it) as ``[start, end)`` bounds of a date or datetime field, and the
shift that matches a date bucket of the previous period (``2025-03``) with
its counterpart in the current one (``2026-03``).

Pure date arithmetic on a given ``today``; no database.
"""
import dataclasses
import datetime as dt

from ..errors import UserInputError
from ..i18n import _

#: the periods a report may be filtered by; ``all`` is no date filter
PERIODS = ("all", "month", "quarter", "year")
PERIOD_LABELS = {"all": _("All time"), "month": _("This month"), "quarter": _("This quarter"),
                 "year": _("This year")}
PREVIOUS_LABELS = {"month": _("Last month"), "quarter": _("Last quarter"), "year": _("Last year")}
MONTHS = {"month": 1, "quarter": 3, "year": 12}


@dataclasses.dataclass(frozen=True)
class Period:
    """``unit`` (one of PERIODS), and for a real period the current bounds
    ``start`` ≤ d < ``end`` and the previous ones."""
    unit: str
    start: dt.date = None
    end: dt.date = None
    previous_start: dt.date = None
    previous_end: dt.date = None

    def as_json(self):
        return {"unit": self.unit, **{k: getattr(self, k) and getattr(self, k).isoformat()
                                      for k in ("start", "end", "previous_start", "previous_end")}}


def add_months(day, months):
    """``day`` moved by ``months`` (the day clamped to the month's last)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    following = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = (following - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def period(unit, today):
    """The ``Period`` of ``unit`` holding ``today`` (a date)."""
    if unit not in PERIODS:
        raise UserInputError(f"period: {str(unit)[:20]!r} is not one of {', '.join(PERIODS)}",
                             {"parameter": "period"})
    if unit == "all":
        return Period("all")
    first_month = {"month": today.month, "quarter": (today.month - 1) // 3 * 3 + 1, "year": 1}[unit]
    start = dt.date(today.year, first_month, 1)
    step = MONTHS[unit]
    return Period(unit, start, add_months(start, step), add_months(start, -step), start)


def parse_today(text):
    """A ``today`` argument (ISO date) or ``None``."""
    if text in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(text).strip()[:10])
    except ValueError:
        raise UserInputError(f"today: {str(text)[:20]!r} is not a date (YYYY-MM-DD)",
                             {"parameter": "today"}) from None


def bounds_domain(field, start, end):
    """Domain terms ``start ≤ field < end``, as datetimes for a datetime field."""
    if field.type == "datetime":
        start, end = (dt.datetime.combine(d, dt.time()) for d in (start, end))
    return [[field.name, ">=", start], [field.name, "<", end]]


def shift_bucket(value, unit, months):
    """A date bucket (``read_group`` text of ``day``, ``month``, ``quarter``
    or ``year``) moved forward by ``months``; other values unchanged."""
    if not isinstance(value, str) or not unit:
        return value
    try:
        if unit == "day":
            return add_months(dt.date.fromisoformat(value), months).isoformat()
        if unit == "month":
            return add_months(dt.date.fromisoformat(value + "-01"), months).strftime("%Y-%m")
        if unit == "quarter":
            year, quarter = value.split("-Q")
            moved = add_months(dt.date(int(year), (int(quarter) - 1) * 3 + 1, 1), months)
            return f"{moved.year}-Q{(moved.month - 1) // 3 + 1}"
        if unit == "year":
            return str(int(value) + months // 12)
    except ValueError:
        return value
    return value
