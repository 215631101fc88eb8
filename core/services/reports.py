"""Reports: declarations that addons return from the ``keel_reports`` hook,
checked against the registry, and the public face of the report engine.

A declaration is a dict::

    {"key": "crm.customers_by_grade",          # unique, [a-z0-9_.-]
     "label": _("Customers by grade"),
     "model": "crm.customer",
     "dimensions": ["grade"],                  # fields; dates as "field:month"
     "measures": ["count", "amount:sum"],      # "count" is "id:count"
     "domain": [["in_pool", "=", False]],      # optional
     "chart": "bar",                           # bar | line | pie | funnel | table
     "compare": ["period"],                    # optional: "period" and/or "team"
     "date_field": "created_at",               # the field periods filter on
     "period": "month",                        # the default period (all | month | quarter | year)
     "sequence": 10, "description": _("…")}

Every number comes from ``read_group`` (:mod:`core.orm.read_group`), as the
user who asks: record scopes and field rules apply exactly as in lists; a
report runs no SQL of its own. The engine is in :mod:`.report_engine`,
periods in :mod:`.report_periods`; this module holds the declarations
(:class:`Report`), their checks (:func:`check`, errors naming the addon and
the report key) and the per-registry catalogue (:func:`catalogue`,
:func:`visible`, :func:`get`).
"""
import dataclasses
import re
import weakref

from ..errors import AddonError, NotFound, UserInputError
from ..orm.read_group import FUNCTIONS, GRANULARITY, NUMERIC
from .report_periods import PERIODS

CHARTS = ("bar", "line", "pie", "funnel", "table")
COMPARISONS = ("period", "team")
DIMENSION_TYPES = ("selection", "many2one", "char", "boolean", "integer", "date", "datetime")
KEYS = {"key", "label", "model", "dimensions", "measures", "domain", "chart", "compare",
        "date_field", "period", "sequence", "description"}
_KEY = re.compile(r"^[a-z0-9_.\-]{1,80}$")
_CATALOGUES = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class Report:
    """A checked report declaration (see the module's doc)."""
    key: str
    label: str
    model: str
    dimensions: tuple
    measures: tuple
    domain: tuple = ()
    chart: str = "bar"
    compare: tuple = ()
    date_field: str = None
    period: str = "all"
    sequence: int = 50
    description: str = None
    addon: str = None

    def as_json(self, label=None, description=None):
        return {"key": self.key, "label": label or self.label, "model": self.model,
                "dimensions": list(self.dimensions), "measures": list(self.measures),
                "chart": self.chart, "compare": list(self.compare), "date_field": self.date_field,
                "period": self.period, "description": description or self.description,
                "addon": self.addon}


# -- checks ------------------------------------------------------------------------------------
def resolve(registry, meta, path):
    """``(model meta, field)`` at the end of a dotted ``path`` (through many2one), or
    ``None`` when a part is unknown."""
    parts = path.split(".")
    for depth, part in enumerate(parts):
        field = meta.fields.get(part)
        if field is None:
            return None
        if depth == len(parts) - 1:
            return meta, field
        if field.type != "many2one":
            return None
        meta = registry[field.relation]
    return None


def dimension_problem(registry, meta, spec, hidden=frozenset()):
    """Why ``spec`` cannot be a dimension of ``meta`` (text), or ``None``."""
    if not isinstance(spec, str) or not spec.strip():
        return f"bad dimension {spec!r}"
    path, _, unit = spec.partition(":")
    found = resolve(registry, meta, path)
    if found is None or path.split(".")[0] in hidden:
        return f"{meta.name} has no field {path!r}"
    field = found[1]
    if not field.column or field.type not in DIMENSION_TYPES:
        return f"{path} is a {field.type} field; cannot group by it"
    if unit and (field.type not in ("date", "datetime") or unit not in GRANULARITY):
        return f"{spec!r}: only date fields take a unit, one of {', '.join(GRANULARITY)}"
    return None


def normal_measure(spec):
    return "id:count" if spec == "count" else spec


def measure_problem(registry, meta, spec, hidden=frozenset()):
    """Why ``spec`` (``field:function``) cannot be a measure of ``meta``, or ``None``."""
    if not isinstance(spec, str) or ":" not in spec:
        return f"measure {spec!r} should look like 'amount:sum' or 'count'"
    path, _, func = spec.rpartition(":")
    if func not in FUNCTIONS:
        return f"measure {spec!r}: unknown function {func!r} (use {', '.join(FUNCTIONS)})"
    found = resolve(registry, meta, path)
    if found is None or path.split(".")[0] in hidden:
        return f"{meta.name} has no field {path!r}"
    field = found[1]
    if not field.column:
        return f"measure {spec!r}: {path} is a {field.type} field"
    if func not in ("count", "count_distinct") and field.type not in NUMERIC:  # numbers to compare
        return f"measure {spec!r}: {func} needs a number field; {path} is {field.type}"
    return None


def _listed(value, what, bad):
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        bad(f"{what} should be a list, got {value!r}")
    return list(value)


def check(registry, addon, decl):
    """The :class:`Report` of the declaration ``decl`` of ``addon``; an
    ``AddonError`` naming the addon and the report key otherwise."""
    key = decl.get("key") if isinstance(decl, dict) else None

    def bad(reason):
        raise AddonError(f"addon {addon!r}: report {key!r}: {reason}")
    if not isinstance(decl, dict):
        bad(f"a report is a dict, got {decl!r}")
    if not isinstance(key, str) or not _KEY.match(key):
        bad("'key' should be 1 to 80 characters of a-z, 0-9, '_', '.' or '-'")
    unknown = sorted(set(decl) - KEYS)
    if unknown:
        bad(f"unknown key {unknown[0]!r} (use {', '.join(sorted(KEYS))})")
    if not isinstance(decl.get("label"), str) or not decl["label"].strip():
        bad("'label' is required")
    meta = registry.models.get(decl.get("model"))
    if meta is None:
        bad(f"unknown model {decl.get('model')!r}")
    dims = _listed(decl.get("dimensions"), "dimensions", bad)
    for spec in dims:
        problem = dimension_problem(registry, meta, spec)
        if problem:
            bad(problem)
    measures = [normal_measure(m) for m in _listed(decl.get("measures") or ["count"], "measures", bad)]
    for spec in measures:
        problem = measure_problem(registry, meta, spec)
        if problem:
            bad(problem)
    domain = decl.get("domain") or []
    if not isinstance(domain, (list, tuple)):
        bad(f"domain should be a list of terms, got {domain!r}")
    chart = decl.get("chart") or "bar"
    if chart not in CHARTS:
        bad(f"chart {chart!r} is not one of {', '.join(CHARTS)}")
    compare = _listed(decl.get("compare"), "compare", bad)
    for item in compare:
        if item not in COMPARISONS:
            bad(f"compare {item!r} is not one of {', '.join(COMPARISONS)}")
    if "team" in compare:
        first = resolve(registry, meta, dims[0].partition(":")[0]) if dims else None
        if first is None or first[1].type != "many2one" or first[1].relation != "core.user":
            bad("compare 'team' needs a first dimension that is a user (such as owner_id)")
    date_field = decl.get("date_field") or next(
        (d.partition(":")[0] for d in dims if ":" in d and "." not in d), "created_at")
    field = meta.fields.get(date_field)
    if field is None or field.type not in ("date", "datetime"):
        bad(f"date_field {date_field!r} is not a date field of {meta.name}")
    period = decl.get("period") or ("month" if "period" in compare else "all")
    if period not in PERIODS or ("period" in compare and period == "all"):
        bad(f"period {period!r} is not one of {', '.join(PERIODS[1:] if 'period' in compare else PERIODS)}")
    sequence = decl.get("sequence", 50)
    if not isinstance(sequence, int):
        bad(f"sequence should be a number, got {sequence!r}")
    return Report(key, decl["label"], meta.name, tuple(dims), tuple(dict.fromkeys(measures)),
                  tuple(domain), chart, tuple(compare), date_field, period, sequence,
                  decl.get("description"), addon)


# -- the catalogue -----------------------------------------------------------------------------
def build(registry):
    """``{key: Report}`` of every installed addon's ``keel_reports``, checked,
    by sequence then label."""
    found = {}
    for addon, declared in registry.hooks.gather("keel_reports"):
        if declared is None:
            continue
        if not isinstance(declared, (list, tuple)):
            raise AddonError(f"addon {addon!r}: keel_reports should return a list, got {declared!r}")
        for decl in declared:
            report = check(registry, addon, decl)
            if report.key in found:
                raise AddonError(f"addon {addon!r}: report {report.key!r} is already declared by "
                                 f"addon {found[report.key].addon!r}")
            found[report.key] = report
    return dict(sorted(found.items(), key=lambda item: (item[1].sequence, item[0])))


def catalogue(registry):
    """The reports of ``registry`` (built once per registry)."""
    reports = _CATALOGUES.get(registry)
    if reports is None:
        reports = _CATALOGUES[registry] = build(registry)
    return reports


def visible(env):
    """The reports of models ``env``'s user may read."""
    return [r for r in catalogue(env.registry).values() if env.access.allowed(r.model, "read")]


def get(env, key):
    """The report ``key`` if the user may read its model; ``NotFound`` otherwise
    (a report of a model out of reach looks exactly like a missing one)."""
    report = catalogue(env.registry).get(key)
    if report is None or not env.access.allowed(report.model, "read"):
        raise NotFound(f"report {key!r} does not exist", {"report": key})
    return report


def choices(env, report):
    """The dimensions and measures the user may pick for ``report``'s model
    (fields hidden from them left out): two lists of specs."""
    meta = env.registry[report.model]
    hidden = env.access.hidden(meta)
    dims, measures = [], ["id:count"]
    for name, field in meta.fields.items():
        if name in hidden or field.secret or name in ("id", "version") or not field.column:
            continue
        if field.type in ("date", "datetime"):
            dims += [f"{name}:{u}" for u in ("month", "quarter", "year", "day")]
        elif field.type in ("selection", "many2one", "boolean", "char"):
            dims.append(name)
        if field.type in ("decimal", "float", "integer") and name != "id":
            measures += [f"{name}:sum", f"{name}:avg"]
    return dims, measures


def ask(env, report, dimensions=None, measures=None):
    """The dimensions and measures the user asked for (``None``: the
    report's, less any field hidden from the user), checked: a field hidden
    from the user or unknown is refused naming it."""
    meta = env.registry[report.model]
    hidden = env.access.hidden(meta)
    if dimensions is None:
        dims = [d for d in report.dimensions if not dimension_problem(env.registry, meta, d, hidden)]
    else:
        dims = list(dict.fromkeys(dimensions))
        for spec in dims:
            problem = dimension_problem(env.registry, meta, spec, hidden)
            if problem:
                raise UserInputError(f"report {report.key}: {problem}", {"parameter": "dimensions"})
    if measures is None:
        chosen = [m for m in report.measures if not measure_problem(env.registry, meta, m, hidden)]
        if not chosen:
            raise UserInputError(f"report {report.key}: no measure of it is visible to you")
    else:
        chosen = list(dict.fromkeys(normal_measure(m) for m in measures)) or ["id:count"]
        for spec in chosen:
            problem = measure_problem(env.registry, meta, spec, hidden)
            if problem:
                raise UserInputError(f"report {report.key}: {problem}", {"parameter": "measures"})
    if len(dims) > 3:
        raise UserInputError(f"report {report.key}: at most 3 dimensions", {"parameter": "dimensions"})
    return dims, chosen


# running a report lives in core.services.report_engine, which reads the
# declarations above: these two are its doors, imported when first used
def run(*args, **kwargs):
    """:func:`core.services.report_engine.run`."""
    from .report_engine import run as run_report
    return run_report(*args, **kwargs)


def xlsx(*args, **kwargs):
    """:func:`core.services.report_engine.xlsx`."""
    from .report_engine import xlsx as write_xlsx
    return write_xlsx(*args, **kwargs)


__all__ = ["Report", "catalogue", "check", "choices", "get", "run", "visible", "xlsx"]
