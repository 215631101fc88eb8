"""Views as data: what a list, form, kanban, calendar, pivot, graph or
search view of a model shows (docs/views.md).

Addons declare views through ``keel_views`` (stored in ``core.view``); an
admin adds rows to the same table. A row whose ``arch`` holds ``"extends":
KEY`` changes the view ``KEY`` without copying it (add, move, hide fields,
set keys, append to lists); extensions apply in the order they were stored
(addons in dependency order, then an admin's). A model with no declared view
gets one generated from its metadata under the key ``MODEL.TYPE``, which
extensions can name as well. User-defined fields appear by themselves
(appended to forms; lists, filters and the query editor offer every field).

:func:`resolve` is the one entry point of the UI. The merged views are kept
per registry and per state of ``core.view`` (one tiny aggregate query per
unit of work tells whether a view changed), so resolving a view costs a
dictionary look-up and the user's field filter.
"""
import copy
import datetime as dt

from .errors import UserInputError
from .i18n import _
from .registry import MAGIC
from .registry_cache import RegistryCache

VIEW_TYPES = ("list", "form", "kanban", "calendar", "pivot", "graph", "search")
#: what an extension may do, applied in this order
OPERATIONS = ("hide", "move", "add", "set", "append")
#: types a list column can show in one cell
LIST_TYPES = frozenset({"char", "integer", "decimal", "float", "boolean", "date", "datetime",
                        "selection", "many2one"})
#: types of the fields the search box looks in
TEXT_TYPES = frozenset({"char", "text"})

#: per registry: ({(model, type): base row}, {key: [extensions]}, {(model, type): arch})
_merged = RegistryCache("viewdefs", lambda env: _load(env))


# -- the entry point ---------------------------------------------------------------------------
def resolve(env, model, vtype):
    """The ``vtype`` view of ``model`` for this user: declared (or generated)
    with its extensions applied, fields the user may not see left out. The
    answer is the caller's own copy."""
    if vtype not in VIEW_TYPES:
        raise UserInputError(f"unknown view type {vtype!r} (use one of {', '.join(VIEW_TYPES)})")
    meta = env.registry[model]
    arch = _arch(env, meta, vtype)
    return _without(arch, env.access.hidden(meta))


def declared_types(env, model):
    """The view types declared for ``model`` (by an addon or an admin)."""
    bases, _ext, _built = _state(env)
    return [t for t in VIEW_TYPES if (model, t) in bases]


def _arch(env, meta, vtype):
    bases, extensions, built = _state(env)
    key = (meta.name, vtype)
    arch = built.get(key)
    if arch is None:
        base = bases.get(key)
        if base is not None:
            arch, name = copy.deepcopy(base["arch"] or {}), base["key"]
        else:
            arch, name = generate(env, meta, vtype), f"{meta.name}.{vtype}"
        for ext in extensions.get(name, ()):
            if (ext["model"], ext["type"]) != key:
                raise UserInputError(f"view {ext['key']}: extends {name}, a {vtype} view of "
                                     f"{meta.name}, but is itself a {ext['type']} view of {ext['model']}")
            extend(arch, ext["arch"], ext["key"])
        arch = built[key] = _complete(meta, vtype, arch)
    return arch


def _state(env):
    """The merged views of this registry.

    Changing ``core.view`` through the model API moves the registry version
    (see :func:`changed`), so a registry's views never go stale and reading
    them costs no query per request; a unit of work that changed views
    itself keeps what it reads to itself, as it may yet roll back."""
    return _merged.get(env)


def _load(env):
    rows = env.sudo()["core.view"].search_read([], ["key", "model", "type", "arch"], order="id")
    bases, extensions = {}, {}
    for row in rows:
        target = (row["arch"] or {}).get("extends")
        if target:
            extensions.setdefault(target, []).append(row)
        else:
            bases.setdefault((row["model"], row["type"]), row)  # the first stored wins
    return bases, extensions, {}


def changed(env):
    """Called by the model API after it changed ``core.view`` rows: this
    unit of work reads them again and keeps them to itself; committing it
    moves the registry version, so every process reloads them."""
    _merged.changed(env)


# -- extensions --------------------------------------------------------------------------------
def extend(arch, ext, where):
    """Apply the extension ``ext`` (an arch with ``extends``) to ``arch`` in
    place; ``where`` names the extension in errors."""
    unknown = set(ext) - {"extends", *OPERATIONS}
    if unknown:
        raise UserInputError(f"view {where}: unknown key {sorted(unknown)[0]!r} "
                             f"(an extension holds extends, {', '.join(OPERATIONS)})")
    for name in ext.get("hide", ()):
        _remove(arch, name)
        for key in ("group_by", "date"):
            if arch.get(key) == name:
                arch[key] = None
    for item in ext.get("move", ()):
        if not _remove(arch, item.get("field")):
            raise UserInputError(f"view {where}: cannot move {item.get('field')!r}: not in the view")
        _place(arch, item, where)
    for item in ext.get("add", ()):
        if isinstance(item.get("section"), dict) or isinstance(item.get("tab"), dict):
            kind = "sections" if "section" in item else "tabs"
            arch.setdefault(kind, []).append(dict(item.get("section") or item["tab"]))
        else:
            _remove(arch, item.get("field"))
            _place(arch, item, where)
    for key, value in (ext.get("set") or {}).items():
        arch[key] = copy.deepcopy(value)
    for key, values in (ext.get("append") or {}).items():
        arch.setdefault(key, []).extend(copy.deepcopy(values))
    return arch


def _field_lists(arch):
    """Every list of field names in ``arch`` (``fields``, each section's and tab's)."""
    lists = [arch["fields"]] if isinstance(arch.get("fields"), list) else []
    for kind in ("sections", "tabs"):
        lists.extend(part.setdefault("fields", []) for part in arch.get(kind) or ())
    return lists


def _remove(arch, name):
    found = False
    for names in _field_lists(arch):
        while name in names:
            names.remove(name)
            found = True
    return found


def _place(arch, item, where):
    name = item.get("field")
    if not isinstance(name, str):
        raise UserInputError(f"view {where}: each item of add and move needs a 'field'")
    anchor = item.get("after") or item.get("before")
    if anchor:
        for names in _field_lists(arch):
            if anchor in names:
                names.insert(names.index(anchor) + (1 if item.get("after") else 0), name)
                return
        raise UserInputError(f"view {where}: {anchor!r} is not in the view it extends")
    section = item.get("section", item.get("tab"))
    if section is not None:
        parts = arch.get("sections" if "section" in item else "tabs") or []
        for i, part in enumerate(parts):
            if section in (i, part.get("label")):
                part.setdefault("fields", []).append(name)
                return
        raise UserInputError(f"view {where}: no section or tab {section!r} in the view it extends")
    lists = _field_lists(arch)
    (lists[0] if lists else arch.setdefault("fields", [])).append(name)


# -- completing and filtering ------------------------------------------------------------------
def _complete(meta, vtype, arch):
    """Fields the model no longer has left out; user-defined fields that no
    view places appended to a form (a section of their own)."""
    fields = meta.fields
    for names in _field_lists(arch):
        names[:] = [n for n in dict.fromkeys(names) if n in fields]
    if vtype == "form":
        placed = {n for names in _field_lists(arch) for n in names}
        extra = [n for n, f in fields.items() if f.custom and n not in placed]
        if extra:
            arch.setdefault("sections", []).append({"label": _("More"), "fields": extra})
    return arch


def _without(arch, hidden):
    """A copy of ``arch`` without the ``hidden`` fields."""
    out = {}
    for key, value in arch.items():
        if key == "fields":
            out[key] = [f for f in value if f not in hidden]
        elif key in ("sections", "tabs"):
            out[key] = [{**part, "fields": [f for f in part.get("fields", ()) if f not in hidden]}
                        for part in value]
        elif key in ("rows", "cols"):
            out[key] = [f for f in value if f.partition(":")[0] not in hidden]
        elif key == "measures":
            out[key] = [m for m in value if m.partition(":")[0] not in hidden]
        elif key in ("group_by", "date"):
            out[key] = None if value in hidden else value
        elif key == "filters":
            out[key] = [dict(f) for f in value if not _names(f.get("domain")) & hidden]
        elif key == "header":
            out[key] = dict(value, state=None) if value.get("state") in hidden else dict(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _names(domain):
    """The first field of every dotted path of ``domain``."""
    return {t[0].split(".")[0] for t in domain or () if isinstance(t, (list, tuple)) and t}


def filter_domain(env, domain):
    """A filter's domain with its placeholders (``@uid``, ``@today``,
    ``@tomorrow``: midnight, in UTC) replaced."""
    today = dt.datetime.combine(env.now.date(), dt.time())
    values = {"@uid": env.uid, "@today": today, "@tomorrow": today + dt.timedelta(days=1)}

    def value(v):
        if isinstance(v, list):
            return [value(x) for x in v]
        return values.get(v, v) if isinstance(v, str) else v
    return [[t[0], t[1], value(t[2])] if isinstance(t, (list, tuple)) and len(t) == 3 else t
            for t in domain or ()]


def search_domain(meta, arch, text):
    """The domain of the search box: ``text`` in any of the search view's
    text fields (``ilike``), or ``[]`` for no text."""
    text = (text or "").strip()
    if not text:
        return []
    # "%" would match anything; "_" (any one character) also matches itself
    pattern = "%" + text.replace("\\", "").replace("%", "").strip() + "%"
    names = [n for n in arch.get("fields", ()) if meta.fields[n].type in TEXT_TYPES]
    if not names and meta.fields[meta.rec_name].type in TEXT_TYPES:
        names = [meta.rec_name]
    if not names:
        return []
    return ["|"] * (len(names) - 1) + [[n, "ilike", pattern] for n in names]


# -- generated views ---------------------------------------------------------------------------
def generate(env, meta, vtype):
    """A sensible ``vtype`` view of ``meta`` from its metadata alone."""
    fields = [f for n, f in meta.fields.items() if n not in MAGIC and not f.secret]
    rec = meta.rec_name
    listable = [f.name for f in fields if f.type in LIST_TYPES]
    if rec in listable:
        listable.remove(rec)
        listable.insert(0, rec)
    state = _state_field(env, meta)
    if vtype == "list":
        return {"fields": listable[:8], "default_order": meta.order}
    if vtype == "search":
        return _generated_search(meta, fields)
    if vtype == "form":
        return _generated_form(meta, fields, state)
    if vtype == "kanban":
        return {"group_by": state or next((f.name for f in fields if f.type == "selection"), None),
                "fields": listable[:4]}
    if vtype == "calendar":
        return {"date": next((f.name for f in fields if f.type in ("date", "datetime")), None),
                "fields": [rec]}
    # pivot and graph
    dims = [f.name for f in fields if f.type in ("selection", "many2one")]
    measures = [f"{f.name}:sum" for f in fields if f.type in ("decimal", "float")]
    return {"rows": dims[:1], "cols": [], "measures": measures + ["id:count"], "chart": "bar"}


def _generated_search(meta, fields):
    """The name field and the indexed or unique text fields (codes, phones,
    e-mails) for the search box; filters for "mine", the booleans and the
    options of short selections."""
    rec = meta.rec_name
    names = [rec] + [f.name for f in fields if f.type == "char" and f.name != rec
                     and (f.index or f.unique)]
    filters = []
    owner = meta.fields.get("owner_id")
    if owner is not None and owner.type == "many2one" and owner.relation == "core.user":
        filters.append({"key": "mine", "label": _("Mine"), "domain": [["owner_id", "=", "@uid"]]})
    for f in fields:
        if f.type == "boolean":
            filters.append({"key": f.name, "label": f.label or f.name, "domain": [[f.name, "=", True]]})
        elif f.type == "selection" and len(f.options) <= 8:
            filters.extend({"key": f"{f.name}.{value}", "label": label, "group": f.name,
                            "domain": [[f.name, "=", value]]} for value, label in f.options)
    return {"fields": names, "filters": filters}


def _generated_form(meta, fields, state):
    main = [f.name for f in fields if f.type not in ("one2many", "text", "json")]
    notes = [f.name for f in fields if f.type == "text"]
    arch = {"sections": [{"label": meta.label, "fields": main}]}
    if notes:
        arch["sections"].append({"label": _("Notes"), "fields": notes})
    lines = [f.name for f in fields if f.type == "one2many"]
    if lines:
        arch["tabs"] = [{"label": meta.fields[n].label, "fields": [n]} for n in lines]
    if state:
        arch["header"] = {"state": state, "actions": True}
    return arch


def _state_field(env, meta):
    from . import workflow
    m = workflow.matrix(env, meta.name)
    return m.field if m else None
