"""The admin screen of user-defined fields (issue 4 point 1):
``/web/settings/fields?model=MODEL`` lists a model's fields and adds one;
``/web/settings/fields/MODEL/NAME/remove`` asks for confirmation (saying
how many values will be archived), then removes it.

The same service as ``keel field`` and the API (:mod:`core.custom_fields`):
same checks, same audit entries, administrators only.
"""
from flask import redirect, render_template, request, url_for
from flask_login import current_user, login_required

from .. import custom_fields
from ..base import FIELD_TYPES
from ..errors import AccessDenied, KeelError
from ..i18n import translate
from . import bp
from .context import error_page, page, unit_of_work
from .i18n import best_language
from .session import database

ADDRESS = "/web/settings/fields"


def _models(env):
    lang = best_language()
    return sorted(((name, translate(meta.label, lang)) for name, meta in env.registry.models.items()
                   if not name.startswith("core.")), key=lambda m: m[0])


def _require_admin(env):
    if not env.access.unrestricted:
        raise AccessDenied("only administrators may change fields", {"operation": "customize"})


def _fields(env, model):
    lang = best_language()
    meta = env.registry[model]
    return [{"name": f.name, "type": f.type, "label": translate(f.label, lang), "custom": f.custom,
             "required": f.required, "indexed": bool(f.index), "relation": getattr(f, "relation", None)}
            for f in meta.fields.values()]


def _render(env, model, error=None, values=None, status=200):
    models = _models(env)
    if model not in env.registry.models:
        model = models[0][0] if models else None
    lang = best_language()
    types = [(code, translate(label, lang)) for code, label in FIELD_TYPES]
    return render_template("web/fields_admin.html", models=models, model=model,
                           fields=_fields(env, model) if model else [], types=types,
                           type_labels=dict(types), error=error, values=values or {}), status


@bp.get(ADDRESS)
@page
def fields_admin(env):
    _require_admin(env)
    return _render(env, request.args.get("model", ""))


@bp.post(ADDRESS)
@login_required
def fields_add():
    form = request.form
    model = form.get("model", "")
    selection = [s.strip() for s in form.get("selection", "").replace("，", ",").split(",") if s.strip()]
    try:
        with unit_of_work() as env:
            _require_admin(env)
            custom_fields.add_field(
                env.db, env.conn, model, form.get("name", "").strip(), form.get("type", ""),
                label=form.get("label") or None, selection=selection or None,
                relation=form.get("relation") or None, required=bool(form.get("required")),
                index=bool(form.get("index")), default=form.get("default") or None,
                user=env.uid, source="web")
    except AccessDenied as exc:
        return error_page(exc)
    except KeelError as exc:
        with unit_of_work() as env:
            return _render(env, model, error=str(exc), values=form, status=422)
    return redirect(url_for("web.fields_admin", model=model))


@bp.route(ADDRESS + "/<model>/<name>/remove", methods=["GET", "POST"])
@login_required
def fields_remove(model, name):
    try:
        if request.method == "POST":
            custom_fields.remove(database(), model, name, confirm=True, user=current_user.id,
                                 source="web")
            return redirect(url_for("web.fields_admin", model=model))
        with unit_of_work() as env:
            _require_admin(env)
            try:  # the service's refusal without confirmation says what will happen
                custom_fields.remove_field(env.db, env.conn, model, name, user=env.uid, source="web")
            except KeelError as exc:
                if (exc.details or {}).get("parameter") != "confirm":
                    raise
                values = exc.details.get("values", 0)
            return render_template("web/fields_remove.html", model=model, name=name, values=values)
    except KeelError as exc:
        return error_page(exc)
