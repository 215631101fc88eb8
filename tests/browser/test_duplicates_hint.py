"""The duplicate hint of the customer form in Chromium (docs/duplicates.md):
rep r2 types the name of a colleague's customer, the form shows "Possible
duplicates: NAME (owner OWNER)" before saving; saving anyway is refused
with the same names."""
import re

import pytest
from playwright.sync_api import expect

from tests.test_api_security import PASSWORD

pytestmark = pytest.mark.browser


def test_the_form_shows_likely_duplicates_while_typing(page, live, screenshot):
    with live.db.unit_of_work(live.users["R1"]) as env:
        env["crm.customer"].create({"name": "北京华信科技有限公司", "mobile": "13800138000"})
    page.goto("/web/login")
    page.fill('input[name="login"]', "r2")
    page.fill('input[name="password"]', PASSWORD)
    page.click('button[type="submit"]')
    expect(page).to_have_url(re.compile(r"/web$"))
    page.goto("/web/crm.customer/new")
    hint = page.locator(".duplicates-hint")
    expect(hint).to_be_hidden()
    page.fill('input[name="name"]', "华信科技 有限公司")
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Possible duplicates:")
    expect(hint).to_contain_text("北京华信科技有限公司 (owner R1 用户)")
    screenshot("hint")
    page.fill('input[name="name"]', "完全不同的公司")
    expect(hint).to_be_hidden()
    page.fill('input[name="mobile"]', "+86 138-0013-8000")
    expect(hint).to_contain_text("北京华信科技有限公司")
    page.click('button[type="submit"][name="save"]')
    expect(page.locator(".flash-error")).to_contain_text(
        "This looks like an existing record: 北京华信科技有限公司 (R1 用户)")
