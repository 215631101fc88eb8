"""read_group: aggregates by one SQL GROUP BY."""
import datetime as dt
import decimal

import pytest

from core.errors import DomainError
from tests.conftest import StatementCounter
from tests.test_model_api import scratch_env

D = decimal.Decimal


@pytest.fixture
def env(mdb):
    with scratch_env(mdb) as env:
        yield env


@pytest.fixture
def data(env):
    zhang = env["core.user"].create({"login": "zhang", "name": "张三"})
    rows = [
        # name, grade, owner, credit, next contact, birthday, city
        ("a", "potential", env.uid, "100.00", dt.datetime(2024, 1, 5, 10), dt.date(1990, 1, 1), "上海"),
        ("b", "potential", zhang.id, "200.00", dt.datetime(2024, 1, 31, 23, 59), dt.date(1990, 5, 1), "上海"),
        ("c", "deal", zhang.id, "300.50", dt.datetime(2024, 2, 1, 0, 0), dt.date(1991, 1, 1), "北京"),
        ("d", "deal", zhang.id, "300.50", dt.datetime(2025, 4, 2, 8), None, "北京"),
        ("e", "intent", None, None, None, dt.date(1990, 12, 31), None),
        ("f", "deal", env.uid, "0.01", dt.datetime(2025, 12, 31, 12), None, "广州"),
    ]
    env["crm.customer"].create([
        {"name": n, "grade": g, "owner_id": o, "credit_limit": c, "next_contact_at": at, "birthday": b,
         "city": city, "source": "website"} for n, g, o, c, at, b, city in rows])
    return {"zhang": zhang}


def group(env, groupby, aggregates=("id:count",), domain=None, **kw):
    return env["crm.customer"].read_group([["source", "=", "website"], *(domain or [])], groupby,
                                          aggregates, **kw)


def test_group_by_selection(env, data):
    groups = group(env, ["grade"], ["id:count", "credit_limit:sum"])
    assert groups == [{"grade": "deal", "id:count": 3, "credit_limit:sum": D("601.01")},
                      {"grade": "intent", "id:count": 1, "credit_limit:sum": None},
                      {"grade": "potential", "id:count": 2, "credit_limit:sum": D("300.00")}]


def test_aggregates_on_decimal(env, data):
    (totals,) = group(env, [], ["credit_limit:sum", "credit_limit:avg", "credit_limit:min", "credit_limit:max",
                                "credit_limit:count", "credit_limit:count_distinct", "id:count"])
    assert totals == {"credit_limit:sum": D("901.01"), "credit_limit:avg": D("180.20"),
                      "credit_limit:min": D("0.01"), "credit_limit:max": D("300.50"),
                      "credit_limit:count": 5, "credit_limit:count_distinct": 4, "id:count": 6}
    for key in ("credit_limit:sum", "credit_limit:avg", "credit_limit:min", "credit_limit:max"):
        assert isinstance(totals[key], D), key
        assert totals[key].as_tuple().exponent == -2, key


def test_aggregates_of_nothing(env, data):
    (totals,) = group(env, [], ["credit_limit:sum", "id:count", "credit_limit:avg"],
                      domain=[["name", "=", "nobody"]])
    assert totals == {"credit_limit:sum": None, "id:count": 0, "credit_limit:avg": None}
    assert group(env, ["grade"], domain=[["name", "=", "nobody"]]) == []


def test_integer_and_other_aggregates(env, data):
    env["crm.customer"].search([["source", "=", "website"]]).write({"contact_cycle_days": 7})
    (totals,) = group(env, [], ["contact_cycle_days:sum", "contact_cycle_days:avg", "name:min", "name:max",
                                "next_contact_at:max", "birthday:min", "city:count_distinct"])
    assert totals["contact_cycle_days:sum"] == 42 and isinstance(totals["contact_cycle_days:sum"], int)
    assert totals["contact_cycle_days:avg"] == 7.0 and isinstance(totals["contact_cycle_days:avg"], float)
    assert (totals["name:min"], totals["name:max"]) == ("a", "f")
    assert totals["next_contact_at:max"] == dt.datetime(2025, 12, 31, 12)
    assert totals["birthday:min"] == dt.date(1990, 1, 1)
    assert totals["city:count_distinct"] == 3


def test_group_by_many2one_reads_names(env, data, mdb):
    with StatementCounter(mdb.engine) as counter:
        groups = group(env, ["owner_id"], ["id:count", "credit_limit:max"])
    assert counter.count == 2  # the GROUP BY, then the owners' names
    by_owner = {(g["owner_id"] or {}).get("id"): g for g in groups}
    assert by_owner[env.uid] == {"owner_id": {"id": env.uid, "name": "Administrator"}, "id:count": 2,
                                 "credit_limit:max": D("100.00")}
    assert by_owner[data["zhang"].id]["owner_id"] == {"id": data["zhang"].id, "name": "张三"}
    assert by_owner[data["zhang"].id]["id:count"] == 3
    assert by_owner[None] == {"owner_id": None, "id:count": 1, "credit_limit:max": None}


def test_group_by_dotted_path(env, data):
    groups = group(env, ["owner_id.login"], ["id:count"], order="owner_id.login")
    assert groups == [{"owner_id.login": "admin", "id:count": 2}, {"owner_id.login": "zhang", "id:count": 3},
                      {"owner_id.login": None, "id:count": 1}]  # empty last, as in search
    groups = group(env, ["owner_id.login"], ["id:count"], order="owner_id.login desc")
    assert [g["owner_id.login"] for g in groups] == [None, "zhang", "admin"]


@pytest.mark.parametrize("spec,expected", [
    ("next_contact_at:month", [("2024-01", 2), ("2024-02", 1), ("2025-04", 1), ("2025-12", 1), (None, 1)]),
    ("next_contact_at:year", [("2024", 3), ("2025", 2), (None, 1)]),
    ("next_contact_at:day", [("2024-01-05", 1), ("2024-01-31", 1), ("2024-02-01", 1), ("2025-04-02", 1),
                             ("2025-12-31", 1), (None, 1)]),
    ("next_contact_at:quarter", [("2024-Q1", 3), ("2025-Q2", 1), ("2025-Q4", 1), (None, 1)]),
    ("birthday:year", [("1990", 3), ("1991", 1), (None, 2)]),
    ("birthday:month", [("1990-01", 1), ("1990-05", 1), ("1990-12", 1), ("1991-01", 1), (None, 2)]),
])
def test_group_by_date_granularity(env, data, spec, expected):
    groups = group(env, [spec], ["id:count"])
    got = sorted(((g[spec], g["id:count"]) for g in groups), key=lambda kv: (kv[0] is None, kv[0] or ""))
    assert got == expected


def test_group_by_two_fields_with_domain(env, data):
    groups = group(env, "grade,city", "id:count,credit_limit:sum", domain=[["grade", "!=", "intent"]])
    assert [(g["grade"], g["city"], g["id:count"], g["credit_limit:sum"]) for g in groups] == [
        ("deal", "北京", 2, D("601.00")), ("deal", "广州", 1, D("0.01")), ("potential", "上海", 2, D("300.00"))]


def test_order_limit_offset(env, data):
    by_sum = group(env, ["grade"], ["credit_limit:sum", "id:count"], order="id:count desc")
    assert [g["grade"] for g in by_sum] == ["deal", "potential", "intent"]
    assert [g["grade"] for g in group(env, ["grade"], order="grade desc")] == ["potential", "intent", "deal"]
    assert [g["grade"] for g in group(env, ["grade"], order="grade", limit=2)] == ["deal", "intent"]
    assert [g["grade"] for g in group(env, ["grade"], order="grade", limit=1, offset=2)] == ["potential"]
    assert [g["grade"] for g in group(env, ["grade"], order="id:count, grade desc")] == \
        ["intent", "potential", "deal"]


@pytest.mark.parametrize("kwargs,culprit", [
    ({"groupby": ["nope"]}, "nope"),
    ({"groupby": ["owner_id.nope"]}, "nope"),
    ({"groupby": ["contact_ids"]}, "one2many"),
    ({"groupby": ["grade:month"]}, "grade:month"),
    ({"groupby": ["next_contact_at:week"]}, "next_contact_at:week"),
    ({"groupby": [5]}, "5"),
    ({"groupby": None}, "expected a list"),
    ({"aggregates": ["credit_limit"]}, "'credit_limit'"),
    ({"aggregates": ["credit_limit:median"]}, "median"),
    ({"aggregates": ["name:sum"]}, "name"),
    ({"aggregates": ["grade:avg"]}, "grade"),
    ({"aggregates": ["nope:count"]}, "nope"),
    ({"aggregates": ["contact_ids:count"]}, "contact_ids"),
    ({"aggregates": [None]}, "None"),
    ({"order": "nope desc"}, "nope desc"),
    ({"order": "grade sideways"}, "grade sideways"),
    ({"order": "credit_limit:sum"}, "credit_limit:sum"),
    ({"order": ["grade"]}, "expected text"),
    ({"domain": [["nope", "=", 1]]}, "nope"),
    ({"limit": -1}, "limit"),
    ({"limit": "3"}, "limit"),
    ({"offset": -2}, "offset"),
])
def test_errors(env, data, kwargs, culprit):
    args = {"domain": [], "groupby": ["grade"], "aggregates": ["id:count"], **kwargs}
    with pytest.raises(DomainError) as err:
        env["crm.customer"].read_group(**args)
    assert culprit in str(err.value)
