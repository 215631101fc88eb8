"""The form view of a record: ``/web/MODEL/new`` and ``/web/MODEL/ID``
(CONTRACT.md §7) — create, edit, duplicate, delete, workflow buttons, the
approval panel and the record's history.

Every change goes through the model API as the signed-in user, in one unit
of work: the record, its one2many lines and a workflow action pressed with
unsaved changes all commit together or not at all. A refused post is rolled
back and the form is shown again, in a second unit of work, with the
user's input as typed and the model API's reasons beside the fields they
name (:mod:`core.web.form_values`).
"""
from flask import current_app, flash, jsonify, redirect, render_template, request
from werkzeug.datastructures import CombinedMultiDict

from .. import approvals, record_actions, viewdefs, workflow
from ..services import trash
from ..errors import AccessDenied, Conflict, KeelError, NotFound, UserInputError
from . import bp, form_values, forms
from .context import error_page, page, unit_of_work
from .form_panels import action_label, approval_requests, form_panels, history
from .forms import tr
from .i18n import gettext

#: how many records the type-ahead of a many2one offers
NAMES_LIMIT = 10


# -- reading ---------------------------------------------------------------------------
def _model(env, model):
    if model not in env.registry.models:
        raise NotFound(f"unknown model {model[:80]!r}")
    env.access.check(env.registry[model], "read")
    return env[model]


def _current(records, rid):
    """The record's values (``NotFound`` outside the user's rules)."""
    return records.browse(rid).read()[0]


def _writable(records, rid=None):
    access = records.env.access
    if not access.allowed(records._name, "create" if rid is None else "write"):
        return False
    return rid is None or access.unrestricted or rid in records._visible([rid], "write")


def _layout(records, current=None):
    flow = workflow.matrix(records.env, records._name)
    state = current.get(flow.field) if flow is not None and current else None
    rid = current["id"] if current else None
    return forms.layout(records.env, records._name, state, _writable(records, rid))


def _defaults(env, records, lay):
    """What a new record starts with, as ``read()`` would give it: the
    model's defaults, then values named in the address
    (``/web/crm.opportunity/new?customer_id=5`` from a customer's page)."""
    meta = records._meta
    values = {}
    for name, default in meta.defaults.items():
        try:
            values[name] = meta.fields[name].convert(default(env) if callable(default) else default)
        except (ValueError, KeelError):
            continue
    for name, relation, value in (("owner_id", "core.user", env.uid),
                                  ("department_id", "core.department",
                                   env.user_values().get("department_id"))):
        field = meta.fields.get(name)
        if field is not None and field.type == "many2one" and field.relation == relation \
                and name not in values and value:
            values[name] = value
    for spec in lay.editable():
        if spec.name in request.args and spec.field.column and spec.type != "binary":
            try:
                values[spec.name] = spec.field.convert(request.args[spec.name])
            except ValueError:
                continue
    for field in meta.many2one:
        if isinstance(values.get(field.name), int):
            rec = env.registry[field.relation].rec_name
            names = env[field.relation].search_read([["id", "=", values[field.name]]], [rec])
            values[field.name] = {"id": values[field.name], "name": str(names[0][rec]) if names else ""}
    return values


def _duplicate(records, rid, lay):
    """A new record's values copied from ``rid``: what the form edits, but
    numbers kept unique and one2many lines left behind; the name says
    it is a copy."""
    source = _current(records, rid)
    meta = records._meta
    values = {spec.name: source.get(spec.name) for spec in lay.editable()
              if spec.type not in ("one2many", "binary") and not spec.field.unique
              and not spec.field.sequence}
    rec = meta.rec_name
    if isinstance(values.get(rec), str):
        values[rec] = gettext("%(name)s (copy)", name=values[rec])
    return values


# -- rendering ---------------------------------------------------------------------------
def record_title(records, rid):
    """A record's name as its pages show it: a record named by a choice
    (a stage, a grade) by the choice's label in the page's language."""
    name = records.browse(rid).display_name
    field = records._meta.fields.get(records._meta.rec_name)
    if field is not None and field.type == "selection":
        return forms.tr(dict(field.options).get(name, name))
    return name


def _lines(env, lay, current, formdata):
    """Per one2many of the layout: its line forms, the template row and the
    stored lines by id (for read-only columns)."""
    out = {}
    for spec in lay.fields:
        if spec.type != "one2many":
            continue
        ids = (current or {}).get(spec.name) or []
        names = [line.name for line in spec.lines]
        rows = env[spec.field.relation].browse(ids).read(names) if ids and names else []
        by_id = {str(r["id"]): r for r in rows}
        if formdata is not None and not spec.readonly:
            indexes = forms.line_indexes(spec, formdata)
            line_forms = [forms.line_form(spec, f"{spec.name}-{i}-", formdata) for i in indexes]
            following = indexes[-1] + 1 if indexes else 0
        else:
            line_forms = [forms.line_form(spec, f"{spec.name}-{i}-", data=forms.line_data(spec, r))
                          for i, r in enumerate(rows)]
            if not spec.readonly:  # a blank line to fill without JavaScript
                line_forms.append(forms.line_form(spec, f"{spec.name}-{len(rows)}-"))
            following = len(line_forms)
        out[spec.name] = {"forms": line_forms, "rows": by_id, "all_rows": rows,
                          "template": forms.line_form(spec, f"{spec.name}-__index__-"),
                          "next": following}  # the number form.js gives an added line
    return out


def _render(env, records, lay, form, current=None, formdata=None, refused=None):
    model = records._name
    rid = current["id"] if current else None
    actions, panel, entries, panels, extra = [], [], [], [], []
    if rid is not None:
        registered = record_actions.of_model(env, model)
        if lay.actions or registered:
            allowed = records.browse(rid).allowed_actions()[rid]
            if lay.actions:
                actions = [(a, action_label(env, model, a)) for a in allowed if a not in registered]
            # addons' record actions without parameters (release, claim)
            extra = [(a, tr(label)) for a, label in record_actions.form_buttons(env, model, allowed)]
        panel = approval_requests(env, model, rid)
        entries = history(env, lay, model, rid)
        panels = form_panels(env, model, rid)
    title = (record_title(records, rid) if rid is not None else
             gettext("New %(model)s", model=lay.label))
    status = refused.status if refused else 200
    return render_template(
        "web/form.html", lay=lay, form=form, lines=_lines(env, lay, current, formdata),
        record=current, title=title, record_name=title, model=model, record_id=rid, actions=actions,
        record_actions=extra,
        approvals=panel, history=entries, panels=panels, refused=refused, errors=refused.errors if refused else {},
        display=forms.display, label_suffix=forms.LABEL_SUFFIX,
        may_delete=rid is not None and lay.writable and env.access.allowed(model, "delete"),
        action_url=f"/web/{model}/{rid}" if rid is not None else f"/web/{model}/new",
        # a form view's "duplicates_url": likely duplicates while typing (web/static/duplicates.js)
        duplicates_url=viewdefs.resolve(env, model, "form").get("duplicates_url") if lay.writable else None,
    ), status


# -- saving ------------------------------------------------------------------------------
def _expected_version(current):
    raw = request.form.get("overwrite") or request.form.get("version") or ""
    if not raw.strip().isdigit():
        return None  # a post without the version read: last write wins, as in the API
    expected = int(raw)
    if expected != current["version"]:
        raise Conflict(f"{current['id']} was changed by someone else", {
            "id": current["id"], "version": current["version"], "expected_version": expected})
    return expected


def _save(env, records, lay, form, formdata, current):
    """Create or write the record and its lines; the record."""
    values = form_values.values_of(env, lay, form)
    if current is None:
        record = records.create({k: v for k, v in values.items() if v not in (None, [])})
    else:
        record = records.browse(current["id"])
        expected = _expected_version(current)
        delta = form_values.changed({s.name: s for s in lay.fields}, values, current)
        if delta:
            record.write({**delta, "version": expected} if expected is not None else delta)
    for spec in lay.editable():
        if spec.type == "one2many":
            _save_lines(env, record.id, spec, formdata)
    return record


def _save_lines(env, rid, spec, formdata):
    """Create, change and delete the posted lines of one one2many; an error
    is told beside the line's input (``FIELD-N-NAME``)."""
    lines = env[spec.field.relation]
    inverse = spec.field.inverse
    editable = {line.name: line for line in spec.lines if not line.readonly}
    for index in forms.line_indexes(spec, formdata):
        prefix = f"{spec.name}-{index}-"
        form = forms.line_form(spec, prefix, formdata)
        line_id = (form[forms.LINE_ID].data or "").strip()
        remove = bool(form[forms.LINE_DELETE].data) if forms.LINE_DELETE in form else False
        try:
            values = {name: form_values.parse(env, line, form, prefix) for name, line in editable.items()
                      if form_values.posted(line, form)}
            if not line_id:
                if not remove and any(v not in (None, False, "") for v in values.values()):
                    lines.create({**{k: v for k, v in values.items() if v is not None}, inverse: rid})
                continue
            if not line_id.isdigit() or not lines.search_count([["id", "=", int(line_id)],
                                                                 [inverse, "=", rid]]):
                raise NotFound(f"{spec.field.relation} {line_id[:20]} is not a line of this record")
            line = lines.browse(int(line_id))
            if remove:
                line.unlink()
                continue
            delta = form_values.changed(editable, values, line.read(list(editable))[0])
            if delta:
                line.write(delta)
        except KeelError as exc:
            raise form_values.refusal(exc, spec.lines, prefix) from None


def _act(env, record, lay, action, comment):
    """Run the workflow ``action``: the message to flash."""
    label = action_label(env, record._name, action)
    try:
        outcome = record.action(action, comment)[0]
    except KeelError as exc:
        raise form_values.refusal(exc, lay.fields, action=label) from None
    if outcome.ran:
        return gettext("Done: %(action)s.", action=label)
    return gettext("Sent for approval: “%(action)s” runs once it is approved.", action=label)


def _post(model, rid=None):
    """Save the posted form (and run the pressed action); on a refusal show
    the form again with the input kept."""
    formdata = CombinedMultiDict([request.files, request.form])
    action = (request.form.get("action") or "").strip() if rid is not None else ""
    comment = (request.form.get("comment") or "").strip() or None
    try:
        with unit_of_work() as env:
            records = _model(env, model)
            current = _current(records, rid) if rid is not None else None
            lay = _layout(records, current)
            if not lay.writable and action and record_actions.spec(env, model, action):
                # a record action on a record the user may only read (claim)
                message = _act(env, records.browse(rid), lay, action, comment)
                flash(message, "success")
                return redirect(f"/web/{model}/{rid}")
            if not lay.writable:
                raise AccessDenied(f"you may not change {model} records")
            form = forms.record_form(env, lay, formdata)
            try:
                record = _save(env, records, lay, form, formdata, current)
            except (KeelError, form_values.InputError) as exc:
                raise form_values.refusal(exc, lay.fields) from None
            message = _act(env, record, lay, action, comment) if action else gettext("Saved.")
            target = f"/web/{model}/{record.id}"
        flash(message, "success")
        return redirect(target)
    except form_values.Refused as refused:
        return _show_refused(model, rid, formdata, refused)
    except KeelError as exc:
        return error_page(exc)


def _show_refused(model, rid, formdata, refused):
    try:
        with unit_of_work() as env:
            records = _model(env, model)
            current = _current(records, rid) if rid is not None else None
            lay = _layout(records, current)
            form = forms.record_form(env, lay, formdata)
            return current_app.make_response(_render(env, records, lay, form, current, formdata,
                                                     refused))
    except KeelError as exc:
        return error_page(exc)


# -- routes ------------------------------------------------------------------------------
@bp.get("/web/<model>/new")
@page
def form_new(env, model):
    records = _model(env, model)
    lay = _layout(records)
    if not lay.writable:
        raise AccessDenied(f"you may not create {model} records")
    source = request.args.get("duplicate", "")
    if source.isdigit():
        return _render(env, records, lay, forms.record_form(
            env, lay, data=forms.form_data(lay, _duplicate(records, int(source), lay))))
    return _render(env, records, lay, forms.record_form(env, lay, data=forms.form_data(
        lay, _defaults(env, records, lay))))


@bp.get("/web/<model>/<int(max=2147483647):rid>/duplicate")
def form_duplicate(model, rid):
    return redirect(f"/web/{model}/new?duplicate={rid}")


@bp.post("/web/<model>/new")
def form_create(model):
    return _post(model)


@bp.get("/web/<model>/<int(max=2147483647):rid>")
@page
def form_record(env, model, rid):
    records = _model(env, model)
    current = _current(records, rid)
    lay = _layout(records, current)
    return _render(env, records, lay, forms.record_form(env, lay, data=forms.form_data(lay, current)),
                   current)


@bp.post("/web/<model>/<int(max=2147483647):rid>")
def form_save(model, rid):
    return _post(model, rid)


@bp.route("/web/<model>/<int(max=2147483647):rid>/delete", methods=["GET", "POST"])
def form_delete(model, rid):
    """A confirmation page; its POST deletes and goes back to the list."""
    if request.method == "POST":
        try:
            with unit_of_work() as env:
                _model(env, model).browse(rid).unlink()
            flash(gettext("Deleted."), "success")
            return redirect(f"/web/{model}")
        except (NotFound, AccessDenied) as exc:
            return error_page(exc)
        except Conflict as exc:  # the kernel's message quotes the database
            return _confirm_delete(model, rid, gettext(
                "This record cannot be deleted: other records still refer to it."), exc.http_status)
        except KeelError as exc:
            return _confirm_delete(model, rid, str(exc), getattr(exc, "http_status", 400))
    return _confirm_delete(model, rid)


def _confirm_delete(model, rid, error=None, status=200):
    try:
        with unit_of_work() as env:
            records = _model(env, model)
            _current(records, rid)
            if not env.access.allowed(model, "delete") or not _writable(records, rid):
                raise AccessDenied(f"you may not delete {model} records")
            return render_template("web/confirm_delete.html", model=model, record_id=rid,
                                   title=record_title(records, rid), error=error,
                                   record_name=record_title(records, rid),
                                   label=forms.tr(records._meta.label),
                                   trash_days=trash.enabled(env, records._meta) and trash.keep_days(env)), status
    except KeelError as exc:
        return error_page(exc)


@bp.post("/web/<model>/<int(max=2147483647):rid>/approval")
def form_approval(model, rid):
    """A decision on an approval request of the record: approve, reject,
    return (退回), withdraw, or cosign (加签: ``cosigner``, a login or name)."""
    decision = request.form.get("decision", "")
    comment = (request.form.get("comment") or "").strip() or None
    request_id = request.form.get("request", "")
    try:
        with unit_of_work() as env:
            _current(_model(env, model), rid)
            found = approvals.details(env, int(request_id)) if request_id.isdigit() else None
            if found is None or found["model"] != model or found["record_id"] != rid:
                raise NotFound(f"approval request {request_id[:20]!r} does not exist")
            message = _decide(env, found["id"], decision, comment)
        flash(message, "success")
    except NotFound as exc:
        return error_page(exc)
    except KeelError as exc:
        flash(gettext("Refused: %(reason)s", reason=str(exc)), "error")
    return redirect(f"/web/{model}/{rid}")


def _decide(env, request_id, decision, comment):
    simple = {"approve": (approvals.approve, gettext("Approved.")),
              "reject": (approvals.reject, gettext("Rejected.")),
              "return": (approvals.send_back, gettext("Sent back one level.")),
              "withdraw": (approvals.withdraw, gettext("Withdrawn."))}
    if decision in simple:
        act, message = simple[decision]
        act(env, request_id, comment)
        return message
    if decision == "cosign":
        who = (request.form.get("cosigner") or "").strip()
        users = env["core.user"].search_read(["|", ["login", "=", who], ["name", "=", who]], ["id"],
                                             limit=2) if who else []
        if len(users) != 1:
            raise UserInputError(gettext("Name one user by login or name to add as co-signer."))
        approvals.add_cosigner(env, request_id, users[0]["id"], comment)
        return gettext("Co-signer added.")
    raise UserInputError(f"unknown decision {decision[:20]!r}")


@bp.get("/web/<model>/_names")
@page
def form_names(env, model):
    """``[{"id", "name"}]``: records of ``model`` whose name contains ``q``,
    under the user's record rules (the type-ahead of a many2one)."""
    records = _model(env, model)
    rec = records._meta.rec_name
    query = (request.args.get("q") or "").strip()[:100]
    if records._meta.fields[rec].type in ("char", "text", "selection"):
        domain = [[rec, "ilike", f"%{query}%"]] if query else []
    else:
        domain = [["id", "=", int(query)]] if query.isdigit() else []
    rows = records.search_read(domain, ["id", rec], limit=NAMES_LIMIT)
    return jsonify([{"id": r["id"], "name": "" if r[rec] is None else str(r[rec])} for r in rows])
