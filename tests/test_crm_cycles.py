"""Contact cycles and reminders (issue 7 point 7), with a frozen clock:
a follow-up without a next date plans the next contact from the customer's
(or its grade's) cycle; the daily job gives the owner a to-do and a
notification for customers due the next day, once; after-sale service
visits are reminded from the last visit and the service cycle; the
workbench card counts the customers due today and overdue."""
import datetime as dt

import pytest

from addons.crm_base import cycles, keel_workbench_cards
from tests.test_api_security import create_personas

TODAY = dt.datetime(2026, 3, 2, 10, 30)   # a Monday morning
TOMORROW = TODAY.date() + dt.timedelta(days=1)


def unit(db, login, now):
    """A unit of work as ``login`` (``None``: the system, as jobs run) whose clock is ``now``."""
    return db.unit_of_work(login, now=now)


@pytest.fixture
def world(db):
    users = create_personas(db)
    with unit(db, "r1", TODAY) as env:
        customers = env["crm.customer"].create([
            {"name": "上海明远机械有限公司", "contact_cycle_days": 1},
            {"name": "广州恒达商贸有限公司", "grade": "intent"},
            {"name": "北京智联科技股份有限公司", "grade": "deal"}])
    return {"db": db, "users": users, "customers": customers.ids}


def log_followup(db, customer, at, login="r1", **values):
    with unit(db, login, at) as env:
        return env["crm.interaction"].create({"customer_id": customer, "summary": "电话沟通需求",
                                              "at": at, **values}).id


def customer(db, rid, fields=("next_contact_at", "last_service_at")):
    with unit(db, None, TODAY) as env:
        return env["crm.customer"].browse(rid).read(list(fields))[0]


def run_job(db, now):
    with unit(db, None, now) as env:
        return cycles.daily(env)


def todos(db, login):
    with unit(db, login, TODAY) as env:
        return env["core.activity"].search_read([["done", "=", False]], ["summary", "due_date", "model",
                                                                         "record_id"])


def notifications(db, login):
    with unit(db, login, TODAY) as env:
        return env["core.notification"].search_read([], ["message", "model", "record_id"])


def test_a_followup_without_a_date_plans_the_next_contact_from_the_cycle(world):
    db, (own, intent, deal) = world["db"], world["customers"]
    log_followup(db, own, TODAY)
    assert customer(db, own)["next_contact_at"] == TODAY + dt.timedelta(days=1)
    log_followup(db, intent, TODAY)  # no cycle of its own: the grade's (intent: 14 days)
    assert customer(db, intent)["next_contact_at"] == TODAY + dt.timedelta(days=14)
    with unit(db, "admin", TODAY) as env:  # the admin shortens the deal cycle
        env["crm.contact_cycle"].search([["grade", "=", "deal"]]).write({"contact_days": 7})
    log_followup(db, deal, TODAY)
    assert customer(db, deal)["next_contact_at"] == TODAY + dt.timedelta(days=7)
    # a date given wins over the cycle
    given = dt.datetime(2026, 3, 20, 9)
    log_followup(db, own, TODAY, next_contact_at=given)
    assert customer(db, own)["next_contact_at"] == given


def test_log_a_followup_today_get_tomorrows_reminder_once(world):
    db, (own, intent, _deal) = world["db"], world["customers"]
    log_followup(db, own, TODAY)
    log_followup(db, intent, TODAY)  # due in 14 days: no reminder now
    assert run_job(db, TODAY.replace(hour=23)) == {"contact": 1, "service": 0}
    (todo,) = todos(db, "r1")
    assert todo["summary"] == f"Contact 上海明远机械有限公司 (due {TOMORROW.isoformat()})"
    assert (todo["due_date"], todo["model"], todo["record_id"]) == (TOMORROW, "crm.customer", own)
    (note,) = notifications(db, "r1")
    assert "上海明远机械有限公司" in note["message"] and note["record_id"] == own
    # the job runs again, and again the next morning: nobody is reminded twice
    assert run_job(db, TODAY.replace(hour=23, minute=30)) == {"contact": 0, "service": 0}
    assert run_job(db, TODAY + dt.timedelta(days=1)) == {"contact": 0, "service": 0}
    assert len(todos(db, "r1")) == 1 and len(notifications(db, "r1")) == 1
    assert todos(db, "r2") == [] and notifications(db, "m1") == []
    # contacted again tomorrow: the next due date (the day after) gets its own reminder
    log_followup(db, own, TODAY + dt.timedelta(days=1))
    assert run_job(db, TODAY + dt.timedelta(days=1, hours=1)) == {"contact": 1, "service": 0}
    assert sorted(t["due_date"] for t in todos(db, "r1")) == [TOMORROW, TOMORROW + dt.timedelta(days=1)]


def test_the_reminder_speaks_the_owners_language(world, monkeypatch):
    db, (own, _i, _d) = world["db"], world["customers"]
    with unit(db, "admin", TODAY) as env:
        env["core.user"].browse(world["users"]["R1"]).write({"lang": "zh_CN"})
    # the catalogs are merged later: see which language each text is asked in
    monkeypatch.setattr(cycles, "translate", lambda text, lang: f"[{lang}] {text}")
    log_followup(db, own, TODAY)
    run_job(db, TODAY)
    (todo,) = todos(db, "r1")
    assert todo["summary"] == f"[zh_CN] Contact 上海明远机械有限公司 (due {TOMORROW.isoformat()})"
    (note,) = notifications(db, "r1")
    assert note["message"].startswith("[zh_CN] Contact 上海明远机械有限公司")


def test_customers_without_an_owner_are_not_reminded(world):
    db, (own, _i, _d) = world["db"], world["customers"]
    log_followup(db, own, TODAY)
    with unit(db, None, TODAY) as env:
        env["crm.customer"].browse(own).write({"owner_id": None})
    assert run_job(db, TODAY) == {"contact": 0, "service": 0}


def test_after_sale_service_reminders(world):
    db, (own, _intent, deal) = world["db"], world["customers"]
    # the deal grade's service cycle (90 days) from a service visit logged 89 days ago
    log_followup(db, deal, TODAY - dt.timedelta(days=89), is_service=True, channel="visit")
    assert customer(db, deal)["last_service_at"] == TODAY - dt.timedelta(days=89)
    # a customer's own service cycle (30 days)
    with unit(db, "r1", TODAY) as env:
        env["crm.customer"].browse(own).write({"service_cycle_days": 30,
                                              "last_service_at": TODAY - dt.timedelta(days=29)})
    # not yet due: a visit 80 days ago under a 90-day cycle
    with unit(db, "r1", TODAY) as env:
        later = env["crm.customer"].create({"name": "成都山脊食品", "grade": "deal",
                                            "last_service_at": TODAY - dt.timedelta(days=80)}).id
    assert run_job(db, TODAY) == {"contact": 0, "service": 2}
    due = {t["record_id"]: t for t in todos(db, "r1")}
    assert set(due) == {own, deal} and later not in due
    assert all(t["due_date"] == TOMORROW and "service" in t["summary"] for t in due.values())
    (note,) = notifications(db, "r1")  # two reminders, one notification listing them
    assert "2" in note["message"]
    assert run_job(db, TODAY) == {"contact": 0, "service": 0}


def test_the_workbench_card_counts_customers_due_today_and_overdue(world):
    db, (own, intent, deal) = world["db"], world["customers"]
    with unit(db, "r1", TODAY) as env:
        env["crm.customer"].browse(own).write({"next_contact_at": TODAY - dt.timedelta(days=3)})
        env["crm.customer"].browse(intent).write({"next_contact_at": TODAY.replace(hour=16)})
        env["crm.customer"].browse(deal).write({"next_contact_at": TODAY + dt.timedelta(days=2)})
        (card,) = [c for c in keel_workbench_cards(env) if c["key"] == "crm.followups"]
    assert card["count"] == 2
    assert [i["label"] for i in card["items"][:2]] == ["上海明远机械有限公司", "广州恒达商贸有限公司"]
