"""Black-box security tests of the REST API over real HTTP (issue 3 "Show";
CONTRACT.md §3, §6).

The app runs in a thread (``werkzeug.serving.make_server`` on 127.0.0.1,
a free port) on a database of its own; the tests call it with
``http.client`` only. Personas: departments D1 (manager M1, reps R1, R2)
and D2 (rep R3), director X (``sales_director``), buyer B (a ``purchaser``
role holding no CRM permission); each rep owns three customers.
"""
import csv
import datetime as dt
import http.client
import io
import json
import threading
import urllib.parse

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from core.app import create_app
from core.config import load_config
from core.security.auth import issue_token, revoke_token, set_password
from core.security.roles import apply_grants
from tests.conftest import ADMIN_PASSWORD, drop_module_database, module_database

PASSWORD = "persona-pass-9"
REPS = ("R1", "R2", "R3")
PERSONAS = ("R1", "R2", "R3", "M1", "X", "B")


# -- shared helpers (tests/test_api.py and tests/test_routes.py use them too) ----------------
def make_app(db):
    url = db.engine.url.render_as_string(hide_password=False)
    return create_app(load_config(environ={}, database_url=url, secret_key="test-secret-key"), db=db)


class Answer:
    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw
        self.text = raw.decode("utf-8")
        self.json = json.loads(self.text) if self.text and "json" in headers.get("Content-Type", "") else None

    def __repr__(self):
        return f"<Answer {self.status} {self.text[:300]}>"

    @property
    def error(self):
        return (self.json or {}).get("error")


class Server:
    """The app served over real HTTP in a background thread."""

    def __init__(self, app):
        self.httpd = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.thread.join(10)
        self.httpd.server_close()

    def call(self, method, path, token=None, params=None, body=None, raw=None, headers=None):
        """``(method, "/api/v1/…")`` → :class:`Answer`; ``params`` go to the
        query string, ``body`` as JSON (``raw``: bytes as given)."""
        if params:
            path += "?" + urllib.parse.urlencode(params)
        head = dict(headers or {})
        if token is not None:
            head["Authorization"] = f"Bearer {token}"
        data = raw
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if data is not None:
            head.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=data, headers=head)
            response = conn.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            conn.close()

    def token(self, login, password):
        answer = self.call("POST", "/api/v1/auth/token", body={"login": login, "password": password})
        assert answer.status == 200, answer
        return answer.json["token"]


def create_personas(db):
    """The CONTRACT.md personas; ``{persona: user id}``."""
    with db.unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        if "purchaser" not in roles:
            roles["purchaser"] = env["core.role"].create({"code": "purchaser", "name": "Buyer"}).id
            apply_grants(env, roles["purchaser"], "purchaser",
                         {"permissions": {"core.sequence": ["read"]}})
        d1 = env["core.department"].create({"code": "D1", "name": "华东销售部"}).id
        d2 = env["core.department"].create({"code": "D2", "name": "华北销售部"}).id
        spec = {"M1": ("m1", d1, "sales_manager"), "R1": ("r1", d1, "sales_rep"),
                "R2": ("r2", d1, "sales_rep"), "R3": ("r3", d2, "sales_rep"),
                "X": ("x", None, "sales_director"), "B": ("b", None, "purchaser")}
        ids = {}
        for persona, (login, dept, role) in spec.items():
            ids[persona] = env["core.user"].create({"login": login, "name": f"{persona} 用户",
                                                    "department_id": dept,
                                                    "roles": [roles[role]]}).id
            set_password(env, ids[persona], PASSWORD)
        env["core.department"].browse(d1).write({"manager_id": ids["M1"]})
    return ids


# -- the world of this module ----------------------------------------------------------------
def serve_personas(db, personas=PERSONAS):
    """The app served over real HTTP, and a token for each persona and for
    the admin."""
    server = Server(make_app(db))
    tokens = {p: server.token(p.lower(), PASSWORD) for p in personas}
    tokens["admin"] = server.token("admin", ADMIN_PASSWORD)
    return server, tokens


def one_customer_per_rep(db, users):
    """``{rep: id}`` of one customer each rep owns."""
    customers = {}
    for rep in REPS:
        with db.unit_of_work(users[rep]) as env:
            customers[rep] = env["crm.customer"].create({"name": f"{rep} 的客户"}).id
    return customers


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_api_security")
    users = create_personas(db)
    customers = {}
    for rep in REPS:
        with db.unit_of_work(users[rep]) as env:
            made = env["crm.customer"].create(
                [{"name": f"{rep}-客户{i}", "city": "上海" if i else "北京"} for i in range(3)])
            customers[rep] = list(made.ids)
    server, tokens = serve_personas(db)
    yield {"db": db, "server": server, "users": users, "customers": customers, "tokens": tokens}
    server.close()
    drop_module_database(db, "t_api_security")


def call(world, persona, method, path, **kw):
    return world["server"].call(method, "/api/v1" + path, token=world["tokens"][persona], **kw)


def listed(world, persona, domain=None, **params):
    if domain is not None:
        params["domain"] = json.dumps(domain, ensure_ascii=False)
    params.setdefault("limit", 1000)
    answer = call(world, persona, "GET", "/data/crm.customer", params=params)
    assert answer.status == 200, answer
    return answer


def names_of(answer):
    return sorted(item["name"] for item in answer.json["items"])


def owned(*reps):
    return sorted(f"{rep}-客户{i}" for rep in reps for i in range(3))


VISIBLE = {"R1": {"R1"}, "R2": {"R2"}, "R3": {"R3"}, "M1": {"R1", "R2"}, "X": set(REPS), "B": set()}


def new_customer(world, owner, name):
    """A customer of ``owner`` (a rep persona) made by the admin."""
    db, users = world["db"], world["users"]
    with db.unit_of_work("admin") as env:
        dept = env["core.user"].browse(users[owner]).read(["department_id"])[0]["department_id"]
        return env["crm.customer"].create({"name": name, "owner_id": users[owner],
                                           "department_id": dept and dept["id"]}).id


def customer_count(world):
    with world["db"].engine.connect() as conn:
        assert sa.inspect(conn).has_table("crm_customer")
        return conn.exec_driver_sql("SELECT count(*) FROM crm_customer").scalar()


# -- scopes ----------------------------------------------------------------------------------
def test_each_persona_lists_its_scope(world):
    r1 = listed(world, "R1")
    assert names_of(r1) == owned("R1") and r1.json["total"] == 3
    assert {item["owner_id"]["id"] for item in r1.json["items"]} == {world["users"]["R1"]}
    m1 = listed(world, "M1")
    assert set(owned("R1", "R2")) <= set(names_of(m1))
    assert not set(owned("R3")) & set(names_of(m1))
    x = listed(world, "X")
    assert set(owned(*REPS)) <= set(names_of(x))
    assert x.json["total"] == customer_count(world)


def test_rep_cannot_read_change_or_delete_a_colleagues_customer(world):
    theirs = world["customers"]["R2"][0]
    missing = 2_000_000_000
    before = call(world, "X", "GET", f"/data/crm.customer/{theirs}").json
    for method, body in (("GET", None), ("PATCH", {"name": "stolen"}), ("DELETE", None)):
        hidden = call(world, "R1", method, f"/data/crm.customer/{theirs}", body=body)
        absent = call(world, "R1", method, f"/data/crm.customer/{missing}", body=body)
        assert hidden.status == absent.status == 404, (method, hidden, absent)
        # the same answer, but for the id asked
        assert hidden.text.replace(str(theirs), "ID") == absent.text.replace(str(missing), "ID")
        assert hidden.error["code"] == "not_found"
        assert "R2" not in hidden.text and "stolen" not in hidden.text
    after = call(world, "X", "GET", f"/data/crm.customer/{theirs}").json
    assert after == before  # nothing changed, nothing deleted


def test_buyer_sees_no_crm_model_and_gets_no_crm_data(world):
    models = call(world, "B", "GET", "/meta/models")
    assert models.status == 200
    names = {m["name"] for m in models.json}
    assert names and not [n for n in names if n.startswith("crm.")]
    assert call(world, "B", "GET", "/meta/models/crm.customer").status == 404
    some = world["customers"]["R1"][0]
    for method, path, body in (("GET", "/data/crm.customer", None),
                               ("GET", "/data/crm.customer/group", None),
                               ("GET", "/data/crm.contact", None),
                               ("GET", f"/data/crm.customer/{some}", None),
                               ("PATCH", f"/data/crm.customer/{some}", {"name": "x"}),
                               ("DELETE", f"/data/crm.customer/{some}", None),
                               ("POST", "/data/crm.customer", {"name": "buyer's"})):
        answer = call(world, "B", method, path, body=body)
        assert answer.status in (403, 404), (method, path, answer)
        assert answer.error["code"] in ("forbidden", "not_found")
        assert "R1-" not in answer.text
    # and the rep, conversely, sees the CRM models
    rep_models = {m["name"] for m in call(world, "R1", "GET", "/meta/models").json}
    assert {"crm.customer", "crm.contact"} <= rep_models


def test_meta_leaves_out_fields_hidden_from_the_caller(world):
    users = {m["name"]: m for m in call(world, "R1", "GET", "/meta/models").json}["core.user"]
    fields = {f["name"] for f in users["fields"]}
    assert "login" in fields and "password_hash" not in fields and "failed_logins" not in fields


def test_group_counts_include_only_the_callers_rows(world):
    u = world["users"]
    groups = call(world, "R1", "GET", "/data/crm.customer/group",
                  params={"groupby": "owner_id", "aggregates": "id:count"}).json["groups"]
    assert groups == [{"owner_id": {"id": u["R1"], "name": "R1 用户"}, "id:count": 3}]
    by_city = call(world, "R1", "GET", "/data/crm.customer/group",
                   params={"groupby": "city"}).json["groups"]
    assert sorted((g["city"], g["id:count"]) for g in by_city) == [("上海", 2), ("北京", 1)]
    total = call(world, "R1", "GET", "/data/crm.customer/group").json["groups"]
    assert total == [{"id:count": 3}]
    manager = call(world, "M1", "GET", "/data/crm.customer/group",
                   params={"groupby": "owner_id",
                           "domain": json.dumps([["name", "like", "R%-客户%"]])}).json["groups"]
    assert {g["owner_id"]["id"]: g["id:count"] for g in manager} == {u["R1"]: 3, u["R2"]: 3}


@pytest.mark.parametrize("domain", [
    [["owner_id", "=", "R2"]],
    [["owner_id", "in", ["R2", "R3"]]],
    ["|", ["owner_id", "=", "R2"], ["owner_id", "!=", "R2"]],
    ["|", ["id", ">", 0], ["owner_id", "=", None]],
    [["owner_id.login", "=", "r2"]],
    [["owner_id.login", "in", ["r1", "r2", "r3"]]],
    ["!", ["owner_id.login", "=", "nobody"]],
    [["department_id.code", "in", ["D1", "D2"]]],
    [["owner_id.department_id.code", "=", "D1"]],
], ids=lambda d: json.dumps(d))
def test_a_domain_cannot_widen_the_scope(world, domain):
    u = world["users"]

    def resolve(value):
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return u.get(value, value) if isinstance(value, str) and value in REPS else value
    domain = [resolve(t) if isinstance(t, list) else t for t in domain]
    answer = listed(world, "R1", domain)
    assert set(names_of(answer)) <= set(owned("R1"))
    assert answer.json["total"] == len(answer.json["items"])
    groups = call(world, "R1", "GET", "/data/crm.customer/group",
                  params={"domain": json.dumps(domain), "groupby": "owner_id"}).json["groups"]
    assert {g["owner_id"]["id"] for g in groups} <= {u["R1"]}


# -- users × records matrix ----------------------------------------------------------------
OPS = ("read", "write", "delete", "search", "count", "group")


@pytest.mark.parametrize("owner", REPS)
@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("op", OPS)
def test_matrix(world, op, persona, owner):
    visible = owner in VISIBLE[persona]
    if op == "delete":
        rid = new_customer(world, owner, f"to delete by {persona} of {owner}")
    else:
        rid = world["customers"][owner][1]
    path = f"/data/crm.customer/{rid}"
    by_id = {"domain": json.dumps([["id", "=", rid]])}
    if persona == "B":  # no permission on the model at all
        if op == "read":
            answer = call(world, "B", "GET", path)
        elif op == "write":
            answer = call(world, "B", "PATCH", path, body={"level": "B"})
        elif op == "delete":
            answer = call(world, "B", "DELETE", path)
        elif op in ("search", "count"):
            answer = call(world, "B", "GET", "/data/crm.customer", params=by_id)
        else:
            answer = call(world, "B", "GET", "/data/crm.customer/group", params=by_id)
        assert answer.status in (403, 404), answer
        return
    if op == "read":
        answer = call(world, persona, "GET", path)
        assert answer.status == (200 if visible else 404), answer
        if visible:
            assert answer.json["id"] == rid and answer.json["version"] >= 1
    elif op == "write":
        level = f"{persona}-{owner}"
        answer = call(world, persona, "PATCH", path, body={"level": level})
        assert answer.status == (200 if visible else 404), answer
        stored = call(world, "admin", "GET", path, params={"fields": "level"}).json["level"]
        assert (stored == level) == visible
    elif op == "delete":
        answer = call(world, persona, "DELETE", path)
        may_delete = persona in ("M1", "X")  # reps hold no delete permission
        expected = 404 if not visible else 204 if may_delete else 403
        assert answer.status == expected, answer
        still = call(world, "admin", "GET", path).status
        assert still == (404 if expected == 204 else 200)
    elif op == "search":
        answer = call(world, persona, "GET", "/data/crm.customer", params=by_id)
        assert [i["id"] for i in answer.json["items"]] == ([rid] if visible else [])
    elif op == "count":
        answer = call(world, persona, "GET", "/data/crm.customer", params={**by_id, "limit": 0})
        assert answer.json == {"items": [], "total": 1 if visible else 0}
    else:
        answer = call(world, persona, "GET", "/data/crm.customer/group", params=by_id)
        assert answer.json == {"groups": [{"id:count": 1 if visible else 0}]}


@pytest.mark.parametrize("owner", REPS)
@pytest.mark.parametrize("persona", PERSONAS)
def test_export_matrix(world, persona, owner):
    """``GET /data/MODEL/export`` of one record: in the file exactly when the
    persona may read it; the buyer (no export permission) is refused."""
    rid = world["customers"][owner][1]
    answer = call(world, persona, "GET", "/data/crm.customer/export",
                  params={"domain": json.dumps([["id", "=", rid]]), "fields": "id,name"})
    if persona == "B":
        assert answer.status == 403 and answer.error["code"] == "forbidden", answer
        return
    assert answer.status == 200, answer
    rows = list(csv.reader(io.StringIO(answer.text, newline="")))
    assert rows[0] == ["ID", "Name"]
    assert rows[1:] == ([[str(rid), f"{owner}-客户1"]] if owner in VISIBLE[persona] else [])


# -- versions, validation, tokens ------------------------------------------------------------
def test_patch_with_a_stale_version_is_409(world):
    rid = world["customers"]["R1"][2]
    read = call(world, "R1", "GET", f"/data/crm.customer/{rid}").json
    first = call(world, "R1", "PATCH", f"/data/crm.customer/{rid}",
                 body={"version": read["version"], "region": "华东"})
    assert first.status == 200 and first.json["version"] == read["version"] + 1
    second = call(world, "R1", "PATCH", f"/data/crm.customer/{rid}",
                  body={"version": read["version"], "region": "华北"})
    assert second.status == 409 and second.error["code"] == "conflict"
    assert second.error["details"]["version"] == read["version"] + 1
    assert call(world, "R1", "GET", f"/data/crm.customer/{rid}").json["region"] == "华东"


def test_validation_error_is_422_naming_the_field(world):
    bad = call(world, "R1", "POST", "/data/crm.customer", body={"name": "Kind Co", "kind": "alien"})
    assert bad.status == 422 and bad.error["code"] == "validation_error"
    assert bad.error["details"]["fields"] == ["kind"] and "kind" in bad.error["message"]
    empty = call(world, "R1", "POST", "/data/crm.customer", body={"city": "上海"})
    assert empty.status == 422 and empty.error["details"]["fields"] == ["name"]
    rid = world["customers"]["R1"][0]
    patch = call(world, "R1", "PATCH", f"/data/crm.customer/{rid}", body={"contact_cycle_days": "often"})
    assert patch.status == 422 and patch.error["details"]["fields"] == ["contact_cycle_days"]
    assert not call(world, "X", "GET", "/data/crm.customer",
                    params={"domain": json.dumps([["name", "=", "Kind Co"]])}).json["items"]


def test_expired_revoked_and_bogus_tokens_are_refused(world):
    db, server, u = world["db"], world["server"], world["users"]
    with db.unit_of_work("admin") as env:
        expired = issue_token(env, u["R1"], label="old", days=1)
        revoked = issue_token(env, u["R1"], label="revoked")
        fine = issue_token(env, u["R1"], label="fine")
        env.sudo()["core.token"].browse(expired.id).write(
            {"expires_at": env.now - dt.timedelta(seconds=1)})
    assert server.call("GET", "/api/v1/data/crm.customer", token=fine).status == 200
    assert server.call("GET", "/api/v1/data/crm.customer", token=revoked).status == 200
    with db.unit_of_work("admin") as env:
        revoke_token(env, revoked.id)
    refused = [
        server.call("GET", "/api/v1/data/crm.customer", token=expired),
        server.call("GET", "/api/v1/data/crm.customer", token=revoked),
        server.call("GET", "/api/v1/data/crm.customer", token="keel_forged"),
        server.call("GET", "/api/v1/data/crm.customer", token=fine + "x"),
        server.call("GET", "/api/v1/data/crm.customer"),
        server.call("GET", "/api/v1/data/crm.customer", headers={"Authorization": f"Basic {fine}"}),
        server.call("GET", "/api/v1/data/crm.customer", headers={"Authorization": "Bearer "}),
        server.call("GET", "/api/v1/meta/models", token=expired),
        server.call("DELETE", f"/api/v1/data/crm.customer/{world['customers']['R1'][0]}", token=revoked),
    ]
    for answer in refused:
        assert answer.status == 401, answer
        assert answer.error["code"] == "unauthorized"
        assert answer.headers.get("WWW-Authenticate", "").startswith("Bearer")
    assert call(world, "R1", "GET", f"/data/crm.customer/{world['customers']['R1'][0]}").status == 200


def test_a_deactivated_users_token_is_refused(world):
    db, server = world["db"], world["server"]
    with db.unit_of_work("admin") as env:
        uid = env["core.user"].create({"login": "leaver", "name": "Leaver"}).id
        set_password(env, uid, PASSWORD)
    token = server.token("leaver", PASSWORD)
    assert server.call("GET", "/api/v1/meta/models", token=token).status == 200
    with db.unit_of_work("admin") as env:
        env["core.user"].browse(uid).write({"active": False})
    assert server.call("GET", "/api/v1/meta/models", token=token).status == 401
    assert server.call("POST", "/api/v1/auth/token",
                       body={"login": "leaver", "password": PASSWORD}).status == 401


def test_wrong_passwords_lock_the_account_over_the_api(world):
    db, server = world["db"], world["server"]
    with db.unit_of_work("admin") as env:
        uid = env["core.user"].create({"login": "guessed", "name": "Guessed"}).id
        set_password(env, uid, PASSWORD)
    for _ in range(20):
        wrong = server.call("POST", "/api/v1/auth/token", body={"login": "guessed", "password": "nope-nope"})
        assert wrong.status == 401 and wrong.error["code"] == "unauthorized"
    right = server.call("POST", "/api/v1/auth/token", body={"login": "guessed", "password": PASSWORD})
    assert right.status == 401 and right.error["message"] == wrong.error["message"]
    unknown = server.call("POST", "/api/v1/auth/token", body={"login": "nobody", "password": "nope-nope"})
    assert unknown.status == 401 and unknown.error["message"] == wrong.error["message"]


# -- hostile input ----------------------------------------------------------------------
DROP = "; DROP TABLE crm_customer"
HOSTILE = [
    # (path suffix, params, the parameter the message must name)
    ("", {"order": "name; DROP TABLE crm_customer"}, "order"),
    ("", {"order": "name desc; DELETE FROM crm_customer"}, "order"),
    ("", {"order": "(SELECT 1)"}, "order"),
    ("", {"order": "name asc desc"}, "order"),
    ("", {"order": "nosuch"}, "order"),
    ("", {"order": "owner_id.password_hash"}, "order"),
    ("", {"order": "contact_ids"}, "order"),
    ("", {"domain": json.dumps([["name" + DROP, "=", "x"]])}, "domain"),
    ("", {"domain": json.dumps([["name", "= 1 OR 1=1 --", "x"]])}, "domain"),
    ("", {"domain": json.dumps([["nosuch", "=", 1]])}, "domain"),
    ("", {"domain": json.dumps([["owner_id.password_hash", "=", "x"]])}, "domain"),
    ("", {"domain": json.dumps([["owner_id.nosuch", "=", "x"]])}, "domain"),
    ("", {"domain": json.dumps([["name.login", "=", "x"]])}, "domain"),
    ("", {"domain": json.dumps(["&", ["name", "=", "x"]])}, "domain"),
    ("", {"domain": json.dumps([["id", "=", {"$gt": 0}]])}, "domain"),
    ("", {"domain": json.dumps([["id", "in", "1) OR (1=1"]])}, "domain"),
    ("", {"domain": json.dumps([["name", "like", 5]])}, "domain"),
    ("", {"domain": json.dumps({"name": "x"})}, "domain"),
    ("", {"domain": "1; DROP TABLE crm_customer"}, "domain"),
    ("", {"domain": "[[\"name\", \"=\", NaN]]"}, "domain"),
    ("", {"domain": "[" * 5000 + "]" * 5000}, "domain"),
    ("", {"fields": "name" + DROP}, "fields"),
    ("", {"fields": "name,nosuch"}, "fields"),
    ("", {"fields": "owner_id.login"}, "fields"),
    ("", {"fields": "name,,code"}, "fields"),
    ("", {"fields": "*"}, "fields"),
    ("", {"limit": "-1"}, "limit"),
    ("", {"limit": "ten"}, "limit"),
    ("", {"limit": "1.5"}, "limit"),
    ("", {"limit": "1 OR 1=1"}, "limit"),
    ("", {"limit": "99999999999999999999"}, "limit"),
    ("", {"offset": "-5"}, "offset"),
    ("/group", {"groupby": "name" + DROP}, "groupby"),
    ("/group", {"groupby": "nosuch"}, "groupby"),
    ("/group", {"groupby": "created_at:week"}, "groupby"),
    ("/group", {"groupby": "contact_ids"}, "groupby"),
    ("/group", {"groupby": "owner_id.password_hash"}, "groupby"),
    ("/group", {"aggregates": "id:count" + DROP}, "aggregates"),
    ("/group", {"aggregates": "name:sum"}, "aggregates"),
    ("/group", {"aggregates": "nosuch:count"}, "aggregates"),
    ("/group", {"aggregates": "id:median"}, "aggregates"),
    ("/group", {"aggregates": "id"}, "aggregates"),
    ("/group", {"domain": json.dumps([["name" + DROP, "=", 1]])}, "domain"),
    ("/group", {"groupby": "city", "order": "city; DROP TABLE crm_customer"}, "order"),
]


@pytest.mark.parametrize("persona", ["R1", "admin"])
@pytest.mark.parametrize("suffix,params,names", HOSTILE, ids=[f"{p}" for _, p, _ in HOSTILE])
def test_hostile_input_is_400_naming_it_and_never_executed(world, persona, suffix, params, names):
    before = customer_count(world)
    answer = call(world, persona, "GET", "/data/crm.customer" + suffix, params=params)
    assert answer.status == 400, answer
    assert answer.error["code"] == "bad_request"
    assert names in answer.error["message"].lower(), answer.error
    assert "Traceback" not in answer.text and "[SQL:" not in answer.text  # no statement echoed
    assert customer_count(world) == before


def test_sql_in_values_is_only_ever_a_value(world):
    before = customer_count(world)
    for value in ("x'); DROP TABLE crm_customer; --", "' OR '1'='1", "%' OR 1=1 --"):
        for op in ("=", "like", "ilike", "!="):
            answer = listed(world, "R1", [["name", op, value]])
            assert {i["owner_id"]["id"] for i in answer.json["items"]} <= {world["users"]["R1"]}
            assert answer.json["total"] == len(answer.json["items"])
    made = call(world, "R1", "POST", "/data/crm.customer",
                body={"name": "Robert'); DROP TABLE crm_customer;--"})
    assert made.status == 201 and made.json["name"] == "Robert'); DROP TABLE crm_customer;--"
    assert customer_count(world) == before + 1


@pytest.mark.parametrize("domain", [
    [["name", "=", "a\u0000b"]],
    [["name", "like", "abc\\"]],
    [["name", "ilike", "\\"]],
    [["contact_cycle_days", "=", 2 ** 40]],
    [["created_at", ">", "9999-99-99"]],
    [["id", "in", list(range(3000))]],
], ids=["nul", "like-escape", "ilike-escape", "int-range", "bad-date", "long-in"])
def test_odd_values_never_cause_a_500(world, domain):
    answer = call(world, "R1", "GET", "/data/crm.customer", params={"domain": json.dumps(domain)})
    assert answer.status in (200, 400), answer
    assert answer.json is not None and ("items" in answer.json or answer.error["code"] == "bad_request")


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"\"text\"", b"\xff\xfe", b"", b"null"])
def test_malformed_bodies_are_400(world, raw):
    rid = world["customers"]["R1"][0]
    for method, path in (("POST", "/data/crm.customer"), ("PATCH", f"/data/crm.customer/{rid}"),
                         ("POST", "/auth/token")):
        answer = call(world, "R1", method, path, raw=raw)
        assert answer.status == 400, (method, path, answer)
        assert answer.error["code"] == "bad_request" and "body" in answer.error["message"]


def test_secret_fields_stay_out_of_reach_even_for_admin(world):
    for params in ({"fields": "login,password_hash"},
                   {"domain": json.dumps([["password_hash", "like", "%"]])},
                   {"order": "password_hash"}):
        answer = call(world, "admin", "GET", "/data/core.user", params=params)
        assert answer.status == 400, answer
    users = call(world, "admin", "GET", "/data/core.user").json["items"]
    assert users and all("password_hash" not in u for u in users)
    tokens = call(world, "admin", "GET", "/data/core.token").json["items"]
    assert tokens and all("token_hash" not in t for t in tokens)


def test_a_rep_cannot_hand_a_customer_over(world):
    u = world["users"]
    rid = new_customer(world, "R1", "Handed over")
    answer = call(world, "R1", "PATCH", f"/data/crm.customer/{rid}", body={"owner_id": u["R2"]})
    assert answer.status == 403 and "outside your own scope" in answer.json["error"]["message"]
    assert call(world, "R1", "GET", f"/data/crm.customer/{rid}").json["owner_id"]["id"] == u["R1"]
    assert call(world, "R2", "GET", f"/data/crm.customer/{rid}").status == 404
    answer = call(world, "R1", "POST", "/data/crm.customer", body={"name": "Gift", "owner_id": u["R2"]})
    assert answer.status == 403


def test_a_records_history_follows_its_visibility(world):
    rid = new_customer(world, "R1", "有历史的客户")
    assert call(world, "R1", "PATCH", f"/data/crm.customer/{rid}", body={"city": "苏州"}).status == 200
    answer = call(world, "R1", "GET", f"/data/crm.customer/{rid}/history")
    assert answer.status == 200
    actions = [e["action"] for e in answer.json["items"]]
    assert actions == ["write", "create"]  # newest first
    write = answer.json["items"][0]
    assert write["changes"]["city"][1] == "苏州" and write["source"] == "api"
    assert call(world, "R2", "GET", f"/data/crm.customer/{rid}/history").status == 404
    assert call(world, "B", "GET", f"/data/crm.customer/{rid}/history").status in (403, 404)
    assert call(world, "X", "GET", f"/data/crm.customer/{rid}/history").status == 200
