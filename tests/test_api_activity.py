"""``GET /api/v1/users/ID/activity`` over real HTTP: one user's entries of
the audit log, for that user and for audit readers only."""
import pytest

from core.security.roles import apply_grants
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import create_personas, serve_personas


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_api_activity")
    users = create_personas(db)
    with db.unit_of_work("admin") as env:  # reps may not see a customer's level
        role = env["core.role"].search([["code", "=", "sales_rep"]])
        apply_grants(env, role.id, "sales_rep", {"fields": {"crm.customer": {"level": "hidden"}}})
    server, tokens = serve_personas(db, ("R1", "R2", "X"))
    yield {"db": db, "server": server, "users": users, "tokens": tokens}
    server.close()
    drop_module_database(db, "t_api_activity")


def call(world, persona, path, **params):
    return world["server"].call("GET", "/api/v1" + path, token=world["tokens"][persona], params=params)


def test_a_user_reads_their_own_activity_newest_first(world):
    server, r1 = world["server"], world["users"]["R1"]
    made = server.call("POST", "/api/v1/data/crm.customer", token=world["tokens"]["R1"],
                       body={"name": "活动客户", "city": "杭州"})
    assert made.status == 201, made
    rid = made.json["id"]
    assert server.call("PATCH", f"/api/v1/data/crm.customer/{rid}", token=world["tokens"]["R1"],
                       body={"city": "宁波"}).status == 200
    answer = call(world, "R1", f"/users/{r1}/activity", model="crm.customer")
    assert answer.status == 200, answer
    items = answer.json["items"]
    assert [(e["action"], e["record_id"]) for e in items[:2]] == [("write", rid), ("create", rid)]
    assert items[0]["changes"]["city"] == ["杭州", "宁波"] and items[0]["source"] == "api"
    assert all(e["user_id"] == r1 for e in items)
    whole = call(world, "R1", f"/users/{r1}/activity").json["items"]
    assert "login" in [e["action"] for e in whole]  # the sign-in that made the token
    assert len(call(world, "R1", f"/users/{r1}/activity", limit=1).json["items"]) == 1


def test_another_users_activity_is_for_audit_readers_only(world):
    r1 = world["users"]["R1"]
    refused = call(world, "R2", f"/users/{r1}/activity")
    assert refused.status == 403 and refused.error["code"] == "forbidden"
    assert call(world, "X", f"/users/{r1}/activity").status == 403  # a director is no auditor
    answer = call(world, "admin", f"/users/{r1}/activity", model="crm.customer")
    assert answer.status == 200 and answer.json["items"]
    assert call(world, "admin", "/users/999999/activity").status == 404


def test_hidden_fields_stay_hidden_in_activity(world):
    server, r1 = world["server"], world["users"]["R1"]
    rid = server.call("POST", "/api/v1/data/crm.customer", token=world["tokens"]["R1"],
                      body={"name": "分级客户"}).json["id"]
    with world["db"].unit_of_work(r1) as env:  # the level is set by the rep's own code path
        env.sudo()["crm.customer"].browse([rid]).write({"level": "A", "city": "温州"})
    mine = call(world, "R1", f"/users/{r1}/activity", model="crm.customer").json["items"]
    assert all("level" not in (e["changes"] or {}) for e in mine), mine
    full = call(world, "admin", f"/users/{r1}/activity", model="crm.customer").json["items"]
    assert any("level" in (e["changes"] or {}) for e in full)


def test_bad_parameters_are_400(world):
    r1 = world["users"]["R1"]
    assert call(world, "R1", f"/users/{r1}/activity", model="no.such").status == 400
    assert call(world, "R1", f"/users/{r1}/activity", limit="-1").status == 400
