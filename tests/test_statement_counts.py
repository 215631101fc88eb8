"""Statement counts of the model API: batches stay batches.

Counted with ``StatementCounter`` (every statement the driver receives,
``before_cursor_execute``) around the model API call alone, after the unit
of work has started. A model API that fell back to one query per row (or per
related record) sends hundreds of statements here and fails, whatever the
speed of the machine: no timing is asserted.
"""
import pytest

from core import hookimpl
from tests.conftest import StatementCounter, addon_module, available_with

N = 1000
CITIES = ["上海", "北京", "广州", "深圳", "杭州", "Chengdu", "Wuhan"]


def customer_rows(n, owners=None):
    owners = owners or [None]
    return [{"name": f"{'王李张刘陈'[i % 5]}客户{i:04d}" if i % 2 else f"Customer {i:04d}",
             "kind": "company" if i % 3 else "person",
             "city": CITIES[i % len(CITIES)],
             "phone": f"021-{i:08d}",
             "email": f"c{i}@example.com",
             **({"owner_id": owners[i % len(owners)]} if owners[0] is not None else {})}
            for i in range(n)]


def hooks_addon(seen):
    """A test addon watching ``crm.customer`` creations: the before hook
    changes every value dict, the after hook reads the new records' ids."""

    @hookimpl
    def keel_before_create(env, model, values_list):
        if model == "crm.customer":
            seen["before"] += 1
            seen["values"] += len(values_list)
            for vals in values_list:
                vals["region"] = "华东" if vals.get("city") in ("上海", "杭州") else "other"

    @hookimpl
    def keel_after_create(env, model, records):
        if model == "crm.customer":
            seen["after"] += 1
            seen["records"] += len(records.ids)

    return addon_module("stmt_count_hooks", depends=["crm_base"],
                        keel_before_create=keel_before_create, keel_after_create=keel_after_create)


@pytest.fixture
def hooked_db(make_db):
    seen = {"before": 0, "after": 0, "values": 0, "records": 0}
    module = hooks_addon(seen)
    db = make_db(addons=["crm_base", "sales", "stmt_count_hooks"], available=available_with(module))
    return db, seen


def test_batch_create_of_1000_with_hooks_takes_at_most_11_statements(hooked_db):
    db, seen = hooked_db
    rows = customer_rows(N)
    with db.unit_of_work("admin") as env:
        assert env.registry.hooks.has("keel_before_create")
        assert env.registry.hooks.has("keel_after_create")
        # what is read once per registry (workflow matrices, crm_base's
        # duplicate keys and territories) is read before counting: the
        # steady state of a running server
        from addons.crm_base import duplicates, territories
        from core.workflow import matrix
        matrix(env, "crm.customer"), duplicates.active_keys(env), territories.load_territories(env)
        with StatementCounter(db.engine) as counter:
            records = env["crm.customer"].create(rows)
        # the work really happened: every row, through both hooks, with a sequence code
        assert len(records) == N and len(set(records.ids)) == N
        assert seen == {"before": 1, "after": 1, "values": N, "records": N}
    # crm_base's duplicate check (one indexed query for the batch) and
    # territory routing (territories and key settings read once per registry)
    assert counter.count <= 11, f"{counter.count} statements:\n" + "\n".join(counter.statements[:20])
    with db.unit_of_work("admin") as env:
        stored = env["crm.customer"].search_read([], ["code", "name", "region", "owner_id"], order="id")
    assert len(stored) == N
    assert len({r["code"] for r in stored}) == N and all(r["code"] for r in stored)
    assert [r["name"] for r in stored] == [r["name"] for r in rows]
    assert {r["region"] for r in stored} == {"华东", "other"}
    assert all(r["owner_id"]["id"] == env.uid for r in stored)  # the owner default, filled per row


@pytest.fixture
def many_owned(db):
    """``N`` customers spread over five owners; returns their ids in name order."""
    with db.unit_of_work("admin") as env:
        owners = env["core.user"].create([{"login": f"rep{k}", "name": f"销售代表 {k}"} for k in range(5)])
        env["crm.customer"].create(customer_rows(N, list(owners.ids)))
        ids = env["crm.customer"].search([], order="name").ids
        labels = {u: f"销售代表 {k}" for k, u in enumerate(owners.ids)}
    return ids, labels


FIELDS = ["name", "city", "phone", "owner_id"]


def check_rows(rows, ids, labels):
    assert [r["id"] for r in rows] == list(ids)
    assert all(set(r) == {"id", *FIELDS} for r in rows)
    assert all(r["owner_id"] == {"id": r["owner_id"]["id"], "name": labels[r["owner_id"]["id"]]}
               for r in rows)
    assert len({r["owner_id"]["id"] for r in rows}) == 5
    assert all(r["name"] and r["city"] in CITIES and r["phone"].startswith("021-") for r in rows)


def test_search_read_of_1000_with_owner_names_takes_at_most_3_queries(db, many_owned):
    ids, labels = many_owned
    with db.unit_of_work("admin") as env:
        with StatementCounter(db.engine) as counter:
            rows = env["crm.customer"].search_read([], FIELDS, order="name")
    check_rows(rows, ids, labels)
    assert counter.count <= 3, f"{counter.count} queries:\n" + "\n".join(counter.statements[:20])


def test_browse_read_of_1000_with_owner_names_takes_at_most_3_queries(db, many_owned):
    ids, labels = many_owned
    with db.unit_of_work("admin") as env:
        with StatementCounter(db.engine) as counter:
            rows = env["crm.customer"].browse(ids).read(FIELDS)
    check_rows(rows, ids, labels)
    assert counter.count <= 3, f"{counter.count} queries:\n" + "\n".join(counter.statements[:20])


def test_the_record_cache_follows_writes_and_deletes(db):
    with db.unit_of_work("admin") as env:
        rep = env["core.user"].create({"login": "rep", "name": "Rep"})
        env["crm.customer"].create([{"name": f"C{i}", "owner_id": rep.id} for i in range(5)])
    with db.unit_of_work("admin") as env:
        page = env["crm.customer"].search([], order="name", limit=5)
        first = next(iter(page))
        assert first.city is None and first.owner_id.id == rep.id  # the page is now cached
        first.write({"city": "北京"})
        assert first.city == "北京"
        env["core.user"].browse(rep.id).unlink()  # owner_id is set null by the database
        assert [bool(r.owner_id) for r in page] == [False] * 5


def test_batch_create_by_a_scoped_user_checks_the_scope_in_a_few_statements(db):
    """A sales rep's batch (an import, a form's lines) is checked against the
    rep's scope once per chunk of ids, not once per row: the check used to
    run the whole scope query for every created record (quadratic)."""
    from tests.test_api_security import create_personas
    create_personas(db)
    with db.unit_of_work("r1") as env:
        customer = env["crm.customer"].create({"name": "批量联系人的客户", "kind": "company"}).id
        with StatementCounter(db.engine) as counter:
            contacts = env["crm.contact"].create([{"customer_id": customer, "name": f"联系人{i}"}
                                                  for i in range(N)])
        assert len(contacts) == N
    assert counter.count <= 11, f"{counter.count} statements:\n" + "\n".join(counter.statements[:20])


def test_an_action_held_by_an_approval_policy_takes_at_most_15_statements(db):
    """Holding ``win`` for approval: the request, its task, the audit entry
    and the approver's notice — the notice reading the recipients' own row
    only, not the names of everything it refers to (that cost 3 more)."""
    from tests.test_api_security import create_personas
    create_personas(db)
    with db.unit_of_work("admin") as env:
        env["core.approval_policy"].create({
            "name": "big", "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]],
            "levels": [{"approvers": {"type": "manager"}, "mode": "any"}]})
    with db.unit_of_work("r1") as env:
        customer = env["crm.customer"].create({"name": "审批的客户", "kind": "company"}).id
        deals = env["crm.opportunity"].create([{"name": f"大单{i}", "customer_id": customer,
                                                "amount": 200000} for i in range(2)])
        for action in ("qualify", "propose", "negotiate"):
            deals.action(action)
        first, second = deals.ids
    with db.unit_of_work("r1") as env:  # the first fills the process's caches
        env["crm.opportunity"].browse([first]).action("win")
    with db.unit_of_work("r1") as env:
        with StatementCounter(db.engine) as counter:
            [outcome] = env["crm.opportunity"].browse([second]).action("win")
        assert not outcome.ran and outcome.approval["state"] == "pending"
        assert env.sudo()["core.notification"].search_count([["record_id", "=", second]]) == 1
    assert counter.count <= 15, f"{counter.count} statements:\n" + "\n".join(counter.statements[:20])
