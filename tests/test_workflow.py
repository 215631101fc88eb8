"""Workflow state matrices through the model API (issue 4, point 2).

The opportunity pipeline that ``crm_base`` ships (CONTRACT.md §6) drives
most tests; matrices are changed as data (rows of the workflow models),
as an admin or a template would. Every test runs on a fresh database.
"""
import threading

import pytest
import sqlalchemy as sa

from core import workflow
from core.db import Database
from core.errors import AccessDenied, Conflict, NotFound, UserInputError, ValidationError
from core.security import audit
from tests.conftest import PG_URL

PIPELINE = ["qualify", "propose", "negotiate", "win"]


@pytest.fixture
def org(db):
    """Department D1 (manager ``m1``, reps ``r1``, ``r2``), director ``x``;
    a customer of ``r1``. ``{login: id}`` plus ``"customer"``."""
    with db.unit_of_work("admin") as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        d1 = env["core.department"].create({"code": "D1", "name": "Sales East"}).id
        ids = {}
        for login, role, dept in (("m1", "sales_manager", d1), ("r1", "sales_rep", d1),
                                  ("r2", "sales_rep", d1), ("x", "sales_director", None)):
            ids[login] = env["core.user"].create({"login": login, "name": login.upper(),
                                                  "department_id": dept, "roles": [roles[role]]}).id
        env["core.department"].browse(d1).write({"manager_id": ids["m1"]})
    with db.unit_of_work("r1") as env:
        ids["customer"] = env["crm.customer"].create({"name": "Acme"}).id
    return ids


def new_opportunity(db, org, login="r1", **values):
    with db.unit_of_work(login) as env:
        return env["crm.opportunity"].create({"name": "Deal", "customer_id": org["customer"],
                                              "amount": "1000", **values}).id


def act(db, login, rid, action, comment=None):
    with db.unit_of_work(login) as env:
        return env["crm.opportunity"].browse(rid).action(action, comment)


def stage(db, rid):
    with db.unit_of_work(None) as env:
        return env["crm.opportunity"].browse(rid).stage


def transition_row(db, action, **values):
    """Change the shipped ``crm.opportunity`` transition ``action`` as data."""
    with db.unit_of_work("admin") as env:
        row = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                      ["action", "=", action]])
        row.write(values)


def field_mode(db, state, field, mode):
    with db.unit_of_work("admin") as env:
        env["core.workflow_field_mode"].create({"model": "crm.opportunity", "state": state,
                                                "field": field, "mode": mode})


# -- the shipped matrix ----------------------------------------------------------------------
def test_crm_base_seeds_the_opportunity_workflow_as_data(db):
    with db.unit_of_work("admin") as env:
        states = env["core.workflow_state"].search_read([["model", "=", "crm.opportunity"]],
                                                        ["code", "terminal", "addon"])
        transitions = env["core.workflow_transition"].search_read(
            [["model", "=", "crm.opportunity"]], ["action", "from_states", "to_state", "roles", "addon"])
        m = workflow.matrix(env, "crm.opportunity")
    assert [s["code"] for s in states] == ["new", "qualified", "proposal", "negotiation", "won", "lost"]
    assert [s["code"] for s in states if s["terminal"]] == ["won", "lost"]
    assert {s["addon"] for s in states} == {t["addon"] for t in transitions} == {"crm_base"}
    by_action = {t["action"]: (t["from_states"], t["to_state"], t["roles"]) for t in transitions}
    assert by_action == {
        "qualify": (["new"], "qualified", []), "propose": (["qualified"], "proposal", []),
        "negotiate": (["proposal"], "negotiation", []), "win": (["negotiation"], "won", []),
        "lose": (["new", "qualified", "proposal", "negotiation"], "lost", []),
        "reopen": (["lost"], "new", [])}
    assert m.field == "stage" and m.initial == "new"
    with db.unit_of_work("admin") as env:
        assert workflow.matrix(env, "crm.customer") is None


def test_every_crm_role_runs_the_pipeline_on_what_it_may_write(db, org):
    for login in ("r1", "m1", "x"):
        rid = new_opportunity(db, org)
        for action in PIPELINE:
            outcome, = act(db, login, rid, action)
            assert outcome.ran and outcome.id == rid and outcome.approval is None
        assert stage(db, rid) == "won"
    rid = new_opportunity(db, org, lost_reason="budget cut")  # losing needs its reason
    act(db, "r1", rid, "lose", "budget cut")
    assert stage(db, rid) == "lost"
    act(db, "r1", rid, "reopen")
    assert stage(db, rid) == "new"


# -- create ----------------------------------------------------------------------------------
def test_create_starts_in_the_initial_state_and_refuses_any_other(db, org):
    first = new_opportunity(db, org)
    with db.unit_of_work("r1") as env:
        opps = env["crm.opportunity"]
        assert opps.browse(first).stage == "new"
        assert opps.create({"name": "Given", "customer_id": org["customer"], "stage": "new"}).stage == "new"
    for login in ("r1", "admin", None):
        with pytest.raises(ValidationError) as err:
            with db.unit_of_work(login) as env:
                env["crm.opportunity"].create({"name": "Won at once", "customer_id": org["customer"],
                                               "stage": "won"})
        assert err.value.details["field"] == "stage" and "'won'" in err.value.message
    # an import-like batch: the bad row is named
    with pytest.raises(ValidationError) as err:
        with db.unit_of_work("r1") as env:
            env["crm.opportunity"].create([{"name": "a", "customer_id": org["customer"]},
                                           {"name": "b", "customer_id": org["customer"], "stage": "lost"}])
    assert err.value.details["row"] == 2
    with db.unit_of_work("admin") as env:
        assert env["crm.opportunity"].search_count([["stage", "in", ["won", "lost"]]]) == 0


def test_create_needs_the_fields_the_initial_state_requires(db, org):
    field_mode(db, "new", "expected_close", "required")
    with pytest.raises(ValidationError) as err:
        new_opportunity(db, org)
    assert err.value.details["fields"] == ["expected_close"]
    assert stage(db, new_opportunity(db, org, expected_close="2026-12-31")) == "new"


# -- write -----------------------------------------------------------------------------------
def test_the_state_field_is_written_only_by_actions(db, org):
    rid = new_opportunity(db, org)
    for login in ("r1", "admin", None):
        with pytest.raises(AccessDenied) as err:
            with db.unit_of_work(login) as env:
                env["crm.opportunity"].browse(rid).write({"stage": "won"})
        assert err.value.details["field"] == "stage"
        assert "win" in err.value.details["actions"] and "stage" in err.value.message
    assert stage(db, rid) == "new"


def test_per_state_readonly_fields_are_refused_in_write(db, org):
    rid = new_opportunity(db, org)
    for action in PIPELINE:
        act(db, "r1", rid, action)
    for login in ("r1", "x", "admin"):  # a business rule: administrators too
        with pytest.raises(AccessDenied) as err:
            with db.unit_of_work(login) as env:
                env["crm.opportunity"].browse(rid).write({"amount": "1"})
        assert err.value.details["field"] == "amount" and err.value.details["state"] == "won"
        assert "amount" in err.value.message and "won" in err.value.message
    with db.unit_of_work("r1") as env:
        env["crm.opportunity"].browse(rid).write({"description": "not locked"})
    with db.unit_of_work(None) as env:  # the system context (a migration) may
        env["crm.opportunity"].browse(rid).write({"amount": "2"})
    # in an open stage the amount may change
    other = new_opportunity(db, org)
    with db.unit_of_work("r1") as env:
        env["crm.opportunity"].browse(other).write({"amount": "5"})


def test_per_state_required_fields_cannot_be_emptied(db, org):
    field_mode(db, "qualified", "expected_close", "required")
    rid = new_opportunity(db, org, expected_close="2026-12-31")
    with db.unit_of_work("r1") as env:
        env["crm.opportunity"].browse(rid).write({"expected_close": None})  # in "new" it may
        env["crm.opportunity"].browse(rid).write({"expected_close": "2026-12-30"})
    act(db, "r1", rid, "qualify")
    with pytest.raises(ValidationError) as err:
        with db.unit_of_work("r1") as env:
            env["crm.opportunity"].browse(rid).write({"expected_close": None})
    assert err.value.details["fields"] == ["expected_close"] and err.value.details["state"] == "qualified"


def test_per_state_hidden_fields_are_left_out_of_read(db, org):
    field_mode(db, "new", "lost_reason", "hidden")
    rid = new_opportunity(db, org, lost_reason="early note")
    lost = new_opportunity(db, org, lost_reason="price")  # create may fill it
    act(db, "r1", lost, "lose")
    with db.unit_of_work("r1") as env:
        opps = env["crm.opportunity"]
        rows = {r["id"]: r for r in opps.browse([rid, lost]).read()}
        assert "lost_reason" not in rows[rid] and rows[lost]["lost_reason"] == "price"
        listed = {r["id"]: r for r in opps.search_read([], ["name", "lost_reason"])}
        assert set(listed[rid]) == {"id", "name"}  # the state read to decide is not added
        assert listed[lost]["lost_reason"] == "price"
        # hidden is also read-only in that state
        with pytest.raises(AccessDenied):
            opps.browse(rid).write({"lost_reason": "again"})
    with db.unit_of_work(None) as env:
        assert env["crm.opportunity"].browse(rid).read(["lost_reason"])[0]["lost_reason"] == "early note"


# -- actions: the checks in order --------------------------------------------------------------
def test_a_record_the_caller_may_not_change_is_not_found(db, org):
    rid = new_opportunity(db, org, login="r1")
    with pytest.raises(NotFound):
        act(db, "r2", rid, "qualify")
    with pytest.raises(NotFound):  # even for an action that does not exist: as a missing record
        act(db, "r2", rid, "nonsense")
    with pytest.raises(NotFound):
        act(db, "admin", 999999, "qualify")
    act(db, "m1", rid, "qualify")  # the manager of r1's department may
    assert stage(db, rid) == "qualified"


def test_an_unknown_action_is_named(db, org):
    rid = new_opportunity(db, org)
    with pytest.raises(UserInputError) as err:
        act(db, "r1", rid, "teleport")
    assert "teleport" in err.value.message and err.value.details["actions"][0] == "qualify"
    with pytest.raises(UserInputError, match="no workflow"):
        with db.unit_of_work("r1") as env:
            env["crm.customer"].browse(org["customer"]).action("qualify")


def test_an_action_from_a_wrong_state_is_a_conflict_listing_the_allowed_actions(db, org):
    rid = new_opportunity(db, org)
    with pytest.raises(Conflict) as err:
        act(db, "r1", rid, "win")
    assert err.value.details["allowed_actions"] == ["qualify", "lose"]
    assert err.value.details["state"] == "new" and "win" in err.value.message
    assert stage(db, rid) == "new"


def test_roles_not_allowed_are_refused_and_admins_may_run_everything(db, org):
    transition_row(db, "win", roles=["sales_manager"])
    rid = new_opportunity(db, org)
    for action in PIPELINE[:-1]:
        act(db, "r1", rid, action)
    with pytest.raises(AccessDenied) as err:
        act(db, "r1", rid, "win")
    assert err.value.details["roles"] == ["sales_manager"] and "win" in err.value.message
    with pytest.raises(AccessDenied):
        act(db, "x", rid, "win")  # a director is not a sales manager
    with db.unit_of_work("r1") as env:
        assert env["crm.opportunity"].browse(rid).allowed_actions() == {rid: ["lose"]}
    act(db, "m1", rid, "win")
    assert stage(db, rid) == "won"
    other = new_opportunity(db, org)
    for action in PIPELINE:
        act(db, "admin", other, action)
    with db.unit_of_work(None) as env:
        env["crm.opportunity"].create({"name": "sys", "customer_id": org["customer"]})


def test_a_roles_permission_may_list_the_actions_it_allows(db, org):
    with db.unit_of_work("admin") as env:
        rep = env["core.role"].search([["code", "=", "sales_rep"]])
        env["core.permission"].search([["role_id", "=", rep.id], ["model", "=", "crm.opportunity"]]) \
            .write({"actions": ["qualify", "lose"]})
    rid = new_opportunity(db, org)
    act(db, "r1", rid, "qualify")
    with pytest.raises(AccessDenied):
        act(db, "r1", rid, "propose")
    with db.unit_of_work("r1") as env:
        assert env["crm.opportunity"].browse(rid).allowed_actions() == {rid: ["lose"]}


def test_the_condition_domain_must_hold(db, org):
    transition_row(db, "qualify", condition=[["amount", ">", 0], ["expected_close", "!=", None]])
    rid = new_opportunity(db, org)
    with db.unit_of_work("r1") as env:
        assert env["crm.opportunity"].browse(rid).allowed_actions() == {rid: ["lose"]}
    with pytest.raises(Conflict) as err:
        act(db, "r1", rid, "qualify")
    assert err.value.details["condition"] == [["amount", ">", 0], ["expected_close", "!=", None]]
    assert "expected_close" in err.value.message
    with db.unit_of_work("r1") as env:
        env["crm.opportunity"].browse(rid).write({"expected_close": "2027-01-15"})
        assert env["crm.opportunity"].browse(rid).allowed_actions() == {rid: ["qualify", "lose"]}
    act(db, "r1", rid, "qualify")
    assert stage(db, rid) == "qualified"


def test_fields_required_by_the_transition_and_the_target_state_are_named(db, org):
    transition_row(db, "propose", required_fields=["expected_close"])
    field_mode(db, "proposal", "description", "required")
    rid = new_opportunity(db, org)
    act(db, "r1", rid, "qualify")
    with pytest.raises(ValidationError) as err:
        act(db, "r1", rid, "propose")
    assert err.value.details["fields"] == ["expected_close", "description"]
    with db.unit_of_work("r1") as env:
        env["crm.opportunity"].browse(rid).write({"expected_close": "2027-02-01", "description": "x"})
    act(db, "r1", rid, "propose")
    assert stage(db, rid) == "proposal"


def test_the_checks_run_in_their_order(db, org):
    """State before roles, roles before condition, condition before fields."""
    transition_row(db, "propose", roles=["sales_director"], condition=[["amount", ">", 10 ** 9]],
                   required_fields=["expected_close"])
    rid = new_opportunity(db, org)
    with pytest.raises(Conflict) as err:
        act(db, "r1", rid, "propose")  # still "new": the state first
    assert "allowed_actions" in err.value.details
    act(db, "r1", rid, "qualify")
    with pytest.raises(AccessDenied):
        act(db, "r1", rid, "propose")
    with pytest.raises(Conflict) as err:
        act(db, "x", rid, "propose")
    assert "condition" in err.value.details
    transition_row(db, "propose", condition=None)
    with pytest.raises(ValidationError):
        act(db, "x", rid, "propose")


# -- what a transition does ----------------------------------------------------------------
def test_a_transition_moves_the_version_and_is_audited(db, org):
    rid = new_opportunity(db, org)
    act(db, "r1", rid, "qualify", "called them")
    with db.unit_of_work("r1") as env:
        record = env["crm.opportunity"].browse(rid)
        # the transition, then its trigger's bookkeeping (crm_base: stage time, probability)
        assert record.version == 3 and record.updated_by_id.id == org["r1"]
        entries = [e for e in audit.history(env, "crm.opportunity", rid) if e["action"] == "transition"]
        # a stale write after it is a conflict
        with pytest.raises(Conflict):
            record.write({"description": "x", "version": 1})
    assert len(entries) == 1
    assert entries[0]["changes"] == {"action": "qualify", "from": "new", "to": "qualified",
                                     "comment": "called them"}
    assert entries[0]["user_id"] == org["r1"] and entries[0]["source"] == "cli"


def test_a_refused_action_changes_nothing(db, org):
    """All or nothing over several records: one record in a wrong state
    stops the others too."""
    ok = new_opportunity(db, org)
    other = new_opportunity(db, org)
    act(db, "r1", other, "qualify")
    with pytest.raises(Conflict):
        with db.unit_of_work("r1") as env:
            env["crm.opportunity"].browse([ok, other]).action("qualify")
    assert (stage(db, ok), stage(db, other)) == ("new", "qualified")
    with db.unit_of_work("r1") as env:
        outcomes = env["crm.opportunity"].browse([ok]).action("qualify")
    assert [o.ran for o in outcomes] == [True]


@pytest.mark.skipif(not PG_URL, reason="row locks: PostgreSQL (SQLite has one writer at a time)")
def test_the_same_transition_at_the_same_moment_runs_once(db, org):
    rid = new_opportunity(db, org)
    results = []

    def manager_qualifies():
        try:
            act(db, "m1", rid, "qualify")
            results.append("ran")
        except Conflict as exc:
            results.append(exc)

    with db.unit_of_work("r1") as env:
        env["crm.opportunity"].browse(rid).action("qualify")
        other = threading.Thread(target=manager_qualifies)
        other.start()
        other.join(1.0)
        assert other.is_alive()  # waiting on the row the first transition holds
    other.join(30)
    assert len(results) == 1 and isinstance(results[0], Conflict), results
    assert "meanwhile" in results[0].message
    with db.unit_of_work("admin") as env:
        entries = [e for e in audit.history(env, "crm.opportunity", rid) if e["action"] == "transition"]
    assert len(entries) == 1 and entries[0]["user_id"] == org["r1"]


def test_triggers_set_fields_create_activities_and_notify(db, org):
    with db.unit_of_work("admin") as env:
        qualify = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                          ["action", "=", "qualify"]])
        env["core.workflow_trigger"].create([
            {"transition_id": qualify.id, "kind": "set_field", "sequence": 1,
             "params": {"values": {"probability": 30, "expected_close": "$today"}}},
            {"transition_id": qualify.id, "kind": "activity", "sequence": 2,
             "params": {"summary": "Call {record} back", "user": "owner", "due_days": 2}},
            {"transition_id": qualify.id, "kind": "notify", "sequence": 3,
             "params": {"message": "{user}: {record} {from} → {to} ({comment})", "to": ["manager", "owner"]}},
        ])
    rid = new_opportunity(db, org)
    act(db, "m1", rid, "qualify", "good lead")
    with db.unit_of_work("r1") as env:
        record = env["crm.opportunity"].browse(rid)
        assert record.probability == 30 and record.expected_close == env.now.date()
        activities = env["core.activity"].search_read([], ["summary", "owner_id", "record_id", "due_date",
                                                           "done"])
        assert [(a["summary"], a["owner_id"]["id"], a["record_id"], a["done"]) for a in activities] == [
            ("Call Deal back", org["r1"], rid, False)]
        mine = env["core.notification"].search_read([], ["message", "model"])
        assert [n["message"] for n in mine] == ["M1: Deal new → qualified (good lead)"]
        env["core.notification"].browse(mine[0]["id"]).write({"is_read": True})
    with db.unit_of_work("m1") as env:  # the manager's own notification; r1's is not theirs
        assert [n["owner_id"]["id"] for n in env["core.notification"].search_read([], ["owner_id"])] \
            == [org["m1"]]
    with db.unit_of_work("r2") as env:
        assert env["core.notification"].search_count([]) == 0
        assert env["core.activity"].search_count([]) == 0


def test_the_shipped_win_and_lose_set_the_probability(db, org):
    rid = new_opportunity(db, org)
    for action in PIPELINE:
        act(db, "r1", rid, action)
    lost = new_opportunity(db, org, lost_reason="price")
    act(db, "r1", lost, "lose")
    with db.unit_of_work(None) as env:
        assert env["crm.opportunity"].browse(rid).probability == 100
        assert env["crm.opportunity"].browse(lost).probability == 0


def test_a_record_stored_without_a_state_is_in_the_initial_state(db, org):
    rid = new_opportunity(db, org)
    with db.transaction() as conn:
        conn.execute(sa.text("UPDATE crm_opportunity SET stage = NULL WHERE id = :id"), {"id": rid})
    with db.unit_of_work("r1") as env:
        assert env["crm.opportunity"].browse(rid).allowed_actions() == {rid: ["qualify", "lose"]}
    act(db, "r1", rid, "qualify")
    assert stage(db, rid) == "qualified"


def test_allowed_actions_per_record(db, org):
    a = new_opportunity(db, org)
    b = new_opportunity(db, org, lost_reason="price")
    c = new_opportunity(db, org, login="r2")
    act(db, "r1", b, "lose")
    with db.unit_of_work("r1") as env:
        assert env["crm.opportunity"].browse([a, b, c]).allowed_actions() == {
            a: ["qualify", "lose"], b: ["reopen"], c: []}  # r2's record: nothing for r1
        # no workflow on customers: only the lead pool's record action (core.record_actions)
        assert env["crm.customer"].browse(org["customer"]).allowed_actions() == {
            org["customer"]: ["release"]}


# -- matrices as data ----------------------------------------------------------------------------
def test_a_matrix_changed_in_another_process_takes_effect(db, org, db_url):
    other = Database(db_url)  # another worker, its cache warm
    try:
        rid = new_opportunity(db, org)
        with other.unit_of_work("r1") as env:
            assert env["crm.opportunity"].browse(rid).allowed_actions()[rid] == ["qualify", "lose"]
        transition_row(db, "qualify", roles=["sales_director"])
        with pytest.raises(AccessDenied):
            with other.unit_of_work("r1") as env:
                env["crm.opportunity"].browse(rid).action("qualify")
        transition_row(db, "qualify", roles=[])
        with other.unit_of_work("r1") as env:
            env["crm.opportunity"].browse(rid).action("qualify")
    finally:
        other.dispose()


def test_an_admin_gives_any_model_a_workflow_as_data(db, org, db_url):
    """No code: states and a transition on ``crm.customer.level`` (a char
    field), created by an admin, bind every process at once."""
    other = Database(db_url)
    try:
        with other.unit_of_work("r1") as env:
            env["crm.customer"].create({"name": "Before"})  # warm: no workflow yet
        with db.unit_of_work("admin") as env:
            env["core.workflow_state"].create([
                {"model": "crm.customer", "field": "level", "code": "C", "sequence": 1},
                {"model": "crm.customer", "field": "level", "code": "B", "sequence": 2},
                {"model": "crm.customer", "field": "level", "code": "A", "sequence": 3, "terminal": True}])
            env["core.workflow_transition"].create({"model": "crm.customer", "action": "upgrade",
                                                    "from_states": ["C", "B"], "to_state": "A"})
        with other.unit_of_work("r1") as env:
            customer = env["crm.customer"].create({"name": "After"})
            assert customer.level == "C"
            with pytest.raises(AccessDenied):
                customer.write({"level": "A"})
            customer.action("upgrade")
            assert customer.level == "A"
            # A is terminal: no transition left, only the lead pool's release
            assert customer.allowed_actions() == {customer.id: ["release"]}
    finally:
        other.dispose()


def test_an_edit_rolled_back_leaves_no_trace_in_the_cache(db, org):
    rid = new_opportunity(db, org)
    with db.unit_of_work("r1") as env:  # the cache is warm
        assert env["crm.opportunity"].browse(rid).allowed_actions() == {rid: ["qualify", "lose"]}
    with pytest.raises(RuntimeError):
        with db.unit_of_work("admin") as env:
            qualify = env["core.workflow_transition"].search([["model", "=", "crm.opportunity"],
                                                              ["action", "=", "qualify"]])
            qualify.write({"roles": ["sales_director"]})
            # the transaction sees its own change at once
            assert workflow.matrix(env, "crm.opportunity").transitions["qualify"].roles == ("sales_director",)
            raise RuntimeError("roll back")
    with db.unit_of_work("admin") as env:
        assert workflow.matrix(env, "crm.opportunity").transitions["qualify"].roles == ()
    act(db, "r1", rid, "qualify")
    assert stage(db, rid) == "qualified"


def test_upgrade_keeps_what_an_admin_changed_and_uninstall_removes_the_matrix(db, org):
    from core.installer import Installer
    transition_row(db, "win", roles=["sales_director"], label="Close the deal")
    with db.unit_of_work("admin") as env:
        env["core.workflow_field_mode"].search([["state", "=", "won"], ["field", "=", "amount"]]).unlink()
    with db.transaction() as conn:
        Installer(db, conn).upgrade(["crm_base"])
    with db.unit_of_work("admin") as env:
        win = env["core.workflow_transition"].search_read([["action", "=", "win"]], ["roles", "label"])
        assert win == [{"id": win[0]["id"], "roles": ["sales_director"], "label": "Close the deal"}]
        assert env["core.workflow_field_mode"].search_count([["state", "=", "won"],
                                                             ["field", "=", "amount"]]) == 1
    with db.transaction() as conn:
        Installer(db, conn).uninstall(["sales", "crm_base"])
    with db.unit_of_work("admin") as env:
        for model in workflow.WORKFLOW_MODELS:
            assert env[model].search_count([]) == 0, model


def test_bad_workflow_data_is_refused_naming_the_key(db):
    from core.workflow.data import check
    good = {"model": "crm.opportunity", "field": "stage", "states": [{"code": "new"}, {"code": "won"}],
            "transitions": [{"action": "win", "from": "*", "to": "won"}]}
    with db.unit_of_work(None) as env:
        assert check(env, good)["transitions"][0]["from"] == ["new", "won"]
        # CONTRACT.md §4's template item: no field, no states — it extends the matrix
        extend = check(env, {"model": "crm.opportunity", "transitions": [
            {"action": "win", "from": "negotiation", "to": "won", "roles": ["sales_manager"],
             "required": ["amount"]}], "field_modes": {"won": {"amount": "readonly"}}})
        assert extend["field"] == "stage" and extend["transitions"][0]["from"] == ["negotiation"]
        assert [s["code"] for s in extend["states"]][-2:] == ["won", "lost"]
        cases = [({"model": "nope.model"}, "unknown model"),
                 ({"field": "name2"}, "not a char or selection"),
                 ({"states": [{"code": "new"}, {"code": "flying"}]}, "'flying' is not an option"),
                 ({"transitions": [{"action": "win", "from": ["new"], "to": "gone"}]},
                  "unknown state 'gone'"),
                 ({"transitions": [{"action": "win", "from": ["new"], "to": "won", "roles": ["ghost"]}]},
                  "unknown role 'ghost'"),
                 ({"transitions": [{"action": "win", "from": ["new"], "to": "won",
                                    "triggers": [{"kind": "explode"}]}]}, r"triggers\[0\]: kind 'explode'"),
                 ({"transitions": [{"action": "win", "from": ["new"], "to": "won",
                                    "triggers": [{"kind": "set_field", "field": "stage", "value": "x"}]}]},
                  "cannot set the state field"),
                 ({"field_modes": {"won": {"amount": "invisible"}}}, "mode 'invisible'"),
                 ({"transitions": [{"action": "win", "from": ["new"], "to": "won", "role": ["x"]}]},
                  r"transitions\[0\]\.role: unknown key"),
                 ({"transitions": [{"action": "win", "from": [], "to": "won"}]}, "at least one state"),
                 ({"colour": "red"}, r"\.colour: unknown key"),
                 ({"transitions": [{"action": "win", "from": ["new"], "to": "won",
                                    "condition": [["amount", "~", 1]]}]},
                  r"transitions\[0\]\.condition: domain: unknown operator")]
        for change, reason in cases:
            with pytest.raises(UserInputError, match=reason):
                check(env, {**good, **change})
