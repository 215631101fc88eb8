"""Approvals on SQLite (issue 4): the approver's inbox over N pending
requests (default 10,000) and a ``win`` action held by a one-level policy,
beside raw SQLAlchemy Core doing the same reads and writes by hand."""
import statistics
import time

import sqlalchemy as sa

from core import approvals
from core.security.auth import set_password

from .customers import env_int, median_ms, new_db
from .results import entry

PASSWORD = "bench-pass-123"


def run(folder, log=print):
    n = env_int("KEEL_BENCH_APPROVALS", 10_000)
    reps = env_int("KEEL_BENCH_APPROVAL_REPS", 200)
    db = new_db(folder, "approvals")
    with db.unit_of_work(None) as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        dept = env["core.department"].create({"code": "BA1", "name": "华南销售部"}).id
        users = env["core.user"]
        manager = users.create({"login": "bench_mgr", "name": "经理", "department_id": dept,
                                "roles": [roles["sales_manager"]]}).id
        rep = users.create({"login": "bench_rep", "name": "销售", "department_id": dept,
                            "roles": [roles["sales_rep"]]}).id
        env["core.department"].browse([dept]).write({"manager_id": manager})
        for uid in (manager, rep):
            set_password(env, uid, PASSWORD)
        env["core.approval_policy"].create({
            "name": "big-deal", "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]],
            "levels": [{"approvers": {"type": "manager"}, "mode": "any"}]})
    with db.unit_of_work(rep) as env:
        customer = env["crm.customer"].create({"name": "基准客户"}).id
        opp_table = env.registry["crm.opportunity"].table
        req_table = env.registry[approvals.REQUEST].table
        task_table = env.registry[approvals.TASK].table
        policy = env.sudo()["core.approval_policy"].search_read([], ["id", "levels"])[0]
    # N opportunities in negotiation, each with a pending request waiting on
    # the manager (made with Core: the setup is not what is measured), and
    # more opportunities for the timed actions
    now = _now()
    extra = reps * 2 + 10
    rows = [{"name": f"商机{i:06d}", "customer_id": customer, "amount": 200000, "stage": "negotiation",
             "owner_id": rep, "department_id": dept, "version": 1, "created_at": now,
             "updated_at": now, "created_by_id": rep, "updated_by_id": rep} for i in range(n + extra)]
    snapshot = {"id": policy["id"], "name": "big-deal", "levels": policy["levels"],
                "allow_self_approval": False, "fallback": "skip", "fallback_user_id": None}
    with db.engine.begin() as conn:
        conn.execute(sa.insert(opp_table), rows)
        ids = conn.execute(sa.select(opp_table.c.id).order_by(opp_table.c.id)).scalars().all()
        conn.execute(sa.insert(req_table), [
            {"policy_id": policy["id"], "policy": snapshot, "model": "crm.opportunity", "record_id": rid,
             "action": "win", "requester_id": rep, "state": "pending", "level": 0,
             "level_started_at": now, "version": 1, "created_at": now, "updated_at": now,
             "created_by_id": rep, "updated_by_id": rep} for rid in ids[:n]])
        req_ids = conn.execute(sa.select(req_table.c.id)).scalars().all()
        conn.execute(sa.insert(task_table), [
            {"request_id": r, "level": 0, "approver_id": manager, "state": "pending", "cosigner": False,
             "escalated": False, "version": 1, "created_at": now, "updated_at": now,
             "created_by_id": rep, "updated_by_id": rep} for r in req_ids])
    db.optimize()
    free = ids[n:]
    out = []

    # -- the inbox ------------------------------------------------------------------------
    api_t, core_t = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        with db.unit_of_work(manager) as env:
            items, total = approvals.inbox(env, 80, 0)
        t1 = time.perf_counter()
        with db.engine.begin() as conn:
            where = sa.and_(task_table.c.approver_id == manager, task_table.c.state == "pending",
                            req_table.c.state == "pending")
            joined = task_table.join(req_table, req_table.c.id == task_table.c.request_id)
            core_items = conn.execute(
                sa.select(req_table.c.id, req_table.c.model, req_table.c.record_id, req_table.c.action,
                          req_table.c.state, req_table.c.level).select_from(joined).where(where)
                .order_by(req_table.c.id.desc()).limit(80)).all()
            core_total = conn.execute(sa.select(sa.func.count()).select_from(joined).where(where)).scalar()
        t2 = time.perf_counter()
        api_t.append(t1 - t0)
        core_t.append(t2 - t1)
    assert total == core_total == n and [i["id"] for i in items] == [r[0] for r in core_items]
    out.append(entry("approval.inbox_page80_ms", median_ms(api_t), "ms", core=median_ms(core_t),
                     target={"max": 100},
                     note=f"waiting on one approver: {n:,} pending requests; page of 80 and the total; "
                          f"median of {reps}"))
    log(f"  inbox: {median_ms(api_t):.2f} ms (Core {median_ms(core_t):.2f} ms)")

    # -- an action held by a one-level policy ------------------------------------------
    held_t, refused_t, core_t = [], [], []
    for i in range(reps):
        rid = free[i]
        t0 = time.perf_counter()
        with db.unit_of_work(rep) as env:
            [outcome] = env["crm.opportunity"].browse([rid]).action("win")
        t1 = time.perf_counter()
        try:
            with db.unit_of_work(rep) as env:
                env["crm.opportunity"].browse([rid]).action("win")
        except Exception as exc:  # noqa: BLE001 — the refusal is what is timed
            refused = exc
        t2 = time.perf_counter()
        with db.engine.begin() as conn:
            core_rid = free[reps + i]
            row = conn.execute(sa.select(opp_table.c.stage, opp_table.c.amount)
                               .where(opp_table.c.id == core_rid)).first()
            assert row.stage == "negotiation" and row.amount > 100000
            conn.execute(sa.select(req_table.c.id).where(
                req_table.c.model == "crm.opportunity", req_table.c.record_id == core_rid,
                req_table.c.action == "win", req_table.c.state == "pending")).first()
            new = conn.execute(sa.insert(req_table).values(
                policy_id=policy["id"], policy=snapshot, model="crm.opportunity", record_id=core_rid,
                action="win", requester_id=rep, state="pending", level=0, level_started_at=now,
                version=1, created_at=now, updated_at=now, created_by_id=rep, updated_by_id=rep)
                .returning(req_table.c.id)).scalar()
            conn.execute(sa.insert(task_table).values(
                request_id=new, level=0, approver_id=manager, state="pending", cosigner=False,
                escalated=False, version=1, created_at=now, updated_at=now, created_by_id=rep,
                updated_by_id=rep))
        t3 = time.perf_counter()
        held_t.append(t1 - t0)
        refused_t.append(t2 - t1)
        core_t.append(t3 - t2)
        assert not outcome.ran and outcome.approval["state"] == "pending"
        assert "already waiting" in str(refused)
    out.append(entry("approval.action_held_ms", median_ms(held_t), "ms", core=median_ms(core_t),
                     target={"max": 5},
                     note=f"win on a big deal: every check, the policy matched, request + task + audit "
                          f"+ notification written; median of {reps}; core = the reads and inserts by hand"))
    out.append(entry("approval.action_refused_ms", median_ms(refused_t), "ms", core=median_ms(core_t),
                     target={"max": 5},
                     note=f"the same action again while it waits: refused with 409; median of {reps}"))
    log(f"  held: {median_ms(held_t):.2f} ms, refused: {median_ms(refused_t):.2f} ms "
        f"(Core {statistics.median(core_t) * 1000:.2f} ms)")
    db.dispose()
    return out


def _now():
    import datetime as dt
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
