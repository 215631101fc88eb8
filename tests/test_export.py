"""Export (CONTRACT.md §2 ``keel export``, §3 ``GET /data/MODEL/export``):
file contents in CSV and XLSX, scopes and field rules over real HTTP with the
personas of ``tests/test_api_security.py``, the export permission, the audit
entry, and the command line run in-process through ``core.cli.main``.

The world: departments D1 (manager M1, reps R1, R2) and D2 (rep R3),
director X, buyer B (no CRM permission), H (a role that reads and exports
every customer but has ``phone`` hidden) and V (reads every customer, may
not export). Each rep owns three customers ``R?-客户0..2``.
"""
import csv
import datetime as dt
import decimal
import http.client
import io
import json
import urllib.parse

import openpyxl
import pytest
import sqlalchemy as sa

from core import export as exporting
from core.cli import main
from core.custom_fields import add_field
from core.security.auth import set_password
from core.security.roles import apply_grants
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import PASSWORD, REPS, Server, create_personas, make_app

SCHEMA = "t_export"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NEXT = dt.datetime(2026, 1, 2, 3, 4, 5)
BIRTHDAY = dt.date(1990, 5, 1)


def customer_values(rep, i):
    return {"name": f"{rep}-客户{i}", "city": "北京" if i == 0 else "上海",
            "kind": "person" if i == 1 else "company", "phone": f"+86 138 0000 {REPS.index(rep)}{i}",
            "grade": ("potential", "intent", "deal")[i],
            "birthday": BIRTHDAY if i == 1 else None, "next_contact_at": NEXT if i == 0 else None,
            "contact_cycle_days": 30 if i == 0 else None,
            "credit_limit": decimal.Decimal("12345.60") if i == 0 else None,
            "level": "=1+1" if i == 2 else "A",
            "address": "第一行\n第二行, \"引号\"" if i == 2 else None}


def _role(env, code, grants):
    role = env["core.role"].create({"code": code, "name": code}).id
    apply_grants(env, role, code, grants)
    return role


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA)
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        d2 = env["core.department"].search([["code", "=", "D2"]]).id
        hidden = _role(env, "rep_no_phone", {
            "permissions": {"crm.customer": ["read", "export"]}, "scopes": {"crm.customer": "all"},
            "fields": {"crm.customer": {"phone": "hidden"}}})
        viewer = _role(env, "viewer", {"permissions": {"crm.customer": ["read"]},
                                       "scopes": {"crm.customer": "all"}})
        for persona, role in (("H", hidden), ("V", viewer)):
            users[persona] = env["core.user"].create({"login": persona.lower(), "name": f"{persona} 用户",
                                                      "department_id": d2, "roles": [role]}).id
            set_password(env, users[persona], PASSWORD)
    customers = {}
    for rep in REPS:
        with db.unit_of_work(users[rep]) as env:
            made = env["crm.customer"].create([customer_values(rep, i) for i in range(3)])
            customers[rep] = list(made.ids)
    with db.unit_of_work("admin") as env:
        boss = env["crm.contact"].create({"customer_id": customers["R2"][0], "name": "李四"}).id
        env["crm.contact"].create({"customer_id": customers["R1"][0], "name": "张三",
                                   "reports_to_id": boss})
    server = Server(make_app(db))
    tokens = {p.lower(): server.token(p.lower(), PASSWORD) for p in (*REPS, "M1", "X", "B", "H", "V")}
    tokens["admin"] = server.token("admin", "admin-secret-1")
    yield {"db": db, "server": server, "users": users, "customers": customers, "tokens": tokens,
           "url": db.engine.url.render_as_string(hide_password=False)}
    server.close()
    drop_module_database(db, SCHEMA)


class Got:
    """A raw HTTP answer: the file's bytes or an error body."""

    def __init__(self, status, headers, raw):
        self.status, self.headers, self.raw = status, headers, raw

    def __repr__(self):
        return f"<Got {self.status} {self.raw[:300]!r}>"

    @property
    def error(self):
        return json.loads(self.raw)["error"]

    def csv(self):
        assert self.headers["Content-Type"] == "text/csv; charset=utf-8", self.headers
        return read_csv(self.raw)

    def xlsx(self):
        assert self.headers["Content-Type"] == XLSX, self.headers
        return openpyxl.load_workbook(io.BytesIO(self.raw))


def fetch(world, persona, model="crm.customer", headers=None, **params):
    """``GET /api/v1/data/MODEL/export`` as ``persona`` over real HTTP."""
    path = f"/api/v1/data/{model}/export"
    if params:
        path += "?" + urllib.parse.urlencode(params)
    head = {"Authorization": f"Bearer {world['tokens'][persona]}", **(headers or {})}
    conn = http.client.HTTPConnection("127.0.0.1", world["server"].port, timeout=30)
    try:
        conn.request("GET", path, headers=head)
        response = conn.getresponse()
        return Got(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def read_csv(raw):
    assert not raw.startswith(b"\xef\xbb\xbf")  # UTF-8 without BOM
    return list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))


def sheet_rows(book):
    return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]


def export_as(world, user, fmt="csv", **kw):
    """The service itself, in a unit of work as ``user``: ``(bytes, Exported)``."""
    out = io.BytesIO()
    with world["db"].unit_of_work(user) as env:
        done = exporting.export(env, kw.pop("model", "crm.customer"), out, fmt, **kw)
    return out.getvalue(), done


def keel(capsys, world, *args, user="admin"):
    code = main(["--db", world["url"], "--user", user, *args])
    out, err = capsys.readouterr()
    return code, out, err


def audit_entries(world, action="export"):
    with world["db"].engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT user_id, model, record_id, source, changes FROM core_audit "
                                    "WHERE action = :a ORDER BY id"), {"a": action}).all()
    return [(r.user_id, r.model, r.record_id, r.source,
             json.loads(r.changes) if isinstance(r.changes, str) else r.changes) for r in rows]


# -- contents ------------------------------------------------------------------------------
def test_csv_columns_follow_fields_with_labels_values_and_names(world):
    fields = ["name", "kind", "owner_id", "birthday", "next_contact_at", "in_pool",
              "contact_cycle_days", "credit_limit", "grade", "phone", "level", "address"]
    raw, done = export_as(world, "r1", fields=fields, domain=[["name", "like", "R1-%"]])
    assert done.count == 3 and done.fields == fields
    header, *rows = read_csv(raw)
    assert header == ["Name", "Kind", "Owner", "Birthday", "Next contact", "In the lead pool",
                      "Contact cycle (days)", "Credit limit", "Customer grade", "Phone", "Level",
                      "Address"]
    assert raw.count(b"\r\n") >= 4
    assert rows == [  # the model's order: by name
        ["R1-客户0", "Company", "R1 用户", "", "2026-01-02T03:04:05", "false", "30", "12345.60",
         "Potential", "+86 138 0000 00", "A", ""],
        ["R1-客户1", "Person", "R1 用户", "1990-05-01", "", "false", "", "", "Intent",
         "+86 138 0000 01", "A", ""],
        ["R1-客户2", "Company", "R1 用户", "", "", "false", "", "", "Deal", "+86 138 0000 02",
         "=1+1", "第一行\n第二行, \"引号\""],
    ]


def test_column_order_is_the_order_asked(world):
    raw, _ = export_as(world, "admin", fields=["city", "name", "kind"],
                       domain=[["name", "=", "R2-客户1"]])
    assert read_csv(raw) == [["City", "Name", "Kind"], ["上海", "R2-客户1", "Person"]]


def test_default_columns_are_the_exportable_fields_in_declaration_order(world):
    raw, done = export_as(world, "admin", domain=[["name", "=", "R3-客户0"]])
    with world["db"].unit_of_work("admin") as env:
        meta = env.registry["crm.customer"]
    assert done.fields == [n for n, f in meta.fields.items() if f.column and not f.secret and n not in (
        "id", "version", "created_at", "created_by_id", "updated_at", "updated_by_id")]
    assert "contact_ids" not in done.fields and done.fields[:2] == ["code", "name"]
    header, row = read_csv(raw)
    assert header[:3] == ["Code", "Name", "Kind"] and row[1] == "R3-客户0"
    # kernel columns only when asked for
    raw, _ = export_as(world, "admin", fields=["id", "name"], domain=[["name", "=", "R3-客户0"]])
    assert read_csv(raw)[1] == [str(world["customers"]["R3"][0]), "R3-客户0"]


def test_secret_fields_are_never_exported(world):
    raw, done = export_as(world, "admin", model="core.user")
    assert "password_hash" not in done.fields and "login" in done.fields
    assert b"scrypt" not in raw
    with pytest.raises(exporting.UserInputError, match="password_hash"):
        export_as(world, "admin", model="core.user", fields=["login", "password_hash"])
    with pytest.raises(exporting.UserInputError, match="password_hash"):
        export_as(world, None, model="core.user", fields=["login", "password_hash"])  # system context


def test_xlsx_cells_are_typed_and_texts_stay_texts(world):
    fields = ["name", "kind", "owner_id", "birthday", "next_contact_at", "in_pool",
              "contact_cycle_days", "credit_limit", "level", "address"]
    raw, done = export_as(world, "r1", "xlsx", fields=fields)
    book = openpyxl.load_workbook(io.BytesIO(raw))
    assert book.sheetnames == ["Customer"]
    header, *rows = sheet_rows(book)
    assert header == ["Name", "Kind", "Owner", "Birthday", "Next contact", "In the lead pool",
                      "Contact cycle (days)", "Credit limit", "Level", "Address"]
    assert rows[0] == ["R1-客户0", "Company", "R1 用户", None, NEXT, False, 30, 12345.6, "A", None]
    assert rows[1][3] == dt.datetime(1990, 5, 1)  # a real date cell
    assert rows[2][8] == "=1+1" and rows[2][9] == "第一行\n第二行, \"引号\""
    cells = list(book.worksheets[0].iter_rows(min_row=2))
    assert cells[0][3].is_date is False and cells[1][3].is_date and cells[0][4].is_date
    assert cells[0][6].data_type == "n" and cells[0][7].data_type == "n"
    assert cells[2][8].data_type == "s"  # never a formula
    assert done.count == 3


def test_xlsx_drops_characters_it_cannot_hold(world):
    with world["db"].unit_of_work("admin") as env:
        rid = env["crm.customer"].create({"name": "Bell\x07Co", "city": "#N/A"}).id
    try:
        raw, _ = export_as(world, "admin", "xlsx", fields=["name", "city"], domain=[["id", "=", rid]])
        book = openpyxl.load_workbook(io.BytesIO(raw))
        assert sheet_rows(book)[1] == ["BellCo", "#N/A"]
        assert list(book.worksheets[0].iter_rows(min_row=2))[0][1].data_type == "s"
    finally:
        with world["db"].unit_of_work("admin") as env:
            env["crm.customer"].browse(rid).unlink()


def test_labels_and_selection_in_chinese(world):
    fields = ["name", "kind", "owner_id", "city"]
    raw, _ = export_as(world, "r2", fields=fields, lang="zh_CN")
    header, *rows = read_csv(raw)
    assert header == ["名称", "类型", "负责人", "城市"]
    assert rows[0] == ["R2-客户0", "公司", "R2 用户", "北京"] and rows[1][1] == "个人"
    raw, _ = export_as(world, "r2", "xlsx", fields=fields, lang="zh_CN")
    book = openpyxl.load_workbook(io.BytesIO(raw))
    assert book.sheetnames == ["客户"]
    assert sheet_rows(book)[0] == ["名称", "类型", "负责人", "城市"]
    assert sheet_rows(book)[2][:2] == ["R2-客户1", "个人"]
    # the user's own language when none is asked for
    with world["db"].unit_of_work("admin") as env:
        env["core.user"].browse(world["users"]["R2"]).write({"lang": "zh_CN"})
    try:
        raw, _ = export_as(world, "r2", fields=fields)
        assert read_csv(raw)[0] == ["名称", "类型", "负责人", "城市"]
    finally:
        with world["db"].unit_of_work("admin") as env:
            env["core.user"].browse(world["users"]["R2"]).write({"lang": None})


def test_sheet_titles_are_valid():
    assert exporting.sheet_title("Sales/Orders: [2026]?*") == "Sales Orders   2026"
    assert len(exporting.sheet_title("x" * 80)) == 31
    assert exporting.sheet_title("'quoted'") == "quoted"
    assert exporting.sheet_title("") == "Export"


def test_a_related_record_outside_the_scope_has_no_name(world):
    raw, _ = export_as(world, "r1", model="crm.contact", fields=["name", "customer_id", "reports_to_id"])
    assert read_csv(raw) == [["Name", "Customer", "Reports to"], ["张三", "R1-客户0", ""]]
    raw, _ = export_as(world, "x", model="crm.contact", fields=["name", "reports_to_id"])
    assert ["张三", "李四"] in read_csv(raw)


def test_a_user_defined_field_is_exported(tmp_path_factory):
    # a database of its own: the module's world keeps its schema
    db = module_database(tmp_path_factory, "t_export_custom", addons=("crm_base",))
    try:
        with db.transaction() as conn:
            add_field(db, conn, "crm.customer", "x_wechat", "char", label="微信号")
        with db.unit_of_work("admin") as env:
            env["crm.customer"].create({"name": "自定义字段客户", "x_wechat": "wx_张三"})
        out = io.BytesIO()
        with db.unit_of_work("admin") as env:
            done = exporting.export(env, "crm.customer", out, "csv")
        assert done.fields[-1] == "x_wechat"
        header, row = read_csv(out.getvalue())
        assert header[-1] == "微信号" and row[-1] == "wx_张三"
    finally:
        drop_module_database(db, "t_export_custom")


def test_batches_keep_the_order_and_every_row(world, monkeypatch):
    monkeypatch.setattr(exporting, "BATCH", 2)
    raw, done = export_as(world, "x", fields=["name"], domain=[["name", "like", "R%-客户%"]])
    names = [r[0] for r in read_csv(raw)[1:]]
    assert done.count == 9 and names == sorted(names)
    assert names == [f"{rep}-客户{i}" for rep in REPS for i in range(3)]


def test_an_empty_export_has_the_header_only(world):
    raw, done = export_as(world, "r1", fields=["name", "city"], domain=[["name", "=", "nobody"]])
    assert done.count == 0 and read_csv(raw) == [["Name", "City"]]
    raw, _ = export_as(world, "r1", "xlsx", fields=["name", "city"], domain=[["name", "=", "nobody"]])
    assert sheet_rows(openpyxl.load_workbook(io.BytesIO(raw))) == [["Name", "City"]]


@pytest.mark.parametrize("kw,named", [
    ({"fields": ["name", "nosuch"]}, "nosuch"),
    ({"fields": ["name", "contact_ids"]}, "contact_ids"),
    ({"model": "crm.nosuch"}, "crm.nosuch"),
    ({"fmt": "pdf"}, "pdf"),
    ({"lang": "fr"}, "fr"),
    ({"domain": [["nosuch", "=", 1]]}, "nosuch"),
])
def test_bad_input_names_what_is_wrong(world, kw, named):
    fmt = kw.pop("fmt", "csv")
    with pytest.raises(exporting.UserInputError, match=named.replace(".", r"\.")):
        export_as(world, "admin", fmt, **kw)


# -- over HTTP ----------------------------------------------------------------------------
def owned(*reps):
    return sorted(f"{rep}-客户{i}" for rep in reps for i in range(3))


@pytest.mark.parametrize("persona,reps", [("r1", ("R1",)), ("r3", ("R3",)), ("m1", ("R1", "R2")),
                                          ("x", REPS)])
def test_each_persona_exports_its_scope_only(world, persona, reps):
    got = fetch(world, persona, fields="name,owner_id")
    assert got.status == 200, got
    names = sorted(r[0] for r in got.csv()[1:])
    assert names == owned(*reps)
    book = fetch(world, persona, format="xlsx", fields="name").xlsx()
    assert sorted(r[0] for r in sheet_rows(book)[1:]) == owned(*reps)


def test_a_domain_cannot_widen_the_export(world):
    u = world["users"]
    for domain in ([["owner_id", "=", u["R2"]]], ["|", ["id", ">", 0], ["owner_id", "=", None]],
                   [["owner_id.login", "in", ["r1", "r2", "r3"]]]):
        rows = fetch(world, "r1", domain=json.dumps(domain), fields="name").csv()[1:]
        assert {r[0] for r in rows} <= set(owned("R1"))


def test_a_hidden_field_is_absent_or_refused(world):
    got = fetch(world, "h")
    assert got.status == 200
    header, *rows = got.csv()
    assert "Phone" not in header and "Mobile" in header
    assert len(rows) == 9 and not any("+86" in cell for row in rows for cell in row)
    for params in ({"fields": "name,phone"}, {"domain": json.dumps([["phone", "like", "+86%"]])}):
        refused = fetch(world, "h", **params)
        assert refused.status == 400, refused
        assert refused.error["code"] == "bad_request" and "phone" in refused.error["message"]
    # another role reading the same model still sees it
    assert "Phone" in fetch(world, "x").csv()[0]


def test_without_the_export_permission_it_is_403(world):
    for persona in ("v", "b"):
        got = fetch(world, persona)
        assert got.status == 403, got
        assert got.error["code"] == "forbidden" and "export" in got.error["message"]
        assert b"R1-" not in got.raw
    # V may still read what it may not export
    listed = world["server"].call("GET", "/api/v1/data/crm.customer", token=world["tokens"]["v"])
    assert listed.status == 200 and listed.json["total"] == 9


def test_content_disposition_and_types(world):
    days = {dt.datetime.now(dt.timezone.utc).date().isoformat()}
    got = fetch(world, "r1", headers={"Accept-Language": "zh-CN"})
    days.add(dt.datetime.now(dt.timezone.utc).date().isoformat())
    assert got.status == 200 and got.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = got.headers["Content-Disposition"]
    assert any(disposition == f"attachment; filename=\"crm.customer-{day}.csv\"; "
               f"filename*=UTF-8''{urllib.parse.quote('客户')}-{day}.csv" for day in days), disposition
    assert got.csv()[0][1] == "名称"
    assert int(got.headers["Content-Length"]) == len(got.raw)
    english = fetch(world, "r1", format="xlsx", headers={"Accept-Language": "en"})
    assert english.headers["Content-Type"] == XLSX
    assert "filename*=UTF-8''Customer-" in english.headers["Content-Disposition"]
    assert english.headers["Content-Disposition"].endswith(".xlsx")
    assert english.xlsx().sheetnames == ["Customer"]
    assert fetch(world, "r1", format="XLSX").headers["Content-Type"] == XLSX


@pytest.mark.parametrize("params,named", [
    ({"format": "pdf"}, "format"),
    ({"format": "csv;x"}, "format"),
    ({"fields": "name,nosuch"}, "fields"),
    ({"fields": "name,,code"}, "fields"),
    ({"fields": "owner_id.login"}, "fields"),
    ({"fields": "contact_ids"}, "contact_ids"),
    ({"domain": json.dumps([["nosuch", "=", 1]])}, "domain"),
    ({"domain": "1; DROP TABLE crm_customer"}, "domain"),
    ({"domain": json.dumps({"name": "x"})}, "domain"),
])
def test_bad_parameters_are_400_naming_them(world, params, named):
    got = fetch(world, "r1", **params)
    assert got.status == 400, got
    assert got.error["code"] == "bad_request" and named in got.error["message"].lower()
    assert b"Traceback" not in got.raw


def test_unknown_model_is_404(world):
    got = fetch(world, "admin", model="crm.nosuch")
    assert got.status == 404 and got.error["code"] == "not_found"


def test_each_export_is_audited(world):
    before = len(audit_entries(world))
    domain = [["city", "=", "上海"]]
    assert fetch(world, "r3", fields="name,city", domain=json.dumps(domain, ensure_ascii=False),
                 format="xlsx").status == 200
    entries = audit_entries(world)
    assert len(entries) == before + 1
    assert entries[-1] == (world["users"]["R3"], "crm.customer", None, "api",
                           {"count": 2, "fields": ["name", "city"], "domain": domain, "format": "xlsx"})
    # a refused export leaves no entry
    assert fetch(world, "v").status == 403
    assert fetch(world, "r3", fields="nosuch").status == 400
    assert len(audit_entries(world)) == before + 1


# -- keel export ---------------------------------------------------------------------------
def test_cli_export_to_a_chinese_file_name(world, capsys, tmp_path):
    target = tmp_path / "客户.xlsx"
    code, out, err = keel(capsys, world, "export", "crm.customer", "-o", str(target),
                          "--fields", "city,name", user="r1")
    assert (code, err) == (0, "")
    assert out == f"exported 3 crm.customer records to {target}\n"
    assert sheet_rows(openpyxl.load_workbook(target)) == [
        ["City", "Name"], ["北京", "R1-客户0"], ["上海", "R1-客户1"], ["上海", "R1-客户2"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["客户.xlsx"]  # no temporary file left
    entries = audit_entries(world)
    assert entries[-1][:4] == (world["users"]["R1"], "crm.customer", None, "cli")
    assert entries[-1][4]["format"] == "xlsx" and entries[-1][4]["count"] == 3


def test_cli_export_csv_with_domain_and_language(world, capsys, tmp_path):
    target = tmp_path / "上海客户.CSV"
    code, out, _ = keel(capsys, world, "export", "crm.customer", "-o", str(target), "--lang", "zh_CN",
                        "--fields", "name,kind", "--domain", json.dumps([["city", "=", "上海"]]), user="m1")
    assert code == 0 and out.startswith("exported 4 crm.customer records to ")
    assert read_csv(target.read_bytes()) == [["名称", "类型"], ["R1-客户1", "个人"], ["R1-客户2", "公司"],
                                             ["R2-客户1", "个人"], ["R2-客户2", "公司"]]


@pytest.mark.parametrize("args,user,named", [
    (["--fields", "name,nosuch"], "admin", "nosuch"),
    (["--fields", "name,phone"], "h", "phone"),
    (["--fields", "name,"], "admin", "--fields"),
    (["--domain", "[[\"name\", \"=\""], "admin", "--domain"),
    (["--domain", "{\"name\": 1}"], "admin", "--domain"),
    (["--domain", "[[\"nosuch\", \"=\", 1]]"], "admin", "nosuch"),
    ([], "v", "export"),
    ([], "b", "export"),
])
def test_cli_refusals_exit_1_and_leave_no_file(world, capsys, tmp_path, args, user, named):
    target = tmp_path / "客户.csv"
    code, out, err = keel(capsys, world, "export", "crm.customer", "-o", str(target), *args, user=user)
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1 and named in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_cli_a_failed_export_keeps_the_old_file(world, capsys, tmp_path):
    target = tmp_path / "export.csv"
    target.write_text("old content")
    code, _, err = keel(capsys, world, "export", "crm.customer", "-o", str(target), user="v")
    assert code == 1 and "export" in err
    assert target.read_text() == "old content"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.csv"]


@pytest.mark.parametrize("name,named", [("export.txt", "'.txt'"), ("export", "no suffix"),
                                        ("missing/export.csv", "does not exist")])
def test_cli_bad_file_names(world, capsys, tmp_path, name, named):
    code, out, err = keel(capsys, world, "export", "crm.customer", "-o", str(tmp_path / name))
    assert code == 1 and named in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_a_folder_and_an_unknown_user(world, capsys, tmp_path):
    (tmp_path / "sub.csv").mkdir()
    code, _, err = keel(capsys, world, "export", "crm.customer", "-o", str(tmp_path / "sub.csv"))
    assert code == 1 and "is a folder" in err
    code, _, err = keel(capsys, world, "export", "crm.customer", "-o", str(tmp_path / "x.csv"),
                        user="nobody")
    assert code == 1 and "nobody" in err and len(err.strip().splitlines()) == 1
    code, _, err = keel(capsys, world, "export", "crm.customer", "-o", str(tmp_path / "x.csv"),
                        "--domain", '[["id", "=", NaN]]')
    assert code == 1 and "--domain" in err
    assert [p.name for p in tmp_path.iterdir()] == ["sub.csv"]


def test_cli_unknown_model_and_usage(world, capsys, tmp_path):
    code, _, err = keel(capsys, world, "export", "crm.nosuch", "-o", str(tmp_path / "x.csv"))
    assert code == 1 and "crm.nosuch" in err
    code, _, err = keel(capsys, world, "export", "crm.customer")
    assert code == 2 and "-o" in err
    assert list(tmp_path.iterdir()) == []
