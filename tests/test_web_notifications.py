"""Notifications in the web UI and the API: the unread badge of the header,
``/web/notifications`` (mark read, mark all read, open the record), the
opt-outs of ``/web/profile`` and ``/api/v1/notifications``. Everyone sees
only their own — administrators too, and a buyer whose roles grant nothing
on ``core.notification``."""
import re

import pytest

from core.services import notify
from tests.conftest import (
    ADMIN_PASSWORD,
    StatementCounter,
    drop_module_database,
    module_database,
)
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import csrf_token, get, sign_in

SCHEMA = "t_web_notifications"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    app = make_app(db)
    clients = {"R1": sign_in(app, "r1", PASSWORD), "B": sign_in(app, "b", PASSWORD),
               "admin": sign_in(app, "admin", ADMIN_PASSWORD)}
    tokens = {}
    for who, login, password in (("R1", "r1", PASSWORD), ("R2", "r2", PASSWORD),
                                 ("admin", "admin", ADMIN_PASSWORD)):
        answer = app.test_client().post("/api/v1/auth/token", json={"login": login, "password": password})
        tokens[who] = answer.get_json()["token"]
    yield {"db": db, "users": users, "clients": clients, "app": app, "tokens": tokens}
    drop_module_database(db, SCHEMA)


@pytest.fixture(autouse=True)
def clean(world):
    with world["db"].unit_of_work(None) as env:
        env["core.notification"].search([]).unlink()
        env["core.notification_pref"].search([]).unlink()
        env["core.outbox"].search([]).unlink()


def tell(world, who, subject, record=None, **kwargs):
    with world["db"].unit_of_work("admin") as env:
        if record == "customer":
            record = env["crm.customer"].create({"name": f"{subject} 的客户", "owner_id": world["users"]["R1"]})
        notify.send(env, [world["users"].get(w, w) for w in who], subject, record=record, **kwargs)
        return record.id if record is not None else None


def badge(html):
    found = re.search(r'id="notification-badge"[^>]*>(.*?)</a>', html, re.DOTALL)
    assert found, "no notification badge on the page"
    count = re.search(r'<span class="badge"[^>]*>(\d+)</span>', found.group(1))
    return int(count.group(1)) if count else 0


def post(world, who, url, data, page="/web/notifications"):
    client = world["clients"][who]
    token = csrf_token(client.get(page).get_data(as_text=True))
    return client.post(url, data={**data, "csrf_token": token})


def api(world, who, method, path, **kw):
    client = world["app"].test_client()
    answer = getattr(client, method)("/api/v1" + path,
                                     headers={"Authorization": f"Bearer {world['tokens'][who]}"}, **kw)
    return answer.status_code, answer.get_json()


def test_every_page_shows_the_users_own_unread_count(world):
    tell(world, ["R1"], "第一条")
    tell(world, ["R1"], "第二条")
    tell(world, ["B"], "采购通知")
    assert badge(get(world, "/web")) == 2
    assert badge(get(world, "/web/crm.customer")) == 2
    assert badge(get(world, "/web/profile")) == 2
    assert badge(get(world, "/web", who="B")) == 1
    assert badge(get(world, "/web", who="admin")) == 0  # the administrator's own: none
    login = world["app"].test_client().get("/web/login").get_data(as_text=True)
    assert "notification-badge" not in login


def test_the_page_lists_only_ones_own_and_marks_them_read(world):
    rid = tell(world, ["R1"], "客户已分配给你", record="customer")
    tell(world, ["R1"], "周报已生成")
    tell(world, ["R2"], "别人的通知")
    html = get(world, "/web/notifications")
    assert "客户已分配给你" in html and "周报已生成" in html and "别人的通知" not in html
    assert html.index("周报已生成") < html.index("客户已分配给你")  # newest first
    ids = [int(i) for i in re.findall(r'id="note-(\d+)" class="unread"', html)]
    assert len(ids) == 2
    answer = post(world, "R1", f"/web/notifications/{ids[1]}/read", {"open": "1"})
    assert answer.status_code == 302 and answer.headers["Location"].endswith(f"/web/crm.customer/{rid}")
    html = get(world, "/web/notifications")
    assert badge(html) == 1 and f'id="note-{ids[1]}" class="read"' in html
    assert "周报已生成" in get(world, "/web/notifications?unread=1")
    assert "客户已分配给你" not in get(world, "/web/notifications?unread=1")
    answer = post(world, "R1", "/web/notifications/read_all", {"next": "/web/notifications"})
    assert answer.status_code == 302
    assert badge(get(world, "/web/notifications")) == 0
    with world["db"].unit_of_work(world["users"]["R2"]) as env:
        other = env["core.notification"].search([]).ids[0]
    assert post(world, "R1", f"/web/notifications/{other}/read", {}).status_code == 404
    with world["db"].unit_of_work(world["users"]["R2"]) as env:
        assert env["core.notification"].search_count([["is_read", "=", False]]) == 1


def test_admins_see_only_their_own_and_a_buyer_sees_theirs(world):
    tell(world, ["R1"], "销售的通知")
    tell(world, ["admin"], "管理员的通知")
    tell(world, ["B"], "采购的通知")
    admin = get(world, "/web/notifications", who="admin")
    assert "管理员的通知" in admin and "销售的通知" not in admin and "采购的通知" not in admin
    buyer = get(world, "/web/notifications", who="B")
    assert "采购的通知" in buyer and "销售的通知" not in buyer


def test_the_badge_costs_one_count_query(world):
    tell(world, ["R1"], "计数")
    client = world["clients"]["R1"]
    client.get("/web/crm.customer")
    with StatementCounter(world["db"].engine) as counter:
        html = client.get("/web/crm.customer").get_data(as_text=True)
    assert badge(html) == 1
    counts = [s for s in counter.statements if "core_notification" in s]
    assert len(counts) == 1 and "count(" in counts[0].lower()


def test_the_api_lists_and_marks_the_callers_own(world):
    tell(world, ["R1"], "API 通知一", record="customer")
    tell(world, ["R1"], "API 通知二")
    tell(world, ["R2"], "R2 的通知")
    status, body = api(world, "R1", "get", "/notifications?unread=1")
    assert status == 200 and body["total"] == 2 and body["unread"] == 2
    assert [i["message"] for i in body["items"]] == ["API 通知二", "API 通知一"]
    first = body["items"][1]
    assert first["model"] == "crm.customer" and first["url"] == f"/web/crm.customer/{first['record_id']}"
    status, marked = api(world, "R1", "post", f"/notifications/{first['id']}/read")
    assert status == 200 and marked["is_read"] and marked["unread"] == 1
    status, body = api(world, "R1", "get", "/notifications?unread=1")
    assert body["total"] == 1 and body["unread"] == 1
    status, body = api(world, "R1", "get", "/notifications")
    assert body["total"] == 2 and body["unread"] == 1
    status, body = api(world, "R2", "get", "/notifications")
    other = body["items"][0]["id"]
    assert api(world, "R1", "post", f"/notifications/{other}/read")[0] == 404
    assert api(world, "admin", "post", f"/notifications/{other}/read")[0] == 404  # not theirs either
    assert api(world, "R1", "post", "/notifications/read_all") == (200, {"marked": 1, "unread": 0})
    assert api(world, "R1", "get", "/notifications?unread=1")[1]["total"] == 0
    assert api(world, "R1", "get", "/notifications?unread=maybe")[0] == 400
    assert api(world, "R1", "get", "/notifications?limit=-1")[0] == 400


def test_opt_outs_through_the_profile_page_and_the_api(world):
    html = get(world, "/web/profile")
    assert 'name="receive" value="inapp" checked' in html and 'name="receive" value="email" checked' in html
    client = world["clients"]["R1"]
    answer = client.post("/web/profile", data={"lang": "", "tz": "", "receive": ["inapp"],
                                               "csrf_token": csrf_token(html)})
    assert answer.status_code == 302
    html = get(world, "/web/profile")
    assert 'name="receive" value="email">' in html  # unticked
    with world["db"].unit_of_work(None) as env:
        env["core.user"].browse(world["users"]["R1"]).write({"email": "r1@example.cn"})
    tell(world, ["R1"], "不要邮件")
    with world["db"].unit_of_work(None) as env:
        assert env["core.outbox"].search_count([]) == 0 and env["core.notification"].search_count([]) == 1
    assert api(world, "R1", "get", "/notifications/preferences") == (
        200, {"inapp": True, "email": False, "file": False})
    status, prefs = api(world, "R1", "put", "/notifications/preferences", json={"email": True, "inapp": False})
    assert status == 200 and prefs == {"inapp": False, "email": True, "file": False}
    tell(world, ["R1"], "只要邮件")
    with world["db"].unit_of_work(None) as env:
        assert env["core.outbox"].search_count([]) == 1 and env["core.notification"].search_count([]) == 1
    status, error = api(world, "R1", "put", "/notifications/preferences", json={"fax": False})
    assert status == 400 and "'fax'" in error["error"]["message"]
    assert api(world, "R1", "put", "/notifications/preferences", json={"email": "yes"})[0] == 400


def test_admins_configure_channels_and_see_the_outbox(world):
    admin = get(world, "/web", who="admin")
    assert 'href="/web/core.notification_channel"' in admin and 'href="/web/core.outbox"' in admin
    rep = get(world, "/web")
    assert "core.outbox" not in rep and "core.notification_channel" not in rep
    get(world, "/web/core.outbox", who="R1", status=403)


def test_users_set_their_own_email_address_on_the_profile_page(world):
    """Mail goes to ``core.user.email``, which only admins may write through
    the model API: the profile page lets every user set their own."""
    client = world["clients"]["R1"]
    html = get(world, "/web/profile")
    assert 'name="email"' in html
    bad = client.post("/web/profile", data={"lang": "", "tz": "", "email": "不是地址",
                                            "receive": ["inapp", "email"], "csrf_token": csrf_token(html)})
    assert bad.status_code == 400 and "name@example.com" in bad.get_data(as_text=True)
    answer = client.post("/web/profile", data={"lang": "", "tz": "", "email": " r1@example.cn ",
                                               "receive": ["inapp", "email"], "csrf_token": csrf_token(html)})
    assert answer.status_code == 302
    assert 'value="r1@example.cn"' in get(world, "/web/profile")
    with world["db"].unit_of_work(None) as env:
        assert env["core.user"].browse(world["users"]["R1"]).read(["email"])[0]["email"] == "r1@example.cn"


def test_the_pager_keeps_the_unread_filter(world):
    with world["db"].unit_of_work("admin") as env:
        notify.send(env, [world["users"]["R1"]], "first")
        env.sudo()["core.notification"].create([{"owner_id": world["users"]["R1"], "message": f"n{i}",
                                                 "kind": "message"} for i in range(55)])
    html = get(world, "/web/notifications?unread=1")
    assert 'href="/web/notifications?page=2&amp;unread=1" rel="next"' in html
    second = get(world, "/web/notifications?page=2&unread=1")
    assert 'href="/web/notifications?page=1&amp;unread=1" rel="prev"' in second
    assert "page=3" not in second
