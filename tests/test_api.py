"""The REST API's contract shapes (CONTRACT.md §3) as the administrator:
tokens, lists with total and paging, order, fields, create/read/patch/
delete, groups, metadata, Chinese text, and the error body."""
import datetime as dt
import decimal
import json
import re

import pytest
import sqlalchemy as sa

from tests.conftest import ADMIN_PASSWORD
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import make_app

API = "/api/v1"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_api")
    app = make_app(db)
    yield app
    drop_module_database(db, "t_api")


@pytest.fixture(scope="module")
def admin_token(app):
    answer = app.test_client().post(f"{API}/auth/token", json={"login": "admin", "password": ADMIN_PASSWORD})
    return answer.get_json()["token"]


class Client:
    def __init__(self, app, token):
        self.client, self.token = app.test_client(), token

    def __call__(self, method, path, params=None, body=None, headers=None, **kw):
        head = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if params and "domain" in params and not isinstance(params["domain"], str):
            params = {**params, "domain": json.dumps(params["domain"], ensure_ascii=False)}
        return self.client.open(API + path, method=method, query_string=params, json=body,
                                headers=head, **kw)


@pytest.fixture
def api(app, admin_token):
    return Client(app, admin_token)


def assert_error(response, status, code):
    assert response.status_code == status, (response.status_code, response.data[:400])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def make(api, **values):
    response = api("POST", "/data/crm.customer", body=values)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# -- tokens ----------------------------------------------------------------------------------
def test_token_shape_and_refusals(app):
    client = app.test_client()
    answer = client.post(f"{API}/auth/token", json={"login": "admin", "password": ADMIN_PASSWORD})
    assert answer.status_code == 200
    body = answer.get_json()
    assert set(body) == {"token", "expires_at"}
    assert isinstance(body["token"], str) and len(body["token"]) >= 32
    assert dt.datetime.fromisoformat(body["expires_at"]) > dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    wrong = client.post(f"{API}/auth/token", json={"login": "admin", "password": "wrong-password"})
    assert_error(wrong, 401, "unauthorized")
    assert "admin" not in wrong.get_json()["error"]["message"]
    missing = assert_error(client.post(f"{API}/auth/token", json={"login": "admin"}), 400, "bad_request")
    assert "password" in missing["message"]
    assert_error(client.post(f"{API}/auth/token", json={"login": 1, "password": ["x"]}), 400, "bad_request")
    assert_error(client.post(f"{API}/auth/token", data="login=admin"), 400, "bad_request")
    assert_error(client.get(f"{API}/auth/token"), 405, "method_not_allowed")
    authed = client.get(f"{API}/meta/models", headers={"Authorization": f"Bearer {body['token']}"})
    assert authed.status_code == 200


def test_sign_ins_are_audited_with_source_api(app):
    client = app.test_client()
    client.post(f"{API}/auth/token", json={"login": "admin", "password": "not-this-one"})
    client.post(f"{API}/auth/token", json={"login": "admin", "password": ADMIN_PASSWORD})
    db = app.extensions["keel.db"]
    with db.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT action, source FROM core_audit WHERE action IN "
                                    "('login', 'login_failed') ORDER BY id")).all()
    assert ("login_failed", "api") in rows and ("login", "api") in rows


# -- lists -----------------------------------------------------------------------------------
def test_list_total_paging_order_and_fields(api):
    for i in range(5):
        make(api, name=f"Page {i}", city="杭州")
    domain = [["name", "like", "Page %"]]
    page = api("GET", "/data/crm.customer", {"domain": domain, "order": "name desc", "limit": 2,
                                             "offset": 1}).get_json()
    assert set(page) == {"items", "total"} and page["total"] == 5
    assert [i["name"] for i in page["items"]] == ["Page 3", "Page 2"]
    narrow = api("GET", "/data/crm.customer", {"domain": domain, "fields": "name,code",
                                               "order": "name"}).get_json()
    assert [set(i) for i in narrow["items"]] == [{"id", "name", "code"}] * 5
    assert [i["name"] for i in narrow["items"]] == [f"Page {i}" for i in range(5)]
    dotted = api("GET", "/data/crm.customer", {"domain": [["owner_id.login", "=", "admin"],
                                                          ["city", "=", "杭州"]]}).get_json()
    assert dotted["total"] == 5
    empty = api("GET", "/data/crm.customer", {"domain": domain, "limit": 0}).get_json()
    assert empty == {"items": [], "total": 5}


def test_default_and_maximum_limit(api, app):
    db = app.extensions["keel.db"]
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create([{"name": f"Bulk {i:03d}"} for i in range(85)])
    domain = [["name", "like", "Bulk %"]]
    page = api("GET", "/data/crm.customer", {"domain": domain}).get_json()
    assert page["total"] == 85 and len(page["items"]) == 80
    assert len(api("GET", "/data/crm.customer", {"domain": domain, "limit": 1000}).get_json()["items"]) == 85
    error = assert_error(api("GET", "/data/crm.customer", {"limit": 1001}), 400, "bad_request")
    assert "limit" in error["message"]


# -- records ---------------------------------------------------------------------------------
def test_create_read_patch_delete(api):
    created = api("POST", "/data/crm.customer",
                  body={"name": "Acme", "credit_limit": "1234.5", "birthday": "1990-02-03",
                        "next_contact_at": "2030-01-02T03:04:05", "contact_cycle_days": 7,
                        "contact_ids": [{"name": "Ann"}]})
    assert created.status_code == 201
    record = created.get_json()
    assert created.headers["Location"].endswith(f"/data/crm.customer/{record['id']}")
    assert re.fullmatch(r"C\d{4}\d{5}", record["code"]) and record["code"][1:5] == str(dt.date.today().year)
    assert record["version"] == 1
    assert record["credit_limit"] == "1234.50"  # decimals as text
    assert record["birthday"] == "1990-02-03" and record["next_contact_at"] == "2030-01-02T03:04:05"
    assert record["owner_id"]["name"] == "Administrator" and set(record["owner_id"]) == {"id", "name"}
    assert record["kind"] == "company" and record["in_pool"] is False
    assert len(record["contact_ids"]) == 1
    path = f"/data/crm.customer/{record['id']}"
    read = api("GET", path).get_json()
    assert read == record
    assert set(api("GET", path, {"fields": "name,version"}).get_json()) == {"id", "name", "version"}
    patched = api("PATCH", path, body={"version": 1, "city": "深圳", "credit_limit": 99})
    assert patched.status_code == 200
    assert patched.get_json()["version"] == 2 and patched.get_json()["city"] == "深圳"
    assert patched.get_json()["credit_limit"] == "99.00"
    assert_error(api("PATCH", path, body={"version": 1, "city": "广州"}), 409, "conflict")
    contact = api("GET", f"/data/crm.contact/{record['contact_ids'][0]}").get_json()
    assert contact["customer_id"] == {"id": record["id"], "name": "Acme"}
    deleted = api("DELETE", path)
    assert deleted.status_code == 204 and deleted.data == b""
    assert_error(api("GET", path), 404, "not_found")
    assert_error(api("DELETE", path), 404, "not_found")


def test_a_failing_request_changes_nothing(api):
    bad = api("POST", "/data/crm.customer",
              body={"name": "Half done", "contact_ids": [{"name": "ok"}, {"name": "bad", "nosuch": 1}]})
    assert_error(bad, 422, "validation_error")
    assert api("GET", "/data/crm.customer", {"domain": [["name", "=", "Half done"]]}).get_json()["total"] == 0
    assert api("GET", "/data/crm.contact", {"domain": [["name", "=", "ok"]]}).get_json()["total"] == 0


def test_group(api):
    make(api, name="G1", city="成都", credit_limit="10.10", industry="it")
    make(api, name="G2", city="成都", credit_limit="5", industry="it")
    make(api, name="G3", city="重庆", industry="retail")
    answer = api("GET", "/data/crm.customer/group",
                 {"domain": [["name", "in", ["G1", "G2", "G3"]]], "groupby": "city,industry",
                  "aggregates": "credit_limit:sum,id:count"})
    assert answer.status_code == 200
    groups = answer.get_json()["groups"]
    assert groups == [
        {"city": "成都", "industry": "it", "credit_limit:sum": "15.10", "id:count": 2},
        {"city": "重庆", "industry": "retail", "credit_limit:sum": None, "id:count": 1},
    ]
    by_owner = api("GET", "/data/crm.customer/group",
                   {"domain": [["name", "in", ["G1", "G2"]]], "groupby": "owner_id"}).get_json()
    assert by_owner["groups"][0]["owner_id"]["name"] == "Administrator"
    assert by_owner["groups"][0]["id:count"] == 2
    by_month = api("GET", "/data/crm.customer/group",
                   {"domain": [["name", "=", "G1"]], "groupby": "created_at:month"}).get_json()
    assert re.fullmatch(r"\d{4}-\d{2}", by_month["groups"][0]["created_at:month"])


# -- metadata --------------------------------------------------------------------------------
def test_meta_models(api):
    models = api("GET", "/meta/models").get_json()
    assert isinstance(models, list)
    by_name = {m["name"]: m for m in models}
    customer = by_name["crm.customer"]
    assert customer["label"] == "Customer" and customer["addon"] == "crm_base"
    fields = {f["name"]: f for f in customer["fields"]}
    for f in fields.values():
        assert {"name", "type", "label", "required", "readonly"} <= set(f)
    assert fields["name"]["required"] is True and fields["name"]["type"] == "char"
    assert fields["id"]["readonly"] is True
    assert fields["owner_id"]["relation"] == "core.user"
    assert {"value": "company", "label": "Company"} in fields["kind"]["selection"]
    assert fields["credit_limit"]["type"] == "decimal"  # the sales addon's extension
    assert "password_hash" not in {f["name"] for f in by_name["core.user"]["fields"]}
    one = api("GET", "/meta/models/crm.customer").get_json()
    assert one == customer
    assert_error(api("GET", "/meta/models/crm.nothing"), 404, "not_found")


# -- text ------------------------------------------------------------------------------------
def test_chinese_text_round_trip(api):
    name = "北京字节跳动科技有限公司（测试）"
    made = make(api, name=name, city="北京", address="海淀区知春路 63 号 ✓")
    raw = api("GET", f"/data/crm.customer/{made['id']}")
    assert raw.mimetype == "application/json"
    assert name.encode("utf-8") in raw.data  # UTF-8, not \\u escapes
    assert raw.get_json()["address"] == "海淀区知春路 63 号 ✓"
    found = api("GET", "/data/crm.customer", {"domain": [["name", "ilike", "%字节跳动%"]]}).get_json()
    assert [i["name"] for i in found["items"]] == [name]
    group = api("GET", "/data/crm.customer/group",
                {"domain": [["city", "=", "北京"], ["name", "=", name]], "groupby": "city"}).get_json()
    assert group["groups"] == [{"city": "北京", "id:count": 1}]


# -- errors ----------------------------------------------------------------------------------
def test_error_bodies(api, app):
    client = app.test_client()
    assert_error(client.get(f"{API}/data/crm.customer"), 401, "unauthorized")
    assert_error(api("GET", "/data/crm.customer", {"domain": "[[\"nosuch\", \"=\", 1]]"}), 400, "bad_request")
    assert_error(api("GET", "/data/crm.nothing"), 404, "not_found")
    assert_error(api("GET", "/data/crm.nothing/1"), 404, "not_found")
    assert_error(api("POST", "/data/crm.nothing", body={}), 404, "not_found")
    assert_error(api("GET", "/data/crm.customer/999999"), 404, "not_found")
    assert_error(api("GET", "/data/crm.customer/abc"), 404, "not_found")
    assert_error(api("GET", "/data/crm.customer/99999999999999999999"), 404, "not_found")
    assert_error(api("GET", "/nothing/here"), 404, "not_found")
    assert_error(client.get(f"{API}/nothing/here"), 404, "not_found")
    assert_error(api("PUT", "/data/crm.customer"), 405, "method_not_allowed")
    invalid = assert_error(api("POST", "/data/crm.customer", body={"name": "X", "grade": "vip"}),
                           422, "validation_error")
    assert invalid["details"]["fields"] == ["grade"]
    assert_error(api("POST", "/data/core.audit", body={"action": "forged"}), 403, "forbidden")
    # a user holding no role: 403 on the data of a model it may not read
    db = app.extensions["keel.db"]
    from core.security.auth import issue_token
    with db.unit_of_work("admin") as env:
        uid = env["core.user"].create({"login": "norole", "name": "No role"}).id
        token = issue_token(env, uid)
    nobody = Client(app, token)
    assert_error(nobody("GET", "/data/crm.customer"), 403, "forbidden")
    assert_error(nobody("GET", "/meta/models/crm.customer"), 404, "not_found")


def test_an_unexpected_error_is_a_json_500_without_details(api, monkeypatch):
    from core.api import http

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")
    monkeypatch.setattr(http, "record", broken)
    error = assert_error(api("GET", "/data/crm.customer"), 500, "internal_error")
    assert "secret internals" not in error["message"]


def test_decimal_and_date_values_in_domains(api):
    make(api, name="Dec A", credit_limit="100.00", birthday="2000-01-01")
    make(api, name="Dec B", credit_limit="250.50", birthday="2001-06-30")
    big = api("GET", "/data/crm.customer", {"domain": [["credit_limit", ">", "200"],
                                                       ["name", "like", "Dec %"]]}).get_json()
    assert [i["name"] for i in big["items"]] == ["Dec B"]
    assert decimal.Decimal(big["items"][0]["credit_limit"]) == decimal.Decimal("250.50")
    young = api("GET", "/data/crm.customer", {"domain": [["birthday", ">=", "2001-01-01"],
                                                         ["name", "like", "Dec %"]]}).get_json()
    assert [i["name"] for i in young["items"]] == ["Dec B"]
