"""Kanban, calendar, pivot and graph views (issue 5 point 4; CONTRACT.md §7
``/web/MODEL?view=…``): columns in workflow order with counts and sums from
SQL, drag and drop running the workflow (200, 202 held for approval, 403,
409, 422 refused with a message), the no-JavaScript move form, a month
calendar, a pivot equal to ``read_group`` with XLSX/CSV export, an SVG
chart — all within the caller's record rules.

Personas of ``tests/test_api_security``: D1 (manager M1, reps R1, R2), D2
(rep R3), director X. Each test works on opportunities named after it and
filters the board to them (``domain``), so the module shares one database.
"""
import datetime as dt
import io
import json
import re
import urllib.parse
from decimal import Decimal

import openpyxl
import pytest

from core.i18n import translate
from core.web import boards
from tests.conftest import drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app, one_customer_per_rep
from tests.web_helpers import csrf_token, sign_in

SCHEMA = "t_web_boards"
STAGES = ["new", "qualified", "proposal", "negotiation", "won", "lost"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA)
    users = create_personas(db)
    customers = one_customer_per_rep(db, users)
    app = make_app(db)
    clients = {p: sign_in(app, login, PASSWORD) for p, login in
               (("R1", "r1"), ("R2", "r2"), ("M1", "m1"), ("X", "x"))}
    yield {"db": db, "app": app, "users": users, "customers": customers, "clients": clients}
    drop_module_database(db, SCHEMA)


def board(world, persona, vtype, model="crm.opportunity", lang="en", **args):
    """GET the ``vtype`` view of ``model`` as ``persona`` (browser language ``lang``)."""
    url = f"/web/{model}?" + urllib.parse.urlencode({"view": vtype, **args})
    return world["clients"][persona].get(url, headers={"Accept-Language": lang})


def mine(prefix):
    return json.dumps([["name", "like", f"{prefix}%"]])


def opportunities(world, rep, prefix, amounts, actions=(), **values):
    """Opportunities ``prefix-i`` of ``rep`` with these amounts, each moved
    by ``actions`` through the model API; their ids."""
    with world["db"].unit_of_work(world["users"][rep]) as env:
        made = env["crm.opportunity"].create([
            {"name": f"{prefix}-{i}", "customer_id": world["customers"][rep], "amount": str(a), **values}
            for i, a in enumerate(amounts)])
        for action in actions:
            made.action(action)
        return list(made.ids)


def stage(world, rid):
    with world["db"].unit_of_work("admin") as env:
        return env["crm.opportunity"].browse(rid).read(["stage"])[0]["stage"]


def move(world, persona, rid, to, json_answer=True):
    client = world["clients"][persona]
    token = csrf_token(client.get("/web").get_data(as_text=True))
    headers = {"Accept-Language": "en", "X-CSRFToken": token}
    if json_answer:
        headers["Accept"] = "application/json"
    return client.post(f"/web/crm.opportunity/{rid}/move", data={"to": to}, headers=headers)


def columns(html):
    """``[(data-value, count)]`` of the kanban columns, in order."""
    return [(v, int(n)) for v, n in re.findall(
        r'<section class="kanban-column[^"]*" data-value="([^"]*)".*?class="kanban-count"[^>]*>(\d+)<',
        html, re.S)]


@pytest.fixture
def transition(world):
    """``transition(action, **values)`` changes a transition as data (admin);
    restored after the test."""
    saved = []

    def change(action, **values):
        with world["db"].unit_of_work("admin") as env:
            found = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                            ["action", "=", action]])
            saved.append((found.id, found.read(list(values))[0]))
            found.write(values)
    yield change
    for rid, before in saved:
        with world["db"].unit_of_work("admin") as env:
            env["core.workflow_transition"].browse(rid).write(
                {k: v for k, v in before.items() if k != "id"})


# -- kanban -------------------------------------------------------------------------------
def test_kanban_columns_follow_the_workflow_with_counts_and_sums_of_own_records(world):
    opportunities(world, "R1", "KC", [100, 250])
    opportunities(world, "R1", "KC", [1000], ["qualify"])
    opportunities(world, "R2", "KC", [7777], ["qualify"])  # a colleague's: not on R1's board
    page_ = board(world, "R1", "kanban", domain=mine("KC"))
    assert page_.status_code == 200, page_.get_data(as_text=True)[:2000]
    html = page_.get_data(as_text=True)
    assert columns(html) == [("new", 2), ("qualified", 1), ("proposal", 0), ("negotiation", 0),
                             ("won", 0), ("lost", 0)]
    assert ">New<" in html and ">Qualified<" in html
    assert 'data-total="350.00"' in html and 'data-total="1000.00"' in html
    assert "7777" not in html and "KC-0" in html
    assert re.search(r'<section class="kanban-column folded" data-value="lost"', html)
    assert html.count('class="kanban-card"') == 3 and 'draggable="true"' in html
    manager = board(world, "M1", "kanban", domain=mine("KC")).get_data(as_text=True)
    assert columns(manager)[:2] == [("new", 2), ("qualified", 2)]  # D1: R1's and R2's


def test_a_rep_drags_an_opportunity_from_new_to_qualified(world):
    rid, = opportunities(world, "R1", "KM", [500])
    answer = move(world, "R1", rid, "qualified")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.json["ok"] is True and answer.json["message"] == "Moved to Qualified."
    assert answer.json["targets"] == [["proposal", "Proposal"], ["lost", "Lost"]]  # for the move form
    assert stage(world, rid) == "qualified"
    with world["db"].unit_of_work("admin") as env:
        entries = env["core.audit"].search_read([["model", "=", "crm.opportunity"],
                                                 ["record_id", "=", rid], ["action", "=", "transition"]],
                                                ["changes", "user_id"])
    assert [e["changes"]["action"] for e in entries] == ["qualify"]
    assert entries[0]["user_id"]["id"] == world["users"]["R1"]


def test_a_move_without_a_transition_is_refused_409_with_the_message(world):
    rid, = opportunities(world, "R1", "KN", [500])
    answer = move(world, "R1", rid, "won")
    assert answer.status_code == 409
    assert answer.json == {"ok": False, "status": 409,
                           "message": "This opportunity cannot move from New to Won."}
    assert stage(world, rid) == "new"


def test_columns_and_refusals_read_in_chinese(world, transition):
    rid, = opportunities(world, "R1", "KZ", [500], ["qualify"])
    html = board(world, "R1", "kanban", lang="zh-CN", domain=mine("KZ")).get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    heads = re.findall(r'<h2>([^<]*)</h2>', html)
    assert heads[:2] == [translate("New", "zh_CN"), translate("Qualified", "zh_CN")] and heads[0] != "New"
    transition("propose", required_fields=["expected_close"])
    client = world["clients"]["R1"]
    answer = client.post(f"/web/crm.opportunity/{rid}/move", data={"to": "proposal"}, headers={
        "Accept": "application/json", "Accept-Language": "zh-CN",
        "X-CSRFToken": csrf_token(client.get("/web").get_data(as_text=True))})
    assert answer.status_code == 422
    expected = translate("Fill in: %(fields)s", "zh_CN") % {"fields": translate("Expected close", "zh_CN")}
    assert answer.json["message"] == expected and "Expected close" not in expected


def test_a_role_the_transition_does_not_allow_is_refused_403(world, transition):
    rid, = opportunities(world, "R1", "KR", [500])
    transition("qualify", roles=["sales_manager"])
    answer = move(world, "R1", rid, "qualified")
    assert answer.status_code == 403
    assert answer.json["message"] == "You may not move this opportunity to Qualified."
    assert stage(world, rid) == "new"
    assert move(world, "M1", rid, "qualified").status_code == 200  # R1's manager may


def test_fields_the_transition_requires_are_named_422(world, transition):
    rid, = opportunities(world, "R1", "KF", [500], ["qualify"])
    transition("propose", required_fields=["expected_close"])
    answer = move(world, "R1", rid, "proposal")
    assert answer.status_code == 422
    assert answer.json["message"] == "Fill in: Expected close"
    assert stage(world, rid) == "qualified"


def test_an_approval_policy_holds_the_move_202(world):
    with world["db"].unit_of_work("admin") as env:
        env["core.approval_policy"].create({
            "name": "board-test", "model": "crm.opportunity", "action": "qualify",
            "condition": [["name", "=", "KA-approval"]],
            "levels": [{"approvers": {"type": "manager"}, "mode": "any"}]})
    with world["db"].unit_of_work(world["users"]["R1"]) as env:
        rid = env["crm.opportunity"].create({"name": "KA-approval", "amount": "9",
                                             "customer_id": world["customers"]["R1"]}).id
    answer = move(world, "R1", rid, "qualified")
    assert answer.status_code == 202
    assert answer.json == {"ok": True, "status": 202, "message": "Sent for approval."}
    assert stage(world, rid) == "new"
    with world["db"].unit_of_work("admin") as env:
        assert env["core.approval_request"].search_count([["record_id", "=", rid],
                                                          ["state", "=", "pending"]]) == 1


def test_a_colleagues_opportunity_cannot_be_moved(world):
    theirs, = opportunities(world, "R2", "KO", [500])
    answer = move(world, "R1", theirs, "qualified")
    assert answer.status_code == 404 and stage(world, theirs) == "new"


def test_the_move_form_works_without_javascript(world):
    rid, = opportunities(world, "R1", "KJ", [500])
    html = board(world, "R1", "kanban", domain=mine("KJ")).get_data(as_text=True)
    form = re.search(r'<form class="kanban-move" method="post" action="/web/crm.opportunity/%d/move">'
                     r'(.*?)</form>' % rid, html, re.S)
    assert form, html
    assert re.findall(r'<option value="([^"]+)"', form.group(1)) == ["qualified", "lost"]
    next_url = re.search(r'name="next" value="([^"]+)"', form.group(1)).group(1)
    client = world["clients"]["R1"]
    answer = client.post(f"/web/crm.opportunity/{rid}/move",
                         data={"to": "won", "csrf_token": csrf_token(form.group(1)),
                               "next": next_url.replace("&amp;", "&")},
                         headers={"Accept-Language": "en"})
    assert answer.status_code == 303
    back = client.get(answer.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'<div class="board-message" role="alert"[^>]*>This opportunity cannot move from '
                     r'New to Won.</div>', back)
    assert client.post(f"/web/crm.opportunity/{rid}/move", data={"to": "qualified"}).status_code == 400
    assert stage(world, rid) == "new"  # no CSRF token, no move
    done = client.post(f"/web/crm.opportunity/{rid}/move",
                       data={"to": "qualified", "csrf_token": csrf_token(form.group(1)),
                             "next": "//evil.example"},
                       headers={"Accept-Language": "en"})
    assert done.status_code == 303 and done.headers["Location"] == "/web/crm.opportunity?view=kanban"
    back = client.get(done.headers["Location"], headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<div class="board-message ok" role="alert"' in back and "Moved to Qualified." in back
    assert stage(world, rid) == "qualified"


def test_a_kanban_on_a_plain_selection_writes_the_field(world):
    with world["db"].unit_of_work(world["users"]["R1"]) as env:
        rid = env["crm.customer"].create({"name": "KW 看板客户", "kind": "company"}).id
    html = board(world, "R1", "kanban", model="crm.customer",
                 domain=json.dumps([["name", "like", "KW%"]])).get_data(as_text=True)
    assert columns(html) == [("company", 1), ("person", 0)]  # the options, in order
    client = world["clients"]["R1"]
    token = csrf_token(client.get("/web").get_data(as_text=True))
    answer = client.post(f"/web/crm.customer/{rid}/move", data={"to": "person"},
                         headers={"Accept": "application/json", "X-CSRFToken": token})
    assert answer.status_code == 200 and answer.json["ok"], answer.json
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].browse(rid).kind == "person"
    refused = world["clients"]["R2"].post(f"/web/crm.customer/{rid}/move", data={"to": "company"}, headers={
        "Accept": "application/json",
        "X-CSRFToken": csrf_token(world["clients"]["R2"].get("/web").get_data(as_text=True))})
    assert refused.status_code == 404  # a colleague's customer, as if missing


# -- calendar -----------------------------------------------------------------------------
def test_the_calendar_shows_a_record_in_its_month_only(world):
    """Days in the user's time zone (Asia/Shanghai by default, UTC+8)."""
    with world["db"].unit_of_work(world["users"]["R1"]) as env:
        env["crm.interaction"].create([
            {"customer_id": world["customers"]["R1"], "summary": "回访 KCAL",
             "at": dt.datetime(2026, 3, 17, 1, 30)},
            {"customer_id": world["customers"]["R1"], "summary": "月底 KEDGE",  # 1 April, 04:00 in Shanghai
             "at": dt.datetime(2026, 3, 31, 20, 0)}])
    march = board(world, "R1", "calendar", model="crm.interaction", month="2026-03")
    assert march.status_code == 200, march.get_data(as_text=True)[:2000]
    html = march.get_data(as_text=True)
    day = re.search(r'data-date="2026-03-17">(.*?)</div>\s*</div>|data-date="2026-03-17">(.*?)gridcell',
                    html, re.S)
    assert day and "回访 KCAL" in day.group(0) and "09:30" in day.group(0)
    assert "month=2026-02" in html and "month=2026-04" in html and "KEDGE" not in html
    april = board(world, "R1", "calendar", model="crm.interaction", month="2026-04").get_data(as_text=True)
    assert "回访 KCAL" not in april
    assert re.search(r'data-date="2026-04-01">.*?04:00</span> 月底 KEDGE', april, re.S)
    assert "回访 KCAL" not in board(world, "R2", "calendar", model="crm.interaction",
                                   month="2026-03").get_data(as_text=True)
    assert board(world, "R1", "calendar", model="crm.interaction", month="March").status_code == 400


# -- pivot and graph ----------------------------------------------------------------------
def _pivot_cells(html):
    body = re.search(r"<tbody>(.*?)</tbody>", html, re.S).group(1)
    return [[c.strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_pivot_equals_read_group_within_the_callers_rules(world):
    opportunities(world, "R1", "KP", [100, 200], ["qualify"])
    opportunities(world, "R2", "KP", [1000])
    opportunities(world, "R3", "KP", [5000])
    for persona, expected_total in (("R1", "300.00"), ("M1", "1,300.00"), ("X", "6,300.00")):
        html = board(world, persona, "pivot", domain=mine("KP"), rows="stage",
                     measures="amount:sum,id:count").get_data(as_text=True)
        with world["db"].unit_of_work(world["users"][persona]) as env:
            groups = env["crm.opportunity"].read_group([["name", "like", "KP%"]], ["stage"],
                                                       ["amount:sum", "id:count"])
        labels = {"new": "New", "qualified": "Qualified"}
        expected = [[labels[g["stage"]], f"{g['amount:sum']:,}", str(g["id:count"])]
                    for g in sorted(groups, key=lambda g: STAGES.index(g["stage"]))]
        assert _pivot_cells(html) == expected, persona
        foot = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
        assert expected_total in foot


def test_the_pivot_crosses_rows_and_columns_with_totals(world):
    opportunities(world, "R1", "KX", [10, 20], ["qualify"])
    opportunities(world, "R2", "KX", [40])
    html = board(world, "M1", "pivot", domain=mine("KX"), rows="stage", cols="owner_id",
                 measures="amount:sum").get_data(as_text=True)
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    assert "R1 用户" in head and "R2 用户" in head and "Total" in head
    assert _pivot_cells(html) == [["New", "", "40.00", "40.00"], ["Qualified", "30.00", "", "30.00"]]
    assert ">70.00<" in re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    two = board(world, "M1", "pivot", domain=mine("KX"), rows="stage", cols="owner_id",
                measures="amount:sum,id:count").get_data(as_text=True)
    assert '<th scope="col" colspan="2">R1 用户</th>' in two  # a column's measures under its name
    by_month = board(world, "M1", "pivot", domain=mine("KX"), rows="created_at:month")
    this_month = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m")  # read_group buckets UTC datetimes
    assert by_month.status_code == 200
    assert f"<th scope=\"row\">{this_month}</th>" in by_month.get_data(as_text=True)
    assert board(world, "M1", "pivot", rows="description").status_code == 400  # text: not a dimension
    assert board(world, "M1", "pivot", measures="name:sum").status_code == 400


def test_the_pivot_exports_xlsx_and_csv_with_its_numbers(world):
    opportunities(world, "R1", "KE", [123.45, 100], ["qualify"])
    answer = board(world, "R1", "pivot", domain=mine("KE"), rows="stage",
                   measures="amount:sum,id:count", export="xlsx")
    assert answer.status_code == 200
    assert "filename*=UTF-8''" in answer.headers["Content-Disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(answer.data)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["Stage", "Amount (sum)", "Count"]
    assert rows[1][0] == "Qualified" and Decimal(str(rows[1][1])) == Decimal("223.45") and rows[1][2] == 2
    assert rows[-1][0] == "Total"
    zh = board(world, "R1", "pivot", lang="zh-CN", domain=mine("KE"), rows="stage", export="xlsx")
    disposition = zh.headers["Content-Disposition"]
    assert 'filename="crm.opportunity-pivot-' in disposition  # ASCII for old clients
    name = urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1])
    assert name.startswith(translate("Opportunity", "zh_CN") + "-") and name.endswith(".xlsx")
    csv_file = board(world, "R1", "pivot", domain=mine("KE"), rows="stage", measures="amount:sum",
                     export="csv")
    assert csv_file.headers["Content-Type"].startswith("text/csv")
    assert csv_file.data.decode("utf-8").splitlines() == ["Stage,Amount (sum)", "Qualified,223.45",
                                                         "Total,223.45"]
    with world["db"].unit_of_work("admin") as env:
        assert env["core.audit"].search_count([["action", "=", "export"], ["model", "=", "crm.opportunity"],
                                               ["user_id", "=", world["users"]["R1"]]]) == 3


def test_a_pivot_shows_at_most_its_maximum_of_groups(world, monkeypatch):
    opportunities(world, "R1", "KT", [1, 2, 3])
    monkeypatch.setattr(boards, "MAX_ROWS", 2)
    html = board(world, "R1", "pivot", domain=mine("KT"), rows="name",
                 measures="id:count").get_data(as_text=True)
    assert [row[0] for row in _pivot_cells(html)] == ["KT-0", "KT-1"]
    assert "too many groups" in html
    assert ">3<" in re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)  # the total is of every record


def test_the_graph_is_an_svg_chart_of_the_same_numbers(world):
    opportunities(world, "R1", "KG", [100], [])
    opportunities(world, "R1", "KG", [300], ["qualify"])
    html = board(world, "R1", "graph", domain=mine("KG"), rows="stage",
                 measures="amount:sum").get_data(as_text=True)
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    bars = re.findall(r'<g class="bar"><rect [^>]*height="([\d.]+)"[^>]*><title>([^<]*)</title>', svg)
    assert [t for _, t in bars] == ["New · Amount (sum): 100", "Qualified · Amount (sum): 300"]
    assert float(bars[1][0]) == pytest.approx(3 * float(bars[0][0]), rel=0.02)
    assert "style=" not in html and "<script>" not in html
    for kind in ("line", "pie", "funnel"):
        page_ = board(world, "R1", "graph", domain=mine("KG"), rows="stage", chart=kind)
        assert page_.status_code == 200 and "<svg" in page_.get_data(as_text=True), kind
    assert board(world, "R1", "graph", rows="owner_id", chart="funnel").status_code == 400


def test_the_funnel_shows_what_reached_each_stage_in_order(world):
    opportunities(world, "R1", "KU", [100], ["qualify", "propose"])
    opportunities(world, "R1", "KU", [100, 100])
    opportunities(world, "R1", "KU", [100], ["lose"], lost_reason="预算")  # off the funnel
    html = board(world, "R1", "graph", domain=mine("KU"), rows="stage", measures="id:count",
                 chart="funnel").get_data(as_text=True)
    stages = re.findall(r'<g class="stage"><rect [^>]*><title>([^<]*)</title>', html)
    assert stages == ["New: 3", "Qualified: 1", "Proposal: 1", "Negotiation: 0", "Won: 0"]


# -- filters and cost ---------------------------------------------------------------------
def test_boards_honour_the_list_search_and_link_to_the_filtered_list(world, monkeypatch):
    opportunities(world, "R1", "KS-alpha", [1, 2, 3])
    opportunities(world, "R1", "KS-beta", [4])
    monkeypatch.setattr(boards, "CARDS_PER_COLUMN", 2)
    html = board(world, "R1", "kanban", q="KS-alpha").get_data(as_text=True)
    assert columns(html)[0] == ("new", 3) and "KS-beta" not in html
    assert html.count('class="kanban-card"') == 2
    more = re.search(r'<a class="kanban-more" href="([^"]+)">1 more<', html)
    assert more, html
    url = more.group(1).replace("&amp;", "&")
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(url).query) == {
        "q": ["KS-alpha"], "qf": ["stage"], "qo": ["eq"], "qv": ["new"]}
    listed = world["clients"]["R1"].get(url).get_data(as_text=True)
    assert listed.count("KS-alpha-") == 3 and "KS-beta" not in listed
    pivot_html = board(world, "R1", "pivot", q="KS", rows="stage", measures="id:count").get_data(as_text=True)
    assert _pivot_cells(pivot_html) == [["New", "4"]]
    assert 'name="q" value="KS"' in pivot_html  # kept by the selectors' form


def test_a_board_costs_the_same_statements_for_few_or_many_records(world):
    from tests.conftest import StatementCounter

    def statements(prefix):
        with StatementCounter(world["db"].engine) as counter:
            assert board(world, "R1", "kanban", domain=mine(prefix)).status_code == 200
        return counter.count
    opportunities(world, "R1", "KQ1", [1])
    opportunities(world, "R1", "KQ2", [1] * 20, ["qualify"])
    opportunities(world, "R1", "KQ2", [1] * 5)
    assert statements("KQ2") == statements("KQ1") <= 20


# -- in a real browser --------------------------------------------------------------------
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser():
    import os
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as p:
        found = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield found
        found.close()


@pytest.fixture(scope="module")
def site(world):
    """The app over real HTTP on 127.0.0.1; its base URL."""
    from tests.test_api_security import Server
    server = Server(world["app"])
    yield f"http://127.0.0.1:{server.port}"
    server.close()


@pytest.fixture
def rep_page(browser, site):
    """``open(width, prefix)``: a page of R1 on the kanban of their
    opportunities named ``prefix…``, ``width`` pixels wide."""
    pages = []

    def open_board(width, prefix):
        page = browser.new_page(viewport={"width": width, "height": 900}, locale="en-US")
        pages.append(page)
        page.goto(site + "/web/login")
        page.fill("input[name=login]", "r1")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{site}/web/crm.opportunity?view=kanban&domain=" + urllib.parse.quote(mine(prefix)))
        return page
    yield open_board
    for page in pages:
        page.close()


def test_dragging_a_card_in_a_browser_moves_it_or_snaps_it_back(world, rep_page):
    accepted, = opportunities(world, "R1", "KB-drag", [1000])
    refused, = opportunities(world, "R1", "KB-keep", [2000])
    page = rep_page(1400, "KB")
    column = 'section.kanban-column[data-value="%s"]'
    page.locator(f'article[data-id="{accepted}"]').drag_to(page.locator(column % "qualified"))
    page.wait_for_selector(".board-message.ok")
    assert page.locator(".board-message").inner_text() == "Moved to Qualified."
    assert page.locator(f'{column % "qualified"} article[data-id="{accepted}"]').count() == 1
    assert page.locator(f'{column % "qualified"} .kanban-count').inner_text() == "1"
    assert page.locator(f'{column % "new"} .kanban-count').inner_text() == "1"
    assert page.locator(f'{column % "qualified"} .kanban-sum').inner_text() == "1,000.00"
    assert page.locator(f'article[data-id="{accepted}"] select option').all_inner_texts() == \
        ["Proposal", "Lost"]
    page.locator(f'article[data-id="{refused}"]').drag_to(page.locator(column % "proposal"))
    page.wait_for_selector(".board-message:not(.ok):not(.hidden)")
    assert page.locator(".board-message").inner_text() == \
        "This opportunity cannot move from New to Proposal."
    assert page.locator(f'{column % "new"} article[data-id="{refused}"]').count() == 1  # snapped back
    assert page.locator(f'{column % "new"} .kanban-count').inner_text() == "1"
    assert stage(world, accepted) == "qualified" and stage(world, refused) == "new"


def test_on_a_phone_columns_scroll_sideways_and_a_card_moves_with_its_form(world, rep_page):
    rid, = opportunities(world, "R1", "KH-phone", [1000])
    page = rep_page(390, "KH")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the page itself does not
    assert page.locator(".kanban").evaluate("k => k.scrollWidth > k.clientWidth")  # the columns do
    card = page.locator(f'article[data-id="{rid}"]')
    card.locator("select").select_option("qualified")
    card.locator("button", has_text="Move").click()
    page.wait_for_selector(".board-message.ok")
    assert page.locator(".board-message").inner_text() == "Moved to Qualified."
    assert page.locator(f'section[data-value="qualified"] article[data-id="{rid}"]').count() == 1
