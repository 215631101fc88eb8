"""Merging records (core/services/merge.py, core/api/merge.py,
core/web/merge.py): every reference to the merged records — contacts,
follow-ups, opportunities, a user-defined ``x_`` many2one, attachments,
shares — ends on the kept one, the others are gone, an audit entry
``merge`` names them; only administrators merge."""
import pytest

from core import attachments, custom_fields
from core.errors import AccessDenied, UserInputError
from core.security import sharing
from core.services.merge import merge
from tests.conftest import ADMIN_PASSWORD, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import csrf_token, sign_in

SCHEMA = "t_merge"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    custom_fields.add(db, "crm.interaction", "x_referred_by", "many2one", relation="crm.customer",
                      label="介绍人")
    app = make_app(db)
    client = app.test_client()
    tokens = {}
    for login, password in (("x", PASSWORD), ("admin", ADMIN_PASSWORD)):
        answer = client.post("/api/v1/auth/token", json={"login": login, "password": password})
        tokens[login] = answer.get_json()["token"]
    yield {"db": db, "users": users, "app": app, "client": client, "tokens": tokens}
    drop_module_database(db, SCHEMA)


def api(world, login, method, path, **kw):
    headers = {"Authorization": f"Bearer {world['tokens'][login]}"}
    return world["client"].open("/api/v1" + path, method=method, headers=headers, **kw)


def make_pair(world, tag):
    """A kept customer and a second one with contacts, follow-ups, an
    opportunity, a follow-up naming it in ``x_referred_by``, a file and a
    share; ``(keep, other, ids of what refers to other)``."""
    users = world["users"]
    with world["db"].unit_of_work(users["R1"]) as env:
        keep = env["crm.customer"].create({"name": f"{tag}保留客户"}).id
        other = env["crm.customer"].create({"name": f"{tag}重复客户", "email": f"{tag}@dup.example.cn",
                                            "city": "杭州"}).id
        contacts = env["crm.contact"].create([{"customer_id": other, "name": f"{tag}联系人{i}"}
                                              for i in range(3)]).ids
        follow = env["crm.interaction"].create([{"customer_id": other, "summary": f"{tag}跟进{i}"}
                                                for i in range(2)]).ids
        opp = env["crm.opportunity"].create({"customer_id": other, "name": f"{tag}商机",
                                             "amount": "1000.00"})
        opp.action("qualify")
        referral = env["crm.interaction"].create({"customer_id": keep, "summary": f"{tag}转介绍",
                                                  "x_referred_by": other}).id
        attachments.add(env, "crm.customer", other, "营业执照.pdf", b"%PDF-1.4 test")
        sharing.share(env["crm.customer"].browse(other), user_id=users["R2"])
    return keep, other, {"contacts": contacts, "follow": follow, "opp": opp.id, "referral": referral}


def check_moved(world, keep, other, refs):
    with world["db"].unit_of_work("admin") as env:
        assert not env["crm.customer"].browse(other).exists()
        contacts = env["crm.contact"].browse(refs["contacts"]).read(["customer_id"])
        assert {c["customer_id"]["id"] for c in contacts} == {keep}
        follow = env["crm.interaction"].browse(refs["follow"]).read(["customer_id"])
        assert {f["customer_id"]["id"] for f in follow} == {keep}
        opp = env["crm.opportunity"].browse(refs["opp"]).read(["customer_id", "stage"])[0]
        assert opp["customer_id"]["id"] == keep and opp["stage"] == "qualified"
        referral = env["crm.interaction"].browse(refs["referral"]).read(["x_referred_by"])[0]
        assert referral["x_referred_by"]["id"] == keep
        files = env["core.attachment"].search_read([["res_model", "=", "crm.customer"]],
                                                   ["res_id", "name"])
        assert {f["res_id"] for f in files if f["name"] == "营业执照.pdf"} >= {keep}
        assert not [f for f in files if f["res_id"] == other]
        shares = env.sudo()["core.share"].search_read([["model", "=", "crm.customer"]], ["record_id"])
        assert keep in {s["record_id"] for s in shares}
        assert other not in {s["record_id"] for s in shares}
        entry = env.sudo()["core.audit"].search_read(
            [["model", "=", "crm.customer"], ["record_id", "=", keep], ["action", "=", "merge"]],
            ["changes", "user_id"])
        assert len(entry) == 1
        assert entry[0]["changes"]["merged_ids"] == [other]
        assert entry[0]["changes"]["moved"]["crm.contact.customer_id"] == 3
        assert entry[0]["changes"]["moved"]["crm.interaction.x_referred_by"] == 1
        return entry[0]


def test_admin_merges_through_the_api(world):
    keep, other, refs = make_pair(world, "甲")
    answer = api(world, "admin", "POST", f"/data/crm.customer/{keep}/merge",
                 json={"ids": [other], "fill": True})
    assert answer.status_code == 200, answer.get_json()
    record = answer.get_json()
    assert record["id"] == keep and record["name"] == "甲保留客户"
    assert record["email"] == "甲@dup.example.cn" and record["city"] == "杭州"  # filled
    entry = check_moved(world, keep, other, refs)
    assert sorted(entry["changes"]["filled"]) == ["city", "email"]
    assert api(world, "admin", "GET", f"/data/crm.customer/{other}").status_code == 404
    # the shared user now sees the kept customer
    r2 = sign_in(world["app"], "r2", PASSWORD)
    assert r2.get(f"/web/crm.customer/{keep}").status_code == 200


def test_without_fill_the_kept_record_keeps_its_empty_fields(world):
    keep, other, refs = make_pair(world, "乙")
    answer = api(world, "admin", "POST", f"/data/crm.customer/{keep}/merge", json={"ids": [other]})
    assert answer.status_code == 200
    assert answer.get_json()["email"] is None
    check_moved(world, keep, other, refs)


def test_admin_merges_through_the_web_page(world):
    keep, other, refs = make_pair(world, "丙")
    admin = sign_in(world["app"], "admin", ADMIN_PASSWORD)
    page = admin.get(f"/web/crm.customer/{keep}/merge?ids={other}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "丙重复客户" in html and f'name="ids" value="{other}"' in html
    answer = admin.post(f"/web/crm.customer/{keep}/merge",
                        data={"ids": str(other), "fill": "1", "csrf_token": csrf_token(html)})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/web/crm.customer/{keep}")
    check_moved(world, keep, other, refs)


def test_only_administrators_merge(world):
    keep, other, _refs = make_pair(world, "丁")
    # a sales director sees every customer, and still may not merge
    answer = api(world, "x", "POST", f"/data/crm.customer/{keep}/merge", json={"ids": [other]})
    assert answer.status_code == 403
    director = sign_in(world["app"], "x", PASSWORD)
    assert director.get(f"/web/crm.customer/{keep}/merge?ids={other}").status_code == 403
    with world["db"].unit_of_work(world["users"]["X"]) as env:
        with pytest.raises(AccessDenied):
            merge(env, "crm.customer", keep, [other])
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].browse([keep, other]).exists().ids == (keep, other)


@pytest.mark.parametrize("body, status", [
    ({}, 400), ({"ids": []}, 400), ({"ids": "3"}, 400), ({"ids": [True]}, 400),
    ({"ids": ["KEEP"]}, 400), ({"ids": [2147483000]}, 404), ({"ids": ["OTHER"], "more": 1}, 400),
    ({"ids": ["OTHER"], "fill": "yes"}, 400),
])
def test_bad_requests(world, body, status):
    keep, other, _refs = make_pair(world, f"戊{status}{len(str(body))}")
    body = {k: [keep if i == "KEEP" else other if i == "OTHER" else i for i in v]
            if isinstance(v, list) else v for k, v in body.items()}
    answer = api(world, "admin", "POST", f"/data/crm.customer/{keep}/merge", json=body)
    assert answer.status_code == status, answer.get_json()
    assert api(world, "admin", "GET", f"/data/crm.customer/{other}").status_code == 200


def test_a_missing_kept_record_is_404(world):
    _keep, other, _refs = make_pair(world, "己")
    assert api(world, "admin", "POST", "/data/crm.customer/2147483000/merge",
               json={"ids": [other]}).status_code == 404


def test_merge_is_one_transaction(world):
    keep, other, refs = make_pair(world, "庚")
    with pytest.raises(UserInputError):
        with world["db"].unit_of_work("admin") as env:
            merge(env, "crm.customer", keep, [other], fill=True)
            raise UserInputError("changed my mind")
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].browse(other).exists()
        assert env["crm.contact"].browse(refs["contacts"][0]).read(["customer_id"])[0][
            "customer_id"]["id"] == other


def test_many2many_links_move_on_both_sides(world):
    """Kernel models: two roles merged (the users' links *to* the other
    role move, without doubling one the user already has), then two users
    merged (the other user's own links move)."""
    with world["db"].unit_of_work("admin") as env:
        roles, users = env["core.role"], env["core.user"]
        keep = roles.create({"code": "m_keep", "name": "保留角色"}).id
        other = roles.create({"code": "m_other", "name": "重复角色"}).id
        u1 = users.create({"login": "m2m1", "name": "甲", "roles": [other]}).id
        u2 = users.create({"login": "m2m2", "name": "乙", "roles": [keep, other]}).id
        u3 = users.create({"login": "m2m3", "name": "丙", "roles": []}).id
    with world["db"].unit_of_work("admin") as env:
        merge(env, "core.role", keep, [other])
    with world["db"].unit_of_work("admin") as env:
        rows = {r["id"]: r["roles"] for r in env["core.user"].browse([u1, u2]).read(["roles"])}
        assert rows == {u1: [keep], u2: [keep]}
        assert not env["core.role"].browse(other).exists()
        merge(env, "core.user", u3, [u1])
    with world["db"].unit_of_work("admin") as env:
        assert env["core.user"].browse(u3).read(["roles"])[0]["roles"] == [keep]
        assert not env["core.user"].browse(u1).exists()


def test_an_admin_sees_likely_duplicates_below_the_customer_form(world):
    with world["db"].unit_of_work("admin") as env:
        keep = env["crm.customer"].create({"name": "面板保留公司", "mobile": "13911112222"}).id
        other = env.sudo().with_context(duplicates_allowed=True)["crm.customer"].create(
            {"name": "面板重复公司", "phone": "+86 139 1111 2222"}).id
    admin = sign_in(world["app"], "admin", ADMIN_PASSWORD)
    html = admin.get(f"/web/crm.customer/{keep}").get_data(as_text=True)
    assert 'id="card-crm-duplicates"' in html and "面板重复公司" in html
    assert f'href="/web/crm.customer/{keep}/merge?ids={other}"' in html
    # a rep sees no such panel (nor the colleague's record)
    director = sign_in(world["app"], "x", PASSWORD)
    assert 'id="card-crm-duplicates"' not in director.get(f"/web/crm.customer/{keep}").get_data(as_text=True)
