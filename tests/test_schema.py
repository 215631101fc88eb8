"""Schema sync: tables, columns, indexes, unique constraints and foreign keys
follow the metadata; nothing holding data is dropped without a purge."""
import sqlalchemy as sa

from core import fields as F
from core import hookimpl, schema
from core.installer import Installer
from core.models import Extend
from tests.conftest import addon_module, available_with


def inspect(db):
    return sa.inspect(db.engine)


def test_tables_indexes_and_foreign_keys_follow_metadata(db):
    insp = inspect(db)
    tables = set(insp.get_table_names())
    assert {"core_meta", "core_user", "core_department", "core_user__roles", "crm_customer",
            "crm_contact"} <= tables
    indexes = {ix["name"]: ix for ix in insp.get_indexes("crm_customer")}
    assert indexes["uq_crm_customer_code"]["unique"]
    assert not indexes["ix_crm_customer_name"]["unique"]
    assert indexes["ix_crm_customer_owner_id"]["column_names"] == ["owner_id"]
    fks = {fk["constrained_columns"][0]: fk for fk in insp.get_foreign_keys("crm_contact")}
    assert fks["customer_id"]["referred_table"] == "crm_customer"
    assert fks["customer_id"]["options"].get("ondelete", "").upper() == "CASCADE"
    link_fks = {fk["constrained_columns"][0]: fk["referred_table"]
                for fk in insp.get_foreign_keys("core_user__roles")}
    assert link_fks == {"source_id": "core_user", "target_id": "core_role"}
    assert "credit_limit" in {c["name"] for c in insp.get_columns("crm_customer")}


def test_sync_is_idempotent(db):
    with db.transaction() as conn:
        registry = db.registry(conn)
        assert schema.plan(conn, registry.metadata) == []
        assert schema.sync(conn, registry.metadata) == []


def test_unique_is_enforced_by_the_database(db):
    with db.transaction() as conn:
        table = db.registry(conn)["crm.customer"].table
        conn.execute(table.insert().values(name="a", code="SAME", version=1))
    try:
        with db.transaction() as conn:
            conn.execute(table.insert().values(name="b", code="SAME", version=1))
    except sa.exc.IntegrityError:
        pass
    else:
        raise AssertionError("duplicate code accepted")


def _referrer_addon():
    mod = addon_module("referrer", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Extend("crm.customer", fields={
        "account_manager_id": F.Many2one("core.user", "Account manager", ondelete="set null"),
        "vip": F.Boolean("VIP", index=True)})])
    return mod


def test_extension_adds_reference_column_to_a_table_with_data(make_db):
    mod = _referrer_addon()
    db = make_db(addons=["crm_base"], available=available_with(mod))
    with db.unit_of_work("admin") as env:
        customer = env["crm.customer"].create({"name": "有数据的客户"})
        contact = env["crm.contact"].create({"name": "张三", "customer_id": customer.id})
    with db.transaction() as conn:
        changes = Installer(db, conn).install(["referrer"])
    assert changes == ["referrer"]
    insp = inspect(db)
    fks = {fk["constrained_columns"][0]: fk for fk in insp.get_foreign_keys("crm_customer")}
    assert fks["account_manager_id"]["referred_table"] == "core_user"
    assert "ix_crm_customer_vip" in {ix["name"] for ix in insp.get_indexes("crm_customer")}
    with db.unit_of_work("admin") as env:
        # rows survived (no table rebuild cascading into contacts)
        assert env["crm.contact"].browse([contact.id]).customer_id.id == customer.id
        admin = env.uid
        env["crm.customer"].browse([customer.id]).write({"account_manager_id": admin, "vip": True})
        assert env["crm.customer"].search([["account_manager_id.login", "=", "admin"]]).ids == (customer.id,)
    with db.transaction() as conn:
        assert schema.plan(conn, db.registry(conn).metadata) == []


def test_removed_metadata_never_drops_columns_or_tables(db):
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create({"name": "保留", "credit_limit": 1000})
    with db.transaction() as conn:
        without_sales = db.build_registry(conn, ["crm_base"])
        assert schema.sync(conn, without_sales.metadata) == []
        only_base = db.build_registry(conn, [])
        assert schema.sync(conn, only_base.metadata) == []
    insp = inspect(db)
    assert "crm_customer" in insp.get_table_names()
    assert "credit_limit" in {c["name"] for c in insp.get_columns("crm_customer")}
    with db.transaction() as conn:
        assert conn.exec_driver_sql("SELECT credit_limit FROM crm_customer").scalar() == 1000


def test_dropped_index_flag_drops_only_the_index(make_db, db_url):
    mod = addon_module("idx", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Extend("crm.customer", attrs={"region": {"index": True}})])
    db = make_db(addons=["crm_base", "idx"], available=available_with(mod))
    assert "ix_crm_customer_region" in {ix["name"] for ix in inspect(db).get_indexes("crm_customer")}
    with db.transaction() as conn:
        plain = db.build_registry(conn, ["crm_base"])
        assert schema.sync(conn, plain.metadata) == ["remove index ix_crm_customer_region on crm_customer"]
    names = {ix["name"] for ix in inspect(db).get_indexes("crm_customer")}
    assert "ix_crm_customer_region" not in names and "ix_crm_customer_name" in names
    assert "region" in {c["name"] for c in inspect(db).get_columns("crm_customer")}


def test_purge_drops_tables_and_added_columns(make_db):
    mod = _referrer_addon()
    db = make_db(addons=["crm_base", "sales", "referrer"], available=available_with(mod))
    with db.unit_of_work("admin") as env:
        c = env["crm.customer"].create({"name": "A", "credit_limit": 5, "account_manager_id": env.uid})
        env["crm.contact"].create({"name": "联系人", "customer_id": c.id})
    with db.transaction(foreign_keys=False) as conn:
        Installer(db, conn).uninstall(["referrer", "sales"], purge=True)
    columns = {c["name"] for c in inspect(db).get_columns("crm_customer")}
    assert "account_manager_id" not in columns and "credit_limit" not in columns
    with db.unit_of_work("admin") as env:
        assert env["crm.contact"].search_count([]) == 1  # no cascade on the rebuilt table
        assert env["crm.customer"].search_read([], ["name"])[0]["name"] == "A"
