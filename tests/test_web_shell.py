"""The shell around every page (menus by role, breadcrumbs, user menu with
the language switch, a layout for phones) and the workbench with the cards
addons give through ``keel_workbench_cards``."""
import datetime as dt
import pathlib
import re

import pytest

from core import hookimpl
from core.i18n import _
from tests.conftest import (ADMIN_PASSWORD, addon_module, available_with, drop_module_database,
                            module_database)
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import get, sign_in

SCHEMA = "t_web_shell"
STATIC = pathlib.Path(__file__).resolve().parent.parent / "core" / "web" / "static"


def cards_addon():
    """A test addon with one card of items and one drawn by a template."""

    @hookimpl
    def keel_workbench_cards(env):
        return [{"key": "wb.items", "title": _("Workbench test card"), "sequence": 1,
                 "url": "/web/crm.customer", "count": 7,
                 "items": [{"label": "第一项", "url": "/web/crm.customer/1", "count": 2},
                           {"label": "Note item", "note": dt.date(2026, 3, 5)}]},
                {"key": "wb.tpl", "title": "Template card", "sequence": 99,
                 "template": "web/error.html"}]
    return addon_module("wbtest", depends=["crm_base"], keel_workbench_cards=keel_workbench_cards)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base", "wbtest"], available_with(cards_addon()))
    users = create_personas(db)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with db.unit_of_work(users["R1"]) as env:
        env["crm.customer"].create([
            {"name": "今天联系的客户", "next_contact_at": now.replace(hour=12, minute=0, second=0, microsecond=0)},
            {"name": "下周联系的客户", "next_contact_at": now + dt.timedelta(days=7)}])
    app = make_app(db)
    clients = {"R1": sign_in(app, "r1", PASSWORD), "B": sign_in(app, "b", PASSWORD),
               "admin": sign_in(app, "admin", ADMIN_PASSWORD)}
    yield {"db": db, "users": users, "clients": clients}
    drop_module_database(db, SCHEMA)


def nav(html):
    return html.split('<nav class="sidenav"')[1].split("</nav>")[0]


def test_menus_follow_the_roles(world):
    rep = nav(get(world, "/web"))
    assert 'href="/web/crm.customer"' in rep and ">CRM<" in rep
    assert "Settings" not in rep and "/web/core.user" not in rep
    admin = nav(get(world, "/web", who="admin"))
    assert "Settings" in admin and 'href="/web/core.user"' in admin
    buyer = nav(get(world, "/web", who="B"))
    assert "CRM" not in buyer  # nothing of sales for a buyer


def test_the_current_menu_item_is_marked(world):
    html = nav(get(world, "/web/crm.contact"))
    assert re.search(r'href="/web/crm.contact" aria-current="page"', html)


def test_breadcrumbs_lead_from_the_workbench_to_the_record(world):
    html = get(world, "/web/crm.customer")
    crumbs = html.split('<nav class="crumbs"')[1].split("</nav>")[0]
    assert re.findall(r">([^<>]+)</(?:a|span)>", crumbs) == ["Workbench", "CRM", "Customers"]
    assert 'href="/web"' in crumbs and 'aria-current="page">Customers' in crumbs
    assert '<nav class="crumbs"' not in get(world, "/web")  # home needs none


def test_breadcrumbs_of_a_record_page(world):
    """What a form page (another module) gets: the record's name last."""
    import flask_login
    from flask import render_template_string

    from core.web.context import unit_of_work
    from core.web.session import WebUser, read_user
    from core.web.views import Shell
    app = world["clients"]["R1"].application
    with app.test_request_context("/web/crm.customer/5"):
        flask_login.login_user(WebUser(read_user(world["users"]["R1"])))
        with unit_of_work():
            crumbs = Shell().crumbs("客户甲")
            assert Shell().crumbs()[-1] == ("#5", None)
            assert render_template_string("{{ shell.label('Customers') }}") == "Customers"
    assert [c[0] for c in crumbs] == ["Workbench", "CRM", "Customers", "客户甲"]
    assert crumbs[2][1] == "/web/crm.customer" and crumbs[3][1] is None


def test_user_menu_language_switch_and_sign_out(world):
    html = get(world, "/web/crm.customer?q=x")
    menu = html.split('<details class="usermenu">')[1].split("</details>")[0]
    assert "R1 用户" in menu and 'href="/web/profile"' in menu
    lang = menu.split('action="/web/lang"')[1].split("</form>")[0]
    assert 'name="csrf_token"' in lang
    assert 'name="next" value="/web/crm.customer?q=x"' in lang
    assert '<button type="submit" name="lang" value="zh_CN"' in lang and ">中文<" in lang
    assert 'name="lang" value="en"' in lang
    assert 'action="/web/logout"' in menu


def test_the_layout_works_on_a_phone_without_script(world):
    html = get(world, "/web")
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    # the menu folds behind a checkbox and its label: no script needed
    assert 'id="nav-toggle"' in html and 'for="nav-toggle"' in html
    css = (STATIC / "keel.css").read_text()
    assert "@media (max-width: 820px)" in css and ".nav-toggle:checked ~ .layout .sidenav" in css
    assert '<script src="/web/static/keel.js" defer></script>' in html
    assert (STATIC / "keel.js").exists()


@pytest.mark.parametrize("url", ["/web", "/web/crm.customer", "/web/crm.customer?group=grade"])
def test_pages_keep_the_content_security_policy(world, url):
    html = get(world, url)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script
    assert not re.search(r"\sstyle=|\son[a-z]+=", html)  # no style attribute, no handler


def test_workbench_cards_of_the_kernel_and_crm(world):
    html = get(world, "/web")
    followups = html.split('id="card-crm-followups"')[1].split("</section>")[0]
    assert "今天联系的客户" in followups and "下周联系的客户" not in followups
    assert "Follow-ups logged today" in followups
    assert 'href="/web/crm.customer?f=mine&amp;f=due_today&amp;f=overdue"' in followups
    assert 'id="card-base-approvals"' in html and "Nothing is waiting for your approval." in html
    assert 'id="card-base-activities"' in html
    about = html.split('id="about"')[1]  # the addons: one small line at the bottom
    assert "<code>crm_base</code>" in about and "<section" not in about
    assert 'id="card-crm-followups"' not in get(world, "/web", who="B")  # no CRM for a buyer


def test_the_activities_card_lists_open_activities_and_unread_notifications(world):
    with world["db"].unit_of_work("admin") as env:
        customer = env["crm.customer"].search([["name", "=", "今天联系的客户"]]).id
        done = env["core.activity"].create([
            {"owner_id": world["users"]["R1"], "summary": "回访客户", "model": "crm.customer",
             "record_id": customer, "due_date": dt.date(2026, 3, 5)},
            {"owner_id": world["users"]["R1"], "summary": "已完成的事", "done": True}])
        note = env["core.notification"].create({"owner_id": world["users"]["R1"], "message": "审批已通过"})
    try:
        card = get(world, "/web").split('id="card-base-activities"')[1].split("</section>")[0]
        assert f'<a href="/web/crm.customer/{customer}">回访客户</a>' in card and "Mar 5, 2026" in card
        assert "已完成的事" not in card
        assert f'<a href="/web/core.notification/{note.id}">审批已通过</a>' in card
    finally:
        with world["db"].unit_of_work("admin") as env:
            env["core.activity"].browse(done.ids).unlink()
            env["core.notification"].browse(note.ids).unlink()


def test_the_approvals_card_lists_what_waits_on_the_user(world):
    db, users = world["db"], world["users"]
    with db.unit_of_work("admin") as env:
        env["core.approval_policy"].create({
            "name": "big-deal", "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]],
            "levels": [{"approvers": {"type": "manager"}, "mode": "any"}]})
    with db.unit_of_work(users["R1"]) as env:
        customer = env["crm.customer"].search([], limit=1).id
        deal = env["crm.opportunity"].create({"name": "大单", "customer_id": customer,
                                              "amount": "500000"})
        for action in ("qualify", "propose", "negotiate", "win"):
            deal.action(action)
    manager = sign_in(world["clients"]["R1"].application, "m1", PASSWORD)
    html = manager.get("/web").get_data(as_text=True)
    card = html.split('id="card-base-approvals"')[1].split("</section>")[0]
    assert f'href="/web/crm.opportunity/{deal.id}"' in card and "win" in card
    assert '<span class="badge">1</span>' in card and "R1 用户" in card
    assert "Nothing is waiting" in get(world, "/web")  # the rep approves nothing


def test_the_follow_up_link_of_the_card_lists_them(world):
    html = get(world, "/web/crm.customer?f=mine&f=due_today&f=overdue")
    assert "今天联系的客户" in html and "下周联系的客户" not in html
