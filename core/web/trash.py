"""The recycle bin in the web UI (:mod:`core.services.trash`):

* ``GET /web/trash`` (``?model=``, ``?page=N``) — deleted records the user
  may restore: every entry for administrators (menu Settings › Recycle
  bin), the records they owned or deleted for others;
* ``POST /web/trash/ID/restore`` — puts the record back whole and opens it;
  a conflict shows the list again with the reason (409);
* ``POST /web/trash/ID/delete`` — removes the entry for good.
"""
from flask import redirect, render_template, request
from flask_login import login_required

from ..errors import KeelError, NotFound
from ..services import trash
from . import bp
from .context import error_page, page, unit_of_work

HERE = "/web/trash"
PER_PAGE = 50


def _page_number():
    text = request.args.get("page") or "1"
    return int(text) if text.isdigit() and 0 < int(text) < 100000 else 1


def _render(env, error=None, status=200):
    number = _page_number()
    model = request.args.get("model") or None
    rows, total = trash.entries(env, model, PER_PAGE, (number - 1) * PER_PAGE)
    labels = {name: meta.label for name, meta in env.registry.models.items()}
    return render_template("web/trash.html", rows=rows, total=total, page=number,
                           pages=max(1, -(-total // PER_PAGE)), model=model, labels=labels,
                           error=error), status


@bp.get(HERE)
@page
def trash_list(env):
    return _render(env)


@bp.post(HERE + "/<int(max=2147483647):tid>/restore")
@login_required
def trash_restore(tid):
    try:
        with unit_of_work() as env:
            found = trash.restore(env, tid)
    except NotFound as exc:
        return error_page(exc)
    except KeelError as exc:  # a conflict: the list again, with the reason
        try:
            with unit_of_work() as env:
                return _render(env, str(exc), getattr(exc, "http_status", 409))
        except KeelError as again:
            return error_page(again)
    return redirect(f"/web/{found['model']}/{found['record_id']}")


@bp.post(HERE + "/<int(max=2147483647):tid>/delete")
@page
def trash_delete(env, tid):
    trash.delete_forever(env, tid)
    return redirect(HERE)

