"""Telemarketing (addons/crm_base/telemarketing.py): call lists generated
from a customer filter (round-robin, once per customer), the rep's queue,
outcomes that log follow-ups, callbacks on the workbench, and the web page
that generates."""
import datetime as dt

import pytest

from addons.crm_base import telemarketing
from core.errors import AccessDenied, NotFound, UserInputError, ValidationError
from tests.conftest import StatementCounter, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import csrf_token, get, sign_in

SCHEMA = "t_crm_telemarketing"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    with db.unit_of_work(users["M1"]) as env:
        made = env["crm.customer"].create(
            [{"name": f"苏州{n}精密机械", "city": "苏州", "grade": "potential",
              "mobile": f"1390000{i:04d}", "owner_id": users["M1"]}
             for i, n in enumerate("甲乙丙丁戊")]
            + [{"name": "无锡成交客户", "city": "无锡", "grade": "deal", "owner_id": users["M1"]}])
        env["crm.contact"].create({"customer_id": made.ids[0], "name": "王经理", "mobile": "13700000000"})
        script = env["crm.call_script"].create({"name": "新品推介", "body": "1. 问好\n2. 介绍新品\n3. 约拜访"})
        lst = env["crm.call_list"].create({
            "name": "苏州潜在客户回访", "domain": [["grade", "=", "potential"], ["city", "=", "苏州"]],
            "rep_ids": [users["R1"], users["R2"]], "script_id": script.id})
    app = make_app(db)
    yield {"db": db, "users": users, "customers": made.ids, "list": lst.id, "app": app}
    drop_module_database(db, SCHEMA)


def test_generate_round_robin_once_per_customer(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        counter = StatementCounter(db.engine)
        with counter:
            calls = telemarketing.generate(env, world["list"])
        assert len(calls) == 5
        assert counter.count < 40, counter.count  # no query per customer
        rows = calls.read(["customer_id", "owner_id", "state", "phone", "contact_id", "customer_name"])
        assert [r["owner_id"]["id"] for r in rows] == [u["R1"], u["R2"], u["R1"], u["R2"], u["R1"]]
        assert {r["state"] for r in rows} == {"to_call"}
        assert rows[0]["customer_name"] == "苏州甲精密机械" and rows[0]["phone"] == "13900000000"
        assert rows[0]["contact_id"]["name"] == "王经理"
        assert env["crm.call_list"].browse([world["list"]]).read(["state"])[0]["state"] == "active"
        # generating again adds only new customers, continuing the turn
        assert len(telemarketing.generate(env, world["list"])) == 0
        extra = env["crm.customer"].create({"name": "苏州新增客户", "city": "苏州", "owner_id": u["M1"]})
        again = telemarketing.generate(env, world["list"])
        assert again.read(["customer_id", "owner_id"])[0]["owner_id"]["id"] == u["R2"]
        assert again.read(["customer_id"])[0]["customer_id"]["id"] == extra.id


def test_generate_refusals(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        empty = env["crm.call_list"].create({"name": "没人打", "domain": []})
        with pytest.raises(ValidationError) as err:
            telemarketing.generate(env, empty.id)
        assert "没人打" in str(err.value)
        done = env["crm.call_list"].create({"name": "已结束", "state": "done", "rep_ids": [u["R1"]]})
        with pytest.raises(UserInputError):
            telemarketing.generate(env, done.id)
    with db.unit_of_work(u["R1"]) as env:  # reps do not build call lists
        with pytest.raises(AccessDenied):
            env["crm.call_list"].create({"name": "自己建"})
        with pytest.raises(AccessDenied):
            telemarketing.generate(env, world["list"])


def test_rep_queue_outcome_logs_follow_up(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        calls = env["crm.call"]
        queue = calls.search_read(telemarketing.queue_domain(env), ["customer_id", "customer_name"])
        assert len(queue) == 3 and all(r["customer_name"].startswith("苏州") for r in queue)
        assert calls.search_count([["owner_id", "!=", env.uid]]) == 0  # own calls only
        first, second, third = [calls.browse([r["id"]]) for r in queue]
        first.write({"state": "done", "outcome": "同意下周拜访", "notes": "对新品感兴趣", "duration": 180})
        row = first.read(["called_at", "interaction_id", "customer_id"])[0]
        assert row["called_at"] is not None and row["interaction_id"]
        # the customer belongs to the manager: the rep does not see the
        # follow-up, the manager does, on the customer
        customer = row["customer_id"]["id"]
        later = env.now.replace(hour=0, minute=0) + dt.timedelta(days=2, hours=10)
        second.write({"state": "callback", "outcome": "请后天再打", "callback_at": later})
        third.write({"state": "no_answer"})
        assert third.read(["interaction_id", "called_at"])[0]["interaction_id"] is None
        # a callback after tomorrow leaves today's queue; no-answer too
        assert calls.search_count(telemarketing.queue_domain(env)) == 0
        with pytest.raises(NotFound):  # another rep's call
            other = env.sudo()["crm.call"].search([["owner_id", "=", u["R2"]]], limit=1)
            calls.browse(other.ids).write({"state": "done"})
    with db.unit_of_work(u["M1"]) as env:
        follow = env["crm.interaction"].search_read([["customer_id", "=", customer]],
                                                    ["channel", "summary", "outcome", "owner_id"])
        assert len(follow) == 1
        assert follow[0]["channel"] == "phone" and follow[0]["summary"] == "同意下周拜访"
        assert follow[0]["outcome"] == "对新品感兴趣" and follow[0]["owner_id"]["id"] == u["R1"]
        callbacks = env["crm.interaction"].search_read([["summary", "=", "请后天再打"]], ["next_contact_at"])
        assert callbacks[0]["next_contact_at"] == later


def test_callback_on_workbench_and_calendar(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R2"]) as env:
        call = env["crm.call"].search([["state", "=", "to_call"]], limit=1)
        soon = env.now + dt.timedelta(minutes=5)
        call.write({"state": "callback", "callback_at": soon, "log_followup": False})
        assert call.read(["interaction_id"])[0]["interaction_id"] is None
        cards = telemarketing.cards(env)
    assert cards[0]["title"] == "Calls to make today"
    assert any(i["note"] == soon for i in cards[0]["items"])
    client = sign_in(world["app"], "r2", PASSWORD)
    who = {"clients": {"R2": client}}
    home = get(who, "/web", "R2")
    assert "Calls to make today" in home and "/web/crm.call?f=my_queue" in home
    text = get(who, "/web/crm.call?f=my_queue", "R2")
    assert "苏州" in text
    get(who, "/web/crm.call?view=calendar", "R2")


def test_generate_page(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        lst = env["crm.call_list"].create({"name": "网页生成", "domain": [["city", "=", "无锡"]],
                                           "rep_ids": [u["R2"]]})
    manager = sign_in(world["app"], "m1", PASSWORD)
    page = manager.get("/web/crm/call_lists")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "网页生成" in text
    answer = manager.post(f"/web/crm/call_lists/{lst.id}/generate",
                          data={"csrf_token": csrf_token(text)})
    assert answer.status_code == 302
    with db.unit_of_work(u["M1"]) as env:
        calls = env["crm.call"].search_read([["call_list_id", "=", lst.id]], ["customer_name"])
        assert [c["customer_name"] for c in calls] == ["无锡成交客户"]
    rep = sign_in(world["app"], "r2", PASSWORD)  # on the list: reads it, may not generate
    text = rep.get("/web/crm/call_lists").get_data(as_text=True)
    assert "网页生成" in text and f"/web/crm/call_lists/{lst.id}/generate" not in text
    other = sign_in(world["app"], "r1", PASSWORD)  # not on it: does not see it
    assert "网页生成" not in other.get("/web/crm/call_lists").get_data(as_text=True)


def test_call_outcomes_report(world):
    from core.services import report_engine
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        done = env["crm.call"].read_group([["state", "=", "done"]], ["owner_id"], ["id:count"])
        assert [(g["owner_id"]["id"], g["id:count"]) for g in done] == [(u["R1"], 1)]
        result = report_engine.run(env, "crm.call_outcomes")
        counts = {tuple(r["key"]): r["values"]["id:count"] for r in result.rows}
        assert counts[(u["R1"], "done")] == 1 and counts[(u["R1"], "callback")] == 1
        assert result.totals["duration:sum"] == 180
    with db.unit_of_work(u["R3"]) as env:  # another team's rep: nothing of D1's calls
        assert report_engine.run(env, "crm.call_outcomes").rows == []


def test_refusal_without_words_is_logged_in_the_reps_language(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work("admin") as env:
        env["core.user"].browse([u["R2"]]).write({"lang": "zh_CN"})
    with db.unit_of_work(u["R2"]) as env:
        call = env["crm.call"].search([["state", "=", "to_call"]], limit=1)
        call.write({"state": "refused"})
        follow = call.read(["interaction_id"])[0]["interaction_id"]
        summary = env.sudo()["crm.interaction"].browse([follow["id"]]).read(["summary"])[0]["summary"]
    assert summary in ("已拒绝", "Refused")  # 已拒绝 once the lead merged /tmp/i18n/terr.json


def test_generate_is_a_record_action_on_the_form(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        lst = env["crm.call_list"].create({"name": "记录动作生成", "domain": [["city", "=", "无锡"]],
                                           "rep_ids": [u["R1"]]})
        assert "generate" in lst.allowed_actions()[lst.id]
        outcome = lst.action("generate")
        assert outcome[0].ran
        assert env["crm.call"].search_count([["call_list_id", "=", lst.id]]) == 1
        done = env["crm.call_list"].create({"name": "已完成名单", "state": "done", "rep_ids": [u["R1"]]})
        assert "generate" not in done.allowed_actions().get(done.id, [])
    with db.unit_of_work(u["R1"]) as env:  # a rep reads the list but may not generate
        assert "generate" not in env["crm.call_list"].browse([lst.id]).allowed_actions().get(lst.id, [])
    manager = sign_in(world["app"], "m1", PASSWORD)
    form = manager.get(f"/web/crm.call_list/{lst.id}").get_data(as_text=True)
    assert 'value="generate"' in form
    rep = sign_in(world["app"], "r1", PASSWORD)
    form = rep.get(f"/web/crm.call_list/{lst.id}").get_data(as_text=True)
    assert 'value="generate"' not in form


def test_a_rep_reads_the_call_lists_naming_them_and_no_other(make_db):
    from tests.test_api_security import create_personas
    db = make_db(addons=["crm_base"])
    users = create_personas(db)
    with db.unit_of_work(users["M1"]) as env:
        lists = env["crm.call_list"].create([{"name": "华东回访", "rep_ids": [users["R1"]]},
                                             {"name": "华东新客", "rep_ids": [users["R2"]]}])
    with db.unit_of_work(users["R1"]) as env:
        assert env["crm.call_list"].search_read([], ["name"]) == [{"id": lists.ids[0], "name": "华东回访"}]
    with db.unit_of_work(users["R3"]) as env:
        assert env["crm.call_list"].search_count([]) == 0
