"""Record scopes, sharing, inheritance, field rules and module isolation,
enforced by the model API (CONTRACT.md §6 personas).

D1 (manager M1, reps R1 and R2) with a sub-group D1A (rep R4), D2 (rep R3),
director X, buyer B (a role with no CRM permission)."""
import pytest

from core.errors import AccessDenied, DomainError, NotFound, UserInputError
from core.security.roles import apply_grants
from core.security.sharing import share
from tests.conftest import StatementCounter


@pytest.fixture
def world(db):
    with db.unit_of_work() as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        buyer = env["core.role"].create({"code": "purchaser", "name": "Buyer"})
        apply_grants(env, buyer.id, "purchaser", {"permissions": {"core.sequence": ["read"]}})
        users = env["core.user"]
        d1 = env["core.department"].create({"code": "D1", "name": "华东销售部"})
        d1a = env["core.department"].create({"code": "D1A", "name": "上海组", "parent_id": d1.id})
        d2 = env["core.department"].create({"code": "D2", "name": "华北销售部"})

        def user(login, dept, role):
            return users.create({"login": login, "name": login, "department_id": dept,
                                 "roles": [role]}).id
        ids = {"M1": user("m1", d1.id, roles["sales_manager"]),
               "R1": user("r1", d1.id, roles["sales_rep"]), "R2": user("r2", d1.id, roles["sales_rep"]),
               "R4": user("r4", d1a.id, roles["sales_rep"]), "R3": user("r3", d2.id, roles["sales_rep"]),
               "X": user("x", None, roles["sales_director"]), "B": user("b", None, buyer.id)}
        env["core.department"].browse(d1.id).write({"manager_id": ids["M1"]})
    customers = {}
    for rep in ("R1", "R2", "R3", "R4"):
        with db.unit_of_work(ids[rep]) as env:
            made = env["crm.customer"].create([{"name": f"{rep}-客户{i}", "city": "上海" if i else "北京"}
                                               for i in range(3)])
            env["crm.contact"].create([{"name": f"{rep}-联系人", "customer_id": made.ids[0]}])
            customers[rep] = list(made.ids)
    return {"users": ids, "customers": customers, "db": db}


def names(env, domain=()):
    return sorted(r["name"] for r in env["crm.customer"].search_read(list(domain), ["name"]))


def owned(rep, world):
    return sorted(f"{rep}-客户{i}" for i in range(3))


def test_each_persona_sees_its_scope(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        assert names(env) == owned("R1", world)
        assert env["crm.customer"].search_count([]) == 3
    with db.unit_of_work(u["M1"]) as env:  # department tree: D1 and D1A
        assert names(env) == sorted(owned("R1", world) + owned("R2", world) + owned("R4", world))
    with db.unit_of_work(u["R3"]) as env:
        assert names(env) == owned("R3", world)
    with db.unit_of_work(u["X"]) as env:
        assert env["crm.customer"].search_count([]) == 12


def test_out_of_scope_records_answer_as_missing(world):
    db, u, c = world["db"], world["users"], world["customers"]
    theirs = c["R2"][0]
    with db.unit_of_work(u["R1"]) as env:
        records = env["crm.customer"].browse([theirs])
        with pytest.raises(NotFound):
            records.read(["name"])
        with pytest.raises(NotFound):
            records.write({"name": "stolen"})
        with pytest.raises(AccessDenied):  # reps may delete nothing at all
            records.unlink()
        with pytest.raises(NotFound):
            records.name
        missing = env["crm.customer"].browse([999999])
        with pytest.raises(NotFound) as gone:
            missing.read(["name"])
        with pytest.raises(NotFound) as hidden:
            records.read(["name"])
        assert str(gone.value).replace("999999", "N") == str(hidden.value).replace(str(theirs), "N")
    with db.unit_of_work(u["X"]) as env:
        assert env["crm.customer"].browse([theirs]).name == "R2-客户0"


def test_domains_and_dotted_paths_cannot_widen_the_scope(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        assert names(env, [["owner_id", "=", u["R2"]]]) == []
        assert names(env, ["|", ["owner_id", "=", u["R2"]], ["owner_id", "!=", u["R2"]]]) == owned("R1", world)
        assert names(env, [["owner_id.login", "=", "r2"]]) == []
        assert names(env, [["department_id.code", "=", "D1"]]) == owned("R1", world)


def test_group_counts_include_only_visible_rows(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        groups = env["crm.customer"].read_group([], ["city"], ["id:count"])
        assert {g["city"]: g["id:count"] for g in groups} == {"上海": 2, "北京": 1}
        by_owner = env["crm.customer"].read_group([], ["owner_id"], ["id:count"])
        assert [(g["owner_id"]["name"], g["id:count"]) for g in by_owner] == [("r1", 3)]


def test_the_scope_is_in_the_sql_where_clause(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        with StatementCounter(db.engine) as counter:
            env["crm.customer"].search([["city", "=", "上海"]], limit=80)
        [sql] = [s for s in counter.statements if "FROM crm_customer" in s.split("WHERE")[0]]
        assert "crm_customer.owner_id = " in sql and "WHERE" in sql
        assert "LIMIT" in sql  # paging in SQL: nothing filtered afterwards in Python


def test_contacts_follow_their_customer(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        assert [r["name"] for r in env["crm.contact"].search_read([], ["name"])] == ["R1-联系人"]
    with db.unit_of_work(u["M1"]) as env:
        assert sorted(r["name"] for r in env["crm.contact"].search_read([], ["name"])) == [
            "R1-联系人", "R2-联系人", "R4-联系人"]
    with db.unit_of_work(u["R3"]) as env:
        contact = env["crm.contact"].search([])
        assert len(contact) == 1
        row = contact.read(["customer_id"])[0]
        assert row["customer_id"]["name"] == "R3-客户0"


def test_related_names_outside_the_scope_are_not_shown(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(None) as env:  # R2's contact reports to a contact of R1's customer
        theirs = env["crm.contact"].search([["name", "=", "R1-联系人"]])
        mine = env["crm.contact"].search([["name", "=", "R2-联系人"]])
        mine.write({"reports_to_id": theirs.id})
    with db.unit_of_work(u["R2"]) as env:
        row = env["crm.contact"].browse(mine.ids).read(["reports_to_id"])[0]
        assert row["reports_to_id"] == {"id": theirs.id, "name": None}
    with db.unit_of_work(u["M1"]) as env:  # the manager sees both, names included
        row = env["crm.contact"].browse(mine.ids).read(["reports_to_id"])[0]
        assert row["reports_to_id"] == {"id": theirs.id, "name": "R1-联系人"}
    with db.unit_of_work(u["R2"]) as env:
        assert env["core.user"].search_read([["login", "=", "r1"]], ["name"])[0]["name"] == "r1"
        assert "password_hash" not in env["core.user"].search_read([], None, limit=1)[0]


def test_sharing_gives_read_or_edit(world):
    db, u, c = world["db"], world["users"], world["customers"]
    shared_read, shared_edit = c["R2"][0], c["R2"][1]
    with db.unit_of_work(u["R2"]) as env:
        customers = env["crm.customer"]
        share(customers.browse([shared_read]), user_id=u["R3"])
        share(customers.browse([shared_edit]), user_id=u["R3"], mode="edit")
        with pytest.raises(NotFound):  # what R2 cannot change, R2 cannot share
            share(customers.browse([world["customers"]["R1"][0]]), user_id=u["R3"])
        with pytest.raises(AccessDenied):  # shares are made through share(), not written directly
            env["core.share"].create({"model": "crm.customer", "record_id": shared_read,
                                      "user_id": u["R2"]})
    with db.unit_of_work(u["R3"]) as env:
        assert names(env) == sorted(owned("R3", world) + ["R2-客户0", "R2-客户1"])
        with pytest.raises(NotFound):
            env["crm.customer"].browse([shared_read]).write({"city": "广州"})
        env["crm.customer"].browse([shared_edit]).write({"city": "广州"})
        # the shared customer's contacts follow it
        assert "R2-联系人" in [r["name"] for r in env["crm.contact"].search_read([], ["name"])]


def test_a_share_made_elsewhere_reaches_a_user_whose_rules_are_cached(world):
    """Only users with something shared carry the sharing condition, so a
    share (or its removal) must reach rules already cached — also when made
    by another process."""
    from core.db import Database
    from core.security.sharing import unshare
    db, u, c = world["db"], world["users"], world["customers"]
    theirs = c["R2"][2]
    with db.unit_of_work(u["R3"]) as env:  # R3's rules are cached now
        assert names(env) == owned("R3", world)
        with StatementCounter(db.engine) as counter:
            env["crm.customer"].search([])
        assert "core_share" not in " ".join(counter.statements)
    other = Database(str(db.engine.url.render_as_string(hide_password=False)))
    try:
        with other.unit_of_work(u["R2"]) as env:
            share(env["crm.customer"].browse([theirs]), user_id=u["R3"])
    finally:
        other.dispose()
    with db.unit_of_work(u["R3"]) as env:
        assert names(env) == sorted(owned("R3", world) + ["R2-客户2"])
        with StatementCounter(db.engine) as counter:
            env["crm.customer"].search([])
        assert "core_share" in " ".join(counter.statements)
    with db.unit_of_work(u["R2"]) as env:
        unshare(env["crm.customer"].browse([theirs]), user_id=u["R3"])
    with db.unit_of_work(u["R3"]) as env:
        assert names(env) == owned("R3", world)
        with pytest.raises(NotFound):
            env["crm.customer"].browse([theirs]).read(["name"])


def test_module_isolation_for_a_buyer(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["B"]) as env:
        for call in (lambda: env["crm.customer"].search([]),
                     lambda: env["crm.customer"].search_count([]),
                     lambda: env["crm.customer"].read_group([], ["city"]),
                     lambda: env["crm.customer"].create({"name": "x"}),
                     lambda: env["crm.contact"].search_read([], ["name"])):
            with pytest.raises(AccessDenied):
                call()
        assert not env.access.allowed("crm.customer", "read")
        assert env.access.allowed("core.sequence", "read")


def test_reps_may_not_delete_but_managers_may(world):
    db, u, c = world["db"], world["users"], world["customers"]
    with db.unit_of_work(u["R1"]) as env:
        with pytest.raises(AccessDenied, match="delete"):
            env["crm.customer"].browse([c["R1"][2]]).unlink()
    with db.unit_of_work(u["M1"]) as env:
        env["crm.customer"].browse([c["R1"][2]]).unlink()
        with pytest.raises(NotFound):  # D2 is not below D1
            env["crm.customer"].browse([c["R3"][2]]).unlink()


def test_field_rules_hide_and_protect(world):
    db, u, c = world["db"], world["users"], world["customers"]
    with db.unit_of_work() as env:
        rep = env["core.role"].search([["code", "=", "sales_rep"]])
        apply_grants(env, rep.id, "sales_rep", {"fields": {"crm.customer": {
            "credit_limit": "hidden", "level": "readonly"}}})
    with db.unit_of_work(u["R1"]) as env:
        customers = env["crm.customer"]
        row = customers.browse([c["R1"][0]]).read()[0]
        assert "credit_limit" not in row and "level" in row
        with pytest.raises(UserInputError, match="has no field 'credit_limit'"):
            customers.search_read([], ["credit_limit"])
        with pytest.raises(DomainError, match="no field 'credit_limit'"):
            customers.search([["credit_limit", ">", 0]])
        with pytest.raises(DomainError):
            customers.read_group([], ["city"], ["credit_limit:sum"])
        with pytest.raises(AccessDenied, match="level is read-only"):
            customers.browse([c["R1"][0]]).write({"level": "A"})
        with pytest.raises(AccessDenied, match="credit_limit is read-only"):
            customers.create({"name": "n", "credit_limit": 5})
    with db.unit_of_work(u["X"]) as env:  # the director's role has no such rule
        assert "credit_limit" in env["crm.customer"].browse([c["R1"][0]]).read()[0]


def test_secret_fields_are_out_of_reach(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["X"]) as env:
        with pytest.raises(DomainError):
            env["core.user"].search([["password_hash", "like", "scrypt%"]])
        with pytest.raises(UserInputError):
            env["core.user"].search_read([], ["password_hash"])
    with db.unit_of_work("admin") as env:  # even administrators
        assert "password_hash" not in env["core.user"].search_read([], None, limit=1)[0]


def test_the_audit_log_is_not_writable_through_the_model_api(world):
    db = world["db"]
    with db.unit_of_work(None) as env:  # not even the system context
        with pytest.raises(AccessDenied):
            env["core.audit"].create({"action": "forged"})
        with pytest.raises(AccessDenied):
            env["core.audit"].search([]).unlink()


def test_a_user_without_roles_sees_no_business_data(world):
    db = world["db"]
    with db.unit_of_work() as env:
        nobody = env["core.user"].create({"login": "nobody", "name": "Nobody"}).id
    with db.unit_of_work(nobody) as env:
        with pytest.raises(AccessDenied):
            env["crm.customer"].search([])
        assert env["core.department"].search_count([]) == 3  # the org chart is public


def test_menus_and_views_follow_read_permissions(world):
    from core.security.menus import visible_menus, visible_views
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["R1"]) as env:
        keys = [m["key"] for m in visible_menus(env)]
        assert "crm.customers" in keys and "crm" in keys  # the heading shows with its items
        assert "settings.users" not in keys and "settings" not in keys  # readable, not administered
        assert visible_views(env, "crm.customer")
    with db.unit_of_work(u["B"]) as env:
        keys = [m["key"] for m in visible_menus(env)]
        assert not [k for k in keys if k.startswith("crm")]
        assert "sales" not in keys  # a heading with nothing visible below it
        assert visible_views(env, "crm.customer") == []
    with db.unit_of_work("admin") as env:
        keys = [m["key"] for m in visible_menus(env)]
        assert "crm.contacts" in keys and "settings.users" in keys


def test_records_cannot_be_moved_out_of_the_callers_scope(world):
    db, u, c = world["db"], world["users"], world["customers"]
    with pytest.raises(AccessDenied, match="outside your own scope"):
        with db.unit_of_work(u["R1"]) as env:
            env["crm.customer"].create({"name": "送给同事", "owner_id": u["R2"]})
    with pytest.raises(AccessDenied, match="outside your own scope"):
        with db.unit_of_work(u["R1"]) as env:
            env["crm.customer"].browse([c["R1"][0]]).write({"owner_id": u["R2"]})
    with db.unit_of_work(u["X"]) as env:  # nothing of either attempt was kept
        assert env["crm.customer"].search_count([["name", "=", "送给同事"]]) == 0
    with db.unit_of_work(u["R1"]) as env:
        assert names(env) == owned("R1", world)
        assert env["crm.customer"].browse([c["R1"][0]]).owner_id.id == u["R1"]
    with db.unit_of_work(u["M1"]) as env:  # a manager reassigns within the team
        env["crm.customer"].browse([c["R1"][0]]).write({"owner_id": u["R2"]})
        assert env["crm.customer"].browse([c["R1"][0]]).owner_id.id == u["R2"]


def test_indexes_carry_the_scope_columns(world):
    """An owned model has an index (default order field, id, scope
    columns…): a scoped list in that order is answered from the index alone
    (``make bench`` measures it on 100,000 customers)."""
    import sqlalchemy as sa
    db = world["db"]
    with db.transaction() as conn:
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("crm_customer")}
        contact = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("crm_contact")}
        users = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("core_user")}
    assert indexes["ix_crm_customer_name_scope"] == ["name", "id", "owner_id", "department_id"]
    assert indexes["ix_crm_customer_name"] == ["name"]  # the plain one stays for unscoped filters
    assert indexes["ix_crm_customer_city"] == ["city"]  # only the default order gets one
    assert contact["ix_crm_contact_name_scope"] == ["name", "id", "customer_id"]  # follows its customer
    assert not [n for n in users if n.endswith("_scope")]  # readable by all: no scope to carry


def test_grants_with_an_unknown_key_are_refused(world):
    with world["db"].unit_of_work() as env:
        role = env["core.role"].search([["code", "=", "sales_rep"]])
        with pytest.raises(UserInputError, match="unknown key 'field_rules'"):
            apply_grants(env, role.id, "sales_rep", {"field_rules": {"crm.customer": {"level": "hidden"}}})


def test_a_page_just_found_is_read_without_testing_the_rules_again(world):
    """search() then read() of the ids it found (a list page): the read
    trusts the search of the same unit of work — until anything changes."""
    db, u, c = world["db"], world["users"], world["customers"]
    with db.unit_of_work(u["R1"]) as env:
        page = env["crm.customer"].search([], limit=80)
        with StatementCounter(db.engine) as counter:
            assert len(page.read(["name"])) == 3
        [sql] = [s for s in counter.statements if "FROM crm_customer" in s]
        assert "owner_id" not in sql.split("WHERE", 1)[1]
        with pytest.raises(NotFound):  # ids the search did not find are tested
            env["crm.customer"].browse([*page.ids, c["R2"][0]]).read(["name"])
        mine = page.browse([page.ids[0]])
        env.sudo()["crm.customer"].browse(mine.ids).write({"owner_id": u["R2"], "department_id": None})
        with pytest.raises(NotFound):  # the change is seen at once
            page.read(["name"])


def test_a_user_moving_department_moves_their_records_into_the_new_managers_scope(world):
    db, u = world["db"], world["users"]
    with db.unit_of_work(u["M1"]) as env:  # M1's rules are cached now
        assert "R3-客户0" not in names(env)
    with db.unit_of_work() as env:  # R3 joins D1; their customers keep department D2
        d1 = env["core.department"].search([["code", "=", "D1"]]).id
        env["core.user"].browse([u["R3"]]).write({"department_id": d1})
    with db.unit_of_work(u["M1"]) as env:  # owned by a member of the team: visible
        assert set(owned("R3", world)) <= set(names(env))


def test_a_role_that_sees_every_row_adds_no_condition(make_db):
    """A director (scope all) reads contacts with no condition at all — not
    even the "customer visible" subquery of models following a parent —
    while a rep's reads carry their scope."""
    from tests.test_api_security import create_personas
    db = make_db(addons=["crm_base"])
    users = create_personas(db)
    for model in ("crm.customer", "crm.contact", "crm.interaction"):
        with db.unit_of_work(users["X"]) as env:
            meta = env.registry[model]
            assert env.access.predicate(meta, meta.table) is None, model
        with db.unit_of_work(users["R1"]) as env:
            meta = env.registry[model]
            assert env.access.predicate(meta, meta.table) is not None, model
