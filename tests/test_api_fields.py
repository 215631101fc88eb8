"""User-defined fields over the REST API (issue 4, point 1): ``POST
/api/v1/meta/models/MODEL/fields`` and ``DELETE …/fields/NAME?confirm=true``
through Flask's test client with real tokens; the field in /meta/models,
/data, domains and order at once — also in an app that was already running
when another process added it."""
import json

import pytest
import sqlalchemy as sa

from core import custom_fields
from core.db import Database
from core.security.auth import issue_token, set_password
from tests.conftest import ADMIN_PASSWORD
from tests.test_api import assert_error
from tests.test_api_security import make_app
from tests.test_cli import ok, run  # noqa: F401  (run is a fixture)

API = "/api/v1"
MODEL = "crm.customer"
FIELDS = f"/meta/models/{MODEL}/fields"


class Client:
    def __init__(self, app, token):
        self.client, self.token = app.test_client(), token

    def __call__(self, method, path, params=None, body=None):
        if params and "domain" in params:
            params = {**params, "domain": json.dumps(params["domain"], ensure_ascii=False)}
        return self.client.open(API + path, method=method, query_string=params, json=body,
                                headers={"Authorization": f"Bearer {self.token}"})


@pytest.fixture
def app(db):
    return make_app(db)


@pytest.fixture
def api(app):
    answer = app.test_client().post(f"{API}/auth/token", json={"login": "admin", "password": ADMIN_PASSWORD})
    return Client(app, answer.get_json()["token"])


@pytest.fixture
def rep_api(app, db):
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", "sales_director"]]).id
        uid = env["core.user"].create({"login": "dir", "name": "Director", "roles": [role]}).id
        set_password(env, uid, "director-secret-1")
        token = str(issue_token(env, uid, label="test"))
    return Client(app, token)


def model_fields(api):
    answer = api("GET", f"/meta/models/{MODEL}")
    assert answer.status_code == 200
    return {f["name"]: f for f in answer.get_json()["fields"]}


def create(api, **values):
    answer = api("POST", f"/data/{MODEL}", body={"name": "客户", **values})
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_added_field_is_described_and_usable_at_once(api):
    first = create(api, name="老客户")
    answer = api("POST", FIELDS, body={"name": "x_tier", "type": "selection", "label": "Tier",
                                       "selection": [{"value": "gold", "label": "Gold"}, "silver"],
                                       "index": True, "required": True, "default": "silver"})
    assert answer.status_code == 201, answer.get_json()
    described = answer.get_json()
    assert described == model_fields(api)["x_tier"]
    assert described["type"] == "selection" and described["required"] and not described["readonly"]
    assert described["selection"] == [{"value": "gold", "label": "Gold"}, {"value": "silver", "label": "silver"}]
    listed = api("GET", "/meta/models").get_json()
    assert "x_tier" in {f["name"] for m in listed if m["name"] == MODEL for f in m["fields"]}
    second = create(api, name="新客户", x_tier="gold")
    assert second["x_tier"] == "gold"
    assert api("GET", f"/data/{MODEL}/{first['id']}").get_json()["x_tier"] == "silver"  # the default
    page = api("GET", f"/data/{MODEL}", params={"domain": [["x_tier", "=", "gold"]], "fields": "name,x_tier"})
    assert page.get_json() == {"items": [{"id": second["id"], "name": "新客户", "x_tier": "gold"}], "total": 1}
    ordered = api("GET", f"/data/{MODEL}", params={"order": "x_tier desc, id", "fields": "x_tier"})
    assert [i["x_tier"] for i in ordered.get_json()["items"]] == ["silver", "gold"]
    patched = api("PATCH", f"/data/{MODEL}/{first['id']}", body={"x_tier": "gold"})
    assert patched.status_code == 200 and patched.get_json()["x_tier"] == "gold"
    assert_error(api("POST", f"/data/{MODEL}", body={"name": "坏", "x_tier": "bronze"}), 422, "validation_error")


def test_many2one_and_decimal_fields_over_the_api(api):
    a = create(api, name="甲")
    assert api("POST", FIELDS, body={"name": "x_parent", "type": "many2one",
                                     "relation": "crm.customer"}).status_code == 201
    answer = api("POST", FIELDS, body={"name": "x_budget", "type": "decimal", "default": 0})
    assert answer.status_code == 201 and answer.get_json()["type"] == "decimal"
    assert model_fields(api)["x_parent"]["relation"] == "crm.customer"
    b = create(api, name="乙", x_parent=a["id"], x_budget="99.5")
    assert b["x_parent"]["id"] == a["id"] and b["x_budget"] == "99.50"
    found = api("GET", f"/data/{MODEL}", params={"domain": [["x_parent.name", "=", "甲"]], "fields": "name"})
    assert [i["id"] for i in found.get_json()["items"]] == [b["id"]]
    assert api("GET", f"/data/{MODEL}/{a['id']}").get_json()["x_budget"] == "0.00"


def test_a_field_added_by_another_process_is_filterable_without_restart(api, db_url, run):
    create(api, name="已有客户")
    assert api("GET", f"/data/{MODEL}").status_code == 200  # the app is running, registry built
    assert_error(api("GET", f"/data/{MODEL}", params={"domain": [["x_region", "=", "east"]]}),
                 400, "bad_request")
    other = Database(db_url)  # another process's view of the same database
    custom_fields.add(other, MODEL, "x_region", "char", index=True, user="admin")
    other.dispose()
    made = create(api, name="华东客户", x_region="east")
    page = api("GET", f"/data/{MODEL}", params={"domain": [["x_region", "=", "east"]]})
    assert page.status_code == 200 and [i["id"] for i in page.get_json()["items"]] == [made["id"]]
    # and through the real command line, a separate process
    ok(run("field", "add", MODEL, "x_size", "--type", "integer", "--default", "5"))
    page = api("GET", f"/data/{MODEL}", params={"domain": [["x_size", "=", 5]], "order": "x_size, id"})
    assert page.get_json()["total"] == 2
    assert "x_size" in model_fields(api)


def test_delete_needs_confirmation_archives_and_allows_another_type(api, db):
    assert api("POST", FIELDS, body={"name": "x_vin", "type": "char", "index": True}).status_code == 201
    car = create(api, name="车主", x_vin="LSVAU2180N2183294")
    create(api, name="无车")
    refused = assert_error(api("DELETE", f"{FIELDS}/x_vin"), 400, "bad_request")
    assert refused["details"]["parameter"] == "confirm" and refused["details"]["values"] == 1
    assert "confirm=true" in refused["message"]
    assert_error(api("DELETE", f"{FIELDS}/x_vin", params={"confirm": "perhaps"}), 400, "bad_request")
    answer = api("DELETE", f"{FIELDS}/x_vin", params={"confirm": "true"})
    assert answer.status_code == 204 and not answer.data
    assert "x_vin" not in model_fields(api)
    assert_error(api("GET", f"/data/{MODEL}", params={"domain": [["x_vin", "=", "x"]]}), 400, "bad_request")
    with db.unit_of_work("admin") as env:
        kept = env["core.field_archive"].search_read([], ["model", "field", "type", "record_id", "value"])
    assert [(k["model"], k["field"], k["type"], k["record_id"], k["value"]) for k in kept] == \
        [(MODEL, "x_vin", "char", car["id"], "LSVAU2180N2183294")]
    with db.engine.connect() as conn:
        assert "x_vin" not in {c["name"] for c in sa.inspect(conn).get_columns("crm_customer")}
    again = api("POST", FIELDS, body={"name": "x_vin", "type": "boolean", "default": False})
    assert again.status_code == 201 and again.get_json()["type"] == "boolean"
    assert api("GET", f"/data/{MODEL}", params={"domain": [["x_vin", "=", False]]}).get_json()["total"] == 2


def test_refusals_name_the_problem(api):
    create(api, name="有记录")
    cases = [
        ({"name": "vip", "type": "char"}, 400, "must start with x_"),
        ({"name": "select", "type": "char"}, 400, "SQL keyword"),
        ({"name": "x_a", "type": "blob"}, 400, "not one of"),
        ({"name": "x_a"}, 400, "type is required"),
        ({"name": "x_a", "type": "char", "colour": "red"}, 400, "unknown key colour"),
        ({"name": "x_a", "type": "char", "required": "yes"}, 400, "required"),
        ({"name": "x_a", "type": "selection"}, 400, "needs its options"),
        ({"name": "x_a", "type": "integer", "default": "many"}, 400, "expected an integer"),
        ({"name": "x_a", "type": "char", "required": True}, 422, "already holds 1 record"),
        ({"name": "name", "type": "char"}, 400, "must start with x_"),
        ({"name": "x_" + "a" * 62, "type": "char"}, 400, "at most 63"),
    ]
    for body, status, words in cases:
        error = assert_error(api("POST", FIELDS, body=body), status,
                             "bad_request" if status == 400 else "validation_error")
        assert words in error["message"], (body, error)
    assert api("POST", FIELDS, body={"name": "x_a", "type": "char"}).status_code == 201
    taken = assert_error(api("POST", FIELDS, body={"name": "x_a", "type": "text"}), 422, "validation_error")
    assert taken["details"] == {"model": MODEL, "field": "x_a"}
    assert_error(api("POST", "/meta/models/crm.nothing/fields", body={"name": "x_a", "type": "char"}),
                 404, "not_found")
    assert_error(api("DELETE", f"{FIELDS}/x_none", params={"confirm": "true"}), 404, "not_found")
    assert "belongs to addon crm_base" in assert_error(
        api("DELETE", f"{FIELDS}/name", params={"confirm": "true"}), 400, "bad_request")["message"]
    assert "x_a" in model_fields(api)


def test_non_administrators_are_refused(api, rep_api):
    assert model_fields(rep_api)  # reads the model…
    error = assert_error(rep_api("POST", FIELDS, body={"name": "x_mine", "type": "char"}), 403, "forbidden")
    assert "only administrators" in error["message"]
    assert api("POST", FIELDS, body={"name": "x_theirs", "type": "char"}).status_code == 201
    assert_error(rep_api("DELETE", f"{FIELDS}/x_theirs", params={"confirm": "true"}), 403, "forbidden")
    assert "x_theirs" in model_fields(api) and "x_mine" not in model_fields(api)
    no_token = Client(rep_api.client.application, "bogus")
    assert_error(no_token("POST", FIELDS, body={"name": "x_b", "type": "char"}), 401, "unauthorized")
