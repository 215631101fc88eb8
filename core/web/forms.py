"""Form views generated from model metadata: the layout of a record's form
(the ``form`` view of :mod:`core.viewdefs`, with what the user's field
rules and the record's workflow state allow), its WTForms inputs, and
stored values as those inputs show them. The way back — posted inputs to
model values, refusals to messages — is :mod:`core.web.form_values`.

Inputs are typed for the browser (number, date, datetime-local, select)
but parse only what a browser sends; the model API stays the judge of
every value.

Input names are the field names (CONTRACT.md §7). A many2one has two
inputs: ``FIELD`` carries the id, ``FIELD__label`` the name shown and
typed (``form.js`` fills both from ``/web/MODEL/_names``). The lines of a
one2many are named ``FIELD-N-NAME``, with ``FIELD-N-id`` for a stored line
and the checkbox ``FIELD-N-_delete``.
"""
import dataclasses
import re

import flask_babel
from wtforms import (BooleanField, FileField, HiddenField, SelectChoice, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.form import BaseForm
from wtforms.widgets import DateInput, DateTimeLocalInput, NumberInput

from .. import viewdefs, workflow
from ..i18n import shown_name, translate
from ..registry import MAGIC
from .i18n import best_language, format_date, format_datetime, format_number, gettext

#: the field types a one2many line edits in place
LINE_TYPES = ("char", "text", "integer", "decimal", "float", "boolean", "date", "datetime",
              "selection")
#: a many2many offers at most this many records in its multi-select
MANY2MANY_CHOICES = 200
#: names of the extra inputs of a many2one and of a line
LABEL_SUFFIX, LINE_ID, LINE_DELETE = "__label", "id", "_delete"


def tr(text):
    """A label declared in English, in the request's language."""
    return translate(text, best_language())


@dataclasses.dataclass
class FieldSpec:
    """One field as this form shows it."""
    name: str
    field: object            # the metadata (core.fields.Field)
    label: str
    required: bool = False
    readonly: bool = False
    options: list = dataclasses.field(default_factory=list)   # [(value, label)]
    lines: list = None       # one2many: the FieldSpecs of a line
    lines_deletable: bool = False
    help: str = ""

    @property
    def type(self):
        return self.field.type


@dataclasses.dataclass
class Layout:
    """The form of one record (or of a new one) for this user."""
    model: str
    label: str
    sections: list           # [{"label", "fields": [FieldSpec]}]
    tabs: list
    state_field: str = None
    states: list = ()        # [(code, label)] in order
    state: str = None
    writable: bool = True
    actions: bool = False    # the header shows the workflow's buttons

    @property
    def fields(self):
        return [spec for part in (*self.sections, *self.tabs) for spec in part["fields"]]

    def editable(self):
        return [spec for spec in self.fields if not spec.readonly]


def layout(env, model, state=None, writable=True):
    """The :class:`Layout` of ``model`` for a record in workflow ``state``
    (``None``: a new record, in the initial state); ``writable``: may the
    user change this record at all."""
    meta = env.registry[model]
    arch = viewdefs.resolve(env, model, "form")
    flow = workflow.matrix(env, model)
    state = state or (flow.initial if flow else None)
    access = env.access
    locked = access.readonly(meta) | access.hidden(meta)
    state_modes = {}
    if flow is not None:
        for mode in ("hidden", "readonly", "required"):
            state_modes[mode] = flow.fields_in(state, mode)
    seen = set()

    def specs(names):
        out = []
        for name in names or ():
            field = meta.fields.get(name)
            if field is None or name in seen or name in MAGIC or field.secret or field.type == "json":
                continue
            if name in state_modes.get("hidden", ()) or name in access.hidden(meta):
                continue
            if flow is not None and name == flow.field:
                continue  # shown as the status bar
            seen.add(name)
            spec = FieldSpec(name, field, tr(field.label or name),
                             required=field.required or name in state_modes.get("required", ()),
                             readonly=(not writable or field.readonly or bool(field.compute)
                                       or name in locked or name in state_modes.get("readonly", ())),
                             help=tr(field.help) if field.help else "")
            if field.type == "selection":
                spec.options = [(value, tr(text)) for value, text in field.options]
            elif field.type == "one2many":
                spec.lines = _line_specs(env, field, spec.readonly)
                spec.lines_deletable = not spec.readonly and access.allowed(field.relation, "delete")
            out.append(spec)
        return out

    sections = [{"label": tr(s.get("label") or meta.label), "fields": specs(s.get("fields"))}
                for s in arch.get("sections", ())]
    tabs = [{"label": tr(t.get("label") or ""), "fields": specs(t.get("fields"))}
            for t in arch.get("tabs", ())]
    out = Layout(model, tr(meta.label), [s for s in sections if s["fields"]],
                 [t for t in tabs if t["fields"]], writable=writable)
    header = arch.get("header") or {}
    if flow is not None and header.get("state", flow.field) == flow.field:
        out.state_field, out.state = flow.field, state
        out.states = [(s.code, tr(s.label)) for s in flow.states]
        out.actions = writable and header.get("actions", True) is not False
    return out


def _line_specs(env, field, readonly):
    """The columns of a one2many's lines: the related model's list view,
    without the field pointing back and without what a line cannot edit."""
    meta = env.registry[field.relation]
    names = viewdefs.resolve(env, field.relation, "list").get("fields") or [meta.rec_name]
    locked = env.access.readonly(meta) | env.access.hidden(meta)
    out = []
    for name in names:
        line_field = meta.fields.get(name)
        if line_field is None or name == field.inverse or name in MAGIC \
                or line_field.type not in LINE_TYPES or name in env.access.hidden(meta):
            continue
        spec = FieldSpec(name, line_field, tr(line_field.label or name), required=line_field.required,
                         readonly=readonly or line_field.readonly or name in locked)
        if line_field.type == "selection":
            spec.options = [(value, tr(text)) for value, text in line_field.options]
        out.append(spec)
    return out


# -- WTForms ---------------------------------------------------------------------------
def _input(spec):
    """The unbound WTForms field of one editable input (several for a many2one)."""
    kind = spec.type
    if kind == "text":
        return [(spec.name, TextAreaField())]
    if kind == "integer":
        return [(spec.name, StringField(widget=NumberInput(step="1")))]
    if kind in ("decimal", "float"):
        step = "any" if kind == "float" else str(spec.field._quantum)
        return [(spec.name, StringField(widget=NumberInput(step=step)))]
    if kind == "date":
        return [(spec.name, StringField(widget=DateInput()))]
    if kind == "datetime":
        return [(spec.name, StringField(widget=DateTimeLocalInput()))]
    if kind == "boolean":
        return [(spec.name, BooleanField())]
    if kind == "selection":
        choices = [SelectChoice(value, text) for value, text in [("", "—"), *spec.options]]
        return [(spec.name, SelectField(choices=choices, validate_choice=False))]
    if kind == "many2one":
        return [(spec.name, HiddenField()), (spec.name + LABEL_SUFFIX, StringField())]
    if kind == "many2many":
        choices = [SelectChoice(value, text) for value, text in spec.options]
        return [(spec.name, SelectMultipleField(choices=choices, validate_choice=False))]
    if kind == "binary":
        return [(spec.name, FileField())]
    return [(spec.name, StringField())]


def record_form(env, lay, formdata=None, data=None):
    """The WTForms form of the layout's editable fields, filled from the
    posted ``formdata`` or else from ``data`` (values as the form shows them,
    see :func:`form_data`)."""
    for spec in lay.editable():
        if spec.type == "many2many":
            spec.options = _many2many_choices(env, spec, (data or {}).get(spec.name))
    fields = [pair for spec in lay.editable() if spec.type != "one2many" for pair in _input(spec)]
    form = BaseForm(fields)
    form.process(formdata, data=data or {})
    return form


def _many2many_choices(env, spec, selected):
    records = env[spec.field.relation]
    rec = records._meta.rec_name
    rows = records.search_read([], ["id", rec], limit=MANY2MANY_CHOICES)
    known = {r["id"] for r in rows}
    extra = [int(i) for i in selected or () if str(i).isdigit() and int(i) not in known]
    if extra:
        rows += records.search_read([["id", "in", extra]], ["id", rec])
    lang, registry = best_language(), env.registry
    return [(str(r["id"]), str(shown_name(registry, spec.field.relation, r[rec], lang)))
            for r in rows]


def line_form(spec, prefix, formdata=None, data=None):
    """The inputs of one line of the one2many ``spec``, named ``prefix + NAME``
    (``prefix``: ``FIELD-N-``)."""
    fields = [(LINE_ID, HiddenField())]
    fields += [pair for line in spec.lines if not line.readonly for pair in _input(line)]
    if spec.lines_deletable:
        fields.append((LINE_DELETE, BooleanField()))
    form = BaseForm(fields, prefix=prefix)
    form.process(formdata, data=data or {})
    return form


def line_indexes(spec, formdata):
    """The line numbers posted for the one2many ``spec``, in order."""
    pattern = re.compile(rf"^{re.escape(spec.name)}-(\d+)-")
    return sorted({int(m.group(1)) for key in formdata for m in [pattern.match(key)] if m})


# -- values as the form shows them -------------------------------------------------------
def shown(field, value):
    """A stored value as an input shows it."""
    if value is None:
        return None
    kind = field.type
    if kind == "datetime":  # stored in UTC, typed in the user's time zone
        value = flask_babel.to_user_timezone(value).replace(tzinfo=None)
        return value.isoformat(timespec="minutes" if not value.second else "seconds")
    if kind == "date":
        return value.isoformat()
    if kind == "many2one":
        return value
    if kind in ("integer", "decimal", "float"):
        return str(value)
    return value


def form_data(lay, values):
    """``data`` for :func:`record_form` from a record's values as
    ``read()`` gives them (a many2one as ``{"id", "name"}``)."""
    data = {}
    for spec in lay.fields:
        if spec.name not in values or spec.type == "one2many":
            continue
        value = values[spec.name]
        if spec.type == "many2one":
            data[spec.name] = str(value["id"]) if value else ""
            data[spec.name + LABEL_SUFFIX] = (value or {}).get("name") or ""
        elif spec.type == "many2many":
            data[spec.name] = [str(v) for v in value or ()]
        elif spec.type != "binary":
            data[spec.name] = shown(spec.field, value)
    return data


def line_data(spec, row):
    return {LINE_ID: str(row["id"]), **{line.name: shown(line.field, row.get(line.name))
                                        for line in spec.lines}}


def display(spec, value):
    """A value as ``read()`` gives it, as the text of a read-only field."""
    if value is None or value == "" or value == []:
        return ""
    kind = spec.type
    if kind == "many2one":
        return value.get("name") or ""
    if spec.field.translate:
        return translate(value, best_language())
    if kind == "selection":
        return dict(spec.options).get(value, value)
    if kind == "boolean":
        return gettext("Yes") if value else gettext("No")
    if kind in ("many2many", "one2many"):
        return gettext("%(count)s records", count=len(value))
    if kind == "binary":
        return gettext("A file of %(size)s bytes", size=len(value))
    if kind == "datetime":
        return format_datetime(value)
    if kind == "date":
        return format_date(value)
    if kind in ("integer", "decimal", "float"):
        return format_number(value)
    return str(value)
