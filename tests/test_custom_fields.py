"""User-defined fields (issue 4, point 1): the service ``core.custom_fields``
and ``keel field add|list|remove`` — every type in use, every refusal, the
archive kept on removal, all-or-nothing on failure, administrators only."""
import datetime as dt
import decimal
import json

import pytest
import sqlalchemy as sa

from core import custom_fields, schema
from core.custom_fields import add_field, list_fields, remove, remove_field
from core.db import Database
from core.errors import AccessDenied, UserInputError, ValidationError
from core.security.auth import set_password
from tests.test_cli import ok, refused, run  # noqa: F401  (run is a fixture)

MODEL = "crm.customer"


def add(db, name, type, **kw):
    with db.transaction() as conn:
        return add_field(db, conn, MODEL, name, type, **kw)


def columns(db, table="crm_customer"):
    with db.engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def indexes(db, table="crm_customer"):
    with db.engine.connect() as conn:
        return {ix["name"]: ix["column_names"] for ix in sa.inspect(conn).get_indexes(table)}


def version(db):
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT value FROM core_meta WHERE key = 'registry_version'")).scalar()


def customers(db, *names):
    with db.unit_of_work("admin") as env:
        return [env[MODEL].create({"name": n}).id for n in names]


def make_user(db, login, role):
    with db.unit_of_work("admin") as env:
        role_id = env["core.role"].search([["code", "=", role]]).id
        uid = env["core.user"].create({"login": login, "name": login, "roles": [role_id]}).id
        set_password(env, uid, "password-of-" + login)
    return uid


# -- adding and using -------------------------------------------------------------------
def test_every_type_is_a_column_usable_in_create_domains_and_order(db):
    ids = customers(db, "甲公司", "乙公司")
    add(db, "x_note", "char", label="Note", index=True)
    add(db, "x_memo", "text")
    add(db, "x_seats", "integer")
    add(db, "x_budget", "decimal")
    add(db, "x_vip", "boolean")
    add(db, "x_since", "date")
    add(db, "x_seen_at", "datetime")
    add(db, "x_tier", "selection", selection=[("gold", "Gold"), "silver"])
    add(db, "x_buddy", "many2one", relation="crm.customer")
    assert {"x_note", "x_memo", "x_seats", "x_budget", "x_vip", "x_since", "x_seen_at", "x_tier",
            "x_buddy"} <= columns(db)
    with db.unit_of_work("admin") as env:
        c = env[MODEL]
        made = c.create({"name": "丙公司", "x_note": "备注", "x_memo": "长文本", "x_seats": 12,
                         "x_budget": "1234.5", "x_vip": True, "x_since": "2024-02-29",
                         "x_seen_at": "2024-03-01T08:30:00", "x_tier": "gold", "x_buddy": ids[0]})
        row = made.read()[0]
        assert row["x_budget"] == decimal.Decimal("1234.50")
        assert row["x_since"] == dt.date(2024, 2, 29)
        assert row["x_seen_at"] == dt.datetime(2024, 3, 1, 8, 30)
        assert row["x_buddy"]["id"] == ids[0]
        c.browse(ids[1]).write({"x_seats": 3, "x_tier": "silver"})
        assert c.search([["x_tier", "=", "gold"], ["x_vip", "=", True]]) == made
        assert c.search([["x_buddy.name", "=", "甲公司"]]) == made
        assert list(c.search([["x_seats", ">", 0]], order="x_seats desc").ids) == [made.id, ids[1]]
        assert list(c.search([["x_seats", "!=", None]], order="x_seats").ids) == [ids[1], made.id]
        with pytest.raises(ValidationError, match="x_tier"):
            c.create({"name": "丁", "x_tier": "bronze"})
        assert env.registry[MODEL].fields["x_note"].label == "Note"
        assert env.registry[MODEL].fields["x_memo"].label == "Memo"  # made from the name


def test_index_is_created_and_a_many2one_gets_one(db):
    add(db, "x_code", "char", index=True)
    add(db, "x_plain", "char")
    add(db, "x_partner", "many2one", relation="crm.customer")
    found = indexes(db)
    assert found["ix_crm_customer_x_code"][0] == "x_code"
    assert "ix_crm_customer_x_partner" in found
    assert not any("x_plain" in cols for cols in found.values())
    with db.transaction() as conn:
        listed = {r["name"]: r for r in list_fields(db, conn, MODEL)}
    assert listed["x_code"]["indexed"] and listed["x_partner"]["indexed"] and not listed["x_plain"]["indexed"]


def test_a_default_fills_existing_rows_and_new_ones(db):
    ids = customers(db, "A", "B", "C")
    add(db, "x_level", "selection", selection=["low", "high"], required=True, default="low")
    add(db, "x_score", "integer", default="7")
    add(db, "x_active", "boolean", required=True, default="false")
    add(db, "x_note", "char", default="it's 'quoted'")
    add(db, "x_amount", "decimal", default="12.5")
    add(db, "x_since", "date", default="2024-02-29")
    add(db, "x_seen", "datetime", default="2024-02-29T23:59:58")
    with db.unit_of_work("admin") as env:
        admin = env.uid
    add(db, "x_keeper", "many2one", relation="core.user", required=True, default=str(admin))
    names = ["x_level", "x_score", "x_active", "x_note", "x_amount", "x_since", "x_seen"]
    expected = ("low", 7, False, "it's 'quoted'", decimal.Decimal("12.50"), dt.date(2024, 2, 29),
                dt.datetime(2024, 2, 29, 23, 59, 58))
    with db.unit_of_work("admin") as env:
        rows = env[MODEL].browse(ids).read(names + ["x_keeper"])
        assert [tuple(r[n] for n in names) for r in rows] == [expected] * 3
        assert [r["x_keeper"]["id"] for r in rows] == [admin] * 3
        new = env[MODEL].create({"name": "D"}).read(names)[0]
        assert tuple(new[n] for n in names) == expected
        c = env[MODEL]  # the filled values are real values: searchable
        assert c.search_count([["x_since", "=", "2024-02-29"], ["x_seen", "<", "2024-03-01"],
                               ["x_amount", "=", "12.50"], ["x_note", "like", "%quoted%"]]) == 4
        with pytest.raises(ValidationError, match="x_level"):
            env[MODEL].create({"name": "E", "x_level": None})


def test_required_without_default_only_on_an_empty_table(db):
    add(db, "x_must", "char", required=True)  # no customer yet
    with db.unit_of_work("admin") as env:
        with pytest.raises(ValidationError, match="x_must"):
            env[MODEL].create({"name": "C"})
        env[MODEL].create([{"name": "A", "x_must": "a"}, {"name": "B", "x_must": "b"}])
    with pytest.raises(ValidationError, match=r"crm_customer already holds 2 records"):
        add(db, "x_must2", "char", required=True)
    assert "x_must2" not in columns(db)


# -- refusals ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name, message", [
    ("vip", "must start with x_"),
    ("X_vip", "must start with x_"),
    ("x_1st", "must start with x_"),
    ("x_vip-level", "must start with x_"),
    ("x_", "must start with x_"),
    ("select", "SQL keyword"),
    ("user", "SQL keyword"),
    ("rowid", "SQL keyword"),
    ("x_" + "a" * 62, "at most 63"),
    ("x_" + "a" * 50, r"index or key ix_crm_customer_x_a+ would have 68 characters"),
])
def test_bad_names_are_refused(db, name, message):
    index = len(name) < 63
    with pytest.raises(UserInputError, match=message):
        add(db, name, "char", index=index)


def test_a_many2one_name_must_leave_room_for_its_key(db):
    # a many2one always has an index (and a foreign key) named ix_/fk_crm_customer_NAME
    with pytest.raises(UserInputError, match="would have 64 characters, PostgreSQL allows 63"):
        add(db, "x_" + "r" * 46, "many2one", relation="core.user")
    add(db, "x_" + "r" * 45, "many2one", relation="core.user")  # exactly 63


def test_existing_fields_and_columns_are_refused(db):
    add(db, "x_vip", "char")
    with pytest.raises(ValidationError, match="already has a field 'x_vip'"):
        add(db, "x_vip", "integer")
    with db.transaction() as conn:  # a column the registry does not know (an uninstalled addon's)
        conn.exec_driver_sql("ALTER TABLE crm_customer ADD COLUMN x_legacy VARCHAR")
    with pytest.raises(ValidationError, match="already has a column 'x_legacy'"):
        add(db, "x_legacy", "char")


@pytest.mark.parametrize("type, kw, message", [
    ("blob", {}, "not one of char, text"),
    ("selection", {}, "needs its options"),
    ("selection", {"selection": ["a", "a"]}, "given twice"),
    ("selection", {"selection": ["a", ""]}, "bad option"),
    ("selection", {"selection": ["a"], "default": "b"}, "default 'b'.*not one of a"),
    ("char", {"selection": ["a"]}, "only to selection fields"),
    ("many2one", {}, "needs the model it refers to"),
    ("many2one", {"relation": "crm.nothing"}, "known model to refer to"),
    ("many2one", {"relation": "core.user", "default": "999999"}, "no core.user record has id 999999"),
    ("char", {"relation": "core.user"}, "only to many2one fields"),
    ("integer", {"default": "many"}, "default 'many'.*expected an integer"),
    ("date", {"default": "31/12/2024"}, "expected a date"),
    ("decimal", {"default": "12,5"}, "expected an amount"),
])
def test_bad_types_options_and_defaults_are_refused(db, type, kw, message):
    with pytest.raises(UserInputError, match=message):
        add(db, "x_thing", type, **kw)
    assert "x_thing" not in columns(db)


def test_unknown_model_is_refused(db):
    with db.transaction() as conn:
        with pytest.raises(UserInputError, match="unknown model 'crm.nothing'"):
            add_field(db, conn, "crm.nothing", "x_a", "char")


def test_the_column_limit_is_checked_before_any_ddl(db, monkeypatch, dialect):
    with db.engine.connect() as conn:
        used, _dropped = custom_fields.column_count(conn, "crm_customer")
    monkeypatch.setitem(custom_fields.MAX_COLUMNS, dialect, used)
    before = version(db)
    with pytest.raises(ValidationError, match=f"crm_customer has used {used} of the {used} columns"):
        add(db, "x_one_too_many", "char")
    assert "x_one_too_many" not in columns(db) and version(db) == before


def test_postgresql_counts_dropped_columns(db, dialect):
    if dialect != "postgresql":
        pytest.skip("PostgreSQL's 1,600 column slots")
    with db.transaction() as conn:
        used, _ = custom_fields.column_count(conn, "crm_contact")
        pad = 1600 - used
        conn.exec_driver_sql(f"""DO $$ BEGIN FOR i IN 1..{pad} LOOP
            EXECUTE 'ALTER TABLE crm_contact ADD COLUMN pad' || i || ' integer'; END LOOP;
            FOR i IN 1..{pad} LOOP
            EXECUTE 'ALTER TABLE crm_contact DROP COLUMN pad' || i; END LOOP; END $$""")
    with db.transaction() as conn:
        with pytest.raises(ValidationError, match=rf"used 1600 of the 1600 columns postgresql allows "
                                                  rf"\({pad} of them by columns dropped earlier"):
            add_field(db, conn, "crm.contact", "x_extra", "char")


# -- who may -------------------------------------------------------------------------------
def test_only_administrators_may_add_or_remove(db):
    make_user(db, "rep", "sales_rep")
    with db.transaction() as conn:
        with pytest.raises(AccessDenied, match="only administrators may add fields to crm.customer; rep"):
            add_field(db, conn, MODEL, "x_a", "char", user="rep")
    add(db, "x_a", "char", user="admin")
    with pytest.raises(AccessDenied, match="only administrators may remove"):
        remove(db, MODEL, "x_a", confirm=True, user="rep")
    assert "x_a" in columns(db)


# -- all or nothing ------------------------------------------------------------------------------
def test_a_failure_late_in_adding_leaves_nothing(db, monkeypatch):
    customers(db, "A")
    before = version(db)

    def boom(conn):
        raise RuntimeError("disk full")
    monkeypatch.setattr(db, "bump_version", boom)  # after the column, index and default
    with pytest.raises(RuntimeError, match="disk full"):
        add(db, "x_late", "char", index=True, required=True, default="v")
    monkeypatch.undo()
    assert "x_late" not in columns(db)
    assert "ix_crm_customer_x_late" not in indexes(db)
    assert version(db) == before
    with db.unit_of_work("admin") as env:
        assert not env["core.field"].search([["name", "=", "x_late"]])
        assert "x_late" not in env.registry[MODEL].fields
        assert not env["core.audit"].search([["action", "=", "field_add"]])
    add(db, "x_late", "integer")  # and it can be done afterwards
    assert "x_late" in columns(db)


def test_a_failure_late_in_removing_leaves_everything(db, monkeypatch):
    ids = customers(db, "A", "B")
    add(db, "x_keep", "char", index=True, default="v")

    def boom(conn):
        raise RuntimeError("disk full")
    monkeypatch.setattr(db, "bump_version", boom)
    with pytest.raises(RuntimeError):
        remove(db, MODEL, "x_keep", confirm=True)
    monkeypatch.undo()
    assert "x_keep" in columns(db) and "ix_crm_customer_x_keep" in indexes(db)
    with db.unit_of_work("admin") as env:
        assert env[MODEL].browse(ids).read(["x_keep"])[0]["x_keep"] == "v"
        assert not env["core.field_archive"].search([])
        assert env["core.field"].search_count([["name", "=", "x_keep"]]) == 1


# -- removing ------------------------------------------------------------------------------------
def test_remove_archives_the_values_drops_the_column_and_allows_recreating(db):
    ids = customers(db, "A", "B", "C")
    add(db, "x_budget", "decimal", index=True)
    add(db, "x_since", "date")
    with db.unit_of_work("admin") as env:
        env[MODEL].browse(ids[0]).write({"x_budget": "10.5", "x_since": "2024-01-02"})
        env[MODEL].browse(ids[2]).write({"x_budget": "-3"})
        env["core.field_rule"].create({"role_id": env["core.role"].search([["code", "=", "sales_rep"]]).id,
                                       "model": MODEL, "field": "x_budget", "mode": "readonly"})
    with pytest.raises(UserInputError, match="its 2 values are first kept in core.field_archive"):
        remove(db, MODEL, "x_budget")
    assert "x_budget" in columns(db)
    done = remove(db, MODEL, "x_budget", confirm=True, user="admin", source="cli")
    assert done == {"model": MODEL, "field": "x_budget", "archived": 2}
    assert "x_budget" not in columns(db)
    assert not any("x_budget" in cols for cols in indexes(db).values())
    with db.unit_of_work("admin") as env:
        archived = env["core.field_archive"].search_read([], ["model", "field", "type", "label", "record_id",
                                                              "value", "removed_at", "removed_by_id"],
                                                         order="record_id")
        assert [(a["record_id"], a["value"]) for a in archived] == [(ids[0], "10.50"), (ids[2], "-3.00")]
        assert {(a["model"], a["field"], a["type"], a["label"]) for a in archived} == \
            {(MODEL, "x_budget", "decimal", "Budget")}
        assert archived[0]["removed_by_id"]["id"] == env.uid and archived[0]["removed_at"]
        assert "x_budget" not in env.registry[MODEL].fields
        assert not env["core.field_rule"].search([["field", "=", "x_budget"]])
        entries = env["core.audit"].search_read([["action", "in", ["field_add", "field_remove"]]],
                                                ["action", "model", "changes", "source"], order="id")
        assert [(e["action"], e["changes"]["field"]) for e in entries] == [
            ("field_add", "x_budget"), ("field_add", "x_since"), ("field_remove", "x_budget")]
        assert entries[-1]["changes"]["archived"] == 2 and entries[-1]["source"] == "cli"
    add(db, "x_budget", "selection", selection=["small", "big"], default="big")  # another type
    with db.unit_of_work("admin") as env:
        assert env[MODEL].search_count([["x_budget", "=", "big"]]) == 3


def test_remove_refusals(db):
    with pytest.raises(UserInputError, match="has no field 'x_none'"):
        remove(db, MODEL, "x_none", confirm=True)
    with pytest.raises(UserInputError, match="belongs to addon crm_base"):
        remove(db, MODEL, "name", confirm=True)
    with pytest.raises(UserInputError, match="unknown model"):
        remove(db, "crm.nothing", "x_a", confirm=True)
    add(db, "x_region", "char")
    with db.unit_of_work("admin") as env:
        perm = env["core.permission"].search([["model", "=", MODEL]], limit=1)
        role = perm.read(["role_id"])[0]["role_id"]["name"]
        perm.write({"domain": [["x_region", "=", "east"]]})
    with pytest.raises(ValidationError, match=f"used by the record rule of role '{role}'"):
        remove(db, MODEL, "x_region", confirm=True)
    assert "x_region" in columns(db)


def test_many2one_removal_even_after_a_table_rebuild(db, dialect):
    ids = customers(db, "A", "B")
    add(db, "x_partner", "many2one", relation="crm.customer")
    with db.unit_of_work("admin") as env:
        env[MODEL].browse(ids[1]).write({"x_partner": ids[0]})
    if dialect == "sqlite":  # a purge elsewhere rebuilds the table: its references become table-level
        with db.transaction(foreign_keys=False) as conn:
            conn.exec_driver_sql("ALTER TABLE crm_customer ADD COLUMN junk INTEGER")
            schema.drop(conn, columns={"crm_customer": ["junk"]})
            assert schema.column_in_table_foreign_key(conn, "crm_customer", "x_partner")
        with db.transaction() as conn:  # a caller's transaction with references enforced
            with pytest.raises(UserInputError, match="needs the table crm_customer rebuilt"):
                remove_field(db, conn, MODEL, "x_partner", confirm=True)
    assert remove(db, MODEL, "x_partner", confirm=True)["archived"] == 1
    assert "x_partner" not in columns(db)
    with db.unit_of_work("admin") as env:
        assert env["core.field_archive"].search_read([], ["value", "record_id"])[0]["value"] == ids[0]
        assert env[MODEL].search_count([]) == 2
        assert env["crm.contact"].create({"name": "联系人", "customer_id": ids[0]})


def test_another_process_sees_adding_and_removing(db, db_url):
    other = Database(db_url)
    with other.unit_of_work("admin") as env:
        assert "x_shared" not in env.registry[MODEL].fields
    add(db, "x_shared", "char")
    with other.unit_of_work("admin") as env:
        env[MODEL].create({"name": "A", "x_shared": "yes"})
        assert env[MODEL].search_count([["x_shared", "=", "yes"]]) == 1
    remove(db, MODEL, "x_shared", confirm=True)
    with other.unit_of_work("admin") as env:
        assert "x_shared" not in env.registry[MODEL].fields
        env[MODEL].create({"name": "B"})
    other.dispose()


# -- the command line ------------------------------------------------------------------------------
def test_cli_add_list_remove(db, run):
    customers(db, "A")
    assert "added" in ok(run("field", "add", MODEL, "x_vip", "--type", "selection", "--selection",
                             "gold:金卡,silver", "--label", "VIP 等级", "--index", "--required",
                             "--default", "silver"))
    ok(run("field", "add", MODEL, "x_friend", "--type", "many2one", "--relation", "core.user"))
    listed = json.loads(ok(run("field", "list", MODEL, "--json")))
    assert listed == [
        {"name": "x_friend", "type": "many2one", "label": "Friend", "required": False, "indexed": True,
         "selection": None, "relation": "core.user", "default": None},
        {"name": "x_vip", "type": "selection", "label": "VIP 等级", "required": True, "indexed": True,
         "selection": [{"value": "gold", "label": "金卡"}, {"value": "silver", "label": "silver"}],
         "relation": None, "default": "silver"}]
    assert "x_vip" in ok(run("field", "list", MODEL))
    assert "--yes" in refused(run("field", "remove", MODEL, "x_vip"))
    assert "1 value kept in core.field_archive" in ok(run("field", "remove", MODEL, "x_vip", "--yes"))
    assert [f["name"] for f in json.loads(ok(run("field", "list", MODEL, "--json")))] == ["x_friend"]


def test_cli_refusals_exit_1_with_one_line(db, run):
    customers(db, "A")
    make_user(db, "rep", "sales_rep")
    assert "must start with x_" in refused(run("field", "add", MODEL, "vip", "--type", "char"))
    assert "SQL keyword" in refused(run("field", "add", MODEL, "select", "--type", "char"))
    assert "holds 1 record" in refused(run("field", "add", MODEL, "x_r", "--type", "char", "--required"))
    assert "unknown model" in refused(run("field", "add", "crm.nothing", "x_a", "--type", "char"))
    assert "--relation" in refused(run("field", "add", MODEL, "x_a", "--type", "many2one"))
    assert "only administrators" in refused(run("--user", "rep", "field", "add", MODEL, "x_a", "--type", "char"))
    assert "has no field" in refused(run("field", "remove", MODEL, "x_a", "--yes"))
    refused(run("field", "add", MODEL, "x_a", "--type", "blob"), code=2)
    refused(run("field", "add", MODEL, "x_a"), code=2)  # --type is required
    assert "x_a" not in columns(db)


def test_two_fields_added_at_the_same_moment_both_count(db, db_url, dialect):
    if dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time")
    import threading
    before = int(version(db))
    barrier, errors = threading.Barrier(2), []

    def worker(model, name):
        try:
            own = Database(db_url)
            barrier.wait()
            custom_fields.add(own, model, name, "char", user="admin")
            own.dispose()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
    # two tables: no DDL lock orders them, only the registry version's row
    threads = [threading.Thread(target=worker, args=a)
               for a in ((MODEL, "x_left"), ("crm.contact", "x_right"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    # serialised on the registry version's row: two moves, never one lost
    assert int(version(db)) == before + 2
    other = Database(db_url)
    with other.unit_of_work("admin") as env:
        assert "x_left" in env.registry[MODEL].fields
        assert "x_right" in env.registry["crm.contact"].fields
    other.dispose()


def test_field_rows_change_only_through_the_field_service(db):
    """Editing a ``core.field`` row by hand would part it from its column:
    not even an administrator may, outside the service."""
    add(db, "x_vin", "char")
    with db.unit_of_work("admin") as env:
        row = env["core.field"].search([["name", "=", "x_vin"]])
        assert row  # readable
        for attempt in (lambda: row.write({"type": "integer"}), row.unlink,
                        lambda: env["core.field"].create({"model": "crm.customer", "name": "x_b",
                                                          "type": "char"}),
                        lambda: env["core.field_archive"].create({"model": "crm.customer",
                                                                  "field": "x_old", "record_id": 1})):
            with pytest.raises(AccessDenied, match="keel field"):
                attempt()
    assert "x_vin" in columns(db)
