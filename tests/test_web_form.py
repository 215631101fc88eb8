"""The generated form view (issue 5 point 3; CONTRACT.md §7): create, edit,
duplicate and delete through ``/web/MODEL/new`` and ``/web/MODEL/ID``,
one2many lines, many2one by name without JavaScript, errors beside their
fields with nothing written, stale versions, per-state field modes,
workflow buttons and their refusals, the approval panel, record rules.

Flask's test client, personas of CONTRACT.md §6 (tests/test_api_security.py)
and keeltest's ``test.thing`` (a field of every type) on one database for
the module; every check of a write reads back through the model API.
"""
import io
import re

import pytest

from tests.conftest import ADMIN_PASSWORD, available_with, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.test_model_api import test_addons
from tests.web_helpers import csrf_token, sign_in

SCHEMA = "t_web_form"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    # keeltest's test.thing has a field of every type
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base", "sales", "keeltest", "keeltest2"],
                         available_with(*test_addons()))
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        # losing a deal needs its reason (a state's required field)
        env["core.workflow_field_mode"].create({"model": "crm.opportunity", "state": "lost",
                                                "field": "lost_reason", "mode": "required"})
        # a won deal's description is no one's business
        env["core.workflow_field_mode"].create({"model": "crm.opportunity", "state": "won",
                                                "field": "description", "mode": "hidden"})
        # reps do not see a customer's level and may not change its region
        rep_role = env["core.role"].search([["code", "=", "sales_rep"]]).id
        env["core.field_rule"].create([
            {"role_id": rep_role, "model": "crm.customer", "field": "level", "mode": "hidden"},
            {"role_id": rep_role, "model": "crm.customer", "field": "region", "mode": "readonly"}])
        # only managers reopen a lost deal
        reopen = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                         ["action", "=", "reopen"]])
        reopen.write({"roles": ["sales_manager"]})
        env["core.approval_policy"].create({
            "name": "big-win", "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]],
            "levels": [{"approvers": {"type": "user", "logins": ["m1"]}, "mode": "any"}]})
    app = make_app(db)
    clients = {}

    def client(login):
        if login not in clients:
            clients[login] = sign_in(app, login, ADMIN_PASSWORD if login == "admin" else PASSWORD)
        return clients[login]

    yield {"db": db, "users": users, "client": client}
    drop_module_database(db, SCHEMA)


def read(world, model, rid, fields):
    with world["db"].unit_of_work("admin") as env:
        return env[model].browse(rid).read(fields)[0]


def create(world, login, model, values):
    with world["db"].unit_of_work(login) as env:
        return env[model].create(values).id


def submit(client, url, data):
    """POST ``data`` to ``url`` as the form of the page at ``url`` would
    (with its CSRF token)."""
    page = client.get(url)
    assert page.status_code == 200, page.get_data(as_text=True)[:300]
    return client.post(url, data={**data, "csrf_token": csrf_token(page.get_data(as_text=True))})


def new_id(answer, model):
    assert answer.status_code == 302, answer.get_data(as_text=True)[:2000]
    found = re.fullmatch(rf"/web/{re.escape(model)}/(\d+)", answer.headers["Location"])
    assert found, answer.headers["Location"]
    return int(found.group(1))


def error_beside(text, name):
    """The error message shown beside input ``name``."""
    found = re.search(rf'<p class="field-error" id="e-{re.escape(name)}">([^<]*)</p>', text)
    return found.group(1) if found else None


# -- create, edit, lines -------------------------------------------------------------------
def test_create_a_customer_with_a_contact_line(world):
    rep = world["client"]("r1")
    page = rep.get("/web/crm.customer/new").get_data(as_text=True)
    assert '<button type="submit" name="save"' in page
    assert 'name="name"' in page and 'name="kind"' in page and 'name="contact_ids-0-name"' in page
    assert 'id="tpl-contact_ids"' in page and "contact_ids-__index__-name" in page
    answer = submit(rep, "/web/crm.customer/new", {
        "name": "上海表单客户", "kind": "company", "city": "上海", "contact_ids-0-name": "王五",
        "contact_ids-0-mobile": "13900000000"})
    rid = new_id(answer, "crm.customer")
    saved = read(world, "crm.customer", rid, ["name", "city", "owner_id", "contact_ids"])
    assert saved["name"] == "上海表单客户" and saved["city"] == "上海"
    assert saved["owner_id"]["id"] == world["users"]["R1"]
    contact = read(world, "crm.contact", saved["contact_ids"][0], ["name", "mobile"])
    assert (contact["name"], contact["mobile"]) == ("王五", "13900000000")
    shown = rep.get(f"/web/crm.customer/{rid}").get_data(as_text=True)
    assert "Saved." in shown and 'value="王五"' in shown


def test_edit_changes_fields_and_lines(world):
    rep = world["client"]("m1")  # a manager: reps may not delete contacts
    rid = create(world, "r1", "crm.customer", {"name": "编辑客户", "contact_ids": [
        {"name": "甲"}, {"name": "乙"}]})
    contacts = read(world, "crm.customer", rid, ["contact_ids"])["contact_ids"]
    url = f"/web/crm.customer/{rid}"
    page = rep.get(url).get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    answer = submit(rep, url, {"name": "编辑客户", "kind": "company", "city": "杭州", "version": version,
                               "contact_ids-0-id": contacts[0], "contact_ids-0-name": "甲改",
                               "contact_ids-1-id": contacts[1], "contact_ids-1-name": "乙",
                               "contact_ids-1-_delete": "y", "contact_ids-2-name": "丙"})
    assert answer.status_code == 302 and answer.headers["Location"] == url
    saved = read(world, "crm.customer", rid, ["city", "contact_ids", "version"])
    assert saved["city"] == "杭州" and saved["version"] == int(version) + 1
    with world["db"].unit_of_work("admin") as env:
        names = sorted(r["name"] for r in env["crm.contact"].browse(saved["contact_ids"]).read(["name"]))
    assert names == ["丙", "甲改"]
    text = world["client"]("r1").get(url).get_data(as_text=True)
    assert 'name="contact_ids-0-name"' in text and "_delete" not in text


def test_a_refused_value_is_shown_beside_its_field_and_nothing_is_written(world):
    rep = world["client"]("r1")
    rid = create(world, "r1", "crm.customer", {"name": "校验客户"})
    url = f"/web/crm.customer/{rid}"
    answer = submit(rep, url, {"name": "", "kind": "company", "city": "苏州",
                               "contact_cycle_days": "12"})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert error_beside(text, "name") == "This field is required."
    assert 'value="苏州"' in text  # the input is kept
    assert read(world, "crm.customer", rid, ["name", "city"]) == {"id": rid, "name": "校验客户",
                                                                   "city": None}
    bad = submit(rep, url, {"name": "", "kind": "company", "contact_cycle_days": "abc", "city": "苏州"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and error_beside(text, "contact_cycle_days") == "Enter a whole number."
    assert error_beside(text, "name") == "This field is required."  # every error at once
    # refused by the model API itself: a code another customer has
    taken = read(world, "crm.customer", create(world, "r1", "crm.customer", {"name": "占用编号"}),
                 ["code"])["code"]
    unique = submit(rep, url, {"name": "校验客户", "code": taken, "city": "苏州"})
    assert unique.status_code == 422
    assert error_beside(unique.get_data(as_text=True), "code") == \
        "This value is already used by another record."
    # a line refused by the model API: beside the line's input, the record unchanged
    line = submit(rep, url, {"name": "校验客户", "kind": "company", "city": "苏州",
                             "contact_ids-3-mobile": "13800000000"})
    text = line.get_data(as_text=True)
    assert line.status_code == 422
    assert re.search(r'name="contact_ids-3-name"[^>]*>\s*<p class="field-error">This field is required',
                     text), text[text.find("lines-table"):][:1500]
    assert 'data-add-line="contact_ids" data-next="4"' in text  # numbers after the posted lines
    assert read(world, "crm.customer", rid, ["city", "contact_ids"])["contact_ids"] == []
    assert read(world, "crm.customer", rid, ["city"])["city"] is None


def test_a_stale_save_keeps_the_input_and_may_be_saved_over(world):
    rep = world["client"]("r1")
    rid = create(world, "r1", "crm.customer", {"name": "并发客户"})
    url = f"/web/crm.customer/{rid}"
    page = rep.get(url).get_data(as_text=True)
    with world["db"].unit_of_work("r1") as env:  # someone else saves meanwhile
        env["crm.customer"].browse(rid).write({"city": "北京"})
    answer = rep.post(url, data={"name": "并发客户", "kind": "company", "city": "天津", "version": "1",
                                 "csrf_token": csrf_token(page)})
    text = answer.get_data(as_text=True)
    assert answer.status_code == 409 and "Someone else changed this record" in text
    assert 'value="天津"' in text and read(world, "crm.customer", rid, ["city"])["city"] == "北京"
    assert 'name="overwrite" value="2"' in text
    again = rep.post(url, data={"name": "并发客户", "kind": "company", "city": "天津", "version": "1",
                                "overwrite": "2", "csrf_token": csrf_token(text)})
    assert again.status_code == 302 and read(world, "crm.customer", rid, ["city"])["city"] == "天津"


def test_duplicate_prefills_a_new_form(world):
    rep = world["client"]("r1")
    rid = create(world, "r1", "crm.customer", {"name": "复制客户", "city": "南京"})
    answer = rep.get(f"/web/crm.customer/{rid}/duplicate")
    assert answer.status_code == 302
    text = rep.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'value="复制客户 (copy)"' in text and 'value="南京"' in text
    code = read(world, "crm.customer", rid, ["code"])["code"]
    assert code and code not in text  # unique numbers are not copied
    assert 'action="/web/crm.customer/new"' in text


def test_delete_asks_first(world):
    manager = world["client"]("m1")
    rid = create(world, "r1", "crm.customer", {"name": "删除客户"})
    url = f"/web/crm.customer/{rid}/delete"
    assert 'name="confirm"' in manager.get(url).get_data(as_text=True)
    assert f'href="{url}"' in manager.get(f"/web/crm.customer/{rid}").get_data(as_text=True)
    answer = submit(manager, url, {"confirm": ""})
    assert answer.status_code == 302 and answer.headers["Location"] == "/web/crm.customer"
    with world["db"].unit_of_work("admin") as env:
        assert not env["crm.customer"].search([["id", "=", rid]])
    kept = create(world, "r1", "crm.customer", {"name": "有商机的客户"})
    create(world, "r1", "crm.opportunity", {"name": "挡住删除", "customer_id": kept})
    refused = submit(manager, f"/web/crm.customer/{kept}/delete", {"confirm": ""})
    assert refused.status_code == 409
    assert "other records still refer to it" in refused.get_data(as_text=True)
    assert read(world, "crm.customer", kept, ["name"])["name"] == "有商机的客户"
    rep = world["client"]("r1")  # reps may not delete: no link, and the page refuses
    other = create(world, "r1", "crm.customer", {"name": "保留客户"})
    assert "/delete" not in rep.get(f"/web/crm.customer/{other}").get_data(as_text=True)
    assert rep.get(f"/web/crm.customer/{other}/delete").status_code == 403


# -- many2one ----------------------------------------------------------------------------
def test_a_many2one_typed_as_a_name_without_javascript(world):
    rep = world["client"]("r1")
    cid = create(world, "r1", "crm.customer", {"name": "名字解析有限公司"})
    create(world, "r1", "crm.customer", {"name": "同名甲公司"})
    create(world, "r1", "crm.customer", {"name": "同名乙公司"})
    page = rep.get("/web/crm.opportunity/new").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="customer_id"[^>]*type="hidden"', page)
    assert 'data-names-url="/web/crm.customer/_names"' in page
    assert re.search(r'name="owner_id__label"[^>]*value="R1 用户"', page)  # the default, by name
    prefilled = rep.get(f"/web/crm.opportunity/new?customer_id={cid}").get_data(as_text=True)
    assert re.search(r'name="customer_id__label"[^>]*value="名字解析有限公司"', prefilled)
    answer = submit(rep, "/web/crm.opportunity/new", {
        "name": "名字商机", "customer_id": "", "customer_id__label": "名字解析有限公司"})
    oid = new_id(answer, "crm.opportunity")
    assert read(world, "crm.opportunity", oid, ["customer_id"])["customer_id"]["id"] == cid
    vague = submit(rep, "/web/crm.opportunity/new", {
        "name": "含糊商机", "customer_id": "", "customer_id__label": "同名"})
    text = vague.get_data(as_text=True)
    assert vague.status_code == 422
    message = error_beside(text, "customer_id")
    assert "同名甲公司" in message and "同名乙公司" in message
    assert 'value="同名"' in text


def test_names_honour_record_rules(world):
    create(world, "r1", "crm.customer", {"name": "规则客户一"})
    create(world, "r2", "crm.customer", {"name": "规则客户二"})
    names = [r["name"] for r in world["client"]("r1").get("/web/crm.customer/_names?q=规则").json]
    assert names == ["规则客户一"]
    answer = world["client"]("m1").get("/web/crm.customer/_names?q=规则客户")
    assert sorted(r["name"] for r in answer.json) == ["规则客户一", "规则客户二"]
    assert set(answer.json[0]) == {"id", "name"}


def test_a_record_outside_the_rules_is_a_404(world):
    rid = create(world, "r1", "crm.customer", {"name": "别人的客户"})
    other = world["client"]("r2")
    missing = other.get("/web/crm.customer/2000000000")
    assert missing.status_code == 404
    hidden = other.get(f"/web/crm.customer/{rid}")
    assert hidden.status_code == 404 and hidden.get_data() == missing.get_data()
    page = other.get("/web/crm.customer/new").get_data(as_text=True)
    post = other.post(f"/web/crm.customer/{rid}", data={"name": "抢", "csrf_token": csrf_token(page)})
    assert post.status_code == 404
    assert other.get(f"/web/crm.customer/{rid}/delete").status_code == 404
    assert read(world, "crm.customer", rid, ["name"])["name"] == "别人的客户"


# -- workflow ----------------------------------------------------------------------------
def opportunity(world, login, amount=1000, stages=()):
    customer = create(world, login, "crm.customer", {"name": f"商机客户 {amount} {len(stages)}"})
    with world["db"].unit_of_work(login) as env:
        record = env["crm.opportunity"].create({"name": f"商机 {amount}", "customer_id": customer,
                                                 "amount": amount})
        for action in stages:
            record.action(action)
        return record.id


def buttons(text):
    return re.findall(r'<button type="submit" name="action" value="(\w+)"', text)


def test_workflow_buttons_are_the_allowed_transitions(world):
    rep = world["client"]("r1")
    rid = opportunity(world, "r1")
    url = f"/web/crm.opportunity/{rid}"
    text = rep.get(url).get_data(as_text=True)
    assert buttons(text) == ["qualify", "lose"]
    assert '<li class="current" aria-current="step">New</li>' in text
    assert text.index('name="save"') < text.index('name="action"')
    done = submit(rep, url, {"action": "qualify", "comment": "客户有意向"})
    assert done.status_code == 302
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "qualified"
    text = rep.get(url).get_data(as_text=True)
    assert "Done: Qualify." in text and buttons(text) == ["propose", "lose"]
    win = submit(rep, url, {"action": "win"})
    assert win.status_code == 409 and "cannot run now" in win.get_data(as_text=True)
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "qualified"


def test_fields_the_target_state_requires_are_named_and_saved_with_the_action(world):
    rep = world["client"]("r1")
    rid = opportunity(world, "r1", 2000)
    url = f"/web/crm.opportunity/{rid}"
    refused = submit(rep, url, {"action": "lose", "amount": "2500"})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert error_beside(text, "lost_reason") == "Fill this in to run “Mark lost”."
    assert "Fill in the fields marked below to run “Mark lost”." in text and 'value="2500"' in text
    assert read(world, "crm.opportunity", rid, ["stage", "amount"])["stage"] == "new"
    values = {"lost_reason": "预算取消", "action": "lose"}
    done = submit(rep, url, values)
    assert done.status_code == 302
    saved = read(world, "crm.opportunity", rid, ["stage", "lost_reason"])
    assert (saved["stage"], saved["lost_reason"]) == ("lost", "预算取消")


def test_a_transition_the_role_may_not_run_has_no_button_and_is_refused(world):
    rep, manager = world["client"]("r1"), world["client"]("m1")
    rid = opportunity(world, "r1", 2100)
    with world["db"].unit_of_work("r1") as env:
        env["crm.opportunity"].browse(rid).write({"lost_reason": "没预算"})
        env["crm.opportunity"].browse(rid).action("lose")
    url = f"/web/crm.opportunity/{rid}"
    assert buttons(rep.get(url).get_data(as_text=True)) == []
    assert buttons(manager.get(url).get_data(as_text=True)) == ["reopen"]
    refused = submit(rep, url, {"action": "reopen"})
    assert refused.status_code == 403 and "Your role may not run “Reopen”." in refused.get_data(as_text=True)
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "lost"


def test_a_won_deal_shows_its_amount_read_only(world):
    rep = world["client"]("r1")
    rid = opportunity(world, "r1", 3000, ("qualify", "propose", "negotiate", "win"))
    text = rep.get(f"/web/crm.opportunity/{rid}").get_data(as_text=True)
    assert 'name="amount"' not in text and 'data-field="amount"' in text
    assert 'name="probability"' in text  # still editable
    assert 'name="description"' not in text and 'data-field="description"' not in text  # hidden
    assert buttons(text) == []
    refused = submit(rep, f"/web/crm.opportunity/{rid}", {"amount": "1"})
    assert read(world, "crm.opportunity", rid, ["amount"])["amount"] == 3000
    assert refused.status_code == 302  # the read-only field is not among the form's inputs


def test_the_approver_approves_from_the_panel(world):
    rep, manager = world["client"]("r1"), world["client"]("m1")
    rid = opportunity(world, "r1", 200000, ("qualify", "propose", "negotiate"))
    url = f"/web/crm.opportunity/{rid}"
    held = submit(rep, url, {"action": "win", "comment": "大单"})
    assert held.status_code == 302
    text = rep.get(url).get_data(as_text=True)
    assert "Sent for approval" in text and 'id="approvals"' in text
    assert 'value="withdraw"' in text and 'value="approve"' not in text
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "negotiation"
    panel = manager.get(url).get_data(as_text=True)
    assert 'value="approve"' in panel and 'value="reject"' in panel and "大单" in panel
    request_id = re.search(r'name="request" value="(\d+)"', panel).group(1)
    refused = rep.post(f"{url}/approval", data={"request": request_id, "decision": "approve",
                                                "csrf_token": csrf_token(text)})
    assert refused.status_code == 302  # not the approver: nothing decided
    assert "Refused: approval request" in rep.get(url).get_data(as_text=True)
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "negotiation"
    answer = manager.post(f"{url}/approval", data={"request": request_id, "decision": "approve",
                                                   "comment": "同意", "csrf_token": csrf_token(panel)})
    assert answer.status_code == 302
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "won"
    after = manager.get(url).get_data(as_text=True)
    assert "Approved." in after and "同意" in after


def test_a_co_signer_added_from_the_panel_signs_too_and_the_requester_may_withdraw(world):
    rep, manager, director = (world["client"](login) for login in ("r1", "m1", "x"))
    rid = opportunity(world, "r1", 300000, ("qualify", "propose", "negotiate"))
    url = f"/web/crm.opportunity/{rid}"
    assert submit(rep, url, {"action": "win"}).status_code == 302
    panel = manager.get(url).get_data(as_text=True)
    request_id = re.search(r'name="request" value="(\d+)"', panel).group(1)
    cosign = manager.post(f"{url}/approval", data={"request": request_id, "decision": "cosign",
                                                   "cosigner": "x", "csrf_token": csrf_token(panel)})
    assert cosign.status_code == 302
    panel = manager.get(url).get_data(as_text=True)
    assert "Co-signer added." in panel and "X 用户 <span class=\"muted\">(co-signer)</span>" in panel
    manager.post(f"{url}/approval", data={"request": request_id, "decision": "approve",
                                          "csrf_token": csrf_token(panel)})
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "negotiation"  # X still signs
    page = director.get(url).get_data(as_text=True)
    director.post(f"{url}/approval", data={"request": request_id, "decision": "approve",
                                           "csrf_token": csrf_token(page)})
    assert read(world, "crm.opportunity", rid, ["stage"])["stage"] == "won"

    other = opportunity(world, "r1", 400000, ("qualify", "propose", "negotiate"))
    url = f"/web/crm.opportunity/{other}"
    submit(rep, url, {"action": "win"})
    page = rep.get(url).get_data(as_text=True)
    request_id = re.search(r'name="request" value="(\d+)"', page).group(1)
    rep.post(f"{url}/approval", data={"request": request_id, "decision": "withdraw",
                                      "csrf_token": csrf_token(page)})
    page = rep.get(url).get_data(as_text=True)
    assert "Withdrawn." in page and 'value="withdraw"' not in page
    assert 'value="approve"' not in manager.get(url).get_data(as_text=True)
    assert read(world, "crm.opportunity", other, ["stage"])["stage"] == "negotiation"


def test_the_users_field_rules_hide_fields_and_make_them_read_only(world):
    rid = create(world, "admin", "crm.customer", {"name": "字段规则客户", "level": "A",
                                                  "region": "华东", "owner_id": world["users"]["R1"]})
    text = world["client"]("r1").get(f"/web/crm.customer/{rid}").get_data(as_text=True)
    assert 'name="level"' not in text and 'data-field="level"' not in text and ">A<" not in text
    assert 'name="region"' not in text and re.search(r'data-field="region">华东<', text)
    manager = world["client"]("m1").get(f"/web/crm.customer/{rid}").get_data(as_text=True)
    assert 'name="level"' in manager and 'name="region"' in manager


def test_a_record_shared_for_reading_is_shown_read_only(world):
    rid = create(world, "r1", "crm.customer", {"name": "只读客户", "city": "成都"})
    with world["db"].unit_of_work("admin") as env:
        env["core.share"].create({"model": "crm.customer", "record_id": rid,
                                  "user_id": world["users"]["R2"], "mode": "read"})
    reader = world["client"]("r2")
    text = reader.get(f"/web/crm.customer/{rid}").get_data(as_text=True)
    assert "成都" in text and 'name="save"' not in text and 'name="city"' not in text
    page = reader.get("/web/crm.customer/new").get_data(as_text=True)
    refused = reader.post(f"/web/crm.customer/{rid}", data={"city": "重庆", "csrf_token": csrf_token(page)})
    assert refused.status_code == 403 and read(world, "crm.customer", rid, ["city"])["city"] == "成都"


def test_history_shows_who_changed_what(world):
    rep = world["client"]("r1")
    rid = create(world, "r1", "crm.customer", {"name": "历史客户", "city": "厦门"})
    with world["db"].unit_of_work("r1") as env:
        env["crm.customer"].browse(rid).write({"city": "福州"})
    text = rep.get(f"/web/crm.customer/{rid}").get_data(as_text=True)
    history = text[text.index('id="history"'):]
    assert "City: 厦门 → 福州" in history and "R1 用户" in history


# -- input types ---------------------------------------------------------------------------
def test_datetimes_are_typed_in_the_users_time_zone(world):
    rep = world["client"]("r1")
    cid = create(world, "r1", "crm.customer", {"name": "时区客户"})
    rid = create(world, "r1", "crm.interaction", {"customer_id": cid, "summary": "电话",
                                                  "at": "2026-01-01T02:00:00"})
    url = f"/web/crm.interaction/{rid}"
    text = rep.get(url).get_data(as_text=True)
    assert re.search(r'name="at" type="datetime-local" value="2026-01-01T10:00"', text)  # Asia/Shanghai
    assert submit(rep, url, {"at": "2026-01-01T11:30"}).status_code == 302
    assert str(read(world, "crm.interaction", rid, ["at"])["at"]) == "2026-01-01 03:30:00"


def test_every_field_type_has_its_input(world):
    admin = world["client"]("admin")
    cid = create(world, "admin", "crm.customer", {"name": "类型客户"})
    with world["db"].unit_of_work("admin") as env:
        roles = sorted(env["core.role"].search([], limit=2).ids)
    text = admin.get("/web/test.thing/new").get_data(as_text=True)
    for pattern in (r'<textarea[^>]*name="note"', r'name="qty" step="1" type="number" value="1"',
                    r'name="amount" step="0.01" type="number"', r'name="day" type="date"',
                    r'name="at" type="datetime-local"', r'name="flag" type="checkbox"',
                    r'<select[^>]*name="state"', r'<option selected value="draft">Draft',
                    r'<select[^>]*multiple[^>]*name="tag_ids"', r'name="blob" type="file"',
                    r'name="partner_id" type="hidden"', r'data-field="total"'):
        assert re.search(pattern, text), pattern
    assert 'name="data"' not in text and 'name="total"' not in text and 'name="locked"' not in text
    answer = admin.post("/web/test.thing/new", data={
        "name": "全类型", "note": "多行\n文本", "qty": "3", "ratio": "0.5", "amount": "12.5",
        "price": "2", "flag": "y", "day": "2026-03-05", "at": "2026-03-05T08:00", "state": "done",
        "partner_id": "", "partner_id__label": "类型客户", "tag_ids": [str(r) for r in roles],
        "blob": (io.BytesIO(b"\x00file"), "a.bin"), "csrf_token": csrf_token(text)},
        content_type="multipart/form-data")
    rid = new_id(answer, "test.thing")
    saved = read(world, "test.thing", rid, ["note", "qty", "ratio", "amount", "total", "flag", "day",
                                            "at", "state", "partner_id", "tag_ids", "blob"])
    assert saved["note"] == "多行\n文本" and saved["qty"] == 3 and saved["ratio"] == 0.5
    assert str(saved["amount"]) == "12.50" and str(saved["total"]) == "6.00" and saved["flag"] is True
    assert str(saved["day"]) == "2026-03-05" and str(saved["at"]) == "2026-03-05 00:00:00"
    assert saved["state"] == "done" and saved["partner_id"]["id"] == cid
    assert sorted(saved["tag_ids"]) == roles and saved["blob"] == b"\x00file"
    page = admin.get(f"/web/test.thing/{rid}").get_data(as_text=True)
    kept = admin.post(f"/web/test.thing/{rid}", data={"name": "全类型", "csrf_token": csrf_token(page)})
    assert kept.status_code == 302  # a file input left empty keeps the file; an unticked box clears
    saved = read(world, "test.thing", rid, ["blob", "flag", "tag_ids"])
    assert saved["blob"] == b"\x00file" and saved["flag"] is False and saved["tag_ids"] == []


def test_a_many2many_is_a_multi_select(world):
    admin = world["client"]("admin")
    with world["db"].unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
    uid = world["users"]["B"]
    url = f"/web/core.user/{uid}"
    text = admin.get(url).get_data(as_text=True)
    assert re.search(r'<select[^>]*multiple[^>]*name="roles"|<select[^>]*name="roles"[^>]*multiple', text)
    wanted = sorted([roles["purchaser"], roles["sales_rep"]])
    answer = submit(admin, url, {"roles": [str(i) for i in wanted], "active": "y"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:3000]
    assert sorted(read(world, "core.user", uid, ["roles"])["roles"]) == wanted


def test_a_user_defined_field_is_an_input_of_the_form(world):
    from core import custom_fields
    custom_fields.add(world["db"], "crm.customer", "x_vip_level", "char", label="VIP level")
    rep = world["client"]("r1")
    text = rep.get("/web/crm.customer/new").get_data(as_text=True)
    assert re.search(r'<label for="x_vip_level">VIP level</label>\s*<input id="x_vip_level" '
                     r'name="x_vip_level" type="text"', text)
    rid = new_id(submit(rep, "/web/crm.customer/new", {"name": "自定义字段客户", "x_vip_level": "金卡"}),
                 "crm.customer")
    assert read(world, "crm.customer", rid, ["x_vip_level"])["x_vip_level"] == "金卡"
