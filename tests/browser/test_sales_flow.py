"""The story of issue 5 in Debian's Chromium, at a desktop size and at a
phone's 390×844: sales rep r1 signs in, creates a customer with a contact,
adds a follow-up, creates an opportunity and drags it across the kanban,
meets the refusal of a stage only a manager may enter, then switches to
Chinese. Every step is checked in the database through the model API and
photographed; no request may leave the server on 127.0.0.1.
"""
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP
from tests.test_api_security import PASSWORD

pytestmark = pytest.mark.browser

VIEWPORTS = {"desktop": DESKTOP, "phone": {"width": 390, "height": 844}}


def only_managers_win(live):
    """As a template could: only a sales manager may mark a deal won."""
    with live.db.unit_of_work("admin") as env:
        env["core.workflow_transition"].search(
            [["model", "=", "crm.opportunity"], ["action", "=", "win"]]).write({"roles": ["sales_manager"]})


def record(live, model, rid, fields):
    with live.db.unit_of_work(None) as env:
        [row] = env[model].browse(rid).read(fields)
    return row


def set_language(live, login, lang):
    with live.db.unit_of_work(None) as env:
        env["core.user"].search([["login", "=", login]]).write({"lang": lang})


def save(page, model):
    """Submit the form; the new record's page is where it lands: its id."""
    page.click('button[type="submit"][name="save"]')
    expect(page).to_have_url(re.compile(rf"/web/{re.escape(model)}/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def choose(page, field, name):
    """Pick the record called ``name`` for the many2one ``field`` in the
    suggestions its type-ahead box offers for the first characters."""
    page.locator(f'input[name="{field}__label"]').fill(name[:4])
    page.get_by_role("option", name=name).click()
    expect(page.locator(f'input[name="{field}"]')).not_to_have_value("")


def card(page, rid, stage):
    return page.locator(f'section.kanban-column[data-value="{stage}"] '
                        f'article.kanban-card[data-id="{rid}"]')


def drag(page, rid, stage):
    """Drag the card of opportunity ``rid`` onto the ``stage`` column; the
    answer of the move it posted."""
    column = page.locator(f'section.kanban-column[data-value="{stage}"]')
    column.scroll_into_view_if_needed()
    with page.expect_response(re.compile(rf"/web/crm\.opportunity/{rid}/move$")) as answer:
        page.locator(f'article.kanban-card[data-id="{rid}"]').drag_to(
            column, target_position={"x": 20, "y": 20})  # a corner: the column may be wider than the screen
    return answer.value


@pytest.mark.parametrize("viewport", VIEWPORTS.values(), ids=VIEWPORTS.keys())
def test_a_sales_rep_works_a_deal(page, live, requested, screenshot, viewport):
    only_managers_win(live)
    set_language(live, "r1", None)  # the browser's English, whatever an earlier run chose
    size = viewport["width"]

    page.goto("/web/login")
    page.fill('input[name="login"]', "r1")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(f"{live.url}/web")
    screenshot("1-workbench")

    customer = f"西湖茶业 {size}"
    page.goto("/web/crm.customer/new")
    page.fill('[name="name"]', customer)
    page.fill('[name="contact_ids-0-name"]', "王芳")
    screenshot("2-customer")
    customer_id = save(page, "crm.customer")
    assert record(live, "crm.customer", customer_id, ["name", "owner_id"]) == {
        "id": customer_id, "name": customer, "owner_id": {"id": live.users["R1"], "name": "R1 用户"}}
    with live.db.unit_of_work(None) as env:
        contacts = env["crm.contact"].search_read([["customer_id", "=", customer_id]], ["name"])
    assert [c["name"] for c in contacts] == ["王芳"]

    page.goto("/web/crm.interaction/new")
    choose(page, "customer_id", customer)
    page.fill('[name="summary"]', "电话沟通：需要报价")
    screenshot("3-follow-up")
    follow_up = save(page, "crm.interaction")
    assert record(live, "crm.interaction", follow_up, ["customer_id"])["customer_id"]["id"] == customer_id

    page.goto("/web/crm.opportunity/new")
    page.fill('[name="name"]', f"年度采购 {size}")
    choose(page, "customer_id", customer)
    page.fill('[name="amount"]', "88000")
    deal = save(page, "crm.opportunity")
    assert record(live, "crm.opportunity", deal, ["stage", "customer_id"]) == {
        "id": deal, "stage": "new", "customer_id": {"id": customer_id, "name": customer}}

    page.goto("/web/crm.opportunity?view=kanban")
    expect(card(page, deal, "new")).to_be_visible()
    screenshot("4-kanban")
    for stage in ("qualified", "proposal", "negotiation"):
        assert drag(page, deal, stage).ok
        expect(card(page, deal, stage)).to_be_visible()
        assert record(live, "crm.opportunity", deal, ["stage"])["stage"] == stage
    screenshot("5-negotiation")

    assert not drag(page, deal, "won").ok  # only a manager may
    refusal = page.locator('div.board-message[role="alert"]')
    expect(refusal).to_be_visible()
    expect(refusal).not_to_be_empty()
    expect(card(page, deal, "negotiation")).to_be_visible()  # snapped back
    assert record(live, "crm.opportunity", deal, ["stage"])["stage"] == "negotiation"
    screenshot("6-refused")

    page.click("details.usermenu > summary")
    page.click("form[action='/web/lang'] button[value='zh_CN']")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    assert record(live, "core.user", live.users["R1"], ["lang"])["lang"] == "zh_CN"
    page.goto(f"/web/crm.opportunity/{deal}")
    if page.locator("label.nav-button").is_visible():  # a phone: the menu hides behind its button
        page.click("label.nav-button")
    menu = page.locator("nav.sidenav")
    expect(menu.get_by_role("link", name="客户", exact=True)).to_have_attribute("href", "/web/crm.customer")
    expect(menu.get_by_role("link", name="商机", exact=True)).to_have_attribute("href", "/web/crm.opportunity")
    expect(page.locator('label[for="amount"]')).to_have_text("金额")
    expect(page.locator('label[for="customer_id__label"]')).to_contain_text("客户")
    screenshot("7-chinese")

    stray = [url for url in requested if not url.startswith(live.url + "/")]
    assert requested and not stray, stray
