"""Issue 7's story over real HTTP, as the CONTRACT.md personas live it: a
colleague releases a customer to the lead pool, rep r1 claims it (and is
refused past the claim limit with a clear reason), logs a follow-up with
tomorrow as the next contact, gets tomorrow's reminder from the daily job,
takes an opportunity to ``win`` — held by an approval — and manager m1
approves; the won amount is in m1's report and not in the report of the
other team's manager m2. Nothing but the API is used by the personas; the
daily job runs as the scheduler runs it (system context, its own clock).
"""
import datetime as dt
import json

import pytest

from addons.crm_base import cycles
from tests.test_api_security import PASSWORD, Server, create_personas, make_app

TODAY = dt.date.today()
TOMORROW = TODAY + dt.timedelta(days=1)


@pytest.fixture
def office(make_db):
    db = make_db(addons=["crm_base"])
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", "sales_manager"]]).id
        d2 = env["core.department"].search([["code", "=", "D2"]])
        users["M2"] = env["core.user"].create({"login": "m2", "name": "M2 用户", "department_id": d2.id,
                                               "roles": [role]}).id
        from core.security.auth import set_password
        set_password(env, users["M2"], PASSWORD)
        d2.write({"manager_id": users["M2"]})
        # one claim a day from the pool; big deals wait for the rep's manager
        env["crm.pool"].search([]).write({"claim_limit": 1})
        env["core.approval_policy"].create({
            "name": "big-deal", "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]],
            "levels": [{"approvers": {"type": "manager"}, "mode": "any"}]})
    server = Server(make_app(db))
    tokens = {p: server.token(p.lower(), PASSWORD) for p in ("R1", "R2", "R3", "M1", "M2")}
    yield {"db": db, "users": users, "server": server, "tokens": tokens}
    server.close()


def call(office, who, method, path, body=None, params=None):
    return office["server"].call(method, "/api/v1" + path, office["tokens"][who], params=params, body=body)


def ok(answer, status=200):
    assert answer.status == status, (answer.status, answer.text[:600])
    return answer.json


def test_a_day_in_the_life_of_a_rep_and_a_manager(office):
    users = office["users"]
    # r2 gives up two customers: back to the pool, with the reason
    pool_ids = []
    for name in ("杭州云帆网络科技有限公司", "苏州华盛精密机械有限公司"):
        cid = ok(call(office, "R2", "POST", "/data/crm.customer", {"name": name, "city": "杭州"}), 201)["id"]
        released = ok(call(office, "R2", "POST", f"/data/crm.customer/{cid}/actions/release",
                           {"comment": "客户暂无预算"}))
        assert released["in_pool"] is True and released["owner_id"] is None
        pool_ids.append(cid)
    assert call(office, "R2", "GET", f"/data/crm.customer/{pool_ids[0]}").status == 200  # still in the pool

    # r1 finds them in the pool and claims the first
    found = ok(call(office, "R1", "GET", "/data/crm.customer",
                    params={"domain": json.dumps([["in_pool", "=", True]]), "fields": "name,in_pool"}))
    assert {r["id"] for r in found["items"]} == set(pool_ids)
    claimed = ok(call(office, "R1", "POST", f"/data/crm.customer/{pool_ids[0]}/actions/claim"))
    assert claimed["owner_id"]["id"] == users["R1"] and claimed["in_pool"] is False
    # one a day: the second claim is refused with the reason, and nothing changes
    refused = call(office, "R1", "POST", f"/data/crm.customer/{pool_ids[1]}/actions/claim")
    assert refused.status == 409 and refused.error["code"] == "conflict"
    assert refused.error["details"]["reason"] == "claim_limit"
    assert "1" in refused.error["message"]
    assert ok(call(office, "R3", "GET", f"/data/crm.customer/{pool_ids[1]}"))["in_pool"] is True
    # claimed, the customer follows r1's scopes: r2 (its former owner) no longer sees it
    assert call(office, "R2", "GET", f"/data/crm.customer/{pool_ids[0]}").status == 404

    # r1 calls the customer and plans the next contact for tomorrow
    customer = pool_ids[0]
    tomorrow_10 = dt.datetime.combine(TOMORROW, dt.time(10, 0)).isoformat()
    ok(call(office, "R1", "POST", "/data/crm.interaction",
            {"customer_id": customer, "channel": "phone", "summary": "电话沟通了二期需求",
             "next_contact_at": tomorrow_10}), 201)
    row = ok(call(office, "R1", "GET", f"/data/crm.customer/{customer}"))
    assert row["next_contact_at"].startswith(TOMORROW.isoformat())

    # tonight's job (the scheduler's system context, its own clock) reminds r1 of tomorrow's call
    db = office["db"]
    with db.unit_of_work(None, now=dt.datetime.combine(TODAY, dt.time(23, 0))) as env:
        assert cycles.daily(env)["contact"] >= 1
    todos = ok(call(office, "R1", "GET", "/data/core.activity",
                    params={"domain": json.dumps([["done", "=", False], ["record_id", "=", customer]]),
                            "fields": "summary,due_date,model"}))["items"]
    assert [t["due_date"] for t in todos] == [TOMORROW.isoformat()]
    assert todos[0]["model"] == "crm.customer"
    inbox = ok(call(office, "R1", "GET", "/notifications"))
    assert inbox["items"] and inbox["unread"] >= 1
    assert ok(call(office, "R2", "GET", "/data/core.activity",
                   params={"domain": json.dumps([["record_id", "=", customer]])}))["items"] == []

    # an opportunity along the pipeline; winning it waits for m1's approval
    opp = ok(call(office, "R1", "POST", "/data/crm.opportunity",
                  {"name": "云帆 二期网络改造", "customer_id": customer, "amount": "260000.00",
                   "expected_close": TODAY.isoformat()}), 201)["id"]
    for action in ("qualify", "propose", "negotiate"):
        ok(call(office, "R1", "POST", f"/data/crm.opportunity/{opp}/actions/{action}"))
    held = ok(call(office, "R1", "POST", f"/data/crm.opportunity/{opp}/actions/win",
                   {"comment": "客户已盖章"}), 202)
    assert held["approval"]["state"] == "pending"
    assert ok(call(office, "R1", "GET", f"/data/crm.opportunity/{opp}"))["stage"] == "negotiation"
    assert ok(call(office, "M2", "GET", "/approvals", params={"state": "pending"}))["items"] == []
    pending = ok(call(office, "M1", "GET", "/approvals", params={"state": "pending"}))["items"]
    assert [(p["model"], p["record_id"], p["action"]) for p in pending] == [("crm.opportunity", opp, "win")]
    ok(call(office, "M1", "POST", f"/approvals/{pending[0]['id']}/approve", {"comment": "同意"}))
    won = ok(call(office, "R1", "GET", f"/data/crm.opportunity/{opp}"))
    assert won["stage"] == "won" and won["probability"] == 100

    # m1's report holds r1's won amount; m2 (another team) sees none of it
    def won_amounts(who):
        report = ok(call(office, who, "GET", "/reports/crm.won_amount",
                         params={"period": "month", "today": TODAY.isoformat()}))
        return {json.dumps(r, ensure_ascii=False, sort_keys=True) for r in report["rows"]}, report
    mine, report = won_amounts("M1")
    assert any("R1 用户" in r and "260000" in r for r in mine), report
    theirs, report = won_amounts("M2")
    assert not any("R1 用户" in r or "260000" in r for r in theirs), report
    assert call(office, "M2", "GET", f"/data/crm.opportunity/{opp}").status == 404
