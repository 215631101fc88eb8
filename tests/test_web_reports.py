"""Report pages (issue 6 point 5) and the list's export (point 4) in the web
UI: ``/web/reports`` and ``/web/reports/KEY`` — the menu, the SVG chart and
table within the user's scope, the period switch, the flexible pivot saved
as a personal report, XLSX with a Chinese file name, the print stylesheet;
and ``/web/MODEL/export`` with the current filter and columns, record
scopes, field rules and an RFC 5987 file name.

Personas of ``tests/test_api_security``: D1 (manager M1, reps R1, R2), D2
(rep R3), director X, buyer B (no CRM right); H reads every customer with
``phone`` hidden.
"""
import csv
import datetime as dt
import io
import re
import urllib.parse

import openpyxl
import pytest

from core.security.auth import set_password
from core.security.roles import apply_grants
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import post_form, sign_in

SCHEMA = "t_web_reports"
TODAY = "2026-11-15"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA)
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        role = env["core.role"].create({"code": "no_phone", "name": "no_phone"}).id
        apply_grants(env, role, "no_phone", {
            "permissions": {"crm.customer": ["read", "export"]}, "scopes": {"crm.customer": "all"},
            "fields": {"crm.customer": {"phone": "hidden"}}})
        users["H"] = env["core.user"].create({"login": "h", "name": "H 用户", "roles": [role]}).id
        set_password(env, users["H"], PASSWORD)
    for rep, amounts in (("R1", ["1000", "400"]), ("R2", ["500"])):
        with db.unit_of_work(users[rep]) as env:
            made = env["crm.customer"].create([{"name": f"{rep}-网页客户{i}", "grade": "deal" if i else "intent",
                                                "city": "北京" if i else "上海", "phone": f"021-5555{rep[1]}{i}"}
                                               for i in range(2)])
            for i, amount in enumerate(amounts):
                opp = env["crm.opportunity"].create({
                    "name": f"{rep}-单{i}", "customer_id": made.ids[0], "amount": amount,
                    "expected_close": dt.date(2026, 11 - i, 5)})
                for action in ("qualify", "propose", "negotiate", "win"):
                    opp.action(action)
    app = make_app(db)
    clients = {p: sign_in(app, p.lower(), PASSWORD) for p in ("R1", "R2", "M1", "X", "B", "H")}
    yield {"db": db, "app": app, "users": users, "clients": clients}
    drop_module_database(db, SCHEMA)


def get(world, who, url, status=200, lang="en"):
    answer = world["clients"][who].get(url, headers={"Accept-Language": lang})
    assert answer.status_code == status, answer.get_data(as_text=True)[-1500:]
    return answer


def text(world, who, url, **kw):
    return get(world, who, url, **kw).get_data(as_text=True)


def table_rows(html):
    body = html.split('class="report-table"')[1].split("</tbody>")[0].split("<tbody>")[1]
    return [re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", row) for row in body.split("</tr>") if "<t" in row]


# -- the list of reports -------------------------------------------------------------------
def test_the_reports_menu_and_list(world):
    html = text(world, "R1", "/web/reports")
    assert '<a href="/web/reports">Reports</a>' in html  # the top-level menu
    assert 'href="/web/reports/crm.won_amount"' in html and "Customers by grade" in html
    buyer = text(world, "B", "/web/reports")
    assert "crm.won_amount" not in buyer
    get(world, "B", "/web/reports/crm.won_amount", status=404)
    get(world, "R1", "/web/reports/no.such", status=404)


def test_a_report_page_in_chinese_holds_only_the_users_rows(world):
    html = text(world, "R1", f"/web/reports/crm.won_amount?today={TODAY}", lang="zh-CN")
    assert "<svg" in html and 'class="bar"' in html and "负责人" in html
    rows = table_rows(html)
    assert rows == [["R1 用户", "1,000.00", "400.00", "+600.00", "+150.0%", "1", "1", "0", "+0.0%"]]
    assert "R2 用户" not in html
    team = table_rows(text(world, "M1", f"/web/reports/crm.won_amount?today={TODAY}"))
    assert [r[0] for r in team] == ["R1 用户", "R2 用户"]
    # print: a stylesheet for paper, a button, no inline script
    assert 'media="print" href="/web/static/report-print.css"' in html and "data-print" in html
    assert "<script>" not in html and " onclick=" not in html
    css = get(world, "R1", "/web/static/report-print.css").get_data(as_text=True)
    assert "size: A4" in css and ".sidenav" in css


def test_the_period_switch_and_charts(world):
    html = text(world, "X", f"/web/reports/crm.won_amount?today={TODAY}&period=year")
    assert re.search(r'aria-current="page">This year<', html)
    assert "Jan 1, 2026 – Dec 31, 2026" in html
    assert [r[:2] for r in table_rows(html)] == [["R1 用户", "1,400.00"], ["R2 用户", "500.00"]]
    links = re.findall(r'href="(/web/reports/crm.won_amount\?period=[^"]+)"', html)
    assert any("period=quarter" in link and "today=2026-11-15" in link for link in links)
    pie = text(world, "X", "/web/reports/crm.customers_by_grade?chart=pie")
    assert 'class="slice"' in pie
    funnel = text(world, "X", "/web/reports/crm.opportunities_by_stage")
    assert 'class="stage"' in funnel
    table = text(world, "X", "/web/reports/crm.customers_by_grade?chart=table")
    assert "<svg" not in table and table_rows(table)
    bad = get(world, "X", "/web/reports/crm.customers_by_grade?chart=radar", status=400)
    assert "radar" in bad.get_data(as_text=True)
    bad = get(world, "X", "/web/reports/crm.customers_by_grade?dims=nope", status=400)
    assert "nope" in bad.get_data(as_text=True)


def test_the_flexible_pivot_saved_as_my_report(world):
    url = "/web/reports/crm.customers_by_owner?dims=owner_id&dims=grade&measures=id:count&chart=table"
    html = text(world, "M1", url)
    # the period switch keeps the user's choices
    assert 'href="/web/reports/crm.customers_by_owner?period=year&amp;dims=owner_id&amp;dims=grade&amp;' \
        'measures=id%3Acount&amp;chart=table"' in html
    assert table_rows(html) == [["R1 用户", "Intent", "1"], ["R1 用户", "Deal", "1"],
                                ["R2 用户", "Intent", "1"], ["R2 用户", "Deal", "1"]]
    assert "/web/crm.customer?view=pivot" in html
    client = world["clients"]["M1"]
    query = url.split("?", 1)[1]
    answer = post_form(client, "/web/reports/crm.customers_by_owner/save", {"name": "我的客户分布", "query": query})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(query)
    listing = text(world, "M1", "/web/reports")
    assert "我的客户分布" in listing and f'href="/web/reports/crm.customers_by_owner?{query.replace("&", "&amp;")}"' \
        in listing
    assert "我的客户分布" not in text(world, "R1", "/web/reports")  # nobody else's
    saved = re.search(r'action="/web/reports/saved/(\d+)/delete"', listing).group(1)
    refused = post_form(world["clients"]["R1"], f"/web/reports/saved/{saved}/delete", {})
    assert refused.status_code == 404
    assert post_form(client, f"/web/reports/saved/{saved}/delete", {}).status_code == 302
    assert "我的客户分布" not in text(world, "M1", "/web/reports")
    empty = post_form(client, "/web/reports/crm.customers_by_owner/save", {"name": " ", "query": ""})
    assert empty.status_code == 400


def test_report_xlsx_with_a_chinese_file_name(world):
    answer = get(world, "X", f"/web/reports/crm.won_amount?today={TODAY}&export=xlsx", lang="zh-CN")
    disposition = answer.headers["Content-Disposition"]
    assert 'filename="crm.won_amount-' in disposition and "filename*=UTF-8''" in disposition
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    lines = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    assert lines[0][0] == "负责人" and lines[1][:3] == ["R1 用户", 1000, 400]
    assert lines[-1][1] == 1500
    get(world, "X", "/web/reports/crm.won_amount?export=pdf", status=400)


# -- the list's export (issue 6 point 4) ---------------------------------------------------
def exported(world, who, query, lang="en"):
    answer = get(world, who, f"/web/crm.customer/export?{query}", lang=lang)
    return answer, list(csv.reader(io.StringIO(answer.get_data(as_text=True))))


def test_list_export_keeps_the_filter_and_columns_and_the_scope(world):
    _answer, rows = exported(world, "R1", "format=csv&q=上海&cols=name&cols=grade")
    assert rows == [["Name", "Customer grade"], ["R1-网页客户0", "Intent"]]
    _answer, rows = exported(world, "M1", "format=csv&cols=name")
    assert sorted(r[0] for r in rows[1:]) == ["R1-网页客户0", "R1-网页客户1", "R2-网页客户0", "R2-网页客户1"]
    _answer, rows = exported(world, "R2", "format=csv&cols=name")
    assert sorted(r[0] for r in rows[1:]) == ["R2-网页客户0", "R2-网页客户1"]


def test_list_export_leaves_out_a_hidden_field(world):
    for query in ("format=csv", "format=csv&cols=name&cols=phone"):
        _answer, rows = exported(world, "H", query)
        assert "Phone" not in rows[0] and "Name" in rows[0]
        assert not any("021-5555" in cell for row in rows for cell in row)
        assert len(rows) == 5  # H reads every customer
    _answer, rows = exported(world, "R1", "format=csv&cols=name&cols=phone")
    assert rows[0] == ["Name", "Phone"] and {r[1] for r in rows[1:]} == {"021-555510", "021-555511"}


def test_list_export_file_name_in_chinese(world):
    answer, _rows = exported(world, "R1", "format=csv", lang="zh-CN")
    disposition = answer.headers["Content-Disposition"]
    assert re.fullmatch(r"attachment; filename=\"crm\.customer-\d{4}-\d\d-\d\d\.csv\"; "
                        rf"filename\*=UTF-8''{urllib.parse.quote('客户')}-\d{{4}}-\d\d-\d\d\.csv", disposition)
    xlsx = get(world, "R1", "/web/crm.customer/export?format=xlsx", lang="zh-CN")
    assert openpyxl.load_workbook(io.BytesIO(xlsx.data)).sheetnames == ["客户"]
