"""Statement counts of a list page (issue 5 "Show"): the page of 20 rows
and the page of 80 rows send the same, small number of statements.

The list of ``crm.opportunity`` is declared (``core.view``) with five
many2one columns — customer, contact, owner, department, creator — and read
by sales rep r1 holding three roles, over 100 opportunities of distinct
customers and contacts. Everything the request sends is counted
(``before_cursor_execute``), session check included, after a first request
has warmed the caches. Permissions are loaded once per request and the
names of related records once per relation, so the count does not grow
with the rows; a page that read a name per row would send 80 more.
"""
import re

import pytest

from core.security.roles import apply_grants
from tests.conftest import StatementCounter, drop_module_database, module_database
from tests.test_api_security import PASSWORD, create_personas, make_app
from tests.web_helpers import sign_in

MAX_STATEMENTS = 15
COLUMNS = ["name", "customer_id", "contact_id", "owner_id", "department_id", "created_by_id"]
ROWS = 100


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_web_statement_counts", ["crm_base"])
    users = create_personas(db)
    with db.unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        reader = env["core.role"].create({"code": "crm_reader", "name": "CRM reader"}).id
        apply_grants(env, reader, "crm_reader", {
            "permissions": {"crm.customer": ["read"], "crm.opportunity": ["read"]},
            "scopes": {"crm.customer": "department", "crm.opportunity": "department"}})
        env["core.user"].browse(users["R1"]).write(
            {"roles": [roles["sales_rep"], roles["purchaser"], reader]})
        env["core.view"].search([["key", "=", "crm.opportunity.list"]]).write({"arch": {"fields": COLUMNS}})
        department = env["core.user"].browse(users["R1"]).read(["department_id"])[0]["department_id"]["id"]
    with db.unit_of_work(users["R1"]) as env:
        customers = env["crm.customer"].create(
            [{"name": f"客户 {i:03d}", "contact_ids": [{"name": f"联系人 {i:03d}"}]} for i in range(ROWS)])
        contacts = {c["customer_id"]["id"]: c["id"]
                    for c in env["crm.contact"].search_read([], ["customer_id"])}
        env["crm.opportunity"].create([{"name": f"商机 {i:03d}", "customer_id": cid,
                                        "contact_id": contacts[cid], "department_id": department}
                                       for i, cid in enumerate(customers.ids)])
    yield db, sign_in(make_app(db), "r1", PASSWORD)
    drop_module_database(db, "t_web_statement_counts")


def list_page(db, client, limit):
    """The statements of one list page of ``limit`` rows, checked to show
    ``limit`` opportunities with their customers' and contacts' names."""
    with StatementCounter(db.engine) as counter:
        response = client.get(f"/web/crm.opportunity?limit={limit}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:500]
    for label in ("商机", "客户", "联系人"):
        assert len(set(re.findall(label + r" \d{3}", html))) == limit, label
    return counter


def test_a_list_page_of_20_or_80_rows_with_5_many2one_columns_takes_the_same_few_statements(world):
    db, client = world
    list_page(db, client, 20)  # warms the registry's and the views' caches
    twenty, eighty = list_page(db, client, 20), list_page(db, client, 80)
    listing = "\n".join(eighty.statements)
    assert twenty.count == eighty.count, f"20 rows: {twenty.count}, 80 rows: {eighty.count}\n{listing}"
    assert eighty.count <= MAX_STATEMENTS, f"{eighty.count} statements:\n{listing}"
