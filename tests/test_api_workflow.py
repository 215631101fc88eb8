"""Workflow actions over real HTTP (CONTRACT.md §3, §6): the opportunity
pipeline driven by the CONTRACT.md personas of ``tests/test_api_security``
(departments D1: manager M1, reps R1, R2; D2: rep R3; director X; buyer B).

``POST /api/v1/data/MODEL/ID/actions/ACTION`` answers 200 with the record,
409 with ``details.allowed_actions``, 403 for roles the transition does not
allow, 422 with ``details.fields``, and 404 for a record the caller may not
change; ``GET /meta/models/MODEL`` describes the workflow. Matrices are
changed as data, through the API, by the admin.
"""
import contextlib

import pytest

from tests.conftest import drop_module_database, module_database
from tests.test_api_security import create_personas, one_customer_per_rep, serve_personas

SCHEMA = "t_api_workflow"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA)
    users = create_personas(db)
    customers = one_customer_per_rep(db, users)
    server, tokens = serve_personas(db)
    yield {"db": db, "server": server, "users": users, "customers": customers, "tokens": tokens}
    server.close()
    drop_module_database(db, SCHEMA)


def call(world, persona, method, path, **kw):
    return world["server"].call(method, "/api/v1" + path, token=world["tokens"][persona], **kw)


def opportunity(world, rep="R1", **values):
    """A new opportunity created over the API by ``rep``; its id."""
    answer = call(world, rep, "POST", "/data/crm.opportunity",
                  body={"name": f"{rep} 商机", "customer_id": world["customers"][rep], "amount": "50000",
                        **values})
    assert answer.status == 201, answer
    assert answer.json["stage"] == "new"
    return answer.json["id"]


def act(world, persona, rid, action, comment=None):
    return call(world, persona, "POST", f"/data/crm.opportunity/{rid}/actions/{action}",
                body={"comment": comment} if comment is not None else None)


@contextlib.contextmanager
def transition_changed(world, action, **values):
    """The admin changes a transition through the API, and restores it."""
    found = call(world, "admin", "GET", "/data/core.workflow_transition",
                 params={"domain": f'[["model", "=", "crm.opportunity"], ["action", "=", "{action}"]]',
                         "fields": ",".join(["id", *values])})
    assert found.status == 200 and found.json["total"] == 1, found
    row = found.json["items"][0]
    before = {k: row[k] for k in values}
    changed = call(world, "admin", "PATCH", f"/data/core.workflow_transition/{row['id']}", body=values)
    assert changed.status == 200, changed
    try:
        yield
    finally:
        restored = call(world, "admin", "PATCH", f"/data/core.workflow_transition/{row['id']}", body=before)
        assert restored.status == 200, restored


# -- metadata --------------------------------------------------------------------------------
def test_meta_describes_the_workflow(world):
    answer = call(world, "R1", "GET", "/meta/models/crm.opportunity", headers={"Accept-Language": "en"})
    assert answer.status == 200, answer
    flow = answer.json["workflow"]
    assert flow["field"] == "stage"
    assert [s["code"] for s in flow["states"]] == ["new", "qualified", "proposal", "negotiation",
                                                   "won", "lost"]
    assert {s["code"]: (s["terminal"], s["folded"]) for s in flow["states"]}["lost"] == (True, True)
    assert flow["states"][0] == {"code": "new", "label": "New", "sequence": 10, "folded": False,
                                 "terminal": False}
    transitions = {t["action"]: t for t in flow["transitions"]}
    assert transitions["win"]["from"] == ["negotiation"] and transitions["win"]["to"] == "won"
    assert transitions["lose"]["from"] == ["new", "qualified", "proposal", "negotiation"]
    assert transitions["reopen"] == {"action": "reopen", "label": "Reopen", "from": ["lost"], "to": "new",
                                     "required": []}
    stage = next(f for f in answer.json["fields"] if f["name"] == "stage")
    assert stage["readonly"] is True
    customer = call(world, "R1", "GET", "/meta/models/crm.customer")
    assert "workflow" not in customer.json


# -- the pipeline ----------------------------------------------------------------------------
def test_a_rep_drives_an_opportunity_through_the_pipeline(world):
    rid = opportunity(world)
    versions = []
    for action, to in (("qualify", "qualified"), ("propose", "proposal"),
                       ("negotiate", "negotiation"), ("win", "won")):
        answer = act(world, "R1", rid, action, comment=f"{action} ok")
        assert answer.status == 200, answer
        assert answer.json["id"] == rid and answer.json["stage"] == to
        versions.append(answer.json["version"])
    assert versions == sorted(versions) and len(set(versions)) == 4
    record = call(world, "R1", "GET", f"/data/crm.opportunity/{rid}").json
    assert record["stage"] == "won" and record["probability"] == 100
    history = call(world, "R1", "GET", f"/data/crm.opportunity/{rid}/history").json["items"]
    steps = [(e["changes"]["action"], e["changes"]["from"], e["changes"]["to"], e["changes"]["comment"])
             for e in reversed(history) if e["action"] == "transition"]
    assert steps == [("qualify", "new", "qualified", "qualify ok"),
                     ("propose", "qualified", "proposal", "propose ok"),
                     ("negotiate", "proposal", "negotiation", "negotiate ok"),
                     ("win", "negotiation", "won", "win ok")]
    assert all(e["source"] == "api" and e["user_id"] == world["users"]["R1"]
               for e in history if e["action"] == "transition")
    # won: the amount is locked, for the director too
    locked = call(world, "X", "PATCH", f"/data/crm.opportunity/{rid}", body={"amount": "1"})
    assert locked.status == 403 and locked.error["details"]["field"] == "amount", locked


def test_lose_and_reopen(world):
    rid = opportunity(world, "R3", lost_reason="no budget")
    assert act(world, "R3", rid, "lose", "no budget").json["stage"] == "lost"
    assert act(world, "R3", rid, "reopen").json["stage"] == "new"


def test_a_client_asks_which_actions_it_may_run(world):
    rid = opportunity(world)
    path = f"/data/crm.opportunity/{rid}/actions"
    assert call(world, "R1", "GET", path).json == {"allowed_actions": ["qualify", "lose"]}
    assert call(world, "X", "GET", path).json == {"allowed_actions": ["qualify", "lose"]}
    assert call(world, "R2", "GET", path).status == 404  # not theirs: as missing
    with transition_changed(world, "qualify", roles=["sales_director"]):
        assert call(world, "R1", "GET", path).json == {"allowed_actions": ["lose"]}
        assert call(world, "X", "GET", path).json == {"allowed_actions": ["qualify", "lose"]}


def test_an_action_from_the_wrong_state_is_409_with_the_allowed_actions(world):
    rid = opportunity(world)
    answer = act(world, "R1", rid, "win")
    assert answer.status == 409, answer
    assert answer.error["code"] == "conflict"
    assert answer.error["details"]["allowed_actions"] == ["qualify", "lose"]
    assert "win" in answer.error["message"]
    assert call(world, "R1", "GET", f"/data/crm.opportunity/{rid}").json["stage"] == "new"


def test_a_role_the_transition_does_not_allow_is_403(world):
    rid = opportunity(world)
    for action in ("qualify", "propose", "negotiate"):
        assert act(world, "R1", rid, action).status == 200
    with transition_changed(world, "win", roles=["sales_manager"]):
        refused = act(world, "R1", rid, "win")
        assert refused.status == 403 and refused.error["code"] == "forbidden", refused
        assert refused.error["details"]["action"] == "win"
        assert act(world, "X", rid, "win").status == 403  # a director is not a sales manager
        done = act(world, "M1", rid, "win")  # R1's manager
        assert done.status == 200 and done.json["stage"] == "won", done
    other = opportunity(world)
    assert act(world, "R1", other, "qualify").status == 200  # restored: any CRM role again


def test_empty_required_fields_are_422_naming_them(world):
    rid = opportunity(world)
    assert act(world, "R1", rid, "qualify").status == 200
    with transition_changed(world, "propose", required_fields=["expected_close", "contact_id"]):
        answer = act(world, "R1", rid, "propose")
        assert answer.status == 422 and answer.error["code"] == "validation_error", answer
        assert answer.error["details"]["fields"] == ["expected_close", "contact_id"]
        assert call(world, "R1", "PATCH", f"/data/crm.opportunity/{rid}",
                    body={"expected_close": "2027-03-31"}).status == 200
        assert act(world, "R1", rid, "propose").error["details"]["fields"] == ["contact_id"]
    assert act(world, "R1", rid, "propose").json["stage"] == "proposal"


def test_a_rep_cannot_run_an_action_on_a_colleagues_opportunity(world):
    theirs = opportunity(world, "R2")
    missing = 2_000_000_000
    for persona in ("R1", "R3", "B"):
        hidden = act(world, persona, theirs, "qualify")
        absent = act(world, persona, missing, "qualify")
        assert hidden.status == absent.status == 404, (persona, hidden, absent)
        assert hidden.text.replace(str(theirs), "ID") == absent.text.replace(str(missing), "ID")
    assert call(world, "X", "GET", f"/data/crm.opportunity/{theirs}").json["stage"] == "new"
    assert act(world, "M1", theirs, "qualify").status == 200  # R2's manager may
    assert act(world, "X", theirs, "propose").status == 200  # so may the director


def test_the_stage_is_never_written_directly(world):
    rid = opportunity(world)
    patched = call(world, "admin", "PATCH", f"/data/crm.opportunity/{rid}", body={"stage": "won"})
    assert patched.status == 403 and patched.error["details"]["field"] == "stage", patched
    assert "win" in patched.error["details"]["actions"]
    created = call(world, "R1", "POST", "/data/crm.opportunity",
                   body={"name": "x", "customer_id": world["customers"]["R1"], "stage": "won"})
    assert created.status == 422 and created.error["details"]["field"] == "stage", created


def test_bad_requests_name_what_is_wrong(world):
    rid = opportunity(world)
    unknown = act(world, "R1", rid, "teleport")
    assert unknown.status == 400 and "teleport" in unknown.error["message"], unknown
    bad = call(world, "R1", "POST", f"/data/crm.opportunity/{rid}/actions/qualify", body={"comment": 5})
    assert bad.status == 400 and bad.error["details"]["parameter"] == "comment", bad
    no_flow = call(world, "R1", "POST", f"/data/crm.customer/{world['customers']['R1']}/actions/qualify")
    assert no_flow.status == 400 and "no workflow" in no_flow.error["message"], no_flow
    assert call(world, "R1", "POST", f"/data/crm.opportunity/{rid}/actions/qualify").status == 200
