"""Opportunities (issue 7 point 6): probability by stage (overridable by
hand), stage history, lost reason, weighted amount, the predicted win
probability learnt from a synthetic won/lost history and its explanation,
the pipeline reports and the kanban cards. Each test on a fresh database,
with a frozen clock where time matters."""
import datetime as dt
import decimal

import pytest

from addons.crm_base import pipeline_predict as predict
from core.errors import ValidationError
from core.services import report_engine
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import sign_in

D = decimal.Decimal
T0 = dt.datetime(2026, 3, 2, 9, 0)


def unit(db, login, now=None):
    """A unit of work as ``login`` whose clock is ``now``."""
    return db.unit_of_work(login, now=now)


@pytest.fixture
def world(db):
    users = create_personas(db)
    with unit(db, "r1") as env:
        customer = env["crm.customer"].create({"name": "上海明远机械有限公司", "source": "exhibition"}).id
    return {"db": db, "users": users, "customer": customer}


def new_opportunity(world, login="r1", now=T0, **values):
    with unit(world["db"], login, now) as env:
        return env["crm.opportunity"].create({"name": "二期产线", "customer_id": world["customer"],
                                              "amount": "50000", **values}).id


def act(world, rid, action, login="r1", now=T0):
    with unit(world["db"], login, now) as env:
        env["crm.opportunity"].browse(rid).action(action)


def read(world, rid, fields, model="crm.opportunity"):
    with unit(world["db"], None) as env:
        return env[model].browse(rid).read(fields)[0]


def test_a_transition_sets_the_stage_probability_and_writes_history(world):
    rid = new_opportunity(world)
    row = read(world, rid, ["probability", "weighted_amount", "stage_changed_at", "probability_stage"])
    assert row["probability"] == 10 and row["weighted_amount"] == D("5000.00")
    assert row["stage_changed_at"] == T0 and row["probability_stage"] is None
    act(world, rid, "qualify", now=T0 + dt.timedelta(days=3))
    act(world, rid, "propose", now=T0 + dt.timedelta(days=4, hours=12))
    row = read(world, rid, ["probability", "weighted_amount", "stage_changed_at"])
    assert row == {"id": rid, "probability": 40, "weighted_amount": D("20000.00"),
                   "stage_changed_at": T0 + dt.timedelta(days=4, hours=12)}
    with unit(world["db"], "r1") as env:
        history = env["crm.stage_history"].search_read([["opportunity_id", "=", rid]],
                                                       ["from_stage", "to_stage", "days", "by_id", "at"])
    assert [(h["from_stage"], h["to_stage"], h["days"], h["by_id"]["id"]) for h in history] == [
        ("qualified", "proposal", 1.5, world["users"]["R1"]), ("new", "qualified", 3.0, world["users"]["R1"])]
    # another rep sees none of it
    with unit(world["db"], "r3") as env:
        assert env["crm.stage_history"].search_count([["opportunity_id", "=", rid]]) == 0


def test_a_probability_set_by_hand_stays_on_its_stage_only(world):
    rid = new_opportunity(world)
    act(world, rid, "qualify")
    with unit(world["db"], "r1") as env:
        env["crm.opportunity"].browse(rid).write({"probability": 35})
    row = read(world, rid, ["probability", "probability_stage", "weighted_amount"])
    assert (row["probability"], row["probability_stage"], row["weighted_amount"]) == (35, "qualified",
                                                                                         D("17500.00"))
    # the admin changes the qualified stage's default: the hand-set value stays
    other = new_opportunity(world)
    act(world, other, "qualify")
    with unit(world["db"], "admin") as env:
        env["crm.stage"].search([["code", "=", "qualified"]]).write({"probability": 25})
    assert read(world, rid, ["probability"])["probability"] == 35
    assert read(world, other, ["probability", "weighted_amount"]) == {
        "id": other, "probability": 25, "weighted_amount": D("12500.00")}
    # the next stage brings its default again
    act(world, rid, "propose")
    row = read(world, rid, ["probability", "probability_stage"])
    assert (row["probability"], row["probability_stage"]) == (40, None)
    # given on create: set by hand on the first stage
    given = new_opportunity(world, probability=55)
    assert read(world, given, ["probability", "probability_stage"])["probability_stage"] == "new"


def test_losing_needs_a_reason_and_winning_closes_at_100(world):
    rid = new_opportunity(world)
    with pytest.raises(ValidationError) as refused:
        act(world, rid, "lose")
    assert refused.value.details["fields"] == ["lost_reason"]
    with unit(world["db"], "r1") as env:
        env["crm.opportunity"].browse(rid).write({"lost_reason": "价格太高", "competitors": "金蝶, 用友"})
    act(world, rid, "lose")
    assert read(world, rid, ["probability", "won_pct", "weighted_amount", "competitors"]) == {
        "id": rid, "probability": 0, "won_pct": 0, "weighted_amount": D("0.00"), "competitors": "金蝶, 用友"}
    won = new_opportunity(world)
    for action in ("qualify", "propose", "negotiate", "win"):
        act(world, won, action)
    assert read(world, won, ["probability", "won_pct", "weighted_amount"]) == {
        "id": won, "probability": 100, "won_pct": 100, "weighted_amount": D("50000.00")}
    with unit(world["db"], None) as env:
        outcomes = {h["to_stage"]: h["won_pct"] for h in env["crm.stage_history"].search_read(
            [["opportunity_id", "=", won]], ["to_stage", "won_pct"])}
    assert outcomes == {"qualified": 100, "proposal": 100, "negotiation": 100, "won": 100}
    # reopened, the lost one is open again: its history no longer counts as a loss
    act(world, rid, "reopen")
    with unit(world["db"], None) as env:
        assert {h["won_pct"] for h in env["crm.stage_history"].search_read(
            [["opportunity_id", "=", rid]], ["won_pct"])} == {None}
    assert read(world, rid, ["won_pct"])["won_pct"] is None


def history(world):
    """A synthetic past: exhibition customers won 15 of 20, website
    customers 4 of 20; the reps' results are even."""
    with unit(world["db"], "admin") as env:
        expo = world["customer"]
        web = env["crm.customer"].create({"name": "北京智联科技", "source": "website"}).id
        rows = []
        for customer, wins in ((expo, 15), (web, 4)):
            for i in range(20):
                rows.append({"name": f"past {customer}-{i}", "customer_id": customer, "amount": "30000",
                             "owner_id": world["users"]["R1" if i % 2 else "R2"],
                             "lost_reason": None if i < wins else "预算不足"})
        created = env["crm.opportunity"].create(rows)
        for rid, row in zip(created.ids, rows):
            record = env["crm.opportunity"].browse(rid)
            if row["lost_reason"]:
                record.action("lose")
            else:
                for action in ("qualify", "propose", "negotiate", "win"):
                    record.action(action)
    return web


def test_the_prediction_learns_from_won_and_lost_history(world):
    web = history(world)
    expo_deal = new_opportunity(world)
    with unit(world["db"], "r1") as env:
        web_deal = env["crm.opportunity"].create({"name": "官网线索", "customer_id": web, "amount": "30000"}).id
    # before the nightly job: no statistics, no prediction
    assert read(world, expo_deal, ["predicted_probability"])["predicted_probability"] is None
    with unit(world["db"], None) as env:
        assert predict.nightly(env) == {"opportunities": 2}
        stats = {(r["feature"], r["value"]): (r["won"], r["lost"], r["rate"])
                 for r in env["crm.win_stat"].search_read([], ["feature", "value", "won", "lost", "rate"])}
    assert stats[("*", "*")] == (19, 21, 48)
    assert stats[("source", "exhibition")] == (15, 5, 75)
    assert stats[("source", "website")] == (4, 16, 20)
    assert stats[("amount_band", "10k_50k")] == (19, 21, 48)
    expo_p = read(world, expo_deal, ["predicted_probability"])["predicted_probability"]
    web_p = read(world, web_deal, ["predicted_probability"])["predicted_probability"]
    assert expo_p > 60 > 48 > 30 > web_p, (expo_p, web_p)
    # the customer's source changes: its open opportunities are predicted again
    with unit(world["db"], "r1") as env:
        env["crm.customer"].browse(world["customer"]).write({"source": "website"})
    assert read(world, expo_deal, ["predicted_probability"])["predicted_probability"] == web_p


def test_the_prediction_needs_history_and_smooths_rare_values():
    stats = {("*", "*"): (5, 3)}
    assert predict.explain(stats, {"source": "exhibition"}) == (None, [])
    stats = {("*", "*"): (50, 50), ("source", "exhibition"): (2, 0), ("source", "website"): (40, 10)}
    rare, terms = predict.explain(stats, {"source": "exhibition"})
    common, _terms = predict.explain(stats, {"source": "website"})
    assert 50 < rare < common < 80
    assert terms[0][:4] == ("source", "exhibition", 2, 2) and terms[0][4] > 0
    assert predict.explain(stats, {"source": "unknown"})[0] == 50


def test_the_form_explains_the_prediction_and_the_kanban_shows_it(world):
    history(world)
    rid = new_opportunity(world)
    with unit(world["db"], None) as env:
        predict.nightly(env)
    client = sign_in(make_app(world["db"]), "r1", PASSWORD, headers={"Accept-Language": "en"})
    page = client.get(f"/web/crm.opportunity/{rid}").get_data(as_text=True)
    assert "Predicted win probability" in page
    assert "Source = Exhibition: won 15 of 20 (75%) ↑" in page
    assert "All opportunities: won 19 of 40 (48%)" in page
    kanban = client.get("/web/crm.opportunity?view=kanban").get_data(as_text=True)
    predicted = read(world, rid, ["predicted_probability"])["predicted_probability"]
    assert "二期产线" in kanban and "50,000" in kanban and f"{predicted}" in kanban
    act(world, rid, "qualify", now=T0 + dt.timedelta(days=2))
    page = client.get(f"/web/crm.opportunity/{rid}").get_data(as_text=True)
    assert "New → Qualified (2.0 days in New, by R1 用户)" in page


def test_pipeline_reports(world):
    a = new_opportunity(world, expected_close=dt.date(2026, 4, 10))
    b = new_opportunity(world, amount="20000", expected_close=dt.date(2026, 5, 3))
    act(world, b, "qualify", now=T0 + dt.timedelta(days=2))
    lost = new_opportunity(world, amount="10000", lost_reason="价格")
    act(world, lost, "qualify", now=T0 + dt.timedelta(days=4))
    act(world, lost, "lose", now=T0 + dt.timedelta(days=5))
    with unit(world["db"], "r1", T0 + dt.timedelta(days=6)) as env:
        pipeline = report_engine.run(env, "crm.weighted_pipeline")
        by_stage = {r["raw"]["stage"]: r["values"] for r in pipeline.rows}
        assert by_stage["new"]["weighted_amount:sum"] == D("5000.00")
        assert by_stage["qualified"]["weighted_amount:sum"] == D("4000.00")
        assert "lost" not in by_stage
        months = {r["raw"]["expected_close:month"]: r["values"]["amount:sum"]
                  for r in report_engine.run(env, "crm.expected_close").rows}
        assert months == {"2026-04": D("50000.00"), "2026-05": D("20000.00")}
        times = {r["raw"]["from_stage"]: r["values"]["days:avg"]
                 for r in report_engine.run(env, "crm.time_in_stage").rows}
        assert times == {"new": 3.0, "qualified": 1.0}
        rates = {r["raw"]["to_stage"]: r["values"]["won_pct:avg"]
                 for r in report_engine.run(env, "crm.win_rate_by_stage").rows}
        assert rates == {"qualified": 0}
        owners = report_engine.run(env, "crm.win_rate_by_owner").rows
        assert [(r["raw"]["owner_id"]["id"], r["values"]["won_pct:avg"]) for r in owners] == [
            (world["users"]["R1"], 0)]
    # another team's rep sees none of r1's pipeline
    with unit(world["db"], "r3") as env:
        assert report_engine.run(env, "crm.weighted_pipeline").rows == []
    assert a


def test_an_older_database_gets_the_stage_trigger_on_upgrade(world):
    from addons.crm_base import forecast
    with unit(world["db"], "admin") as env:  # the workflow rows of crm_base 0.3.0
        lose = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                       ["action", "=", "lose"]])
        lose.write({"required_fields": []})
        env["core.workflow_trigger"].search([["kind", "=", "hook"]]).unlink()
        env["core.workflow_trigger"].create({"transition_id": lose.id, "kind": "set_field", "addon": "crm_base",
                                             "params": {"field": "probability", "value": 0}})
    rid = new_opportunity(world)
    act(world, rid, "qualify")
    assert read(world, rid, ["probability"])["probability"] == 10  # no trigger: nothing follows the stage
    with unit(world["db"], None) as env:
        forecast.migrate(env, "0.3.0", "0.4.0")
        forecast.migrate(env, "0.3.0", "0.4.0")  # twice: nothing doubles
        assert env["core.workflow_trigger"].search_count([["kind", "=", "hook"]]) == 6
        assert env["core.workflow_trigger"].search_count([["kind", "=", "set_field"]]) == 0
    act(world, rid, "propose")
    assert read(world, rid, ["probability"])["probability"] == 40
    with pytest.raises(ValidationError):
        act(world, rid, "lose")


def test_reps_read_the_stage_probabilities_and_only_admins_change_them(world):
    from core.errors import AccessDenied
    with unit(world["db"], "r1") as env:
        stages = {r["code"]: r["probability"] for r in env["crm.stage"].search_read([], ["code", "probability"])}
        assert stages == {"new": 10, "qualified": 20, "proposal": 40, "negotiation": 60, "won": 100, "lost": 0}
        with pytest.raises(AccessDenied):
            env["crm.stage"].search([["code", "=", "new"]]).write({"probability": 99})
    with unit(world["db"], "b") as env:  # a purchaser: no CRM at all
        with pytest.raises(AccessDenied):
            env["crm.stage"].search_read([], ["code"])
