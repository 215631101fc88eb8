"""Duplicate check of customers (addons/crm_base/duplicates.py, CONTRACT.md
§6 "Duplicates"): normalisation of Chinese data, the stored and indexed
keys, configurable keys, the 409 refusal through the API, the form and
import, and the check while typing."""
import re

import pytest
import sqlalchemy as sa

from core.errors import Conflict, ValidationError
from core.services import normalize
from core.services.imports import ImportFailed, run as run_import
from tests.conftest import ADMIN_PASSWORD, StatementCounter, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import csrf_token, sign_in

SCHEMA = "t_crm_dups"
GOOD_CODE = "91350100M000100Y43"


# -- normalisation -------------------------------------------------------------------------------
@pytest.mark.parametrize("a, b", [
    ("北京华信科技有限公司", "北京华信科技 有限公司"),
    ("北京华信科技有限公司", "华信科技股份有限公司"),
    ("北京市华信科技有限责任公司", "华信科技集团有限公司"),
    ("（中国）华为技术有限公司", "华为技术(深圳)有限公司"),
    ("广东省深圳市腾讯科技有限公司", "深圳腾讯科技有限公司"),
    ("ＡＢＣ科技有限公司", "abc 科技"),
    ("Huaxin Technology Co., Ltd.", "HUAXIN TECHNOLOGY INC."),
    ("Huaxin Technology LLC", "huaxin technology"),
])
def test_company_names_that_match(a, b):
    assert normalize.company(a) == normalize.company(b) is not None


@pytest.mark.parametrize("a, b", [
    ("北京华信科技有限公司", "北京华信软件有限公司"),
    ("上海明远机械有限公司", "上海明达机械有限公司"),
])
def test_company_names_that_differ(a, b):
    assert normalize.company(a) != normalize.company(b)


@pytest.mark.parametrize("a, b", [
    ("+86 138-0013-8000", "13800138000"),
    ("0086 138 0013 8000", "(138)00138000"),
    ("８６ １３８００１３８０００", "13800138000"),
    ("(021) 6123-4567", "+86 21 6123 4567"),
    ("021-61234567", "+86 (21) 6123-4567"),
])
def test_phones_that_match(a, b):
    assert normalize.phone(a) == normalize.phone(b) is not None


def test_landlines_keep_their_area_code():
    assert normalize.phone("(021) 6123-4567") == "02161234567"
    assert normalize.phone("010 6123 4567") != normalize.phone("021 6123 4567")


def test_emails_and_empty_values():
    assert normalize.email("  Info@HuaXin.CN ") == "info@huaxin.cn"
    for fn in (normalize.company, normalize.phone, normalize.email, normalize.credit_code):
        assert fn(None) is None and fn("  ") is None


def test_credit_code_check_character():
    assert normalize.credit_code(" 91350100m000100y43 ") == GOOD_CODE
    assert normalize.credit_code_error(GOOD_CODE) is None
    assert normalize.credit_code_error("91110000600037341L") is None
    assert "check character" in normalize.credit_code_error("91350100M000100Y44")
    assert "18" in normalize.credit_code_error("9135010")
    assert "'I'" in normalize.credit_code_error("91350100M000100I43")


# -- the world -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    app = make_app(db)
    client = app.test_client()
    tokens = {}
    for login, password in (("r1", PASSWORD), ("r2", PASSWORD), ("r3", PASSWORD),
                            ("admin", ADMIN_PASSWORD)):
        answer = client.post("/api/v1/auth/token", json={"login": login, "password": password})
        assert answer.status_code == 200, answer.get_json()
        tokens[login] = answer.get_json()["token"]
    with db.unit_of_work(users["R1"]) as env:
        huaxin = env["crm.customer"].create({"name": "北京华信科技有限公司", "mobile": "+86 138-0013-8000",
                                             "email": "Info@HuaXin.cn", "credit_code": GOOD_CODE}).id
    yield {"db": db, "users": users, "app": app, "client": client, "tokens": tokens, "huaxin": huaxin}
    drop_module_database(db, SCHEMA)


def api(world, login, method, path, **kw):
    headers = {"Authorization": f"Bearer {world['tokens'][login]}"}
    return world["client"].open("/api/v1" + path, method=method, headers=headers, **kw)


def test_a_duplicate_name_is_409_naming_only_id_name_and_owner(world):
    answer = api(world, "r2", "POST", "/data/crm.customer", json={"name": "北京华信科技 有限公司"})
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "conflict"
    assert error["details"]["duplicates"] == [
        {"id": world["huaxin"], "name": "北京华信科技有限公司", "owner": "R1 用户"}]
    # the colleague's record itself stays out of R2's scope
    assert api(world, "r2", "GET", f"/data/crm.customer/{world['huaxin']}").status_code == 404


@pytest.mark.parametrize("values", [
    {"name": "另一家", "phone": "13800138000"},           # a phone matching a mobile
    {"name": "另一家", "mobile": "0086 138 0013 8000"},
    {"name": "另一家", "email": " info@huaxin.CN"},
    {"name": "另一家", "credit_code": GOOD_CODE.lower()},
    {"name": "ＨＵＡ信科技有限公司".replace("ＨＵＡ", "华")},  # full-width: 华信科技
])
def test_every_key_finds_the_duplicate(world, values):
    answer = api(world, "r3", "POST", "/data/crm.customer", json=values)
    assert answer.status_code == 409, answer.get_json()
    assert [d["id"] for d in answer.get_json()["error"]["details"]["duplicates"]] == [world["huaxin"]]


def test_a_bad_credit_code_is_422_naming_the_field(world):
    answer = api(world, "r1", "POST", "/data/crm.customer",
                 json={"name": "信用代码错", "credit_code": "91350100M000100Y44"})
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["details"]["field"] == "credit_code" and "credit_code" in error["message"]


def test_a_credit_code_typed_with_spaces_is_stored_as_its_18_characters(world):
    with world["db"].unit_of_work("admin") as env:
        made = env["crm.customer"].create({"name": "空格代码公司", "credit_code": " 9111 0000 6000 3734 1l "})
        assert made.read(["credit_code"])[0]["credit_code"] == "91110000600037341L"
        with pytest.raises(ValidationError) as caught:
            made.write({"credit_code": "91110000600037341M"})
        assert caught.value.details["field"] == "credit_code"
        made.write({"credit_code": None})
        env.conn.rollback()


def test_a_person_may_share_a_name(world):
    with world["db"].unit_of_work(world["users"]["R1"]) as env:
        a = env["crm.customer"].create({"name": "王伟", "kind": "person"})
        b = env["crm.customer"].create({"name": "王伟", "kind": "person"})
        assert a.id != b.id
        env.conn.rollback()


def test_credit_codes_are_stored_upper_case_and_keys_are_hidden(world):
    answer = api(world, "r1", "GET", f"/data/crm.customer/{world['huaxin']}")
    record = answer.get_json()
    assert record["credit_code"] == GOOD_CODE
    assert not [k for k in record if k.startswith("dup_")]
    fields = api(world, "admin", "GET", "/meta/models/crm.customer").get_json()["fields"]
    assert not [f for f in fields if f["name"].startswith("dup_")]
    assert api(world, "r1", "GET", "/data/crm.customer",
               query_string={"domain": '[["dup_name", "=", "华信科技"]]'}).status_code == 400
    with world["db"].unit_of_work("admin") as env:
        stored = env.sudo()["crm.customer"].browse(world["huaxin"]).read(
            ["dup_name", "dup_mobile", "dup_email"])[0]
    assert stored == {"id": world["huaxin"], "dup_name": "华信科技", "dup_mobile": "13800138000",
                      "dup_email": "info@huaxin.cn"}


def test_a_pool_customer_is_named_without_owner(world):
    with world["db"].unit_of_work("admin") as env:
        pooled = env["crm.customer"].create({"name": "公海里的公司", "phone": "021-5555 0001"}).id
        env["crm.customer"].browse(pooled).write({"in_pool": True, "owner_id": None})
    answer = api(world, "r1", "POST", "/data/crm.customer", json={"name": "x", "phone": "+86 21 5555 0001"})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["details"]["duplicates"] == [
        {"id": pooled, "name": "公海里的公司", "owner": None}]


def test_an_edit_that_changes_a_key_is_checked_excluding_itself(world):
    made = api(world, "r1", "POST", "/data/crm.customer", json={"name": "编辑测试有限公司"}).get_json()
    path = f"/data/crm.customer/{made['id']}"
    # the same name written again (spacing only) is not a duplicate of itself
    assert api(world, "r1", "PATCH", path, json={"name": "编辑测试 有限公司"}).status_code == 200
    # keys unchanged: other fields save
    assert api(world, "r1", "PATCH", path, json={"city": "北京"}).status_code == 200
    answer = api(world, "r1", "PATCH", path, json={"email": "INFO@huaxin.cn"})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["details"]["duplicates"][0]["id"] == world["huaxin"]
    answer = api(world, "r1", "PATCH", path, json={"name": "华信科技"})
    assert answer.status_code == 409


def test_two_rows_of_one_batch_are_duplicates(world):
    with world["db"].unit_of_work("admin") as env:
        with pytest.raises(Conflict) as caught:
            env["crm.customer"].create([{"name": "批量甲"}, {"name": "批量乙", "mobile": "139 0000 1111"},
                                        {"name": "批量丙", "phone": "+8613900001111"}])
        assert caught.value.details["row"] == 3
        assert caught.value.details["duplicates"][0]["name"] == "批量乙"
        env.conn.rollback()


def test_a_batch_is_checked_in_one_query_per_chunk(world):
    counter = StatementCounter(world["db"].engine)
    with world["db"].unit_of_work("admin") as env:
        env["crm.customer"].search([], limit=1)
        with counter:
            env["crm.customer"].create([{"name": f"批量客户{i}号", "phone": f"0755-8800{i:04d}"}
                                        for i in range(50)])
        selects = [s for s in counter.statements
                   if "dup_name" in s and s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 1
        env.conn.rollback()


def test_the_keys_are_configurable(world):
    db = world["db"]
    with db.unit_of_work("admin") as env:
        keys = env["crm.duplicate_key"].search_read([], ["key", "active"])
        assert {k["key"] for k in keys} == {"name", "phone", "mobile", "email", "credit_code"}
        assert all(k["active"] for k in keys)
        env["crm.duplicate_key"].search([["key", "=", "email"]]).write({"active": False})
    try:
        answer = api(world, "r1", "POST", "/data/crm.customer",
                     json={"name": "共用邮箱的公司", "email": "info@huaxin.cn"})
        assert answer.status_code == 201, answer.get_json()
    finally:
        with db.unit_of_work("admin") as env:
            env["crm.duplicate_key"].search([["key", "=", "email"]]).write({"active": True})
            env["crm.customer"].search([["name", "=", "共用邮箱的公司"]]).unlink()
    assert api(world, "r1", "POST", "/data/crm.customer",
               json={"name": "共用邮箱的公司2", "email": "info@huaxin.cn"}).status_code == 409


def test_an_import_row_matching_an_existing_customer_is_reported(world):
    data = "name,credit_code\n导入的新名字,{}\n".format(GOOD_CODE).encode("utf-8")
    with pytest.raises(ImportFailed) as caught:
        with world["db"].unit_of_work(world["users"]["R2"]) as env:
            run_import(env, "crm.customer", data, "customers.csv")
    errors = caught.value.details["errors"]
    assert len(errors) == 1 and errors[0]["line"] == 2
    assert "credit_code" in errors[0]["reason"] and "already exists" in errors[0]["reason"]  # an import key


def test_migration_fills_the_keys_of_existing_rows(world):
    from addons.crm_base import duplicates
    with world["db"].unit_of_work("admin") as env:
        table = env.registry["crm.customer"].table
        env.conn.execute(sa.update(table).values(dup_name=None, dup_mobile=None))
        duplicates.migrate(env, "0.3.0", "0.4.0")
        row = env.conn.execute(sa.select(table.c.dup_name, table.c.dup_mobile)
                               .where(table.c.id == world["huaxin"])).one()
        assert tuple(row) == ("华信科技", "13800138000")
        env.conn.rollback()


def test_an_upgrade_from_0_3_adds_and_fills_the_keys(make_db):
    from core.installer import Installer
    db = make_db(addons=["crm_base"])
    with db.unit_of_work("admin") as env:
        cid = env["crm.customer"].create({"name": "上海明远机械有限公司", "phone": "021-5566 7788"}).id
    with db.transaction() as conn:  # the schema of crm_base 0.3.0
        for column in ("dup_name", "dup_phone", "dup_mobile", "dup_email"):
            conn.exec_driver_sql(f"DROP INDEX ix_crm_customer_{column}")
            conn.exec_driver_sql(f"ALTER TABLE crm_customer DROP COLUMN {column}")
        conn.exec_driver_sql("UPDATE core_addon SET addon_version = '0.3.0' WHERE name = 'crm_base'")
    with db.transaction() as conn:
        done = Installer(db, conn).upgrade(["crm_base"])
    assert ("crm_base", "0.3.0") in [(name, old) for name, old, _new in done]
    with db.unit_of_work("admin") as env:
        stored = env.sudo()["crm.customer"].browse(cid).read(["dup_name", "dup_phone"])[0]
        assert stored == {"id": cid, "dup_name": "明远机械", "dup_phone": "02155667788"}
        indexes = {i["name"] for i in sa.inspect(env.conn).get_indexes("crm_customer")}
        assert {"ix_crm_customer_dup_name", "ix_crm_customer_dup_phone"} <= indexes
        with pytest.raises(Conflict):
            env["crm.customer"].create({"name": "明远机械股份有限公司"})


# -- web -----------------------------------------------------------------------------------------
def test_the_check_while_typing(world):
    r2 = sign_in(world["app"], "r2", PASSWORD)
    answer = r2.get("/web/crm/duplicates", query_string={"name": "华信科技 有限公司", "phone": ""})
    assert answer.status_code == 200
    assert answer.get_json() == [{"id": world["huaxin"], "name": "北京华信科技有限公司", "owner": "R1 用户"}]
    assert r2.get("/web/crm/duplicates", query_string={"name": "全新的公司"}).get_json() == []
    # the record being edited is not its own duplicate
    assert r2.get("/web/crm/duplicates", query_string={"name": "华信科技", "id": world["huaxin"]}
                  ).get_json() == []
    admin = sign_in(world["app"], "admin", ADMIN_PASSWORD)
    found = admin.get("/web/crm/duplicates", query_string={"mobile": "13800138000", "id": 999}).get_json()
    assert found[0]["merge_url"] == f"/web/crm.customer/999/merge?ids={world['huaxin']}"


def test_the_form_warns_and_a_refused_save_names_the_duplicates(world):
    r2 = sign_in(world["app"], "r2", PASSWORD)
    page = r2.get("/web/crm.customer/new").get_data(as_text=True)
    assert 'data-url="/web/crm/duplicates"' in page and "duplicates.js" in page
    assert 'name="credit_code"' in page and "dup_name" not in page
    answer = r2.post("/web/crm.customer/new", data={"name": "北京华信科技 有限公司", "kind": "company",
                                                    "csrf_token": csrf_token(page), "save": ""})
    assert answer.status_code == 409
    html = answer.get_data(as_text=True)
    assert re.search(r"This looks like an existing record: 北京华信科技有限公司 \(R1 用户\)", html)
    assert r2.get("/web/static/duplicates.js").status_code == 200
