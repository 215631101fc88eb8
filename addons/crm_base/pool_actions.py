"""The lead pool's record actions on ``crm.customer`` (``core.record_actions``).

* ``release`` (on: write — the owner or whoever manages them): into the
  pool, no owner, the reason from the comment, logged;
* ``claim`` (on: read — a pool customer the caller may see): refused with
  409 past the pool's claim limit per day, over the ownership cap of the
  rep or of their department, or inside the cooldown of a previous owner;
  else owner = caller, department = caller's, out of the pool, logged;
* ``assign`` with ``{"user_id"}`` (on: write, for those who manage pools —
  sales managers and directors): the customer to that user, logged.

The checks are SQL counts; the moves are one write per batch. Claims and
releases write in the system context after the checks: the caller may not
change a pool customer (claim), nor keep a record they hand to the pool
within their own scope (release) — ``_check_still_allowed`` would refuse
both, and these are exactly the moves the pool exists for.
"""
import datetime as dt

from core.errors import AccessDenied, Conflict, UserInputError
from core.i18n import _

MODEL = "crm.customer"


def record_actions():
    return [
        {"model": MODEL, "action": "release", "label": _("Release to the lead pool"),
         "run": release, "allowed": _releasable, "on": "write"},
        {"model": MODEL, "action": "claim", "label": _("Claim"), "run": claim,
         "allowed": _claimable, "on": "read"},
        {"model": MODEL, "action": "assign", "label": _("Assign"), "run": assign,
         "allowed": _assignable, "params": ["user_id"], "on": "write"},
    ]


# -- helpers ----------------------------------------------------------------------------------
def _rows(records, fields):
    """The customers' values as stored (system context: the caller's rules
    were checked by ``core.record_actions``)."""
    return records.env.sudo()[MODEL].browse(records.ids).read(fields)


def _id(value):
    return value["id"] if isinstance(value, dict) else value


def default_pool(env):
    """The first active pool (``None`` without pools)."""
    found = env.sudo()["crm.pool"].search([["active", "=", True]], limit=1)
    return found.ids[0] if found.ids else None


def log(env, entries):
    """Write ``crm.pool_log`` entries (a list of value dicts) in one batch;
    the system context because nobody creates log lines by hand."""
    for entry in entries:
        entry.setdefault("at", env.now)
        entry.setdefault("by_id", env.uid)
    if entries:
        env.sudo()["crm.pool_log"].create(entries)


def _day_start(env):
    return dt.datetime.combine(env.now.date(), dt.time())


def may_manage(env):
    """Sales managers and directors (who manage pools) assign customers."""
    return env.access.allowed("crm.pool", "write", explicit=True)


# -- release --------------------------------------------------------------------------------
def _releasable(records):
    return set(records.env.sudo()[MODEL].search(
        [["id", "in", records.ids], ["in_pool", "!=", True], ["owner_id", "!=", None]]).ids)


def release(records, comment, params):
    env = records.env
    rows = _rows(records, ["name", "in_pool", "owner_id", "pool_id"])
    inside = [r for r in rows if r["in_pool"]]
    if inside:
        raise Conflict(_("%(name)s is already in the lead pool") % {"name": inside[0]["name"]},
                       {"id": inside[0]["id"], "reason": "in_pool"})
    fallback = default_pool(env)
    by_pool_owner = {}
    for r in rows:
        key = (_id(r["pool_id"]) or fallback, _id(r["owner_id"]))
        by_pool_owner.setdefault(key, []).append(r["id"])
    customers = env.sudo()[MODEL]
    entries = []
    for (pool, owner), ids in by_pool_owner.items():
        customers.browse(ids).write({"in_pool": True, "owner_id": None, "pool_id": pool,
                                     "previous_owner_id": owner, "released_at": env.now})
        entries += [{"customer_id": i, "action": "release", "from_user_id": owner, "pool_id": pool,
                     "reason": comment} for i in ids]
    log(env, entries)


# -- claim ----------------------------------------------------------------------------------
def _claimable(records):
    return set(records.env.sudo()[MODEL].search(
        [["id", "in", records.ids], ["in_pool", "=", True]]).ids)


def claim(records, comment, params):
    env = records.env
    rows = _rows(records, ["name", "in_pool", "pool_id", "previous_owner_id", "released_at"])
    outside = [r for r in rows if not r["in_pool"]]
    if outside:
        raise Conflict(_("%(name)s is not in the lead pool: it has an owner") % {"name": outside[0]["name"]},
                       {"id": outside[0]["id"], "reason": "not_in_pool"})
    pools = {}
    for r in rows:
        pools.setdefault(_id(r["pool_id"]), []).append(r)
    dept = (env.access.department_ids(False) or [None])[0]
    sudo = env.sudo()
    for pool_id, batch in pools.items():
        if pool_id is not None:
            check_claim(env, sudo["crm.pool"].browse(pool_id).read()[0], batch, dept)
    sudo[MODEL].browse(records.ids).write({"owner_id": env.uid, "department_id": dept,
                                           "in_pool": False, "assigned_at": env.now})
    log(env, [{"customer_id": r["id"], "action": "claim", "to_user_id": env.uid,
               "from_user_id": _id(r["previous_owner_id"]), "pool_id": _id(r["pool_id"]),
               "reason": comment} for r in rows])


def check_claim(env, pool, batch, dept):
    """409 naming the reason when the caller may not claim ``batch`` (rows
    of one pool) now."""
    sudo = env.sudo()
    uid = env.uid
    limit = pool["claim_limit"] or 0
    if limit:
        today = sudo["crm.pool_log"].search_count([
            ["action", "=", "claim"], ["to_user_id", "=", uid], ["pool_id", "=", pool["id"]],
            ["at", ">=", _day_start(env)]])
        if today + len(batch) > limit:
            raise Conflict(_("Claim limit reached: %(limit)s claims a day from the pool %(pool)s "
                             "(%(done)s today)") % {"limit": limit, "pool": pool["name"], "done": today},
                           {"reason": "claim_limit", "limit": limit, "claimed_today": today})
    cap = pool["cap_per_rep"] or 0
    if cap:
        owned = sudo[MODEL].search_count([["owner_id", "=", uid], ["in_pool", "!=", True]])
        if owned + len(batch) > cap:
            raise Conflict(_("Ownership cap reached: you own %(owned)s customers, the cap is "
                             "%(cap)s") % {"owned": owned, "cap": cap},
                           {"reason": "cap_per_rep", "cap": cap, "owned": owned})
    cap = pool["cap_per_department"] or 0
    if cap and dept is not None:
        owned = sudo[MODEL].search_count([["department_id", "=", dept], ["in_pool", "!=", True],
                                          ["owner_id", "!=", None]])
        if owned + len(batch) > cap:
            raise Conflict(_("Department ownership cap reached: your department owns %(owned)s "
                             "customers, the cap is %(cap)s") % {"owned": owned, "cap": cap},
                           {"reason": "cap_per_department", "cap": cap, "owned": owned})
    days = pool["cooldown_days"] or 0
    if days:
        until = env.now - dt.timedelta(days=days)
        for r in batch:
            if _id(r["previous_owner_id"]) == uid and r["released_at"] and r["released_at"] > until:
                free = r["released_at"] + dt.timedelta(days=days)
                raise Conflict(_("You released %(name)s less than %(days)s days ago: you may claim it "
                                 "again from %(date)s") % {"name": r["name"], "days": days,
                                                           "date": free.strftime("%Y-%m-%d %H:%M")},
                               {"reason": "cooldown", "id": r["id"], "cooldown_days": days,
                                "available_at": free.isoformat()})


# -- assign ---------------------------------------------------------------------------------
def _assignable(records):
    return set(records.ids) if may_manage(records.env) else set()


def assign(records, comment, params):
    env = records.env
    if not may_manage(env):
        raise AccessDenied(_("Only sales managers and directors assign customers"),
                           {"action": "assign"})
    user_id = params.get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise UserInputError(_("assign: user_id must be the id of a user"), {"parameter": "user_id"})
    users = env.sudo()["core.user"].search_read([["id", "=", user_id], ["active", "=", True]],
                                                 ["department_id"])
    if not users:
        raise UserInputError(_("assign: no active user %(id)s") % {"id": user_id},
                             {"parameter": "user_id"})
    dept = _id(users[0]["department_id"])
    rows = _rows(records, ["owner_id", "pool_id", "in_pool"])
    env.sudo()[MODEL].browse(records.ids).write({"owner_id": user_id, "department_id": dept,
                                                 "in_pool": False, "assigned_at": env.now})
    log(env, [{"customer_id": r["id"], "action": "assign", "from_user_id": _id(r["owner_id"]),
               "to_user_id": user_id, "pool_id": _id(r["pool_id"]) if r["in_pool"] else None,
               "reason": comment} for r in rows])
