"""Report pages (issue 6 point 5): ``/web/reports`` lists the reports of
the models the user may read and their saved reports; ``/web/reports/KEY``
shows one — an SVG chart drawn on the server (``boards/chart.py``), the
table, the period switch, the flexible pivot (dimensions and measures the
user picks, saved as their own report), the XLSX download (``?export=xlsx``)
and a print button (``report-print.css``: no navigation, the table on A4).

Query arguments of a report page: ``period`` (all, month, quarter, year),
``today`` (an ISO date: "this month" of that day), ``dims`` and
``measures`` (repeated or ``a,b``), ``chart``, ``domain`` (JSON terms).
Every number comes from :mod:`core.services.reports`, as the signed-in user.
"""
import datetime as dt
import decimal
import json
from urllib.parse import urlencode

import flask_babel
from flask import redirect, render_template, request

from ..downloads import disposition
from ..errors import NotFound, UserInputError
from ..i18n import translate
from ..services import reports as service
from ..services.report_engine import field_label, file_names, measure_label
from ..services.report_periods import PERIOD_LABELS, PERIODS
from . import bp
from .boards import CHART_LABELS
from .boards.chart import svg_chart
from .context import page
from .i18n import best_language, format_number, gettext

#: the arguments a report page reads (and a saved report keeps)
ARGS = ("period", "today", "dims", "measures", "chart", "domain")
#: dimensions the flexible pivot offers at most
MAX_DIMENSIONS = 3


def _listed(name):
    """A repeated or comma-separated argument as a list (``None`` when absent)."""
    given = request.args.getlist(name)
    if not given:
        return None
    return [part.strip() for text in given for part in text.split(",") if part.strip()]


def _domain():
    text = request.args.get("domain")
    if not text:
        return []
    try:
        given = json.loads(text)
    except ValueError:
        given = None
    if not isinstance(given, list):
        raise UserInputError(gettext("The filter could not be read."))
    return given


def _run(env, key):
    lang = best_language()
    report = service.get(env, key)
    result = service.run(env, report, _listed("dims"), _listed("measures"), request.args.get("period"),
                         _domain(), request.args.get("today"), lang)
    return report, result, lang


def _saved(env, key=None):
    domain = [["user_id", "=", env.uid]] + ([["report_key", "=", key]] if key else [])
    return env.sudo()["core.report"].search_read(domain, ["name", "report_key", "query"], order="name")


@bp.get("/web/reports")
@page
def report_list(env):
    lang = best_language()
    found = service.visible(env)
    by_key = {r.key: r for r in found}
    groups = {}
    for r in found:
        label = translate(env.registry[r.model].label or r.model, lang)
        groups.setdefault(label, []).append({"key": r.key, "label": translate(r.label, lang),
                                             "description": translate(r.description, lang),
                                             "chart": r.chart})
    saved = [{**s, "report_label": translate(by_key[s["report_key"]].label, lang)}
             for s in _saved(env) if s["report_key"] in by_key]
    return render_template("web/report_list.html", title=gettext("Reports"), groups=groups, saved=saved)


@bp.get("/web/reports/<key>")
@page
def report_view(env, key):
    report, result, lang = _run(env, key)
    if request.args.get("export") == "xlsx":
        data = service.xlsx(env, result)
        response = bp_response(data)
        day = env.now.date().isoformat()
        name, fallback = file_names(result, day)
        response.headers["Content-Disposition"] = disposition(name, fallback)
        return response
    if request.args.get("export"):
        raise UserInputError(gettext("Export as CSV or XLSX."))
    chart = request.args.get("chart") or report.chart
    if chart not in service.CHARTS:
        raise UserInputError(gettext("%(what)s: %(spec)s cannot be used here.", what=gettext("Chart"),
                                     spec=chart[:20]))
    header, body, foot = result.table()
    kinds = [c["kind"] for c in result.columns if c["kind"] != "dimension"]
    lead = max(len(result.dimensions), 1)
    cells = lambda line: [_cell(k, v) for k, v in zip(kinds, line[lead:])]
    drawn = None
    if chart != "table" and result.rows and result.dimensions:
        categories, series = result.chart_series()
        drawn = svg_chart(chart, categories, series if chart in ("bar", "line") else series[:1])
    dims, measures = service.choices(env, report)
    meta = env.registry[report.model]
    here = f"/web/reports/{key}"
    query = urlencode([(k, v) for k, v in request.args.items(multi=True) if k in ARGS])
    pivot = urlencode([("view", "pivot"), ("rows", ",".join(result.dimensions[:1])),
                       ("cols", ",".join(result.dimensions[1:2])), ("measures", ",".join(result.measures))]
                      + ([("domain", json.dumps([*report.domain, *_domain()]))]
                         if report.domain or _domain() else []))
    return render_template(
        "web/report.html", title=result.label, report=report, result=result, chart=drawn, kind=chart,
        description=translate(report.description, lang),
        header=header, lead=lead, body=[(line[:lead], cells(line)) for line in body],
        foot=(foot[:lead], cells(foot)), kinds=[(k, gettext(CHART_LABELS[k])) for k in CHART_LABELS]
        + [("table", gettext("Table only"))],
        periods=[(p, translate(PERIOD_LABELS[p], lang)) for p in PERIODS],
        dim_choices=[(d, field_label(env, meta, d, lang)) for d in dims],
        measure_choices=[(m, measure_label(env, meta, m, lang)) for m in measures],
        picked_dims=result.dimensions + [""] * (MAX_DIMENSIONS - len(result.dimensions)),
        last_day=result.period.end - dt.timedelta(days=1) if result.period.end else None,
        here=here, query=query, export_url=f"{here}?{urlencode([*_args(), ('export', 'xlsx')])}",
        pivot_url=f"/web/{report.model}?{pivot}", saved=_saved(env, key),
        hidden_args=[(k, v) for k, v in _args() if k in ("today", "domain")],
        period_args=[(k, v) for k, v in _args() if k != "period"])


def _args():
    return [(k, v) for k, v in request.args.items(multi=True) if k in ARGS]


def bp_response(data):
    from flask import current_app

    from ..export import CONTENT_TYPES
    return current_app.response_class(data, content_type=CONTENT_TYPES["xlsx"])


def _cell(kind, value):
    """A number of the table as text in the page's locale."""
    if value is None or value == "":
        return ""
    if kind == "change":
        return f"{value:+.1f}%"
    if isinstance(value, decimal.Decimal):
        text = flask_babel.format_decimal(value, format="#,##0.00")
    elif isinstance(value, float):
        text = flask_babel.format_decimal(value, format="#,##0.##")
    else:
        text = format_number(value)
    return ("+" + text) if kind == "difference" and value > 0 else text


@bp.post("/web/reports/<key>/save")
@page
def report_save(env, key):
    """Keep the report as the user sees it (its query string) under a name."""
    service.get(env, key)
    name = request.form.get("name", "").strip()[:100]
    if not name:
        raise UserInputError(gettext("Give the report a name."))
    query = request.form.get("query", "")[:4000]
    env.sudo()["core.report"].create({"user_id": env.uid, "report_key": key, "name": name,
                                      "query": query})
    return redirect(f"/web/reports/{key}?{query}".rstrip("?"))


@bp.post("/web/reports/saved/<int:saved_id>/delete")
@page
def report_delete(env, saved_id):
    found = env.sudo()["core.report"].search([["id", "=", saved_id], ["user_id", "=", env.uid]])
    if not found:
        raise NotFound(f"saved report {saved_id} does not exist")
    found.unlink()
    return redirect("/web/reports")
