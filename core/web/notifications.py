"""The signed-in user's notifications in the web UI (``core.services.inbox``):

* ``GET /web/notifications`` (``?unread=1``, ``?page=N``) — the list, newest
  first, unread ones marked, each linking to its record;
* ``POST /web/notifications/ID/read`` — mark one read (``open=1``: then go
  to its record); ``POST /web/notifications/read_all`` — mark all read;
* ``notification_badge`` in every template: the unread count of the header
  (one COUNT query, in the request's unit of work when there is one).
"""
import logging

import sqlalchemy as sa
from flask import g, redirect, render_template, request
from flask_login import current_user

from ..errors import KeelError, NotFound
from ..services import inbox
from . import bp
from .context import page, unit_of_work
from .views import safe_next

log = logging.getLogger(__name__)

HERE = "/web/notifications"
PER_PAGE = 50


class Badge:
    """The header's unread count, read on first use only."""

    @property
    def unread(self):
        cached = g.get("keel_unread")
        if cached is not None:
            return cached
        try:
            env = g.get("keel_env")
            if env is not None:
                count = inbox.unread_count(env)
            else:  # a page drawn outside its unit of work (error pages, the profile)
                with unit_of_work() as env:
                    count = inbox.unread_count(env)
        except (KeelError, sa.exc.SQLAlchemyError):
            log.exception("the unread count of the header could not be read")
            return 0
        g.keel_unread = count
        return count


@bp.app_context_processor
def _badge_context():
    return {"notification_badge": Badge() if current_user.is_authenticated else None}


def _page_number():
    text = request.args.get("page") or "1"
    return int(text) if text.isdigit() and 0 < int(text) < 100000 else 1


@bp.get(HERE)
@page
def notifications(env):
    unread = request.args.get("unread") == "1"
    number = _page_number()
    found = inbox.listing(env, unread, PER_PAGE, (number - 1) * PER_PAGE)
    g.keel_unread = found["unread"]
    pages = max(1, -(-found["total"] // PER_PAGE))
    return render_template("web/notifications.html", notes=found["items"], total=found["total"],
                           unread_total=found["unread"], unread=unread, page=number, pages=pages)


def _back():
    return safe_next(request.form.get("next")) or HERE


@bp.post(HERE + "/<int(max=2147483647):nid>/read")
@page
def notification_read(env, nid):
    inbox.mark_read(env, [nid], read=request.form.get("unread") != "1")
    if request.form.get("open") == "1":
        note = inbox.get(env, nid)
        url = inbox.url_of(note["model"], note["record_id"])
        if url is None:
            raise NotFound(f"notification {nid} is about no record")
        return redirect(url)
    return redirect(_back())


@bp.post(HERE + "/read_all")
@page
def notifications_read_all(env):
    inbox.mark_all_read(env)
    return redirect(_back())
