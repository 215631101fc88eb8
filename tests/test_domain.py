"""Domains (CONTRACT.md §3), order, limit and offset."""
import datetime as dt

import pytest

from core.errors import DomainError, UserInputError
from tests.test_model_api import scratch_env


@pytest.fixture
def env(mdb):
    with scratch_env(mdb) as env:
        yield env


@pytest.fixture
def data(env):
    """Four customers (one with every optional field empty) and contacts."""
    users = env["core.user"]
    zhang = users.create({"login": "zhang", "name": "张三"})
    li = users.create({"login": "li", "name": "李四"})
    c = env["crm.customer"].create([
        {"name": "Alpha", "city": "上海", "contact_cycle_days": 10, "credit_limit": "100", "in_pool": True,
         "grade": "intent", "owner_id": env.uid, "next_contact_at": dt.datetime(2024, 1, 10, 9)},
        {"name": "beta", "city": "北京", "contact_cycle_days": 20, "credit_limit": "200", "in_pool": False,
         "grade": "deal", "owner_id": zhang.id, "next_contact_at": dt.datetime(2024, 2, 10, 9)},
        {"name": "Gamma 公司", "city": None, "contact_cycle_days": None, "credit_limit": None,
         "in_pool": None, "grade": None, "owner_id": None},
        {"name": "delta", "city": "上海", "contact_cycle_days": 30, "credit_limit": "300.50",
         "in_pool": False, "grade": "deal", "owner_id": zhang.id, "next_contact_at": dt.datetime(2024, 3, 1)},
    ])
    ids = dict(zip(["Alpha", "beta", "Gamma 公司", "delta"], c.ids))
    env["crm.contact"].create([
        {"name": "a1", "customer_id": ids["Alpha"]}, {"name": "b1", "customer_id": ids["beta"]},
        {"name": "d1", "customer_id": ids["delta"]}, {"name": "g1", "customer_id": ids["Gamma 公司"]}])
    return {"ids": ids, "zhang": zhang, "li": li}


def names(env, domain, model="crm.customer"):
    return {r["name"] for r in env[model].search_read(domain, ["name"])}


ALL = {"Alpha", "beta", "Gamma 公司", "delta"}

CASES = [
    ([["city", "=", "上海"]], {"Alpha", "delta"}),
    ([["city", "!=", "上海"]], {"beta", "Gamma 公司"}),  # != keeps the empty ones
    ([["contact_cycle_days", "<", 20]], {"Alpha"}),
    ([["contact_cycle_days", "<=", 20]], {"Alpha", "beta"}),
    ([["contact_cycle_days", ">", 20]], {"delta"}),
    ([["contact_cycle_days", ">=", 20]], {"beta", "delta"}),
    ([["contact_cycle_days", "=", "20"]], {"beta"}),  # converted like a written value
    ([["credit_limit", ">", "150.00"]], {"beta", "delta"}),
    ([["credit_limit", "=", 300.5]], {"delta"}),
    ([["next_contact_at", ">=", "2024-02-01"]], {"beta", "delta"}),
    ([["next_contact_at", "<", dt.datetime(2024, 2, 10, 9)]], {"Alpha"}),
    ([["city", "in", ["上海", "北京"]]], {"Alpha", "beta", "delta"}),
    ([["city", "in", []]], set()),
    ([["city", "in", [None, "北京"]]], {"beta", "Gamma 公司"}),
    ([["city", "not in", ["上海"]]], {"beta", "Gamma 公司"}),
    ([["city", "not in", ["上海", None]]], {"beta"}),
    ([["city", "not in", []]], ALL),
    ([["grade", "in", ("deal",)]], {"beta", "delta"}),
    ([["name", "like", "%a"]], {"Alpha", "beta", "delta"}),
    ([["name", "like", "_eta"]], {"beta"}),
    ([["name", "like", "Al%"]], {"Alpha"}),
    ([["name", "ilike", "AL%"]], {"Alpha"}),
    ([["name", "ilike", "%公司"]], {"Gamma 公司"}),
    ([["name", "ilike", "%ELT%"]], {"delta"}),
    ([["city", "=", None]], {"Gamma 公司"}),
    ([["city", "!=", None]], {"Alpha", "beta", "delta"}),
    ([["city", "=", False]], {"Gamma 公司"}),  # False on a non-boolean field means empty
    ([["owner_id", "=", None]], {"Gamma 公司"}),
    ([["in_pool", "=", True]], {"Alpha"}),
    ([["in_pool", "=", False]], {"beta", "Gamma 公司", "delta"}),  # False matches unset
    ([["in_pool", "!=", False]], {"Alpha"}),
    ([["in_pool", "!=", True]], {"beta", "Gamma 公司", "delta"}),
    ([["in_pool", "in", [False]]], {"beta", "Gamma 公司", "delta"}),
    ([["in_pool", "not in", [False]]], {"Alpha"}),
    ([["in_pool", "=", None]], {"Gamma 公司"}),
    ([["in_pool", "=", "否"]], {"beta", "Gamma 公司", "delta"}),
    # prefix operators and implicit AND
    ([["city", "=", "上海"], ["contact_cycle_days", ">", 10]], {"delta"}),
    (["&", ["city", "=", "上海"], ["contact_cycle_days", ">", 10]], {"delta"}),
    (["|", ["city", "=", "北京"], ["name", "=", "Alpha"]], {"Alpha", "beta"}),
    (["!", ["city", "=", "上海"]], {"beta", "Gamma 公司"}),  # the complement, empty city included
    (["!", ["contact_cycle_days", ">", 15]], {"Alpha", "Gamma 公司"}),
    (["!", "|", ["city", "=", "北京"], ["name", "=", "Alpha"]], {"Gamma 公司", "delta"}),
    (["|", "&", ["city", "=", "上海"], ["grade", "=", "deal"], ["name", "=", "beta"]], {"beta", "delta"}),
    (["|", ["city", "=", "北京"], ["city", "=", "上海"], ["grade", "=", "deal"]], {"beta", "delta"}),
    (["&", "|", ["city", "=", "北京"], ["city", "=", "上海"], "!", ["grade", "=", "deal"]], {"Alpha"}),
    (["|", "!", ["in_pool", "=", True], ["name", "=", "Alpha"]], ALL),
    ([], ALL),
    (None, ALL),
    (("|", ("city", "=", "北京"), ("city", "=", "上海")), {"Alpha", "beta", "delta"}),  # tuples too
    # dotted paths through many2one
    ([["owner_id.login", "=", "zhang"]], {"beta", "delta"}),
    ([["owner_id.login", "in", ["zhang", "admin"]]], {"Alpha", "beta", "delta"}),
    ([["owner_id.name", "ilike", "张%"]], {"beta", "delta"}),
    ([["owner_id.login", "=", None]], {"Gamma 公司"}),
    (["|", ["owner_id.login", "=", "admin"], ["owner_id.name", "=", "张三"]], {"Alpha", "beta", "delta"}),
    ([["owner_id.department_id.code", "=", None], ["city", "=", "上海"]], {"Alpha", "delta"}),
]


@pytest.mark.parametrize("domain,expected", CASES, ids=[str(d)[:60] for d, _ in CASES])
def test_domain(env, data, domain, expected):
    found = names(env, [*domain, ["name", "in", list(ALL)]] if domain and domain[0] not in ("|", "!", "&")
                  else domain)
    assert found & ALL == expected
    # search, search_count and search_read agree
    assert env["crm.customer"].search_count(domain) == len(env["crm.customer"].search(domain))


def test_many2one_compares_with_ids_and_records(env, data):
    zhang = data["zhang"]
    assert names(env, [["owner_id", "=", zhang.id]]) == {"beta", "delta"}
    assert names(env, [["owner_id", "=", zhang]]) == {"beta", "delta"}
    assert names(env, [["owner_id", "in", [zhang.id, env.uid]]]) == {"Alpha", "beta", "delta"}
    assert names(env, [["owner_id", "!=", zhang.id], ["name", "in", list(ALL)]]) == {"Alpha", "Gamma 公司"}


def test_dotted_paths_two_levels_on_contacts(env, data):
    assert names(env, [["customer_id.owner_id.login", "=", "zhang"]], "crm.contact") == {"b1", "d1"}
    assert names(env, [["customer_id.city", "=", "上海"], ["customer_id.owner_id.login", "=", "admin"]],
                 "crm.contact") == {"a1"}
    assert names(env, ["|", ["customer_id.name", "=", "beta"], ["customer_id.owner_id.login", "=", None]],
                 "crm.contact") == {"b1", "g1"}
    rows = env["crm.contact"].search_read([["customer_id.owner_id.login", "=", "zhang"]], ["name"],
                                          order="customer_id.name desc")
    assert [r["name"] for r in rows] == ["d1", "b1"]


def test_many2many_on_user_roles(env, data):
    admin_role = env["core.role"].search([["code", "=", "admin"]])
    other = env["core.role"].create({"code": "x_role", "name": "X"})
    data["zhang"].write({"roles": [admin_role.id, other.id]})
    data["li"].write({"roles": [other.id]})
    users = lambda domain: {r["login"] for r in env["core.user"].search_read(
        [*domain, ["login", "in", ["admin", "zhang", "li"]]], ["login"])}
    assert users([["roles", "=", admin_role.id]]) == {"admin", "zhang"}
    assert users([["roles", "in", [other.id]]]) == {"zhang", "li"}
    assert users([["roles", "not in", [admin_role.id]]]) == {"li"}
    assert users([["roles", "!=", admin_role.id]]) == {"li"}
    assert users([["roles", "in", [admin_role.id, other.id]]]) == {"admin", "zhang", "li"}
    data["li"].write({"roles": []})
    assert users([["roles", "=", None]]) == {"li"}
    assert users([["roles", "=", False]]) == {"li"}
    assert users([["roles", "!=", None]]) == {"admin", "zhang"}
    assert users([["roles", "in", []]]) == {"li"}
    # through a many2one
    assert names(env, [["owner_id.roles", "=", admin_role.id]]) == {"Alpha", "beta", "delta"}
    with pytest.raises(DomainError, match="many2many"):
        env["core.user"].search([["roles", "like", "adm%"]])
    with pytest.raises(DomainError, match="record ids"):
        env["core.user"].search([["roles", "in", ["admin"]]])
    with pytest.raises(DomainError, match="not a many2one"):
        env["core.user"].search([["roles.code", "=", "admin"]])


BAD = [
    ([["nope", "=", 1]], "nope"),
    ([["owner_id.nope", "=", 1]], "nope"),
    ([["name.length", "=", 1]], "not a many2one"),
    ([["", "=", 1]], "bad field"),
    ([[None, "=", 1]], "bad field"),
    ([["name", "==", "x"]], "'=='"),
    ([["name", "LIKE", "x"]], "'LIKE'"),
    ([["name", "=~", "x"]], "unknown operator"),
    (["|", ["name", "=", "x"]], "'|' needs two terms"),
    (["&"], "'&' needs two terms"),
    (["!"], "'!' needs a term"),
    ([["name", "=", "x"], "|"], "'|' needs two terms"),
    ([["name", "="]], "malformed domain term"),
    ([["name", "=", "x", "y"]], "malformed domain term"),
    (["name", "=", "x"], "malformed domain term"),
    ([{"name": "x"}], "malformed domain term"),
    ([42], "malformed domain term"),
    ("name = x", "must be a list"),
    ({"name": "x"}, "must be a list"),
    ([["city", "in", "上海"]], "needs a list"),
    ([["city", "not in", None]], "needs a list"),
    ([["name", "like", 5]], "text pattern"),
    ([["contact_cycle_days", "like", "1%"]], "needs a text field"),
    ([["credit_limit", "ilike", "1%"]], "needs a text field"),
    ([["owner_id", "like", "adm%"]], "needs a text field"),
    ([["contact_cycle_days", "=", "twenty"]], "crm.customer.contact_cycle_days"),
    ([["credit_limit", ">", "much"]], "'much'"),
    ([["grade", "=", "vip"]], "is not one of"),
    ([["next_contact_at", ">", "soon"]], "next_contact_at"),
    ([["owner_id", "=", "admin"]], "expected a record id"),
    ([["city", "<", None]], "cannot compare with null"),
    ([["contact_ids", "=", 1]], "one2many"),
    ([["contact_ids.name", "=", "x"]], "not a many2one"),
]


@pytest.mark.parametrize("domain,culprit", BAD, ids=[str(d)[:50] for d, _ in BAD])
def test_bad_domains_raise_domain_error_naming_the_culprit(env, domain, culprit):
    with pytest.raises(DomainError) as err:
        env["crm.customer"].search(domain)
    assert culprit in str(err.value)
    assert err.value.http_status == 400
    with pytest.raises(DomainError):
        env["crm.customer"].search_count(domain)


# -- order -----------------------------------------------------------------------------

def order_of(env, order, **kw):
    return [r["name"] for r in env["crm.customer"].search_read([["name", "in", list(ALL)]], ["name"],
                                                                order=order, **kw)]


def test_order(env, data):
    assert order_of(env, None) == ["Alpha", "Gamma 公司", "beta", "delta"]  # model default: name
    assert order_of(env, "name desc") == ["delta", "beta", "Gamma 公司", "Alpha"]
    assert order_of(env, "contact_cycle_days DESC") == ["Gamma 公司", "delta", "beta", "Alpha"]
    assert order_of(env, "contact_cycle_days") == ["Alpha", "beta", "delta", "Gamma 公司"]  # nulls last
    assert order_of(env, "city, name desc") == ["delta", "Alpha", "beta", "Gamma 公司"]
    assert order_of(env, "owner_id.login desc, name") == ["Gamma 公司", "beta", "delta", "Alpha"]
    assert order_of(env, "credit_limit desc") == ["Gamma 公司", "delta", "beta", "Alpha"]
    assert order_of(env, "id desc") == ["delta", "Gamma 公司", "beta", "Alpha"]
    assert order_of(env, "") == order_of(env, None)
    # ties are broken by id
    assert order_of(env, "grade") == ["beta", "delta", "Alpha", "Gamma 公司"]


@pytest.mark.parametrize("order,culprit", [
    ("name sideways", "name sideways"), ("nope", "nope"), ("name desc extra", "name desc extra"),
    ("name,,city", "''"), ("contact_ids", "one2many"), ("roles", "no field"),
    (["name"], "expected text"), ("owner_id.nope desc", "nope"), ("name; drop table x", "drop"),
])
def test_bad_order(env, order, culprit):
    with pytest.raises(DomainError, match=None) as err:
        env["crm.customer"].search([], order=order)
    assert culprit in str(err.value)


def test_limit_and_offset(env, data):
    assert order_of(env, "name", limit=2) == ["Alpha", "Gamma 公司"]
    assert order_of(env, "name", limit=2, offset=1) == ["Gamma 公司", "beta"]
    assert order_of(env, "name", offset=3) == ["delta"]
    assert order_of(env, "name", limit=0) == []
    assert order_of(env, "name", offset=10) == []
    assert len(env["crm.customer"].search([["name", "in", list(ALL)]], limit=3)) == 3


@pytest.mark.parametrize("kw", [{"limit": -1}, {"limit": "5"}, {"limit": 1.5}, {"limit": True},
                                {"offset": -1}, {"offset": "2"}])
def test_bad_limit_and_offset(env, kw):
    with pytest.raises(UserInputError, match="limit" if "limit" in kw else "offset"):
        env["crm.customer"].search([], **kw)


def test_search_count(env, data):
    assert env["crm.customer"].search_count([["name", "in", list(ALL)]]) == 4
    assert env["crm.customer"].search_count([["owner_id.login", "=", "zhang"]]) == 2
    assert env["crm.customer"].search_count([["name", "=", "nobody"]]) == 0
    assert env["crm.customer"].search_count(["!", ["city", "=", "上海"], ["name", "in", list(ALL)]]) == 2


def test_search_returns_records_in_order(env, data):
    recs = env["crm.customer"].search([["name", "in", list(ALL)]], order="name desc")
    ids = data["ids"]
    assert recs.ids == (ids["delta"], ids["beta"], ids["Gamma 公司"], ids["Alpha"])


def test_like_is_case_sensitive_on_every_database(env, data):
    assert names(env, [["name", "like", "al%"]]) == set()
    assert names(env, [["name", "ilike", "al%"]]) == {"Alpha"}
