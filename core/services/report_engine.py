"""The report engine: a :class:`~core.services.reports.Report` run for one
user, in one unit of work, as ``read_group`` calls only — so record scopes
and field rules apply exactly as in lists:

* the groups of the current period (one GROUP BY) and its grand total (one
  more, so that averages stay true averages);
* with ``compare: period``: the same two for the previous period, matched
  row by row (a date bucket of the previous period is moved forward to meet
  its counterpart: ``2025-03`` meets ``2026-03``), with the difference and
  the change in %;
* with ``compare: team`` (the first dimension a user, such as ``owner_id``):
  the groups carry that user's department too, and each row gets the
  average of its department's users in the report (a user without rows in
  a group counts as 0 for counts and sums) and the difference to it.

:class:`Result` holds the columns and rows, and gives the table as cells
(for the page and the XLSX file), JSON rows (for the API) and chart series.
"""
import dataclasses
import decimal
import io

from ..i18n import _, translate
from ..security import audit
from . import reports as catalogue_module
from .report_periods import MONTHS, PERIOD_LABELS, PREVIOUS_LABELS, bounds_domain, parse_today, period, shift_bucket

#: groups a report shows at most
MAX_ROWS = 500
FUNCTION_LABELS = {"sum": _("sum"), "avg": _("average"), "min": _("minimum"), "max": _("maximum"),
                   "count": _("count"), "count_distinct": _("distinct count")}
UNIT_LABELS = {"day": _("day"), "month": _("month"), "quarter": _("quarter"), "year": _("year")}
CENT = decimal.Decimal("0.01")
#: functions whose value over no rows is 0
ADDITIVE = ("count", "count_distinct", "sum")


@dataclasses.dataclass
class Result:
    """A report's numbers for one user: ``columns`` (``{"key", "label",
    "kind"}``, kinds ``dimension``, ``measure``, ``previous``, ``difference``,
    ``change``, ``average``), ``rows`` (``{"key": tuple, "labels": [...],
    "values": {column key: value}}``) and ``totals`` (``{column key: value}``)."""
    report: object
    label: str
    dimensions: list
    measures: list
    period: object
    compare: list
    columns: list
    rows: list
    totals: dict
    truncated: bool
    lang: str

    def table(self):
        """``(header, body, foot)``: lists of cells, labels then numbers."""
        lead = max(len(self.dimensions), 1)
        header = [c["label"] for c in self.columns if c["kind"] == "dimension"] or [""]
        keys = [c["key"] for c in self.columns if c["kind"] != "dimension"]
        header += [c["label"] for c in self.columns if c["kind"] != "dimension"]
        body = [(row["labels"] or [translate(_("Total"), self.lang)]) + [row["values"].get(k) for k in keys]
                for row in self.rows]
        foot = [translate(_("Total"), self.lang)] + [""] * (lead - 1) + [self.totals.get(k) for k in keys]
        return header, body, foot

    def json_rows(self):
        """Rows for the API: each dimension's value (a many2one as ``{"id",
        "name"}``), ``label`` and every number column by its key."""
        return [{**row["raw"], "label": " / ".join(row["labels"]), **row["values"]} for row in self.rows]

    def chart_series(self):
        """``(categories, [(series name, [value per category])])`` of the
        first measure: the current and previous periods, the user and the
        department average, the second dimension's groups, or one series."""
        first = self.measures[0]
        label = next(c["label"] for c in self.columns if c["key"] == first)
        number = lambda v: float(v or 0)
        if len(self.dimensions) >= 2 and not self.compare:
            categories = list(dict.fromkeys(row["labels"][0] for row in self.rows))
            names = list(dict.fromkeys(" / ".join(row["labels"][1:]) for row in self.rows))
            cells = {(row["labels"][0], " / ".join(row["labels"][1:])): row["values"][first]
                     for row in self.rows}
            return categories, [(n, [number(cells.get((c, n))) for c in categories]) for n in names]
        categories = [" / ".join(row["labels"]) or translate(_("Total"), self.lang) for row in self.rows]
        series = [(label, [number(row["values"][first]) for row in self.rows])]
        for kind in ("previous", "average"):
            column = next((c for c in self.columns if c["key"] == f"{first}:{kind}"), None)
            if column:
                series.append((column["label"], [number(row["values"][column["key"]]) for row in self.rows]))
        return categories, series


def run(env, report, dimensions=None, measures=None, period_unit=None, domain=None, today=None,
        lang="en"):
    """The :class:`Result` of ``report`` (a key or a Report) for ``env``'s
    user; ``dimensions``/``measures`` replace the declared ones (the flexible
    pivot), ``period_unit`` the default period, ``domain`` narrows it,
    ``today`` (a date or ISO text; default the unit of work's day) fixes
    "this month"."""
    if isinstance(report, str):
        report = catalogue_module.get(env, report)
    dims, measures = catalogue_module.ask(env, report, dimensions, measures)
    today = parse_today(today) if not hasattr(today, "year") else today
    per = period(period_unit or report.period, today or env.now.date())
    meta = env.registry[report.model]
    base = [*report.domain, *(domain or [])]
    date_field = meta.fields[report.date_field]
    compare = [c for c in report.compare
               if (c == "period" and per.unit != "all") or (c == "team" and dims[:1] == list(report.dimensions[:1]))]
    current = base + (bounds_domain(date_field, per.start, per.end) if per.unit != "all" else [])
    records = env[report.model]
    team = f"{dims[0].partition(':')[0]}.department_id" if "team" in compare else None
    groups = records.read_group(current, ([team] if team else []) + dims, measures, limit=MAX_ROWS + 1) \
        if dims else []
    truncated = len(groups) > MAX_ROWS
    groups = groups[:MAX_ROWS]
    totals = (_fold(groups, measures) if dims and not truncated else None) \
        or records.read_group(current, [], measures)[0]
    rows = {}
    for g in groups:
        key = tuple(_key(g[d]) for d in dims)
        rows[key] = {"key": key, "raw": {d: g[d] for d in dims},
                     "labels": [_value_label(env, meta, d, g[d], lang) for d in dims],
                     "values": {m: g[m] for m in measures}, "team": _key(g[team]) if team else None}
    if not dims:
        rows[()] = {"key": (), "raw": {}, "labels": [], "values": {m: totals[m] for m in measures}}
    out_totals = {m: totals[m] for m in measures}
    if "period" in compare:
        previous = base + bounds_domain(date_field, per.previous_start, per.previous_end)
        _add_previous(records, previous, dims, measures, rows, out_totals, MONTHS[per.unit])
    if team:
        _add_team_average(rows, measures)
    ordered = sorted(rows.values(), key=_sorter(env, meta, dims))
    columns = _columns(env, meta, dims, measures, compare, per, lang)
    return Result(report, translate(report.label, lang), dims, measures, per, compare, columns,
                  ordered, out_totals, truncated, lang)


def _fold(groups, measures):
    """The grand total from the groups when every measure allows it (counts,
    sums, minima, maxima: one query less); ``None`` otherwise (averages and
    distinct counts need their own GROUP BY)."""
    functions = [m.rpartition(":")[2] for m in measures]
    if any(f not in ("count", "sum", "min", "max") for f in functions):
        return None
    totals = {}
    for m, f in zip(measures, functions):
        values = [g[m] for g in groups if g[m] is not None]
        if f == "count":
            totals[m] = sum(values)
        elif not values:
            totals[m] = None
        else:
            totals[m] = {"sum": sum, "min": min, "max": max}[f](values)
    return totals


def _key(value):
    return value["id"] if isinstance(value, dict) else value


def _add_previous(records, domain, dims, measures, rows, totals, months):
    """The previous period's numbers beside the current ones: ``m:previous``,
    ``m:difference`` and ``m:change`` (in %, ``None`` from nothing)."""
    units = [d.partition(":")[2] for d in dims]
    before = {}
    for g in records.read_group(domain, dims, measures, limit=MAX_ROWS) if dims else []:
        key = tuple(shift_bucket(_key(g[d]), u, months) for d, u in zip(dims, units))
        before[key] = g
    previous_totals = (_fold(list(before.values()), measures) if dims and len(before) < MAX_ROWS else None) \
        or records.read_group(domain, [], measures)[0]
    for key, row in rows.items():
        g = before.get(key, {}) if dims else previous_totals
        for m in measures:
            _compare(row["values"], m, g.get(m))
    for m in measures:
        _compare(totals, m, previous_totals.get(m))


def _compare(values, m, old):
    new = values.get(m)
    zero = 0 if not isinstance(new if new is not None else old, decimal.Decimal) else decimal.Decimal(0)
    if old is None and m.rpartition(":")[2] in ADDITIVE:  # no rows then: nothing, i.e. 0
        old = zero if new is not None or m.endswith("count") else None
    values[f"{m}:previous"] = old
    values[f"{m}:difference"] = (new if new is not None else zero) - (old if old is not None else zero)
    values[f"{m}:change"] = round(float(values[f"{m}:difference"]) / float(old) * 100, 1) if old else None


def _add_team_average(rows, measures):
    """``m:average``: the mean of the values of the department's users in the
    group (rest of the dimensions equal); ``m:vs_average`` the row's
    difference to it."""
    members = {}
    for row in rows.values():
        members.setdefault(row["team"], set()).add(row["key"][0])
    sums = {}
    for row in rows.values():
        slot = sums.setdefault((row["team"], row["key"][1:]), {})
        for m in measures:
            if row["values"][m] is not None:
                slot[m] = slot.get(m, 0) + row["values"][m]
    for row in rows.values():
        slot, count = sums[(row["team"], row["key"][1:])], len(members[row["team"]])
        for m in measures:
            total = slot.get(m)
            average = None if total is None else total / count
            if isinstance(average, decimal.Decimal):
                average = average.quantize(CENT, rounding=decimal.ROUND_HALF_UP)
            elif average is not None:
                average = round(average, 2)
            row["values"][f"{m}:average"] = average
            mine = row["values"][m]
            row["values"][f"{m}:vs_average"] = None if average is None or mine is None else mine - average


def _sorter(env, meta, dims):
    """Rows in the order of the first dimension's options (states, grades),
    names alphabetically, dates in time; unset last."""
    ranks = []
    for d in dims:
        found = catalogue_module.resolve(env.registry, meta, d.partition(":")[0])
        field = found[1]
        ranks.append({v: i for i, (v, _label) in enumerate(field.options)} if field.type == "selection" else None)

    def key(row):
        parts = []
        for d, rank, value, label in zip(dims, ranks, row["key"], row["labels"]):
            if value is None:
                parts.append((1, 0, ""))
            elif rank is not None:
                parts.append((0, rank.get(value, len(rank)), str(value)))
            elif isinstance(row["raw"][d], dict):
                parts.append((0, 0, label.casefold()))
            else:
                parts.append((0, 0, str(value) if not isinstance(value, (int, float)) else f"{value:020.4f}"))
        return tuple(parts)
    return key


def field_label(env, meta, spec, lang):
    """A dimension or field's label in ``lang`` (a date's unit in brackets)."""
    path, _sep, unit = spec.partition(":")
    found = catalogue_module.resolve(env.registry, meta, path)
    text = translate(found[1].label or path, lang) if found else path
    return f"{text} ({translate(UNIT_LABELS[unit], lang)})" if unit in UNIT_LABELS else text


def measure_label(env, meta, spec, lang):
    path, _sep, func = spec.rpartition(":")
    if path == "id" and func == "count":
        return translate(_("Count"), lang)
    return f"{field_label(env, meta, path, lang)} ({translate(FUNCTION_LABELS[func], lang)})"


def _columns(env, meta, dims, measures, compare, per, lang):
    columns = [{"key": d, "label": field_label(env, meta, d, lang), "kind": "dimension"} for d in dims]
    for m in measures:
        label = measure_label(env, meta, m, lang)
        if "period" in compare:
            columns += [
                {"key": m, "label": f"{label} · {translate(PERIOD_LABELS[per.unit], lang)}", "kind": "measure"},
                {"key": f"{m}:previous", "label": f"{label} · {translate(PREVIOUS_LABELS[per.unit], lang)}",
                 "kind": "previous"},
                {"key": f"{m}:difference", "label": translate(_("Difference"), lang), "kind": "difference"},
                {"key": f"{m}:change", "label": translate(_("Change (%)"), lang), "kind": "change"}]
        else:
            columns.append({"key": m, "label": label, "kind": "measure"})
        if "team" in compare:
            columns += [{"key": f"{m}:average", "label": f"{label} · {translate(_('Department average'), lang)}",
                         "kind": "average"},
                        {"key": f"{m}:vs_average", "label": translate(_("Versus average"), lang),
                         "kind": "difference"}]
    return columns


def _value_label(env, meta, spec, value, lang):
    """A group's value as the user reads it."""
    if value is None or value == "":
        return translate(_("Not set"), lang)
    field = catalogue_module.resolve(env.registry, meta, spec.partition(":")[0])[1]
    if isinstance(value, dict):
        return value.get("name") or f"#{value['id']}"
    if field.type == "selection":
        return translate(dict(field.options).get(value, value), lang)
    if field.type == "boolean":
        return translate(_("Yes") if value else _("No"), lang)
    return str(value)


def file_names(result, day):
    """``(name, ASCII fallback)`` of the report's XLSX file."""
    return f"{result.label}-{day}.xlsx", f"{result.report.key}-{day}.xlsx"


def xlsx(env, result):
    """The report's table as XLSX bytes (one sheet named after the report);
    the user needs ``export`` on the report's model, and an ``export`` audit
    entry records it."""
    from .. import export as exporting
    meta = env.registry[result.report.model]
    env.access.check(meta, "export")
    header, body, foot = result.table()
    out = io.BytesIO()
    exporting._write_xlsx(out, result.label, header, [*body, foot])
    audit.log(env, "export", meta.name, None,
              {"report": result.report.key, "dimensions": result.dimensions, "measures": result.measures,
               "period": result.period.unit, "format": "xlsx", "count": len(body)})
    return out.getvalue()
