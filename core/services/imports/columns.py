"""Header → field: which field each column of an import file fills.

A header cell names a field by its name (``phone``, ``x_vip``), its label in
English (``Phone``) or in Chinese (``电话``: the zh_CN catalog), compared
without case and surrounding spaces; an explicit mapping ``{header: field}``
(``--map 'Header=field'``, the web screen's selects) wins, and maps a column
to nothing with an empty field name. A column naming no field is refused
(or left out with ``ignore_unknown``); a field a user cannot set — read-only,
hidden, a kernel column, one2many/many2many/binary — is refused naming it.
"""
from dataclasses import dataclass

from ...i18n import _, translate
from ...registry import MAGIC
from .report import Problem

#: kernel columns an administrator migrating from another system may keep
#: (the original creator and dates)
KEPT_AUDIT = ("created_at", "created_by_id", "updated_at", "updated_by_id")
#: field types that do not fit one cell
NOT_IMPORTABLE = frozenset({"one2many", "many2many", "binary", "json"})


@dataclass
class Column:
    index: int
    header: str
    field: object = None  # a core.fields.Field, or None: left out

    @property
    def shown(self):
        """``电话 (phone)``: how reports name the column."""
        if self.field is None or self.header == self.field.name:
            return self.header
        return f"{self.header} ({self.field.name})"


def importable(env, meta):
    """``{name: field}`` of the fields ``env``'s user may fill by import."""
    hidden = env.access.hidden(meta)
    readonly = env.access.readonly(meta)
    found = {name: f for name, f in meta.fields.items()
             if f.column and name not in MAGIC and not f.secret and name not in hidden
             and name not in readonly and not f.readonly and not f.compute
             and f.type not in NOT_IMPORTABLE}
    if env.access.unrestricted:
        found.update((name, meta.fields[name]) for name in KEPT_AUDIT if name in meta.fields)
    return found


def names_of(meta):
    """``{lower-case name or label: field name}`` of every field of ``meta``."""
    found = {}
    for name, f in meta.fields.items():
        label = f.label or name
        for text in (label, translate(label, "zh_CN"), name):
            found.setdefault(str(text).strip().lower(), name)
    for name in meta.fields:  # a field's name wins over another's label
        found[name.lower()] = name
    return found


def map_columns(env, meta, header, mapping=None, ignore_unknown=False):
    """``([Column], [Problem])`` for the header cells ``header``."""
    mapping = {str(k).strip(): (v or "").strip() for k, v in (mapping or {}).items()}
    allowed = importable(env, meta)
    known = names_of(meta)
    hidden = env.access.hidden(meta)
    columns, problems, taken = [], [], {}
    unknown_maps = set(mapping) - set(header)
    for header_text in sorted(unknown_maps):
        problems.append(Problem(1, header_text, None, _("the mapping names a column that is not in the file")))
    for i, text in enumerate(header):
        column = Column(i, text)
        columns.append(column)
        if text in mapping:
            name = mapping[text]
            if not name:
                continue
        elif not text:
            if ignore_unknown:
                continue
            problems.append(Problem(1, _("column %(n)s") % {"n": i + 1}, None,
                                    _("the column has no header")))
            continue
        else:
            name = known.get(text.lower())
        if name is None or name not in meta.fields or name in hidden:
            if text in mapping:
                problems.append(Problem(1, text, name, _("%(model)s has no field %(field)s")
                                        % {"model": meta.name, "field": name}))
            elif not ignore_unknown:
                problems.append(Problem(1, text, None, _("unknown column: it names no field of %(model)s")
                                        % {"model": meta.name}))
            continue
        if name not in allowed:
            problems.append(Problem(1, text, None, _("%(field)s cannot be imported (read-only, "
                                                     "set by the system or not one value)")
                                    % {"field": name}))
            continue
        if name in taken:
            problems.append(Problem(1, text, None, _("%(field)s is already filled by column %(other)s")
                                    % {"field": name, "other": taken[name]}))
            continue
        taken[name] = text
        column.field = allowed[name]
    return columns, problems


def choices(env, meta):
    """``[(name, label)]`` a web user may map a column to."""
    return [(name, f.label or name) for name, f in importable(env, meta).items()]
