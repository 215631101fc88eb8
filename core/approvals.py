"""Approval chains: policies that hold a workflow action until approved.

A policy sits on (model, action) with an optional condition domain and
ordered levels. Running the action on a record the policy holds creates an
approval request and leaves the record as it was; the levels then run in
order (sequential across levels), each with its approvers in parallel
(the brochure's 同步/异步), and the final approval runs the transition as
the requester. Approvers are resolved to users when their level starts and
get one ``core.approval_task`` each, so "waiting on me" is one indexed
query on pending tasks.

Every step — submitted, approved, rejected, withdrawn, sent back, co-signer
added, level skipped or handed to the fallback user, reminded, escalated —
is an ``approval`` entry of the audit log on the record, so the record's
history shows the whole chain.

Concurrency: a decision locks the request row (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite has one writer at a time) and moves tasks and levels
with compare-and-set updates, so two approvers acting at the same moment
can never advance a level twice or run the transition twice — the second
gets a 409.
"""
import sqlalchemy as sa

from .errors import AccessDenied, Conflict, NotFound, UserInputError
from .i18n import _
from .security import audit

POLICY, REQUEST, TASK = "core.approval_policy", "core.approval_request", "core.approval_task"
APPROVER_TYPES = ("user", "role", "manager", "manager_up")
MODES = ("any", "all", "count")
#: the context key the service writes under; the base addon refuses any
#: other write of requests and tasks (see ``core.base``)
SERVICE = "approval_service"


# -- policies ------------------------------------------------------------------------------
def check_levels(env, levels, where="levels"):
    """The levels of a policy, checked: every mistake names its key path
    (``levels[1].approvers.role: unknown role 'x'``). Returns them
    normalised (``mode`` defaulted to ``any``)."""
    if not isinstance(levels, list) or not levels:
        raise UserInputError(f"{where}: expected a non-empty list of levels")
    out = []
    for n, level in enumerate(levels):
        at = f"{where}[{n}]"
        if not isinstance(level, dict):
            raise UserInputError(f"{at}: expected a mapping with approvers and mode")
        unknown = sorted(set(level) - {"approvers", "mode", "count", "label"})
        if unknown:
            raise UserInputError(f"{at}.{unknown[0]}: unknown key")
        approvers = level.get("approvers")
        if not isinstance(approvers, dict):
            raise UserInputError(f"{at}.approvers: expected a mapping with a type")
        kind = approvers.get("type")
        if kind not in APPROVER_TYPES:
            raise UserInputError(f"{at}.approvers.type: {kind!r} is not one of {', '.join(APPROVER_TYPES)}")
        if kind == "user":
            logins = approvers.get("logins")
            if not isinstance(logins, list) or not logins or not all(isinstance(x, str) for x in logins):
                raise UserInputError(f"{at}.approvers.logins: expected a list of logins")
            known = {r["login"] for r in env.sudo()["core.user"].search_read(
                [["login", "in", logins]], ["login"])}
            missing = [x for x in logins if x not in known]
            if missing:
                raise UserInputError(f"{at}.approvers.logins: unknown user {missing[0]!r}")
        elif kind == "role":
            role = approvers.get("role")
            if not isinstance(role, str) or not env.sudo()["core.role"].search([["code", "=", role]], limit=1):
                raise UserInputError(f"{at}.approvers.role: unknown role {role!r}")
        elif kind == "manager_up":
            up = approvers.get("levels", 1)
            if not isinstance(up, int) or isinstance(up, bool) or not 1 <= up <= 20:
                raise UserInputError(f"{at}.approvers.levels: expected a whole number 1..20, got {up!r}")
        mode = level.get("mode", "any")
        if mode not in MODES:
            raise UserInputError(f"{at}.mode: {mode!r} is not one of {', '.join(MODES)}")
        count = level.get("count")
        if mode == "count" and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise UserInputError(f"{at}.count: mode count needs a whole number ≥ 1, got {count!r}")
        out.append({**level, "mode": mode})
    return out


def check_policy(env, values, where="approvals"):
    """Checks of a policy's values as they will be stored (create or write
    of ``core.approval_policy``, templates)."""
    model = values.get("model")
    if model is not None and model not in env.registry.models:
        raise UserInputError(f"{where}.model: unknown model {model!r}")
    if "levels" in values:
        values["levels"] = check_levels(env, values["levels"], f"{where}.levels")
    condition = values.get("condition")
    if condition and model:
        try:
            env.sudo()[model].search_count(condition)
        except UserInputError as exc:
            raise UserInputError(f"{where}.condition: {exc}") from None


def _matching_policy(env, model, action, record_id):
    """The first active policy (by name) on ``model``/``action`` whose
    condition the record matches, or ``None``."""
    for policy in _policies(env).get((model, action), ()):
        condition = policy["condition"] or []
        if not condition or env.sudo()[model].search_count([["id", "=", record_id], *condition]):
            return policy
    return None


def _cached(env, name, load):
    """``load(env)``, kept per database while the registry and security
    versions stay where they were (policies, users and departments all move
    the security version when they change); a transaction that changed
    them reads them as it sees them and caches nothing."""
    db, version = env.db, getattr(env, "security_version", None)
    if version is None or db is None or env.conn.info.get("security_touched"):
        return load(env)
    key = (env.registry.version, version)
    cache = db.__dict__.setdefault("_approval_cache", {})
    found = cache.get(name)
    if found is None or found[0] != key:
        found = cache[name] = (key, load(env))
    return found[1]


def _policies(env):
    """``{(model, action): [active policy, …]}``, each list by name."""
    def load(env):
        by_action = {}
        for policy in env.sudo()[POLICY].search_read(
                [["active", "=", True]],
                ["name", "model", "action", "condition", "levels", "allow_self_approval", "fallback",
                 "fallback_user_id", "remind_after_hours", "escalate_after_hours"], order="name"):
            by_action.setdefault((policy["model"], policy["action"]), []).append(policy)
        return by_action
    return _cached(env, "policies", load)


def _org(env):
    """``(departments, users)``: ``{id: (parent_id, manager_id)}`` and
    ``{id: (department_id, active)}`` — the chain of managers, in memory."""
    def load(env):
        depts = env.registry["core.department"].table
        users = env.registry["core.user"].table
        return ({r.id: (r.parent_id, r.manager_id) for r in env.conn.execute(
                    sa.select(depts.c.id, depts.c.parent_id, depts.c.manager_id))},
                {r.id: (r.department_id, r.active) for r in env.conn.execute(
                    sa.select(users.c.id, users.c.department_id, users.c.active))})
    return _cached(env, "org", load)


# -- submitting ------------------------------------------------------------------------------
def gate(record, action, comment=None):
    """Called by the workflow after every check of a transition passed and
    before it runs. ``None``: no policy holds it (or every level was
    skipped) — run it now; else the pending request (a dict)."""
    env = record.env
    if env.context.get(SERVICE):  # the final approval running the transition
        return None
    policy = _matching_policy(env, record._name, action, record.id)
    if policy is None:
        return None
    requests = _service(env)[REQUEST]
    if requests.search([["model", "=", record._name], ["record_id", "=", record.id],
                        ["action", "=", action], ["state", "=", "pending"]], limit=1):
        raise Conflict(f"{record._name} {record.id}: {action} is already waiting for approval",
                       {"model": record._name, "id": record.id, "action": action})
    snapshot = {k: policy[k] for k in ("id", "name", "levels", "allow_self_approval", "fallback",
                                       "remind_after_hours", "escalate_after_hours")}
    snapshot["fallback_user_id"] = (policy["fallback_user_id"] or {}).get("id")
    values = {"policy_id": policy["id"], "policy": snapshot, "model": record._name,
              "record_id": record.id, "action": action, "comment": comment,
              "requester_id": env.uid, "level": 0, "level_started_at": env.now}
    request = {**values, "id": requests.create(values).id, "state": "pending",
               "requester": env.user_values().get("name")}
    _event(env, request, "submitted", 0, comment)
    if _start_level(env, request, 0, run=False) == "approved":
        return None  # every level was skipped: the caller runs the action now
    return describe(env, request)


# -- deciding --------------------------------------------------------------------------------
def approve(env, request_id, comment=None):
    return _decide(env, request_id, "approved", comment)


def reject(env, request_id, comment=None):
    return _decide(env, request_id, "rejected", comment)


def send_back(env, request_id, comment=None):
    """退回: the current level's approver sends the request back one level;
    that level's approvers decide again."""
    return _decide(env, request_id, "returned", comment)


def withdraw(env, request_id, comment=None):
    """The requester takes a pending request back; nothing runs."""
    request = _locked(env, request_id)
    if request["requester_id"] != env.uid:
        raise AccessDenied("only the requester may withdraw a request", {"id": request_id})
    _pending(request)
    _close(env, request, "withdrawn")
    _event(env, request, "withdrawn", request["level"], comment)
    return describe(env, request_id)


def add_cosigner(env, request_id, user_id, comment=None):
    """加签: a current approver adds another user to the current level; the
    level then also waits for that user's approval."""
    request = _locked(env, request_id)
    _pending(request)
    _my_task(env, request)
    user = env.sudo()["core.user"].search_read([["id", "=", user_id], ["active", "=", True]], ["name"])
    if not user:
        raise UserInputError(f"co-signer: no active user with id {user_id!r}", {"field": "user_id"})
    tasks = _service(env)[TASK]
    if tasks.search([["request_id", "=", request_id], ["level", "=", request["level"]],
                     ["approver_id", "=", user_id], ["state", "=", "pending"]], limit=1):
        raise Conflict(f"{user[0]['name']} already approves this level", {"user_id": user_id})
    tasks.create({"request_id": request_id, "level": request["level"], "approver_id": user_id,
                  "cosigner": True})
    _notify(env, [user_id], request, "requested")
    _event(env, request, "cosigner", request["level"], comment, user=user_id)
    return describe(env, request_id)


def _decide(env, request_id, decision, comment):
    request = _locked(env, request_id)
    _pending(request)
    task = _my_task(env, request)
    level = request["level"]
    if decision == "returned" and level == 0:
        raise Conflict("the request is at its first level: reject it instead", {"id": request_id})
    tasks = _service(env)[TASK]
    table = env.registry[TASK].table
    done = env.conn.execute(sa.update(table).where(table.c.id == task["id"], table.c.state == "pending")
                            .values(state=decision, comment=comment, decided_at=env.now,
                                    version=table.c.version + 1)).rowcount
    if done != 1:  # someone decided this task meanwhile
        raise Conflict("this approval was decided meanwhile", {"id": request_id})
    _event(env, request, decision, level, comment)
    if decision == "rejected":
        _close(env, request, "rejected")
        _notify(env, [request["requester_id"]], request, "rejected", comment)
    elif decision == "returned":
        _cancel_pending(env, request_id)
        _move_level(env, request, level - 1)
    elif _level_complete(tasks, request, level):
        _cancel_pending(env, request_id)
        if level + 1 < len(request["policy"]["levels"]):
            _move_level(env, request, level + 1)
        else:
            _start_level(env, request, level + 1)  # past the last: approved, runs the action
    return describe(env, request_id)


def _level_complete(tasks, request, level):
    rows = tasks.search_read([["request_id", "=", request["id"]], ["level", "=", level],
                              ["state", "in", ["pending", "approved"]]], ["state", "cosigner"])
    if any(r["cosigner"] and r["state"] != "approved" for r in rows):
        return False  # co-signers always sign
    regular = [r for r in rows if not r["cosigner"]]
    approved = sum(r["state"] == "approved" for r in regular)
    spec = request["policy"]["levels"][level]
    if spec["mode"] == "any":
        return approved >= 1 or not regular
    if spec["mode"] == "all":
        return approved == len(regular)
    return approved >= min(spec.get("count") or 1, len(regular))


def _move_level(env, request, level):
    table = env.registry[REQUEST].table
    moved = env.conn.execute(sa.update(table).where(table.c.id == request["id"],
                                                    table.c.level == request["level"],
                                                    table.c.state == "pending")
                             .values(level=level, level_started_at=env.now,
                                     version=table.c.version + 1)).rowcount
    if moved != 1:
        raise Conflict("the request moved meanwhile", {"id": request["id"]})
    _start_level(env, request, level)


def _start_level(env, request, level, run=True):
    """Resolve the approvers of ``level`` and give each a task; a level
    with nobody follows the policy's fallback. Past the last level the
    request is approved and (``run``) the action runs as the requester.
    Returns the request's state. ``request``: the request as a dict (or
    its id)."""
    if not isinstance(request, dict):
        request = _read(env, request)
    request_id = request["id"]
    levels = request["policy"]["levels"]
    while level < len(levels):
        approvers = resolve_approvers(env, request, levels[level])
        if not approvers and request["policy"].get("fallback") == "user" \
                and request["policy"].get("fallback_user_id"):
            approvers = [request["policy"]["fallback_user_id"]]
            _event(env, request, "fallback", level, None, user=approvers[0])
        if approvers:
            _set_level(env, request, level)
            tasks = _service(env)[TASK]
            tasks.create([{"request_id": request_id, "level": level, "approver_id": uid}
                          for uid in approvers])
            _notify(env, approvers, request, "requested")
            return "pending"
        _event(env, request, "skipped", level, "no approver")
        level += 1
    _set_level(env, request, level)
    _close(env, request, "approved")
    _event(env, request, "approved_final", level, None)
    _notify(env, [request["requester_id"]], request, "granted")
    if run:
        _run_as_requester(env, request)
    return "approved"


def _set_level(env, request, level):
    if request["level"] != level:
        _service(env)[REQUEST].browse([request["id"]]).write({"level": level,
                                                              "level_started_at": env.now})
        request["level"] = level


def resolve_approvers(env, request, level):
    """User ids of a level's approvers for this request: active users only,
    the requester left out unless the policy allows self-approval."""
    spec = level["approvers"]
    kind = spec["type"]
    users = env.sudo()["core.user"]
    if kind == "user":
        ids = users.search([["login", "in", spec["logins"]], ["active", "=", True]]).ids
    elif kind == "role":
        role = env.sudo()["core.role"].search([["code", "=", spec["role"]]], limit=1)
        ids = users.search([["roles", "in", list(role.ids)], ["active", "=", True]]).ids if role else []
    else:
        up = 1 if kind == "manager" else spec.get("levels", 1)
        manager = _manager_up(env, request["requester_id"], up)
        ids = [manager] if manager else []
    if not request["policy"].get("allow_self_approval"):
        ids = [i for i in ids if i != request["requester_id"]]
    return sorted(set(ids))


def _manager_up(env, user_id, levels):
    """The ``levels``-th manager above the user: the manager of their
    department (of the department above when they manage it themselves),
    and so on up the tree; ``None`` where the chain ends."""
    departments, users = _org(env)
    dept = users.get(user_id, (None, False))[0]
    current = user_id
    seen = set()
    for _level in range(levels):
        manager = None
        while dept is not None and dept not in seen and dept in departments:
            seen.add(dept)
            dept, head = departments[dept]
            if head is not None and head != current:
                manager = head
                break
        if manager is None:
            return None
        current = manager
    return current if users.get(current, (None, False))[1] else None


def _run_as_requester(env, request):
    """The final approval: the transition runs as the requester, with the
    requester's rights, through the workflow (its checks run again)."""
    from .orm.env import Env
    from .workflow.engine import run
    requester = Env(env.db, env.conn, env.registry, request["requester_id"],
                    context={**env.context, SERVICE: request["id"]}, now=env.now)
    record = requester[request["model"]].browse([request["record_id"]])
    run(record, request["action"], request.get("comment"), through_gate=False)


# -- reading ---------------------------------------------------------------------------------
def describe(env, request):
    """A request (a dict, or its id) as the API answers it."""
    if not isinstance(request, dict):
        request = _read(env, request)
    return {"id": request["id"], "model": request["model"], "record_id": request["record_id"],
            "action": request["action"], "state": request["state"], "level": request["level"],
            "levels": len(request["policy"]["levels"]), "requester": request["requester"],
            "comment": request["comment"], "policy": request["policy"]["name"]}


def inbox(env, limit=None, offset=0):
    """``(items, total)``: the pending requests waiting on the user."""
    domain = [["approver_id", "=", env.uid], ["state", "=", "pending"],
              ["request_id.state", "=", "pending"]]
    tasks = env.sudo()[TASK]
    rows = tasks.search_read(domain, ["request_id"], order="request_id desc", limit=limit,
                             offset=offset)
    found = {r["id"]: r for r in _read_many(env, [r["request_id"]["id"] for r in rows])}
    return [describe(env, found[r["request_id"]["id"]]) for r in rows], tasks.search_count(domain)


def involved(env, state=None, limit=None, offset=0):
    """``(items, total)``: requests the user made or had a part in."""
    mine = {r["request_id"]["id"] for r in env.sudo()[TASK].search_read(
        [["approver_id", "=", env.uid]], ["request_id"])}
    domain = ["|", ["requester_id", "=", env.uid], ["id", "in", sorted(mine)]]
    if state:
        domain.append(["state", "=", state])
    requests = env.sudo()[REQUEST]
    found = requests.search(domain, order="id desc", limit=limit, offset=offset)
    return [describe(env, r) for r in _read_many(env, found.ids)], requests.search_count(domain)


def details(env, request_id):
    """A request the user may see (``NotFound`` otherwise) with its tasks
    (who, level, state, comment), for its page."""
    request = _visible_request(env, request_id)
    rows = env.sudo()[TASK].search_read([["request_id", "=", request_id]],
                                        ["level", "approver_id", "state", "cosigner", "comment",
                                         "decided_at"])
    tasks = [{**r, "approver": (r.pop("approver_id") or {}).get("name")} for r in rows]
    return {**describe(env, request), "tasks": tasks}


def _visible_request(env, request_id):
    """The request if the user made it, has a part in it, or may see its
    record; ``NotFound`` otherwise, as for a missing one."""
    request = _read(env, request_id)
    if env.access.unrestricted or _involved(env, request):
        return request
    if env.access.allowed(request["model"], "read") and \
            env[request["model"]].search([["id", "=", request["record_id"]]], limit=1):
        return request
    raise NotFound(f"approval request {request_id} does not exist", {"id": request_id})


# -- reminders -------------------------------------------------------------------------------
def remind_and_escalate(env):
    """The scheduler's job: remind approvers whose task waits longer than
    the policy's ``remind_after_hours`` (once per period), and after
    ``escalate_after_hours`` add their manager to the level."""
    import datetime as dt
    tasks = _service(env)[TASK]
    pending = tasks.search_read([["state", "=", "pending"], ["request_id.state", "=", "pending"]],
                                ["request_id", "approver_id", "reminded_at", "escalated", "level"])
    requests = {r["id"]: r for r in _read_many(env, sorted({t["request_id"]["id"] for t in pending}))}
    reminded = escalated = 0
    for task in pending:
        request = requests[task["request_id"]["id"]]
        policy = request["policy"]
        started = request["level_started_at"] or env.now
        waited = env.now - started
        remind = policy.get("remind_after_hours")
        if remind and waited >= dt.timedelta(hours=remind):
            last = task["reminded_at"]
            if last is None or env.now - last >= dt.timedelta(hours=remind):
                tasks.browse([task["id"]]).write({"reminded_at": env.now})
                _notify(env, [task["approver_id"]["id"]], request, "reminder")
                _event(env, request, "reminded", task["level"], None, user=task["approver_id"]["id"])
                reminded += 1
        escalate = policy.get("escalate_after_hours")
        if escalate and not task["escalated"] and waited >= dt.timedelta(hours=escalate):
            tasks.browse([task["id"]]).write({"escalated": True})
            manager = _manager_up(env, task["approver_id"]["id"], 1)
            if manager and not tasks.search([["request_id", "=", request["id"]],
                                             ["level", "=", task["level"]],
                                             ["approver_id", "=", manager]], limit=1):
                tasks.create({"request_id": request["id"], "level": task["level"],
                              "approver_id": manager})
                _notify(env, [manager], request, "escalated")
                _event(env, request, "escalated", task["level"], None, user=manager)
                escalated += 1
    return {"reminded": reminded, "escalated": escalated}


# -- helpers ---------------------------------------------------------------------------------
def _service(env):
    """The system context, marked as the approval service's own writes."""
    return env.sudo().with_context(**{SERVICE: True})


def _read_many(env, ids):
    """Requests as dicts, in the order of ``ids``, in one query."""
    rows = env.sudo()[REQUEST].search_read([["id", "in", list(ids)]], [
        "model", "record_id", "action", "state", "level", "policy", "comment", "requester_id",
        "level_started_at"]) if ids else []
    by_id = {}
    for row in rows:
        row["requester"] = (row["requester_id"] or {}).get("name")
        row["requester_id"] = (row["requester_id"] or {}).get("id")
        by_id[row["id"]] = row
    return [by_id[i] for i in ids if i in by_id]


def _read(env, request_id):
    rows = _read_many(env, [request_id])
    if not rows:
        raise NotFound(f"approval request {request_id} does not exist", {"id": request_id})
    return rows[0]


def _locked(env, request_id):
    """The request, its row locked until the unit of work ends."""
    table = env.registry[REQUEST].table
    env.conn.execute(sa.select(table.c.id).where(table.c.id == request_id).with_for_update())
    return _read(env, request_id)


def _pending(request):
    if request["state"] != "pending":
        raise Conflict(f"approval request {request['id']} is {request['state']}, not pending",
                       {"id": request["id"], "state": request["state"]})


def _my_task(env, request):
    rows = env.sudo()[TASK].search_read([["request_id", "=", request["id"]],
                                          ["level", "=", request["level"]],
                                          ["approver_id", "=", env.uid], ["state", "=", "pending"]],
                                         ["id"], limit=1)
    if not rows:
        if _involved(env, request):
            raise AccessDenied(f"approval request {request['id']} is not waiting on you",
                               {"id": request["id"]})
        raise NotFound(f"approval request {request['id']} does not exist", {"id": request["id"]})
    return rows[0]


def _involved(env, request):
    """Did the user make the request, or have a task in it (any level)?"""
    return request["requester_id"] == env.uid or bool(env.sudo()[TASK].search(
        [["request_id", "=", request["id"]], ["approver_id", "=", env.uid]], limit=1))


def _cancel_pending(env, request_id):
    table = env.registry[TASK].table
    env.conn.execute(sa.update(table).where(table.c.request_id == request_id,
                                            table.c.state == "pending")
                     .values(state="cancelled", version=table.c.version + 1))


def _close(env, request, state):
    table = env.registry[REQUEST].table
    closed = env.conn.execute(sa.update(table).where(table.c.id == request["id"],
                                                     table.c.state == "pending")
                              .values(state=state, decided_at=env.now,
                                      version=table.c.version + 1)).rowcount
    if closed != 1:
        raise Conflict("the request was decided meanwhile", {"id": request["id"]})
    _cancel_pending(env, request["id"])
    request["state"] = state


def _event(env, request, event, level, comment, user=None):
    data = {"request": request["id"], "event": event, "action": request["action"], "level": level}
    if comment:
        data["comment"] = comment
    if user is not None:
        data["user_id"] = user
    audit.log(env, "approval", request["model"], request["record_id"], data)


#: what approval notices say, by the event's kind (``approval.requested`` …)
NOTICES = {"requested": _("Approval requested"), "granted": _("Approval granted"),
           "rejected": _("Approval rejected"), "reminder": _("Approval reminder"),
           "escalated": _("Approval escalated")}


def _notify(env, user_ids, request, what, comment=None):
    """Tell ``user_ids`` about ``request`` (``what``: a key of
    :data:`NOTICES`) through the notification service, in each one's
    language. A notice to approvers (a request waiting on them) always
    shows in-app; the requester may opt out of theirs."""
    from .i18n import translate
    from .services import notify
    if not user_ids:
        return
    meta = env.registry[request["model"]]
    name = env.sudo()[request["model"]].browse(request["record_id"]).exists()
    name = name.display_name if name else f"{request['model']} {request['record_id']}"

    def subject(lang):
        text = f"{translate(NOTICES[what], lang)}: {translate(meta.label, lang)} {name} — " \
               f"{request['action']}"
        return f"{text} ({comment})" if comment else text
    notify.send(env, user_ids, subject, record=(request["model"], request["record_id"]),
                kind=f"approval.{what}", mandatory=what in ("requested", "reminder", "escalated"))
