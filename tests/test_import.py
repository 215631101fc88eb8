"""``keel import`` and the import service (CONTRACT.md §2, issue 6 point 3):
all or nothing with every bad row reported by its line, encodings, XLSX,
headers by Chinese labels, relations, duplicates, workflow states refused,
a rep's scopes and ownership, audit entries, custom fields, rejected rows.
"""
import csv
import datetime as dt
import io

import openpyxl
import pytest

from core.cli import main
from core.services import imports, normalize
from tests.test_api_security import create_personas


def csv_bytes(rows, encoding="utf-8", delimiter=","):
    out = io.StringIO(newline="")
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(rows):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def count(db, model="crm.customer"):
    with db.unit_of_work("admin") as env:
        return env[model].search_count([])


def run_cli(db_url, tmp_path, capsys, *args, data=None, name="in.csv", user="admin"):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    code = main(["--db", db_url, "--user", user, "import", *args[:1], str(path), *args[1:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_three_bad_rows_among_1000_write_nothing(db, db_url, tmp_path, capsys):
    rows = [["name", "phone", "grade", "contact_cycle_days"]]
    for i in range(1000):
        rows.append([f"客户{i:04d}", f"138{i:08d}", "intent", "30"])
    rows[101][1] = "12x"          # line 102
    rows[500][2] = "vip"          # line 501
    rows[1000][3] = "三十"         # line 1001
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=csv_bytes(rows))
    assert code == 1
    problems = [line for line in err.splitlines() if line.startswith("line ")]
    assert problems == [
        "line 102, column phone: '12x' is not a phone number",
        "line 501, column grade: 'vip' is not one of potential, intent, deal",
        "line 1001, column contact_cycle_days: '三十' is not a whole number",
    ]
    assert count(db) == 0
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--dry-run")
    assert code == 1 and len([x for x in err.splitlines() if x.startswith("line ")]) == 3
    rows[101][1], rows[500][2], rows[1000][3] = "13800000100", "deal", "30"
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--dry-run", data=csv_bytes(rows))
    assert code == 0, err
    assert "would import 1000 crm.customer records (created 1000" in out
    assert count(db) == 0
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer")
    assert code == 0, err
    assert "imported 1000 crm.customer records (created 1000, updated 0, skipped 0)" in out
    assert count(db) == 1000
    with db.unit_of_work("admin") as env:
        codes = [r["code"] for r in env["crm.customer"].search_read([], ["code"], limit=3)]
        assert all(c and c.startswith("C") for c in codes)  # the sequence filled them
        created = env["core.audit"].search_count([["model", "=", "crm.customer"], ["action", "=", "create"]])
        assert created == 1000  # one create entry per record, as any create
        summary = env["core.audit"].search_read([["action", "=", "import"]], ["model", "changes"])
        assert len(summary) == 1 and summary[0]["model"] == "crm.customer"


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_encodings_and_chinese_labels(db, encoding):
    data = csv_bytes([["名称", "电话", "类型", "客户等级", "城市"],
                      ["上海华为技术有限公司", "021-6123 4567", "公司", "意向", "上海"],
                      ["张三", "+86 139 0000 0001", "个人", "成交", "北京"]], encoding)
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.customer", data, "客户.csv")
        assert result.table.encoding == {"gbk": "gbk", "utf-8-sig": "utf-8-sig", "utf-8": "utf-8"}[encoding]
        assert (result.created, result.updated, result.skipped) == (2, 0, 0)
    with db.unit_of_work("admin") as env:
        rows = env["crm.customer"].search_read([], ["name", "kind", "grade", "city"], order="id")
    assert [(r["name"], r["kind"], r["grade"], r["city"]) for r in rows] == [
        ("上海华为技术有限公司", "company", "intent", "上海"), ("张三", "person", "deal", "北京")]


def test_shifted_row_reported(db):
    data = "name,city,phone\r\n甲,上海,13800000000\r\n乙,上海,浦东,13900000000\r\n".encode()
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.customer", data, dry_run=True)
    assert [(p.line, p.reason[:30]) for p in result.problems] == [(3, "has 4 cells but the header has")]


def test_semicolon_and_tab_delimiters(db):
    for delimiter in ";\t":
        data = csv_bytes([["name", "email"], [f"分隔符{ord(delimiter)}", f"a{ord(delimiter)}@x.cn"]],
                         delimiter=delimiter)
        with db.unit_of_work("admin") as env:
            assert imports.run(env, "crm.customer", data).created == 1


def test_xlsx_with_dates_numbers_booleans(db):
    data = xlsx_bytes([["Name", "Birthday", "Contact cycle (days)", "In the lead pool", "Next contact", "手机"],
                       ["李四", dt.datetime(1990, 5, 1), 30, False, dt.datetime(2026, 1, 2, 9, 30), 13900000001],
                       ["王五", "1991/2/3", "1,000", "否", "2026-01-05 10:00", None]])
    with db.unit_of_work("admin") as env:
        assert imports.run(env, "crm.customer", data, "c.xlsx").created == 2
        rows = env["crm.customer"].search_read([], ["name", "birthday", "contact_cycle_days", "mobile",
                                                     "next_contact_at"], order="id")
    assert rows[0]["birthday"] == dt.date(1990, 5, 1) and rows[0]["mobile"] == "13900000001"
    assert rows[0]["next_contact_at"] == dt.datetime(2026, 1, 2, 9, 30)
    assert rows[1]["birthday"] == dt.date(1991, 2, 3) and rows[1]["contact_cycle_days"] == 1000


def test_relations_by_name_and_code(db):
    with db.unit_of_work("admin") as env:
        a = env["crm.customer"].create({"name": "甲公司", "code": "C-A"}).id
        b = env["crm.customer"].create({"name": "乙公司", "code": "C-B"}).id
        # two people of one name (two companies of one name are duplicates, refused)
        env["crm.customer"].create([{"name": "同名", "kind": "person"},
                                    {"name": "同名", "kind": "person", "phone": "1"}])
    data = csv_bytes([["name", "customer_id", "amount", "expected_close"],
                      ["商机一", "甲公司", "¥12,345.50", "2026年3月1日"],
                      ["商机二", "C-B", "100", "2026-03-02"],
                      ["商机三", "不存在", "1", ""],
                      ["商机四", "同名", "1", ""]])
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.opportunity", data, dry_run=True)
    assert [(p.line, p.column, p.value) for p in result.problems] == [
        (4, "customer_id", "不存在"), (5, "customer_id", "同名")]
    assert "names no Customer" in result.problems[0].reason
    assert "names 2 records" in result.problems[1].reason
    with db.unit_of_work("admin") as env:
        assert imports.run(env, "crm.opportunity", data.split(b"\r\n\xe5\x95\x86\xe6\x9c\xba\xe4\xb8\x89")[0]).created == 2
        rows = env["crm.opportunity"].search_read([], ["customer_id", "amount", "stage"], order="id")
    assert [r["customer_id"]["id"] for r in rows] == [a, b]
    assert str(rows[0]["amount"]) == "12345.50" and rows[0]["stage"] == "new"


def test_workflow_state_refused(db):
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create({"name": "甲公司"})
    data = csv_bytes([["name", "customer_id", "stage"], ["一", "甲公司", "new"], ["二", "甲公司", "won"],
                      ["三", "甲公司", "赢单"]])
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.opportunity", data, dry_run=True)
    assert [p.line for p in result.problems] == [3, 4]  # by value and by label (赢单)
    assert "change state only through" in result.problems[0].reason
    with pytest.raises(imports.ImportFailed), db.unit_of_work("admin") as env:
        imports.run(env, "crm.opportunity", data)
    assert count(db, "crm.opportunity") == 0


def test_duplicates_error_skip_update(db, db_url, tmp_path, capsys):
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create({"name": "上海华为技术有限公司", "code": "C1", "phone": "021-61234567"})
    rows = [["code", "name", "phone", "city"],
            ["C1", "华为", "", "上海"],                        # same code
            ["", "华为技术", "", "深圳"],                        # same normalised name
            ["", "新客户", "+86 (021) 6123-4567", "北京"],       # same phone
            ["", "另一家 有限公司", "", "广州"],
            ["", "另一家", "", "杭州"]]                          # repeats line 5 in the file
    data = csv_bytes(rows)
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data)
    assert code == 1
    lines = [x for x in err.splitlines() if x.startswith("line ")]
    assert [x.split(",")[0] for x in lines] == ["line 2", "line 3", "line 4", "line 6"]
    assert "repeats line 5" in lines[3]
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--on-duplicate", "skip")
    assert code == 0, err
    assert "created 1, updated 0, skipped 4" in out
    assert count(db) == 2
    rows[5][0] = "C9"
    rows[5][1] = "第三家"
    data = csv_bytes([rows[0], rows[1], rows[5]])
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--on-duplicate", "update", data=data)
    assert code == 0, err
    assert "created 1, updated 1, skipped 0" in out
    with db.unit_of_work("admin") as env:
        c1 = env["crm.customer"].search_read([["code", "=", "C1"]], ["name", "city", "phone"])[0]
    assert (c1["name"], c1["city"], c1["phone"]) == ("华为", "上海", "021-61234567")


def test_sales_rep_import_ownership_scope(db, db_url, tmp_path, capsys):
    users = create_personas(db)
    with db.unit_of_work("r2") as env:
        env["crm.customer"].create({"name": "R2 的客户", "phone": "13500000000"})
    data = csv_bytes([["名称", "手机"], ["R1 新客户", "13600000000"]])
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data, user="r1")
    assert code == 0, err
    with db.unit_of_work("admin") as env:
        made = env["crm.customer"].search_read([["name", "=", "R1 新客户"]], ["owner_id", "department_id"])[0]
        d1 = env["core.department"].search([["code", "=", "D1"]]).id
    assert made["owner_id"]["id"] == users["R1"] and made["department_id"]["id"] == d1
    # a colleague's customer: found as a duplicate, never named, never updated
    data = csv_bytes([["name", "phone"], ["另一个名字", "135-0000-0000"]])
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--on-duplicate", "update",
                             data=data, user="r1")
    assert code == 1
    assert "already exists (outside what you may see" in err and "R2 的客户" not in err
    # an owner column naming a colleague: the model API refuses, nothing written
    data = csv_bytes([["name", "owner_id"], ["给同事", "r2"]])
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data, user="r1")
    assert code == 1 and "line 2" in err
    assert count(db) == 2


def test_custom_field_column(db, db_url, tmp_path, capsys):
    assert main(["--db", db_url, "field", "add", "crm.customer", "x_vip", "--type", "selection",
                 "--selection", "gold,silver", "--label", "VIP 等级"]) == 0
    data = csv_bytes([["name", "VIP 等级"], ["金牌客户", "gold"], ["银牌客户", "silver"]])
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data)
    assert code == 0, err
    with db.unit_of_work("admin") as env:
        rows = env["crm.customer"].search_read([], ["name", "x_vip"], order="id")
    assert [r["x_vip"] for r in rows] == ["gold", "silver"]


def test_unknown_columns_mapping_and_rejects(db, db_url, tmp_path, capsys):
    data = csv_bytes([["客户名", "备注", "电话"], ["甲", "随便", "12x"], ["乙", "", "13800000000"]], "gbk")
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data)
    assert code == 1 and "column 客户名: unknown column" in err and "column 备注" in err
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--map", "客户名=name",
                             "--ignore-unknown", "--rejects", str(tmp_path / "bad.csv"))
    assert code == 1 and "line 2, column 电话 (phone): '12x' is not a phone number" in err
    rejected = (tmp_path / "bad.csv").read_bytes().decode("gb18030").splitlines()
    assert rejected[0].startswith("客户名,备注,电话,") and rejected[1].startswith("甲,随便,12x,")
    assert len(rejected) == 2
    assert count(db) == 0


@pytest.mark.parametrize("data,name,message", [
    (b"", "a.csv", "the file is empty"),
    (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x01", "a.csv", "not a CSV text file"),
    (b"PK\x03\x04junk", "a.xlsx", "not a readable XLSX"),
    (b"\xff\xfe\xfa\xfb" * 10, "a.csv", "neither UTF-8 nor GBK"),
    (b"\n\n  \n", "a.csv", "the file is empty"),
])
def test_files_refused(db, db_url, tmp_path, capsys, data, name, message):
    code, _out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data, name=name)
    assert code == 1 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_normalize():
    assert normalize.company("上海 华为技术 有限公司") == normalize.company("（上海）华为技术股份有限公司") == "华为技术"
    assert normalize.company("ＡＢＣ贸易有限责任公司") == "abc贸易"
    assert normalize.phone("+86 138-0000-0000") == normalize.phone("0086 13800000000") == "13800000000"
    assert normalize.phone("(021) 6123-4567") == "02161234567"
    assert normalize.email(" Li.Si@Example.COM ") == "li.si@example.com"
    assert normalize.company("  ") is None and normalize.phone("") is None


def test_admin_migration_keeps_creator_owner_and_dates(db):
    users = create_personas(db)
    data = csv_bytes([["name", "owner_id", "created_by_id", "created_at"],
                      ["老系统客户", "r1", "r2", "2019-03-04 05:06:07"]])
    with db.unit_of_work("admin") as env:
        assert imports.run(env, "crm.customer", data).created == 1
        row = env["crm.customer"].search_read([], ["owner_id", "created_by_id", "created_at"])[0]
    assert row["owner_id"]["id"] == users["R1"] and row["created_by_id"]["id"] == users["R2"]
    assert row["created_at"] == dt.datetime(2019, 3, 4, 5, 6, 7)
    # a rep may not: the column is refused
    with db.unit_of_work("r1") as env:
        result = imports.run(env, "crm.customer", data, dry_run=True)
    assert [p.column for p in result.problems] == ["created_by_id", "created_at"] or \
        {p.column for p in result.problems} >= {"created_by_id", "created_at"}


# -- header synonyms and reasons in the user's language -------------------------------------
@pytest.mark.parametrize(("header", "field"), [
    ("邮箱", "email"), ("电子邮箱", "email"), ("E-mail", "email"), ("e-mail", "email"),
    ("Ｅｍａｉｌ", "email"), ("* 电子邮箱：", "email"), ("手机号", "mobile"), ("手机号码", "mobile"),
    ("联系电话", "phone"), ("座机", "phone"), ("电话*", "phone"), ("客户名称", "name"),
    ("公司名称", "name"), ("名称（必填）", "name"), ("Customer Name", "name"), ("所属销售", "owner_id")])
def test_header_synonyms(db, header, field):
    with db.unit_of_work("admin") as env:
        meta = env.registry["crm.customer"]
        columns, problems = imports.run_module.cols.map_columns(env, meta, [header])
    assert problems == [] and columns[0].field.name == field


def test_header_synonyms_on_a_contact_and_ambiguous_headers(db):
    with db.unit_of_work("admin") as env:
        meta = env.registry["crm.contact"]
        columns, problems = imports.run_module.cols.map_columns(
            env, meta, ["姓名", "客户名称", "手机号码", "邮箱"])
        assert problems == []
        assert [c.field.name for c in columns] == ["name", "customer_id", "mobile", "email"]
        columns, problems = imports.run_module.cols.map_columns(env, meta, ["客户编码"])
        assert columns[0].field.name == "customer_id"  # the customer by its code
        # 公司名称 on a contact: its name or its customer's? refused, naming both
        columns, problems = imports.run_module.cols.map_columns(env, meta, ["公司名称", "联系方式"])
        assert [str(p) for p in problems] == [
            "line 1, column 公司名称: the column could be any of Customer (customer_id), Name (name): "
            "choose its field (a mapping)",
            "line 1, column 联系方式: the column could be any of Email (email), Mobile (mobile), "
            "Phone (phone): choose its field (a mapping)"]
        assert columns[0].field is None
        assert problems[1].text("zh_CN").startswith("第 1 行")
        assert "电子邮箱 (email), 手机 (mobile), 电话 (phone)" in problems[1].text("zh_CN")
        # an explicit mapping settles it
        columns, problems = imports.run_module.cols.map_columns(env, meta, ["公司名称"],
                                                                {"公司名称": "customer_id"})
        assert problems == [] and columns[0].field.name == "customer_id"


def test_synonym_headers_import(db, db_url, tmp_path, capsys):
    data = csv_bytes([["客户名称*", "手机号码", "座机", "E-mail"],
                      ["深圳丙有限公司", "13912345678", "0755-81234567", "BING@EXAMPLE.CN"]], "gbk")
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data)
    assert code == 0, err
    with db.unit_of_work("admin") as env:
        row = env["crm.customer"].search_read([], ["name", "mobile", "phone", "email"])[0]
    assert (row["name"], row["mobile"], row["phone"]) == ("深圳丙有限公司", "13912345678", "0755-81234567")


def test_reasons_in_the_users_language(db, db_url, tmp_path, capsys):
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", "sales_manager"]])
        env["core.user"].create({"login": "zhang", "name": "张经理", "lang": "zh_CN", "roles": list(role.ids)})
    data = csv_bytes([["名称", "电话", "grade"], ["甲", "12x", "potential"], ["乙", "021-61234567", "vip"]])
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", "--rejects",
                             str(tmp_path / "bad.csv"), data=data, user="zhang")
    assert code == 1
    lines = err.splitlines()
    assert "第 2 行" in lines[0] and "'12x' 不是电话号码" in lines[0]
    assert "第 3 行" in lines[1] and "不是以下之一：potential, intent, deal" in lines[1]  # values put in
    rejected = (tmp_path / "bad.csv").read_text(encoding="utf-8").splitlines()
    assert rejected[1].endswith("不是电话号码")
    code, out, err = run_cli(db_url, tmp_path, capsys, "crm.customer", data=data)  # admin: English
    assert "line 2, column 电话 (phone): '12x' is not a phone number" in err
    with db.unit_of_work("admin") as env:
        result = imports.run(env, "crm.customer", data, "c.csv", dry_run=True)
        with pytest.raises(imports.ImportFailed) as failed:
            imports.run(env, "crm.customer", data, "c.csv", lang="zh_CN")
    assert result.problems[1].as_dict("zh_CN")["reason"] == "不是以下之一：potential, intent, deal"
    assert result.problems[1].as_dict()["reason"] == "is not one of potential, intent, deal"
    assert failed.value.details["errors"][0]["reason"] == "不是电话号码"
    assert count(db) == 0
