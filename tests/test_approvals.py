"""Approval chains through the model API (issue 4 point 3) on the
``crm.opportunity`` workflow: levels, modes, fallbacks, self-approval,
co-signers, sending back, withdrawal, frozen policies, concurrency.

Org: company HQ (manager BOSS) → D1 (manager M1: reps R1, R2); directors
X1 and X2 (role sales_director); a rep R9 in D9 that has no manager.
"""
import itertools
import threading

import pytest

from core import approvals
from core.errors import AccessDenied, Conflict, NotFound, UserInputError

BIG = 200000
_CUSTOMERS = itertools.count(1)


@pytest.fixture
def org(db):
    with db.unit_of_work(None) as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        depts, users = env["core.department"], env["core.user"]
        hq = depts.create({"code": "HQ", "name": "总部"}).id
        d1 = depts.create({"code": "D1", "name": "华东销售部", "parent_id": hq}).id
        d9 = depts.create({"code": "D9", "name": "无经理部"}).id

        def user(login, dept, role):
            return users.create({"login": login, "name": login.upper(), "department_id": dept,
                                 "roles": [roles[role]]}).id
        u = {"BOSS": user("boss", hq, "sales_director"), "M1": user("m1", d1, "sales_manager"),
             "R1": user("r1", d1, "sales_rep"), "R2": user("r2", d1, "sales_rep"),
             "X1": user("x1", None, "sales_director"), "X2": user("x2", None, "sales_director"),
             "R9": user("r9", d9, "sales_rep")}
        depts.browse([hq]).write({"manager_id": u["BOSS"]})
        depts.browse([d1]).write({"manager_id": u["M1"]})
    return {"db": db, "users": u}


def policy(db, levels, name="big-deal", **extra):
    with db.unit_of_work(None) as env:
        return env["core.approval_policy"].create({
            "name": name, "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]], "levels": levels, **extra}).id


def opportunity(org, owner="R1", amount=BIG):
    """An opportunity of ``owner`` in negotiation, ready to be won."""
    db, u = org["db"], org["users"]
    with db.unit_of_work(u[owner]) as env:
        # a name of its own: two companies of one name would be duplicates (refused)
        customer = env["crm.customer"].create({"name": f"{owner} 的客户 {amount} #{next(_CUSTOMERS)}"}).id
        opp = env["crm.opportunity"].create({"name": f"{owner} 商机", "customer_id": customer,
                                             "amount": amount})
        for action in ("qualify", "propose", "negotiate"):
            opp.action(action)
        return opp.id


def win(org, who, rid, comment=None):
    with org["db"].unit_of_work(org["users"][who]) as env:
        [outcome] = env["crm.opportunity"].browse([rid]).action("win", comment)
        return outcome


def stage(org, rid):
    with org["db"].unit_of_work(None) as env:
        return env["crm.opportunity"].browse([rid]).read(["stage"])[0]["stage"]


def act(org, who, fn, request_id, *args):
    with org["db"].unit_of_work(org["users"][who]) as env:
        return fn(env, request_id, *args)


def inbox(org, who):
    with org["db"].unit_of_work(org["users"][who]) as env:
        return [(i["id"], i["record_id"]) for i in approvals.inbox(env)[0]]


def events(org, rid):
    with org["db"].unit_of_work(None) as env:
        from core.security import audit
        return [(e["action"], (e["changes"] or {}).get("event")) for e in
                reversed(audit.history(env, "crm.opportunity", rid))
                if e["action"] in ("approval", "transition")]


TWO_LEVELS = [{"approvers": {"type": "manager"}, "mode": "any"},
              {"approvers": {"type": "role", "role": "sales_director"}, "mode": "all"}]


def test_a_held_action_waits_for_every_level_then_runs_as_the_requester(org):
    policy(org["db"], TWO_LEVELS)
    rid = opportunity(org)
    small = opportunity(org, amount=5000)
    assert win(org, "R1", small).ran and stage(org, small) == "won"  # the condition does not hold
    outcome = win(org, "R1", rid, "请批准")
    assert not outcome.ran and outcome.approval["state"] == "pending"
    assert stage(org, rid) == "negotiation"  # the record is left as it was
    request = outcome.approval["id"]
    assert inbox(org, "M1") == [(request, rid)] and inbox(org, "X1") == []
    with pytest.raises(Conflict, match="already waiting"):
        win(org, "R1", rid)
    with pytest.raises(NotFound):  # R2 has no part in it
        act(org, "R2", approvals.approve, request)
    assert act(org, "M1", approvals.approve, request, "ok")["level"] == 1
    assert inbox(org, "M1") == [] and {x for x in ("X1", "X2", "BOSS") if inbox(org, x)} == {"X1", "X2", "BOSS"}
    assert act(org, "X1", approvals.approve, request)["state"] == "pending"  # mode all: X2, BOSS wait
    act(org, "BOSS", approvals.approve, request)
    done = act(org, "X2", approvals.approve, request)
    assert done["state"] == "approved" and stage(org, rid) == "won"
    with org["db"].unit_of_work(None) as env:
        from core.security import audit
        [moved] = [e for e in audit.history(env, "crm.opportunity", rid)
                   if e["action"] == "transition" and e["changes"]["action"] == "win"]
        assert moved["user_id"] == org["users"]["R1"]  # run as the requester
    assert events(org, rid)[-5:] == [("approval", "approved"), ("approval", "approved"),
                                     ("approval", "approved"), ("approval", "approved_final"),
                                     ("transition", None)]


def test_rejection_ends_the_request_and_tells_the_requester(org):
    policy(org["db"], TWO_LEVELS)
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    with pytest.raises(AccessDenied):  # the requester is no approver
        act(org, "R1", approvals.approve, request)
    assert act(org, "M1", approvals.reject, request, "价格太低")["state"] == "rejected"
    assert stage(org, rid) == "negotiation" and inbox(org, "M1") == []
    with org["db"].unit_of_work(None) as env:
        notes = env["core.notification"].search_read([["owner_id", "=", org["users"]["R1"]]], ["message"])
        assert any("价格太低" in n["message"] for n in notes)
    with pytest.raises(Conflict):
        act(org, "M1", approvals.approve, request)
    assert not win(org, "R1", rid).ran  # a new request may be made


def test_the_requester_may_withdraw(org):
    policy(org["db"], TWO_LEVELS)
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    with pytest.raises(AccessDenied):
        act(org, "M1", approvals.withdraw, request)
    assert act(org, "R1", approvals.withdraw, request)["state"] == "withdrawn"
    assert inbox(org, "M1") == [] and stage(org, rid) == "negotiation"


def test_self_approval_is_refused_unless_allowed(org):
    policy(org["db"], [{"approvers": {"type": "role", "role": "sales_director"}, "mode": "any"}])
    with org["db"].unit_of_work(None) as env:  # BOSS (a director) is the owner now
        customer = env["crm.customer"].create({"name": "老板客户", "owner_id": org["users"]["BOSS"]}).id
        opp = env["crm.opportunity"].create({"name": "老板商机", "customer_id": customer, "amount": BIG,
                                             "owner_id": org["users"]["BOSS"]})
        rid = opp.id
    with org["db"].unit_of_work(org["users"]["BOSS"]) as env:
        for action in ("qualify", "propose", "negotiate"):
            env["crm.opportunity"].browse([rid]).action(action)
    request = win(org, "BOSS", rid).approval["id"]
    assert inbox(org, "BOSS") == []  # not their own approver
    assert {x for x in ("X1", "X2") if inbox(org, x)} == {"X1", "X2"}
    act(org, "X2", approvals.approve, request)
    assert stage(org, rid) == "won"


def test_a_manager_asking_goes_to_the_manager_above(org):
    policy(org["db"], [{"approvers": {"type": "manager"}, "mode": "any"}])
    with org["db"].unit_of_work(None) as env:
        customer = env["crm.customer"].create({"name": "经理客户", "owner_id": org["users"]["M1"]}).id
        rid = env["crm.opportunity"].create({"name": "经理商机", "customer_id": customer, "amount": BIG,
                                             "owner_id": org["users"]["M1"]}).id
    with org["db"].unit_of_work(org["users"]["M1"]) as env:
        for action in ("qualify", "propose", "negotiate"):
            env["crm.opportunity"].browse([rid]).action(action)
    request = win(org, "M1", rid).approval["id"]
    assert inbox(org, "M1") == [] and inbox(org, "BOSS") == [(request, rid)]


def test_a_level_with_nobody_follows_the_fallback(org):
    db = org["db"]
    policy(db, [{"approvers": {"type": "manager"}, "mode": "any"},
                {"approvers": {"type": "user", "logins": ["x1"]}, "mode": "any"}])
    rid = opportunity(org, owner="R9")  # D9 has no manager: the first level is skipped
    request = win(org, "R9", rid).approval["id"]
    assert inbox(org, "X1") == [(request, rid)]
    assert ("approval", "skipped") in events(org, rid)
    with db.unit_of_work(None) as env:
        env["core.approval_policy"].search([]).write({"fallback": "user",
                                                      "fallback_user_id": org["users"]["X2"]})
    other = opportunity(org, owner="R9")
    request2 = win(org, "R9", other).approval["id"]
    assert inbox(org, "X2") == [(request2, other)]  # the fallback user takes the empty level
    assert ("approval", "fallback") in events(org, other)


def test_every_level_empty_and_skipped_runs_the_action_at_once(org):
    policy(org["db"], [{"approvers": {"type": "manager"}, "mode": "any"}])
    rid = opportunity(org, owner="R9")
    assert win(org, "R9", rid).ran and stage(org, rid) == "won"
    assert ("approval", "skipped") in events(org, rid)


def test_a_policy_changed_later_does_not_change_pending_requests(org):
    db = org["db"]
    policy(db, [{"approvers": {"type": "manager"}, "mode": "any"}])
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    with db.unit_of_work(None) as env:
        env["core.approval_policy"].search([]).write({"levels": TWO_LEVELS})
    assert act(org, "M1", approvals.approve, request)["state"] == "approved"  # one level, as started
    assert stage(org, rid) == "won"


def test_cosigner_and_send_back(org):
    policy(org["db"], TWO_LEVELS)
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    act(org, "M1", approvals.add_cosigner, request, org["users"]["R2"], "请一起看")
    assert act(org, "M1", approvals.approve, request)["level"] == 0  # waits for the co-signer
    assert act(org, "R2", approvals.approve, request)["level"] == 1
    with pytest.raises(AccessDenied):  # M1's part is done: the request no longer waits on M1
        act(org, "M1", approvals.approve, request)
    back = act(org, "X1", approvals.send_back, request, "请经理再确认")
    assert back["level"] == 0 and inbox(org, "M1") == [(request, rid)] and inbox(org, "X2") == []
    with pytest.raises(Conflict):  # at the first level there is nothing to go back to
        act(org, "M1", approvals.send_back, request)


def test_bad_policies_are_refused_with_the_key_path(org):
    with pytest.raises(UserInputError, match=r"levels\[1\]\.approvers\.role: unknown role 'x'"):
        policy(org["db"], [{"approvers": {"type": "manager"}},
                           {"approvers": {"type": "role", "role": "x"}}])
    with pytest.raises(UserInputError, match=r"levels\[0\]\.mode"):
        policy(org["db"], [{"approvers": {"type": "manager"}, "mode": "some"}])


def test_requests_and_tasks_cannot_be_written_through_the_model_api(org):
    policy(org["db"], TWO_LEVELS)
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    with org["db"].unit_of_work("admin") as env:
        with pytest.raises(AccessDenied):
            env["core.approval_request"].browse([request]).write({"state": "approved"})
        with pytest.raises(AccessDenied):
            env["core.approval_task"].search([]).unlink()


def test_two_approvers_at_the_same_moment_advance_the_level_once(org):
    policy(org["db"], [{"approvers": {"type": "role", "role": "sales_director"}, "mode": "any"}])
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    barrier = threading.Barrier(3)
    results = {}

    def approve(who):
        barrier.wait()
        try:
            results[who] = act(org, who, approvals.approve, request)["state"]
        except Conflict as exc:
            results[who] = f"conflict: {exc}"
    threads = [threading.Thread(target=approve, args=(w,)) for w in ("X1", "X2", "BOSS")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sum(v == "approved" for v in results.values()) == 1, results
    assert stage(org, rid) == "won"
    assert [e for e in events(org, rid) if e[0] == "transition"][-1:] == [("transition", None)]
    assert sum(1 for e in events(org, rid) if e == ("approval", "approved_final")) == 1
    assert sum(1 for e in events(org, rid) if e[0] == "transition") == 4  # 3 to negotiation, 1 win


def test_a_policy_made_in_the_same_unit_of_work_holds_at_once(org):
    """Policies are cached per security version; a transaction that changes
    them sees its own change, and a rolled-back one leaves no trace."""
    rid = opportunity(org)
    win_twice = opportunity(org)
    db = org["db"]
    with db.unit_of_work(org["users"]["R1"]) as env:  # the cache holds "no policy" now
        assert env["crm.opportunity"].browse([rid]).allowed_actions()[rid]
    try:
        with db.unit_of_work(org["users"]["R1"]) as env:
            env.sudo()["core.approval_policy"].create({
                "name": "tmp", "model": "crm.opportunity", "action": "win",
                "levels": [{"approvers": {"type": "manager"}}]})
            [held] = env["crm.opportunity"].browse([rid]).action("win")
            assert not held.ran
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert win(org, "R1", win_twice).ran  # the rolled-back policy is gone


def test_waiting_approvers_are_reminded_then_escalated_to_their_manager(org):
    import datetime as dt
    db, u = org["db"], org["users"]
    policy(db, [{"approvers": {"type": "manager"}, "mode": "any"}],
           remind_after_hours=1, escalate_after_hours=2)
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]

    def job(hours):
        with db.unit_of_work(None) as env:
            env.now = env.now + dt.timedelta(hours=hours)
            return approvals.remind_and_escalate(env)
    assert job(0.5) == {"reminded": 0, "escalated": 0}  # not waited long enough
    assert job(1.5) == {"reminded": 1, "escalated": 0}
    assert job(1.6) == {"reminded": 0, "escalated": 0}  # once per period
    assert job(3) == {"reminded": 1, "escalated": 1}  # M1's manager BOSS joins the level
    assert job(3.1)["escalated"] == 0
    assert inbox(org, "BOSS") == [(request, rid)] and inbox(org, "M1") == [(request, rid)]
    with db.unit_of_work(None) as env:
        notes = env["core.notification"].search_read([["owner_id", "=", u["M1"]]], ["message"])
        assert sum("reminder" in n["message"] for n in notes) == 2
    assert ("approval", "reminded") in events(org, rid) and ("approval", "escalated") in events(org, rid)
    act(org, "BOSS", approvals.approve, request)
    assert stage(org, rid) == "won"
