"""Sales targets (addons/crm_base/targets.py): periods, progress counted
by read_group as the reader (scopes), the workbench card and the page of
targets against actuals."""
import datetime as dt

import pytest
import sqlalchemy as sa

from addons.crm_base import targets
from core.errors import AccessDenied, ValidationError
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import get, sign_in

SCHEMA = "t_crm_targets"


def _today():
    return dt.datetime.now(dt.timezone.utc).date()


def _win(env, opportunity):
    for action in ("qualify", "propose", "negotiate", "win"):
        opportunity.action(action)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    month = _today().replace(day=1)
    last_month = (month - dt.timedelta(days=1)).replace(day=10)
    with db.unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        d1 = env["core.user"].browse([users["R1"]]).read(["department_id"])[0]["department_id"]["id"]
        d1a = env["core.department"].create({"code": "D1A", "name": "上海组", "parent_id": d1}).id
        users["R4"] = env["core.user"].create({"login": "r4", "name": "R4 用户", "department_id": d1a,
                                               "roles": [roles["sales_rep"]]}).id
        users["D1"], users["D1A"] = d1, d1a
    made = {}
    # R1: 3 customers this month, 1 last month; R2: 1; R4: 2; R3 (D2): 2
    for rep, count in (("R1", 4), ("R2", 1), ("R4", 2), ("R3", 2)):
        with db.unit_of_work(users[rep]) as env:
            made[rep] = env["crm.customer"].create(
                [{"name": f"{rep} 客户 {i}", "city": "上海"} for i in range(count)]).ids
    with db.unit_of_work(users["R1"]) as env:
        c = made["R1"][0]
        env["crm.interaction"].create([{"customer_id": c, "summary": f"电话 {i}"} for i in range(3)])
        won = env["crm.opportunity"].create([{"name": "大单", "customer_id": c, "amount": "600.00"},
                                             {"name": "旧单", "customer_id": c, "amount": "900.00"},
                                             {"name": "在谈", "customer_id": c, "amount": "5000.00"}])
        for rid in won.ids[:2]:
            _win(env, env["crm.opportunity"].browse([rid]))
        made["opps"] = won.ids
    with db.unit_of_work(users["R4"]) as env:
        opp = env["crm.opportunity"].create({"name": "上海单", "customer_id": made["R4"][0],
                                             "amount": "400.00"})
        _win(env, opp)
    with db.unit_of_work(users["R3"]) as env:
        opp = env["crm.opportunity"].create({"name": "北京单", "customer_id": made["R3"][0],
                                             "amount": "7000.00"})
        _win(env, opp)
    # move some history into last month, behind the model API's back
    with db.unit_of_work("admin") as env:
        reg = env.registry
        env.conn.execute(sa.update(reg["crm.customer"].table)
                         .where(reg["crm.customer"].table.c.id == made["R1"][3])
                         .values(created_at=dt.datetime.combine(last_month, dt.time(9))))
        env.conn.execute(sa.update(reg["crm.opportunity"].table)
                         .where(reg["crm.opportunity"].table.c.id == made["opps"][1])
                         .values(closed_on=last_month))
        inter = reg["crm.interaction"].table
        first = env.conn.execute(sa.select(sa.func.min(inter.c.id))).scalar()
        env.conn.execute(sa.update(inter).where(inter.c.id == first)
                         .values(at=dt.datetime.combine(last_month, dt.time(9))))
    with db.unit_of_work(users["M1"]) as env:
        t = env["crm.target"]
        ids = {"R1": t.create({"name": "R1 本月", "owner_id": users["R1"], "date_from": month,
                               "amount": "1000.00", "new_customers": 4, "followups": 4}).id,
               "R2": t.create({"name": "R2 本月", "owner_id": users["R2"], "date_from": month,
                               "new_customers": 2}).id,
               "R4": t.create({"name": "R4 本季", "owner_id": users["R4"], "period": "quarter",
                               "date_from": month, "amount": "800.00"}).id,
               "D1": t.create({"name": "华东本月", "owner_id": None, "department_id": d1,
                               "date_from": month, "amount": "2000.00", "new_customers": 10}).id}
    with db.unit_of_work(users["X"]) as env:
        ids["R3"] = env["crm.target"].create({"name": "R3 本月", "owner_id": users["R3"],
                                              "date_from": month, "amount": "7000.00"}).id
    app = make_app(db)
    yield {"db": db, "users": users, "made": made, "targets": ids, "month": month, "app": app}
    drop_module_database(db, SCHEMA)


def _by_name(rows):
    return {r["name"]: r for r in rows}


def test_period_end_is_computed():
    assert targets.period_end("month", dt.date(2024, 2, 1)) == dt.date(2024, 2, 29)
    assert targets.period_end("quarter", dt.date(2025, 11, 1)) == dt.date(2026, 1, 31)
    assert targets.period_end("year", dt.date(2025, 1, 1)) == dt.date(2025, 12, 31)
    assert targets.period_end("custom", dt.date(2025, 1, 1), dt.date(2025, 1, 20)) == dt.date(2025, 1, 20)


def test_date_to_follows_period_and_custom_needs_order(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        t = env["crm.target"].create({"name": "自定义", "owner_id": u["R1"], "period": "custom",
                                      "date_from": dt.date(2025, 3, 5), "date_to": dt.date(2025, 3, 20)})
        assert t.read(["date_to", "department_id"])[0]["date_to"] == dt.date(2025, 3, 20)
        # a rep's target is in the rep's department
        assert t.read(["department_id"])[0]["department_id"]["id"] == u["D1"]
        t.write({"period": "month"})
        assert t.read(["date_to"])[0]["date_to"] == dt.date(2025, 3, 31)
        with pytest.raises(ValidationError):
            t.write({"period": "custom", "date_to": dt.date(2025, 3, 1)})
        t.unlink()


def test_rep_progress_counts_the_period_only(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        rows = targets.read_progress(env)
        assert [r["name"] for r in rows] == ["R1 本月"]  # own targets only
        r1 = rows[0]
    # won this month: 600 (900 closed last month; 5000 still open)
    assert r1["actual_amount"] == 600 and r1["amount_pct"] == 60.0
    # 3 customers this month (the fourth was created last month)
    assert r1["actual_new_customers"] == 3 and r1["new_customers_pct"] == 75.0
    assert r1["actual_followups"] == 2 and r1["followups_pct"] == 50.0


def test_manager_sees_department_tree_and_department_totals(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        rows = _by_name(targets.read_progress(env))
    assert set(rows) == {"R1 本月", "R2 本月", "R4 本季", "华东本月"}  # not R3's (D2)
    assert rows["R2 本月"]["actual_new_customers"] == 1 and rows["R2 本月"]["new_customers_pct"] == 50.0
    assert rows["R4 本季"]["actual_amount"] == 400 and rows["R4 本季"]["amount_pct"] == 50.0
    dept = rows["华东本月"]
    # D1 and D1A: R1 600 + R4 400; customers R1 3 + R2 1 + R4 2
    assert dept["actual_amount"] == 1000 and dept["amount_pct"] == 50.0
    assert dept["actual_new_customers"] == 6 and dept["new_customers_pct"] == 60.0
    assert dept["followups_pct"] is None
    with db.unit_of_work(u["X"]) as env:
        rows = _by_name(targets.read_progress(env))
    assert rows["R3 本月"]["actual_amount"] == 7000 and rows["R3 本月"]["amount_pct"] == 100.0
    assert len(rows) == 5


def test_reps_read_targets_but_do_not_set_them(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        with pytest.raises(AccessDenied):
            env["crm.target"].create({"name": "自己定", "date_from": world["month"]})
        with pytest.raises(AccessDenied):
            env["crm.target"].browse([world["targets"]["R1"]]).write({"amount": "1.00"})
    with pytest.raises(AccessDenied):  # a manager cannot set another team's target
        with db.unit_of_work(u["M1"]) as env:
            env["crm.target"].create({"name": "越权", "owner_id": u["R3"], "date_from": world["month"]})
    with db.unit_of_work(u["X"]) as env:  # and nothing of it was kept
        assert env["crm.target"].search_count([["name", "=", "越权"]]) == 0


def test_closed_on_follows_the_stage(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        opp = env["crm.opportunity"].create({"name": "会输", "customer_id": world["made"]["R1"][1],
                                             "lost_reason": "价格太高"})
        assert opp.read(["closed_on"])[0]["closed_on"] is None
        opp.action("lose")
        assert opp.read(["closed_on"])[0]["closed_on"] == env.now.date()
        opp.action("reopen")
        assert opp.read(["closed_on"])[0]["closed_on"] is None


def test_workbench_card_and_page(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        cards = targets.cards(env)
    assert cards[0]["title"] == "Targets in progress"
    assert cards[0]["items"][0]["note"] == "600.00 / 1,000.00 (60.0%)"
    with db.unit_of_work(u["M1"]) as env:  # the department's manager: its targets too
        assert "华东本月" in [item["label"] for item in targets.cards(env)[0]["items"]]
    with db.unit_of_work(u["B"]) as env:  # no CRM role: no card
        assert targets.cards(env) == []
    client = sign_in(world["app"], "r1", PASSWORD)
    home = client.get("/web").get_data(as_text=True)
    assert "600.00 / 1,000.00 (60.0%)" in home
    manager = {"clients": {"M1": sign_in(world["app"], "m1", PASSWORD)}}
    text = get(manager, "/web/crm/targets", "M1")
    assert "华东本月" in text and "R4 本季" in text and "R3 本月" not in text
    assert "1,000.00" in text
    # another period: nothing
    text = get(manager, "/web/crm/targets?from=2001-01-01&to=2001-01-31", "M1")
    assert "R1 本月" not in text


def test_a_target_moved_to_another_rep_follows_their_department(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:
        t = env["crm.target"].create({"name": "换人", "owner_id": u["R1"], "date_from": dt.date(2025, 1, 1)})
        t.write({"owner_id": u["R4"]})
        assert t.read(["department_id"])[0]["department_id"]["id"] == u["D1A"]
        t.unlink()
