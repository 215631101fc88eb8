"""The registry: model metadata merged in dependency order, tables built,
rebuilt when addons or user-defined fields change."""
import pytest

from core import fields as F
from core import hookimpl
from core.custom_fields import add_field
from core.db import Database
from core.errors import AddonError, UserInputError
from core.models import Extend, Model
from tests.conftest import addon_module, available_with


def registry_of(db):
    with db.transaction() as conn:
        return db.registry(conn)


def test_models_of_installed_addons_and_kernel(db):
    reg = registry_of(db)
    assert {"core.user", "core.department", "crm.customer", "crm.contact"} <= set(reg.models)
    customer = reg["crm.customer"]
    assert customer.addon == "crm_base"
    assert "sales" in customer.extended_by  # and crm_base's own parts
    assert customer.table.name == "crm_customer"
    for name in ("code", "name", "kind", "phone", "mobile", "email", "city", "region", "industry",
                 "source", "grade", "level", "owner_id", "department_id", "next_contact_at",
                 "contact_cycle_days", "in_pool"):
        assert name in customer.fields, name
    assert {"id", "version", "created_at", "updated_at"} <= set(customer.table.c.keys())


def test_extension_by_dependent_addon(db):
    customer = registry_of(db)["crm.customer"]
    assert customer.fields["credit_limit"].addon == "sales"
    assert customer.fields["credit_limit"].type == "decimal"
    assert "credit_limit" in customer.table.c
    assert "quotation_request" in customer.fields["source"].values
    assert customer.fields["grade"].label == "Customer grade"
    assert customer.fields["grade"].default == "potential"  # untouched attributes stay


def test_without_the_extending_addon_the_model_is_plain(make_db):
    db = make_db(addons=["crm_base"])
    customer = registry_of(db)["crm.customer"]
    assert "credit_limit" not in customer.fields
    assert "quotation_request" not in customer.fields["source"].values
    assert customer.fields["grade"].label == "Grade"


def test_extensions_stack_in_dependency_order(make_db):
    first = addon_module("ext_one", depends=["sales"])
    first.keel_models = hookimpl(lambda: [Extend("crm.customer", attrs={"grade": {"default": "intent"}},
                                                 selection_add={"source": [("fair", "Fair")]})])
    second = addon_module("ext_two", depends=["ext_one"])
    second.keel_models = hookimpl(lambda: [Extend("crm.customer", attrs={"grade": {"default": "deal"}},
                                                  selection_add={"source": [("fair", "Dup"), ("web2", "W")]})])
    db = make_db(addons=["crm_base", "sales", "ext_two"], available=available_with(first, second))
    customer = registry_of(db)["crm.customer"]
    assert customer.fields["grade"].default == "deal"
    assert customer.fields["source"].values[-3:] == ["quotation_request", "fair", "web2"]
    # declarations are not mutated by merging: a registry without them is clean
    with db.transaction() as conn:
        plain = db.build_registry(conn, ["crm_base"])
    assert "fair" not in plain["crm.customer"].fields["source"].values


def _registry_error(make_db, db_url, module, match):
    db = Database(db_url, available=available_with(module))
    with pytest.raises(AddonError, match=match):
        with db.transaction() as conn:
            db.build_registry(conn, ["crm_base", module.manifest["name"]])


def test_extending_without_depending_is_refused(make_db, db_url):
    mod = addon_module("sneaky", depends=[])
    mod.keel_models = hookimpl(lambda: [Extend("crm.customer", fields={"x": F.Char("X")})])
    _registry_error(make_db, db_url, mod, "'sneaky' extends crm.customer of addon 'crm_base' but does not depend on it")


def test_redefining_a_field_is_refused(make_db, db_url):
    mod = addon_module("redef", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Extend("crm.customer", fields={"name": F.Char("X")})])
    _registry_error(make_db, db_url, mod, r"crm.customer.name is already defined by crm_base")


def test_declaring_a_model_twice_is_refused(make_db, db_url):
    mod = addon_module("twice", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Model("crm.customer", fields={})])
    _registry_error(make_db, db_url, mod, "declared by both 'crm_base' and 'twice'")


def test_relation_to_unknown_model_is_refused(make_db, db_url):
    mod = addon_module("dangling", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Model("dangling.thing", fields={"x_id": F.Many2one("no.such")})])
    _registry_error(make_db, db_url, mod, "dangling.thing.x_id refers to no.such")


def test_bad_names_are_refused():
    with pytest.raises(AddonError, match="must look like 'addon.entity'"):
        Model("Customer")
    with pytest.raises(AddonError, match="bad field name"):
        Model("a.b", fields={"Bad Name": F.Char()})


def test_unknown_attribute_in_attrs(make_db, db_url):
    mod = addon_module("attrs", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Extend("crm.customer", attrs={"name": {"colour": "red"}})])
    _registry_error(make_db, db_url, mod, "has no attribute 'colour'")


def test_all_field_types_build_columns(make_db):
    mod = addon_module("alltypes", depends=["crm_base"])
    mod.keel_models = hookimpl(lambda: [Model("alltypes.thing", "Thing", fields={
        "c": F.Char("C", size=20), "t": F.Text("T"), "i": F.Integer("I"), "f": F.Float("F"),
        "d": F.Decimal("D"), "b": F.Boolean("B"), "dt": F.Date("Date"), "dtt": F.Datetime("DT"),
        "s": F.Selection("S", options=["a", "b"]), "m2o": F.Many2one("crm.customer", "M2O"),
        "o2m": F.One2many("alltypes.thing", "parent_id", "Children"),
        "parent_id": F.Many2one("alltypes.thing", "Parent"),
        "m2m": F.Many2many("crm.customer", "M2M"), "j": F.Json("J"), "bin": F.Binary("Bin")})])
    db = make_db(addons=["crm_base", "alltypes"], available=available_with(mod))
    thing = registry_of(db)["alltypes.thing"]
    cols = set(thing.table.c.keys())
    assert {"c", "t", "i", "f", "d", "b", "dt", "dtt", "s", "m2o", "parent_id", "j", "bin"} <= cols
    assert "o2m" not in cols and "m2m" not in cols
    assert thing.link_tables["m2m"].name == "alltypes_thing__m2m"


def test_build_time_is_recorded(db):
    assert registry_of(db).build_seconds < 5


def test_another_process_notices_an_installed_addon(make_db, db_url):
    first = make_db(addons=["crm_base"])
    other = Database(db_url)  # another process on the same database
    assert "credit_limit" not in registry_of(other)["crm.customer"].fields
    from core.installer import Installer
    with first.transaction() as conn:
        Installer(first, conn).install(["sales"])
    with other.unit_of_work("admin") as env:
        assert "credit_limit" in env.registry["crm.customer"].fields
        env["crm.customer"].create({"name": "A", "credit_limit": "10.5"})
    other.dispose()


def test_user_defined_field_is_seen_by_every_process(db, db_url):
    other = Database(db_url)
    registry_of(other)
    with db.transaction() as conn:
        add_field(db, conn, "crm.customer", "x_vip_level", "selection", label="VIP level",
                  selection=["gold", "silver"], index=True)
    with other.unit_of_work("admin") as env:
        field = env.registry["crm.customer"].fields["x_vip_level"]
        assert field.custom and field.values == ["gold", "silver"]
        rec = env["crm.customer"].create({"name": "VIP", "x_vip_level": "gold"})
        assert env["crm.customer"].search([["x_vip_level", "=", "gold"]]) == rec
    other.dispose()


def test_user_defined_field_checks(db):
    with db.transaction() as conn:
        with pytest.raises(UserInputError, match="must start with x_"):
            add_field(db, conn, "crm.customer", "vip", "char")
        with pytest.raises(UserInputError, match="unknown model"):
            add_field(db, conn, "crm.nothing", "x_a", "char")
        with pytest.raises(UserInputError, match="not one of"):
            add_field(db, conn, "crm.customer", "x_a", "blob")
