"""Approvals over real HTTP (CONTRACT.md §3): the ``crm.opportunity``
pipeline driven by the CONTRACT.md personas with a two-level approval on
``win`` above an amount — D1's manager M1 first, then the director X.

``POST …/actions/win`` answers 202 ``{"approval": {"id", "state"}}`` and
leaves the record as it was; ``GET /approvals?state=pending`` is each
approver's inbox; ``POST /approvals/ID/approve|reject`` decide.
"""
import pytest

from tests.conftest import drop_module_database, module_database
from tests.test_api_security import create_personas, one_customer_per_rep, serve_personas

SCHEMA = "t_api_approvals"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA)
    users = create_personas(db)
    with db.unit_of_work("admin") as env:  # D1's manager is M1
        d1 = env["core.department"].search([["code", "=", "D1"]])
        d1.write({"manager_id": users["M1"]})
    customers = one_customer_per_rep(db, users)
    server, tokens = serve_personas(db)
    world = {"db": db, "server": server, "users": users, "customers": customers, "tokens": tokens}
    policy = call(world, "admin", "POST", "/data/core.approval_policy", body={
        "name": "big-deal", "model": "crm.opportunity", "action": "win",
        "condition": [["amount", ">", 100000]],
        "levels": [{"approvers": {"type": "manager"}, "mode": "any"},
                   {"approvers": {"type": "role", "role": "sales_director"}, "mode": "all"}]})
    assert policy.status == 201, policy
    yield world
    server.close()
    drop_module_database(db, SCHEMA)


def call(world, persona, method, path, **kw):
    return world["server"].call(method, "/api/v1" + path, token=world["tokens"][persona], **kw)


def negotiating(world, rep, amount):
    answer = call(world, rep, "POST", "/data/crm.opportunity",
                  body={"name": f"{rep} 商机 {amount}", "customer_id": world["customers"][rep],
                        "amount": str(amount)})
    assert answer.status == 201, answer
    rid = answer.json["id"]
    for action in ("qualify", "propose", "negotiate"):
        assert act(world, rep, rid, action).status == 200
    return rid


def act(world, persona, rid, action, comment=None):
    return call(world, persona, "POST", f"/data/crm.opportunity/{rid}/actions/{action}",
                body={"comment": comment} if comment is not None else None)


def stage(world, rid):
    return call(world, "admin", "GET", f"/data/crm.opportunity/{rid}").json["stage"]


def pending(world, persona):
    answer = call(world, persona, "GET", "/approvals", params={"state": "pending"})
    assert answer.status == 200, answer
    assert answer.json["total"] == len(answer.json["items"])
    return answer.json["items"]


def test_a_big_win_goes_through_two_levels(world):
    small = negotiating(world, "R1", 50000)
    assert act(world, "R1", small, "win").status == 200 and stage(world, small) == "won"
    rid = negotiating(world, "R1", 250000)
    held = act(world, "R1", rid, "win", "大单，请批准")
    assert held.status == 202, held
    request = held.json["approval"]
    assert request["state"] == "pending" and stage(world, rid) == "negotiation"
    assert act(world, "R1", rid, "win").status == 409  # already waiting
    items = pending(world, "M1")
    assert [(i["id"], i["model"], i["record_id"], i["action"], i["state"], i["level"]) for i in items] == [
        (request["id"], "crm.opportunity", rid, "win", "pending", 0)]
    assert pending(world, "X") == [] and pending(world, "R2") == []
    refused = call(world, "R2", "POST", f"/approvals/{request['id']}/approve", body={})
    assert refused.status == 404  # R2 has no part in it
    first = call(world, "M1", "POST", f"/approvals/{request['id']}/approve", body={"comment": "同意"})
    assert first.status == 200 and first.json["level"] == 1 and first.json["state"] == "pending"
    assert pending(world, "M1") == [] and [i["id"] for i in pending(world, "X")] == [request["id"]]
    final = call(world, "X", "POST", f"/approvals/{request['id']}/approve", body={})
    assert final.status == 200 and final.json["state"] == "approved", final
    assert stage(world, rid) == "won"
    history = call(world, "R1", "GET", f"/data/crm.opportunity/{rid}/history").json["items"]
    steps = [(e["action"], (e["changes"] or {}).get("event") or (e["changes"] or {}).get("action"))
             for e in reversed(history) if e["action"] in ("approval", "transition")]
    assert steps[-5:] == [("approval", "submitted"), ("approval", "approved"), ("approval", "approved"),
                          ("approval", "approved_final"), ("transition", "win")]
    done = call(world, "R1", "GET", "/approvals", params={"state": "approved"}).json["items"]
    assert request["id"] in [i["id"] for i in done]  # the requester's own, decided


def test_a_rejection_leaves_the_deal_and_allows_asking_again(world):
    rid = negotiating(world, "R2", 300000)
    request = act(world, "R2", rid, "win").json["approval"]
    rejected = call(world, "M1", "POST", f"/approvals/{request['id']}/reject", body={"comment": "再谈谈价格"})
    assert rejected.status == 200 and rejected.json["state"] == "rejected"
    assert stage(world, rid) == "negotiation"
    again = call(world, "M1", "POST", f"/approvals/{request['id']}/approve", body={})
    assert again.status == 409 and again.error["code"] == "conflict"
    assert act(world, "R2", rid, "win").status == 202


def test_the_requester_withdraws_and_outsiders_see_nothing(world):
    rid = negotiating(world, "R1", 400000)
    request = act(world, "R1", rid, "win").json["approval"]
    assert call(world, "R3", "GET", f"/approvals/{request['id']}").status == 404
    assert call(world, "B", "GET", f"/approvals/{request['id']}").status == 404
    seen = call(world, "M1", "GET", f"/approvals/{request['id']}")
    assert seen.status == 200 and [t["approver"] for t in seen.json["tasks"]] == ["M1 用户"]
    assert call(world, "M1", "POST", f"/approvals/{request['id']}/withdraw", body={}).status == 403
    gone = call(world, "R1", "POST", f"/approvals/{request['id']}/withdraw", body={})
    assert gone.status == 200 and gone.json["state"] == "withdrawn"
    assert request["id"] not in [i["id"] for i in pending(world, "M1")]


def test_bad_calls_are_400(world):
    assert call(world, "R1", "GET", "/approvals", params={"state": "maybe"}).status == 400
    answer = call(world, "M1", "POST", "/approvals/1/cosign", body={"user_id": "x"})
    assert answer.status == 400 and "user_id" in answer.error["message"]
    assert call(world, "M1", "POST", "/approvals/1/approve", raw=b"[1]").status == 400
