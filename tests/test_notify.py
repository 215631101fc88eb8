"""The notification service (``core.services.notify.send``): in-app rows,
outbox rows in the sender's transaction, opt-outs, and the workflow and
approval notices going through it."""
import pytest

from core import approvals
from core.errors import UserInputError
from core.services import notify
from tests.test_approvals import TWO_LEVELS, act, opportunity, org, policy, win  # noqa: F401


@pytest.fixture
def people(db):
    """Two users with email addresses (one Chinese-speaking), one without, one inactive."""
    with db.unit_of_work(None) as env:
        users = env["core.user"]
        ids = {"li": users.create({"login": "li", "name": "李雷", "email": "li@example.cn",
                                   "lang": "zh_CN"}).id,
               "ann": users.create({"login": "ann", "name": "Ann", "email": "ann@example.com"}).id,
               "bob": users.create({"login": "bob", "name": "Bob"}).id,
               "old": users.create({"login": "old", "name": "Old", "email": "old@example.com",
                                    "active": False}).id}
    return ids


def rows(db, model, domain=(), fields=("id",)):
    with db.unit_of_work(None) as env:
        return env[model].search_read(list(domain), list(fields), order="id")


def test_send_writes_in_app_notifications_and_email_outbox_rows(db, people):
    with db.unit_of_work("admin") as env:
        customer = env["crm.customer"].create({"name": "华为技术有限公司"})
        done = notify.send(env, [people["li"], "ann", "bob", "old", "li"], "客户已分配",
                           "请在两天内联系", record=customer, kind="crm.assigned")
    assert done == {"notifications": 3, "outbox": 2}  # the inactive user gets nothing, li once
    notes = rows(db, "core.notification", [], ["owner_id", "message", "body", "model", "record_id",
                                               "is_read", "kind", "author_id"])
    assert [(n["owner_id"]["id"], n["message"], n["body"], n["model"], n["record_id"], n["is_read"],
             n["kind"]) for n in notes] == [
        (people[u], "客户已分配", "请在两天内联系", "crm.customer", customer.id, False, "crm.assigned")
        for u in ("li", "ann", "bob")]
    assert notes[0]["author_id"]["name"]  # sent by the admin
    out = rows(db, "core.outbox", [], ["channel", "recipient_id", "address", "subject", "state",
                                       "attempts", "next_attempt_at"])
    assert [(o["channel"], o["address"], o["state"], o["attempts"]) for o in out] == [
        ("email", "li@example.cn", "pending", 0), ("email", "ann@example.com", "pending", 0)]
    assert all(o["next_attempt_at"] is not None for o in out)  # due now


def test_a_rolled_back_transaction_sends_nothing(db, people):
    with pytest.raises(RuntimeError), db.unit_of_work("admin") as env:
        notify.send(env, ["li", "ann"], "会被回滚", channels=["email", "file"])
        raise RuntimeError("the business change failed")
    assert rows(db, "core.notification") == [] and rows(db, "core.outbox") == []


def test_bad_recipients_and_channels_are_refused_naming_them(db, people):
    with db.unit_of_work("admin") as env:
        with pytest.raises(UserInputError, match="'nobody'"):
            notify.send(env, ["li", "nobody"], "x")
        with pytest.raises(UserInputError, match="'fax'.*inapp, email, file"):
            notify.send(env, ["li"], "x", channels=["fax"])
        with pytest.raises(UserInputError, match="subject"):
            notify.send(env, ["li"], "")
        assert notify.send(env, [], "nobody to tell") == {"notifications": 0, "outbox": 0}


def test_opt_outs_are_honoured_per_channel_and_kind(db, people):
    with db.unit_of_work("admin") as env:
        notify.set_preferences(env, people["li"], {"email": False})
        notify.set_preferences(env, people["ann"], {"inapp": False})
        # ann wants no in-app notices but those about approvals
        env["core.notification_pref"].create({"owner_id": people["ann"], "channel": "inapp",
                                              "kind": "approval", "enabled": True})
        assert notify.preferences(env, people["li"]) == {"inapp": True, "email": False, "file": True}
        with pytest.raises(UserInputError, match="'sms'"):
            notify.set_preferences(env, people["li"], {"sms": False})
    with db.unit_of_work("admin") as env:
        assert notify.send(env, ["li", "ann"], "周报", kind="report") == {"notifications": 1,
                                                                        "outbox": 1}
        assert notify.send(env, ["li", "ann"], "审批结果", kind="approval.granted") == {
            "notifications": 2, "outbox": 1}
        # an approval waiting on ann shows in-app whatever she chose
        notify.set_preferences(env, people["ann"], {"inapp": False, "email": False})
    with db.unit_of_work("admin") as env:
        assert notify.send(env, ["ann"], "待审批", kind="report", mandatory=True) == {
            "notifications": 1, "outbox": 0}
    out = rows(db, "core.outbox", [], ["recipient_id"])
    assert {o["recipient_id"]["id"] for o in out} == {people["ann"]}  # li opted out of email


def test_subjects_may_follow_each_recipients_language(db, people):
    with db.unit_of_work("admin") as env:
        notify.send(env, ["li", "ann"], lambda lang: "你好" if lang == "zh_CN" else "Hello",
                    channels=[])
    assert [n["message"] for n in rows(db, "core.notification", [], ["message"])] == ["你好", "Hello"]
    assert rows(db, "core.outbox") == []  # channels=[]: in-app only


def test_a_workflow_notify_trigger_goes_through_the_service(db, people):
    with db.unit_of_work("admin") as env:
        env["core.user"].browse(env.uid).write({"email": "admin@example.cn"})
        qualify = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                          ["action", "=", "qualify"]])
        env["core.workflow_trigger"].create({
            "transition_id": qualify.id, "kind": "notify",
            "params": {"message": "{record} 已确认", "body": "由 {user} 推进", "to": ["owner", "li"],
                       "channels": ["email", "file"]}})
        customer = env["crm.customer"].create({"name": "客户甲"}).id
        opp = env["crm.opportunity"].create({"name": "大单", "customer_id": customer})
        opp.action("qualify")
        admin = env.uid
    notes = rows(db, "core.notification", [], ["owner_id", "message", "body", "kind", "record_id"])
    assert [(n["owner_id"]["id"], n["message"], n["body"], n["kind"]) for n in notes] == [
        (admin, "大单 已确认", "由 Administrator 推进", "workflow"),
        (people["li"], "大单 已确认", "由 Administrator 推进", "workflow")]
    assert {n["record_id"] for n in notes} == {opp.id}
    out = rows(db, "core.outbox", [], ["channel", "address", "subject", "body"])
    assert sorted((o["channel"], o["address"]) for o in out) == [
        ("email", "admin@example.cn"), ("email", "li@example.cn"), ("file", None), ("file", None)]
    assert {o["subject"] for o in out} == {"大单 已确认"}


def test_approval_notices_go_through_the_service_in_the_recipients_language(org):  # noqa: F811
    db, u = org["db"], org["users"]
    with db.unit_of_work(None) as env:
        env["core.user"].browse(u["M1"]).write({"email": "m1@example.cn", "lang": "zh_CN"})
        env["core.user"].browse(u["R1"]).write({"email": "r1@example.cn"})
        # the requester opted out of in-app notices; the approver tried to as well
        notify.set_preferences(env, u["R1"], {"inapp": False})
        notify.set_preferences(env, u["M1"], {"inapp": False})
    policy(db, TWO_LEVELS)
    rid = opportunity(org)
    request = win(org, "R1", rid).approval["id"]
    act(org, "M1", approvals.reject, request, "价格太低")
    notes = rows(db, "core.notification", [], ["owner_id", "message", "kind"])
    # the request waiting on M1 is shown to M1 anyway; R1's rejection is not
    assert [(n["owner_id"]["id"], n["kind"]) for n in notes] == [(u["M1"], "approval.requested")]
    assert "R1 商机" in notes[0]["message"] and "win" in notes[0]["message"]
    out = rows(db, "core.outbox", [], ["recipient_id", "subject", "kind"])
    assert [(o["recipient_id"]["id"], o["kind"]) for o in out] == [
        (u["M1"], "approval.requested"), (u["R1"], "approval.rejected")]
    assert "价格太低" in out[1]["subject"] and out[1]["subject"].startswith("Approval rejected")


def test_channel_records_that_could_not_work_are_refused():
    notify.check_channel({"code": "wecom", "type": "webhook", "url": "https://qyapi.weixin.qq.com/x"})
    with pytest.raises(UserInputError, match="'inapp'"):
        notify.check_channel({"code": "inapp", "type": "file"})
    with pytest.raises(UserInputError, match="http:// or https://.*'ftp://x'"):
        notify.check_channel({"code": "ding", "type": "webhook", "url": "ftp://x"})
    with pytest.raises(UserInputError, match="timeout 0"):
        notify.check_channel({"code": "ding", "type": "file", "timeout": 0})


def test_the_delivery_job_is_registered_every_minute(db):
    with db.unit_of_work(None) as env:
        [job] = env["core.job"].search_read([["key", "=", "core.notify.deliver"]],
                                            ["function", "interval", "active"])
    assert (job["function"], job["interval"], job["active"]) == ("core.services.notify:deliver", 60, True)


def test_channels_are_read_once_per_registry_and_a_change_reaches_every_process(db, people):
    """The channel list is shared by units of work (no query per send) and
    a channel added by an administrator in one process is used by another
    on its next unit of work; a rolled-back change is seen by nobody."""
    from core.db import Database
    other = Database(db.url)
    with other.unit_of_work(None) as env:
        assert "pager" not in notify.available_channels(env)
    with db.unit_of_work("admin") as env:
        env["core.notification_channel"].create({"code": "pager", "label": "Pager", "type": "webhook",
                                                 "url": "http://127.0.0.1:9/hook"})
        assert "pager" in notify.available_channels(env)  # this transaction sees its own row
    with other.unit_of_work(None) as env:
        assert "pager" in notify.available_channels(env)
        first = notify.available_channels(env)
    with other.unit_of_work(None) as env:
        assert notify.available_channels(env) is first  # shared, not read again
    with pytest.raises(RuntimeError), db.unit_of_work("admin") as env:
        env["core.notification_channel"].create({"code": "fax", "label": "Fax", "type": "webhook",
                                                 "url": "http://127.0.0.1:9/fax"})
        raise RuntimeError("rolled back")
    with other.unit_of_work(None) as env:
        assert "fax" not in notify.available_channels(env)
    other.dispose()
