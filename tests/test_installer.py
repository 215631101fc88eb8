"""Installing, upgrading and uninstalling addons: dependencies, stored
state, data kept or purged, and every operation all or nothing."""
import pytest
import sqlalchemy as sa

from core import fields as F
from core import hookimpl
from core.db import Database
from core.errors import AddonError, UserInputError, ValidationError
from core.installer import Installer
from core.models import Extend, Model
from tests.conftest import addon_module, available_with


# -- helpers -------------------------------------------------------------------

def run(db, method, *args, foreign_keys=True, **kwargs):
    with db.transaction(foreign_keys=foreign_keys) as conn:
        return getattr(Installer(db, conn), method)(*args, **kwargs)


def purge(db, names):
    """``keel addons uninstall --purge`` (on SQLite without foreign key enforcement)."""
    return run(db, "uninstall", names, purge=True, foreign_keys=False)


def addon_rows(db):
    with db.engine.connect() as conn:
        return {r.name: (r.addon_version, r.state)
                for r in conn.execute(sa.text("SELECT name, addon_version, state FROM core_addon"))}


def tables(db):
    with db.engine.connect() as conn:
        return sorted(sa.inspect(conn).get_table_names())


def columns(db, table):
    with db.engine.connect() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def snapshot(db):
    """What a failed operation must leave exactly as it was."""
    with db.engine.connect() as conn:
        inspector = sa.inspect(conn)
        return {"tables": sorted(inspector.get_table_names()),
                "customer columns": sorted(c["name"] for c in inspector.get_columns("crm_customer"))
                if inspector.has_table("crm_customer") else None,
                "addons": sorted(tuple(r) for r in conn.execute(
                    sa.text("SELECT name, addon_version, state FROM core_addon"))),
                "meta": sorted(tuple(r) for r in conn.execute(sa.text("SELECT key, value FROM core_meta"))),
                "menus": sorted(r[0] for r in conn.execute(sa.text("SELECT key FROM core_menu"))),
                "roles": sorted(r[0] for r in conn.execute(sa.text("SELECT code FROM core_role")))}


def registry_version(db):
    with db.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT value FROM core_meta WHERE key = 'registry_version'")).scalar())


def full_addon(name="gadgets", version="1.0.0", depends=(), calls=None, **attrs):
    """A test addon shipping a model, menus, views, roles, jobs and a record hook."""
    calls = [] if calls is None else calls
    hooks = dict(
        keel_models=hookimpl(lambda: [Model("test.gadget", "Gadget", fields={
            "name": F.Char("Name", required=True), "owner": F.Many2one("core.user", "Owner")})]),
        keel_menus=hookimpl(lambda: [{"key": "gadgets", "label": "Gadgets", "model": "test.gadget"}]),
        keel_views=hookimpl(lambda: [{"key": "test.gadget.list", "model": "test.gadget", "type": "list",
                                      "arch": {"fields": ["name"]}}]),
        keel_roles=hookimpl(lambda: [{"code": "gadgeteer", "label": "Gadgeteer"}]),
        keel_jobs=hookimpl(lambda: [{"key": "gadgets.tidy", "label": "Tidy",
                                     "function": "tests.test_installer:snapshot", "interval": 3600}]),
        keel_after_create=hookimpl(lambda model: calls.append(model)),
    )
    hooks.update(attrs)
    return addon_module(name, version=version, depends=depends, **hooks)


def owned_rows(db, addon):
    with db.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t} WHERE addon = :a"), {"a": addon}).scalar()
                for t in ("core_menu", "core_view", "core_role", "core_job")}


# -- install ---------------------------------------------------------------------

def test_install_pulls_dependencies_and_stores_state_and_versions(make_db, db_url):
    db = make_db(addons=[])
    assert addon_rows(db) == {"base": ("0.2.0", "installed")}
    assert run(db, "install", ["sales"]) == ["crm_base", "sales"]
    assert addon_rows(db) == {"base": ("0.2.0", "installed"), "crm_base": ("0.4.0", "installed"),
                              "sales": ("0.1.0", "installed")}
    assert run(db, "install", ["sales"]) == []  # already there
    other = Database(db_url)  # read back from the database, not from memory
    with other.transaction() as conn:
        assert other.installed_addons(conn) == ["base", "crm_base", "sales"]
    other.dispose()


def test_install_unknown_addon_is_refused(db):
    before = snapshot(db)
    with pytest.raises(UserInputError, match="unknown addon 'nope'"):
        run(db, "install", ["nope"])
    assert snapshot(db) == before


def test_missing_dependency_names_the_chain(make_db, db_url):
    make_db(addons=[])
    needy = addon_module("needy", depends=["middle"])
    middle = addon_module("middle", depends=["ghost"])
    db = Database(db_url, available=available_with(needy, middle))
    before = snapshot(db)
    with pytest.raises(AddonError) as err:
        run(db, "install", ["needy"])
    assert "needy -> middle -> ghost" in str(err.value)
    assert snapshot(db) == before
    db.dispose()


def test_dependency_cycle_names_the_chain(make_db, db_url):
    make_db(addons=[])
    one = addon_module("cyc_one", depends=["cyc_two"])
    two = addon_module("cyc_two", depends=["cyc_one"])
    db = Database(db_url, available=available_with(one, two))
    with pytest.raises(AddonError) as err:
        run(db, "install", ["cyc_one"])
    assert "cycle" in str(err.value) and "cyc_one -> cyc_two -> cyc_one" in str(err.value)
    db.dispose()


def test_install_bumps_registry_version_seen_by_another_process(make_db, db_url):
    gadgets = full_addon()
    db = make_db(addons=["crm_base"], available=available_with(gadgets))
    other = Database(db_url, available=available_with(gadgets))  # another process, same URL
    with other.unit_of_work() as env:
        assert "test.gadget" not in env
    version = registry_version(db)
    run(db, "install", ["gadgets"])
    assert registry_version(db) > version
    with other.unit_of_work() as env:  # its next unit of work sees the new model
        assert "test.gadget" in env
        env["test.gadget"].create({"name": "g"})
    other.dispose()


# -- uninstall -------------------------------------------------------------------

def test_uninstall_refuses_while_a_dependent_is_installed(db):
    before = snapshot(db)
    with pytest.raises(UserInputError) as err:
        run(db, "uninstall", ["crm_base"])
    assert "'sales'" in str(err.value) or "sales" in str(err.value).split("depend")[0]
    assert snapshot(db) == before
    # together with the dependent it is fine
    assert run(db, "uninstall", ["crm_base", "sales"]) == ["crm_base", "sales"]
    assert addon_rows(db)["crm_base"] == ("0.4.0", "uninstalled")
    assert addon_rows(db)["sales"] == ("0.1.0", "uninstalled")


def test_uninstall_refuses_base_and_unknown_and_not_installed(make_db):
    db = make_db(addons=["crm_base"])
    for names, message in ((["base"], "cannot be uninstalled"), (["nope"], "unknown addon 'nope'"),
                           (["sales"], "'sales' is not installed")):
        with pytest.raises(UserInputError, match=message):
            run(db, "uninstall", names)


def test_uninstall_removes_owned_rows_and_hooks_keeps_tables_and_data(make_db, db_url):
    calls = []
    gadgets = full_addon(calls=calls)
    db = make_db(addons=["gadgets"], available=available_with(gadgets))
    assert owned_rows(db, "gadgets") == {"core_menu": 1, "core_view": 1, "core_role": 1, "core_job": 1}
    with db.unit_of_work() as env:
        env["test.gadget"].create({"name": "kept"})
    calls.clear()
    run(db, "uninstall", ["gadgets"])
    assert owned_rows(db, "gadgets") == {"core_menu": 0, "core_view": 0, "core_role": 0, "core_job": 0}
    assert owned_rows(db, "base")["core_role"] == 1  # the others' rows stay
    assert addon_rows(db)["gadgets"] == ("1.0.0", "uninstalled")
    with db.unit_of_work() as env:
        assert "test.gadget" not in env
        env["core.department"].create({"code": "D", "name": "D"})
    assert calls == []  # its hooks are no longer called
    assert "test_gadget" in tables(db)
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM test_gadget")).scalars().all() == ["kept"]
    # reinstalling finds the data, and the hooks and rows are back
    assert run(db, "install", ["gadgets"]) == ["gadgets"]
    assert addon_rows(db)["gadgets"] == ("1.0.0", "installed")
    assert owned_rows(db, "gadgets") == {"core_menu": 1, "core_view": 1, "core_role": 1, "core_job": 1}
    calls.clear()
    with db.unit_of_work() as env:
        assert [g.name for g in env["test.gadget"].search([])] == ["kept"]
        env["core.department"].create({"code": "E", "name": "E"})
    assert calls == ["core.department"]


def test_uninstall_sales_keeps_its_column_and_values(db):
    with db.unit_of_work() as env:
        env["crm.customer"].create({"name": "Acme", "credit_limit": 1000, "payment_terms": "net30"})
    run(db, "uninstall", ["sales"])
    with db.unit_of_work() as env:
        assert "credit_limit" not in env.registry["crm.customer"].fields
        assert "quotation_request" not in env.registry["crm.customer"].fields["source"].values
        assert env["crm.customer"].search_count([]) == 1
        env["crm.customer"].create({"name": "Beta"})  # the kept column does not get in the way
    assert {"credit_limit", "payment_terms"} <= columns(db, "crm_customer")
    with db.engine.connect() as conn:
        assert float(conn.execute(sa.text("SELECT credit_limit FROM crm_customer WHERE name = 'Acme'")).scalar()) == 1000
        menus = conn.execute(sa.text("SELECT key FROM core_menu WHERE addon = 'sales'")).all()
    assert menus == []
    run(db, "install", ["sales"])
    with db.unit_of_work() as env:
        acme = env["crm.customer"].search([["name", "=", "Acme"]])
        assert (float(acme.credit_limit), acme.payment_terms) == (1000, "net30")


def test_purge_drops_tables_and_columns_added_to_other_models(db):
    with db.unit_of_work() as env:
        acme = env["crm.customer"].create({"name": "Acme", "credit_limit": 1000})
        env["crm.contact"].create({"name": "Bob", "customer_id": acme.id})
    purge(db, ["sales"])
    assert "sales" not in addon_rows(db)
    assert not {"credit_limit", "payment_terms"} & columns(db, "crm_customer")
    with db.unit_of_work() as env:  # the rest of the customer and what refers to it stay
        assert [c.name for c in env["crm.customer"].search([])] == ["Acme"]
        assert [c.customer_id.name for c in env["crm.contact"].search([])] == ["Acme"]
        env["crm.contact"].create({"name": "Carl", "customer_id": acme.id})
        admin = env["core.user"].search([["login", "=", "admin"]])
        roles = env["core.role"].search([["code", "in", ["admin", "sales_rep"]]])
        admin.write({"roles": list(roles.ids)})  # a role link and a sequence counter refer to crm_base rows
    purge(db, ["crm_base"])
    assert not {"crm_customer", "crm_contact"} & set(tables(db))
    assert "crm_base" not in addon_rows(db)
    with db.unit_of_work() as env:
        assert env["core.sequence"].search_count([["addon", "=", "crm_base"]]) == 0
        assert env["core.sequence_counter"].search_count([]) == 0
        assert [r.code for r in env["core.user"].search([["login", "=", "admin"]]).roles] == ["admin"]
    # a reinstall starts from scratch
    run(db, "install", ["sales"])
    with db.unit_of_work() as env:
        assert env["crm.customer"].search_count([]) == 0
        assert env["crm.customer"].create({"name": "New", "credit_limit": 5}).credit_limit == 5


def test_purge_on_sqlite_refuses_foreign_key_enforcement(db, dialect):
    if dialect != "sqlite":
        pytest.skip("SQLite only")
    with db.unit_of_work() as env:
        env["crm.contact"].create({"name": "Bob", "customer_id": env["crm.customer"].create({"name": "A"}).id})
    with pytest.raises(UserInputError, match="foreign"):
        run(db, "uninstall", ["sales"], purge=True)  # would cascade-delete the contacts
    with db.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM crm_contact")).scalar() == 1
    assert "credit_limit" in columns(db, "crm_customer")


# -- upgrade ---------------------------------------------------------------------

def test_upgrade_runs_migrate_of_the_bumped_addon_only(db, db_url):
    with db.unit_of_work() as env:
        env["crm.customer"].create([{"name": "Old"}, {"name": "New", "kind": "person"}])
    with db.transaction() as conn:  # as if the database held crm_base 0.0.9 from before kind was required
        conn.execute(sa.text("UPDATE core_addon SET addon_version = '0.0.9' WHERE name = 'crm_base'"))
        conn.execute(sa.text("UPDATE crm_customer SET kind = NULL WHERE name = 'Old'"))
    assert run(db, "upgrade") == [("crm_base", "0.0.9", "0.4.0")]
    assert addon_rows(db)["crm_base"] == ("0.4.0", "installed")
    with db.unit_of_work() as env:
        assert sorted((c.name, c.kind) for c in env["crm.customer"].search([])) == [
            ("New", "person"), ("Old", "company")]
    assert run(db, "upgrade") == []  # nothing left to migrate


def test_upgrade_passes_versions_and_reloads_data(make_db, db_url):
    calls = []

    def module(version):
        def keel_migrate(env, from_version, to_version):
            calls.append((from_version, to_version, env["test.gadget"].search_count([])))
        return full_addon(version=version, keel_migrate=hookimpl(keel_migrate),
                          keel_menus=hookimpl(lambda: [{"key": f"gadgets.{version}", "label": version}]))
    other_calls = []
    bystander = addon_module("bystander", version="1.0.0",
                             keel_migrate=hookimpl(lambda from_version: other_calls.append(from_version)))
    db = make_db(addons=["gadgets", "bystander"], available=available_with(module("1.0.0"), bystander))
    with db.unit_of_work() as env:
        env["test.gadget"].create({"name": "g"})
    newer = Database(db_url, available=available_with(module("1.1.0"), bystander))
    version = registry_version(newer)
    assert run(newer, "upgrade", ["gadgets"]) == [("gadgets", "1.0.0", "1.1.0")]
    assert calls == [("1.0.0", "1.1.0", 1)] and other_calls == []
    assert addon_rows(newer)["gadgets"] == ("1.1.0", "installed")
    with newer.engine.connect() as conn:  # the menus follow the new code: stale ones removed
        assert conn.execute(sa.text("SELECT key FROM core_menu WHERE addon = 'gadgets'")).scalars().all() \
            == ["gadgets.1.1.0"]
    assert registry_version(newer) > version
    newer.dispose()


def test_upgrade_refuses_a_downgrade_and_not_installed(db):
    with db.transaction() as conn:
        conn.execute(sa.text("UPDATE core_addon SET addon_version = '9.0.0' WHERE name = 'crm_base'"))
    before = snapshot(db)
    with pytest.raises(UserInputError, match="9.0.0"):
        run(db, "upgrade")
    assert snapshot(db) == before
    run(db, "uninstall", ["sales"])
    with pytest.raises(UserInputError, match="'sales' is not installed"):
        run(db, "upgrade", ["sales"])
    with pytest.raises(UserInputError, match="unknown addon 'nope'"):
        run(db, "upgrade", ["nope"])


# -- all or nothing -------------------------------------------------------------------

def test_failing_data_hook_leaves_the_database_as_it_was(make_db, db_url):
    make_db(addons=["crm_base"])

    def keel_data():
        raise RuntimeError("bad data")
    gadgets = full_addon(depends=["sales"], keel_data=hookimpl(keel_data))
    db = Database(db_url, available=available_with(gadgets))
    before = snapshot(db)
    with pytest.raises(AddonError, match="'gadgets'.*bad data"):
        run(db, "install", ["gadgets"])  # would also pull in sales and add its columns
    assert snapshot(db) == before
    assert "test_gadget" not in before["tables"] and "credit_limit" not in before["customer columns"]
    db.dispose()


def test_failing_migrate_hook_leaves_the_database_as_it_was(make_db, db_url):
    def module(version, with_extra=False):
        def keel_migrate(env, from_version, to_version):
            env["test.gadget"].create({"name": "migrated"})
            raise RuntimeError("migration broke")
        fields = {"name": F.Char("Name", required=True)}
        if with_extra:
            fields["extra"] = F.Char("Extra")
        return full_addon(version=version, keel_migrate=hookimpl(keel_migrate),
                          keel_models=hookimpl(lambda: [Model("test.gadget", "Gadget", fields=fields)]))
    make_db(addons=["gadgets"], available=available_with(module("1.0.0")))
    newer = Database(db_url, available=available_with(module("2.0.0", with_extra=True)))
    before = snapshot(newer)
    with pytest.raises(AddonError, match="'gadgets'.*migration broke"):
        run(newer, "upgrade")
    assert snapshot(newer) == before
    assert "extra" not in columns(newer, "test_gadget")  # the schema change was rolled back too
    with newer.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM test_gadget")).scalar() == 0
    newer.dispose()


def test_schema_problem_leaves_the_database_as_it_was(db, db_url):
    with db.unit_of_work() as env:
        env["crm.customer"].create([{"name": "A", "city": "Wuhan"}, {"name": "B", "city": "Wuhan"}])
    # a new table, then a unique index the existing rows violate
    unique_city = full_addon(depends=["crm_base"], keel_models=hookimpl(lambda: [
        Model("test.gadget", "Gadget", fields={"name": F.Char("Name")}),
        Extend("crm.customer", attrs={"city": {"unique": True}})]))
    other = Database(db_url, available=available_with(unique_city))
    before = snapshot(other)
    with pytest.raises(AddonError, match="cannot be applied") as err:
        run(other, "install", ["gadgets"])
    assert "\n" not in str(err.value) and "city" in str(err.value)
    assert snapshot(other) == before
    other.dispose()


def test_failing_uninstall_leaves_the_database_as_it_was(make_db, db_url):
    def keel_before_unlink(model, records):
        if model == "core.menu":
            raise ValidationError("menus are forever")
    guard = addon_module("guard", keel_before_unlink=hookimpl(keel_before_unlink))
    db = make_db(addons=["sales", "guard"], available=available_with(guard))
    with db.unit_of_work() as env:
        env["crm.customer"].create({"name": "A", "credit_limit": 3})
    before = snapshot(db)
    with pytest.raises(ValidationError, match="menus are forever"):
        run(db, "uninstall", ["sales"])
    assert snapshot(db) == before
    with pytest.raises(ValidationError):
        purge(db, ["sales"])
    assert snapshot(db) == before
    with db.unit_of_work() as env:
        assert float(env["crm.customer"].search([]).credit_limit) == 3


def test_failing_init_leaves_nothing(db_url):
    def keel_roles():
        raise RuntimeError("no roles today")
    bad = addon_module("badroles", keel_roles=hookimpl(keel_roles))
    db = Database(db_url, available=available_with(bad))
    with pytest.raises(AddonError, match="badroles"):
        with db.transaction() as conn:
            Installer(db, conn).init(["crm_base", "badroles"], "password-123")
    assert not db.is_initialised()
    assert tables(db) == []
    db.dispose()


def test_an_installed_addon_whose_code_is_gone_blocks_nothing(make_db, db_url):
    ghost = addon_module("ghosty", depends=["crm_base"], keel_menus=hookimpl(
        lambda: [{"key": "ghosty", "label": "Ghost"}]))
    make_db(addons=["crm_base", "ghosty"], available=available_with(ghost))
    db = Database(db_url)  # this process does not have ghosty's code
    assert run(db, "install", ["sales"]) == ["sales"]
    assert run(db, "upgrade") == []
    with pytest.raises(UserInputError, match="unknown addon 'ghosty'"):
        run(db, "upgrade", ["ghosty"])
    assert run(db, "uninstall", ["ghosty"]) == ["ghosty"]
    assert addon_rows(db)["ghosty"] == ("1.0.0", "uninstalled")
    assert owned_rows(db, "ghosty")["core_menu"] == 0
    db.dispose()


def test_upgrade_installs_a_dependency_the_new_version_added(make_db, db_url):
    helper = addon_module("helper_dep", version="1.0.0", keel_menus=hookimpl(
        lambda: [{"key": "helper_dep", "label": "Helper"}]))
    make_db(addons=["gadgets"], available=available_with(full_addon(version="1.0.0"), helper))
    newer = Database(db_url, available=available_with(full_addon(version="1.1.0", depends=["helper_dep"]),
                                                      helper))
    assert run(newer, "upgrade") == [("gadgets", "1.0.0", "1.1.0")]
    assert addon_rows(newer)["helper_dep"] == ("1.0.0", "installed")
    assert owned_rows(newer, "helper_dep")["core_menu"] == 1
    newer.dispose()


def test_purge_of_an_addon_uninstalled_earlier(db):
    with db.unit_of_work() as env:
        env["crm.customer"].create({"name": "A", "credit_limit": 10})
    run(db, "uninstall", ["sales"])
    assert "credit_limit" in columns(db, "crm_customer")
    purge(db, ["sales"])
    assert "credit_limit" not in columns(db, "crm_customer")
    assert "sales" not in addon_rows(db)
    with pytest.raises(UserInputError, match="not installed"):
        run(db, "uninstall", ["sales"])


def test_demo_data_belongs_to_admin(make_db):
    db = make_db(demo=True)
    with db.unit_of_work() as env:
        customers = env["crm.customer"].search_read([], ["name", "owner_id", "created_by_id"])
    assert len(customers) >= 5
    # created by admin, owned by the demo company's reps (crm_base/demo.py)
    assert "Administrator" not in {c["owner_id"]["name"] for c in customers}
    assert {c["created_by_id"]["name"] for c in customers} == {"Administrator"}
    assert any(c["name"] == "上海明远机械有限公司" for c in customers)
