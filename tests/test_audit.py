"""The audit log (issue 3, point 9): create, write (old → new per field),
unlink and other events, with user, time and source; one INSERT per batch;
history per record and activity per user for those allowed; the log cannot
be written through the model API."""
import datetime as dt
import decimal

import pytest
import sqlalchemy as sa

from core import fields as F
from core import hookimpl
from core.errors import AccessDenied, NotFound, UserInputError
from core.models import Model
from core.security import audit
from core.security.roles import apply_grants
from tests.conftest import StatementCounter, addon_module, available_with


def entries(env, **where):
    """Every audit row matching ``where``, oldest first."""
    table = env.registry["core.audit"].table
    stmt = sa.select(table).where(*[table.c[k] == v for k, v in where.items()]).order_by(table.c.id)
    return [dict(r) for r in env.conn.execute(stmt).mappings()]


def count(env):
    table = env.registry["core.audit"].table
    return env.conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


# -- create ---------------------------------------------------------------------------


def test_create_logs_each_record_with_its_values_user_time_and_source(db):
    with db.unit_of_work("admin", context={"source": "web"}) as env:
        made = env["crm.customer"].create([
            {"name": "上海华盛科技有限公司", "city": "上海", "phone": "021-1234"},
            {"name": "Acme Ltd", "kind": "person"}])
        uid, now = env.uid, env.now
    with db.unit_of_work("admin") as env:
        rows = entries(env, model="crm.customer")
    assert [(r["record_id"], r["action"], r["user_id"], r["at"], r["source"]) for r in rows] == [
        (made.ids[0], "create", uid, now, "web"), (made.ids[1], "create", uid, now, "web")]
    first, second = rows[0]["changes"], rows[1]["changes"]
    # the business values as stored (defaults and sequence codes included),
    # Chinese text as it was given
    assert first["name"] == "上海华盛科技有限公司" and first["city"] == "上海"
    assert first["phone"] == "021-1234" and first["kind"] == "company" and first["owner_id"] == uid
    assert first["code"] and first["code"] != second["code"]
    assert second["kind"] == "person" and "city" not in second  # None values left out
    for changes in (first, second):
        assert not set(changes) & {"id", "version", "created_at", "created_by_id", "updated_at",
                                   "updated_by_id"}
        assert None not in changes.values()


def test_a_batch_create_inserts_its_audit_entries_in_one_statement(db):
    n = 1000
    with db.unit_of_work("admin") as env:
        before = count(env)
        with StatementCounter(db.engine) as counter:
            made = env["crm.customer"].create([{"name": f"客户{i:04d}", "city": "杭州"} for i in range(n)])
        assert count(env) - before == n
        rows = entries(env, model="crm.customer", action="create")
    audit_statements = [s for s in counter.statements if "core_audit" in s]
    assert len(audit_statements) == 1, audit_statements
    assert sorted(r["record_id"] for r in rows) == sorted(made.ids)
    assert {r["changes"]["name"]: r["record_id"] for r in rows}["客户0042"] == made.ids[42]


# -- write ----------------------------------------------------------------------------


def test_write_logs_old_and_new_values_of_the_fields_that_changed(db):
    with db.unit_of_work("admin") as env:
        a, b = env["crm.customer"].create([{"name": "甲", "city": "北京"}, {"name": "乙", "city": "上海"}])
    with db.unit_of_work("admin", context={"source": "api"}) as env:
        # name unchanged for a, city unchanged for b (not a phone: one phone written on
        # two customers would make them duplicates, refused)
        env["crm.customer"].browse([a.id, b.id]).write({"city": "上海", "region": "华东"})
        env["crm.customer"].browse(a.id).write({"name": "甲", "level": "金牌"})
        uid, now = env.uid, env.now
    with db.unit_of_work("admin") as env:
        rows = entries(env, model="crm.customer", action="write")
    assert [(r["record_id"], r["changes"]) for r in rows] == [
        (a.id, {"city": ["北京", "上海"], "region": [None, "华东"]}),
        (b.id, {"region": [None, "华东"]}),
        (a.id, {"level": [None, "金牌"]})]
    assert {(r["user_id"], r["at"], r["source"]) for r in rows} == {(uid, now, "api")}


def test_a_write_that_changes_nothing_logs_nothing(db):
    with db.unit_of_work("admin") as env:
        c = env["crm.customer"].create({"name": "丙", "city": "广州", "in_pool": False})
    with db.unit_of_work("admin") as env:
        before = count(env)
        env["crm.customer"].browse(c.id).write({"name": "丙", "city": "广州", "in_pool": False})
        assert count(env) == before


# -- unlink ---------------------------------------------------------------------------


def test_unlink_logs_each_record(db):
    with db.unit_of_work("admin") as env:
        made = env["crm.customer"].create([{"name": "丁"}, {"name": "戊"}])
    with db.unit_of_work(None) as env:  # the system context
        env["crm.customer"].browse(made.ids).unlink()
        now = env.now
    with db.unit_of_work("admin") as env:
        rows = entries(env, model="crm.customer", action="unlink")
    assert [(r["record_id"], r["changes"], r["at"], r["source"]) for r in rows] == [
        (made.ids[0], None, now, "system"), (made.ids[1], None, now, "system")]


# -- values that are not JSON as they are --------------------------------------------------


def _total(values):
    qty, price = values.get("qty"), values.get("price")
    return None if qty is None or price is None else decimal.Decimal(qty) * price


def typed_addon():
    model = Model("test.audited", "Audited", fields={
        "name": F.Char("Name", required=True),
        "qty": F.Integer("Quantity"),
        "price": F.Decimal("Price", digits=12, scale=2),
        "total": F.Decimal("Total", compute=_total, depends=("qty", "price"), readonly=True),
        "flag": F.Boolean("Flag"),
        "day": F.Date("Day"),
        "at": F.Datetime("At"),
        "data": F.Json("Data"),
        "blob": F.Binary("Blob"),
        "pin": F.Char("PIN", secret=True),
    })
    return addon_module("audittest", keel_models=hookimpl(lambda: [model]))


@pytest.fixture
def typed_db(make_db):
    return make_db(addons=["crm_base", "audittest"], available=available_with(typed_addon()))


def test_decimals_dates_binaries_and_secrets_are_logged_as_json(typed_db):
    with typed_db.unit_of_work("admin") as env:
        rec = env.sudo()["test.audited"].create({  # secret fields: system context only
            "name": "样品", "qty": 2, "price": decimal.Decimal("9.90"), "flag": True,
            "day": dt.date(2026, 1, 31), "at": dt.datetime(2026, 1, 31, 8, 30), "data": {"标签": ["甲"]},
            "blob": b"\x00\x01binary", "pin": "1234"})
    with typed_db.unit_of_work("admin") as env:
        created = entries(env, model="test.audited", action="create")[0]["changes"]
    assert created["name"] == "样品" and created["qty"] == 2 and created["flag"] is True
    assert decimal.Decimal(created["price"]) == decimal.Decimal("9.90")
    assert decimal.Decimal(created["total"]) == decimal.Decimal("19.80")
    assert created["day"] == "2026-01-31" and created["at"] == "2026-01-31T08:30:00"
    assert created["data"] == {"标签": ["甲"]}
    assert created["blob"]["size"] == 8 and len(created["blob"]["sha256"]) == 64
    assert created["pin"] == "***"  # a secret is never copied into the log
    with typed_db.unit_of_work("admin") as env:
        other = env["test.audited"].create({"name": "另一个", "qty": 1, "price": 5})
        # two records: the computed total differs per record and is logged per record
        env.sudo()["test.audited"].browse([rec.id, other.id]).write({"price": "10", "pin": "9999"})
        env["test.audited"].browse(rec.id).write({"day": "2026-02-01", "flag": False})
    with typed_db.unit_of_work("admin") as env:
        written = {(r["record_id"], i): r["changes"]
                   for i, r in enumerate(entries(env, model="test.audited", action="write"))}
    first, second, third = (written[k] for k in sorted(written, key=lambda k: k[1]))
    assert sorted(first) == ["pin", "price", "total"]
    assert [decimal.Decimal(v) for v in first["price"]] == [decimal.Decimal("9.90"), decimal.Decimal(10)]
    assert [decimal.Decimal(v) for v in first["total"]] == [decimal.Decimal("19.80"), decimal.Decimal(20)]
    assert first["pin"] == ["***", "***"]
    assert [decimal.Decimal(v) for v in second["total"]] == [decimal.Decimal(5), decimal.Decimal(10)]
    assert third == {"day": ["2026-01-31", "2026-02-01"], "flag": [True, False]}


# -- source ---------------------------------------------------------------------------


def test_source_comes_from_the_context_else_system_or_cli(db):
    for user, context, expected in (("admin", None, "cli"), (None, None, "system"),
                                    (None, {"source": "job"}, "job"), ("admin", {"source": "api"}, "api")):
        with db.unit_of_work(user, context=context) as env:
            rec = env["crm.customer"].create({"name": f"来源 {expected}"})
            assert entries(env, model="crm.customer", record_id=rec.id)[0]["source"] == expected
    with db.unit_of_work("admin", context={"source": "telepathy"}) as env:
        with pytest.raises(ValueError, match="unknown source"):
            audit.log(env, "login")


def test_sudo_keeps_the_real_user(db):
    with db.unit_of_work("admin") as env:
        rep = env["core.user"].create({"login": "rep", "name": "Rep"})
    with db.unit_of_work("rep") as env:
        rec = env.sudo()["crm.customer"].create({"name": "系统代建"})
        row = entries(env, model="crm.customer", record_id=rec.id)[0]
    assert row["user_id"] == rep.id and row["source"] == "system"


# -- other events ---------------------------------------------------------------------------


def test_log_records_other_events(db):
    with db.unit_of_work("admin", context={"source": "web"}) as env:
        uid = env.uid
        audit.log(env, "login", "core.user", uid, {"ip": "10.0.0.1"})
        audit.log(env, "export", "crm.customer", changes={
            "count": 3, "fields": ("name", "city"), "limit": decimal.Decimal("1.5"),
            "since": dt.date(2026, 1, 1), "备注": "导出"})
        audit.log(env, "approval", "crm.customer", 7, {"decision": "approved", "comment": "同意"})
    with db.unit_of_work(None, context={"source": "web"}) as env:
        # a failed sign-in is logged by the system context, for the account tried
        audit.log(env, "login_failed", "core.user", uid, {"login": "admin"}, user_id=uid)
        audit.log(env, "login_failed", changes={"login": "nobody"}, user_id=None)
    with db.unit_of_work("admin") as env:
        rows = [r for r in entries(env) if r["action"] in ("login", "export", "approval", "login_failed")]
    assert [(r["action"], r["model"], r["record_id"], r["user_id"], r["source"]) for r in rows] == [
        ("login", "core.user", uid, uid, "web"), ("export", "crm.customer", None, uid, "web"),
        ("approval", "crm.customer", 7, uid, "web"), ("login_failed", "core.user", uid, uid, "web"),
        ("login_failed", None, None, None, "web")]
    assert rows[1]["changes"] == {"count": 3, "fields": ["name", "city"], "limit": "1.5",
                                  "since": "2026-01-01", "备注": "导出"}
    assert rows[2]["changes"] == {"decision": "approved", "comment": "同意"}


def test_log_refuses_a_missing_action_or_an_unknown_model(env):
    with pytest.raises(UserInputError):
        audit.log(env, "")
    with pytest.raises(UserInputError, match="unknown model"):
        audit.log(env, "export", "no.such_model")


# -- reading ----------------------------------------------------------------------------


def test_history_is_one_records_entries_newest_first(db):
    with db.unit_of_work("admin") as env:
        a, b = env["crm.customer"].create([{"name": "历史"}, {"name": "其他"}])
    with db.unit_of_work("admin", context={"source": "web"}) as env:
        env["crm.customer"].browse(a.id).write({"city": "南京"})
        env["crm.customer"].browse(b.id).write({"city": "苏州"})
    with db.unit_of_work("admin", context={"source": "api"}) as env:
        env["crm.customer"].browse(a.id).write({"city": "无锡"})
        audit.log(env, "transition", "crm.customer", a.id, {"from": "potential", "to": "key"})
    with db.unit_of_work("admin") as env:
        env["crm.customer"].browse(a.id).unlink()
        history = audit.history(env, "crm.customer", a.id)
        assert [h["id"] for h in audit.history(env, "crm.customer", a.id, limit=2)] == \
            [h["id"] for h in history[:2]]
        assert audit.history(env, "crm.customer", a.id, limit=2, offset=3) == history[3:5]
    assert [h["action"] for h in history] == ["unlink", "transition", "write", "write", "create"]
    assert [h["changes"] for h in history[1:4]] == [
        {"from": "potential", "to": "key"}, {"city": ["南京", "无锡"]}, {"city": [None, "南京"]}]
    assert [h["source"] for h in history] == ["cli", "api", "api", "web", "cli"]
    assert {(h["model"], h["record_id"], h["user"]) for h in history} == \
        {("crm.customer", a.id, "Administrator")}
    assert history[0]["at"] >= history[-1]["at"]


def test_user_activity_is_one_users_entries_newest_first(db):
    with db.unit_of_work("admin") as env:
        env["core.user"].create({"login": "rep", "name": "销售甲"})
    with db.unit_of_work("rep") as env:
        rep = env.uid
        c = env.sudo()["crm.customer"].create({"name": "甲的客户"})
        env.sudo()["crm.customer"].browse(c.id).write({"city": "厦门"})
        audit.log(env, "export", "crm.customer", changes={"count": 1})
    with db.unit_of_work("admin") as env:
        env["crm.customer"].browse(c.id).write({"city": "福州"})  # by admin: not in rep's activity
        activity = audit.user_activity(env, rep)
        assert [a["action"] for a in audit.user_activity(env, rep, model="crm.customer")] == \
            ["export", "write", "create"]
        assert [a["id"] for a in audit.user_activity(env, rep, limit=1)] == [activity[0]["id"]]
    assert [(a["action"], a["model"]) for a in activity] == [
        ("export", "crm.customer"), ("write", "crm.customer"), ("create", "crm.customer")]
    assert {a["user_id"] for a in activity} == {rep} and {a["user"] for a in activity} == {"销售甲"}
    assert activity[1]["changes"] == {"city": [None, "厦门"]}


@pytest.fixture
def people(db):
    """Reps r1 and r2 (own customers, credit limit hidden), an auditor (may
    read the whole log), and a customer of each rep."""
    with db.unit_of_work() as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        apply_grants(env, roles["sales_rep"], "sales_rep",
                     {"fields": {"crm.customer": {"credit_limit": "hidden"}}})
        auditor = env["core.role"].create({"code": "auditor", "name": "审计"})
        apply_grants(env, auditor.id, "auditor", {"permissions": {"core.audit": ["read"]},
                                                  "scopes": {"core.audit": "all"}})
        users = {login: env["core.user"].create({"login": login, "name": login, "roles": [role]}).id
                 for login, role in (("r1", roles["sales_rep"]), ("r2", roles["sales_rep"]),
                                     ("aud", auditor.id))}
    customers = {}
    for rep in ("r1", "r2"):
        with db.unit_of_work(rep) as env:
            customers[rep] = env["crm.customer"].create({"name": f"{rep} 的客户", "city": "上海"}).id
    with db.unit_of_work() as env:
        env["crm.customer"].browse(customers["r1"]).write({"credit_limit": 50000})
    return users, customers


def test_history_is_readable_by_auditors_and_by_those_who_see_the_record(db, people):
    users, customers = people
    with db.unit_of_work("r1") as env:
        history = audit.history(env, "crm.customer", customers["r1"])
        # the field hidden from reps is left out of what they read (and a
        # write of hidden fields alone with it)
        assert [h["action"] for h in history] == ["create"]
        assert "credit_limit" not in history[0]["changes"] and history[0]["changes"]["city"] == "上海"
        with pytest.raises(NotFound):  # answered exactly as a missing record
            audit.history(env, "crm.customer", customers["r2"])
    for reader in ("aud", "admin"):
        with db.unit_of_work(reader) as env:
            assert audit.history(env, "crm.customer", customers["r1"])[0]["changes"] == {
                "credit_limit": [None, "50000.00"]}
            assert [h["action"] for h in audit.history(env, "crm.customer", customers["r2"])] == ["create"]


def test_user_activity_is_readable_by_auditors_and_by_the_user_themself(db, people):
    users, customers = people
    with db.unit_of_work("r1") as env:
        assert [(a["action"], a["record_id"]) for a in audit.user_activity(env, users["r1"])] == [
            ("create", customers["r1"])]
        with pytest.raises(AccessDenied):
            audit.user_activity(env, users["r2"])
    with db.unit_of_work("aud") as env:
        assert [(a["action"], a["record_id"]) for a in audit.user_activity(env, users["r2"])] == [
            ("create", customers["r2"])]


# -- the log itself -------------------------------------------------------------------


def test_the_audit_log_cannot_be_written_through_the_model_API(db):
    with db.unit_of_work("admin") as env:
        rec = env["crm.customer"].create({"name": "被审计"})
        entry = entries(env, model="crm.customer", record_id=rec.id)[0]
    for user in ("admin", None):  # not by an administrator, not by the system context
        with db.unit_of_work(user) as env:
            log = env["core.audit"]
            with pytest.raises(AccessDenied):
                log.create({"action": "create", "model": "crm.customer", "record_id": 999})
            with pytest.raises(AccessDenied):
                log.browse(entry["id"]).write({"action": "forged"})
            with pytest.raises(AccessDenied):
                log.browse(entry["id"]).unlink()
            with pytest.raises(AccessDenied):
                env.sudo()["core.audit"].browse(entry["id"]).unlink()
    with db.unit_of_work("admin") as env:
        assert entries(env, model="crm.customer", record_id=rec.id) == [entry]
        assert not entries(env, model="core.audit")  # and the log does not log itself
