"""The recycle bin (issue 6 point 7): a delete through the model API keeps
the record and what cascades with it (contacts, follow-ups, attachments,
tag links) for ``trash_days``; admins and the owner or deleter restore it
whole with the same ids and versions; a daily job purges expired entries."""
import datetime as dt
import os

import pytest
import sqlalchemy as sa

from core import attachments
from core.app import create_app
from core.config import load_config
from core.errors import AccessDenied, Conflict, NotFound
from core.services import trash

from .conftest import (
    ADMIN_PASSWORD,
    StatementCounter,
    drop_module_database,
    module_database,
)
from .test_api_security import PASSWORD, Server, create_personas
from .web_helpers import csrf_token, sign_in

PDF = b"%PDF-1.4\n%%EOF\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("files")
    old = os.environ.get("KEEL_FILES_DIR")
    os.environ["KEEL_FILES_DIR"] = str(root)
    db = module_database(tmp_path_factory, "t_trash")
    users = create_personas(db)
    url = db.engine.url.render_as_string(hide_password=False)
    app = create_app(load_config(environ={}, database_url=url, secret_key="test-secret-key",
                                 files_dir=str(root)), db=db)
    yield {"db": db, "users": users, "app": app}
    drop_module_database(db, "t_trash")
    if old is None:
        os.environ.pop("KEEL_FILES_DIR", None)
    else:
        os.environ["KEEL_FILES_DIR"] = old


def customer_with_family(db, user, name):
    """A customer of ``user`` with two contacts, a follow-up and a file."""
    with db.unit_of_work(user) as env:
        cid = env["crm.customer"].create({"name": name, "city": "杭州"}).id
        contacts = env["crm.contact"].create([{"customer_id": cid, "name": f"{name}联系人{i}",
                                               "mobile": f"1390000{cid:04d}{i}"} for i in range(2)])
        env["crm.interaction"].create({"customer_id": cid, "contact_id": contacts.ids[0],
                                       "summary": "初次拜访", "channel": "visit"})
        # version 3: the follow-up moved its last contact (2), then a phone of its own (two
        # customers sharing one are duplicates)
        env["crm.customer"].browse([cid]).write({"phone": f"021-5555{cid:04d}"})
        aid = attachments.add(env, "crm.customer", cid, "名片.pdf", PDF + name.encode())
    return cid, aid


TABLES = ("crm_customer", "crm_contact", "crm_interaction", "core_attachment")


def family_rows(db, cid):
    """Every stored column of the customer's rows, table by table."""
    with db.unit_of_work("admin") as env:
        t = {name: env.registry.metadata.tables[name] for name in TABLES}
        q = {"crm_customer": t["crm_customer"].c.id == cid,
             "crm_contact": t["crm_contact"].c.customer_id == cid,
             "crm_interaction": t["crm_interaction"].c.customer_id == cid,
             "core_attachment": sa.and_(t["core_attachment"].c.res_model == "crm.customer",
                                        t["core_attachment"].c.res_id == cid)}
        return {name: [dict(r) for r in env.conn.execute(
            sa.select(t[name]).where(q[name]).order_by(t[name].c.id)).mappings()] for name in TABLES}


def entry_of(db, model, rid):
    with db.unit_of_work(None) as env:
        found = env["core.trash"].search_read([["model", "=", model], ["record_id", "=", rid]],
                                               ["expires_at", "deleted_at", "owner_id", "rows",
                                                "deleted_by_id"])
    return found[0] if found else None


def test_delete_moves_to_the_bin_and_restore_brings_back_the_same_rows(world):
    db, users = world["db"], world["users"]
    cid, aid = customer_with_family(db, users["R1"], "回收客户")
    before = family_rows(db, cid)
    assert before["crm_customer"][0]["version"] == 3 and len(before["crm_contact"]) == 2
    with db.unit_of_work(users["M1"]) as env:   # the manager deletes, the owner restores
        env["crm.customer"].browse([cid]).unlink()
    gone = family_rows(db, cid)
    assert all(rows == [] for rows in gone.values())
    entry = entry_of(db, "crm.customer", cid)
    assert entry["rows"] == 5 and entry["owner_id"]["id"] == users["R1"]
    assert entry["deleted_by_id"]["id"] == users["M1"]
    assert entry["expires_at"] - entry["deleted_at"] == dt.timedelta(days=30)
    with db.unit_of_work(users["R1"]) as env:
        (listed,), total = trash.entries(env)[0][:1], trash.entries(env)[1]
        assert listed["name"] == "回收客户" and total == 1
        trash.restore(env, listed["id"])
    assert family_rows(db, cid) == before
    assert entry_of(db, "crm.customer", cid) is None
    with db.unit_of_work(users["R1"]) as env:
        assert attachments.get(env, aid)["data"] == PDF + "回收客户".encode()
        actions = [r["action"] for r in env.sudo()["core.audit"].search_read(
            [["model", "=", "crm.customer"], ["record_id", "=", cid]], ["action"], order="id")]
    assert "unlink" in actions and actions[-1] == "restore"


def test_reps_see_and_restore_their_own_only(world):
    db, users = world["db"], world["users"]
    cid, _ = customer_with_family(db, users["R2"], "R2私有客户")
    with db.unit_of_work(users["M1"]) as env:
        env["crm.customer"].browse([cid]).unlink()
    tid = None
    with db.unit_of_work("admin") as env:
        rows, _total = trash.entries(env, "crm.customer")
        tid = next(r["id"] for r in rows if r["record_id"] == cid)
    with db.unit_of_work(users["R3"]) as env:
        assert all(r["id"] != tid for r in trash.entries(env)[0])
        with pytest.raises(NotFound):
            trash.restore(env, tid)
        with pytest.raises(NotFound):
            trash.delete_forever(env, tid)
    with db.unit_of_work(users["R3"]) as env:  # the model API refuses a rep too
        with pytest.raises(AccessDenied):
            env["core.trash"].search_read([["id", "=", tid]], ["payload"])
    with db.unit_of_work("admin") as env:
        trash.restore(env, tid)
        assert env["crm.customer"].browse([cid]).read(["name"])[0]["name"] == "R2私有客户"


def test_restore_refuses_clearly_when_something_conflicts(world):
    db, users = world["db"], world["users"]
    with db.unit_of_work(users["R1"]) as env:
        made = env["crm.customer"].create({"name": "编号冲突客户", "code": "TRASH-001"})
        # not the highest id: SQLite hands the highest id of a table out again
        env["crm.customer"].create({"name": "后来的客户"})
    with db.unit_of_work(users["M1"]) as env:
        env["crm.customer"].browse(made.ids).unlink()
    with db.unit_of_work(users["R1"]) as env:
        env["crm.customer"].create({"name": "新的客户", "code": "TRASH-001"})
        tid = trash.entries(env, "crm.customer")[0][0]["id"]
    with db.unit_of_work(users["R1"]) as env:
        with pytest.raises(Conflict, match="TRASH-001"):
            trash.restore(env, tid)
    # a parent gone: a contact in the bin whose customer is deleted for good
    cid, _ = customer_with_family(db, users["R1"], "父记录客户")
    with db.unit_of_work(users["M1"]) as env:
        contact = env["crm.contact"].search([["customer_id", "=", cid]], limit=1)
        contact_id = contact.id
        env["crm.interaction"].search([["customer_id", "=", cid]]).unlink()
        contact.unlink()
        env.with_context(purge=True)["crm.customer"].browse([cid]).unlink()
    assert entry_of(db, "crm.customer", cid) is None      # purge: not in the bin
    with db.unit_of_work(users["M1"]) as env:   # the deleter sees what they deleted
        tid = next(r["id"] for r in trash.entries(env, "crm.contact")[0] if r["record_id"] == contact_id)
    with db.unit_of_work(users["M1"]) as env:
        with pytest.raises(Conflict, match="no longer exists"):
            trash.restore(env, tid)
    assert entry_of(db, "crm.contact", contact_id) is not None   # nothing written


def test_kernel_records_are_not_kept(world):
    db = world["db"]
    with db.unit_of_work("admin") as env:
        did = env["core.department"].create({"code": "TMP", "name": "临时部门"}).id
        env["core.department"].browse([did]).unlink()
        assert env["core.trash"].search_count([["model", "=", "core.department"]]) == 0


def test_purge_after_expiry(world):
    db, users = world["db"], world["users"]
    cid, _ = customer_with_family(db, users["R3"], "过期客户")
    with db.unit_of_work("admin") as env:
        env["crm.customer"].browse([cid]).unlink()
    with db.unit_of_work(None) as env:
        assert trash.purge_expired(env) == 0 or entry_of(db, "crm.customer", cid) is not None
        env.now = env.now + dt.timedelta(days=31)
        assert trash.purge_expired(env) >= 1
    assert entry_of(db, "crm.customer", cid) is None


def test_bulk_delete_is_a_bounded_number_of_statements(world):
    db, users = world["db"], world["users"]
    with db.unit_of_work(users["R1"]) as env:
        made = env["crm.customer"].create([{"name": f"批量客户{i}"} for i in range(500)])
        ids = list(made.ids)
    with db.unit_of_work(None) as env:
        env["crm.contact"].create([{"customer_id": c, "name": f"联系人{c}"} for c in ids])
    with db.unit_of_work(users["M1"]) as env:
        with StatementCounter(db.engine) as counter:
            env["crm.customer"].browse(ids).unlink()
    assert counter.count < 40, counter.statements
    with db.unit_of_work(None) as env:
        assert env["core.trash"].search_count([["model", "=", "crm.customer"],
                                               ["record_id", "in", ids]]) == 500


def test_web_and_api(world):
    db, users, app = world["db"], world["users"], world["app"]
    cid, _ = customer_with_family(db, users["R1"], "网页回收客户")
    cid2, _ = customer_with_family(db, users["R1"], "接口回收客户")
    cid3, _ = customer_with_family(db, users["R1"], "永久删除客户")
    with db.unit_of_work(users["M1"]) as env:
        env["crm.customer"].browse([cid, cid2, cid3]).unlink()
    r1, r3 = sign_in(app, "r1", PASSWORD), sign_in(app, "r3", PASSWORD)
    page = r1.get("/web/trash")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "网页回收客户" in text
    assert "网页回收客户" not in r3.get("/web/trash").get_data(as_text=True)
    tid = entry_id(db, cid)
    token = csrf_token(text)
    assert r3.post(f"/web/trash/{tid}/restore", data={"csrf_token": token}).status_code in (400, 404)
    back = r1.post(f"/web/trash/{tid}/restore", data={"csrf_token": token})
    assert back.status_code == 302 and back.headers["Location"].endswith(f"/web/crm.customer/{cid}")
    assert r1.get(f"/web/crm.customer/{cid}").status_code == 200
    admin = sign_in(app, "admin", ADMIN_PASSWORD)
    assert "/web/trash" in admin.get("/web").get_data(as_text=True)
    server = Server(app)
    try:
        t1, t3 = server.token("r1", PASSWORD), server.token("r3", PASSWORD)
        listed = server.call("GET", "/api/v1/trash", t1)
        assert listed.status == 200
        names = {i["name"]: i for i in listed.json["items"]}
        assert "接口回收客户" in names and names["接口回收客户"]["model"] == "crm.customer"
        tid2, tid3 = entry_id(db, cid2), entry_id(db, cid3)
        assert server.call("POST", f"/api/v1/trash/{tid2}/restore", t3).status == 404
        done = server.call("POST", f"/api/v1/trash/{tid2}/restore", t1)
        assert done.status == 200 and done.json == {"model": "crm.customer", "record_id": cid2}
        assert server.call("GET", f"/api/v1/data/crm.customer/{cid2}", t1).status == 200
        assert server.call("DELETE", f"/api/v1/trash/{tid3}", t3).status == 404
        assert server.call("DELETE", f"/api/v1/trash/{tid3}", t1).status == 204
        assert server.call("POST", f"/api/v1/trash/{tid3}/restore", t1).status == 404
    finally:
        server.close()


def entry_id(db, cid):
    with db.unit_of_work(None) as env:
        return env["core.trash"].search([["model", "=", "crm.customer"], ["record_id", "=", cid]],
                                        order="id desc", limit=1).id


def test_references_set_to_null_come_back(world):
    db, users = world["db"], world["users"]
    cid, _ = customer_with_family(db, users["R2"], "引用客户")
    with db.unit_of_work(users["M1"]) as env:
        (follow_up,) = env["crm.interaction"].search_read([["customer_id", "=", cid]], ["contact_id"])
        contact_id = follow_up["contact_id"]["id"]
        env["crm.contact"].browse([contact_id]).unlink()
        assert env["crm.interaction"].browse([follow_up["id"]]).read(["contact_id"])[0]["contact_id"] is None
        tid = next(r["id"] for r in trash.entries(env, "crm.contact")[0] if r["record_id"] == contact_id)
        trash.restore(env, tid)
        again = env["crm.interaction"].browse([follow_up["id"]]).read(["contact_id"])[0]["contact_id"]
    assert again["id"] == contact_id


def test_web_conflict_shows_the_reason_and_delete_forever(world):
    db, users, app = world["db"], world["users"], world["app"]
    with db.unit_of_work(users["R1"]) as env:
        made = env["crm.customer"].create({"name": "网页冲突客户", "code": "WEB-TRASH-1"})
        env["crm.customer"].create({"name": "垫底客户"})
    with db.unit_of_work(users["M1"]) as env:
        env["crm.customer"].browse(made.ids).unlink()
        env["crm.customer"].create({"name": "占用编号客户", "code": "WEB-TRASH-1"})
    tid = entry_id(db, made.id)
    r1 = sign_in(app, "r1", PASSWORD)
    token = csrf_token(r1.get("/web/trash").get_data(as_text=True))
    refused = r1.post(f"/web/trash/{tid}/restore", data={"csrf_token": token})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "WEB-TRASH-1" in text and "网页冲突客户" in text
    gone = r1.post(f"/web/trash/{tid}/delete", data={"csrf_token": token})
    assert gone.status_code == 302 and gone.headers["Location"].endswith("/web/trash")
    with db.unit_of_work("admin") as env:
        assert env["core.trash"].search_count([["id", "=", tid]]) == 0
        purged = env["core.audit"].search_read([["action", "=", "purge"], ["record_id", "=", made.id]],
                                               ["changes"])
        assert [p["changes"]["trash"] for p in purged].count(tid) == 1


def test_files_of_deleted_records_stay_while_they_can_be_restored(world):
    import hashlib

    from core.services import files
    db, users = world["db"], world["users"]
    cid, _ = customer_with_family(db, users["R1"], "文件客户")
    with db.unit_of_work(users["M1"]) as env:
        env["crm.customer"].browse([cid]).unlink()
    config = load_config(environ={}, files_dir=os.environ["KEEL_FILES_DIR"])
    path = files.path_of(config, hashlib.sha256(PDF + "文件客户".encode()).hexdigest())
    old = (dt.datetime.now() - dt.timedelta(days=10)).timestamp()
    os.utime(path, (old, old))
    later = dt.datetime.now() + dt.timedelta(days=2)
    with db.unit_of_work(None, context={"config": config}) as env:
        files.collect_garbage(env, now=later)
    assert path.exists()                         # the bin entry names it
    with db.unit_of_work(users["M1"]) as env:
        trash.delete_forever(env, entry_id(db, cid))
    with db.unit_of_work(None, context={"config": config}) as env:
        assert files.collect_garbage(env, now=later) >= 1
    assert not path.exists()
