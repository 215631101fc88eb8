"""The lead pool's pages (blueprint ``crm_pool``, under ``/web/crm/pool``).

* ``GET /web/crm/pool/preview`` — the dry run: who goes back to the pool
  tonight and why, and who is warned — of the customers the user may read
  (a manager: their team's; a rep: their own) (``?format=json``: the
  same as JSON, ``{"recycle": [...], "warn": [...]}``);
* ``GET /web/crm/pool/assign?ids=1,2,3`` — bulk assignment: choose a user;
  ``POST`` (``ids``, ``user_id``, ``comment``) runs the ``assign`` action
  on every customer (each one audited and logged) in one transaction.
"""
from flask import Blueprint, flash, jsonify, redirect, render_template, request

from core.errors import AccessDenied, UserInputError
from core.web.context import page
from core.web.i18n import gettext

from .pool_actions import may_manage

bp = Blueprint("crm_pool", __name__, url_prefix="/web/crm/pool", template_folder="web")


def blueprints():
    return [bp]


def _json_item(item):
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in item.items()}


@bp.get("/preview")
@page
def preview_page(env):
    from .pool_engine import preview
    # every CRM user: the plan is cut to the customers they may read (a
    # rep sees which of theirs go back tonight, a manager their team's)
    env.access.check(env.registry["crm.customer"], "read")
    planned = preview(env)
    if request.args.get("format") == "json":
        return jsonify({k: [_json_item(i) for i in v] for k, v in planned.items()})
    owners = {u["id"]: u["name"] for u in env.sudo()["core.user"].search_read(
        [["id", "in", [i["owner_id"] for v in planned.values() for i in v] or [0]]], ["name"])}
    return render_template("pool/preview.html", title=gettext("Lead pool preview"),
                           planned=planned, owners=owners)


def _ids():
    raw = request.values.get("ids", "")
    try:
        return [int(x) for x in raw.replace(" ", "").split(",") if x]
    except ValueError:
        raise UserInputError(f"ids: {raw!r} is not a list of record ids") from None


@bp.route("/assign", methods=["GET", "POST"])
@page
def assign_page(env):
    if not may_manage(env):
        raise AccessDenied("only sales managers and directors assign customers")
    ids = _ids()
    if request.method == "POST":
        try:
            user_id = int(request.form.get("user_id", ""))
        except ValueError:
            raise UserInputError("user_id: choose a user") from None
        comment = (request.form.get("comment") or "").strip() or None
        if ids:
            env["crm.customer"].browse(ids).action("assign", comment, {"user_id": user_id})
        flash(gettext("Assigned: %(count)s customers.", count=len(ids)), "success")
        return redirect("/web/crm.customer")
    customers = env["crm.customer"].browse(ids).read(["name", "owner_id"]) if ids else []
    users = env["core.user"].search_read([["active", "=", True]], ["name"], order="name")
    return render_template("pool/assign.html", title=gettext("Assign customers"),
                           customers=customers, users=users, ids=",".join(map(str, ids)))
