"""Record actions besides workflow transitions (core/record_actions.py,
``keel_record_actions``) and record rules from addons
(``keel_record_rules``), with a test addon: the error shapes of the model
API and the HTTP API, params, the audit entry, the allowed actions listed
and shown as form buttons, and readable-only rows OR'ed into the rules."""
import pytest

from core import fields as F
from core import hookimpl
from core.errors import Conflict, NotFound, UserInputError
from core.models import Model
from tests.conftest import addon_module, available_with
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import csrf_token, sign_in


def _close(records, comment, params):
    if records.search_count([["id", "in", records.ids], ["closed", "=", True]]):
        raise Conflict("already closed", {"reason": "closed"})
    records.env.sudo()["test.ticket"].browse(records.ids).write(
        {"closed": True, "note": comment, "score": params.get("score")})


def _rate(records, comment, params):
    records.env.sudo()["test.ticket"].browse(records.ids).write({"score": params.get("score")})


def _open(records):
    return set(records.env.sudo()["test.ticket"].search(
        [["id", "in", records.ids], ["closed", "!=", True]]).ids)


ACTIONS = [{"model": "test.ticket", "action": "close", "label": "Close", "run": _close,
            "allowed": _open, "on": "write"},
           {"model": "test.ticket", "action": "rate", "label": "Rate", "run": _rate,
            "params": ["score"], "on": "read"}]


def rules(env, model):
    return [[["public", "=", True]]] if model == "test.ticket" else []


def ticket_addon():
    model = Model("test.ticket", "Ticket", fields={
        "name": F.Char("Name", required=True), "owner_id": F.Many2one("core.user", "Owner"),
        "closed": F.Boolean("Closed", default=False), "note": F.Char("Note"),
        "score": F.Integer("Score"), "public": F.Boolean("Public", default=False)})

    def roles():
        return [{"code": "ticketer", "label": "Ticketer",
                 "permissions": {"test.ticket": ["read", "create", "write"]},
                 "scopes": {"test.ticket": "own"}}]
    return addon_module("ticketing", keel_models=hookimpl(lambda: [model]),
                        keel_roles=hookimpl(roles),
                        keel_record_actions=hookimpl(lambda: ACTIONS),
                        keel_record_rules=hookimpl(rules))


@pytest.fixture
def world(make_db):
    db = make_db(addons=["crm_base", "ticketing"], available=available_with(ticket_addon()))
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", "ticketer"]]).ids[0]
        for persona in ("R1", "R2"):
            user = env["core.user"].browse(users[persona])
            roles = [r if isinstance(r, int) else r["id"] for r in user.read(["roles"])[0]["roles"]]
            user.write({"roles": roles + [role]})
    ids = {}
    for persona in ("R1", "R2"):
        with db.unit_of_work(users[persona]) as env:
            ids[persona] = env["test.ticket"].create({"name": f"{persona} 工单"}).id
    return {"db": db, "users": users, "ids": ids}


def test_a_registered_action_runs_through_the_model_api(world):
    db, users, ids = world["db"], world["users"], world["ids"]
    with db.unit_of_work(users["R1"]) as env:
        ticket = env["test.ticket"].browse(ids["R1"])
        assert ticket.allowed_actions()[ids["R1"]] == ["close", "rate"]
        outcome = ticket.action("close", "修好了")[0]
        assert outcome.ran and ticket.read(["closed", "note"])[0]["note"] == "修好了"
        assert ticket.allowed_actions()[ids["R1"]] == ["rate"]
        with pytest.raises(Conflict):
            ticket.action("close")
        with pytest.raises(UserInputError) as info:
            ticket.action("fly")
        assert "close" in str(info.value) and "rate" in str(info.value)
        with pytest.raises(UserInputError):
            ticket.action("close", None, {"score": 3})  # close takes no params
        with pytest.raises(NotFound):  # a colleague's ticket: as missing
            env["test.ticket"].browse(ids["R2"]).action("close")
    with db.unit_of_work("admin") as env:
        entries = env["core.audit"].search_read([["model", "=", "test.ticket"],
                                                 ["record_id", "=", ids["R1"]], ["action", "=", "action"]],
                                                ["changes"])
    assert [e["changes"]["action"] for e in entries] == ["close"]
    assert entries[0]["changes"]["comment"] == "修好了"


def test_record_rules_make_rows_readable_not_writable(world):
    db, users, ids = world["db"], world["users"], world["ids"]
    with db.unit_of_work(users["R2"]) as env:
        assert list(env["test.ticket"].search([]).ids) == [ids["R2"]]
    with db.unit_of_work("admin") as env:
        env["test.ticket"].browse(ids["R1"]).write({"public": True})
    with db.unit_of_work(users["R2"]) as env:
        tickets = env["test.ticket"]
        assert sorted(tickets.search([]).ids) == sorted(ids.values())
        assert tickets.browse(ids["R1"]).allowed_actions()[ids["R1"]] == ["rate"]  # on: read
        with pytest.raises(NotFound):  # readable, not writable
            tickets.browse(ids["R1"]).action("close")
    with db.unit_of_work(users["M1"]) as env:  # no read permission on the model: nothing
        assert not env.access.allowed("test.ticket", "read")


def test_actions_over_http_and_in_the_form(world):
    db, ids = world["db"], world["ids"]
    app = make_app(db)
    client = app.test_client()
    token = client.post("/api/v1/auth/token", json={"login": "r1", "password": PASSWORD}).get_json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    path = f"/api/v1/data/test.ticket/{ids['R1']}/actions"
    assert client.get(path, headers=auth).get_json() == {"allowed_actions": ["close", "rate"]}
    answer = client.post(path + "/rate", headers=auth, json={"score": 5, "comment": "好"})
    assert answer.status_code == 200 and answer.get_json()["score"] == 5
    assert client.post(path + "/rate", headers=auth, json={"stars": 5}).status_code == 400
    assert client.post(path + "/close", headers=auth, json={"score": 5}).status_code == 400
    assert client.post(path + "/fly", headers=auth).status_code == 400
    other = f"/api/v1/data/test.ticket/{ids['R2']}/actions/close"
    assert client.post(other, headers=auth).status_code == 404
    browser = sign_in(app, "r1", PASSWORD)
    html = browser.get(f"/web/test.ticket/{ids['R1']}").get_data(as_text=True)
    assert '<button type="submit" name="action" value="close">' in html
    assert 'value="rate"' not in html  # takes params: no form button
    answer = browser.post(f"/web/test.ticket/{ids['R1']}", data={
        "csrf_token": csrf_token(html), "name": "R1 工单", "action": "close", "comment": "表单关闭"})
    assert answer.status_code == 302
    assert client.post(path + "/close", headers=auth).status_code == 409
