"""Issue 7's day in Debian's Chromium: rep r1 claims a customer from the
lead pool, logs a follow-up with tomorrow as the next contact, finds the
reminder of the nightly job on the workbench, takes an opportunity to
``win`` and meets the approval; manager m1 approves it on the record's
page and finds the won amount in the reports. Every step is checked in the
database through the model API; no request leaves 127.0.0.1.
"""
import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from addons.crm_base import cycles
from tests.browser.conftest import TIMEOUT_MS, shot_path
from tests.browser.test_sales_flow import card, choose, drag, record, save, set_language
from tests.test_api_security import PASSWORD

pytestmark = pytest.mark.browser

TODAY = dt.date.today()
TOMORROW = TODAY + dt.timedelta(days=1)


def sign_in(page, live, login):
    page.goto("/web/login")
    page.fill('input[name="login"]', login)
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(f"{live.url}/web")


def released_customer(live, name):
    """A customer r2 gave back to the pool."""
    with live.db.unit_of_work(live.users["R2"]) as env:
        customer = env["crm.customer"].create({"name": name, "city": "杭州"})
        customer.action("release", "客户暂无预算")
        return customer.id


def big_deals_wait_for_the_manager(live):
    with live.db.unit_of_work("admin") as env:
        if not env["core.approval_policy"].search_count([["name", "=", "big-deal"]]):
            env["core.approval_policy"].create({
                "name": "big-deal", "model": "crm.opportunity", "action": "win",
                "condition": [["amount", ">", 100000]],
                "levels": [{"approvers": {"type": "manager"}, "mode": "any"}]})


def nightly_reminders(live):
    with live.db.unit_of_work(None, now=dt.datetime.combine(TODAY, dt.time(23, 0))) as env:
        cycles.daily(env)


def test_a_rep_claims_follows_up_and_wins_a_manager_approves(request, page, live, browser, requested,
                                                              screenshot):
    big_deals_wait_for_the_manager(live)
    for login in ("r1", "m1"):
        set_language(live, login, None)
    customer_name = "杭州云帆网络科技有限公司"
    customer = released_customer(live, customer_name)

    # the pool: r1 sees the customer r2 released and claims it
    sign_in(page, live, "r1")
    page.goto("/web/crm.customer?f=in_pool")
    page.locator("tr", has_text=customer_name).get_by_role("link").first.click()
    expect(page).to_have_url(f"{live.url}/web/crm.customer/{customer}")
    screenshot("1-pool-customer")
    page.click('button[name="action"][value="claim"]')
    expect(page.locator("body")).to_contain_text(customer_name)
    assert record(live, "crm.customer", customer, ["owner_id", "in_pool"]) == {
        "id": customer, "owner_id": {"id": live.users["R1"], "name": "R1 用户"}, "in_pool": False}

    # a follow-up by phone, with tomorrow's call planned
    page.goto("/web/crm.interaction/new")
    choose(page, "customer_id", customer_name)
    page.fill('[name="summary"]', "电话沟通：二期网络改造")
    page.fill('[name="next_contact_at"]', f"{TOMORROW.isoformat()}T10:00")
    screenshot("2-follow-up")
    save(page, "crm.interaction")
    planned = record(live, "crm.customer", customer, ["next_contact_at"])["next_contact_at"]
    assert planned.date() == TOMORROW

    # the nightly job's reminder is on r1's workbench
    nightly_reminders(live)
    page.goto("/web")
    expect(page.locator("main")).to_contain_text(customer_name)
    screenshot("3-reminder")

    # an opportunity along the pipeline; winning it waits for the manager
    page.goto("/web/crm.opportunity/new")
    page.fill('[name="name"]', "云帆 二期网络改造")
    choose(page, "customer_id", customer_name)
    page.fill('[name="amount"]', "260000")
    page.fill('[name="expected_close"]', TODAY.isoformat())
    deal = save(page, "crm.opportunity")
    page.goto("/web/crm.opportunity?view=kanban")
    for stage in ("qualified", "proposal", "negotiation"):
        assert drag(page, deal, stage).ok
        expect(card(page, deal, stage)).to_be_visible()
    page.goto(f"/web/crm.opportunity/{deal}")
    page.click('button[name="action"][value="win"]')
    expect(page.locator("#approvals")).to_be_visible()
    screenshot("4-waiting")
    assert record(live, "crm.opportunity", deal, ["stage"])["stage"] == "negotiation"

    # the manager approves on the record's page, then finds it in the reports
    manager = browser.new_context(base_url=live.url, viewport={"width": 1366, "height": 900},
                                  locale="en-US")
    try:
        manager.set_default_timeout(TIMEOUT_MS)
        other = manager.new_page()
        other.on("request", lambda r: requested.append(r.url))
        sign_in(other, live, "m1")
        other.goto(f"/web/crm.opportunity/{deal}")
        other.fill("#approvals textarea[name='comment']", "同意")
        other.click('#approvals button[name="decision"][value="approve"]')
        expect(other.locator(".badge-approved").first).to_be_visible()
        assert record(live, "crm.opportunity", deal, ["stage"])["stage"] == "won"
        other.goto("/web/reports/crm.won_amount")
        expect(other.locator("main")).to_contain_text("R1 用户")
        expect(other.locator("main")).to_contain_text(re.compile(r"260,000"))
        other.screenshot(path=shot_path(request.node, "5-manager-report"), full_page=True)
    finally:
        manager.close()

    stray = [url for url in requested if not url.startswith(live.url + "/")]
    assert requested and not stray, stray
