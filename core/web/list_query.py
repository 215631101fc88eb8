"""What a list page asks for, read from its address: the search text, the
filters of the search view, the rows of the query editor (万能查询: field,
operator, value), grouping, order, columns and the page — turned into one
domain for the model API, and back into addresses for the page's links.

Nothing here reads data but :func:`capped_count`; values typed by the user
reach the model API as text and are checked there (a wrong one is a
``DomainError`` naming field and value, shown above the list).
"""
import calendar
import datetime as dt
from urllib.parse import urlencode

from flask import current_app

from .. import viewdefs
from ..errors import UserInputError
from ..i18n import _, shown_name, translate
from .i18n import best_language, gettext

#: operators of the query editor: key -> label (English, shown translated)
OPERATORS = {"eq": _("is"), "ne": _("is not"), "contains": _("contains"),
             "not_contains": _("does not contain"), "lt": "<", "le": "≤", "gt": ">", "ge": "≥",
             "in": _("is one of (a, b…)"), "set": _("is set"), "unset": _("is not set")}
COMPARE = {"eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
#: field types a list can be grouped by (dates by month)
GROUPABLE = ("selection", "many2one", "boolean", "date", "datetime")


class Column:
    def __init__(self, registry, field, lang):
        self.name = field.name
        self.field = field
        self.label = translate(field.label or field.name, lang)
        self.numeric = field.type in ("integer", "float", "decimal")
        self.css = "num" if self.numeric else ""
        #: what a click on its header sorts by: a many2one by its record's name
        self.sort = (f"{field.name}.{registry[field.relation].rec_name}"
                     if field.type == "many2one" else field.name)


class ListQuery:
    def __init__(self, env, meta, arch, search, args, page_size, max_page):
        self.env, self.meta = env, meta
        hidden = env.access.hidden(meta)
        registry, lang = env.registry, best_language()
        #: every field a column can show (the column chooser's choice)
        self.listable = [Column(registry, f, lang) for n, f in meta.fields.items()
                         if f.type in viewdefs.LIST_TYPES and n not in hidden and not f.secret
                         and n != "version"]
        by_name = {c.name: c for c in self.listable}
        self.chosen = [n for n in dict.fromkeys(args.getlist("cols")) if n in by_name]
        names = self.chosen or [n for n in arch.get("fields", ()) if n in by_name] or \
            [n for n in (meta.rec_name, "id") if n in by_name][:1]
        self.columns = [by_name[n] for n in names]
        self.search = search
        self.text = args.get("q", "").strip()[:200]
        self.filters = [f for f in search.get("filters", ()) if f.get("key")]
        keys = {f["key"] for f in self.filters}
        self.active = [k for k in dict.fromkeys(args.getlist("f")) if k in keys]
        self.rows = [(f, o, v) for f, o, v in zip(args.getlist("qf"), args.getlist("qo"),
                                                  args.getlist("qv")) if f]
        self.groupable = [(c.name if c.field.type not in ("date", "datetime") else f"{c.name}:month",
                           c) for c in self.listable if c.field.type in GROUPABLE]
        group = args.get("group") or None
        self.group = group if group in {g for g, _c in self.groupable} else None
        sorts = {c.sort for c in self.listable} | set(by_name)
        self.explicit_order = _order(args.get("order"), sorts)
        self.order = self.explicit_order or arch.get("default_order") or None
        self.page_size = int(arch.get("limit") or page_size)
        self.limit = min(max(_int(args.get("limit"), self.page_size), 1), max_page)
        self.offset = max(_int(args.get("offset"), 0), 0)

    def filter_groups(self):
        """``[(heading, [filter…])]``: filters without a group first, then
        those of each group, under its field's label when it names a field."""
        groups = {}
        for f in self.filters:
            groups.setdefault(f.get("group"), []).append(f)
        lang = best_language()
        fields = self.meta.fields
        return [(translate(fields[g].label, lang) if g in fields else None, items)
                for g, items in sorted(groups.items(), key=lambda item: item[0] is not None)]

    # -- the domain ------------------------------------------------------------------------
    def domain(self):
        domain = viewdefs.search_domain(self.meta, self.search, self.text)
        by_group = {}
        for f in self.filters:
            if f["key"] in self.active:
                by_group.setdefault(f.get("group") or f["key"], []).append(
                    _and(viewdefs.filter_domain(self.env, f["domain"])))
        for parts in by_group.values():  # filters of one group: any of them
            domain += ["|"] * (len(parts) - 1) + [t for part in parts for t in part]
        for name, op, value in self.rows:
            domain += self._row(name, op, value)
        return domain

    def _row(self, name, op, value):
        field = self.meta.fields.get(name)
        if field is None or name in self.env.access.hidden(self.meta):
            raise UserInputError(gettext("Query: there is no field %(name)s.", name=name[:60]))
        if op not in OPERATORS:
            raise UserInputError(gettext("Query: unknown operator %(op)s.", op=op[:20]))
        if op in ("set", "unset"):
            if field.type == "boolean":
                return [[name, "=", op == "set"]]
            return [[name, "!=" if op == "set" else "=", None]]
        value = value.strip()
        path = name
        if field.type == "many2one" and (op in ("contains", "not_contains")
                                         or (op in ("eq", "ne") and not value.isdigit())):
            path = f"{name}.{self.env.registry[field.relation].rec_name}"
        if op in ("contains", "not_contains"):
            term = [path, "ilike", f"%{value}%"]
            return [term] if op == "contains" else ["!", term]
        if op == "in":
            return [[path, "in", [self.option(field, v.strip()) for v in value.split(",") if v.strip()]]]
        return [[path, COMPARE[op], self.option(field, value) if path == name else value]]

    @staticmethod
    def option(field, value):
        """A selection's value from its value or its label (in any language)."""
        if field.type != "selection":
            return value
        lang = best_language()
        for code, label in field.options:
            if value.lower() in (code.lower(), str(label).lower(), str(translate(label, lang)).lower()):
                return code
        return value

    # -- addresses -------------------------------------------------------------------------
    def params(self, **changes):
        """The query string of this list with ``changes`` (``None`` drops a key)."""
        state = {"q": self.text, "f": self.active, "rows": self.rows, "group": self.group,
                 "order": self.explicit_order, "cols": self.chosen,
                 "limit": self.limit if self.limit != self.page_size else None,
                 "offset": self.offset or None}
        state.update(changes)
        pairs = [("q", state["q"])] if state["q"] else []
        pairs += [("f", k) for k in state["f"] or ()]
        for name, op, value in state["rows"] or ():
            pairs += [("qf", name), ("qo", op), ("qv", value)]
        for key in ("group", "order", "limit", "offset"):
            if state[key]:
                pairs.append((key, state[key]))
        pairs += [("cols", c) for c in state["cols"] or ()]
        return urlencode(pairs)

    def sort_params(self, column):
        """Sort by ``column``; a second click sorts the other way."""
        desc = self.explicit_order == column.sort
        return self.params(order=f"{column.sort} desc" if desc else column.sort, offset=None)

    def sorted_by(self, column):
        if self.explicit_order == column.sort:
            return "asc"
        if self.explicit_order == f"{column.sort} desc":
            return "desc"
        return None

    def group_args(self, key):
        """The list of one group: this list ungrouped, with a query row for it."""
        name, _sep, unit = self.group.partition(":")
        if unit and key:
            year, month = (int(p) for p in key.split("-")[:2])
            end = dt.date(year, month, calendar.monthrange(year, month)[1]) + dt.timedelta(days=1)
            rows = [(name, "ge", f"{year:04d}-{month:02d}-01"), (name, "lt", end.isoformat())]
        elif key is None:
            rows = [(name, "unset", "")]
        else:
            value = key["id"] if isinstance(key, dict) else key
            rows = [(name, "eq", str(value).lower() if isinstance(value, bool) else str(value))]
        return self.params(group=None, offset=None, rows=[*self.rows, *rows])

    def editor_rows(self):
        """The query editor's rows: the current ones and an empty one."""
        return [*self.rows, ("", "contains", "")]


def _and(domain):
    """``domain`` as one term group (prefix ``&`` where it has several terms)."""
    terms = [t for t in domain if isinstance(t, (list, tuple))]
    return domain if len(terms) <= 1 or domain[:1] in (["&"], ["|"], ["!"]) else \
        ["&"] * (len(terms) - 1) + list(domain)


def _order(text, allowed):
    """``"path"`` or ``"path desc"`` if ``path`` is a sortable column, else ``None``."""
    words = (text or "").split()
    if not words or len(words) > 2 or words[0] not in allowed:
        return None
    if len(words) == 2 and words[1].lower() not in ("asc", "desc"):
        return None
    return " ".join(words[:1] + [w.lower() for w in words[1:] if w.lower() == "desc"])


def _int(text, default):
    try:
        return int(text) if text not in (None, "") else default
    except ValueError:
        return default


def capped_count(records, domain, cap):
    """How many records match, counted up to ``cap + 1`` only: a count over
    a million rows would cost more than the page it sits on."""
    return records.search_count(domain, limit=cap + 1)


# -- cells ---------------------------------------------------------------------------------
def cells(env, columns):
    """``{name: format(value) -> text}`` for ``columns``."""
    return {c.name: formatter(env, c.field) for c in columns}


def table(columns, rows, formats):
    """``[(id, [text of each column])]``: the page's cells, formatted once
    here rather than call by call in the template."""
    fmts = [(c.name, formats[c.name]) for c in columns]
    return [(row["id"], [fmt(row[name]) for name, fmt in fmts]) for row in rows]


def formatter(env, field):
    """``format(value read by the model API) -> text`` in the page's locale."""
    filters = current_app.jinja_env.filters
    kind = field.type
    if kind == "many2one":
        lang, registry = best_language(), env.registry
        return lambda v: "" if v is None else (
            shown_name(registry, field.relation, v.get("name"), lang) or "")
    if field.translate:
        lang = best_language()
        return lambda v: "" if v is None else translate(v, lang)
    if kind == "selection":
        lang = best_language()
        labels = {code: translate(label, lang) for code, label in field.options}
        return lambda v: "" if v is None else labels.get(v, v)
    if kind == "boolean":
        yes, no = gettext("Yes"), gettext("No")
        return lambda v: "" if v is None else (yes if v else no)
    if kind == "date":
        return filters.get("format_date", _iso)
    if kind == "datetime":
        return filters.get("format_datetime", _iso)
    if kind == "decimal":
        return filters.get("format_money", _plain)
    if kind in ("integer", "float"):
        return filters.get("format_number", _plain)
    return _plain


def _iso(value):
    return "" if value is None else value.isoformat()


def _plain(value):
    return "" if value is None else str(value)
