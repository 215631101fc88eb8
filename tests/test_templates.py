"""Templates (CONTRACT.md §2, §4): every key applied, idempotent, all or
nothing, dry runs, key-path errors, the shipped industry templates, export
and its round trip, and ``keel template`` — on SQLite and PostgreSQL
(``KEEL_TEST_DATABASE_URL``)."""
import json
import pathlib
import textwrap

import pytest
import sqlalchemy as sa
import yaml

from core import cli, custom_fields
from core.errors import AccessDenied, UserInputError
from core.templates import TemplateError, apply, export
from core.templates.source import parse
from tests.conftest import drop_module_database, module_database
from tests.test_custom_fields import columns, make_user, version

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "addons" / "crm_base" / "templates"

FULL = """
name: full
label: Every key
requires: [crm_base]
fields:
  - {model: crm.customer, name: x_vin, type: char, label: VIN, index: true}
  - {model: crm.customer, name: x_body, type: selection, selection: [sedan, {value: suv, label: SUV}]}
  - {model: crm.opportunity, name: x_test_drive, type: boolean, label: Test drive}
roles:
  - code: showroom_rep
    label: Showroom representative
    permissions: {crm.customer: [read, create, write], crm.opportunity: [read, create, write]}
    scopes: {crm.customer: own, crm.opportunity: department}
    actions: {crm.opportunity: [qualify, propose, negotiate]}
    fields: {crm.customer: {x_vin: readonly}}
sequences:
  - {model: crm.customer, field: code, pattern: "AD{yy}{seq:04}"}
workflows:
  - model: crm.opportunity
    transitions:
      - {action: win, from: negotiation, to: won, roles: [sales_manager], required: [amount, x_test_drive]}
    field_modes:
      won: {x_test_drive: readonly}
approvals:
  - name: big-deal
    model: crm.opportunity
    action: win
    condition: [["amount", ">", 100000]]
    levels:
      - {approvers: {type: manager}, mode: any}
      - {approvers: {type: role, role: showroom_rep}, mode: all}
"""


def tpl(text=FULL, **changes):
    data = parse(textwrap.dedent(text))
    data.update(changes)
    return data


def audit_count(db):
    with db.engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM core_audit")).scalar()


def snapshot(db):
    """What a template may change, as plain data."""
    with db.engine.connect() as conn:
        q = lambda sql: sorted(tuple(r) for r in conn.execute(sa.text(sql)))  # noqa: E731
        return {"columns": columns(db), "opp_columns": columns(db, "crm_opportunity"),
                "fields": q("SELECT model, name FROM core_field"),
                "roles": q("SELECT code, name FROM core_role"),
                "perms": q("SELECT r.code, p.model, p.scope FROM core_permission p "
                           "JOIN core_role r ON r.id = p.role_id"),
                "rules": q("SELECT model, field, mode FROM core_field_rule"),
                "sequences": q("SELECT code, pattern FROM core_sequence"),
                "transitions": q("SELECT action, CAST(roles AS TEXT), CAST(required_fields AS TEXT) "
                                 "FROM core_workflow_transition"),
                "modes": q("SELECT state, field, mode FROM core_workflow_field_mode"),
                "policies": q("SELECT name FROM core_approval_policy"),
                "audit": audit_count(db), "version": version(db)}


# -- applying ------------------------------------------------------------------------------------
def test_every_key_is_applied(db):
    changes = apply(db, tpl())
    assert changes == [
        "add field crm.customer.x_vin", "add field crm.customer.x_body",
        "add field crm.opportunity.x_test_drive", "create role showroom_rep",
        "update sequence crm.customer", "set workflow crm.opportunity: transition win",
        "add workflow crm.opportunity: field mode won.x_test_drive readonly",
        "create approval policy big-deal"]
    with db.transaction() as conn:
        fields = {f["name"]: f for f in custom_fields.list_fields(db, conn, "crm.customer")}
    assert fields["x_vin"]["indexed"] and fields["x_vin"]["label"] == "VIN"
    assert fields["x_body"]["selection"] == [{"value": "sedan", "label": "sedan"},
                                             {"value": "suv", "label": "SUV"}]
    assert {"x_vin", "x_body"} <= columns(db)
    with db.unit_of_work("admin") as env:
        role = env["core.role"].search_read([["code", "=", "showroom_rep"]], ["name"])[0]
        assert role["name"] == "Showroom representative"
        perms = {p["model"]: p for p in env["core.permission"].search_read(
            [["role_id", "=", role["id"]]], ["model", "scope", "perm_read", "perm_delete", "actions"])}
        assert perms["crm.customer"]["scope"] == "own" and perms["crm.opportunity"]["scope"] == "department"
        assert perms["crm.customer"]["perm_read"] and not perms["crm.customer"]["perm_delete"]
        assert perms["crm.opportunity"]["actions"] == ["qualify", "propose", "negotiate"]
        rules = env["core.field_rule"].search_read([["role_id", "=", role["id"]]], ["field", "mode"])
        assert [(r["field"], r["mode"]) for r in rules] == [("x_vin", "readonly")]
        assert env["crm.customer"].create({"name": "Li Lei"}).read(["code"])[0]["code"].startswith("AD")
        win = env["core.workflow_transition"].search_read([["action", "=", "win"]],
                                                          ["roles", "required_fields"])[0]
        assert win["roles"] == ["sales_manager"] and win["required_fields"] == ["amount", "x_test_drive"]
        policy = env["core.approval_policy"].search_read([["name", "=", "big-deal"]],
                                                         ["model", "action", "condition", "levels"])[0]
        assert (policy["model"], policy["action"]) == ("crm.opportunity", "win")
        assert policy["condition"] == [["amount", ">", 100000]]
        assert policy["levels"][1] == {"approvers": {"type": "role", "role": "showroom_rep"}, "mode": "all"}
        # the writes are audited as the administrator's
        entries = env["core.audit"].search_read([["model", "=", "core.approval_policy"]], ["action"])
        assert entries and entries[0]["action"] == "create"


def test_applying_twice_changes_nothing_the_second_time(db):
    assert apply(db, tpl())
    before = snapshot(db)
    assert apply(db, tpl()) == []
    assert snapshot(db) == before


def test_a_changed_template_updates_by_key(db):
    apply(db, tpl())
    changed = tpl()
    changed["roles"][0]["scopes"]["crm.customer"] = "department_tree"
    changed["roles"][0]["permissions"].pop("crm.opportunity")
    changed["roles"][0]["scopes"].pop("crm.opportunity")
    changed["roles"][0]["actions"] = {}
    changed["sequences"][0]["pattern"] = "CAR{seq:05}"
    changed["approvals"][0]["levels"] = changed["approvals"][0]["levels"][:1]
    assert apply(db, changed) == [
        "update role showroom_rep (permissions crm.customer, permissions crm.opportunity removed)",
        "update sequence crm.customer", "update approval policy big-deal (levels)"]
    assert apply(db, changed) == []


def test_a_field_defined_otherwise_is_refused(db):
    custom_fields.add(db, "crm.customer", "x_vin", "integer")
    with pytest.raises(TemplateError, match=r"fields\[0\]: crm.customer.x_vin exists with another "
                                            r"definition \(type 'integer', not 'char'\)"):
        apply(db, tpl())


def test_a_failure_at_the_last_key_leaves_nothing_of_the_first(db):
    """The last approval's condition names a field the template adds, so
    only writing it finds the bad operator: fields (DDL), roles,
    sequences and workflows were written by then, and all go."""
    bad = tpl()
    bad["approvals"].append({"name": "broken", "model": "crm.opportunity", "action": "win",
                             "condition": [["x_test_drive", "~~", True]],
                             "levels": [{"approvers": {"type": "manager"}}]})
    before = snapshot(db)
    with pytest.raises(TemplateError, match=r"^approvals\[1\]\.condition: "):
        apply(db, bad)
    assert snapshot(db) == before
    # this process's registry forgot the fields too, and the model API works
    with db.unit_of_work("admin") as env:
        assert "x_vin" not in env.registry["crm.customer"].fields
        assert env["crm.customer"].create({"name": "After"}).id


def test_dry_run_lists_the_same_changes_and_writes_nothing(db):
    before = snapshot(db)
    planned = apply(db, tpl(), dry_run=True)
    assert snapshot(db) == before
    with db.unit_of_work("admin") as env:
        assert "x_vin" not in env.registry["crm.customer"].fields
    assert apply(db, tpl()) == planned


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.update(colour="blue"), r"^template\.colour: unknown key"),
    (lambda t: t.pop("name"), r"^name: expected non-empty text"),
    (lambda t: t["fields"][1].update(type="int"), r"^fields\[1\]\.type: 'int' is not one of char"),
    (lambda t: t["fields"][2].update(name="vin"), r"^fields\[2\]\.name: field name 'vin' must start with x_"),
    (lambda t: t["fields"][0].update(size=3), r"^fields\[0\]\.size: unknown key"),
    (lambda t: t["fields"][1].update(selection=None), r"^fields\[1\]\.selection: a selection field needs"),
    (lambda t: t["fields"][0].update(name="name"), r"^fields\[0\]\.name: field name 'name' must start"),
    (lambda t: t["roles"][0]["permissions"].update({"crm.customer": ["read", "fly"]}),
     r"^roles\[0\]\.permissions\.crm\.customer: unknown operation 'fly'"),
    (lambda t: t["roles"][0]["scopes"].update({"crm.customer": "galaxy"}),
     r"^roles\[0\]\.scopes\.crm\.customer: 'galaxy' is not one of own"),
    (lambda t: t["roles"][0]["fields"].update({"crm.customer": {"x_nope": "hidden"}}),
     r"^roles\[0\]\.fields\.crm\.customer\.x_nope: crm\.customer has no field 'x_nope'"),
    (lambda t: t["roles"][0].update(code="admin"), r"^roles\[0\]\.code: 'admin' is an administrator role"),
    (lambda t: t["sequences"][0].update(field="name"), r"^sequences\[0\]\.field: crm\.customer\.name is not"),
    (lambda t: t["sequences"][0].update(pattern="C{yyyy}"), r"^sequences\[0\]\.pattern: sequence pattern"),
    (lambda t: t["workflows"][0]["transitions"][0].update(roles=["x"]),
     r"^workflows\[0\]\.transitions\[0\]\.roles: unknown role 'x'"),
    (lambda t: t["workflows"][0]["transitions"][0].update(to="heaven"),
     r"^workflows\[0\]\.transitions\[0\]: unknown state 'heaven'"),
    (lambda t: t["workflows"][0]["field_modes"].update({"won": {"amount": "frozen"}}),
     r"^workflows\[0\]\.field_modes\.won\.amount: mode 'frozen' is not one of"),
    (lambda t: t["approvals"][0]["levels"][1]["approvers"].update(role="x"),
     r"^approvals\[0\]\.levels\[1\]\.approvers\.role: unknown role 'x'"),
    (lambda t: t["approvals"][0]["levels"][0].update(mode="most"),
     r"^approvals\[0\]\.levels\[0\]\.mode: 'most' is not one of any, all, count"),
    (lambda t: t["approvals"][0].update(action="fly"),
     r"^approvals\[0\]\.action: crm\.opportunity has no workflow action 'fly'"),
    (lambda t: t["approvals"][0].update(condition=[["nope", "=", 1]]), r"^approvals\[0\]\.condition: "),
    (lambda t: t["approvals"].append(dict(t["approvals"][0])), r"^approvals\[1\]\.name: 'big-deal' is given twice"),
])
def test_a_bad_template_is_refused_with_its_key_path_and_nothing_is_written(db, edit, message):
    bad = tpl()
    edit(bad)
    before = snapshot(db)
    with pytest.raises(UserInputError, match=message):
        apply(db, bad)
    assert snapshot(db) == before


def test_requires_names_the_missing_addon(make_db):
    db = make_db(addons=["crm_base"])
    with pytest.raises(TemplateError, match=r"^requires\[1\]: addon 'sales' is not installed"):
        apply(db, tpl(requires=["crm_base", "sales"]))
    with pytest.raises(TemplateError, match=r"^requires\[0\]: addon 'trading' is not installed"):
        apply(db, tpl(requires=["trading"]))
    with pytest.raises(TemplateError, match=r"^requires\[1\]: addon 'sales' is not installed"):
        apply(db, "trading")  # the shipped template needs sales


def test_only_administrators_may_apply(db):
    make_user(db, "rep", "sales_rep")
    before = snapshot(db)
    with pytest.raises(AccessDenied, match="only administrators may apply templates; rep"):
        apply(db, tpl(), user="rep")
    with pytest.raises(AccessDenied):
        apply(db, tpl(), user="rep", dry_run=True)
    assert snapshot(db) == before


# -- the shipped templates ---------------------------------------------------------------------
def _users(db, *pairs):
    return {login: make_user(db, login, role) for login, role in pairs}


def _opportunity(db, login, **values):
    with db.unit_of_work(login) as env:
        customer = env["crm.customer"].create({"name": f"Customer of {login} {values.get('name', '')}"})
        return env["crm.opportunity"].create({"name": "Deal", "customer_id": customer.id, **values}).id


def _act(db, login, opp, action, **values):
    with db.unit_of_work(login) as env:
        record = env["crm.opportunity"].browse(opp)
        if values:
            record.write(values)
        return record.action(action)[0]


def test_auto_dealer_template_on_a_fresh_database_keeps_the_crm_working(db):
    assert "add field crm.customer.x_vin" in apply(db, "auto-dealer")
    assert apply(db, "auto_dealer") == []  # by name or by file stem; twice changes nothing
    _users(db, ("rep", "showroom_rep"), ("boss", "showroom_manager"), ("dir", "sales_director"))
    with db.unit_of_work("rep") as env:
        customer = env["crm.customer"].create({"name": "Wang Fang", "x_vin": "LSVAU2180N2183294",
                                               "x_car_model": "Lavida"})
        row = customer.read(["code", "x_vin"])[0]
        assert row["code"].startswith("AD") and row["x_vin"] == "LSVAU2180N2183294"
        with pytest.raises(AccessDenied):  # the value tier is the managers' call
            customer.write({"x_value_tier": "gold"})
    opp = _opportunity(db, "rep", amount="180000")
    assert _act(db, "rep", opp, "qualify").ran
    with pytest.raises(Exception, match="x_car_model"):
        _act(db, "rep", opp, "propose")
    assert _act(db, "rep", opp, "propose", x_car_model="Tiguan L").ran
    with pytest.raises(Exception, match="x_test_drive_at"):
        _act(db, "rep", opp, "negotiate")
    assert _act(db, "rep", opp, "negotiate", x_test_drive_at="2026-05-01T10:00:00").ran
    with pytest.raises(AccessDenied):  # the restricted win refuses a rep
        _act(db, "rep", opp, "win")
    assert _act(db, "admin", opp, "win").ran
    big = _opportunity(db, "rep", amount="800000", name="big")
    for action, values in (("qualify", {}), ("propose", {"x_car_model": "Touareg"}),
                           ("negotiate", {"x_test_drive_at": "2026-05-02T10:00:00"})):
        assert _act(db, "rep", big, action, **values).ran
    held = _act(db, "admin", big, "win")
    assert not held.ran and held.approval["state"] == "pending"


def test_trading_template_on_a_fresh_database_keeps_the_crm_working(db):
    changes = apply(db, "trading")
    assert "create approval policy deep-discount" in changes
    assert apply(db, "trading") == []
    _users(db, ("rep", "regional_sales"), ("mgr", "sales_manager"), ("credit", "credit_controller"))
    with db.unit_of_work("rep") as env:
        customer = env["crm.customer"].create({"name": "华联商贸", "x_channel": "distributor",
                                               "x_sales_region": "east"})
        assert customer.read(["code"])[0]["code"].startswith("KH")
        with pytest.raises(AccessDenied):  # credit terms are the credit controller's
            customer.write({"credit_limit": "50000"})
    with db.unit_of_work("credit") as env:
        env["crm.customer"].browse(customer.id).write({"credit_limit": "50000", "x_credit_rating": "A"})
    opp = _opportunity(db, "rep")
    assert _act(db, "rep", opp, "qualify").ran
    with pytest.raises(Exception, match="amount|x_discount"):
        _act(db, "rep", opp, "propose")
    assert _act(db, "rep", opp, "propose", amount="90000", x_discount="5").ran
    assert _act(db, "rep", opp, "negotiate").ran
    with pytest.raises(AccessDenied):  # the restricted win refuses a rep
        _act(db, "rep", opp, "win", x_delivery_date="2026-06-01")
    assert _act(db, "admin", opp, "win", x_delivery_date="2026-06-01").ran
    deep = _opportunity(db, "rep", name="deep")
    for action, values in (("qualify", {}), ("propose", {"amount": "90000", "x_discount": "20"}),
                           ("negotiate", {"x_delivery_date": "2026-06-01"})):
        assert _act(db, "rep", deep, action, **values).ran
    held = _act(db, "admin", deep, "win")
    assert not held.ran and held.approval["state"] == "pending"


def test_both_shipped_templates_parse_and_name_themselves():
    for path, name in ((SHIPPED / "auto_dealer.yaml", "auto-dealer"), (SHIPPED / "trading.yaml", "trading")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert data["name"] == name and data["label"]


# -- export ------------------------------------------------------------------------------------
@pytest.fixture
def second_db(tmp_path_factory):
    """A second fresh database of the same edition (on PostgreSQL a schema of its own)."""
    made = module_database(tmp_path_factory, "t_templates_second")
    yield made
    drop_module_database(made, "t_templates_second")


def test_export_is_deterministic_and_round_trips_through_a_fresh_database(db, second_db):
    apply(db, "auto-dealer")
    make_user(db, "boss", "sales_director")
    apply(db, tpl(text="""
        name: more
        fields:
          - {model: crm.customer, name: x_tier, type: selection, selection: [normal, vip],
             required: true, default: normal}
          - {model: crm.opportunity, name: x_referrer, type: many2one, relation: crm.customer}
          - {model: crm.opportunity, name: x_margin, type: decimal, default: "2.5"}
        roles:
          - code: sales_rep
            permissions: {crm.customer: [read, write], crm.opportunity: [read]}
            domains: {crm.customer: [["in_pool", "=", false]]}
            fields: {crm.customer: {x_mileage: hidden}}
        workflows:
          - model: crm.opportunity
            transitions:
              - {action: reopen, from: lost, to: qualified, label: Reopen as qualified, triggers: []}
        approvals:
          - {name: boss-says, model: crm.opportunity, action: reopen, fallback: user, fallback_user: boss,
             allow_self_approval: true, remind_after_hours: 4, levels: [{approvers: {type: user, logins: [boss]}}]}
    """))
    first = export(db, name="dealer")
    assert export(db, name="dealer") == first
    assert "created_at" not in first and "\nname: dealer\n" in "\n" + first
    data = yaml.safe_load(first)
    assert [(f["model"], f["name"]) for f in data["fields"]] == sorted((f["model"], f["name"])
                                                                       for f in data["fields"])
    assert [r["code"] for r in data["roles"]] == sorted(r["code"] for r in data["roles"])
    assert "admin" not in [r["code"] for r in data["roles"]]
    make_user(second_db, "boss", "sales_director")
    changes = apply(second_db, data)
    assert "add field crm.customer.x_vin" in changes
    assert export(second_db, name="dealer") == first
    assert apply(second_db, data) == []
    # the export of an untouched database applies to itself as no change
    assert apply(db, yaml.safe_load(first)) == []


# -- the command line -------------------------------------------------------------------------
def keel(capsys, db, *args):
    code = cli.main(["--db", db.url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_list_apply_dry_run_and_export(db, capsys, tmp_path):
    code, out, err = keel(capsys, db, "template", "list")
    assert code == 0 and "auto-dealer" in out and "trading" in out and "crm_base" in out
    code, out, err = keel(capsys, db, "template", "list", "--json")
    rows = json.loads(out)
    assert {"name": "trading", "label": "Trading and distribution (商贸流通)", "addon": "crm_base"} in rows
    code, out, err = keel(capsys, db, "template", "apply", "auto-dealer", "--dry-run")
    assert code == 0 and "add field crm.customer.x_vin" in out.splitlines() and "nothing written" in err
    assert "x_vin" not in columns(db)
    code, out, err = keel(capsys, db, "template", "apply", "auto-dealer")
    assert code == 0 and "create role showroom_rep" in out.splitlines() and "x_vin" in columns(db)
    code, out, err = keel(capsys, db, "template", "apply", "auto-dealer")
    assert (code, out) == (0, "nothing to change\n")
    target = tmp_path / "out.yaml"
    code, out, err = keel(capsys, db, "template", "export", "-o", str(target), "--name", "mine")
    assert code == 0 and yaml.safe_load(target.read_text(encoding="utf-8"))["name"] == "mine"
    first = target.read_bytes()
    assert keel(capsys, db, "template", "export", "-o", str(target), "--name", "mine")[0] == 0
    assert target.read_bytes() == first
    code, out, err = keel(capsys, db, "template", "apply", str(target))
    assert (code, out) == (0, "nothing to change\n")


def test_cli_refusals(db, capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(FULL.replace("role: showroom_rep", "role: x"), encoding="utf-8")
    code, out, err = keel(capsys, db, "template", "apply", str(bad))
    assert code == 1 and out == ""
    assert err.strip() == "error: approvals[0].levels[1].approvers.role: unknown role 'x'"
    bad.write_text("name: [unclosed\n", encoding="utf-8")
    code, out, err = keel(capsys, db, "template", "apply", str(bad))
    assert code == 1 and "not valid YAML" in err and len(err.strip().splitlines()) == 1
    code, out, err = keel(capsys, db, "template", "apply", "no-such-template")
    assert code == 1 and "no template 'no-such-template'" in err
    make_user(db, "rep", "sales_rep")
    code, out, err = keel(capsys, db, "--user", "rep", "template", "apply", "trading")
    assert code == 1 and "only administrators" in err
    code, out, err = keel(capsys, db, "--user", "rep", "template", "export", "-o", str(tmp_path / "x.yaml"))
    assert code == 1 and "only administrators" in err
    assert keel(capsys, db, "template", "export")[0] == 2  # -o is required: a usage error
    assert keel(capsys, db, "template", "apply", "trading", "--force")[0] == 2
