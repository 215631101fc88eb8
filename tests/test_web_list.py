"""The list view ``/web/MODEL`` (core/web/model_views.py, list_query.py):
search, filters, the query editor, saved filters, grouping, sorting,
paging, bulk actions, exports, access, and a statement count that does not
grow with the rows."""
import csv
import datetime as dt
import io
import re
from urllib.parse import unquote

import pytest

from core.web import boards, model_views
from tests.conftest import ADMIN_PASSWORD, StatementCounter, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import csrf_token, get, sign_in

SCHEMA = "t_web_list"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, SCHEMA, ["crm_base"])
    users = create_personas(db)
    with db.unit_of_work(users["R1"]) as env:
        made = env["crm.customer"].create(
            [{"name": f"客户{i:02d}", "city": "上海" if i % 2 else "北京",
              "grade": "intent" if i < 4 else "deal", "kind": "company"} for i in range(10)])
        customers = list(made.ids)
        env["crm.opportunity"].create([{"name": f"商机{i}", "customer_id": customers[i % 3],
                                        "amount": "1000.50"} for i in range(90)])
    with db.unit_of_work(users["R2"]) as env:
        env["crm.customer"].create({"name": "同事的客户", "city": "上海"})
    app = make_app(db)
    clients = {"R1": sign_in(app, "r1", PASSWORD), "B": sign_in(app, "b", PASSWORD),
               "admin": sign_in(app, "admin", ADMIN_PASSWORD), "X": sign_in(app, "x", PASSWORD)}
    yield {"db": db, "users": users, "customers": customers, "app": app, "clients": clients}
    drop_module_database(db, SCHEMA)


def names(html):
    """The record names in the rows of a list of customers (second column)."""
    return re.findall(r'<td class="">(客户\d\d|同事的客户)</td>', html)


def test_rows_are_the_users_own_with_values_formatted(world):
    html = get(world, "/web/crm.customer")
    assert len(names(html)) == 10 and "同事的客户" not in html  # R2's customer is outside R1's rules
    assert "Intent" in html and "Company" in html and "R1 用户" in html  # labels, many2one names
    assert f'href="/web/crm.customer/{world["customers"][0]}"' in html
    assert 'href="/web/crm.customer/new"' in html  # a rep may create customers
    assert "1–10 of 10" in html


def test_search_box_finds_chinese_text(world):
    html = get(world, "/web/crm.customer?q=上海")
    assert len(names(html)) == 5 and "北京" not in html.split("<tbody>")[1]


def test_filters_of_the_search_view(world):
    assert len(names(get(world, "/web/crm.customer?f=grade.intent"))) == 4
    # two options of one field: either; another field: both
    assert len(names(get(world, "/web/crm.customer?f=grade.intent&f=grade.deal"))) == 10
    assert len(names(get(world, "/web/crm.customer?f=grade.intent&f=kind.person"))) == 0
    html = get(world, "/web/crm.customer?f=mine", who="X")
    assert "<tbody>" in html and not names(html)  # the director owns none


def test_query_editor_rows(world):
    url = "/web/crm.customer?qf=city&qo=eq&qv=上海&qf=grade&qo=eq&qv=Intent&qf=&qo=contains&qv="
    assert names(get(world, url)) == ["客户01", "客户03"]  # a selection by its label
    assert len(names(get(world, "/web/crm.customer?qf=name&qo=not_contains&qv=3"))) == 9
    assert len(names(get(world, "/web/crm.customer?qf=next_contact_at&qo=unset&qv="))) == 10
    assert len(names(get(world, "/web/crm.customer?qf=owner_id&qo=contains&qv=R1"))) == 10
    html = get(world, "/web/crm.customer?qf=nope&qo=eq&qv=1")
    assert 'role="alert"' in html and "nope" in html
    html = get(world, "/web/crm.customer?qf=contact_cycle_days&qo=eq&qv=many")
    assert 'role="alert"' in html and "contact_cycle_days" in html
    # the editor shows the rows given and one empty row
    assert html.count('name="qf"') == 2


def test_sort_by_clicking_a_column(world):
    html = get(world, "/web/crm.customer?order=name+desc")
    assert names(html)[:2] == ["客户09", "客户08"]
    assert 'aria-sort="descending"' in html and "order=name&amp;" not in html.split("Name")[0]
    assert "order=owner_id.name" in html  # a many2one sorts by its record's name
    assert names(get(world, "/web/crm.customer?order=name;drop"))[0] == "客户00"  # ignored


def test_paging_with_a_capped_total(world, monkeypatch):
    html = get(world, "/web/crm.opportunity?limit=20&offset=20")
    assert "21–40 of 90" in html and "offset=40" in html and "offset=0" not in html
    assert 'rel="prev"' in html
    assert "<tfoot>" in html and "90,045.00" in html  # the sum of every match, not of the page
    monkeypatch.setattr(model_views, "COUNT_CAP", 50)
    html = get(world, "/web/crm.opportunity?limit=20")
    assert "1–20 of 50+" in html and 'rel="next"' in html
    assert "<tfoot>" not in html  # no sum over more rows than are counted


def test_group_by_with_counts_and_sums(world, monkeypatch):
    html = get(world, "/web/crm.opportunity?group=customer_id")
    assert html.count("<td class=\"num\">30</td>") == 3  # 90 opportunities over 3 customers
    assert "30,015.00" in html  # the sum of the amounts, as money
    link = re.search(r'href="/web/crm.opportunity\?([^"]*qf=customer_id[^"]*)"', html).group(1)
    assert "group=" not in link
    monkeypatch.setattr(model_views, "MAX_GROUPS", 2)
    html = get(world, "/web/crm.opportunity?group=customer_id")
    assert html.count('<td class="num">30</td>') == 2 and "Only the first 2 groups" in html
    html = get(world, "/web/crm.customer?group=grade")
    assert "Intent" in html and '<td class="num">4</td>' in html and '<td class="num">6</td>' in html


def test_columns_can_be_chosen(world):
    html = get(world, "/web/crm.customer?cols=name&cols=in_pool&cols=nope")
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert "In the lead pool" in head and "City" not in head
    assert ">No<" in html  # a boolean, in words


def test_saved_filters_per_user(world):
    client = world["clients"]["R1"]
    token = csrf_token(get(world, "/web/crm.customer"))
    answer = client.post("/web/crm.customer/filters", data={
        "csrf_token": token, "name": "上海的客户", "query": "q=上海", "is_default": "1"})
    assert answer.status_code == 302
    html = get(world, "/web/crm.customer")  # the default applies to the bare address
    assert len(names(html)) == 5 and "上海的客户" in html
    assert "上海的客户" not in get(world, "/web/crm.customer", who="X")  # nobody else's
    with world["db"].unit_of_work("admin") as env:
        saved = env["core.saved_filter"].search_read([["name", "=", "上海的客户"]], ["domain", "user_id"])
    assert saved[0]["user_id"]["id"] == world["users"]["R1"]
    assert saved[0]["domain"][0] == "|"  # the search box's domain, kept for other uses
    other = world["clients"]["X"].post(f"/web/crm.customer/filters/{saved[0]['id']}/delete",
                                       data={"csrf_token": csrf_token(get(world, "/web", who="X"))})
    assert other.status_code == 404
    answer = client.post(f"/web/crm.customer/filters/{saved[0]['id']}/delete", data={"csrf_token": token})
    assert answer.status_code == 302
    assert len(names(get(world, "/web/crm.customer"))) == 10


def test_bulk_set_delete_with_confirmation_and_export(world):
    client = world["clients"]["X"]  # the director may delete
    with world["db"].unit_of_work("admin") as env:
        ids = env["crm.customer"].create([{"name": f"临时{i}"} for i in range(3)]).ids
    token = csrf_token(get(world, "/web/crm.customer", who="X"))
    form = {"csrf_token": token, "ids": [str(i) for i in ids], "next": "/web/crm.customer?q=临时"}
    answer = client.post("/web/crm.customer/bulk", data={**form, "bulk": "set", "field": "city",
                                                          "value": "杭州"})
    assert answer.status_code == 302 and unquote(answer.headers["Location"]).endswith("q=临时")
    answer = client.post("/web/crm.customer/bulk", data={**form, "bulk": "export", "format": "csv"})
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert len(rows) == 4 and all("杭州" in r for r in rows[1:])
    answer = client.post("/web/crm.customer/bulk", data={**form, "bulk": "delete"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and "Delete 3 records?" in html and "临时0" in html
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].search_count([["id", "in", list(ids)]]) == 3  # not yet
    answer = client.post("/web/crm.customer/bulk", data={**form, "bulk": "delete", "confirm": "1"})
    assert answer.status_code == 302
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].search_count([["id", "in", list(ids)]]) == 0


def test_a_rep_cannot_bulk_change_what_is_not_theirs(world):
    client = world["clients"]["R1"]
    with world["db"].unit_of_work(world["users"]["R2"]) as env:
        theirs = env["crm.customer"].search([]).ids[0]
    token = csrf_token(get(world, "/web/crm.customer"))
    answer = client.post("/web/crm.customer/bulk", data={
        "csrf_token": token, "ids": [str(theirs)], "bulk": "set", "field": "city", "value": "x"})
    assert answer.status_code == 404
    html = get(world, "/web/crm.customer")
    assert 'value="delete"' not in html  # a rep may not delete customers


def test_export_of_the_current_filter(world):
    answer = world["clients"]["R1"].get("/web/crm.customer/export?format=csv&q=北京&cols=name&cols=city")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0] == ["Name", "City"] and len(rows) == 6
    answer = world["clients"]["R1"].get("/web/crm.customer/export?format=xlsx")
    assert answer.data[:2] == b"PK"


def test_only_models_the_user_may_read(world):
    get(world, "/web/crm.customer", who="B", status=403)
    get(world, "/web/no.such_model", status=404)
    html = get(world, "/web/core.department")  # everyone reads departments; nobody creates
    assert 'href="/web/core.department/new"' not in html


def test_the_view_switcher_and_the_boards(world, monkeypatch):
    html = get(world, "/web/crm.opportunity")
    assert 'href="/web/crm.opportunity?view=kanban"' in html
    assert 'href="/web/crm.opportunity?view=pivot"' in html
    calls = []
    monkeypatch.setattr(boards, "render", lambda env, model, vtype: calls.append((model, vtype)) or "board")
    assert get(world, "/web/crm.opportunity?view=kanban") == "board"
    assert calls == [("crm.opportunity", "kanban")]
    get(world, "/web/crm.customer?view=kanban", who="B", status=403)


def test_statements_do_not_grow_with_the_rows(world):
    """A rep holding several roles; five many2one columns; 20 and 80 rows."""
    db, users = world["db"], world["users"]
    with db.unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        env["core.user"].browse(users["R1"]).write(
            {"roles": [roles["sales_rep"], roles["sales_manager"], roles["sales_director"]]})
    client = sign_in(world["app"], "r1", PASSWORD)
    cols = "".join(f"&cols={c}" for c in ("name", "customer_id", "owner_id", "department_id",
                                         "created_by_id", "updated_by_id", "amount"))
    counts = []
    try:
        for limit in (20, 80, 20, 80):
            url = f"/web/crm.opportunity?limit={limit}{cols}"
            with StatementCounter(db.engine) as counter:
                html = client.get(url).get_data(as_text=True)
            assert html.count("<tr data-href") == limit
            counts.append(counter.count)
    finally:
        with db.unit_of_work("admin") as env:
            env["core.user"].browse(users["R1"]).write({"roles": [roles["sales_rep"]]})
    assert counts[2] == counts[3], counts
    assert counts[3] <= 16, counts


def test_every_model_lists_without_error_for_an_admin(world):
    with world["db"].unit_of_work("admin") as env:
        models = sorted(env.registry.models)
    for model in models:
        for extra in ("", "?q=a&order=id+desc"):
            answer = world["clients"]["admin"].get(f"/web/{model}{extra}")
            assert answer.status_code == 200, (model, answer.get_data(as_text=True)[-800:])


def test_bulk_set_takes_an_option_by_its_label(world):
    client = world["clients"]["R1"]
    token = csrf_token(get(world, "/web/crm.customer"))
    first = world["customers"][0]
    answer = client.post("/web/crm.customer/bulk", data={
        "csrf_token": token, "ids": [str(first)], "bulk": "set", "field": "grade", "value": "Deal"})
    assert answer.status_code == 302
    with world["db"].unit_of_work("admin") as env:
        assert env["crm.customer"].browse(first).grade == "deal"
        env["crm.customer"].browse(first).write({"grade": "intent"})


def test_dates_are_formatted(world):
    with world["db"].unit_of_work(world["users"]["R1"]) as env:
        env["crm.customer"].browse(world["customers"][0]).write(
            {"next_contact_at": dt.datetime(2026, 3, 5, 2, 30)})
    html = get(world, "/web/crm.customer?q=客户00")
    assert "2026-03-05" not in html and "2026" in html


def test_a_view_may_declare_default_filters_and_grouping(world):
    """Opened without arguments, a list applies the search view's filters
    marked ``default`` and the list's ``group_by``; "Clear" (``?f=``) and
    any search drop them."""
    db = world["db"]
    with db.unit_of_work("admin") as env:
        env["core.view"].create([
            {"key": "t.customer.list.defaults", "model": "crm.customer", "type": "list",
             "arch": {"extends": "crm.customer.list", "set": {"group_by": "grade"}}},
            {"key": "t.customer.search.defaults", "model": "crm.customer", "type": "search",
             "arch": {"extends": "crm.customer.search", "append": {"filters": [
                 {"key": "deal", "label": "Deals", "domain": [["grade", "=", "deal"]],
                  "default": True}]}}}])
    try:
        html = get(world, "/web/crm.customer")
        assert 'name="f" value="deal" checked' in html or 'value="deal" checked' in html
        # grouped by grade, filtered to the deals: one group of 6 rather than rows
        assert names(html) == [] and '<td class="num">6</td>' in html
        assert '<td class="num">4</td>' not in html  # the 4 intents are filtered out
        cleared = get(world, "/web/crm.customer?f=")
        assert len(names(cleared)) == 10
    finally:
        with db.unit_of_work("admin") as env:
            env["core.view"].search([["key", "like", "t.customer.%.defaults"]]).unlink()
