"""Delivering the outbox (``core.services.notify.deliver``, the job
``core.notify.deliver``) through real servers: SMTP to an aiosmtpd server
on 127.0.0.1, webhooks to an ``http.server`` in a thread, the file channel
and the development mail sink; failures retried with back-off, then failed;
an addon's channel from ``keel_notification_channels``."""
import datetime as dt
import email
import email.policy
import http.server
import json
import socket
import threading
import urllib.parse

import pytest
from aiosmtpd.controller import Controller

from core import hookimpl
from core.config import load_config
from core.services import mail, notify
from core.services.channels import WebhookChannel
from tests.conftest import addon_module, available_with


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook(http.server.BaseHTTPRequestHandler):
    """Records every POST; answers ``server.answers`` in turn (status, body)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, json.loads(body.decode("utf-8"))))
        status, text = self.server.answers.pop(0) if self.server.answers else (200, '{"errcode":0}')
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    server.received, server.answers = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.mail_from, envelope.rcpt_tos,
                              email.message_from_bytes(envelope.content, policy=email.policy.default)))
        return "250 OK"


@pytest.fixture
def smtp():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    box.url = f"smtp://{controller.hostname}:{controller.port}"
    yield box
    controller.stop()


@pytest.fixture
def people(db):
    with db.unit_of_work(None) as env:
        users = env["core.user"]
        return {"li": users.create({"login": "li", "name": "李雷", "email": "li@example.cn",
                                    "lang": "zh_CN"}).id,
                "ann": users.create({"login": "ann", "name": "Ann", "email": "ann@example.com"}).id}


def run(db, config, hours=0):
    """One run of the job, ``hours`` from now."""
    with db.unit_of_work(None, context={"config": config}) as env:
        env.now = env.now + dt.timedelta(hours=hours)
        return notify.deliver(env)


def outbox(db):
    with db.unit_of_work(None) as env:
        return env["core.outbox"].search_read([], ["channel", "state", "attempts", "last_error",
                                                   "next_attempt_at", "sent_at"], order="id")


def send(db, *args, **kwargs):
    with db.unit_of_work("admin") as env:
        return notify.send(env, *args, **kwargs)


def test_email_reaches_an_smtp_server_with_a_chinese_subject(db, people, smtp, tmp_path):
    config = load_config(environ={}, data_dir=str(tmp_path), smtp_url=smtp.url,
                         mail_from="Keel <keel@example.cn>")
    send(db, ["li", "ann"], "审批通过：华东大单", "金额 ¥200,000，请跟进。")
    assert smtp.messages == []  # nothing leaves before the job runs
    assert run(db, config) == {"sent": 2, "retried": 0, "failed": 0}
    assert [(frm, to) for frm, to, _m in smtp.messages] == [
        ("keel@example.cn", ["li@example.cn"]), ("keel@example.cn", ["ann@example.com"])]
    message = smtp.messages[0][2]
    assert message["Subject"] == "审批通过：华东大单"
    assert "=?utf-8?" in message.as_string().lower()  # encoded on the wire (RFC 2047)
    assert message["To"].addresses[0].display_name == "李雷"
    assert message.get_content().strip() == "金额 ¥200,000，请跟进。"
    assert [(o["state"], o["attempts"]) for o in outbox(db)] == [("sent", 1), ("sent", 1)]
    assert run(db, config) == {"sent": 0, "retried": 0, "failed": 0}  # sent once only


def test_without_smtp_url_mail_goes_to_files_under_the_data_dir(db, people, tmp_path):
    config = load_config(environ={}, data_dir=str(tmp_path), smtp_url="")
    send(db, ["li"], "开发环境邮件", "正文")
    assert run(db, config)["sent"] == 1
    [path] = (tmp_path / "mail").glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Subject"] == "开发环境邮件" and message["To"].addresses[0].addr_spec == "li@example.cn"


def test_failures_are_retried_with_back_off_then_failed(db, people, tmp_path):
    config = load_config(environ={}, data_dir=str(tmp_path), smtp_url=f"smtp://127.0.0.1:{free_port()}")
    send(db, ["li"], "无法送达")
    assert run(db, config) == {"sent": 0, "retried": 1, "failed": 0}
    [row] = outbox(db)
    assert row["state"] == "pending" and row["attempts"] == 1 and "Connection" in row["last_error"]
    first_wait = row["next_attempt_at"]
    assert run(db, config)["retried"] == 0  # not due yet: waits a minute
    waits = []
    for attempt in range(2, notify.MAX_ATTEMPTS + 1):
        done = run(db, config, hours=attempt)  # well past each wait
        [row] = outbox(db)
        assert row["attempts"] == attempt
        if attempt < notify.MAX_ATTEMPTS:
            assert done["retried"] == 1
            waits.append(row["next_attempt_at"])
    assert done == {"sent": 0, "retried": 0, "failed": 1}
    assert row["state"] == "failed" and row["next_attempt_at"] is None
    # each wait twice the one before: 1, 2, 4, 8 minutes after its attempt
    assert [(w - dt.timedelta(hours=h)) for w, h in zip(waits, range(2, 5))] == [
        first_wait - dt.timedelta(minutes=1) + dt.timedelta(minutes=m) for m in (2, 4, 8)]
    assert run(db, config, hours=48)["sent"] == 0  # a failed row stays failed
    with db.unit_of_work("admin") as env:  # until an administrator puts it back
        assert notify.retry(env, [row["id"]]) == 1
    ok = load_config(environ={}, data_dir=str(tmp_path), smtp_url="")
    assert run(db, ok)["sent"] == 1 and outbox(db)[0]["state"] == "sent"


def channel(db, code, fmt, url, secret=None):
    with db.unit_of_work("admin") as env:
        env["core.notification_channel"].create({"code": code, "label": code, "type": "webhook",
                                                 "format": fmt, "url": url, "secret": secret})


@pytest.mark.parametrize("fmt", ["generic", "wecom", "dingtalk", "feishu"])
def test_webhooks_post_each_format_to_an_http_server(db, people, webhook, tmp_path, fmt):
    channel(db, "chat", fmt, webhook.url + "/robot/send?access_token=abc",
            secret="SEC-秘钥" if fmt in ("dingtalk", "feishu") else None)
    with db.unit_of_work("admin") as env:
        customer = env["crm.customer"].create({"name": "阿里巴巴"})
        notify.send(env, ["li"], "新客户", "请跟进阿里巴巴", record=customer, channels=["chat"],
                    payload={"priority": "high"})
    assert run(db, load_config(environ={}, data_dir=str(tmp_path)))["sent"] == 1
    [(path, body)] = webhook.received
    text = "李雷: 新客户\n请跟进阿里巴巴"
    if fmt == "generic":
        assert body["subject"] == "新客户" and body["body"] == "请跟进阿里巴巴"
        assert body["recipient"]["login"] == "li" and body["address"] is None
        assert body["record"] == {"model": "crm.customer", "id": customer.id}
        assert body["payload"] == {"priority": "high"} and body["channel"] == "chat"
    elif fmt in ("wecom", "dingtalk"):
        assert body == {"msgtype": "text", "text": {"content": text}}
    else:
        assert body["msg_type"] == "text" and body["content"] == {"text": text}
        assert body["timestamp"].isdigit() and body["sign"]  # signed (飞书 签名校验)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    assert query["access_token"] == ["abc"]
    assert ("sign" in query) == (fmt == "dingtalk")  # DingTalk signs the address (加签)


def test_a_non_2xx_answer_or_a_robots_error_code_is_retried(db, people, webhook, tmp_path):
    channel(db, "wecom", "wecom", webhook.url)
    webhook.answers = [(500, "boom"), (200, '{"errcode":93000,"errmsg":"invalid webhook url"}')]
    send(db, ["li"], "重试", channels=["wecom"])
    config = load_config(environ={}, data_dir=str(tmp_path))
    assert run(db, config)["retried"] == 1
    assert "HTTP 500" in outbox(db)[0]["last_error"]
    assert run(db, config, hours=1)["retried"] == 1
    assert "93000" in outbox(db)[0]["last_error"]
    assert run(db, config, hours=2)["sent"] == 1 and len(webhook.received) == 3


def test_the_file_channel_writes_json_lines(db, people, tmp_path):
    send(db, ["li", "ann"], "日志通知", "内容", channels=["file"])
    assert run(db, load_config(environ={}, data_dir=str(tmp_path)))["sent"] == 2
    lines = (tmp_path / "notifications.log").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["recipient"]["name"] for line in lines] == ["李雷", "Ann"]
    assert "日志通知" in lines[0]  # UTF-8, not \\u escapes


def test_an_inactive_channel_record_turns_a_builtin_off(db, people):
    with db.unit_of_work("admin") as env:
        env["core.notification_channel"].create({"code": "email", "label": "Email", "type": "email",
                                                 "active": False})
    assert send(db, ["li"], "不发邮件") == {"notifications": 1, "outbox": 0}


SMS_SENT = []


class Sms:
    code, label, default = "sms", "Text message", True

    def address(self, user):
        return None if user["login"] == "ann" else "+86 138 0000 0000"

    def deliver(self, message):
        if message.attempt == 1:
            raise ConnectionError("gateway busy")
        SMS_SENT.append((message.address, message.text))


def test_an_addons_channel_from_the_hook(make_db, tmp_path):
    module = addon_module("sms_gateway", depends=["base"],
                          keel_notification_channels=hookimpl(lambda: [Sms()]))
    db = make_db(addons=["sms_gateway"], available=available_with(module))
    with db.unit_of_work(None) as env:
        env["core.user"].create([{"login": "li", "name": "李雷"}, {"login": "ann", "name": "Ann"}])
    assert send(db, ["li", "ann"], "验证码 1234") == {"notifications": 2, "outbox": 1}  # default
    config = load_config(environ={}, data_dir=str(tmp_path))
    assert run(db, config)["retried"] == 1 and run(db, config, hours=1)["sent"] == 1
    assert SMS_SENT == [("+86 138 0000 0000", "验证码 1234")]


def test_smtp_urls_are_parsed_and_malformed_ones_refused():
    assert mail.parse_url("smtps://a%40b.cn:p%3Ass@mail.example.cn") == {
        "scheme": "smtps", "host": "mail.example.cn", "port": 465, "user": "a@b.cn",
        "password": "p:ss", "starttls": False}
    assert mail.parse_url("smtp://u:p@h?starttls=1")["port"] == 587
    with pytest.raises(Exception, match=r"smtp_url 'http://u:\*\*\*@h'"):
        mail.parse_url("http://u:secret@h")


def test_a_webhook_channel_refuses_an_unknown_format():
    with pytest.raises(ValueError, match="telegram"):
        WebhookChannel("x", "X", "http://127.0.0.1", "telegram")
