"""Customer tags (issue 7 point 1): shared by the sales team — a rep tags
their customers with tags anyone made and makes new ones, filters by them;
only managers rename or delete a tag."""
import json

import pytest

from core.errors import AccessDenied
from tests.test_api_security import PASSWORD, Server, create_personas, make_app


def test_reps_tag_and_filter_customers_managers_tidy_the_tags(make_db):
    db = make_db(addons=["crm_base"])
    users = create_personas(db)
    with db.unit_of_work(users["M1"]) as env:
        vip = env["crm.tag"].create({"name": "重点客户", "color": "red"}).id
    with db.unit_of_work(users["R1"]) as env:
        fair = env["crm.tag"].create({"name": "2026展会"}).id
        mine = env["crm.customer"].create([{"name": "温州精工阀门有限公司", "tag_ids": [vip, fair]},
                                           {"name": "台州远航船舶有限公司", "tag_ids": [fair]}]).ids
        with pytest.raises(AccessDenied):
            env["crm.tag"].browse(vip).write({"name": "VIP"})
    server = Server(make_app(db))
    try:
        token = server.token("r1", PASSWORD)
        found = server.call("GET", "/api/v1/data/crm.customer", token, params={
            "domain": json.dumps([["tag_ids", "in", [vip]]]), "fields": "name,tag_ids"}).json
        assert [r["name"] for r in found["items"]] == ["温州精工阀门有限公司"]
        assert set(found["items"][0]["tag_ids"]) == {vip, fair}  # many2many: ids
        assert server.call("GET", "/api/v1/data/crm.customer", token, params={
            "domain": json.dumps([["tag_ids", "in", [fair]]])}).json["total"] == 2
    finally:
        server.close()
    with db.unit_of_work(users["M1"]) as env:
        env["crm.tag"].browse(fair).write({"name": "2026 春季展会"})
    assert mine
