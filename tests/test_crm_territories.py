"""Sales territories (addons/crm_base/territories.py): matching by region,
city, postcode pattern and industry, least-loaded routing of new customers
created by non-sales users (single and batch), the reps' own creations left
alone, and the audit entries."""
import json

import pytest
import sqlalchemy as sa

from core.errors import AccessDenied

from addons.crm_base import territories
from tests.conftest import StatementCounter, drop_module_database, module_database
from tests.test_api_security import create_personas

SCHEMA = "t_crm_territories"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        d2 = env["core.user"].browse([users["R3"]]).read(["department_id"])[0]["department_id"]["id"]
        users["R5"] = env["core.user"].create({"login": "r5", "name": "R5 用户", "department_id": d2,
                                               "roles": [roles["sales_rep"]]}).id
        users["D2"] = d2
        t = env["crm.territory"]
        ids = {
            # tried first: IT companies anywhere in 北京 postcodes 100xxx
            "it_bj": t.create({"name": "北京IT", "sequence": 1, "postcodes": "100*",
                               "industries": "it", "rep_ids": [users["R3"]]}).id,
            "east": t.create({"name": "华东", "sequence": 5, "regions": "华东", "cities": "上海，杭州",
                              "rep_ids": [users["R1"], users["R2"]]}).id,
            "north": t.create({"name": "华北", "sequence": 10, "regions": "华北",
                               "rep_ids": [users["R3"], users["R5"]], "department_id": d2}).id,
            "off": t.create({"name": "停用", "sequence": 0, "active": False,
                             "rep_ids": [users["R2"]]}).id,
        }
    yield {"db": db, "users": users, "t": ids}
    drop_module_database(db, SCHEMA)


def _owners(env, ids):
    return [(r["owner_id"]["id"] if r["owner_id"] else None,
             r["territory_id"]["id"] if r["territory_id"] else None)
            for r in env["crm.customer"].browse(ids).read(["owner_id", "territory_id"])]


def test_matching_rules():
    t = territories.Territory({"id": 1, "name": "x", "department_id": None, "regions": "华东",
                               "cities": "上海, 杭州", "postcodes": "2000*, 310002",
                               "industries": "it,retail", "rep_ids": []}, [])
    assert t.matches({"region": "华东", "city": "上海市", "postcode": "200031", "industry": "it"})
    assert t.matches({"region": "华东", "city": "杭州", "postcode": "310002", "industry": "retail"})
    assert not t.matches({"region": "华东", "city": "上海", "postcode": "201100", "industry": "it"})
    assert not t.matches({"region": "华北", "city": "上海", "postcode": "200031", "industry": "it"})
    assert not t.matches({"region": "华东", "city": "南京", "postcode": "200031", "industry": "it"})
    assert not t.matches({"region": "华东", "city": "上海", "postcode": "200031", "industry": "finance"})
    assert not t.matches({"region": "华东", "city": "上海", "industry": "it"})  # no postcode
    # industries by their names, as the customer form shows them, in either language
    named = territories.Territory({"id": 3, "name": "z", "department_id": None, "regions": None,
                                   "cities": None, "postcodes": None,
                                   "industries": "信息技术、Retail and wholesale", "rep_ids": []}, [])
    assert named.matches({"industry": "it"}) and named.matches({"industry": "retail"})
    assert not named.matches({"industry": "finance"})
    anywhere = territories.Territory({"id": 2, "name": "y", "department_id": None, "regions": None,
                                      "cities": "", "postcodes": None, "industries": None,
                                      "rep_ids": []}, [])
    assert anywhere.matches({})


def test_admin_creations_are_routed_by_region_postcode_and_industry(world):
    db, u, t = world["db"], world["users"], world["t"]
    with db.unit_of_work("admin") as env:
        made = env["crm.customer"].create([
            {"name": "北京软件有限公司", "region": "华北", "postcode": "100080", "industry": "it"},
            {"name": "北京制造厂", "region": "华北", "postcode": "100081", "industry": "manufacturing"},
            {"name": "上海贸易", "region": "华东", "city": "上海市"},
            {"name": "广州客户", "region": "华南", "city": "广州"}])
        owners = _owners(env, made.ids)
        assert owners[0] == (u["R3"], t["it_bj"])      # postcode + industry, first by priority
        assert owners[1][1] == t["north"]              # region; not IT
        assert owners[2][1] == t["east"]
        assert owners[3] == (env.uid, None)            # nothing matches: the creator keeps it
        north = env["crm.customer"].browse([made.ids[1]]).read(["department_id"])[0]
        assert north["department_id"]["id"] == u["D2"]
        # the audit names the territory and the rule
        audit = env.registry["core.audit"].table
        row = env.conn.execute(sa.select(audit.c.changes).where(
            audit.c.model == "crm.customer", audit.c.action == "route",
            audit.c.record_id == made.ids[0])).scalar()
        changes = json.loads(row) if isinstance(row, str) else row
        assert changes["territory"] == "北京IT" and changes["rule"] == "least_loaded"
        env["crm.customer"].browse(made.ids).unlink()


def test_batch_is_spread_least_loaded_with_constant_queries(world):
    db, u, t = world["db"], world["users"], world["t"]
    with db.unit_of_work(u["R1"]) as env:  # R1 already owns two customers
        env["crm.customer"].create([{"name": "R1 自己的 1"}, {"name": "R1 自己的 2"}])
    with db.unit_of_work("admin") as env:
        counter = StatementCounter(db.engine)
        with counter:
            small = env["crm.customer"].create([{"name": f"东方商行{i}", "region": "华东",
                                                 "city": "杭州"} for i in range(4)])
        few = counter.count
        owners = [o for o, _ in _owners(env, small.ids)]
        # loads R1 2, R2 0: R2 twice, then a tie goes to the lower id (R1), then R2
        assert owners == [u["R2"], u["R2"], u["R1"], u["R2"]]
        counter = StatementCounter(db.engine)
        with counter:
            big = env["crm.customer"].create([{"name": f"申江贸易{i}", "region": "华东",
                                               "city": "上海"} for i in range(200)])
        # the same statements for 200 rows as for 4: territories loaded once per batch
        assert counter.count <= few + 2, (few, counter.count)
        loads = {}
        for o, terr in _owners(env, big.ids):
            assert terr == t["east"]
            loads[o] = loads.get(o, 0) + 1
        assert set(loads) == {u["R1"], u["R2"]} and abs(loads[u["R1"]] - loads[u["R2"]]) <= 4


def test_reps_keep_their_own_unless_they_route(world):
    db, u, t = world["db"], world["users"], world["t"]
    with db.unit_of_work(u["R3"]) as env:
        mine = env["crm.customer"].create({"name": "R3 自己的华北客户", "region": "华北"})
        assert _owners(env, mine.ids) == [(u["R3"], None)]
    with pytest.raises(AccessDenied):  # a rep cannot hand a customer to another team
        with db.unit_of_work(u["R1"]) as env:
            env["crm.customer"].create({"name": "转给华北", "region": "华北", "route_to_territory": True})
    with db.unit_of_work(u["M1"]) as env:  # a manager routes within reach of their scope
        routed = env["crm.customer"].create({"name": "经理分配", "region": "华东", "city": "上海",
                                             "route_to_territory": True})
        assert _owners(env, routed.ids)[0][1] == t["east"]
        assert _owners(env, routed.ids)[0][0] in (u["R1"], u["R2"])
    with db.unit_of_work("admin") as env:  # an explicit owner is kept
        given = env["crm.customer"].create({"name": "指定负责人", "region": "华东", "city": "上海",
                                            "owner_id": u["R3"]})
        assert _owners(env, given.ids) == [(u["R3"], None)]
        # an explicit territory routes to its reps even when the rules do not match
        forced = env["crm.customer"].create({"name": "指定区域", "region": "华南",
                                             "territory_id": t["north"]})
        assert _owners(env, forced.ids)[0][0] in (u["R3"], u["R5"])


def test_system_context_routes_imports(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(None) as env:  # a job or an import in the system context
        made = env["crm.customer"].create({"name": "网站表单客户", "region": "华北",
                                           "source": "website"})
        assert _owners(env, made.ids)[0][0] in (u["R3"], u["R5"])


def test_an_import_is_routed_in_one_batch(world):
    from core.services import imports
    from tests.test_import import csv_bytes
    db, u, t = world["db"], world["users"], world["t"]
    data = csv_bytes([["name", "region", "city", "postcode", "industry"],
                      ["京城云计算", "华北", "北京", "100085", "it"],
                      ["燕山钢铁", "华北", "唐山", "063000", "manufacturing"],
                      ["西湖茶叶", "华东", "杭州", "310000", "retail"]])
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.customer", data, "客户导入.csv")
        assert result.created == 3
        rows = env["crm.customer"].search_read([["name", "in", ["京城云计算", "燕山钢铁", "西湖茶叶"]]],
                                               ["name", "owner_id", "territory_id", "postcode"])
    got = {r["name"]: (r["territory_id"]["id"], r["owner_id"]["id"]) for r in rows}
    assert got["京城云计算"] == (t["it_bj"], u["R3"])
    assert got["燕山钢铁"][0] == t["north"] and got["燕山钢铁"][1] in (u["R3"], u["R5"])
    assert got["西湖茶叶"][0] == t["east"] and got["西湖茶叶"][1] in (u["R1"], u["R2"])


def test_managers_route_existing_customers_with_the_record_action(world):
    db, u, t = world["db"], world["users"], world["t"]
    with db.unit_of_work("admin") as env:  # created before the territory knew 南京
        env["crm.territory"].browse([t["east"]]).write({"cities": "上海, 杭州, 南京"})
    with db.unit_of_work(u["R1"]) as env:
        mine = env["crm.customer"].create({"name": "金陵机电", "region": "华东", "city": "南京"})
        assert "route" not in mine.allowed_actions()[mine.id]  # reps do not hand customers over
    with db.unit_of_work(u["M1"]) as env:
        customer = env["crm.customer"].browse([mine.id])
        assert "route" in customer.allowed_actions()[mine.id]
        customer.action("route", "按区域重新分配")
        row = customer.read(["owner_id", "territory_id"])[0]
        assert row["territory_id"]["id"] == t["east"] and row["owner_id"]["id"] in (u["R1"], u["R2"])
        audit = env.registry["core.audit"].table
        actions = env.conn.execute(sa.select(audit.c.action).where(
            audit.c.model == "crm.customer", audit.c.record_id == mine.id)).scalars().all()
        assert "route" in actions and "action" in actions
