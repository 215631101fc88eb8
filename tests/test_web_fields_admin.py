"""The admin screen of user-defined fields (issue 4 point 1): add a field
from the browser, see it refused with the service's message, remove it
after a confirmation that says how many values are archived; not for
anyone but administrators."""
import pytest

from .conftest import ADMIN_PASSWORD, drop_module_database, module_database
from .test_api_security import PASSWORD, create_personas, make_app
from .web_helpers import csrf_token, sign_in


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    db = module_database(tmp_path_factory, "t_web_fields")
    users = create_personas(db)
    app = make_app(db)
    yield db, users, app
    drop_module_database(db, "t_web_fields")


def test_admin_adds_and_removes_a_field(world):
    db, users, app = world
    admin = sign_in(app, "admin", ADMIN_PASSWORD)
    page = admin.get("/web/settings/fields?model=crm.customer")
    assert page.status_code == 200 and "x_vip_level" not in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    answer = admin.post("/web/settings/fields", data={
        "csrf_token": token, "model": "crm.customer", "name": "x_vip_level", "type": "selection",
        "label": "VIP 等级", "selection": "金，银,铜"})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:400]
    with db.unit_of_work("admin") as env:
        field = env.registry["crm.customer"].fields["x_vip_level"]
        assert [v for v, _ in field.options] == ["金", "银", "铜"]
        env["crm.customer"].create({"name": "甲", "x_vip_level": "金"})
    assert "VIP 等级" in admin.get("/web/settings/fields?model=crm.customer").get_data(as_text=True)

    refused = admin.post("/web/settings/fields", data={
        "csrf_token": token, "model": "crm.customer", "name": "vip_level", "type": "char"})
    assert refused.status_code == 422 and "x_" in refused.get_data(as_text=True)
    assert 'value="vip_level"' in refused.get_data(as_text=True)  # the input is kept

    confirm = admin.get("/web/settings/fields/crm.customer/x_vip_level/remove")
    assert confirm.status_code == 200 and "1" in confirm.get_data(as_text=True)
    with db.unit_of_work("admin") as env:  # nothing removed by asking
        assert "x_vip_level" in env.registry["crm.customer"].fields
    done = admin.post("/web/settings/fields/crm.customer/x_vip_level/remove",
                      data={"csrf_token": token, "confirm": "yes"})
    assert done.status_code == 302
    with db.unit_of_work("admin") as env:
        assert "x_vip_level" not in env.registry["crm.customer"].fields
        archived = env["core.field_archive"].search_read([], ["value"])
        assert [a["value"] for a in archived] == ["金"]


def test_only_administrators(world):
    db, users, app = world
    rep = sign_in(app, "r1", PASSWORD)
    assert rep.get("/web/settings/fields").status_code == 403
    token = csrf_token(rep.get("/web").get_data(as_text=True))
    answer = rep.post("/web/settings/fields", data={"csrf_token": token, "model": "crm.customer",
                                                    "name": "x_a", "type": "char"})
    assert answer.status_code == 403
    with db.unit_of_work("admin") as env:
        assert "x_a" not in env.registry["crm.customer"].fields
    assert rep.post("/web/settings/fields/crm.customer/name/remove",
                    data={"csrf_token": token}).status_code in (403, 400)
