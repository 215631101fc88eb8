"""Random actions, approvals, rejections, send-backs and withdrawals by
random personas on the ``crm.opportunity`` workflow (issue 4, "Show"),
with a two-level approval on ``win`` above 100,000.

After every step: no opportunity is in a state the matrix cannot reach, no
``win`` of a big deal ran without a fully approved request, every
transition the machine saw is in the audit log (and nothing more), and the
model's own idea of each record's state matches the database.
"""
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from core import approvals
from core.errors import KeelError
from core.security import audit

PERSONAS = ("R1", "R2", "M1", "X", "B")
ACTIONS = ("qualify", "propose", "negotiate", "win", "lose", "reopen")
BIG = 200000


@pytest.fixture
def org(db):
    with db.unit_of_work(None) as env:
        roles = {r["code"]: r["id"] for r in env["core.role"].search_read([], ["code"])}
        d1 = env["core.department"].create({"code": "D1", "name": "华东销售部"}).id
        users = env["core.user"]

        def user(login, dept, role):
            return users.create({"login": login, "name": login, "department_id": dept,
                                 "roles": [roles[role]] if role else []}).id
        u = {"R1": user("r1", d1, "sales_rep"), "R2": user("r2", d1, "sales_rep"),
             "M1": user("m1", d1, "sales_manager"), "X": user("x", None, "sales_director"),
             "B": user("b", None, None)}
        env["core.department"].browse([d1]).write({"manager_id": u["M1"]})
        env["core.approval_policy"].create({
            "name": "big-deal", "model": "crm.opportunity", "action": "win",
            "condition": [["amount", ">", 100000]],
            "levels": [{"approvers": {"type": "manager"}, "mode": "any"},
                       {"approvers": {"type": "role", "role": "sales_director"}, "mode": "all"}]})
        customers = {rep: env["crm.customer"].create({"name": f"{rep} 客户", "owner_id": u[rep],
                                                      "department_id": d1}).id for rep in ("R1", "R2")}
        from core.workflow.matrix import matrix
        m = matrix(env, "crm.opportunity")
        graph = {t.action: (set(t.from_states), t.to_state) for t in m.transitions.values()}
        initial = m.initial
    reachable, todo = {initial}, [initial]
    while todo:
        state = todo.pop()
        for sources, target in graph.values():
            if state in sources and target not in reachable:
                reachable.add(target)
                todo.append(target)
    return {"db": db, "users": u, "customers": customers, "graph": graph, "initial": initial,
            "reachable": reachable}


def test_random_actions_and_approvals_keep_the_workflow_sound(org):
    db, users = org["db"], org["users"]

    class Pipeline(RuleBasedStateMachine):
        opportunities = Bundle("opportunities")
        requests = Bundle("requests")

        @initialize()
        def start(self):
            self.state = {}          # id -> the state the machine expects
            self.transitions = {}    # id -> transitions the machine saw run
            self.owner = {}
            self.big = set()

        @rule(target=opportunities, owner=st.sampled_from(["R1", "R2"]),
              big=st.booleans())
        def create(self, owner, big):
            with db.unit_of_work(users[owner]) as env:
                rid = env["crm.opportunity"].create({
                    "name": f"{owner} 商机", "customer_id": org["customers"][owner],
                    "amount": BIG if big else 5000}).id
            self.state[rid] = org["initial"]
            self.owner[rid] = owner
            self.transitions[rid] = 0
            if big:
                self.big.add(rid)
            return rid

        @rule(target=requests, rid=opportunities)
        def advance(self, rid):
            """The owner moves the deal one step along the happy path."""
            step = {"new": "qualify", "qualified": "propose", "proposal": "negotiate",
                    "negotiation": "win", "lost": "reopen"}.get(self.state[rid])
            if step is None:
                return None
            return self._run(self.owner[rid], rid, step)

        @rule(target=requests, rid=opportunities, data=st.data())
        def act(self, rid, data):
            # mostly an action the record's state allows, by its owner or
            # their manager, so that deals reach negotiation and win
            possible = [a for a, (sources, _) in sorted(org["graph"].items())
                        if self.state[rid] in sources]
            action = data.draw(st.sampled_from(possible) | st.sampled_from(ACTIONS)
                               if possible else st.sampled_from(ACTIONS))
            who = data.draw(st.sampled_from(["R1", "R2", "M1"]) | st.sampled_from(PERSONAS))
            return self._run(who, rid, action)

        def _run(self, who, rid, action):
            try:
                with db.unit_of_work(users[who]) as env:
                    [outcome] = env["crm.opportunity"].browse([rid]).action(action)
            except KeelError:
                return None  # refused: nothing changed (checked by the invariants)
            sources, target = org["graph"][action]
            assert self.state[rid] in sources, (rid, self.state[rid], action)
            if outcome.ran:
                assert not (action == "win" and rid in self.big), "a big win ran unapproved"
                self.state[rid] = target
                self.transitions[rid] += 1
                return None
            assert action == "win" and rid in self.big
            return (outcome.approval["id"], rid)

        @rule(who=st.sampled_from(["M1", "X", "X", "R1", "R2", "B"]), held=requests,
              decision=st.sampled_from(["approve", "approve", "reject", "return", "withdraw"]))
        def decide(self, who, held, decision):
            if held is None:
                return
            request_id, rid = held
            fn = {"approve": approvals.approve, "reject": approvals.reject,
                  "return": approvals.send_back, "withdraw": approvals.withdraw}[decision]
            try:
                with db.unit_of_work(users[who]) as env:
                    after = fn(env, request_id, f"{who} {decision}")
            except KeelError:
                return
            if after["state"] == "approved":
                sources, target = org["graph"]["win"]
                assert self.state[rid] in sources
                self.state[rid] = target
                self.transitions[rid] += 1

        @invariant()
        def sound(self):
            if not getattr(self, "state", None):
                return
            with db.unit_of_work(None) as env:
                rows = {r["id"]: r["stage"] for r in env["crm.opportunity"].browse(
                    sorted(self.state)).read(["stage"])}
                assert rows == self.state
                assert set(rows.values()) <= org["reachable"]
                for rid in self.state:
                    entries = audit.history(env, "crm.opportunity", rid)
                    moved = [e for e in entries if e["action"] == "transition"]
                    assert len(moved) == self.transitions[rid], (rid, moved)
                    wins = sum(1 for e in moved if e["changes"]["action"] == "win")
                    if rid in self.big:
                        finals = sum(1 for e in entries if e["action"] == "approval"
                                     and e["changes"]["event"] == "approved_final")
                        assert wins <= finals, f"{rid}: {wins} wins, {finals} full approvals"

    Pipeline.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                          suppress_health_check=list(HealthCheck))
    Pipeline.TestCase().runTest()
