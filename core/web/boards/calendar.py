"""The calendar view: a month of records placed on the days of the view's
``date`` field (a datetime on the user's local day), at most
``CALENDAR_LIMIT`` of them, with links to the previous and next months.
"""
import calendar as calendars
import datetime as dt

import flask_babel
from flask import request

from ...errors import UserInputError
from ...viewdefs import resolve
from .. import boards
from ..i18n import gettext
from . import WEEKDAYS


def calendar(board):
    arch = resolve(board.env, board.model, "calendar")
    fname = arch.get("date")
    field = board.meta.fields.get(fname)
    if field is None or field.type not in ("date", "datetime"):
        raise UserInputError(gettext("This model has no calendar view."))
    # days and months as the user lives them: datetimes are stored in UTC
    local = field.type == "datetime"
    today = flask_babel.to_user_timezone(board.env.now).date()
    first = _month(request.args.get("month"), today)
    after = (first + dt.timedelta(days=32)).replace(day=1)
    start, end = (first, after) if not local else (
        flask_babel.to_utc(dt.datetime.combine(first, dt.time())),
        flask_babel.to_utc(dt.datetime.combine(after, dt.time())))
    names = [n for n in arch.get("fields") or [board.meta.rec_name] if n in board.meta.fields]
    rows = board.records.search_read([*board.domain, [fname, ">=", start], [fname, "<", end]],
                                     [fname, *names], order=f"{fname}, id", limit=boards.CALENDAR_LIMIT + 1)
    by_day = {}
    for row in rows[:boards.CALENDAR_LIMIT]:
        when = flask_babel.to_user_timezone(row[fname]) if local else row[fname]
        by_day.setdefault(when.date() if local else when, []).append({
            "href": f"/web/{board.model}/{row['id']}",
            "time": when.strftime("%H:%M") if local else "",
            "title": " · ".join(board.value_label(board.meta.fields[n], row.get(n)) for n in names
                                if row.get(n) not in (None, ""))})
    weeks = [[{"date": d, "in_month": d.month == first.month, "today": d == today,
               "entries": by_day.get(d, [])} for d in week]
             for week in calendars.Calendar(0).monthdatescalendar(first.year, first.month)]
    before = (first - dt.timedelta(days=1)).replace(day=1)
    return board.page(
        "web/calendar.html", "calendar", weeks=weeks, field_label=board.field_label(fname),
        month_label=gettext("%(year)s-%(month)s", year=first.year, month=f"{first.month:02d}"),
        weekdays=[gettext(d) for d in WEEKDAYS],
        prev_url=board.url("calendar", month=before.strftime("%Y-%m")),
        next_url=board.url("calendar", month=after.strftime("%Y-%m")),
        today_url=board.url("calendar", month=today.strftime("%Y-%m")),
        truncated=len(rows) > boards.CALENDAR_LIMIT, empty=not rows)


def _month(text, today):
    """The first day of ``YYYY-MM`` (default: this month)."""
    if not text:
        return today.replace(day=1)
    try:
        return dt.datetime.strptime(text.strip(), "%Y-%m").date()
    except ValueError:
        raise UserInputError(gettext("Give the month as YYYY-MM.")) from None
