"""The web import screen (upload → preview → confirm, rejected rows) and
``POST /api/v1/data/MODEL/import``, with the Flask test client on a real
database: the same service, the same messages, nothing half-written.
"""
import io
import re

from tests.conftest import ADMIN_PASSWORD
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.test_import import count, csv_bytes, xlsx_bytes
from tests.web_helpers import csrf_token, sign_in

GOOD = csv_bytes([["名称", "电话", "城市"], ["上海甲有限公司", "021-61234567", "上海"],
                  ["北京乙有限公司", "010-61234567", "北京"]], "gbk")
BAD = csv_bytes([["名称", "电话", "城市"], ["甲", "12x", "上海"], ["乙", "010-1", "北京"],
                 ["丙", "010-61234567", "广州"]])


def _upload(client, data, name="客户.csv", **form):
    page = client.get("/web/crm.customer/import")
    assert page.status_code == 200
    return client.post("/web/crm.customer/import", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "file": (io.BytesIO(data), name),
        "action": "preview", "on_duplicate": "error", **form})


def _confirm(client, html, **changes):
    token = re.search(r'name="upload" value="([^"]+)"', html).group(1)
    columns = int(re.search(r'name="columns" value="(\d+)"', html).group(1))
    form = {"csrf_token": csrf_token(html), "upload": token, "columns": str(columns),
            "action": "confirm", "on_duplicate": "error"}
    for i in range(columns):
        form[f"header_{i}"] = re.search(rf'name="header_{i}" value="([^"]*)"', html).group(1)
        select = re.search(rf'name="field_{i}"[^>]*>(.*?)</select>', html, re.DOTALL).group(1)
        chosen = re.search(r'<option value="([^"]*)" selected', select)
        form[f"field_{i}"] = chosen.group(1) if chosen else ""
    form.update(changes)
    return client.post("/web/crm.customer/import", data=form), token


def test_list_has_import_button_for_creators(db):
    create_personas(db)
    app = make_app(db)
    rep = sign_in(app, "r1", PASSWORD)
    assert 'href="/web/crm.customer/import"' in rep.get("/web/crm.customer").get_data(as_text=True)
    buyer = sign_in(app, "b", PASSWORD)
    assert buyer.get("/web/crm.customer/import").status_code == 403


def test_preview_then_confirm(db):
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    answer = _upload(client, GOOD)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[-800:]
    assert "gbk" in html and "上海甲有限公司" in html
    assert re.search(r'<option value="name" selected', html) and re.search(r'<option value="phone" selected', html)
    assert '<strong class="created">2</strong>' in html
    assert count(db) == 0  # a preview writes nothing
    answer, _token = _confirm(client, html)
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/web/crm.customer")
    listing = client.get("/web/crm.customer").get_data(as_text=True)
    assert "Imported 2 records" in listing or "导入" in listing
    assert count(db) == 2


def test_bad_rows_shown_and_rejects_download(db):
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    html = _upload(client, BAD).get_data(as_text=True)
    assert "12x" in html and "is not a phone number" in html
    assert re.search(r'<td>2</td><td>电话 \(phone\)</td>', html) and re.search(r"<td>3</td>", html)
    assert re.search(r'value="confirm" class="primary" disabled', html)
    answer, token = _confirm(client, html)  # forced: refused, nothing written
    assert answer.status_code == 422 and count(db) == 0
    rejects = client.get(f"/web/crm.customer/import/rejects?upload={token}")
    assert rejects.status_code == 200
    lines = rejects.get_data().decode("utf-8").splitlines()
    assert len(lines) == 3 and lines[1].startswith("甲,12x,上海,")
    # the user maps the phone column away: the rows import
    answer, _token = _confirm(client, html, field_1="")
    assert answer.status_code == 302 and count(db) == 3


def test_not_a_table_and_csrf(db):
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    answer = _upload(client, b"%PDF-1.4\x00\x01\x02", name="x.csv")
    assert answer.status_code == 400 and "not a CSV text file" in answer.get_data(as_text=True)
    answer = client.post("/web/crm.customer/import", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(GOOD), "a.csv"), "action": "confirm"})
    assert answer.status_code in (400, 403) and count(db) == 0


def _token(client, login, password):
    answer = client.post("/api/v1/auth/token", json={"login": login, "password": password})
    return {"Authorization": f"Bearer {answer.get_json()['token']}"}


def test_api_import(db):
    create_personas(db)
    client = make_app(db).test_client()
    admin = _token(client, "admin", ADMIN_PASSWORD)
    answer = client.post("/api/v1/data/crm.customer/import?dry_run=1", data=BAD, headers=admin)
    assert answer.status_code == 200
    body = answer.get_json()
    assert [e["line"] for e in body["errors"]] == [2, 3]
    assert body["errors"][0] == {"line": 2, "column": "电话 (phone)", "value": "12x",
                                 "reason": "is not a phone number"}
    answer = client.post("/api/v1/data/crm.customer/import", data=BAD, headers=admin)
    assert answer.status_code == 422
    assert len(answer.get_json()["error"]["details"]["errors"]) == 2 and count(db) == 0
    answer = client.post("/api/v1/data/crm.customer/import", headers=admin,
                         data={"file": (io.BytesIO(xlsx_bytes([["name", "email"], ["表格客户", "A@B.CN"]])), "c.xlsx")},
                         content_type="multipart/form-data")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json() == {"created": 1, "updated": 0, "skipped": 0, "errors": []}
    answer = client.post("/api/v1/data/crm.customer/import?on_duplicate=skip",
                         data=csv_bytes([["name", "email"], ["别名", "a@b.cn"]]), headers=admin)
    assert answer.get_json()["skipped"] == 1
    assert client.post("/api/v1/data/crm.customer/import?on_duplicate=bad", data=GOOD,
                       headers=admin).status_code == 400
    assert client.post("/api/v1/data/crm.customer/import", data=b"\x00\x01junk",
                       headers=admin).status_code == 400
    buyer = _token(client, "b", PASSWORD)
    assert client.post("/api/v1/data/crm.customer/import", data=GOOD, headers=buyer).status_code == 403
    assert count(db) == 1


def test_signed_out(db):
    client = make_app(db).test_client()
    answer = client.get("/web/crm.customer/import")
    assert answer.status_code == 302 and "/web/login" in answer.headers["Location"]
    assert client.get("/web/crm.customer/import/rejects?upload=x").status_code in (302, 401)
    assert client.post("/api/v1/data/crm.customer/import", data=GOOD).status_code == 401
    assert count(db) == 0


def test_reasons_in_the_callers_language(db):
    """The web screen in Chinese shows Chinese reasons; the API answers in
    the caller's language (their lang, else Accept-Language)."""
    with db.unit_of_work("admin") as env:
        env["core.user"].search([["login", "=", "admin"]]).write({"lang": "zh_CN"})
    client = sign_in(make_app(db), "admin", ADMIN_PASSWORD)
    html = _upload(client, BAD).get_data(as_text=True)
    assert "不是电话号码" in html and "is not a phone number" not in html
    rejects = client.get("/web/crm.customer/import/rejects?upload="
                         + re.search(r'name="upload" value="([^"]+)"', html).group(1))
    assert "不是电话号码" in rejects.get_data().decode("utf-8")
    answer = _upload(client, b"%PDF-1.4\x00\x01\x02", name="x.csv")
    assert answer.status_code == 400 and "not a CSV text file" not in answer.get_data(as_text=True)
    with db.unit_of_work("admin") as env:
        env["core.user"].search([["login", "=", "admin"]]).write({"lang": None})
    api = make_app(db).test_client()
    admin = _token(api, "admin", ADMIN_PASSWORD)
    answer = api.post("/api/v1/data/crm.customer/import?dry_run=1", data=BAD,
                      headers={**admin, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert answer.get_json()["errors"][0]["reason"] == "不是电话号码"
    answer = api.post("/api/v1/data/crm.customer/import", data=BAD,
                      headers={**admin, "Accept-Language": "zh-CN"})
    error = answer.get_json()["error"]
    assert answer.status_code == 422 and error["details"]["errors"][1]["reason"] == "不是电话号码"
    assert error["message"].startswith("文件中有 2 个问题") and "第 2 行" in error["message"]
    answer = api.post("/api/v1/data/crm.customer/import?dry_run=1", data=BAD, headers=admin)
    assert answer.get_json()["errors"][0]["reason"] == "is not a phone number"
    assert count(db) == 0
