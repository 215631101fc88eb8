"""The merge page of a record (administrators): ``/web/MODEL/ID/merge``.

``GET`` shows the record kept and the records to merge into it — those of
``?ids=3,4`` (the duplicates warning of a form links here), checked, plus a
field for more ids — with "fill the empty fields" and a confirm button;
``POST`` merges (:func:`core.services.merge.merge`) in one unit of work and
lands on the kept record's form. Anyone else gets the 403 page.
"""
from flask import flash, redirect, render_template, request

from ..errors import AccessDenied, KeelError, NotFound, UserInputError
from ..services.merge import may_merge, merge
from . import bp
from .context import error_page, page, unit_of_work
from .forms import tr
from .i18n import gettext

URL = "/web/<model>/<int(max=2147483647):rid>/merge"


def _ids(values):
    out = []
    for value in values:
        for part in str(value).replace("，", ",").split(","):
            part = part.strip()
            if not part:
                continue
            if not part.isdigit() or int(part) <= 0 or int(part) > 2147483647:
                raise UserInputError(gettext("“%(value)s” is not a record id.", value=part))
            out.append(int(part))
    return list(dict.fromkeys(out))


def _context(env, model, rid, ids, error=None):
    if model not in env.registry.models:
        raise NotFound(f"unknown model {model!r}")
    if not may_merge(env):
        raise AccessDenied(f"only administrators may merge {model} records")
    records = env[model]
    kept = records.browse(rid)
    if not kept.exists():
        raise NotFound(f"{model} {rid} does not exist")
    ids = [i for i in ids if i != rid]
    found = records.browse(ids).exists()
    names = found._display_names() if found else {}
    candidates = [{"id": i, "name": names.get(i)} for i in ids if i in names]
    return dict(title=gettext("Merge into “%(name)s”", name=kept.display_name), model=model,
                label=tr(env.registry[model].label), record_id=rid, record_name=kept.display_name,
                candidates=candidates, error=error)


@bp.get(URL)
@page
def merge_page(env, model, rid):
    return render_template("web/merge.html", **_context(env, model, rid, _ids(request.args.getlist("ids"))))


@bp.post(URL)
def merge_post(model, rid):
    try:
        ids = _ids(request.form.getlist("ids") + request.form.getlist("more"))
        if not ids:
            raise UserInputError(gettext("Choose the records to merge into this one."))
        with unit_of_work() as env:
            merge(env, model, rid, ids, fill=bool(request.form.get("fill")))
        flash(gettext("Merged %(count)s records into this one.", count=len(ids)), "success")
        return redirect(f"/web/{model}/{rid}")
    except (NotFound, AccessDenied) as exc:
        return error_page(exc)
    except KeelError as exc:
        try:
            with unit_of_work() as env:
                ids = [i for i in _ids(request.form.getlist("ids")) if i]
                return render_template("web/merge.html",
                                       **_context(env, model, rid, ids, str(exc))), exc.http_status
        except KeelError as again:
            return error_page(again)
