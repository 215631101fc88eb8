"""Between a posted form and the model API: the inputs a browser sent
turned into the values ``create``/``write`` take, and the model API's
refusals turned back into messages beside the inputs they name.

Only what the model API cannot know is checked here: a many2one typed as
a name (without JavaScript) must name exactly one record the user can see.
Every other value goes to the model API as typed, so that a refused one
comes back with the API's own reason (:func:`refusal`).
"""
import datetime as dt

import flask_babel

from ..errors import AccessDenied, Conflict
from ..i18n import _
from .forms import LABEL_SUFFIX, tr
from .i18n import gettext

#: the model API's reasons for refusing a typed value (``core.fields``), as
#: a person would say them; other reasons are shown as the API gives them
REASONS = {
    "expected an integer": _("Enter a whole number."),
    "expected a number": _("Enter a number."),
    "expected a finite number": _("Enter a number."),
    "expected an amount": _("Enter an amount, e.g. 1234.50."),
    "expected a date as YYYY-MM-DD": _("Enter a date as YYYY-MM-DD."),
    "expected a date and time as YYYY-MM-DDTHH:MM[:SS]": _("Enter a date and a time."),
    "expected a record id": _("Choose a record from the list."),
    "is required": _("This field is required."),
    "unique": _("This value is already used by another record."),
    "does not exist": _("This record does not exist (any more)."),
}


def reason_text(reason):
    """The model API's ``reason`` for a refused value, in the request's language."""
    return gettext(REASONS[reason]) if reason in REASONS else gettext(reason)


class InputError(Exception):
    """Inputs that cannot become model values: ``{input name: message}``."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse(env, spec, form, prefix=""):
    """The model value of ``spec``'s input in ``form``, or ``Ellipsis`` when
    nothing is to change (a file input left empty). Raises :class:`InputError`."""
    field = form[spec.name]
    data = field.data
    kind = spec.type
    if kind == "boolean":
        return bool(data)
    if kind == "binary":
        content = data.read() if data is not None and getattr(data, "filename", None) else None
        return content if content else ...
    if kind == "many2many":
        bad = [v for v in data or () if not str(v).isdigit()]
        if bad:
            raise InputError({prefix + spec.name: gettext("Choose records from the list.")})
        return [int(v) for v in data or ()]
    if kind == "many2one":
        label = form[spec.name + LABEL_SUFFIX].data if spec.name + LABEL_SUFFIX in form else None
        return resolve_name(env, spec, (data or "").strip(), label, prefix)
    text = data.strip() if isinstance(data, str) and kind != "text" else data
    if text in (None, ""):
        return None
    if kind == "datetime":
        try:
            typed = dt.datetime.fromisoformat(text)
        except ValueError:
            return text  # the model API says what it expects
        return typed if typed.tzinfo else flask_babel.to_utc(typed)
    return text


def resolve_name(env, spec, given_id, label, prefix=""):
    """A many2one's id from its inputs: the id when the name shown is still
    that record's, else the one record whose name is ``label`` (exactly, or
    else the only one containing it). Without a name input, the id input may
    hold an id or a name."""
    records = env[spec.field.relation]
    if label is None:
        if not given_id or given_id.isdigit():
            return int(given_id) if given_id else None
        label = given_id
    label = label.strip()
    if not label:
        return None
    rec = records._meta.rec_name
    if given_id.isdigit():
        found = records.search_read([["id", "=", int(given_id)]], ["id", rec])
        if found and str(found[0][rec]) == label:
            return int(given_id)
    if records._meta.fields[rec].type not in ("char", "text", "selection"):
        return _one(spec, records.search_read([["id", "=", int(label)]], ["id", rec])
                    if label.isdigit() else [], label, rec, prefix)
    exact = records.search_read([[rec, "=", label]], ["id", rec], limit=6)
    if len(exact) != 1:
        exact = exact or records.search_read([[rec, "ilike", f"%{label}%"]], ["id", rec], limit=6)
    return _one(spec, exact, label, rec, prefix)


def _one(spec, rows, label, rec, prefix):
    if len(rows) == 1:
        return rows[0]["id"]
    if not rows:
        message = gettext("No %(model)s is named “%(name)s”.", model=tr(spec.label), name=label)
    else:
        names = ", ".join(str(r[rec]) for r in rows[:5]) + ("…" if len(rows) > 5 else "")
        message = gettext("“%(name)s” matches several records: %(names)s. Type the full name.",
                          name=label, names=names)
    raise InputError({prefix + spec.name: message})


def posted(spec, form):
    """Was ``spec``'s input sent? A field left out of a post stays as it is;
    an unticked checkbox and an empty multi-select are sent as nothing, so
    they always count."""
    if spec.type in ("boolean", "many2many"):
        return True
    names = (spec.name, spec.name + LABEL_SUFFIX) if spec.type == "many2one" else (spec.name,)
    return any(form[n].raw_data for n in names if n in form)


def values_of(env, lay, form):
    """``{field: value}`` of every editable input posted in ``form``
    (one2many lines apart); every input error, and every required field
    left empty, at once."""
    values, errors = {}, {}
    for spec in lay.editable():
        if spec.type == "one2many" or not posted(spec, form):
            continue
        try:
            value = parse(env, spec, form)
        except InputError as exc:
            errors.update(exc.errors)
            continue
        if value is ...:
            continue
        # what the model API would refuse first, one field at a time: every
        # field at once here, with the API's own converters and reasons
        if spec.required and spec.type != "boolean" and value in (None, "", []):
            errors[spec.name] = reason_text("is required")
            continue
        if spec.field.column:
            try:
                spec.field.convert(value)
            except ValueError as exc:
                errors[spec.name] = reason_text(str(exc))
                continue
        values[spec.name] = value
    if errors:
        raise InputError(errors)
    return values


def changed(specs, values, current):
    """The values that differ from the record's ``current`` ones (as read);
    ``specs``: ``{name: FieldSpec}``."""
    out = {}
    for name, value in values.items():
        spec = specs[name]
        old = current.get(name)
        if spec.type == "many2one":
            old = old["id"] if old else None
        try:
            new = spec.field.convert(value) if spec.field.column else value
        except ValueError:
            out[name] = value  # the model API names the problem
            continue
        if spec.type == "many2many":
            same = sorted(new or ()) == sorted(old or ())
        else:
            same = new == old and type(new) is type(old)
        if not same:
            out[name] = value
    return out


# -- refusals -> messages -----------------------------------------------------------------
class Refused(Exception):
    """A post the model API (or the form) refused: ``errors`` by input
    name, a ``message`` on top, the HTTP ``status`` of the page."""

    def __init__(self, message, errors=None, status=422, conflict=None):
        super().__init__(message)
        self.message, self.errors, self.status = message, errors or {}, status
        #: the record's current version after a stale save (to save over it)
        self.conflict = conflict


def _field_message(exc, action=None):
    reason = (exc.details or {}).get("reason")
    if isinstance(exc, AccessDenied):
        return gettext("You may not change this field now.")
    if action is not None:
        return gettext("Fill this in to run “%(action)s”.", action=action)
    return reason_text(reason) if reason else str(exc)


def refusal(exc, specs, prefix="", action=None):
    """A :class:`Refused` for the model API's ``exc``: its fields (those
    of ``specs`` shown on the form) marked, its reason on top."""
    if isinstance(exc, InputError):
        return Refused(gettext("Not saved: check the fields marked below."), exc.errors)
    details = exc.details or {}
    names = details.get("fields") or ([details["field"]] if details.get("field") else [])
    shown = {s.name for s in specs}
    errors = {prefix + n: _field_message(exc, action) for n in names if n in shown}
    if isinstance(exc, Conflict) and "expected_version" in details:
        return Refused(gettext("Someone else changed this record since you opened it. Your input "
                               "is kept below: reload the page to see their version, or save "
                               "yours over it."), status=409, conflict=details["version"])
    if isinstance(exc, Conflict) and details.get("duplicates"):
        found = ", ".join(f"{d.get('name')} ({d.get('owner') or gettext('lead pool')})"
                          for d in details["duplicates"])
        return Refused(gettext("This looks like an existing record: %(records)s", records=found),
                       status=409)
    if action is not None and errors and not isinstance(exc, AccessDenied):
        message = gettext("Fill in the fields marked below to run “%(action)s”.", action=action)
    elif action is not None and isinstance(exc, Conflict):
        message = gettext("“%(action)s” cannot run now: %(reason)s", action=action, reason=str(exc))
    elif action is not None and isinstance(exc, AccessDenied):
        message = gettext("Your role may not run “%(action)s”.", action=action)
    elif errors and not isinstance(exc, AccessDenied):
        message = gettext("Not saved: check the fields marked below.")
    else:
        message = gettext("Refused: %(reason)s", reason=str(exc))
    return Refused(message, errors, getattr(exc, "http_status", 400))
