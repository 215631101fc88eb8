"""The report engine (issue 6 point 5): reports declared through
``keel_reports``, computed by ``read_group`` as the asking user — record
scopes and field rules as in lists — with period comparison (a frozen
``today``), rep against department average, the flexible pivot, XLSX, the
API (``/api/v1/reports``) and the checks of declarations.

Personas of ``tests/test_api_security``: D1 (manager M1, reps R1, R2), D2
(rep R3), director X, buyer B (no CRM right).
"""
import datetime as dt
import http.client
import io
import urllib.parse
from decimal import Decimal

import openpyxl
import pytest

from core.errors import AddonError, NotFound, UserInputError
from core.export import sheet_title
from core.services import reports
from core.services.report_periods import period, shift_bucket
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import create_personas, serve_personas

SCHEMA = "t_reports"
TODAY = dt.date(2026, 11, 15)
GRADES = {"R1": ["intent", "intent", "deal"], "R2": ["potential", "potential"], "R3": ["deal"]}
#: won opportunities: (rep, amount, expected close)
WON = [("R1", "1000", dt.date(2026, 11, 5)), ("R1", "400", dt.date(2026, 10, 20)),
       ("R2", "500", dt.date(2026, 11, 10)), ("R3", "700", dt.date(2026, 11, 1)),
       ("R1", "250", dt.date(2025, 11, 3))]
#: follow-ups: (rep, day)
FOLLOW_UPS = [("R1", dt.datetime(2026, 11, 2, 9)), ("R1", dt.datetime(2026, 11, 3, 9)),
              ("R1", dt.datetime(2026, 11, 9, 9)), ("R1", dt.datetime(2026, 10, 9, 9)),
              ("R2", dt.datetime(2026, 11, 4, 9)), ("R3", dt.datetime(2026, 11, 5, 9)),
              ("R3", dt.datetime(2026, 11, 6, 9))]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA)
    users = create_personas(db)
    for rep, grades in GRADES.items():
        with db.unit_of_work(users[rep]) as env:
            made = env["crm.customer"].create([{"name": f"{rep}-报表客户{i}", "grade": g, "region": "华东"}
                                               for i, g in enumerate(grades)])
            for rid, (who, amount, close) in enumerate(WON):
                if who == rep:
                    opp = env["crm.opportunity"].create({"name": f"{rep}-商机{rid}", "customer_id": made.ids[0],
                                                         "amount": amount, "expected_close": close})
                    for action in ("qualify", "propose", "negotiate", "win"):
                        opp.action(action)
            env["crm.opportunity"].create({"name": f"{rep}-open", "customer_id": made.ids[0],
                                           "amount": "300", "expected_close": dt.date(2026, 11, 11)})
            env["crm.interaction"].create([{"customer_id": made.ids[0], "summary": "回访", "at": at}
                                           for who, at in FOLLOW_UPS if who == rep])
    server, tokens = serve_personas(db)
    yield {"db": db, "users": users, "server": server, "tokens": tokens}
    server.close()
    drop_module_database(db, SCHEMA)


def run(world, persona, key, lang="en", **kw):
    login = persona if persona == "admin" else persona.lower()
    with world["db"].unit_of_work(login) as env:
        return reports.run(env, key, today=kw.pop("today", TODAY), lang=lang, **kw)


def by_label(result):
    return {row["labels"][0] if len(row["labels"]) == 1 else tuple(row["labels"]): row["values"]
            for row in result.rows}


def owners(world):
    return {p: f"{p} 用户" for p in ("R1", "R2", "R3")}


# -- the catalogue -------------------------------------------------------------------------
def test_installed_addons_declare_their_reports(world):
    with world["db"].unit_of_work("r1") as env:
        keys = [r.key for r in reports.visible(env)]
    assert {"crm.customers_by_grade", "crm.customers_by_source", "crm.customers_by_region",
            "crm.customers_by_industry", "crm.customers_by_owner", "crm.new_customers",
            "crm.followups_per_rep", "crm.opportunities_by_stage", "crm.won_amount",
            "sales.credit_by_terms"} <= set(keys)
    with world["db"].unit_of_work("b") as env:  # the buyer reads no CRM model
        assert not [r for r in reports.visible(env) if r.model.startswith("crm.")]
        with pytest.raises(NotFound):
            reports.run(env, "crm.customers_by_grade")


# -- scopes --------------------------------------------------------------------------------
def test_a_rep_reads_their_rows_the_manager_the_team_the_director_all(world):
    names = owners(world)
    assert by_label(run(world, "R1", "crm.customers_by_owner")) == {names["R1"]: {"id:count": 3}}
    assert by_label(run(world, "M1", "crm.customers_by_owner")) == {
        names["R1"]: {"id:count": 3}, names["R2"]: {"id:count": 2}}
    assert by_label(run(world, "X", "crm.customers_by_owner")) == {
        names["R1"]: {"id:count": 3}, names["R2"]: {"id:count": 2}, names["R3"]: {"id:count": 1}}
    grades = run(world, "M1", "crm.customers_by_grade", lang="zh_CN")
    assert [row["labels"][0] for row in grades.rows] == ["潜在", "意向", "成交"]  # in the options' order
    assert [row["values"]["id:count"] for row in grades.rows] == [2, 2, 1]
    assert grades.totals == {"id:count": 5}
    assert run(world, "R1", "crm.customers_by_grade").totals == {"id:count": 3}


def test_the_funnel_report_counts_and_sums_by_stage_in_workflow_order(world):
    result = run(world, "X", "crm.opportunities_by_stage")
    values = by_label(result)
    assert list(values) == ["New", "Won"]
    assert values["Won"] == {"id:count": 5, "amount:sum": Decimal("2850.00")}
    assert values["New"] == {"id:count": 3, "amount:sum": Decimal("900.00")}


# -- period comparison ---------------------------------------------------------------------
def test_this_month_against_last_month(world):
    names = owners(world)
    result = run(world, "X", "crm.won_amount")
    assert (result.period.start, result.period.end) == (dt.date(2026, 11, 1), dt.date(2026, 12, 1))
    rows = by_label(result)
    assert rows[names["R1"]]["amount:sum"] == Decimal("1000.00")
    assert rows[names["R1"]]["amount:sum:previous"] == Decimal("400.00")
    assert rows[names["R1"]]["amount:sum:difference"] == Decimal("600.00")
    assert rows[names["R1"]]["amount:sum:change"] == 150.0
    assert rows[names["R2"]]["amount:sum:previous"] == 0 and rows[names["R2"]]["amount:sum:change"] is None
    assert rows[names["R3"]]["id:count"] == 1 and rows[names["R3"]]["id:count:previous"] == 0
    assert result.totals["amount:sum"] == Decimal("2200.00")
    assert result.totals["amount:sum:previous"] == Decimal("400.00")
    assert result.totals["amount:sum:change"] == 450.0
    assert [c["kind"] for c in result.columns][:5] == ["dimension", "measure", "previous", "difference",
                                                        "change"]
    # the rep: their own numbers only
    mine = run(world, "R1", "crm.won_amount")
    assert list(by_label(mine)) == [names["R1"]] and mine.totals["amount:sum"] == Decimal("1000.00")
    # another day moves "this month"
    october = run(world, "X", "crm.won_amount", today=dt.date(2026, 10, 31))
    assert october.totals["amount:sum"] == Decimal("400.00")
    assert october.totals["amount:sum:previous"] == Decimal(0)


def test_quarter_and_year_comparisons(world):
    quarter = run(world, "X", "crm.won_amount", period_unit="quarter")
    assert (quarter.period.start, quarter.period.previous_start) == (dt.date(2026, 10, 1), dt.date(2026, 7, 1))
    assert quarter.totals["amount:sum"] == Decimal("2600.00")
    # by month over the year: each month beside the same month last year
    year = run(world, "X", "crm.won_amount", dimensions=["expected_close:month"], period_unit="year")
    rows = by_label(year)
    assert rows["2026-11"]["amount:sum"] == Decimal("2200.00")
    assert rows["2026-11"]["amount:sum:previous"] == Decimal("250.00")
    assert rows["2026-10"]["amount:sum:previous"] == 0
    assert year.totals["amount:sum:previous"] == Decimal("250.00")
    # everything: no comparison
    every = run(world, "X", "crm.won_amount", period_unit="all")
    assert every.compare == [] and every.totals["amount:sum"] == Decimal("2850.00")


def test_period_arithmetic():
    p = period("quarter", dt.date(2026, 2, 28))
    assert (p.start, p.end, p.previous_start, p.previous_end) == (
        dt.date(2026, 1, 1), dt.date(2026, 4, 1), dt.date(2025, 10, 1), dt.date(2026, 1, 1))
    p = period("month", dt.date(2026, 1, 31))
    assert (p.previous_start, p.previous_end) == (dt.date(2025, 12, 1), dt.date(2026, 1, 1))
    assert shift_bucket("2025-12", "month", 1) == "2026-01"
    assert shift_bucket("2025-Q4", "quarter", 3) == "2026-Q1"
    assert shift_bucket("2026-01-31", "day", 1) == "2026-02-28"
    assert shift_bucket("2025", "year", 12) == "2026"
    with pytest.raises(UserInputError, match="period"):
        period("week", dt.date(2026, 1, 1))


# -- rep against department average --------------------------------------------------------
def test_rep_against_the_department_average(world):
    names = owners(world)
    result = run(world, "M1", "crm.followups_per_rep")  # this quarter: October and November
    rows = by_label(result)
    assert rows[(names["R1"], "2026-11")]["id:count"] == 3
    assert rows[(names["R1"], "2026-11")]["id:count:average"] == 2.0  # (3 + 1) / 2 reps of D1
    assert rows[(names["R1"], "2026-11")]["id:count:vs_average"] == 1.0
    assert rows[(names["R2"], "2026-11")]["id:count:vs_average"] == -1.0
    assert rows[(names["R1"], "2026-10")]["id:count:average"] == 0.5  # R2 had none: counts as 0
    assert not any(names["R3"] in key for key in rows)  # D2 is not the manager's
    director = by_label(run(world, "X", "crm.followups_per_rep"))
    assert director[(names["R3"], "2026-11")]["id:count:average"] == 2.0  # alone in D2
    assert director[(names["R1"], "2026-11")]["id:count:average"] == 2.0
    # a rep sees only their own follow-ups: the average is of what they may read
    assert by_label(run(world, "R2", "crm.followups_per_rep")) == {
        (names["R2"], "2026-11"): {"id:count": 1, "id:count:average": 1.0, "id:count:vs_average": 0.0}}


# -- field rules ---------------------------------------------------------------------------
def test_a_measure_on_a_hidden_field_is_absent_and_refused(world):
    db = world["db"]
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search([["code", "=", "sales_rep"]]).id
        rule = env["core.field_rule"].create({"role_id": role, "model": "crm.opportunity",
                                              "field": "amount", "mode": "hidden"}).id
    try:
        result = run(world, "R1", "crm.opportunities_by_stage")
        assert result.measures == ["id:count"]
        assert all("amount" not in key for row in result.rows for key in row["values"])
        with pytest.raises(UserInputError, match="no field 'amount'"):
            run(world, "R1", "crm.opportunities_by_stage", measures=["amount:sum"])
        with pytest.raises(UserInputError, match="no field 'amount'"):
            run(world, "R1", "crm.won_amount", dimensions=["amount"])
        # the manager's role does not hide it
        assert "amount:sum" in run(world, "M1", "crm.opportunities_by_stage").measures
    finally:
        with db.unit_of_work("admin") as env:
            env["core.field_rule"].browse(rule).unlink()
    assert "amount:sum" in run(world, "R1", "crm.opportunities_by_stage").measures


# -- the flexible pivot --------------------------------------------------------------------
def test_the_user_picks_dimensions_and_measures(world):
    names = owners(world)
    result = run(world, "M1", "crm.customers_by_owner", dimensions=["owner_id", "grade"],
                 measures=["count"])
    assert by_label(result) == {(names["R1"], "Intent"): {"id:count": 2}, (names["R1"], "Deal"): {"id:count": 1},
                                (names["R2"], "Potential"): {"id:count": 2}}
    categories, series = result.chart_series()
    assert categories == [names["R1"], names["R2"]]
    assert dict(series) == {"Potential": [0.0, 2.0], "Intent": [2.0, 0.0], "Deal": [1.0, 0.0]}
    with pytest.raises(UserInputError, match="has no field 'nope'"):
        run(world, "M1", "crm.customers_by_owner", dimensions=["nope"])
    with pytest.raises(UserInputError, match="sum needs a number field"):
        run(world, "M1", "crm.customers_by_owner", measures=["name:sum"])
    with pytest.raises(UserInputError, match="only date fields take a unit"):
        run(world, "M1", "crm.customers_by_owner", dimensions=["grade:month"])
    with pytest.raises(UserInputError, match="today"):
        run(world, "M1", "crm.customers_by_owner", today="tomorrow")


# -- XLSX ----------------------------------------------------------------------------------
def test_xlsx_holds_the_table_with_numbers(world):
    with world["db"].unit_of_work("x") as env:
        result = reports.run(env, "crm.won_amount", today=TODAY, lang="zh_CN")
        result.label = "赢单金额：本月对比上月"
        data = reports.xlsx(env, result)
        logged = env.sudo()["core.audit"].search_read([["action", "=", "export"]], ["changes"])
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.worksheets[0]
    assert sheet.title == sheet_title("赢单金额：本月对比上月")
    lines = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert lines[0][0] == "负责人"
    r1 = next(line for line in lines if line[0] == "R1 用户")
    assert r1[1:5] == [1000, 400, 600, 150]
    assert lines[-1][0] == "合计" and lines[-1][1] == 2200
    assert any(entry["changes"].get("report") == "crm.won_amount" for entry in logged)


def test_xlsx_needs_the_export_right(world):
    with world["db"].unit_of_work("admin") as env:
        role = env["core.role"].create({"code": "report_reader", "name": "读报表"}).id
        from core.security.roles import apply_grants
        apply_grants(env, role, "report_reader", {"permissions": {"crm.customer": ["read"]},
                                                   "scopes": {"crm.customer": "all"}})
        env["core.user"].create({"login": "reader", "name": "读者", "roles": [role]})
    with world["db"].unit_of_work("reader") as env:
        result = reports.run(env, "crm.customers_by_grade")
        assert result.totals == {"id:count": 6}
        with pytest.raises(Exception) as err:
            reports.xlsx(env, result)
        assert err.value.__class__.__name__ == "AccessDenied"


# -- declarations --------------------------------------------------------------------------
GOOD = {"key": "t.by_grade", "label": "By grade", "model": "crm.customer", "dimensions": ["grade"],
        "measures": ["count"]}


@pytest.mark.parametrize("change, named", [
    ({"key": "Bad Key"}, "'key' should be"),
    ({"label": ""}, "'label' is required"),
    ({"model": "crm.nothing"}, "unknown model 'crm.nothing'"),
    ({"dimensions": ["nope"]}, "crm.customer has no field 'nope'"),
    ({"dimensions": ["grade:week"]}, "only date fields take a unit"),
    ({"dimensions": ["contact_ids"]}, "cannot group by it"),
    ({"measures": ["name:sum"]}, "sum needs a number field"),
    ({"measures": ["credit_limit:median"]}, "unknown function 'median'"),
    ({"measures": ["created_at:max"]}, "max needs a number field"),
    ({"measures": ["credit_limit"]}, "should look like 'amount:sum'"),
    ({"chart": "radar"}, "chart 'radar' is not one of"),
    ({"compare": ["budget"]}, "compare 'budget' is not one of"),
    ({"compare": ["team"]}, "compare 'team' needs a first dimension that is a user"),
    ({"date_field": "name"}, "date_field 'name' is not a date field"),
    ({"period": "week"}, "period 'week' is not one of"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"domain": "in_pool"}, "domain should be a list"),
])
def test_a_bad_declaration_names_the_addon_the_report_and_the_fault(world, change, named):
    with world["db"].unit_of_work("admin") as env, pytest.raises(AddonError) as err:
        reports.check(env.registry, "my_addon", {**GOOD, **change})
    message = str(err.value)
    assert "addon 'my_addon'" in message and "report " in message and named in message, message
    if "key" not in change:
        assert "report 't.by_grade'" in message


def test_a_good_declaration_and_a_duplicate_key(world):
    with world["db"].unit_of_work("admin") as env:
        report = reports.check(env.registry, "my_addon", {**GOOD, "dimensions": ["created_at:quarter"],
                                                         "compare": "period"})
        assert report.date_field == "created_at" and report.period == "month"

        class Hooks:  # two addons declaring one key
            def gather(self, hook):
                assert hook == "keel_reports"
                return [("one", [GOOD]), ("two", [GOOD])]

        class Registry:
            models, hooks = env.registry.models, Hooks()
        with pytest.raises(AddonError, match="report 't.by_grade' is already declared by addon 'one'"):
            reports.build(Registry())


# -- the API -------------------------------------------------------------------------------
def call(world, persona, path, **params):
    token = world["tokens"][persona]
    return world["server"].call("GET", "/api/v1" + path, token=token, params=params or None)


def test_api_lists_the_callers_reports(world):
    answer = call(world, "R1", "/reports")
    assert answer.status == 200
    keys = [item["key"] for item in answer.json["items"]]
    assert "crm.won_amount" in keys
    item = next(i for i in answer.json["items"] if i["key"] == "crm.won_amount")
    assert item["compare"] == ["period"] and item["measures"] == ["amount:sum", "id:count"]
    assert not [k for k in (i["model"] for i in call(world, "B", "/reports").json["items"])
                if k.startswith("crm.")]


def test_api_report_rows(world):
    answer = call(world, "R1", "/reports/crm.won_amount", today="2026-11-15")
    assert answer.status == 200, answer
    body = answer.json
    assert body["period"] == {"unit": "month", "start": "2026-11-01", "end": "2026-12-01",
                              "previous_start": "2026-10-01", "previous_end": "2026-11-01"}
    assert len(body["rows"]) == 1
    row = body["rows"][0]
    assert row["owner_id"]["name"] == "R1 用户" and row["label"] == "R1 用户"
    assert (row["amount:sum"], row["amount:sum:previous"], row["amount:sum:change"]) == ("1000.00", "400.00", 150.0)
    assert body["totals"]["amount:sum"] == "1000.00"
    team = call(world, "M1", "/reports/crm.customers_by_owner", dimensions="grade", measures="count").json
    assert {r["grade"]: r["id:count"] for r in team["rows"]} == {"potential": 2, "intent": 2, "deal": 1}
    filtered = call(world, "M1", "/reports/crm.customers_by_grade", domain='[["grade", "=", "deal"]]').json
    assert filtered["totals"] == {"id:count": 1}


def test_api_refusals(world):
    assert call(world, "B", "/reports/crm.won_amount").status == 404
    assert call(world, "R1", "/reports/no.such").status == 404
    bad = call(world, "R1", "/reports/crm.won_amount", period="week")
    assert bad.status == 400 and "period" in bad.json["error"]["message"]
    bad = call(world, "R1", "/reports/crm.won_amount", measures="amount:median")
    assert bad.status == 400 and "median" in bad.json["error"]["message"]
    assert call(world, "R1", "/reports/crm.won_amount", format="pdf").status == 400


def test_api_xlsx_with_a_chinese_file_name(world):
    conn = http.client.HTTPConnection("127.0.0.1", world["server"].port, timeout=30)
    conn.request("GET", "/api/v1/reports/crm.customers_by_grade?format=xlsx",
                 headers={"Authorization": f"Bearer {world['tokens']['X']}"})
    answer = conn.getresponse()
    raw = answer.read()
    conn.close()
    assert answer.status == 200
    disposition = answer.getheader("Content-Disposition")
    assert "filename*=UTF-8''" in disposition and 'filename="crm.customers_by_grade-' in disposition
    name = urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1])
    assert name.startswith("Customers by grade-") and name.endswith(".xlsx")
    book = openpyxl.load_workbook(io.BytesIO(raw))
    assert [list(r) for r in book.worksheets[0].iter_rows(values_only=True)][-1][-1] == 6
