"""Kanban, calendar, pivot and graph views of a model
(``/web/MODEL?view=kanban|calendar|pivot|graph``), aggregated in SQL.

The list route of :mod:`core.web.model_views` calls :func:`render` when the
``view`` argument names one of :data:`BOARD_TYPES`. Every number comes from
``read_group`` (one GROUP BY each) and every card from ``search_read``, so
record rules apply exactly as in the list: a rep's board counts and sums
their own opportunities only.

This package holds what every board shares — the limits and vocabularies
below, :class:`Board` (the model, the caller's filter, labels, links, the
view switcher) and the dispatch — and one module per view:

* :mod:`.kanban` — columns, cards and the ``/web/MODEL/ID/move`` endpoint;
* :mod:`.calendar` — a month of records by a date field;
* :mod:`.pivot` — the pivot table (rows × columns × measures) and its export;
* :mod:`.graph` — a chart of the pivot, drawn from :mod:`.chart`;
* :mod:`.chart` — the SVG geometry of bar, line, pie and funnel charts.

The view modules read the limits (``CARDS_PER_COLUMN``, ``CALENDAR_LIMIT``,
``MAX_ROWS``, ``MAX_COLUMNS``) as ``boards.NAME`` when called, so that
setting one on this package (tests do) applies everywhere.
"""
import datetime as dt
import json
from urllib.parse import urlencode

import flask_babel
from flask import render_template, request

from ... import workflow
from ...errors import UserInputError
from ...i18n import _, translate
from ...viewdefs import resolve
from ..i18n import best_language, format_date, format_datetime, format_number, gettext
from ..list_query import ListQuery

BOARD_TYPES = ("kanban", "calendar", "pivot", "graph")
#: arguments of the list's filter that every board honours (and keeps in its links)
FILTER_ARGS = ("q", "f", "qf", "qo", "qv", "domain")
#: cards shown per kanban column; the rest are behind a link to the list
CARDS_PER_COLUMN = 40
#: records shown in one month of the calendar
CALENDAR_LIMIT = 500
#: field types a pivot or chart may group by (dates by a unit of DATE_UNITS)
DIMENSION_TYPES = ("selection", "many2one", "char", "boolean", "integer", "date", "datetime")
DATE_UNITS = ("month", "quarter", "year", "day")
MEASURE_FUNCTIONS = ("sum", "avg", "min", "max", "count")
#: groups a pivot or chart shows at most, down and across
MAX_ROWS, MAX_COLUMNS = 500, 50
NUMERIC = ("integer", "float", "decimal")
CHARTS = ("bar", "line", "pie", "funnel")
#: names shown (translated) for chart kinds, date units, aggregate functions, weekdays
CHART_LABELS = {"bar": _("Bar chart"), "line": _("Line chart"), "pie": _("Pie chart"), "funnel": _("Funnel")}
UNIT_LABELS = {"day": _("day"), "month": _("month"), "quarter": _("quarter"), "year": _("year")}
FUNCTION_LABELS = {"sum": _("sum"), "avg": _("average"), "min": _("minimum"), "max": _("maximum"),
                   "count": _("count")}
WEEKDAYS = (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))


# -- what every board needs ---------------------------------------------------------------
class Board:
    """The model, the caller's filter and labels in the page's language."""

    def __init__(self, env, model):
        self.env = env
        self.model = model
        self.records = env[model]
        self.meta = self.records._meta
        env.access.check(self.meta, "read")
        self.lang = best_language()
        self.matrix = workflow.matrix(env, model)
        self.domain = filter_domain(env, self.meta)

    def label(self, text):
        return translate(text, self.lang)

    def field_label(self, name):
        path, _, unit = name.partition(":")
        field = self.meta.fields[path]
        text = self.label(field.label or path)
        return f"{text} ({gettext(UNIT_LABELS[unit])})" if unit else text

    def is_state(self, field):
        return self.matrix is not None and self.matrix.field == field.name

    def value_label(self, field, value):
        """A group key or read value as the user reads it."""
        if value is None or value == "":
            return gettext("Not set")
        if self.is_state(field):
            state = self.matrix.state(value)
            return self.label(state.label) if state else str(value)
        if field.type == "selection":
            return self.label(dict(field.options).get(value, value))
        if field.type == "many2one":
            return value.get("name") or f"#{value['id']}" if isinstance(value, dict) else str(value)
        if field.type == "boolean":
            return gettext("Yes") if value else gettext("No")
        if isinstance(value, dt.datetime):
            return format_datetime(value)
        if isinstance(value, dt.date):
            return format_date(value)
        if field.type == "decimal":
            return flask_babel.format_decimal(value, format="#,##0." + "0" * field.scale
                                              if field.scale else "#,##0")
        if isinstance(value, (int, float)):
            return format_number(value)
        return str(value)

    def sort_key(self, field):
        """Order of group keys: states and options as declared, names
        alphabetically, unset last."""
        if self.is_state(field):
            rank = {s.code: i for i, s in enumerate(self.matrix.states)}
        elif field.type == "selection":
            rank = {v: i for i, (v, _) in enumerate(field.options)}
        else:
            rank = None
        def key(value):
            if value is None:
                return (1, 0, "")
            if rank is not None:
                return (0, rank.get(value, len(rank)), str(value))
            if isinstance(value, dict):
                return (0, 0, (value.get("name") or "").casefold())
            return (0, 0, value)
        return key

    def url(self, vtype=None, **args):
        """This view's address (or the ``vtype`` view's, or the list's for
        ``"list"``) with the list's filters and ``args`` (``None`` drops one)."""
        vtype = vtype or request.args.get("view")
        keep = [(k, v) for k, v in request.args.items(multi=True)
                if k not in args and k not in ("view", "export")
                and (vtype == request.args.get("view") or k in FILTER_ARGS)]
        if vtype == "list":
            keep = [(k, v) for k, v in keep if k != "domain"]  # the list reads its own filters
        pairs = ([] if vtype == "list" else [("view", vtype)]) + keep
        pairs += [(k, v) for k, v in args.items() if v is not None]
        return f"/web/{self.model}?{urlencode(pairs)}".rstrip("?")

    def filter_args(self):
        """``[(name, value)]`` of the list's filters, for the hidden inputs of a form."""
        return [(k, v) for k, v in request.args.items(multi=True) if k in FILTER_ARGS]

    def switcher(self, current):
        """Links to the list and the boards, keeping the filters."""
        labels = {"list": gettext("List"), "kanban": gettext("Kanban"), "calendar": gettext("Calendar"),
                  "pivot": gettext("Pivot"), "graph": gettext("Graph")}
        usable = {"kanban": "group_by", "calendar": "date"}
        return [{"label": label, "href": self.url(vtype), "current": vtype == current}
                for vtype, label in labels.items()
                if vtype == current or vtype not in usable
                or resolve(self.env, self.model, vtype).get(usable[vtype]) in self.meta.fields]

    def page(self, template, vtype, **values):
        return render_template(template, board=self, title=self.label(self.meta.label or self.model),
                               views=self.switcher(vtype), **values)


def filter_domain(env, meta):
    """The list view's filters (search text, filters, query editor rows:
    :class:`core.web.list_query.ListQuery`) and a ``domain`` argument (JSON)."""
    query = ListQuery(env, meta, {}, resolve(env, meta.name, "search"), request.args, 1, 1)
    domain = query.domain()
    text = request.args.get("domain")
    if text:
        try:
            given = json.loads(text)
        except ValueError:
            given = None
        if not isinstance(given, list):
            raise UserInputError(gettext("The filter could not be read."))
        domain = [*domain, *given]
    return domain


def render(env, model, vtype):
    """The page of the ``vtype`` view of ``model`` (a name) for this user,
    inside the request's unit of work ``env``."""
    views = {"kanban": kanban.kanban, "calendar": calendar.calendar, "pivot": pivot.pivot,
             "graph": graph.graph}
    if vtype not in views:
        raise UserInputError(f"unknown view {vtype!r} (use {', '.join(BOARD_TYPES)})")
    return views[vtype](Board(env, model))


# the views (last: they use the names above; importing kanban adds the move route)
from . import calendar, graph, kanban, pivot
