"""Views as data (core/viewdefs.py): declared, generated, extended, with
user-defined fields and per-user hidden fields, cached per registry."""
import pytest

from core import custom_fields, viewdefs
from core.errors import UserInputError
from tests.conftest import StatementCounter, drop_module_database, module_database
from tests.test_api_security import create_personas
from tests.test_model_api import scratch_env


@pytest.fixture(scope="module")
def vdb(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_viewdefs", ["crm_base"])
    custom_fields.add(db, "crm.customer", "x_vip", "boolean", label="VIP")
    users = create_personas(db)
    yield db, users
    drop_module_database(db, "t_viewdefs")


@pytest.fixture
def admin_env(vdb):
    """A unit of work as admin, rolled back at the end."""
    with scratch_env(vdb[0]) as env:
        yield env


def add_view(env, key, model, vtype, arch):
    # the model API tells the views (viewdefs.changed): nothing else to do
    env.sudo()["core.view"].create({"key": key, "model": model, "type": vtype, "arch": arch})


def test_a_declared_view_is_used(admin_env):
    arch = viewdefs.resolve(admin_env, "crm.customer", "list")
    assert arch["fields"] == ["code", "name", "kind", "city", "grade", "owner_id", "next_contact_at"]


def test_a_model_without_views_gets_a_generated_one(admin_env):
    arch = viewdefs.resolve(admin_env, "core.department", "list")
    assert arch["fields"][0] == "name"  # the name first, then the rest in order
    assert set(arch["fields"]) >= {"code", "parent_id", "manager_id"}
    search = viewdefs.resolve(admin_env, "crm.customer", "search")
    assert search["fields"][:2] == ["name", "code"]  # name fields: the search box
    keys = [f["key"] for f in search["filters"]]
    assert "mine" in keys and "grade.intent" in keys and "in_pool" in keys


def test_a_generated_kanban_of_a_workflow_groups_by_its_state(admin_env):
    # crm.opportunity declares its kanban; the generated one would use the stage too
    meta = admin_env.registry["crm.opportunity"]
    assert viewdefs.generate(admin_env, meta, "kanban")["group_by"] == "stage"
    assert viewdefs.generate(admin_env, meta, "form")["header"] == {"state": "stage", "actions": True}


def test_extensions_add_move_hide_set_and_append_in_order(admin_env):
    add_view(admin_env, "t.vip", "crm.customer", "form", {
        "extends": "crm.customer.form",
        "add": [{"field": "x_vip", "after": "grade"}, {"field": "address", "section": "Contact means"}],
        "move": [{"field": "owner_id", "before": "code"}],
        "hide": ["level"]})
    add_view(admin_env, "t.vip2", "crm.customer", "form", {
        "extends": "crm.customer.form", "move": [{"field": "x_vip", "section": 2}],
        "set": {"header": {"state": None}}})
    arch = viewdefs.resolve(admin_env, "crm.customer", "form")
    first, means, classification = arch["sections"][:3]
    assert first["fields"] == ["owner_id", "code", "name", "kind", "grade"]
    assert means["fields"][-1] == "address"
    assert classification["fields"][-1] == "x_vip"  # the second extension ran last
    assert arch["header"] == {"state": None}
    assert not any(s["label"] == "More" for s in arch["sections"])  # x_vip is placed


def test_a_generated_view_is_extended_by_its_key(admin_env):
    add_view(admin_env, "t.dept", "core.department", "list",
             {"extends": "core.department.list", "hide": ["manager_id"],
              "set": {"default_order": "name desc"}})
    add_view(admin_env, "t.search", "crm.customer", "search",
             {"extends": "crm.customer.search",
              "append": {"filters": [{"key": "vip", "label": "VIP", "domain": [["x_vip", "=", True]]}]}})
    arch = viewdefs.resolve(admin_env, "core.department", "list")
    assert "manager_id" not in arch["fields"] and arch["default_order"] == "name desc"
    filters = viewdefs.resolve(admin_env, "crm.customer", "search")["filters"]
    assert filters[-1]["key"] == "vip"
    # crm_base extends the generated search view with its follow-up filters
    assert {"due_today", "overdue"} <= {f["key"] for f in filters}


@pytest.mark.parametrize("ext, message", [
    ({"add": [{"field": "x_vip", "after": "nope"}]}, "'nope' is not in the view"),
    ({"move": [{"field": "nope"}]}, "cannot move 'nope'"),
    ({"add": [{"field": "x_vip", "section": "Nowhere"}]}, "no section or tab 'Nowhere'"),
    ({"rename": []}, "unknown key 'rename'"),
])
def test_a_broken_extension_names_itself(admin_env, ext, message):
    add_view(admin_env, "t.broken", "crm.customer", "form", {"extends": "crm.customer.form", **ext})
    with pytest.raises(UserInputError, match=f"view t.broken: .*{message}"):
        viewdefs.resolve(admin_env, "crm.customer", "form")


def test_an_extension_of_another_type_is_refused(admin_env):
    add_view(admin_env, "t.wrong", "crm.customer", "list", {"extends": "crm.customer.form"})
    with pytest.raises(UserInputError, match="t.wrong: extends crm.customer.form"):
        viewdefs.resolve(admin_env, "crm.customer", "form")


def test_user_defined_fields_appear_by_themselves(admin_env):
    arch = viewdefs.resolve(admin_env, "crm.customer", "form")
    assert arch["sections"][-1] == {"label": "More", "fields": ["x_vip"]}
    filters = viewdefs.resolve(admin_env, "crm.customer", "search")["filters"]
    assert "x_vip" in {f["key"] for f in filters}  # a boolean: a filter of its own


def test_fields_hidden_from_a_user_leave_every_view(vdb):
    db, users = vdb
    with db.unit_of_work("admin") as env:
        rep = env["core.role"].search([["code", "=", "sales_rep"]]).id
        rule = env["core.field_rule"].create({"role_id": rep, "model": "crm.customer",
                                              "field": "grade", "mode": "hidden"})
    try:
        with db.unit_of_work(users["R1"]) as env:
            assert "grade" not in viewdefs.resolve(env, "crm.customer", "list")["fields"]
            form = viewdefs.resolve(env, "crm.customer", "form")
            assert all("grade" not in s["fields"] for s in form["sections"])
            search = viewdefs.resolve(env, "crm.customer", "search")
            assert not any(f["key"].startswith("grade.") for f in search["filters"])
        with db.unit_of_work("admin") as env:
            assert "grade" in viewdefs.resolve(env, "crm.customer", "list")["fields"]
    finally:
        with db.unit_of_work("admin") as env:
            env["core.field_rule"].browse(rule.id).unlink()


def test_resolving_is_cached_per_registry_and_view_state(vdb):
    db, _users = vdb
    with db.unit_of_work("admin") as env:
        viewdefs.resolve(env, "crm.customer", "list")
    with db.unit_of_work("admin") as env:
        with StatementCounter(db.engine) as counter:
            for vtype in viewdefs.VIEW_TYPES:
                viewdefs.resolve(env, "crm.customer", vtype)
        # one aggregate over core.view per unit of work; views built once
        assert counter.count <= 1 + len(viewdefs.VIEW_TYPES), counter.statements
        with StatementCounter(db.engine) as counter:
            viewdefs.resolve(env, "crm.customer", "list")
        assert counter.count == 0
    with db.unit_of_work("admin") as env:
        env.sudo()["core.view"].create({"key": "t.cached", "model": "crm.customer", "type": "list",
                                        "arch": {"extends": "crm.customer.list", "hide": ["city"]}})
    try:
        with db.unit_of_work("admin") as env:
            assert "city" not in viewdefs.resolve(env, "crm.customer", "list")["fields"]
    finally:
        with db.unit_of_work("admin") as env:
            env.sudo()["core.view"].search([["key", "=", "t.cached"]]).unlink()
        with db.unit_of_work("admin") as env:
            assert "city" in viewdefs.resolve(env, "crm.customer", "list")["fields"]


def test_the_answer_is_the_callers_copy(admin_env):
    viewdefs.resolve(admin_env, "crm.customer", "list")["fields"].append("x")
    viewdefs.resolve(admin_env, "crm.customer", "form")["sections"][0]["fields"].clear()
    assert "x" not in viewdefs.resolve(admin_env, "crm.customer", "list")["fields"]
    assert viewdefs.resolve(admin_env, "crm.customer", "form")["sections"][0]["fields"]


def test_filter_placeholders_and_the_search_box_domain(admin_env):
    domain = viewdefs.filter_domain(admin_env, [["owner_id", "=", "@uid"], ["at", "<", "@tomorrow"],
                                                ["x", "in", ["@uid", 3]]])
    assert domain[0] == ["owner_id", "=", admin_env.uid]
    assert domain[1][2].date() > admin_env.now.date() and domain[2] == ["x", "in", [admin_env.uid, 3]]
    meta = admin_env.registry["crm.customer"]
    assert viewdefs.search_domain(meta, {"fields": ["name", "city", "kind"]}, " 上海 ") == \
        ["|", ["name", "ilike", "%上海%"], ["city", "ilike", "%上海%"]]
    assert viewdefs.search_domain(meta, {"fields": []}, "a%b") == [["name", "ilike", "%ab%"]]
    assert viewdefs.search_domain(meta, {}, "  ") == []


def test_an_unknown_view_type_is_refused(admin_env):
    with pytest.raises(UserInputError, match="unknown view type 'table'"):
        viewdefs.resolve(admin_env, "crm.customer", "table")
