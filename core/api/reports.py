"""``GET /api/v1/reports`` and ``GET /api/v1/reports/KEY``: the reports of
the models the caller may read, and one report's rows as JSON (or its XLSX
file with ``format=xlsx``), computed by :mod:`core.services.reports` as the
caller — record scopes and field rules apply as in ``/data/MODEL/group``.

Arguments of a report: ``period`` (all, month, quarter, year), ``today``
(ISO date fixing "this month"), ``dimensions`` and ``measures`` (``a,b``:
the flexible pivot), ``domain`` (JSON, as ``GET /data/MODEL``). A report of
a model out of the caller's reach answers 404 as a missing one.
"""
from flask import current_app, request

from ..downloads import disposition
from ..errors import UserInputError
from ..export import CONTENT_TYPES
from ..i18n import translate
from ..services import reports as service
from ..services.report_engine import file_names
from . import bp, http


@bp.get("/reports")
@http.unit_of_work
def report_index(env):
    lang = http.language(env)
    return {"items": [r.as_json(translate(r.label, lang), translate(r.description, lang))
                      for r in service.visible(env)]}


@bp.get("/reports/<key>")
@http.unit_of_work
def report_rows(env, key):
    lang = http.language(env)
    report = service.get(env, key)
    result = service.run(env, report, http.names("dimensions"), http.names("measures"),
                         request.args.get("period") or None, http.domain(), request.args.get("today"), lang)
    fmt = (request.args.get("format") or "json").strip().lower()
    if fmt == "xlsx":
        response = current_app.response_class(service.xlsx(env, result),
                                              content_type=CONTENT_TYPES["xlsx"])
        name, fallback = file_names(result, env.now.date().isoformat())
        response.headers["Content-Disposition"] = disposition(name, fallback)
        return response
    if fmt != "json":
        raise UserInputError(f"format: {fmt[:20]!r} is not one of json, xlsx", {"parameter": "format"})
    return {"key": report.key, "label": result.label, "model": report.model,
            "dimensions": result.dimensions, "measures": result.measures,
            "period": result.period.as_json(), "compare": result.compare,
            "columns": result.columns, "rows": result.json_rows(),
            "totals": result.totals, "truncated": result.truncated}


def openapi_paths():
    """The OpenAPI operations of these routes (merged by ``core.api.openapi_paths``)."""
    from .openapi_paths import _answers, _json, _param
    key = {"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}
    query = [{"name": "period", "in": "query",
              "schema": {"type": "string", "enum": ["all", "month", "quarter", "year"]}},
             {"name": "today", "in": "query", "schema": {"type": "string", "format": "date"}},
             {"name": "dimensions", "in": "query", "schema": {"type": "string"}},
             {"name": "measures", "in": "query", "schema": {"type": "string"}},
             {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "xlsx"]}},
             _param("domain")]
    listed = {"type": "object", "properties": {"items": {"type": "array", "items": {"type": "object"}}}}
    return {
        "/reports": {"get": {
            "tags": ["reports"], "summary": "the reports of the models the caller may read",
            "responses": _answers({200: {"description": "reports", **_json(listed)}})}},
        "/reports/{key}": {"parameters": [key], "get": {
            "tags": ["reports"], "summary": "one report's rows (format=xlsx: the file)",
            "parameters": query,
            "responses": _answers({200: {"description": "columns, rows, totals",
                                         **_json({"type": "object"})}}, 400, 403, 404)}},
    }
