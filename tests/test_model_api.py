"""The model API: create, read, search, write, unlink, hooks, units of work.

Most tests share one database per module (crm_base, sales and the test addon
``keeltest``) and run in a transaction that is rolled back at the end, which
keeps the set fast on PostgreSQL; on PostgreSQL the module database lives in
its own schema so that tests using the per-test ``db`` fixture (which empties
``public``) do not touch it. The helpers here are shared by the other
model-API test modules.
"""
import datetime as dt
import decimal
import logging
from contextlib import contextmanager

import pytest

from core import fields as F
from core import hookimpl
from core.errors import (AddonError, Conflict, NotFound, UserInputError,
                         ValidationError)
from core.models import Model
from core.orm.env import Env
from tests.conftest import StatementCounter, addon_module

# -- shared helpers ---------------------------------------------------------------

#: per-test behaviour of the test addon's hooks: hook name -> callable
HOOKS = {}
#: what the second test addon's notification hooks saw
SEEN = []


def _dispatch(name, *args):
    fn = HOOKS.get(name)
    if fn is not None:
        return fn(*args)


def _total(values):
    qty, price = values.get("qty"), values.get("price")
    if qty is None or price is None:
        return None
    return decimal.Decimal(qty) * price


def thing_model():
    return Model("test.thing", "Thing", order="name", fields={
        "name": F.Char("Name", required=True),
        "code": F.Char("Code", unique=True, sequence="test.thing"),
        "ref": F.Char("Reference", size=5),
        "note": F.Text("Note"),
        "qty": F.Integer("Quantity", default=1),
        "ratio": F.Float("Ratio"),
        "amount": F.Decimal("Amount", digits=10, scale=2),
        "price": F.Decimal("Price"),
        "total": F.Decimal("Total", compute=_total, depends=("qty", "price"), readonly=True),
        "flag": F.Boolean("Flag"),
        "day": F.Date("Day"),
        "at": F.Datetime("At"),
        "state": F.Selection("State", options=[("draft", "Draft"), ("done", "Done")], default="draft"),
        "label": F.Char("Label", default=lambda env: f"made by {env.uid}"),
        "locked": F.Char("Locked", readonly=True),
        "partner_id": F.Many2one("crm.customer", "Partner", ondelete="restrict"),
        "tag_ids": F.Many2many("core.role", "Tags"),
        "data": F.Json("Data"),
        "blob": F.Binary("Blob"),
        "owner_id": F.Many2one("core.user", "Owner"),
        "department_id": F.Many2one("core.department", "Department"),
    })


def test_addons():
    """``keeltest`` (a model, sequences, every record hook) and ``keeltest2``
    (after-hooks that record what they saw)."""
    def keel_before_create(env, model, values_list):
        _dispatch("before_create", env, model, values_list)

    def keel_after_create(env, model, records):
        _dispatch("after_create", env, model, records)

    def keel_before_write(env, model, records, values):
        _dispatch("before_write", env, model, records, values)

    def keel_after_write(env, model, records, values):
        _dispatch("after_write", env, model, records, values)

    def keel_before_unlink(env, model, records):
        _dispatch("before_unlink", env, model, records)

    def keel_after_unlink(env, model, ids):
        _dispatch("after_unlink", env, model, ids)

    main = addon_module(
        "keeltest", depends=["crm_base"],
        keel_models=hookimpl(lambda: [thing_model()]),
        keel_sequences=hookimpl(lambda: [
            {"code": "test.thing", "pattern": "T{yy}{mm}{dd}-{seq:03}"},
            {"code": "test.yearly", "pattern": "Y{yyyy}/{seq}"},
            {"code": "test.monthly", "pattern": "SO{yyyy}{mm}-{seq:05}"},
            {"code": "test.plain", "pattern": "P{seq:04}"}]),
        keel_before_create=hookimpl(keel_before_create),
        keel_after_create=hookimpl(keel_after_create),
        keel_before_write=hookimpl(keel_before_write),
        keel_after_write=hookimpl(keel_after_write),
        keel_before_unlink=hookimpl(keel_before_unlink),
        keel_after_unlink=hookimpl(keel_after_unlink))

    def seen_create(model, records):
        SEEN.append(("create", model, list(records.ids)))

    def seen_write(model, records, values):
        SEEN.append(("write", model, list(records.ids), dict(values)))

    def seen_unlink(model, ids):
        SEEN.append(("unlink", model, list(ids)))

    watcher = addon_module("keeltest2", depends=["keeltest"],
                           keel_after_create=hookimpl(seen_create),
                           keel_after_write=hookimpl(seen_write),
                           keel_after_unlink=hookimpl(seen_unlink))
    return main, watcher


test_addons.__test__ = False


@contextmanager
def scratch_env(db, user="admin", now=None, su=False):
    """An ``Env`` in a transaction that is rolled back at the end."""
    with db.engine.connect() as conn:
        trans = conn.begin()
        try:
            registry = db.registry(conn)
            uid = db.resolve_user(conn, registry, user)
            yield Env(db, conn, registry, uid, su=su, now=now)
        finally:
            trans.rollback()


def env_as(env, uid, now=None):
    """The same transaction seen by user ``uid``."""
    return Env(env.db, env.conn, env.registry, uid, now=now or env.now)


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clean_hooks():
    HOOKS.clear()
    SEEN.clear()
    yield
    HOOKS.clear()
    SEEN.clear()


@pytest.fixture
def env(mdb):
    with scratch_env(mdb, now=dt.datetime(2024, 3, 15, 9, 30)) as env:
        yield env


def make_user(env, login, department_id=None, roles=()):
    return env["core.user"].create({"login": login, "name": login.title(), "department_id": department_id,
                                    "roles": list(roles)})


# -- create -------------------------------------------------------------------------

def test_batch_create_is_one_insert(env, mdb):
    customers = env["crm.customer"]
    with StatementCounter(mdb.engine) as counter:
        recs = customers.create([{"name": f"客户{i:02d}", "city": "上海"} for i in range(60)])
    inserts = [s for s in counter.statements if s.lstrip().upper().startswith("INSERT INTO CRM_CUSTOMER")]
    assert len(inserts) == 1
    assert len(recs) == 60 and len(set(recs.ids)) == 60
    # ids come back in the order of the rows
    names = [r["name"] for r in recs.read(["name"])]
    assert names == [f"客户{i:02d}" for i in range(60)]
    # and the codes are consecutive numbers of one sequence, in row order
    codes = [r["code"] for r in recs.read(["code"])]
    numbers = [int(c[-5:]) for c in codes]
    assert numbers == list(range(numbers[0], numbers[0] + 60))


def test_create_single_dict_and_empty_list(env):
    rec = env["crm.customer"].create({"name": "One"})
    assert len(rec) == 1 and rec.name == "One"
    assert env["crm.customer"].create([]).ids == ()


def test_create_rows_must_be_dicts(env):
    with pytest.raises(UserInputError, match="row 2"):
        env["crm.customer"].create([{"name": "a"}, ["name", "b"]])


def test_static_and_callable_defaults(env):
    a, b = env["test.thing"].create([{"name": "a"}, {"name": "b", "qty": 7, "state": "done", "label": "mine"}])
    assert (a.qty, a.state, a.label) == (1, "draft", f"made by {env.uid}")
    assert (b.qty, b.state, b.label) == (7, "done", "mine")
    c = env["crm.customer"].create({"name": "c"})
    assert (c.kind, c.grade, c.in_pool) == ("company", "potential", False)


def test_owner_and_department_default_to_the_creating_user(env):
    dept = env["core.department"].create({"code": "D1", "name": "华东销售部"})
    admin_role = env["core.role"].search([["code", "=", "admin"]])
    user = make_user(env, "zhang", dept.id, roles=admin_role.ids)
    as_user = env_as(env, user.id)
    rec = as_user["crm.customer"].create({"name": "默认"})
    assert rec.owner_id.id == user.id
    assert rec.department_id.id == dept.id
    thing = as_user["test.thing"].create({"name": "t"})
    assert (thing.owner_id.id, thing.department_id.id) == (user.id, dept.id)
    # given values win, even an explicit None
    other = env["core.department"].create({"code": "D2", "name": "华北"})
    given = as_user["crm.customer"].create([{"name": "g1", "owner_id": env.uid, "department_id": other.id},
                                            {"name": "g2", "owner_id": None, "department_id": None}])
    g1, g2 = given
    assert (g1.owner_id.id, g1.department_id.id) == (env.uid, other.id)
    assert (g2.owner_id.id if g2.owner_id else None, g2.department_id.ids) == (None, ())
    # admin has no department: none is set
    assert env["crm.customer"].create({"name": "a"}).department_id.ids == ()


def test_customer_code_comes_from_the_sequence(env):
    recs = env["crm.customer"].create([{"name": "a"}, {"name": "b", "code": "VIP-1"}, {"name": "c", "code": ""}])
    a, b, c = (r["code"] for r in recs.read(["code"]))
    assert b == "VIP-1"
    assert a.startswith(f"C{env.now.year}") and len(a) == 10
    assert c.startswith(f"C{env.now.year}") and int(c[-5:]) == int(a[-5:]) + 1


def test_created_and_updated_columns(env):
    rec = env["crm.customer"].create({"name": "x"})
    row = rec.read(["version", "created_at", "created_by_id", "updated_at", "updated_by_id"])[0]
    assert row["version"] == 1
    assert row["created_at"] == row["updated_at"] == env.now
    assert row["created_by_id"]["id"] == row["updated_by_id"]["id"] == env.uid


def test_computed_stored_field_on_create_and_write(env):
    things = env["test.thing"]
    a, b = things.create([{"name": "a", "qty": 3, "price": "2.50"}, {"name": "b", "price": 4}])
    assert a.total == decimal.Decimal("7.50")
    assert b.total == decimal.Decimal("4.00")  # qty's default 1 counts
    a.write({"qty": 4})
    assert a.total == decimal.Decimal("10.00")
    things.browse([a.id, b.id]).write({"price": "1.25"})
    assert (a.total, b.total) == (decimal.Decimal("5.00"), decimal.Decimal("1.25"))
    a.write({"note": "unrelated"})
    assert a.total == decimal.Decimal("5.00")
    a.write({"price": None})
    assert a.total is None
    with pytest.raises(ValidationError, match="read-only"):
        a.write({"total": 1})


def test_required_fields(env):
    with pytest.raises(ValidationError) as err:
        env["test.thing"].create({"qty": 1})
    assert err.value.details["fields"] == ["name"]
    assert err.value.details["model"] == "test.thing"
    with pytest.raises(ValidationError, match=r"row 2"):
        env["test.thing"].create([{"name": "ok"}, {"name": ""}])
    rec = env["test.thing"].create({"name": "ok"})
    for empty in (None, ""):
        with pytest.raises(ValidationError, match="name"):
            rec.write({"name": empty})
    # a default fills a required field
    assert env["crm.customer"].create({"name": "k"}).kind == "company"
    with pytest.raises(ValidationError, match="kind"):
        env["crm.customer"].create({"name": "k2", "kind": None})


def test_unique_violation_names_the_field(env):
    env["crm.customer"].create({"name": "a", "code": "DUP"})
    with pytest.raises(ValidationError) as err:
        env["crm.customer"].create({"name": "b", "code": "DUP"})
    assert err.value.details["field"] == "code"
    assert err.value.details["model"] == "crm.customer"
    assert "crm.customer.code" in str(err.value) and "'DUP'" in str(err.value)


def test_unique_violation_on_write(env):
    a, b = env["crm.customer"].create([{"name": "a", "code": "U1"}, {"name": "b", "code": "U2"}])
    with pytest.raises(ValidationError) as err:
        b.write({"code": "U1"})
    assert err.value.details["field"] == "code"


BAD_VALUES = [
    ("qty", "abc", "expected an integer"),
    ("qty", True, "boolean"),
    ("qty", 1.5, "expected an integer"),
    ("qty", 2 ** 40, "out of range"),
    ("ratio", "x", "expected a number"),
    ("ratio", float("nan"), "finite"),
    ("amount", "abc", "expected an amount"),
    ("amount", 10 ** 9, "digits before the point"),
    ("amount", False, "boolean"),
    ("flag", "maybe", "true or false"),
    ("flag", 2, "true or false"),
    ("day", "2024-02-30", "YYYY-MM-DD"),
    ("day", 20240105, "YYYY-MM-DD"),
    ("at", "yesterday", "date and time"),
    ("state", "archived", "is not one of draft, done"),
    ("state", ["draft"], "is not one of"),
    ("partner_id", "abc", "expected a record id"),
    ("partner_id", True, "expected a record id"),
    ("tag_ids", "admin", "list of record ids"),
    ("tag_ids", [True], "list of record ids"),
    ("data", {1, 2}, "JSON"),
    ("data", float("inf"), "JSON"),
    ("blob", "!!not base64!!", "base64"),
    ("blob", 12, "base64"),
    ("ref", "toolong", "longer than 5"),
    ("name", object(), "expected text"),
    ("name", True, "expected text"),
]


@pytest.mark.parametrize("fname,value,reason", BAD_VALUES, ids=[f"{f}-{v!r}"[:40] for f, v, _ in BAD_VALUES])
def test_bad_values_name_model_field_value_and_reason(env, fname, value, reason):
    with pytest.raises(ValidationError) as err:
        env["test.thing"].create({"name": "x", fname: value})
    message = str(err.value)
    assert f"test.thing.{fname}" in message
    assert reason in message
    assert repr(value)[:20] in message
    details = err.value.details
    assert (details["model"], details["field"]) == ("test.thing", fname)
    assert reason in details["reason"]
    assert details["value"] == repr(value)[:60] or details["value"].endswith("...")


@pytest.mark.parametrize("fname,value,reason", BAD_VALUES[:12], ids=[f"{f}-{v!r}"[:40] for f, v, _ in BAD_VALUES[:12]])
def test_bad_values_refused_on_write(env, fname, value, reason):
    rec = env["test.thing"].create({"name": "x"})
    with pytest.raises(ValidationError, match=f"test.thing.{fname}"):
        rec.write({fname: value})


def test_bad_value_in_a_batch_names_the_row(env):
    with pytest.raises(ValidationError) as err:
        env["test.thing"].create([{"name": "a"}, {"name": "b"}, {"name": "c", "qty": "many"}])
    assert err.value.details["row"] == 3 and "row 3" in str(err.value)


def test_many2one_to_a_missing_record_is_a_validation_error(env):
    with pytest.raises(ValidationError) as err:
        env["test.thing"].create([{"name": "a"}, {"name": "b", "partner_id": 987654}])
    assert err.value.details["field"] == "partner_id"
    assert "987654" in str(err.value) and "crm.customer" in str(err.value)


def test_many2one_to_a_missing_record_on_write(env):
    rec = env["crm.customer"].create({"name": "a"})
    with pytest.raises(ValidationError) as err:
        rec.write({"owner_id": 987654})
    assert err.value.details["field"] == "owner_id"


def test_many2many_to_a_missing_record(env):
    with pytest.raises(ValidationError, match="tag_ids"):
        env["test.thing"].create({"name": "a", "tag_ids": [987654]})


def test_many2one_accepts_ids_records_dicts_and_digit_text(env):
    cust = env["crm.customer"].create({"name": "p"})
    things = env["test.thing"].create([
        {"name": "1", "partner_id": cust.id}, {"name": "2", "partner_id": cust},
        {"name": "3", "partner_id": {"id": cust.id, "name": "p"}}, {"name": "4", "partner_id": str(cust.id)},
        {"name": "5", "partner_id": env["crm.customer"]}])
    assert [t["partner_id"] and t["partner_id"]["id"] for t in things.read(["partner_id"])] == \
        [cust.id] * 4 + [None]
    with pytest.raises(ValidationError, match="one record"):
        env["test.thing"].create({"name": "x", "partner_id": env["crm.customer"].browse([1, 2])})


def test_unknown_field_is_refused(env):
    with pytest.raises(ValidationError, match="unknown field 'colour'") as err:
        env["crm.customer"].create({"name": "a", "colour": "red"})
    assert err.value.details["field"] == "colour"
    rec = env["crm.customer"].create({"name": "a"})
    with pytest.raises(ValidationError, match="unknown field"):
        rec.write({"colour": "red"})


@pytest.mark.parametrize("fname", ["id", "version", "created_at", "created_by_id", "updated_at",
                                   "updated_by_id"])
def test_kernel_columns_are_refused_on_create(env, fname):
    value = env.now if fname.endswith("_at") else 5
    with pytest.raises(ValidationError, match="set by the kernel") as err:
        env["crm.customer"].create({"name": "a", fname: value})
    assert err.value.details["field"] == fname


@pytest.mark.parametrize("fname", ["id", "created_at", "created_by_id", "updated_at", "updated_by_id"])
def test_kernel_columns_are_refused_on_write(env, fname):
    rec = env["crm.customer"].create({"name": "a"})
    value = env.now if fname.endswith("_at") else 5
    with pytest.raises(ValidationError, match="set by the kernel"):
        rec.write({fname: value})


# -- read, search_read, browse ----------------------------------------------------------

def test_read_shapes(env):
    role = env["core.role"].search([["code", "=", "admin"]])
    dept = env["core.department"].create({"code": "R", "name": "研发部"})
    cust = env["crm.customer"].create({"name": "上海明远", "department_id": dept.id, "credit_limit": "12.5",
                                       "contact_ids": [{"name": "李雷"}, {"name": "韩梅梅"}]})
    thing = env["test.thing"].create({"name": "t", "partner_id": cust.id, "tag_ids": role.ids})
    row = cust.read(["name", "owner_id", "department_id", "contact_ids", "credit_limit", "city"])[0]
    assert set(row) == {"id", "name", "owner_id", "department_id", "contact_ids", "credit_limit", "city"}
    assert row["owner_id"] == {"id": env.uid, "name": "Administrator"}
    assert row["department_id"] == {"id": dept.id, "name": "研发部"}
    assert row["credit_limit"] == decimal.Decimal("12.50")
    assert row["city"] is None
    contacts = env["crm.contact"].search([["customer_id", "=", cust.id]], order="name")
    assert sorted(row["contact_ids"]) == sorted(contacts.ids) and len(contacts) == 2
    trow = thing.read(["tag_ids", "partner_id"])[0]
    assert trow == {"id": thing.id, "tag_ids": list(role.ids), "partner_id": {"id": cust.id, "name": "上海明远"}}
    full = thing.read()[0]
    assert set(env.registry["test.thing"].fields) == set(full)
    assert full["department_id"] is None


def test_read_keeps_the_order_of_ids_and_refuses_missing(env):
    recs = env["crm.customer"].create([{"name": "a"}, {"name": "b"}, {"name": "c"}])
    backwards = env["crm.customer"].browse(list(reversed(recs.ids)))
    assert [r["name"] for r in backwards.read(["name"])] == ["c", "b", "a"]
    assert env["crm.customer"].browse([]).read() == []
    with pytest.raises(NotFound, match="987654"):
        env["crm.customer"].browse([recs.ids[0], 987654]).read(["name"])


def test_read_refuses_unknown_fields(env):
    rec = env["crm.customer"].create({"name": "a"})
    with pytest.raises(UserInputError, match="nope"):
        rec.read(["name", "nope"])
    with pytest.raises(UserInputError, match="owner_id.login"):
        rec.read(["owner_id.login"])
    assert rec.read("name, city")[0] == {"id": rec.id, "name": "a", "city": None}


def test_search_read_matches_search_then_read(env):
    env["crm.customer"].create([{"name": f"sr{i}", "city": "杭州" if i % 2 else "苏州"} for i in range(6)])
    domain = [["name", "like", "sr%"], ["city", "=", "杭州"]]
    via_search = env["crm.customer"].search(domain, order="name desc").read(["name", "owner_id"])
    direct = env["crm.customer"].search_read(domain, ["name", "owner_id"], order="name desc")
    assert direct == via_search
    assert [r["name"] for r in direct] == ["sr5", "sr3", "sr1"]
    paged = env["crm.customer"].search_read(domain, ["name"], order="name", limit=1, offset=1)
    assert [r["name"] for r in paged] == ["sr3"]


def test_related_names_come_in_one_query_per_relation(env, mdb):
    depts = env["core.department"].create([{"code": f"Q{i}", "name": f"部门{i}"} for i in range(5)])
    users = [make_user(env, f"u{i}", depts.ids[i]) for i in range(5)]
    env["crm.customer"].create([{"name": f"n{i:02d}", "owner_id": users[i % 5].id,
                                 "department_id": depts.ids[i % 5]} for i in range(40)])
    with StatementCounter(mdb.engine) as counter:
        rows = env["crm.customer"].search_read([["name", "like", "n%"]],
                                               ["name", "owner_id", "department_id", "created_by_id"])
    assert len(rows) == 40
    assert counter.count == 4  # the rows, then one per many2one
    assert rows[7]["owner_id"] == {"id": users[2].id, "name": "U2"}
    assert rows[7]["department_id"] == {"id": depts.ids[2], "name": "部门2"}
    recs = env["crm.customer"].search([["name", "like", "n%"]])
    with StatementCounter(mdb.engine) as counter:
        recs.read(["owner_id", "contact_ids"])
    assert counter.count == 3  # rows, owner names, contact ids


def test_browse_and_attribute_access(env):
    rec = env["crm.customer"].create({"name": "属性", "credit_limit": 9})
    again = env["crm.customer"].browse(rec.id)
    assert again == rec and again.ids == (rec.id,)
    assert again.name == "属性"
    assert again.owner_id.login == "admin"
    assert again.credit_limit == decimal.Decimal("9.00")
    assert again.exists() == again
    assert env["crm.customer"].browse([987654]).exists().ids == ()
    with pytest.raises(NotFound):
        env["crm.customer"].browse([987654]).name
    with pytest.raises(AttributeError):
        again.no_such_field


def test_chinese_text_round_trip_and_ordering(env):
    names = ["北京智联科技股份有限公司", "上海明远机械有限公司", "广州恒达商贸有限公司", "成都🌶️食品", "Ａｃｍｅ 全角"]
    env["crm.customer"].create([{"name": n, "address": n * 3, "city": "中文"} for n in names])
    rows = env["crm.customer"].search_read([["city", "=", "中文"]], ["name", "address"], order="name")
    assert [r["name"] for r in rows] == sorted(names)  # code point order on both databases
    assert all(r["address"] == r["name"] * 3 for r in rows)
    assert env["crm.customer"].search_count([["name", "ilike", "%有限公司"]]) == 3
    desc = env["crm.customer"].search_read([["city", "=", "中文"]], ["name"], order="name desc")
    assert [r["name"] for r in desc] == sorted(names, reverse=True)


# -- write -------------------------------------------------------------------------------

def test_write_increments_version_and_checks_it(env):
    rec = env["crm.customer"].create({"name": "v"})
    assert rec.read(["version"])[0]["version"] == 1
    rec.write({"name": "v2", "version": 1})
    assert rec.read(["version"])[0]["version"] == 2
    rec.write({"city": "上海"})  # without a version: no check
    assert rec.version == 3
    with pytest.raises(Conflict) as err:
        rec.write({"name": "stale", "version": 2})
    assert err.value.details == {"id": rec.id, "version": 3, "expected_version": 2}
    assert rec.read(["name", "version"])[0] == {"id": rec.id, "name": "v2", "version": 3}
    rec.write({"name": "fresh", "version": "3"})
    assert rec.version == 4
    with pytest.raises(ValidationError, match="version"):
        rec.write({"name": "x", "version": "abc"})


def test_two_people_editing_one_customer(env):
    """Both read version 1; the second save is refused instead of
    silently overwriting the first."""
    rec = env["crm.customer"].create({"name": "共享客户"})
    mine = rec.read(["name", "version"])[0]
    theirs = rec.read(["name", "version"])[0]
    env["crm.customer"].browse(rec.id).write({"phone": "021-1", "version": mine["version"]})
    with pytest.raises(Conflict, match="changed by someone else"):
        env_as(env, env.uid)["crm.customer"].browse(rec.id).write({"phone": "021-2",
                                                                    "version": theirs["version"]})
    assert rec.read(["phone"])[0]["phone"] == "021-1"


def test_write_on_missing_record_is_not_found(env):
    with pytest.raises(NotFound, match="987654"):
        env["crm.customer"].browse([987654]).write({"name": "x"})
    rec = env["crm.customer"].create({"name": "a"})
    with pytest.raises(NotFound):
        env["crm.customer"].browse([rec.id, 987654]).write({"name": "x", "version": 1})


def test_write_several_records_and_duplicate_ids(env):
    a, b = env["crm.customer"].create([{"name": "a"}, {"name": "b"}])
    env["crm.customer"].browse([a.id, b.id, a.id]).write({"city": "苏州"})
    assert [r["city"] for r in env["crm.customer"].browse([a.id, b.id]).read(["city"])] == ["苏州", "苏州"]
    assert env["crm.customer"].browse([a.id, a.id]).unlink()
    assert not env["crm.customer"].browse([a.id]).exists()


def test_write_expects_a_dict(env):
    rec = env["crm.customer"].create({"name": "a"})
    with pytest.raises(UserInputError):
        rec.write([("name", "b")])
    assert env["crm.customer"].browse([]).write({"name": "nobody"}) is True


def test_readonly_fields_are_refused_on_write_but_not_for_the_system(env):
    rec = env["test.thing"].create({"name": "a", "locked": "set at creation"})
    assert rec.locked == "set at creation"
    with pytest.raises(ValidationError, match="read-only") as err:
        rec.write({"locked": "changed"})
    assert err.value.details["field"] == "locked"
    env.sudo()["test.thing"].browse(rec.id).write({"locked": "by the system"})
    assert rec.read(["locked"])[0]["locked"] == "by the system"


def test_write_maintains_updated_at_and_by(env):
    rec = env["crm.customer"].create({"name": "a"})
    other = make_user(env, "li", roles=env["core.role"].search([["code", "=", "sales_director"]]).ids)
    later = env.now + dt.timedelta(hours=2)
    env_as(env, other.id, now=later)["crm.customer"].browse(rec.id).write({"name": "b"})
    row = rec.read(["created_at", "created_by_id", "updated_at", "updated_by_id"])[0]
    assert row["created_at"] == env.now and row["created_by_id"]["id"] == env.uid
    assert row["updated_at"] == later and row["updated_by_id"]["id"] == other.id


def test_write_refreshes_cached_values(env):
    rec = env["crm.customer"].create({"name": "before"})
    assert rec.name == "before"
    rec.write({"name": "after"})
    assert rec.name == "after"


def test_one2many_lines_created_with_the_parent_and_changed_by_write(env):
    cust = env["crm.customer"].create({"name": "有联系人", "contact_ids": [
        {"name": "甲", "title": "经理"}, {"name": "乙"}, {"name": "丙"}]})
    contacts = env["crm.contact"].search([["customer_id", "=", cust.id]], order="name")
    by_name = {c["name"]: c for c in contacts.read(["name", "title", "customer_id"])}
    assert set(by_name) == {"甲", "乙", "丙"}
    assert by_name["甲"]["title"] == "经理" and by_name["甲"]["customer_id"]["id"] == cust.id
    cust.write({"contact_ids": [{"id": by_name["甲"]["id"], "title": "总监"},
                                {"id": by_name["乙"]["id"], "_delete": True},
                                {"name": "丁"}]})
    after = {c["name"]: c for c in env["crm.contact"].search([["customer_id", "=", cust.id]])
             .read(["name", "title"])}
    assert set(after) == {"甲", "丙", "丁"}
    assert after["甲"]["title"] == "总监"
    assert sorted(cust.read(["contact_ids"])[0]["contact_ids"]) == sorted(c["id"] for c in after.values())


def test_one2many_refuses_lines_of_another_record_and_bad_shapes(env):
    a, b = env["crm.customer"].create([{"name": "a", "contact_ids": [{"name": "of a"}]}, {"name": "b"}])
    line = env["crm.contact"].search([["customer_id", "=", a.id]])
    with pytest.raises(ValidationError, match="is not a line of"):
        b.write({"contact_ids": [{"id": line.id, "name": "stolen"}]})
    with pytest.raises(ValidationError, match="contact_ids"):
        b.write({"contact_ids": {"name": "not a list"}})
    with pytest.raises(ValidationError, match="contact_ids"):
        b.write({"contact_ids": ["not a dict"]})
    with pytest.raises(ValidationError, match="crm.contact"):
        env["crm.customer"].create({"name": "c", "contact_ids": [{"title": "no name"}]})


def test_many2many_replace(env):
    roles = env["core.role"].create([{"code": f"r{i}", "name": f"R{i}"} for i in range(3)])
    user = make_user(env, "m2m", roles=roles.ids[:2])
    assert user.read(["roles"])[0]["roles"] == list(roles.ids[:2])
    user.write({"roles": [roles.ids[2], roles.ids[1], roles.ids[2]]})
    assert sorted(user.read(["roles"])[0]["roles"]) == sorted(roles.ids[1:])
    user.write({"roles": roles.browse(roles.ids[0])})
    assert user.roles.ids == (roles.ids[0],)
    user.write({"roles": []})
    assert user.read(["roles"])[0]["roles"] == []
    user.write({"roles": [{"id": roles.ids[1]}]})
    assert user.roles.ids == (roles.ids[1],)
    user.write({"roles": None})
    assert user.roles.ids == ()


# -- unlink -----------------------------------------------------------------------

def test_unlink_cascades_to_contacts(env):
    cust = env["crm.customer"].create({"name": "删", "contact_ids": [{"name": "x"}, {"name": "y"}]})
    lines = env["crm.contact"].search([["customer_id", "=", cust.id]])
    assert len(lines) == 2
    cust.unlink()
    assert not cust.exists()
    assert not lines.exists()


def test_unlink_restrict_is_a_conflict(env):
    cust = env["crm.customer"].create({"name": "被引用"})
    env["test.thing"].create({"name": "ref", "partner_id": cust.id})
    with pytest.raises(Conflict, match="crm.customer"):
        cust.unlink()


def test_unlink_restrict_on_department_parent(env):
    parent = env["core.department"].create({"code": "P", "name": "总部"})
    env["core.department"].create({"code": "C", "name": "分部", "parent_id": parent.id})
    with pytest.raises(Conflict):
        parent.unlink()


def test_unlink_set_null(env):
    user = make_user(env, "leaving")
    cust = env["crm.customer"].create({"name": "孤儿", "owner_id": user.id})
    user.unlink()
    assert cust.read(["owner_id"])[0]["owner_id"] is None


def test_unlink_missing_is_not_found(env):
    with pytest.raises(NotFound, match="987654"):
        env["crm.customer"].browse([987654]).unlink()
    assert env["crm.customer"].browse([]).unlink() is True


# -- units of work ------------------------------------------------------------------------

def test_an_error_midway_rolls_back_the_whole_unit_of_work(mdb):
    with mdb.unit_of_work("admin") as env:
        code_before = env["crm.customer"].search_count([["name", "like", "uow-%"]])
    assert code_before == 0
    with pytest.raises(ValidationError):
        with mdb.unit_of_work("admin") as env:
            first = env["crm.customer"].create({"name": "uow-1", "contact_ids": [{"name": "uow-c"}]})
            env["crm.customer"].browse(first.id).write({"city": "上海"})
            env["test.thing"].create({"name": "uow-thing"})
            env["test.thing"].create({"name": "uow-bad", "qty": "lots"})
    with mdb.unit_of_work("admin") as env:
        assert env["crm.customer"].search_count([["name", "like", "uow-%"]]) == 0
        assert env["crm.contact"].search_count([["name", "=", "uow-c"]]) == 0
        assert env["test.thing"].search_count([["name", "like", "uow-%"]]) == 0


def test_a_database_error_midway_rolls_back_too(mdb):
    with pytest.raises(ValidationError):
        with mdb.unit_of_work("admin") as env:
            env["crm.customer"].create({"name": "uow2-a", "code": "UOW2"})
            env["crm.customer"].create({"name": "uow2-b", "code": "UOW2"})
    with mdb.unit_of_work("admin") as env:
        assert env["crm.customer"].search_count([["name", "like", "uow2-%"]]) == 0


def test_a_unit_of_work_commits_when_all_goes_well(mdb):
    with mdb.unit_of_work("admin") as env:
        rec = env["test.thing"].create({"name": "committed-1"})
    with mdb.unit_of_work("admin") as env:
        found = env["test.thing"].search([["name", "=", "committed-1"]])
        assert found.ids == rec.ids
        found.unlink()


# -- hooks ---------------------------------------------------------------------------

def test_before_create_can_change_values(env):
    def before(env_, model, values_list):
        if model == "test.thing":
            for values in values_list:
                values["note"] = f"checked {values['name']} qty={values['qty']}"
    HOOKS["before_create"] = before
    a, b = env["test.thing"].create([{"name": "a"}, {"name": "b", "qty": 3}])
    assert (a.note, b.note) == ("checked a qty=1", "checked b qty=3")  # after defaults


def test_before_create_can_refuse_the_batch(env):
    def before(env_, model, values_list):
        if model == "test.thing" and any(v["name"] == "forbidden" for v in values_list):
            raise ValidationError("test.thing: that name is forbidden", {"field": "name"})
    HOOKS["before_create"] = before
    with pytest.raises(ValidationError, match="forbidden"):
        env["test.thing"].create([{"name": "fine"}, {"name": "forbidden"}])
    assert env["test.thing"].search_count([["name", "=", "fine"]]) == 0


def test_a_crashing_before_hook_names_the_addon(env):
    def before(env_, model, values_list):
        raise KeyError("oops")
    HOOKS["before_create"] = before
    with pytest.raises(AddonError, match="keeltest"):
        env["test.thing"].create({"name": "x"})


def test_before_write_and_unlink(env):
    rec = env["test.thing"].create({"name": "w"})

    def before_write(env_, model, records, values):
        if "name" in values:
            values["name"] = values["name"].upper()

    def before_unlink(env_, model, records):
        if model == "test.thing":
            raise ValidationError("test.thing: keep it")
    HOOKS.update(before_write=before_write, before_unlink=before_unlink)
    rec.write({"name": "shout"})
    assert rec.name == "SHOUT"
    with pytest.raises(ValidationError, match="keep it"):
        rec.unlink()
    assert rec.exists()


def test_after_hooks_see_the_records(env):
    rec = env["test.thing"].create({"name": "seen"})
    rec.write({"note": "n"})
    rid = rec.id
    rec.unlink()
    things = [s for s in SEEN if s[1] == "test.thing"]
    assert things == [("create", "test.thing", [rid]), ("write", "test.thing", [rid], {"note": "n"}),
                      ("unlink", "test.thing", [rid])]


def test_a_failing_after_hook_is_logged_and_the_others_still_run(env, caplog):
    def boom(*args):
        raise RuntimeError("kaboom")
    HOOKS.update(after_create=boom, after_write=boom, after_unlink=boom)
    with caplog.at_level(logging.ERROR):
        rec = env["test.thing"].create({"name": "survives"})
        rec.write({"note": "x"})
        rec.unlink()
    assert [s[0] for s in SEEN if s[1] == "test.thing"] == ["create", "write", "unlink"]
    failures = [r for r in caplog.records if "keeltest" in r.getMessage()]
    assert len(failures) == 3
    assert all("kaboom" in (r.exc_text or str(r.exc_info)) for r in failures)


def test_search_count_up_to_a_limit(env):
    env["crm.customer"].create([{"name": f"cap-{i}"} for i in range(7)])
    domain = [["name", "like", "cap-%"]]
    assert env["crm.customer"].search_count(domain) == 7
    assert env["crm.customer"].search_count(domain, limit=5) == 5
    assert env["crm.customer"].search_count(domain, limit=50) == 7


def test_a_unit_of_work_may_run_on_a_given_clock(db):
    """``unit_of_work(now=…)``: what a job's slot or a test's frozen day
    reads as the time — stamps, defaults and ``@today`` follow it."""
    when = dt.datetime(2030, 1, 15, 9, 30)
    with db.unit_of_work("admin", now=when) as env:
        assert env.now == when
        record = env["crm.customer"].create({"name": "未来的客户"})
        assert record.read(["created_at"])[0]["created_at"] == when
    with db.unit_of_work("admin") as env:
        assert env.now.year == dt.datetime.now(dt.timezone.utc).year
