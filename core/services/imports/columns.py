"""Header → field: which field each column of an import file fills.

A header cell names a field by its name (``phone``, ``x_vip``), its label in
English (``Phone``) or in Chinese (``电话``: the zh_CN catalog), compared
without case and surrounding spaces; an explicit mapping ``{header: field}``
(``--map 'Header=field'``, the web screen's selects) wins, and maps a column
to nothing with an empty field name.

A header matching no name or label exactly is compared again after
:func:`normal` (case, spaces, full-width forms, punctuation such as ``：``
and the ``*`` or ``（必填）`` marking a required column: ``E-mail``,
``*电话：`` and ``Ｅｍａｉｌ`` all find ``Email``), then through
:data:`SYNONYMS` (``邮箱`` → ``电子邮箱``, ``手机号码`` → ``手机``,
``联系电话``/``座机`` → ``电话``, ``公司名称`` → ``名称``) and as the
model's own label followed by a field's (``客户名称`` on a customer → its
``名称``) or a many2one's label followed by its target's name label
(``客户名称`` on a contact → its customer). A header that could be several
fields is refused naming them (``联系方式`` where a model has a phone, a
mobile and an email): the user maps it. A column naming no field is refused
(or left out with ``ignore_unknown``); a field a user cannot set — read-only,
hidden, a kernel column, one2many/many2many/binary — is refused naming it.
"""
import re
import unicodedata
from dataclasses import dataclass

from ...i18n import _, translate
from ...registry import MAGIC
from .report import Problem, Reason

#: generic header synonyms of the kernel: a header (as :func:`normal`
#: leaves it) -> the labels (as declared, in English) or field names it may
#: stand for. A synonym finds a field only where a model has one of these;
#: where it has several, the header is ambiguous and refused.
SYNONYMS = {
    "邮箱": ("Email",), "电邮": ("Email",), "邮件": ("Email",), "电子邮件": ("Email",),
    "邮箱地址": ("Email",), "电子邮箱地址": ("Email",), "mail": ("Email",),
    "emailaddress": ("Email",),
    "手机号": ("Mobile",), "手机号码": ("Mobile",), "移动电话": ("Mobile",), "手机号码1": ("Mobile",),
    "mobilephone": ("Mobile",), "cellphone": ("Mobile",), "cell": ("Mobile",),
    "联系电话": ("Phone",), "座机": ("Phone",), "座机号码": ("Phone",), "固定电话": ("Phone",),
    "固话": ("Phone",), "电话号码": ("Phone",), "办公电话": ("Phone",), "tel": ("Phone",),
    "telephone": ("Phone",), "phonenumber": ("Phone",),
    "公司名称": ("Name", "Customer"), "企业名称": ("Name", "Customer"),
    "单位名称": ("Name", "Customer"), "公司": ("Name", "Customer"),
    "姓名": ("Name",), "名字": ("Name",),
    "联系方式": ("Phone", "Mobile", "Email"),
    "所在城市": ("City",), "城市名称": ("City",), "省份": ("Region",), "省市": ("Region",),
    "负责人": ("Owner",), "归属人": ("Owner",), "所属销售": ("Owner",), "销售负责人": ("Owner",),
    "备注信息": ("Notes", "Note"), "说明": ("Notes", "Note", "Description"),
}
#: what :func:`normal` removes: spaces, punctuation, required markers
_JUNK = re.compile(r"[\s\*:;,.!?'\"`~_\-—–·•、，。；！？“”‘’/\\|()\[\]{}<>《》【】（）]+")
_REQUIRED = re.compile(r"[(（\[【]\s*(?:必填|必选|必须|required)\s*[)）\]】]|必填$|required$",
                       re.IGNORECASE)


def normal(text):
    """A header as compared: full-width forms made half-width (NFKC),
    without case, spaces, punctuation or a mark of a required column
    (``*``, ``（必填）``): ``'* 电子邮箱：'`` -> ``'电子邮箱'``, ``'E-mail'`` ->
    ``'email'``."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    text = _REQUIRED.sub("", text.strip())
    return _JUNK.sub("", text)

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


class Headers:
    """Finds the fields a header may name (see the module's text)."""

    def __init__(self, registry, meta, hidden):
        self.meta = meta
        self.exact = names_of(meta)
        visible = {n: f for n, f in meta.fields.items() if n not in hidden}
        self.normal = {}       # normalised name or label -> {field names}
        self.by_label = {}     # declared English label, and field name -> {field names}
        for name, f in visible.items():
            label = f.label or name
            for text in (label, translate(label, "zh_CN"), name):
                self.normal.setdefault(normal(text), set()).add(name)
            self.by_label.setdefault(str(label), set()).add(name)
            self.by_label.setdefault(name, set()).add(name)
        for name in visible:  # a field's name wins over another's label
            self.normal[normal(name)] = {name}
        self.normal.pop("", None)
        # the model's label + a field's label; a many2one's label + its target's name label
        own = {normal(meta.label), normal(translate(meta.label, "zh_CN"))} if meta.label else set()
        self.composed = {}
        for name, f in visible.items():
            label = f.label or name
            labels = {normal(label), normal(translate(label, "zh_CN"))}
            for prefix in own - {""}:
                for text in labels - {""}:
                    self.composed.setdefault(prefix + text, set()).add(name)
            if f.type == "many2one" and f.relation in registry.models:
                target = registry[f.relation]
                tails = set()
                for key in {target.rec_name, "code"} & set(target.fields):
                    key_label = target.fields[key].label or key
                    tails |= {normal(key_label), normal(translate(key_label, "zh_CN"))}
                for head in labels - {""}:
                    for tail in tails - {""}:
                        self.composed.setdefault(head + tail, set()).add(name)

    def candidates(self, text):
        """The field names ``text`` may name: one, several (ambiguous) or none."""
        name = self.exact.get(text.strip().lower())
        if name is not None:
            return {name}
        key = normal(text)
        if not key:
            return set()
        found = self.normal.get(key)
        if found:
            return set(found)
        found = set(self.composed.get(key, ()))
        for label in SYNONYMS.get(key, ()):
            found |= self.by_label.get(label, set())
        return found

    def label(self, name):
        f = self.meta.fields[name]
        return Reason("%(label)s (%(name)s)", {"label": Reason(f.label or name), "name": name})


def map_columns(env, meta, header, mapping=None, ignore_unknown=False):
    """``([Column], [Problem])`` for the header cells ``header``."""
    mapping = {str(k).strip(): (v or "").strip() for k, v in (mapping or {}).items()}
    allowed = importable(env, meta)
    hidden = env.access.hidden(meta)
    known = Headers(env.registry, meta, hidden)
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
            problems.append(Problem(1, Reason(_("column %(n)s"), {"n": i + 1}), None,
                                    _("the column has no header")))
            continue
        else:
            found = known.candidates(text)
            if len(found) > 1:
                problems.append(Problem(1, text, None, Reason(
                    _("the column could be any of %(fields)s: choose its field (a mapping)"),
                    {"fields": [known.label(n) for n in sorted(found)]})))
                continue
            name = next(iter(found), None)
        if name is None or name not in meta.fields or name in hidden:
            if text in mapping:
                problems.append(Problem(1, text, name, Reason(_("%(model)s has no field %(field)s"),
                                                              {"model": meta.name, "field": name})))
            elif not ignore_unknown:
                problems.append(Problem(1, text, None, Reason(
                    _("unknown column: it names no field of %(model)s"), {"model": meta.name})))
            continue
        if name not in allowed:
            problems.append(Problem(1, text, None, Reason(
                _("%(field)s cannot be imported (read-only, set by the system or not one value)"),
                {"field": name})))
            continue
        if name in taken:
            problems.append(Problem(1, text, None, Reason(
                _("%(field)s is already filled by column %(other)s"), {"field": name, "other": taken[name]})))
            continue
        taken[name] = text
        column.field = allowed[name]
    return columns, problems


def choices(env, meta):
    """``[(name, label)]`` a web user may map a column to."""
    return [(name, f.label or name) for name, f in importable(env, meta).items()]
