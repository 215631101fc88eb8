"""CRM analyses (addons/crm_base/analyses.py): the 80/20 value classes
(split, nightly job, reports), new customers per rep against the
department average, and the CRM roles' permissions and scopes of
CONTRACT.md §6 over every CRM model."""
import decimal

import pytest

from addons.crm_base.analyses import classify, split
from core.services import report_engine
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import create_personas

SCHEMA = "t_crm_analyses"
D = decimal.Decimal


def test_split_80_15_5():
    values = [(1, D(50)), (2, D(30)), (3, D(10)), (4, D(5)), (5, D(3)), (6, D(2)), (7, D(0)), (8, None)]
    assert split(values) == {1: "gold", 2: "gold", 3: "potential_gold", 4: "potential_gold",
                             5: "ordinary", 6: "ordinary", 7: "ordinary", 8: "ordinary"}
    # the customer crossing the 80% line is gold; ties are ranked by id
    assert split([(9, D(40)), (3, D(40)), (4, D(20))]) == {3: "gold", 9: "gold", 4: "potential_gold"}
    assert split([]) == {} and split([(1, D(0))]) == {1: "ordinary"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    won = {"甲": 500, "乙": 300, "丙": 100, "丁": 60, "戊": 40}
    ids = {}
    with db.unit_of_work(users["R1"]) as env:
        for name in ("甲", "乙", "丙"):
            ids[name] = env["crm.customer"].create({"name": f"{name}公司"}).id
    with db.unit_of_work(users["R3"]) as env:
        for name in ("丁", "戊", "己"):
            ids[name] = env["crm.customer"].create({"name": f"{name}公司"}).id
    with db.unit_of_work("admin") as env:
        for name, amount in won.items():
            opp = env["crm.opportunity"].create({"name": f"{name}单", "customer_id": ids[name],
                                                 "amount": str(amount)})
            for action in ("qualify", "propose", "negotiate", "win"):
                opp.action(action)
        env["crm.opportunity"].create({"name": "己的商机", "customer_id": ids["己"], "amount": "900"})
    yield {"db": db, "users": users, "ids": ids}
    drop_module_database(db, SCHEMA)


def classes(env, ids):
    rows = env["crm.customer"].search_read([["id", "in", list(ids.values())]], ["value_class"])
    back = {v: k for k, v in ids.items()}
    return {back[r["id"]]: r["value_class"] for r in rows}


def test_the_job_stores_the_classes_and_writes_only_changes(world):
    db, ids = world["db"], world["ids"]
    with db.unit_of_work("admin") as env:
        moved = classify(env.sudo())
        assert classes(env, ids) == {"甲": "gold", "乙": "gold", "丙": "potential_gold",
                                     "丁": "potential_gold", "戊": "ordinary", "己": "ordinary"}
        assert moved["gold"] == 2 and moved["potential_gold"] == 2
        again = classify(env.sudo())
        assert again == {"gold": 0, "potential_gold": 0, "ordinary": 0}
        # by the open pipeline instead: only 己 has value
        classify(env.sudo(), "open")
        assert classes(env, ids)["己"] == "gold" and classes(env, ids)["甲"] == "ordinary"
        classify(env.sudo())
        assert classes(env, ids)["甲"] == "gold"


def test_the_job_is_declared_and_runs_nightly(world):
    with world["db"].unit_of_work("admin") as env:
        job = env["core.job"].search_read([["key", "=", "crm.value_classes"]], ["function", "cron"])
    assert job and job[0]["function"] == "addons.crm_base.analyses:value_classes"
    assert job[0]["cron"] == "30 2 * * *"


def test_value_class_reports_follow_the_scopes(world):
    db, users = world["db"], world["users"]
    with db.unit_of_work("admin") as env:
        classify(env.sudo())
    with db.unit_of_work(users["X"]) as env:
        result = report_engine.run(env, "crm.value_classes", period_unit="all")
        counts = {r["key"][0]: r["values"][result.measures[0]] for r in result.rows}
        assert counts == {"gold": 2, "potential_gold": 2, "ordinary": 2}
        revenue = report_engine.run(env, "crm.revenue_by_value_class", period_unit="all")
        sums = {r["key"][0]: r["values"]["amount:sum"] for r in revenue.rows}
        assert sums == {"gold": D("800.00"), "potential_gold": D("160.00"), "ordinary": D("40.00")}
    with db.unit_of_work(users["R1"]) as env:  # a rep counts their own customers only
        result = report_engine.run(env, "crm.value_classes", period_unit="all", lang="zh_CN")
        assert {r["key"][0]: r["values"][result.measures[0]] for r in result.rows} == {"gold": 2, "potential_gold": 1}
        assert result.rows[0]["labels"][0] in ("Gold", "金牌")  # zh_CN once the lead merges the catalog


def test_new_customers_per_rep_against_the_department_average(world):
    db, users = world["db"], world["users"]
    with db.unit_of_work(users["M1"]) as env:
        result = report_engine.run(env, "crm.new_customers_per_rep")
        assert result.compare == ["team"]
        rows = {r["raw"]["owner_id"]["id"]: r["values"] for r in result.rows}
        assert rows[users["R1"]][result.measures[0]] == 3
        assert rows[users["R1"]][result.measures[0] + ":average"] == 3  # R2 has none and is not in the rows
        assert users["R3"] not in rows  # another department's rep


# -- roles ------------------------------------------------------------------------------------
#: CONTRACT.md §6: sales_rep own, sales_manager department_tree, sales_director all
SCOPES = {"sales_rep": "own", "sales_manager": "department_tree", "sales_director": "all"}
#: settings only admins edit, read by the system context where the CRM needs
#: them (the duplicate check's keys, the forecast's frequency table): no
#: CRM role needs a permission on them
SETTINGS = {"crm.duplicate_key", "crm.win_stat"}


def crm_models(registry):
    return sorted(name for name in registry.models if name.startswith("crm."))


def test_every_crm_model_has_the_contract_scopes(world):
    """Every model of crm_base (and of its parts, through ``roles()``),
    settings aside, is readable by the three CRM roles; a model of records
    with an owner has the scope of CONTRACT.md §6 (own, department tree,
    all); models reached through their customer (``access_parent``) follow
    it, and shared lists (pools, territories, scripts: no owner) may be read
    by all."""
    with world["db"].unit_of_work("admin") as env:
        registry = env.registry
        merged = {}
        for _addon, roles in registry.hooks.gather("keel_roles"):
            for role in roles or ():
                if role["code"] in SCOPES:
                    slot = merged.setdefault(role["code"], {"permissions": {}, "scopes": {}})
                    slot["permissions"].update(role.get("permissions", {}))
                    slot["scopes"].update(role.get("scopes", {}))
        assert set(merged) == set(SCOPES)
        missing = []
        for model in crm_models(registry):
            if model in SETTINGS:
                continue
            meta = registry[model]
            for code, scope in SCOPES.items():
                ops = merged[code]["permissions"].get(model)
                if not ops or "read" not in ops:
                    missing.append(f"{code}: no read on {model}")
                    continue
                if getattr(meta, "access_parent", None):
                    continue  # follows its parent record's rules
                got = merged[code]["scopes"].get(model, "all")
                if "owner_id" in meta.fields and got != scope:
                    missing.append(f"{code}: {model} scope {got}, not {scope}")
        assert not missing, missing
        for model in ("crm.customer", "crm.contact", "crm.interaction", "crm.opportunity"):
            for code in SCOPES:
                assert {"read", "create", "write"} <= set(merged[code]["permissions"][model])


def test_roles_in_the_database_match(world):
    """What was loaded at install: the role rows hold the same scopes."""
    from tests.test_api_security import PASSWORD  # noqa: F401  (personas exist)
    db, users = world["db"], world["users"]
    with db.unit_of_work(users["R1"]) as env:
        assert env["crm.customer"].search_count([]) == 3
    with db.unit_of_work(users["M1"]) as env:
        assert env["crm.customer"].search_count([]) == 3  # D1 only
    with db.unit_of_work(users["X"]) as env:
        assert env["crm.customer"].search_count([]) == 6
