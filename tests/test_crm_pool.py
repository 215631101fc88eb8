"""The lead pool (公海): release/claim/assign through the API, claim limit,
caps, cooldown, protections, visibility per department, recycling with a
frozen clock (warnings N days before, the manager's copy), the dry run
equal to what the job then does, bulk assignment audited."""
import datetime as dt
import re

import pytest

from addons.crm_base import pool_engine
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import sign_in

SCHEMA = "t_crm_pool"
T0 = dt.datetime(2026, 3, 2, 9, 0, 0)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    app = make_app(db)
    client = app.test_client()
    tokens = {}
    for persona in ("M1", "R1", "R2", "R3", "X"):
        answer = client.post("/api/v1/auth/token", json={"login": persona.lower(), "password": PASSWORD})
        tokens[persona] = answer.get_json()["token"]
    yield {"db": db, "users": users, "client": client, "tokens": tokens, "app": app}
    drop_module_database(db, SCHEMA)


def api(world, persona, method, path, **kw):
    headers = {"Authorization": f"Bearer {world['tokens'][persona]}"}
    return getattr(world["client"], method)("/api/v1" + path, headers=headers, **kw)


def fresh_pool(world, **values):
    """One pool (the only active one) with ``values``; the others off."""
    with world["db"].unit_of_work("admin") as env:
        env["crm.pool"].search([]).write({"active": False})
        return env["crm.pool"].create({"name": "公海", "active": True, **values}).id


def customers_of(world, persona, *names):
    with world["db"].unit_of_work(world["users"][persona]) as env:
        return env["crm.customer"].create([{"name": n} for n in names]).ids


def in_pool(world, ids, pool_id):
    with world["db"].unit_of_work("admin") as env:
        env["crm.customer"].browse(ids).write({"in_pool": True, "owner_id": None, "pool_id": pool_id})


def logs(world, cid):
    with world["db"].unit_of_work("admin") as env:
        return env["crm.pool_log"].search_read([["customer_id", "=", cid]],
                                               ["action", "from_user_id", "to_user_id", "reason",
                                                "rule_id", "days", "clock_start"], order="id")


def test_release_and_claim_through_the_api(world):
    pool = fresh_pool(world)
    cid, = customers_of(world, "R1", "释放测试有限公司")
    answer = api(world, "R1", "post", f"/data/crm.customer/{cid}/actions/release",
                 json={"comment": "客户暂无需求"})
    assert answer.status_code == 200, answer.get_json()
    row = api(world, "R2", "get", f"/data/crm.customer/{cid}").get_json()
    assert row["in_pool"] is True and row["owner_id"] is None and row["pool_id"]["id"] == pool
    listed = api(world, "R2", "get", f"/data/crm.customer/{cid}/actions").get_json()
    assert "claim" in listed["allowed_actions"]
    # a rep may not release a colleague's customer: 404 as missing
    other, = customers_of(world, "R1", "别人的客户")
    assert api(world, "R2", "post", f"/data/crm.customer/{other}/actions/release").status_code == 404
    answer = api(world, "R2", "post", f"/data/crm.customer/{cid}/actions/claim", json={})
    assert answer.status_code == 200, answer.get_json()
    row = answer.get_json()
    assert row["owner_id"]["id"] == world["users"]["R2"] and row["in_pool"] is False
    # now R1 no longer sees it
    assert api(world, "R1", "get", f"/data/crm.customer/{cid}").status_code == 404
    entries = logs(world, cid)
    assert [e["action"] for e in entries] == ["release", "claim"]
    assert entries[0]["reason"] == "客户暂无需求"
    # audited: the action and the field changes it made
    with world["db"].unit_of_work("admin") as env:
        acts = [r["action"] for r in env["core.audit"].search_read(
            [["model", "=", "crm.customer"], ["record_id", "=", cid]], ["action", "changes"])]
    assert acts.count("action") == 2
    # unknown action names the model's actions; unknown key 400
    bad = api(world, "R2", "post", f"/data/crm.customer/{cid}/actions/fly")
    assert bad.status_code == 400 and "claim" in bad.get_json()["error"]["message"]
    bad = api(world, "R2", "post", f"/data/crm.customer/{cid}/actions/release", json={"user_id": 3})
    assert bad.status_code == 400
    # claiming a customer that is not in the pool: 409
    mine, = customers_of(world, "R2", "不在公海的客户")
    answer = api(world, "R2", "post", f"/data/crm.customer/{mine}/actions/claim")
    assert answer.status_code == 409


def test_claim_limit_is_a_clear_409(world):
    pool = fresh_pool(world, claim_limit=2)
    ids = customers_of(world, "R1", "限额一", "限额二", "限额三")
    in_pool(world, ids, pool)
    for cid in ids[:2]:
        assert api(world, "R3", "post", f"/data/crm.customer/{cid}/actions/claim").status_code == 200
    answer = api(world, "R3", "post", f"/data/crm.customer/{ids[2]}/actions/claim")
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert "Claim limit reached" in error["message"] and error["details"]["reason"] == "claim_limit"


def test_ownership_cap_per_rep_and_department(world):
    with world["db"].unit_of_work("admin") as env:
        owned = env["crm.customer"].search_count([["owner_id", "=", world["users"]["R2"]]])
    pool = fresh_pool(world, cap_per_rep=owned)
    cid, = customers_of(world, "R1", "库容测试")
    in_pool(world, [cid], pool)
    answer = api(world, "R2", "post", f"/data/crm.customer/{cid}/actions/claim")
    assert answer.status_code == 409 and answer.get_json()["error"]["details"]["reason"] == "cap_per_rep"
    pool = fresh_pool(world, cap_per_department=1)
    in_pool(world, [cid], pool)
    answer = api(world, "R2", "post", f"/data/crm.customer/{cid}/actions/claim")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["details"]["reason"] == "cap_per_department"


def test_cooldown_before_the_previous_owner_claims_again(world):
    fresh_pool(world, cooldown_days=7)
    cid, = customers_of(world, "R1", "冷却期客户")
    assert api(world, "R1", "post", f"/data/crm.customer/{cid}/actions/release").status_code == 200
    answer = api(world, "R1", "post", f"/data/crm.customer/{cid}/actions/claim")
    assert answer.status_code == 409 and answer.get_json()["error"]["details"]["reason"] == "cooldown"
    assert api(world, "R2", "post", f"/data/crm.customer/{cid}/actions/claim").status_code == 200


def test_pool_visible_only_to_named_departments(world):
    with world["db"].unit_of_work("admin") as env:
        d1 = env["core.department"].search([["code", "=", "D1"]]).ids
    pool = fresh_pool(world, department_ids=d1)
    cid, = customers_of(world, "R1", "华东专属公海客户")
    assert api(world, "R1", "post", f"/data/crm.customer/{cid}/actions/release").status_code == 200
    assert api(world, "R2", "get", f"/data/crm.customer/{cid}").status_code == 200
    assert api(world, "R3", "get", f"/data/crm.customer/{cid}").status_code == 404
    assert api(world, "R3", "post", f"/data/crm.customer/{cid}/actions/claim").status_code == 404
    # pool visibility is read-only: R2 may not edit it
    assert api(world, "R2", "patch", f"/data/crm.customer/{cid}", json={"city": "上海"}).status_code == 404
    # the pool now names no department: everyone sees it (the security version moved)
    with world["db"].unit_of_work("admin") as env:
        env["crm.pool"].browse(pool).write({"department_ids": []})
    assert api(world, "R3", "get", f"/data/crm.customer/{cid}").status_code == 200


def _frozen(world, now, fn, user="admin"):
    with world["db"].unit_of_work(user) as env:
        env.now = now
        return fn(env)


def test_recycling_with_a_frozen_clock(world):
    pool = fresh_pool(world, warn_days=3)
    users = world["users"]
    with world["db"].unit_of_work("admin") as env:
        env["crm.pool_rule"].create({"pool_id": pool, "name": "潜在客户30天未跟进",
                                     "domain": [["grade", "=", "potential"]], "clock": "no_followup",
                                     "days": 30})
    with world["db"].unit_of_work(users["R1"]) as env:
        env.now = T0
        cold, deal, locked, busy, followed = env["crm.customer"].create([
            {"name": "久未跟进"}, {"name": "已成交", "grade": "deal"}, {"name": "锁定客户", "locked": True},
            {"name": "有商机"}, {"name": "常跟进"}]).ids
        env["crm.opportunity"].create({"name": "进行中的商机", "customer_id": busy})
    with world["db"].unit_of_work(users["R1"]) as env:
        env.now = T0 + dt.timedelta(days=20)
        env["crm.interaction"].create({"customer_id": followed, "summary": "电话回访",
                                       "at": T0 + dt.timedelta(days=20)})
    mine = {cold, deal, locked, busy, followed}
    # day 26: nothing due; day 27: the warning (3 days before), with the manager's copy
    plan = _frozen(world, T0 + dt.timedelta(days=26), pool_engine.plan)
    assert not {i["id"] for i in plan["recycle"] + plan["warn"]} & mine
    warned = _frozen(world, T0 + dt.timedelta(days=27, hours=1), pool_engine.recycle)
    assert [i["id"] for i in warned["warn"] if i["id"] in mine] == [cold]
    with world["db"].unit_of_work("admin") as env:
        notes = env["core.notification"].search_read([["kind", "=", "crm.pool.warning"]],
                                                     ["owner_id", "message"])
    to = {n["owner_id"]["id"] for n in notes}
    assert users["R1"] in to and users["M1"] in to
    assert any("Copy" in n["message"] for n in notes if n["owner_id"]["id"] == users["M1"])
    # day 30: the preview says who goes tonight and why; the job does exactly that
    night = T0 + dt.timedelta(days=30, hours=2)
    preview = _frozen(world, night, pool_engine.preview, users["M1"])
    going = [i["id"] for i in preview["recycle"] if i["id"] in mine]
    assert going == [cold]
    item = [i for i in preview["recycle"] if i["id"] == cold][0]
    assert item["days"] == 30 and item["clock_start"] == T0 and "潜在客户30天未跟进" in item["reason"]
    done = _frozen(world, night, pool_engine.recycle)
    assert [i["id"] for i in done["recycle"] if i["id"] in mine] == going
    with world["db"].unit_of_work("admin") as env:
        rows = {r["id"]: r for r in env["crm.customer"].browse(list(mine)).read(
            ["in_pool", "owner_id", "previous_owner_id"])}
    assert rows[cold]["in_pool"] and rows[cold]["owner_id"] is None
    assert rows[cold]["previous_owner_id"]["id"] == users["R1"]
    assert not any(rows[i]["in_pool"] for i in (deal, locked, busy, followed))
    entry = logs(world, cold)[-1]
    assert entry["action"] == "recycle" and entry["days"] == 30 and entry["clock_start"] == T0
    assert entry["rule_id"] is not None and entry["from_user_id"]["id"] == users["R1"]
    # nothing left to do the same night
    assert not [i for i in _frozen(world, night, pool_engine.plan)["recycle"] if i["id"] in mine]


def test_pool_protect_domain(world):
    pool = fresh_pool(world, protect_domain=[["city", "=", "深圳"]])
    with world["db"].unit_of_work("admin") as env:
        env["crm.pool_rule"].create({"pool_id": pool, "name": "分配后60天未成交", "clock": "no_deal",
                                     "days": 60})
    with world["db"].unit_of_work(world["users"]["R3"]) as env:
        env.now = T0
        keep, go = env["crm.customer"].create([{"name": "华强电子", "city": "深圳"},
                                               {"name": "白云贸易", "city": "广州"}]).ids
    plan = _frozen(world, T0 + dt.timedelta(days=61), pool_engine.plan)
    ids = {i["id"] for i in plan["recycle"]}
    assert go in ids and keep not in ids


def test_bulk_assign_audited(world):
    fresh_pool(world)
    ids = customers_of(world, "R1", "批量甲", "批量乙")
    users = world["users"]
    # a rep may not assign
    answer = api(world, "R1", "post", f"/data/crm.customer/{ids[0]}/actions/assign",
                 json={"user_id": users["R2"]})
    assert answer.status_code == 403
    answer = api(world, "M1", "post", f"/data/crm.customer/{ids[0]}/actions/assign",
                 json={"user_id": users["R2"], "comment": "调整"})
    assert answer.status_code == 200, answer.get_json()
    app = world["app"]
    client = sign_in(app, "m1", PASSWORD)
    page = client.get(f"/web/crm/pool/assign?ids={ids[1]}")
    assert page.status_code == 200 and "批量乙" in page.get_data(as_text=True)
    from tests.web_helpers import csrf_token
    answer = client.post("/web/crm/pool/assign", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "ids": f"{ids[0]},{ids[1]}",
        "user_id": str(users["R1"])})
    assert answer.status_code == 302
    with world["db"].unit_of_work("admin") as env:
        owners = {r["owner_id"]["id"] for r in env["crm.customer"].browse(ids).read(["owner_id"])}
    assert owners == {users["R1"]}
    assert [e["action"] for e in logs(world, ids[0])] == ["assign", "assign"]
    assert logs(world, ids[0])[0]["reason"] == "调整"
    with world["db"].unit_of_work("admin") as env:
        audited = env["core.audit"].search_read([["model", "=", "crm.customer"],
                                                 ["record_id", "in", ids], ["action", "=", "action"]],
                                                ["record_id", "changes"])
    assert sorted(a["record_id"] for a in audited) == sorted([ids[0], ids[0], ids[1]])
    assert all(a["changes"]["action"] == "assign" for a in audited)
    # the preview page and its JSON
    assert client.get("/web/crm/pool/preview").status_code == 200
    assert set(client.get("/web/crm/pool/preview?format=json").get_json()) == {"recycle", "warn"}
    rep = sign_in(app, "r1", PASSWORD)
    assert rep.get("/web/crm/pool/preview").status_code == 200  # their own customers only
    assert rep.get(f"/web/crm/pool/assign?ids={ids[0]}").status_code == 403


def test_form_buttons_and_claim_from_the_form(world):
    pool = fresh_pool(world)
    cid, = customers_of(world, "R1", "表单认领客户")
    in_pool(world, [cid], pool)
    client = sign_in(world["app"], "r2", PASSWORD)
    html = client.get(f"/web/crm.customer/{cid}").get_data(as_text=True)
    assert '<button type="submit" name="action" value="claim">' in html
    assert 'value="assign"' not in html
    from tests.web_helpers import csrf_token
    answer = client.post(f"/web/crm.customer/{cid}", data={"csrf_token": csrf_token(html), "action": "claim"})
    assert answer.status_code == 302
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].browse(cid).read(["owner_id"])[0]["owner_id"]["id"] == world["users"]["R2"]
    html = client.get(f"/web/crm.customer/{cid}").get_data(as_text=True)
    assert 'value="release"' in html


def test_workbench_card_soon_back_to_the_pool(world):
    pool = fresh_pool(world, warn_days=5)
    with world["db"].unit_of_work("admin") as env:
        env["crm.pool_rule"].create({"pool_id": pool, "name": "十天未跟进", "days": 10})
    with world["db"].unit_of_work(world["users"]["R2"]) as env:
        env.now = dt.datetime.now() - dt.timedelta(days=7)
        env["crm.customer"].create({"name": "快回公海的客户"})
    with world["db"].unit_of_work(world["users"]["R2"]) as env:
        cards = pool_engine.cards(env)
    assert cards and "快回公海的客户" in [i["label"] for i in cards[0]["items"]]


def test_the_recycling_job_is_declared_and_importable(world):
    import importlib
    with world["db"].unit_of_work("admin") as env:
        job = env["core.job"].search_read([["key", "=", "crm.pool.recycle"]], ["function", "cron"])
    assert job and job[0]["cron"] == "30 1 * * *"
    module, _, name = job[0]["function"].partition(":")
    assert callable(getattr(importlib.import_module(module), name))


def test_the_form_history_names_the_pool_moves_and_their_reasons(make_db):
    """A release on the customer's page reads "Release" with its comment,
    and the dates it set as dates, not as the audit log keeps them."""
    from tests.test_api_security import PASSWORD, create_personas, make_app
    from tests.web_helpers import sign_in
    db = make_db(addons=["crm_base"])
    users = create_personas(db)
    with db.unit_of_work(users["R1"]) as env:
        customer = env["crm.customer"].create({"name": "宁波海天贸易有限公司"})
        customer.action("release", "客户暂无预算")
    client = sign_in(make_app(db), "m1", PASSWORD)
    html = client.get(f"/web/crm.customer/{customer.id}").get_data(as_text=True)
    history = html.split('id="history"')[1]
    assert "<strong>Release to the lead pool</strong>" in history and "Comment: 客户暂无预算" in history
    assert "<strong>action</strong>" not in history
    assert not re.search(r"Released on: — → \d{4}-\d\d-\d\dT", history)
