"""Files attached to records (issue 5 point 3, the form's attachments):
rights follow the record, the content commits with its row, every step is
in the record's history, downloads never render inline (the file store
itself: tests/test_files.py)."""
import os
import urllib.parse

import pytest

from core import attachments
from core.app import create_app
from core.config import load_config
from core.errors import AccessDenied, NotFound, UserInputError

from .conftest import drop_module_database, module_database
from .test_api_security import PASSWORD, create_personas, one_customer_per_rep
from .web_helpers import csrf_token, sign_in


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    old = os.environ.get("KEEL_FILES_DIR")
    os.environ["KEEL_FILES_DIR"] = str(tmp_path_factory.mktemp("files"))
    db = module_database(tmp_path_factory, "t_attachments")
    users = create_personas(db)
    customers = one_customer_per_rep(db, users)
    yield db, users, customers
    drop_module_database(db, "t_attachments")
    if old is None:
        os.environ.pop("KEEL_FILES_DIR", None)
    else:
        os.environ["KEEL_FILES_DIR"] = old


def make_app(db):
    url = db.engine.url.render_as_string(hide_password=False)
    return create_app(load_config(environ={}, database_url=url, secret_key="test-secret-key",
                                  files_dir=os.environ["KEEL_FILES_DIR"]), db=db)


def test_owner_attaches_lists_and_reads(world):
    db, users, customers = world
    with db.unit_of_work(users["R1"]) as env:
        aid = attachments.add(env, "crm.customer", customers["R1"], "报价单.pdf", b"%PDF-1.4 x")
        files = attachments.list_for(env, "crm.customer", customers["R1"])
        got = attachments.get(env, aid)
    assert [f["name"] for f in files] == ["报价单.pdf"]
    assert files[0]["size"] == 10 and "data" not in files[0]
    assert got["data"] == b"%PDF-1.4 x" and got["mimetype"] == "application/pdf"
    with db.unit_of_work("admin") as env:
        history = env["core.audit"].search_read(
            [["model", "=", "crm.customer"], ["record_id", "=", customers["R1"]],
             ["action", "=", "attach"]], ["changes"])
    assert history and history[0]["changes"]["name"] == "报价单.pdf"


def test_outside_the_rules_is_missing(world):
    db, users, customers = world
    with db.unit_of_work(users["R1"]) as env:
        aid = attachments.add(env, "crm.customer", customers["R1"], "a.txt", b"a")
    with db.unit_of_work(users["R2"]) as env:
        with pytest.raises(NotFound):
            attachments.add(env, "crm.customer", customers["R1"], "b.txt", b"b")
        with pytest.raises(NotFound):
            attachments.list_for(env, "crm.customer", customers["R1"])
        with pytest.raises(NotFound):
            attachments.get(env, aid)
        with pytest.raises(NotFound):
            attachments.remove(env, aid)
    with db.unit_of_work(users["B"]) as env:  # a buyer may not read customers at all
        with pytest.raises((NotFound, AccessDenied)):
            attachments.get(env, aid)
    with db.unit_of_work(users["M1"]) as env:  # the manager reads the department's files
        assert attachments.get(env, aid)["data"] == b"a"


def test_rows_change_only_through_the_service(world):
    db, users, customers = world
    with db.unit_of_work("admin") as env:
        with pytest.raises(AccessDenied):
            env["core.attachment"].create({"res_model": "crm.customer", "res_id": customers["R1"],
                                           "name": "x", "data": b"x"})


def test_names_and_sizes_are_checked(world):
    db, users, customers = world
    with db.unit_of_work(users["R1"]) as env:
        aid = attachments.add(env, "crm.customer", customers["R1"], "../../etc/\x00passwd", b"p")
        assert attachments.get(env, aid)["name"] == "passwd"
        with pytest.raises(UserInputError, match="larger than"):
            attachments.add(env, "crm.customer", customers["R1"], "big.bin",
                            b"0" * (attachments.MAX_SIZE + 1))
        with pytest.raises(UserInputError, match="no name"):
            attachments.add(env, "crm.customer", customers["R1"], "/", b"p")
    assert len(attachments.clean_name("合同" * 300 + ".docx")) <= attachments.MAX_NAME
    assert attachments.clean_name("合同" * 300 + ".docx").endswith(".docx")


def test_web_upload_download_delete(world):
    db, users, customers = world
    app = make_app(db)
    rid = customers["R3"]
    r3 = sign_in(app, "r3", PASSWORD)
    token = csrf_token(r3.get("/web").get_data(as_text=True))
    answer = r3.post(f"/web/crm.customer/{rid}/attachments",
                     data={"csrf_token": token, "file": (__import__("io").BytesIO(b"<svg/>"), "图.svg")},
                     content_type="multipart/form-data")
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/web/crm.customer/{rid}#attachments")
    with db.unit_of_work(users["R3"]) as env:
        (found,) = attachments.list_for(env, "crm.customer", rid)
    got = r3.get(f"/web/attachments/{found['id']}")
    assert got.status_code == 200 and got.data == b"<svg/>"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert urllib.parse.quote("图.svg") in got.headers["Content-Disposition"]
    assert "sandbox" in got.headers["Content-Security-Policy"]
    r1 = sign_in(app, "r1", PASSWORD)
    assert r1.get(f"/web/attachments/{found['id']}").status_code == 404
    token1 = csrf_token(r1.get("/web").get_data(as_text=True))
    assert r1.post(f"/web/attachments/{found['id']}/delete", data={"csrf_token": token1}).status_code == 404
    assert r3.post(f"/web/attachments/{found['id']}/delete", data={"csrf_token": token}).status_code == 302
    with db.unit_of_work(users["R3"]) as env:
        assert attachments.list_for(env, "crm.customer", rid) == []


def test_api_attach_list_download_delete(world):
    import base64
    db, users, customers = world
    from .test_api_security import Server
    server = Server(make_app(db))
    try:
        r2 = server.token("r2", PASSWORD)
        r1 = server.token("r1", PASSWORD)
        path = f"/api/v1/data/crm.customer/{customers['R2']}/attachments"
        png = b"%PDF-1.4\n%%EOF\n"  # (the test server's answers are read as text)
        made = server.call("POST", path, r2, body={"name": "名片.pdf",
                                                   "data": base64.b64encode(png).decode()})
        assert made.status == 201, made
        (item,) = made.json["items"]
        assert item["name"] == "名片.pdf" and item["size"] == len(png) and item["mimetype"] == "application/pdf"
        assert server.call("GET", path, r2).json["total"] == 1
        assert server.call("GET", path, r1).status == 404  # another rep's customer
        got = server.call("GET", f"/api/v1/attachments/{item['id']}", r2)
        assert got.status == 200 and got.raw == png
        assert server.call("GET", f"/api/v1/attachments/{item['id']}", r1).status == 404
        bad = server.call("POST", path, r2, body={"name": "x", "data": "%%%"})
        assert bad.status == 400 and "data" in bad.json["error"]["message"]
        assert server.call("DELETE", f"/api/v1/attachments/{item['id']}", r1).status == 404
        assert server.call("DELETE", f"/api/v1/attachments/{item['id']}", r2).status == 204
        assert server.call("GET", path, r2).json["total"] == 0
    finally:
        server.close()
