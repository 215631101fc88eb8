"""The list view of a model, ``/web/MODEL`` (CONTRACT.md §7), and what it
posts: bulk actions, exports, saved filters.

``/web/MODEL?view=kanban|calendar|pivot|graph`` is answered by
:mod:`core.web.boards`; the form (``/web/MODEL/new``, ``/web/MODEL/ID``) by
:mod:`core.web.form_views`.

Everything a list shows is in its address, so a page can be bookmarked,
saved as a filter and works without JavaScript: ``q`` (search box),
``f`` (filters of the search view, repeated), ``qf``/``qo``/``qv`` (rows of
the query editor: field, operator, value), ``group``, ``order``, ``cols``
(chosen columns), ``limit`` and ``offset``. Reading is the model API's:
one ``search_read`` of the page (plus one query per many2one column), a
count stopped at :data:`COUNT_CAP`, ``read_group`` for groups and totals —
the number of statements does not grow with the rows.
"""
from urllib.parse import parse_qsl

from flask import redirect, render_template, request
from werkzeug.datastructures import MultiDict

from .. import export as exporting
from .. import viewdefs
from ..downloads import export_response
from ..errors import NotFound, UserInputError
from ..i18n import translate
from . import boards, bp
from .context import page
from .i18n import best_language, gettext
from .list_query import OPERATORS, ListQuery, capped_count, cells, table
from ..security.menus import trail
from .views import request_menus, safe_next

#: rows a page shows unless the view or the address says otherwise, and at most
PAGE_SIZE, MAX_PAGE = 80, 500
#: rows counted at most: past it the total shows as "10,000+"
COUNT_CAP = 10_000
#: groups a grouped list shows at most
MAX_GROUPS = 200


def _model(env, model, op="read"):
    """The model's metadata; 404 for an unknown model, 403 unless the user
    may ``op`` its records."""
    meta = env.registry.models.get(model)
    if meta is None:
        raise NotFound(f"no model {model!r}")
    env.access.check(meta, op)
    return meta


@bp.get("/web/<model>")
@page
def list_view(env, model):
    vtype = request.args.get("view")
    if vtype in boards.BOARD_TYPES:
        _model(env, model)
        return boards.render(env, model, vtype)
    meta = _model(env, model)
    saved = _saved_filters(env, model)
    arch = viewdefs.resolve(env, model, "list")
    search = viewdefs.resolve(env, model, "search")
    args = request.args
    if not args:  # the list just opened: the user's default filter, else the view's defaults
        default = next((s for s in saved if s["is_default"]), None)
        args = _args_of(default["query"]) if default is not None and default["query"] \
            else _view_defaults(arch, search)
    query = ListQuery(env, meta, arch, search, args, PAGE_SIZE, MAX_PAGE)
    records = env[model]
    data = {"rows": [], "groups": None, "total": 0, "capped": False, "totals": None, "error": None}
    try:
        domain = query.domain()
        if query.group:
            _groups(records, query, domain, data)
        else:
            _page(records, query, domain, data)
    except UserInputError as exc:
        data["error"] = str(exc)
    access = env.access
    formats = cells(env, query.listable)
    return render_template(
        "web/list.html", meta=meta, model=model, title=_title(env, meta),
        q=query, saved=saved, data=data, cells=formats,
        table=table(query.columns, data["rows"], formats),
        views=_view_types(env, meta), may={op: access.allowed(model, op) for op in
                                             ("create", "write", "delete", "export")},
        settable=_settable(env, meta), operators=OPERATORS)


def _title(env, meta):
    """The menu item's label (plural: "Customers"), else the model's."""
    path = trail(request_menus(env), meta.name)
    return translate(path[-1]["label"] if path else meta.label, best_language())


def _page(records, query, domain, data):
    names = [c.name for c in query.columns]
    rows = records.search_read(domain, names, order=query.order, limit=query.limit,
                               offset=query.offset)
    data["rows"] = rows
    if len(rows) < query.limit and (rows or not query.offset):
        data["total"] = query.offset + len(rows)  # the last page: no count needed
    else:
        data["total"] = capped_count(records, domain, COUNT_CAP)
        data["capped"] = data["total"] > COUNT_CAP
        data["total"] = min(data["total"], COUNT_CAP)
    sums = _sums(query)
    if sums and rows and not data["capped"]:  # no sum over a million rows for a page of 80
        data["totals"] = records.read_group(domain, [], sums)[0]


def _groups(records, query, domain, data):
    groups = records.read_group(domain, [query.group], ["id:count", *_sums(query)],
                                limit=MAX_GROUPS + 1)
    data["more_groups"] = len(groups) > MAX_GROUPS
    data["groups"] = [{**g, "key": g[query.group], "args": query.group_args(g[query.group])}
                      for g in groups[:MAX_GROUPS]]


def _sums(query):
    """The sums a list shows: of its number columns (not of ids)."""
    return [f"{c.name}:sum" for c in query.columns if c.numeric and c.name != "id"]


def _view_types(env, meta):
    """The other views the switcher offers: declared ones, and generated
    ones that have what they need (a column to group, a date to place)."""
    declared = set(viewdefs.declared_types(env, meta.name))
    found = []
    for vtype in boards.BOARD_TYPES:
        if vtype in declared:
            found.append(vtype)
            continue
        arch = viewdefs.generate(env, meta, vtype)
        if arch.get("group_by") or arch.get("date") or arch.get("rows"):
            found.append(vtype)
    return found


def _settable(env, meta):
    """Fields a bulk action may set: stored, one value, writable by the user."""
    readonly = env.access.readonly(meta)
    return [f for n, f in meta.fields.items()
            if f.column and f.type in viewdefs.LIST_TYPES and not f.readonly and not f.compute
            and n not in readonly and n not in viewdefs.MAGIC]


# -- bulk actions ----------------------------------------------------------------------------
@bp.post("/web/<model>/bulk")
@page
def bulk(env, model):
    """``bulk=delete`` (asks first, then ``confirm``), ``bulk=set`` (``field``,
    ``value``) or ``bulk=export`` (``format``) on the checked ``ids``."""
    meta = _model(env, model)
    form = request.form
    back = safe_next(form.get("next")) or f"/web/{model}"
    ids = sorted({int(i) for i in form.getlist("ids") if i.isdigit()})
    action = form.get("bulk")
    if not ids:
        return redirect(back)
    records = env[model].browse(ids)
    if action == "delete":
        if not form.get("confirm"):
            names = env[model].search_read([["id", "in", ids]], [meta.rec_name], limit=20)
            return render_template("web/list.html", confirm=True, model=model, ids=ids, back=back,
                                   names=[r[meta.rec_name] for r in names], meta=meta,
                                   title=translate(meta.label, best_language()))
        records.unlink()
        return redirect(back)
    if action == "set":
        name = form.get("field", "")
        if name not in {f.name for f in _settable(env, meta)}:
            raise UserInputError(gettext("Choose a field to set."))
        value = form.get("value", "").strip()
        records.write({name: ListQuery.option(meta.fields[name], value) if value else None})
        return redirect(back)
    if action == "export":
        return _export(env, meta, [["id", "in", ids]], None)
    raise UserInputError(f"unknown bulk action {action!r}")


@bp.get("/web/<model>/export")
@page
def export_view(env, model):
    """The current filter of the list (its address's arguments) as a file."""
    meta = _model(env, model, "export")
    arch = viewdefs.resolve(env, model, "list")
    query = ListQuery(env, meta, arch, viewdefs.resolve(env, model, "search"), request.args,
                      PAGE_SIZE, MAX_PAGE)
    return _export(env, meta, query.domain(), [c.name for c in query.columns])


def _export(env, meta, domain, fields):
    fmt = request.values.get("format", "xlsx")
    if fmt not in exporting.FORMATS:
        raise UserInputError(f"format {fmt!r} is not one of {', '.join(exporting.FORMATS)}")
    return export_response(env, meta, fmt, domain, fields, best_language())


# -- saved filters ---------------------------------------------------------------------------
# a user's own rows, read and written in the system context with their id in
# the domain (see core/base/ui_models.py)
def _saved_filters(env, model):
    return env.sudo()["core.saved_filter"].search_read(
        [["user_id", "=", env.uid], ["model", "=", model]], ["name", "query", "is_default"],
        order="name")


@bp.post("/web/<model>/filters")
@page
def save_filter(env, model):
    meta = _model(env, model)
    name = request.form.get("name", "").strip()[:100]
    query = request.form.get("query", "")[:4000]
    if not name:
        raise UserInputError(gettext("Give the filter a name."))
    args = _args_of(query)
    domain = ListQuery(env, meta, viewdefs.resolve(env, model, "list"),
                       viewdefs.resolve(env, model, "search"), args, PAGE_SIZE, MAX_PAGE).domain()
    filters = env.sudo()["core.saved_filter"]
    default = bool(request.form.get("is_default"))
    if default:
        filters.search([["user_id", "=", env.uid], ["model", "=", model]]).write({"is_default": False})
    filters.create({"user_id": env.uid, "model": model, "name": name, "query": query,
                    "domain": domain, "is_default": default})
    return redirect(f"/web/{model}?{query}" if query else f"/web/{model}")


@bp.post("/web/<model>/filters/<int:filter_id>/delete")
@page
def delete_filter(env, model, filter_id):
    found = env.sudo()["core.saved_filter"].search(
        [["id", "=", filter_id], ["user_id", "=", env.uid], ["model", "=", model]])
    if not found:
        raise NotFound(f"saved filter {filter_id} does not exist")
    found.unlink()
    return redirect(f"/web/{model}")


def _args_of(query):
    return MultiDict(parse_qsl(query))


def _view_defaults(arch, search):
    """The arguments of a list opened without any: the search view's
    filters marked ``default`` and the list's (or search view's) ``group_by``."""
    args = MultiDict([("f", f["key"]) for f in search.get("filters", ())
                      if f.get("default") and f.get("key")])
    group = arch.get("group_by") or search.get("group_by")
    if group:
        args["group"] = group
    return args

