"""Attachment files on disk by content hash (issue 6 point 8): one file per
content, written before its row, size limit from the configuration, type
decided by the content, orphans of rolled-back uploads collected after a
day, downloads only for those who may read the record."""
import base64
import datetime as dt
import io
import os
import zipfile

import pytest
import sqlalchemy as sa

from core import attachments
from core.app import create_app
from core.config import load_config
from core.errors import NotFound, UserInputError
from core.services import files

from .conftest import drop_module_database, module_database
from .test_api_security import PASSWORD, Server, create_personas, one_customer_per_rep
from .web_helpers import sign_in

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n%%EOF\n"
EXE = b"MZ\x90\x00" + b"\x00" * 56 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" + b"\x00" * 200


def docx():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document>合同</w:document>")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    old = os.environ.get("KEEL_FILES_DIR")
    os.environ["KEEL_FILES_DIR"] = str(root)
    db = module_database(tmp_path_factory, "t_files")
    users = create_personas(db)
    customers = one_customer_per_rep(db, users)
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(load_config(environ={}, database_url=url, secret_key="test-secret-key",
                                 files_dir=str(root)), db=db)
    yield {"db": db, "users": users, "customers": customers, "root": root, "app": app}
    drop_module_database(db, "t_files")
    if old is None:
        os.environ.pop("KEEL_FILES_DIR", None)
    else:
        os.environ["KEEL_FILES_DIR"] = old


def stored(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_root_follows_the_configuration(tmp_path):
    assert files.root(load_config(environ={}, files_dir=str(tmp_path))) == tmp_path.resolve()
    config = load_config(environ={}, data_dir=str(tmp_path / "data"))
    assert files.root(config) == (tmp_path / "data" / "files").resolve()


def test_same_content_is_stored_once_by_hash(world):
    db, users, customers, root = world["db"], world["users"], world["customers"], world["root"]
    before = set(stored(root))
    content = PDF + "报价 unique-1".encode()
    with db.unit_of_work(users["R1"]) as env:
        a = attachments.add(env, "crm.customer", customers["R1"], "报价单.pdf", content)
        b = attachments.add(env, "crm.customer", customers["R1"], "副本.pdf", content, "text/html")
        rows = env.sudo()["core.attachment"].browse([a, b]).read(["checksum", "data", "mimetype", "size"])
    new = set(stored(root)) - before
    assert len(new) == 1
    (path,) = new
    checksum = rows[0]["checksum"]
    assert path == root.resolve() / checksum[:2] / checksum[2:4] / checksum
    assert path.read_bytes() == content
    assert {r["checksum"] for r in rows} == {checksum}
    assert all(r["data"] is None and r["size"] == len(content) for r in rows)
    # the type comes from the content, not from what the browser claimed
    assert {r["mimetype"] for r in rows} == {"application/pdf"}
    with db.unit_of_work(users["R1"]) as env:
        assert attachments.get(env, b)["data"] == content


def test_size_limit_from_the_configuration(world):
    db, users, customers = world["db"], world["users"], world["customers"]
    config = load_config(environ={}, files_dir=str(world["root"]), max_upload_mb=1)
    with db.unit_of_work(users["R1"], context={"config": config}) as env:
        with pytest.raises(UserInputError, match=r"大文件\.pdf.*1 MB"):
            attachments.add(env, "crm.customer", customers["R1"], "大文件.pdf",
                            PDF + b"0" * (1024 * 1024))
        assert attachments.add(env, "crm.customer", customers["R1"], "小.pdf", PDF + b"0" * 1000)


@pytest.mark.parametrize("name, content, mimetype", [
    ("logo.png", PNG, "image/png"),
    ("合同.pdf", PDF, "application/pdf"),
    ("合同.docx", None, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("客户.csv", "名称,电话\n上海某某有限公司,021-1234\n".encode("gbk"), "text/csv"),
    ("备注.txt", "你好".encode(), "text/plain"),
    ("图.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
])
def test_accepted_types_by_content(world, name, content, mimetype):
    db, users, customers = world["db"], world["users"], world["customers"]
    with db.unit_of_work(users["R2"]) as env:
        aid = attachments.add(env, "crm.customer", customers["R2"], name, content or docx())
        assert attachments.get(env, aid)["mimetype"] == mimetype


@pytest.mark.parametrize("name, content, reason", [
    ("报告.pdf", EXE, "executables"),            # an executable renamed
    ("setup.exe", EXE, "executables"),
    ("a.png", b"\x7fELF\x02\x01\x01" + b"\x00" * 60, "executables"),
    ("run.txt", b"#!/bin/sh\nrm -rf /\n", "executables"),
    ("install.bat", b"del *.*\r\n", "executables"),
    ("photo.jpg", None, r"not what the name's \.jpg says"),   # a zip named .jpg
    ("scan.pdf", PNG, r"image/png, not what the name's \.pdf says"),
    ("x.svg", b"<svg><script>alert(1)</script></svg>", "script"),
    ("page.html", b"<html><body onload='steal()'></body></html>", "script"),
    ("data.pdf", "这是文本".encode(), r"text, not what the name's \.pdf says"),
])
def test_refused_types_name_the_file(world, name, content, reason):
    db, users, customers = world["db"], world["users"], world["customers"]
    with db.unit_of_work(users["R2"]) as env:
        with pytest.raises(UserInputError, match=reason) as refused:
            attachments.add(env, "crm.customer", customers["R2"], name, content or docx())
    assert name in str(refused.value)


def test_rolled_back_upload_leaves_an_orphan_the_gc_removes(world):
    db, users, customers, root = world["db"], world["users"], world["customers"], world["root"]
    orphan_content = PDF + b"rolled back"
    kept_content = PDF + b"kept"

    class Stop(Exception):
        pass
    with pytest.raises(Stop):
        with db.unit_of_work(users["R3"]) as env:
            attachments.add(env, "crm.customer", customers["R3"], "x.pdf", orphan_content)
            raise Stop
    with db.unit_of_work(users["R3"]) as env:
        attachments.add(env, "crm.customer", customers["R3"], "y.pdf", kept_content)
    config = load_config(environ={}, files_dir=str(root))
    orphan = files.path_of(config, __import__("hashlib").sha256(orphan_content).hexdigest())
    kept = files.path_of(config, __import__("hashlib").sha256(kept_content).hexdigest())
    assert orphan.exists() and kept.exists()
    old = (dt.datetime.now() - dt.timedelta(days=3)).timestamp()
    os.utime(kept, (old, old))
    with db.unit_of_work(None, context={"config": config}) as env:
        assert files.collect_garbage(env) == 0          # the orphan is younger than a day
        assert orphan.exists()
        removed = files.collect_garbage(env, now=dt.datetime.now() + dt.timedelta(days=2))
    assert removed == 1 and not orphan.exists()
    assert kept.exists()                                 # old, but referenced


def test_rows_of_older_databases_keep_their_content(world):
    db, users, customers = world["db"], world["users"], world["customers"]
    with db.unit_of_work("admin") as env:
        table = env.registry["core.attachment"].table
        aid = env.conn.execute(table.insert().values(
            res_model="crm.customer", res_id=customers["R1"], name="旧.txt", mimetype="text/plain",
            size=3, checksum="0" * 64, data=b"old", version=1)).inserted_primary_key[0]
    with db.unit_of_work(users["R1"]) as env:
        assert attachments.get(env, aid)["data"] == b"old"


def test_a_file_of_another_users_record_is_404_web_and_api(world):
    db, users, customers, app = world["db"], world["users"], world["customers"], world["app"]
    with db.unit_of_work(users["R1"]) as env:
        aid = attachments.add(env, "crm.customer", customers["R1"], "机密.pdf", PDF + b"secret")
    r1, r3 = sign_in(app, "r1", PASSWORD), sign_in(app, "r3", PASSWORD)
    mine = r1.get(f"/web/attachments/{aid}")
    assert mine.status_code == 200 and mine.data == PDF + b"secret"
    assert mine.headers["X-Content-Type-Options"] == "nosniff"
    assert mine.headers["Content-Disposition"].startswith("attachment;")
    assert mine.headers["Content-Type"].startswith("application/pdf")
    assert r3.get(f"/web/attachments/{aid}").status_code == 404
    assert r3.get("/web/attachments/999999").status_code == 404
    server = Server(app)
    try:
        t1, t3 = server.token("r1", PASSWORD), server.token("r3", PASSWORD)
        assert server.call("GET", f"/api/v1/attachments/{aid}", t1).raw == PDF + b"secret"
        assert server.call("GET", f"/api/v1/attachments/{aid}", t3).status == 404
        refused = server.call("POST", f"/api/v1/data/crm.customer/{customers['R3']}/attachments", t3,
                              body={"name": "发票.pdf", "data": base64.b64encode(EXE).decode()})
        assert refused.status == 400 and "发票.pdf" in refused.json["error"]["message"]
    finally:
        server.close()
    with db.unit_of_work(users["R3"]) as env:
        with pytest.raises(NotFound):
            attachments.get(env, aid)


def test_the_gc_job_is_registered(world):
    with world["db"].unit_of_work("admin") as env:
        table = env.registry["core.attachment"].table
        assert env.conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() > 0
    from core.base import trash_models
    keys = {job["key"]: job for job in trash_models.jobs()}
    assert keys["core.files.gc"]["function"] == "core.services.files:gc_job"
    assert keys["core.trash.purge"]["function"] == "core.services.trash:purge_expired"
