"""The demo company of ``keel init --demo`` (addons/crm_base/demo.py):
departments, 20 users with their roles and a known password, 2,000
customers with Chinese names, unique after the duplicate check's
normalisation, contacts, follow-ups over the last year, opportunities in
every stage moved by the workflow, all deterministic."""
import datetime as dt
import re
import time

import pytest

from addons.crm_base import demo
from core.security.auth import authenticate
from core.services import normalize
from tests.conftest import drop_module_database, module_database

SCHEMA = "t_crm_demo"
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base", "sales"])
    started = time.perf_counter()
    with db.unit_of_work("admin") as env:
        demo.load(env)
    seconds = time.perf_counter() - started
    yield {"db": db, "seconds": seconds}
    drop_module_database(db, SCHEMA)


def test_counts(world):
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].search_count([]) == demo.CUSTOMERS
        users = env["core.user"].search_read([["login", "not in", ["admin", "__system__"]]],
                                             ["login", "roles", "department_id"])
        assert len(users) == 20
        roles = {r["id"]: r["code"] for r in env["core.role"].search_read([], ["code"])}
        held = {}
        for user in users:
            for role in user["roles"]:
                held[roles[role]] = held.get(roles[role], 0) + 1
            assert user["department_id"] is not None
        assert held == {"sales_director": 2, "sales_manager": 3, "sales_rep": 15}
        names = {d["name"] for d in env["core.department"].search_read([], ["name"])}
        assert {"总经理办公室", "销售部", "华东销售组", "华北销售组", "华南销售组", "市场部"} <= names
        assert env["crm.contact"].search_count([]) > 2000
        assert env["crm.interaction"].search_count([]) > 4000
        assert env["crm.opportunity"].search_count([]) > 200
    # a few seconds on the development machine (`make run`'s first start)
    assert world["seconds"] < 30, world["seconds"]


def test_every_stage_is_present_and_reached_by_the_workflow(world):
    with world["db"].unit_of_work("admin") as env:
        stages = {g["stage"]: g["id:count"] for g in env["crm.opportunity"].read_group([], ["stage"], ["id:count"])}
        assert set(stages) == {"new", "qualified", "proposal", "negotiation", "won", "lost"}
        won = env["crm.opportunity"].search_read([["stage", "=", "won"]], ["probability"], limit=5)
        assert {w["probability"] for w in won} == {100}  # the win transition's trigger ran
        # the audit log holds the transitions: the stage was never written directly
        from core.security import audit
        one = env["crm.opportunity"].search([["stage", "=", "won"]], limit=1)
        actions = [e["action"] for e in audit.history(env, "crm.opportunity", one.id)]
        assert actions.count("transition") == 4
        classes = {g["value_class"] for g in env["crm.customer"].read_group([], ["value_class"], ["id:count"])}
        assert classes == {"gold", "potential_gold", "ordinary"}


def test_chinese_names_unique_after_normalisation(world):
    with world["db"].unit_of_work("admin") as env:
        rows = env["crm.customer"].search_read([], ["name", "kind", "phone", "mobile", "city", "region",
                                                    "owner_id", "industry", "source", "grade"])
    companies = [normalize.company(r["name"]) for r in rows if r["kind"] == "company"]
    assert len(companies) == len(set(companies))
    phones = [normalize.phone(r["phone"] or r["mobile"]) for r in rows if r["phone"] or r["mobile"]]
    assert len(phones) == len(set(phones))
    assert sum(1 for r in rows if CJK.search(r["name"])) >= len(rows) - 1
    assert all(r["owner_id"] is not None for r in rows)  # explicit owners
    assert {r["region"] for r in rows} >= {"华东", "华北", "华南"}
    assert all(CJK.search(r["city"]) for r in rows)
    assert len({r["industry"] for r in rows}) >= 6 and len({r["grade"] for r in rows}) == 3
    assert any(r["name"] == "上海明远机械有限公司" for r in rows)


def test_follow_ups_over_the_last_year(world):
    with world["db"].unit_of_work("admin") as env:
        now = env.now
        months = env["crm.interaction"].read_group([], ["at:month"], ["id:count"])
        oldest = env["crm.interaction"].search_read([], ["at"], order="at asc", limit=1)[0]["at"]
    assert len(months) >= 12
    assert now - dt.timedelta(days=367) < oldest < now - dt.timedelta(days=300)


def test_reps_own_their_team_customers_and_sign_in(world):
    with world["db"].unit_of_work("admin") as env:
        rep = env["core.user"].search([["login", "=", "east.rep1"]])
    with world["db"].unit_of_work(rep.id) as env:
        mine = env["crm.customer"].search_read([], ["region", "owner_id"])
        assert mine and {r["owner_id"]["id"] for r in mine} == {rep.id}
        assert {r["region"] for r in mine} == {"华东"}
    assert authenticate(world["db"], "east.rep1", demo.PASSWORD) == rep.id


def test_deterministic():
    one, two = demo.Maker(), demo.Maker()
    a = [one.company("上海", "it") for _ in range(50)] + [one.person() for _ in range(20)] + \
        [one.mobile() for _ in range(10)]
    b = [two.company("上海", "it") for _ in range(50)] + [two.person() for _ in range(20)] + \
        [two.mobile() for _ in range(10)]
    assert a == b
    assert a != [demo.Maker(seed=1).company("上海", "it") for _ in range(50)] + a[50:]


def test_loading_twice_changes_nothing(world):
    with world["db"].unit_of_work("admin") as env:
        demo.load(env)
        assert env["crm.customer"].search_count([]) == demo.CUSTOMERS
