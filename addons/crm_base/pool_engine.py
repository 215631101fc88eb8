"""Recycling customers to the lead pool: the rules evaluated in SQL.

:func:`plan` computes, for ``env.now``, what the nightly job does: the
customers that go back to the pool (``recycle``) and those whose owner is
warned (``warn``), each with its pool, rule, clock start and days. For each
active rule of each active pool (in sequence order) it runs one SELECT:

    the rule's domain AND owned AND not in the pool AND unprotected
    AND clock <= now - days            (recycle)
    AND now - days < clock + warn_days - 1 day <= ... (warn: the one day,
        ``warn_days`` before recycling, when the warning goes out)

The clock is ``last_contact_at`` (else ``assigned_at``, else
``created_at``) for "days without a follow-up", ``assigned_at`` (else
``created_at``) for "days since assignment without a deal". Protected,
whatever the rule: won customers (grade ``deal``), locked customers,
customers with an open opportunity, and those matching the pool's
``protect_domain``. A customer matched by several rules goes with the
first. No per-customer query: :func:`recycle` writes one batch per (pool,
owner) and logs in one insert; warnings are one notification per owner and
one copy per department manager.

:func:`preview` is :func:`plan` restricted to what the caller may read —
the dry run of ``/web/crm/pool/preview`` (``?format=json`` for programs).
"""
import datetime as dt

import sqlalchemy as sa

from core.i18n import _, translate
from core.orm.domain import Query, compile_domain

from .workflow import OPEN

MODEL = "crm.customer"
DAY = dt.timedelta(days=1)


def jobs():
    return [{"key": "crm.pool.recycle", "label": _("Recycle customers to the lead pool"),
             "function": "addons.crm_base.pool_engine:recycle_job", "cron": "30 1 * * *"}]


def _subquery(registry, meta, domain):
    query = Query(registry, meta)
    expr = compile_domain(query, domain)
    if expr is None:
        return None
    return sa.select(query.root.c.id).select_from(query.from_).where(expr)


def _clock(t, kind):
    cols = ([t.c.last_contact_at] if kind == "no_followup" else []) + [t.c.assigned_at, t.c.created_at]
    return sa.func.coalesce(*cols, type_=t.c.assigned_at.type)


def _rule_rows(env, pool, rule, warn):
    """The rows (id, name, owner, department, clock) a rule matches now:
    due to recycle, or (``warn``) due for their warning today."""
    registry = env.registry
    meta = registry[MODEL]
    t = meta.table
    opp = registry["crm.opportunity"].table
    clock = _clock(t, rule["clock"])
    cond = [t.c.owner_id.is_not(None), sa.or_(t.c.in_pool.is_(None), t.c.in_pool == sa.false()),
            sa.or_(t.c.grade.is_(None), t.c.grade != "deal"),
            sa.or_(t.c.locked.is_(None), t.c.locked == sa.false()),
            ~sa.exists().where(opp.c.customer_id == t.c.id,
                               sa.or_(opp.c.stage.in_(OPEN), opp.c.stage.is_(None)))]
    matching = _subquery(registry, meta, rule["domain"] or [])
    if matching is not None:
        cond.append(t.c.id.in_(matching))
    protected = _subquery(registry, meta, pool["protect_domain"] or [])
    if protected is not None:
        cond.append(t.c.id.not_in(protected))
    due = env.now - dt.timedelta(days=rule["days"])
    if warn:
        # recycled at clock + days; warned on the day warn_days before
        start = due + dt.timedelta(days=pool["warn_days"])
        cond += [clock <= start, clock > start - DAY]
    else:
        cond.append(clock <= due)
    stmt = sa.select(t.c.id, t.c.name, t.c.owner_id, t.c.department_id, clock.label("clock")) \
        .where(*cond).order_by(t.c.id)
    return env.conn.execute(stmt).all()


def plan(env):
    """``{"recycle": [...], "warn": [...]}`` for ``env.now``; items are
    dicts: ``id``, ``name``, ``owner_id``, ``department_id``, ``pool_id``,
    ``pool``, ``rule_id``, ``rule``, ``clock_start``, ``days``,
    ``recycle_at`` and ``reason`` (English)."""
    sudo = env.sudo()
    pools = {p["id"]: p for p in sudo["crm.pool"].search_read(
        [["active", "=", True]], ["name", "warn_days", "protect_domain"])}
    rules = sudo["crm.pool_rule"].search_read(
        [["active", "=", True], ["pool_id", "in", list(pools) or [0]]],
        ["pool_id", "name", "domain", "clock", "days"], order="sequence, id")
    out = {"recycle": [], "warn": []}
    seen = {"recycle": set(), "warn": set()}
    for rule in rules:
        pool = pools[rule["pool_id"]["id"]]
        for kind in ("recycle", "warn"):
            if kind == "warn" and not pool["warn_days"]:
                continue
            for row in _rule_rows(env, pool, rule, kind == "warn"):
                if row.id in seen[kind] or (kind == "warn" and row.id in seen["recycle"]):
                    continue
                seen[kind].add(row.id)
                clock = row.clock
                if isinstance(clock, str):  # SQLite through coalesce
                    clock = dt.datetime.fromisoformat(clock)
                out[kind].append({
                    "id": row.id, "name": row.name, "owner_id": row.owner_id,
                    "department_id": row.department_id, "pool_id": pool["id"], "pool": pool["name"],
                    "rule_id": rule["id"], "rule": rule["name"], "clock": rule["clock"],
                    "clock_start": clock, "days": rule["days"],
                    "recycle_at": clock + dt.timedelta(days=rule["days"]),
                    "reason": reason(rule, clock)})
    out["warn"] = [w for w in out["warn"] if w["id"] not in seen["recycle"]]
    return out


def reason(rule, clock, lang=None):
    text = (_("Rule %(rule)s: %(days)s days without a follow-up since %(start)s")
            if rule["clock"] == "no_followup" else
            _("Rule %(rule)s: %(days)s days since assignment on %(start)s without a deal"))
    return (translate(text, lang) if lang else text) % {
        "rule": rule["name"], "days": rule["days"], "start": clock.strftime("%Y-%m-%d")}


def recycle(env, planned=None):
    """Do what :func:`plan` says (in the system context): move the due
    customers to their pool, log why, warn the owners. Returns the plan."""
    from .pool_actions import log
    planned = planned if planned is not None else plan(env)
    sudo = env.sudo()
    groups = {}
    for item in planned["recycle"]:
        groups.setdefault((item["pool_id"], item["owner_id"]), []).append(item["id"])
    customers = sudo[MODEL]
    for (pool, owner), ids in groups.items():
        customers.browse(ids).write({"in_pool": True, "owner_id": None, "pool_id": pool,
                                     "previous_owner_id": owner, "released_at": env.now})
    log(env, [{"customer_id": i["id"], "action": "recycle", "from_user_id": i["owner_id"],
               "pool_id": i["pool_id"], "rule_id": i["rule_id"], "clock_start": i["clock_start"],
               "days": i["days"], "reason": i["reason"]} for i in planned["recycle"]])
    warn(env, planned["warn"])
    return planned


def recycle_job(env):
    done = recycle(env)
    return {"recycled": len(done["recycle"]), "warned": len(done["warn"])}


def warn(env, items):
    """One notification per owner listing their customers due back to the
    pool, and a copy to each owner's department manager."""
    from core.services import notify
    if not items:
        return
    by_owner = {}
    for item in items:
        by_owner.setdefault(item["owner_id"], []).append(item)
    users = {u["id"]: u for u in env.sudo()["core.user"].search_read(
        [["id", "in", list(by_owner)]], ["name", "department_id"])}
    depts = {d["id"]: d for d in env.sudo()["core.department"].search_read(
        [["id", "in", [u["department_id"]["id"] for u in users.values() if u["department_id"]]]],
        ["manager_id"])}
    for owner, mine in by_owner.items():
        user = users.get(owner)
        if user is None:
            continue
        names = ", ".join(i["name"] for i in mine)
        when = min(i["recycle_at"] for i in mine).strftime("%Y-%m-%d")

        def subject(lang, n=len(mine), when=when):
            return translate(_("%(count)s of your customers go back to the lead pool on %(date)s"),
                             lang) % {"count": n, "date": when}

        def body(lang, mine=mine):
            return "\n".join(f"{i['name']}: {reason(i, i['clock_start'], lang)}" for i in mine)

        first = env.sudo()[MODEL].browse(mine[0]["id"]) if len(mine) == 1 else None
        notify.send(env, [owner], subject, body, record=first, channels=[], kind="crm.pool.warning")
        dept = depts.get(user["department_id"]["id"]) if user["department_id"] else None
        manager = dept["manager_id"]["id"] if dept and dept["manager_id"] else None
        if manager and manager != owner:
            def copy(lang, n=len(mine), who=user["name"], when=when):
                return translate(_("Copy: %(count)s customers of %(user)s go back to the lead pool "
                                   "on %(date)s"), lang) % {"count": n, "user": who, "date": when}

            def copy_body(lang, names=names, mine=mine):
                return "\n".join(f"{i['name']}: {reason(i, i['clock_start'], lang)}" for i in mine)
            notify.send(env, [manager], copy, copy_body, record=first, channels=[],
                        kind="crm.pool.warning")


def preview(env):
    """The dry run as the caller sees it: :func:`plan` restricted to the
    customers the caller may read."""
    planned = plan(env)
    ids = [i["id"] for kind in planned.values() for i in kind]
    if not ids:
        return planned
    readable = set(env[MODEL].search([["id", "in", ids]]).ids)
    return {kind: [i for i in items if i["id"] in readable] for kind, items in planned.items()}


def cards(env):
    """Workbench: the rep's customers returning to the pool soon (within
    the warning days of their pool's rules), soonest first."""
    if not env.access.allowed(MODEL, "read"):
        return []
    soon = _soon(env)
    if not soon:
        return []
    return [{"key": "crm.pool.soon", "title": _("Customers returning to the pool soon"),
             "sequence": 8, "count": len(soon), "url": "/web/crm.customer?f=mine",
             "empty": _("No customer of yours returns to the pool soon."),
             "items": [{"label": i["name"], "url": f"/web/crm.customer/{i['id']}",
                        "note": i["recycle_at"]} for i in soon[:8]]}]


def _soon(env):
    """The caller's customers that a rule recycles within its pool's
    warning days: one SELECT per rule, with the window widened."""
    sudo = env.sudo()
    pools = {p["id"]: p for p in sudo["crm.pool"].search_read(
        [["active", "=", True]], ["name", "warn_days", "protect_domain"])}
    if not pools:
        return []
    rules = sudo["crm.pool_rule"].search_read(
        [["active", "=", True], ["pool_id", "in", list(pools)]],
        ["pool_id", "name", "domain", "clock", "days"], order="sequence, id")
    found = {}
    for rule in rules:
        pool = pools[rule["pool_id"]["id"]]
        window = max(pool["warn_days"] or 0, 1)
        early = dict(rule, days=max(rule["days"] - window, 0),
                     domain=[*(rule["domain"] or []), ["owner_id", "=", env.uid]])
        for row in _rule_rows(env, pool, early, False):
            clock = dt.datetime.fromisoformat(row.clock) if isinstance(row.clock, str) else row.clock
            at = clock + dt.timedelta(days=rule["days"])
            if row.id not in found or at < found[row.id]["recycle_at"]:
                found[row.id] = {"id": row.id, "name": row.name, "recycle_at": at}
    return sorted(found.values(), key=lambda i: (i["recycle_at"], i["id"]))
