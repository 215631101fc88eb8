"""Sales targets (``crm.target``): per rep or per department, per period,
with three measures — won amount, new customers, follow-ups — and their
progress computed when read (never stored), by ``read_group`` and
``search_count`` through the model API as the user who asks: a rep's
progress counts what the rep sees, a manager's their department tree's.

A won opportunity counts in the period it was *closed*: ``closed_on``
(an ``Extend`` of ``crm.opportunity``), set the day it reaches ``won`` or
``lost`` (the workflow's trigger writes the probability, which runs
``after_write``) or when it is created in such a stage. See
docs/sales_plans.md.
"""
import calendar
import datetime as dt
import decimal

from flask import Blueprint, render_template, request

from core import fields as F
from core.i18n import _
from core.models import Extend, Model
from core.web.context import page

PERIODS = [("month", _("Month")), ("quarter", _("Quarter")), ("year", _("Year")),
           ("custom", _("From … to"))]
CLOSED = ("won", "lost")


def _add_months(day, months):
    month = day.month - 1 + months
    return dt.date(day.year + month // 12, month % 12 + 1, 1)


def period_end(period, start, explicit=None):
    """The last day of a period starting on ``start``."""
    if start is None:
        return explicit
    if period == "custom":
        return explicit
    if period == "month":
        return dt.date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])
    months = 3 if period == "quarter" else 12
    return _add_months(start, months) - dt.timedelta(days=1)


def _date_to(row):
    end = period_end(row.get("period") or "month", row.get("date_from"), row.get("date_to"))
    if row.get("date_from") and end and end < row["date_from"]:
        raise ValueError("the period ends before it starts")
    return end


def models():
    return [
        Model("crm.target", _("Sales target"), order="date_from desc, id", rec_name="name", fields={
            "name": F.Char(_("Name"), required=True),
            "owner_id": F.Many2one("core.user", _("Sales rep"),
                                   help=_("Leave empty for a department's target")),
            "department_id": F.Many2one("core.department", _("Department")),
            "period": F.Selection(_("Period"), options=PERIODS, default="month", required=True),
            "date_from": F.Date(_("Start date"), required=True, index=True),
            "date_to": F.Date(_("End date"), compute=_date_to, depends=("period", "date_from", "date_to"),
                              help=_("Computed from the period unless the period is From … to")),
            "amount": F.Decimal(_("Won amount target"), digits=18, scale=2),
            "new_customers": F.Integer(_("New customers target")),
            "followups": F.Integer(_("Follow-ups target")),
            "note": F.Text(_("Note")),
        }),
        Extend("crm.opportunity", fields={
            "closed_on": F.Date(_("Closed on"), index=True,
                                help=_("The day the opportunity was won or lost")),
        }),
    ]


def roles():
    read = ["read", "export"]
    manage = ["read", "create", "write", "delete", "export"]
    return {"sales_rep": {"permissions": {"crm.target": read}, "scopes": {"crm.target": "own"}},
            "sales_manager": {"permissions": {"crm.target": manage},
                              "scopes": {"crm.target": "department_tree"}},
            "sales_director": {"permissions": {"crm.target": manage},
                               "scopes": {"crm.target": "all"}}}


def menus():
    return [{"key": "crm.targets", "label": _("Sales targets"), "parent": "crm.planning",
             "model": "crm.target", "sequence": 10},
            {"key": "crm.target_progress", "label": _("Target progress"), "parent": "crm",
             "model": "crm.target", "url": "/web/crm/targets", "sequence": 40}]


def views():
    return [
        {"key": "crm.target.list", "model": "crm.target", "type": "list",
         "arch": {"fields": ["name", "owner_id", "department_id", "period", "date_from", "date_to",
                             "amount", "new_customers", "followups"]}},
        {"key": "crm.target.form", "model": "crm.target", "type": "form",
         "arch": {"sections": [
             {"label": _("Target"), "fields": ["name", "owner_id", "department_id"]},
             {"label": _("Period"), "fields": ["period", "date_from", "date_to"]},
             {"label": _("Measures"), "fields": ["amount", "new_customers", "followups", "note"]}]}},
    ]


# -- closing date of opportunities ----------------------------------------

def before_create(env, model, values_list):
    if model == "crm.target":
        # a rep's target belongs to the rep's department, not its author's
        reps = sorted({r["owner_id"] for r in values_list if r.get("owner_id")})
        if reps:
            depts = {u["id"]: _key(u["department_id"]) for u in env.sudo()["core.user"].search_read(
                [["id", "in", reps]], ["department_id"])}
            for row in values_list:
                if row.get("owner_id"):
                    row["department_id"] = depts.get(row["owner_id"])
        return
    if model != "crm.opportunity":
        return
    for row in values_list:
        if row.get("stage") in CLOSED and not row.get("closed_on"):
            row["closed_on"] = env.now.date()


def before_write(env, model, records, values):
    if model == "crm.target" and values.get("owner_id"):
        owner = env.sudo()["core.user"].browse([values["owner_id"]]).read(["department_id"])[0]
        values["department_id"] = _key(owner["department_id"])


def after_write(env, model, records, values):
    # the workflow's win/lose triggers write the probability; a direct
    # write of the stage (system imports) passes here too
    if model != "crm.opportunity" or not ({"stage", "probability"} & set(values)):
        return
    # the system context: the trigger ran as the kernel, and a closing date
    # is bookkeeping the caller need not be allowed to write
    opportunities = env.sudo()["crm.opportunity"]
    done = opportunities.search([["id", "in", records.ids], ["stage", "in", list(CLOSED)],
                                 ["closed_on", "=", None]])
    if done:
        done.write({"closed_on": env.now.date()})
    reopened = opportunities.search([["id", "in", records.ids], ["stage", "not in", list(CLOSED)],
                                     ["closed_on", "!=", None]])
    if reopened:
        reopened.write({"closed_on": None})


# -- progress ---------------------------------------------------------------

def _key(value):
    return value["id"] if isinstance(value, dict) else value


def _tree(env, department_ids):
    """``{department: [it and every department below it]}``, one query."""
    rows = env.sudo()["core.department"].search_read([], ["parent_id"])
    children = {}
    for row in rows:
        children.setdefault(_key(row["parent_id"]), []).append(row["id"])
    out = {}
    for dept in department_ids:
        found, todo = [], [dept]
        while todo:
            current = todo.pop()
            if current not in found:
                found.append(current)
                todo.extend(children.get(current, ()))
        out[dept] = found
    return out


def _start(day):
    return dt.datetime.combine(day, dt.time())


def progress(env, targets):
    """``targets``: rows read from ``crm.target`` (with owner_id,
    department_id, date_from, date_to, amount, new_customers, followups).
    Returns the rows with ``actual_amount``, ``actual_new_customers``,
    ``actual_followups`` and their ``*_pct`` (``None`` without a target).

    One ``read_group`` per measure, per distinct period and per kind
    (rep / department), as the caller: what they may not see does not
    count."""
    periods = {}
    for t in targets:
        if t["date_from"] and t["date_to"]:
            periods.setdefault((t["date_from"], t["date_to"]), []).append(t)
    depts = {_key(t["department_id"]) for t in targets
             if not _key(t["owner_id"]) and _key(t["department_id"])}
    tree = _tree(env, depts) if depts else {}
    allowed = {m: env.access.allowed(m, "read")
               for m in ("crm.opportunity", "crm.customer", "crm.interaction")}
    measures = [
        # (measure, model, domain, date field, a datetime?, aggregate)
        ("amount", "crm.opportunity", [["stage", "=", "won"]], "closed_on", False, "amount:sum"),
        ("new_customers", "crm.customer", [], "created_at", True, "id:count"),
        ("followups", "crm.interaction", [], "at", True, "id:count"),
    ]
    for (start, end), rows in periods.items():
        reps = sorted({_key(t["owner_id"]) for t in rows if _key(t["owner_id"])})
        all_depts = sorted({d for t in rows if not _key(t["owner_id"])
                            for d in tree.get(_key(t["department_id"]), ())})
        for name, model, base, date_field, is_datetime, agg in measures:
            if not allowed[model]:
                continue
            if is_datetime:
                span = [[date_field, ">=", _start(start)], [date_field, "<", _start(end + dt.timedelta(days=1))]]
            else:
                span = [[date_field, ">=", start], [date_field, "<=", end]]
            by_rep, by_dept = {}, {}
            if reps:
                for g in env[model].read_group(base + span + [["owner_id", "in", reps]],
                                               ["owner_id"], [agg]):
                    by_rep[_key(g["owner_id"])] = g[agg] or 0
            if all_depts:
                # a department achieves what its members own (follow-ups
                # have no department of their own)
                dept = "owner_id.department_id"
                for g in env[model].read_group(base + span + [[dept, "in", all_depts]],
                                               [dept], [agg]):
                    by_dept[_key(g[dept])] = g[agg] or 0
            for t in rows:
                owner = _key(t["owner_id"])
                if owner:
                    actual = by_rep.get(owner, 0)
                else:
                    actual = sum((by_dept.get(d, 0) for d in tree.get(_key(t["department_id"]), ())), 0)
                t["actual_" + name] = actual
    for t in targets:
        for name in ("amount", "new_customers", "followups"):
            actual = t.setdefault("actual_" + name, 0)
            goal = t.get(name)
            t[name + "_pct"] = (round(float(decimal.Decimal(actual) * 100 / decimal.Decimal(goal)), 1)
                                if goal else None)
    return targets


FIELDS = ["name", "owner_id", "department_id", "period", "date_from", "date_to", "amount",
          "new_customers", "followups"]


def read_progress(env, domain=(), limit=None):
    """The caller's targets (``domain`` within their scope) with progress."""
    rows = env["crm.target"].search_read(list(domain), FIELDS, limit=limit)
    return progress(env, rows)


# -- workbench --------------------------------------------------------------

def cards(env):
    if not env.access.allowed("crm.target", "read"):
        return []
    today = env.now.date()
    # one's own targets and, for a department's manager, the department's
    managed = env["core.department"].search([["manager_id", "=", env.uid]]).ids
    whose = [["owner_id", "=", env.uid]]
    if managed:
        whose = ["|", ["owner_id", "=", env.uid], "&", ["owner_id", "=", None],
                 ["department_id", "in", managed]]
    mine = read_progress(env, whose + [["date_from", "<=", today], ["date_to", ">=", today]], limit=5)
    if not mine:
        return []
    items = []
    for t in mine:
        if t["amount"]:
            note = f"{t['actual_amount']:,.2f} / {t['amount']:,.2f} ({t['amount_pct']}%)"
        elif t["new_customers"]:
            note = f"{t['actual_new_customers']} / {t['new_customers']} ({t['new_customers_pct']}%)"
        else:
            note = f"{t['actual_followups']} / {t['followups'] or 0}"
        items.append({"label": t["name"], "url": f"/web/crm.target/{t['id']}", "note": note})
    return [{"key": "crm.targets", "title": _("Targets in progress"), "sequence": 8,
             "count": len(mine), "url": "/web/crm/targets", "empty": _("No target for now."),
             "items": items}]


# -- pages ------------------------------------------------------------------

bp = Blueprint("crm_targets", __name__, url_prefix="/web/crm", template_folder="web")


@bp.get("/targets")
@page
def targets_page(env):
    """Targets against actuals: every target the user may see whose period
    meets the chosen one (default: this month), with progress."""
    today = env.now.date()
    try:
        start = dt.date.fromisoformat(request.args.get("from") or today.replace(day=1).isoformat())
        end = dt.date.fromisoformat(request.args.get("to") or period_end("month", start).isoformat())
    except ValueError:
        start, end = today.replace(day=1), period_end("month", today.replace(day=1))
    rows = read_progress(env, [["date_from", "<=", end], ["date_to", ">=", start]])
    return render_template("terr/targets.html", title=_("Target progress"), rows=rows,
                           start=start, end=end)


def blueprints():
    return [bp]
