"""Applying a template: one transaction, all or nothing, idempotent.

Order: user-defined fields (real columns), roles, sequences, workflows,
approval policies — each part may name what the parts before it brought.
Everything is checked first (:mod:`.check`); the writes then go through the
kernel's services and the model API as the acting administrator, so access
rules, the kernel's own checks (which name the same key paths) and the
audit log apply as for any other change. DDL is transactional on
PostgreSQL and, with Keel's explicit transactions, on SQLite: a refusal at
the template's last key leaves nothing of its first keys.

Idempotent: each item is compared with what the database holds by its key
(a field by model and name, a role by code, a sequence by model and field,
a transition by model and action, a field mode by model, state and field,
a policy by name) and written only when it differs; applying a template
twice changes nothing the second time. A template adds and changes, it
deletes only where its item is a whole definition: a role (its
permissions and field rules), a policy, and a workflow item that gives
``states`` (the model's whole matrix).

A dry run does all of this in a transaction it then rolls back: the list of
changes is exactly what applying would do, and nothing is kept.
"""
from .. import custom_fields
from ..errors import AccessDenied, UserInputError
from ..orm.env import Env
from ..security.roles import apply_grants
from ..workflow import data as workflow_data
from .check import TemplateError, check
from .state import role_state, workflow_state


class _DryRun(Exception):
    def __init__(self, changes):
        super().__init__("dry run")
        self.changes = changes


def apply(db, template, dry_run=False, user="admin", source="cli"):
    """Apply ``template`` (a parsed dict, or a name/path for
    :func:`core.templates.load`) acting as ``user``, who must be an
    administrator. Returns the changes, one text each (``add field
    crm.customer.x_vin``…); with ``dry_run`` the same list, nothing kept.
    ``source`` is what the audit log records (``cli``, ``api``, ``web``)."""
    try:
        with db.transaction() as conn:
            changes = apply_in(db, conn, template, user=user, source=source)
            if dry_run:
                raise _DryRun(changes)
        return changes
    except _DryRun as done:
        return done.changes
    finally:
        if dry_run:
            db.set_registry(None)  # a registry built inside the rolled-back transaction


def apply_in(db, conn, template, user="admin", source="cli"):
    """:func:`apply` inside the caller's transaction."""
    if isinstance(template, str):
        from .source import load
        template = load(db, conn, template)
    env = _admin_env(db, conn, user, source)
    plan = check(env, template)
    try:
        return _Applier(db, conn, env, user).run(plan)
    except Exception as exc:
        db.set_registry(None)  # it may hold fields the rollback takes away
        if isinstance(exc, UserInputError) and not isinstance(exc, TemplateError):
            raise TemplateError(str(exc), exc.details) from None
        raise


def _admin_env(db, conn, user, source="cli"):
    """An ``Env`` of ``user``, who must be an administrator."""
    registry = db.registry(conn)
    uid = user if isinstance(user, int) else db.resolve_user(conn, registry, user)
    env = Env(db, conn, registry, uid, context={"source": source})
    if not env.access.unrestricted:
        login = env.user_values().get("login", user)
        raise AccessDenied(f"only administrators may apply templates; {login} is not one",
                           {"operation": "customize"})
    return env


class _Applier:
    def __init__(self, db, conn, env, user):
        self.db, self.conn, self.env, self.user = db, conn, env, user
        self.changes = []

    def run(self, plan):
        for i, item in enumerate(plan["fields"]):
            self.field(item, f"fields[{i}]")
        if self.db.registry(self.conn) is not self.env.registry:
            self.env = self.env.with_registry(self.db.registry(self.conn))
        for i, item in enumerate(plan["roles"]):
            self.role(item, f"roles[{i}]")
        for item in plan["sequences"]:
            self.sequence(item)
        for i, item in enumerate(plan["workflows"]):
            self.workflow(item, f"workflows[{i}]")
        for i, item in enumerate(plan["approvals"]):
            self.approval(item, f"approvals[{i}]")
        return self.changes

    # -- fields ------------------------------------------------------------------------------
    def field(self, item, where):
        model, name = item["model"], item["name"]
        existing = {f["name"]: f for f in custom_fields.list_fields(self.db, self.conn, model)}
        current = existing.get(name)
        if current is not None:
            differs = self._field_difference(item, current)
            if differs:
                raise TemplateError(f"{where}: {model}.{name} exists with another definition "
                                    f"({differs}); remove it first or change the template")
            return
        try:
            custom_fields.add_field(
                self.db, self.conn, model, name, item["type"], label=item["label"],
                selection=item["selection"] or None, relation=item["relation"],
                required=item["required"], index=item["index"], default=item["default"],
                user=self.env.uid, source=self.env.context.get("source"))
        except UserInputError as exc:
            raise TemplateError(f"{where}.{exc.details.get('parameter', 'name')}: {exc}") from None
        except Exception as exc:
            if not hasattr(exc, "details"):
                raise
            raise TemplateError(f"{where}: {exc}", exc.details) from None
        self.changes.append(f"add field {model}.{name}")

    def _field_difference(self, item, current):
        """What differs between the template's field and the one there, or ''."""
        wanted = {"type": item["type"], "label": item["label"], "required": item["required"],
                  "indexed": item["index"], "relation": item["relation"],
                  "selection": [{"value": v, "label": lbl} for v, lbl in item["selection"]] or None}
        for key, value in wanted.items():
            if current[key] != value:
                return f"{key} {current[key]!r}, not {value!r}"
        default = item["default"]
        if default is not None:
            fdef = self.db.registry(self.conn)[item["model"]].fields[item["name"]]
            try:
                value = fdef.convert(default)
            except (ValueError, TypeError) as exc:
                return f"default {default!r}: {exc}"
            default = ("true" if value else "false") if fdef.type == "boolean" else \
                str(fdef.to_json(value))
        if current["default"] != default:
            return f"default {current['default']!r}, not {default!r}"
        return ""

    # -- roles -------------------------------------------------------------------------------
    def role(self, item, where):
        env, code = self.env, item["code"]
        roles = env["core.role"]
        found = roles.search_read([["code", "=", code]], ["name", "description"])
        wanted = item["grants"]
        if not found:
            role = roles.create({"code": code, "name": item["label"], "description": item["description"]})
            self._grant(role.id, code, wanted, where)
            self.changes.append(f"create role {code}")
            return
        row = found[0]
        values = {}
        if item["label"] and item["label"] != row["name"]:
            values["name"] = item["label"]
        if item["described"] and (item["description"] or None) != (row["description"] or None):
            values["description"] = item["description"]
        have = role_state(env, row["id"])
        changed = self._grant_changes(row["id"], code, have, wanted, where)
        if values:
            roles.browse(row["id"]).write(values)
        if values or changed:
            what = sorted(values) + changed
            self.changes.append(f"update role {code} ({', '.join(what)})")

    def _grant(self, role_id, code, grants, where):
        try:
            apply_grants(self.env, role_id, code, grants)
        except UserInputError as exc:
            raise TemplateError(f"{where}: {exc}") from None

    def _grant_changes(self, role_id, code, have, wanted, where):
        """Bring the role's permissions and field rules to ``wanted``;
        the names of what changed."""
        changed, grants = [], {k: {} for k in wanted}
        for model, ops in wanted["permissions"].items():
            new = {k: wanted[k].get(model) for k in ("permissions", "scopes", "domains", "actions")}
            old = {k: have[k].get(model) for k in ("permissions", "scopes", "domains", "actions")}
            if new != old:
                changed.append(f"permissions {model}")
                for k, v in new.items():
                    if v is not None:
                        grants[k][model] = v
        gone = sorted(set(have["permissions"]) - set(wanted["permissions"]))
        rules = {(m, f): mode for m, by in wanted["fields"].items() for f, mode in by.items()}
        old_rules = {(m, f): mode for m, by in have["fields"].items() for f, mode in by.items()}
        for (model, fname), mode in sorted(rules.items()):
            if old_rules.get((model, fname)) != mode:
                changed.append(f"field rule {model}.{fname}")
                grants["fields"].setdefault(model, {})[fname] = mode
        if any(grants.values()):
            self._grant(role_id, code, grants, where)
        if gone:
            self.env["core.permission"].search([["role_id", "=", role_id], ["model", "in", gone]]).unlink()
            changed += [f"permissions {m} removed" for m in gone]
        for model, fname in sorted(set(old_rules) - set(rules)):
            self.env["core.field_rule"].search([["role_id", "=", role_id], ["model", "=", model],
                                                ["field", "=", fname]]).unlink()
            changed.append(f"field rule {model}.{fname} removed")
        return changed

    # -- sequences ---------------------------------------------------------------------------
    def sequence(self, item):
        seqs = self.env["core.sequence"]
        row = seqs.search_read([["code", "=", item["code"]]], ["pattern"])[0]
        if row["pattern"] != item["pattern"]:
            seqs.browse(row["id"]).write({"pattern": item["pattern"]})
            self.changes.append(f"update sequence {item['code']}")

    # -- workflows ---------------------------------------------------------------------------
    def workflow(self, item, where):
        raw = {k: v for k, v in item.items() if k in workflow_data.ITEM_KEYS}
        model = raw["model"]
        try:
            wanted = workflow_data.check(self.env, raw, where)
        except UserInputError as exc:
            raise TemplateError(str(exc).replace(f"{where} ({model})", where, 1)) from None
        _Workflow(self, wanted, item["replace"], raw, where).run()

    # -- approvals ---------------------------------------------------------------------------
    def approval(self, item, where):
        env = self.env
        policies = env["core.approval_policy"]
        values = {k: item[k] for k in ("name", "label", "model", "action", "condition", "levels",
                                       "allow_self_approval", "fallback", "remind_after_hours",
                                       "escalate_after_hours", "active")}
        login = item["fallback_user"]
        values["fallback_user_id"] = env.sudo()["core.user"].search([["login", "=", login]]).id \
            if login else None
        from ..approvals import check_policy
        try:
            check_policy(env, values, where)
        except UserInputError as exc:
            raise TemplateError(str(exc)) from None
        found = policies.search_read([["name", "=", item["name"]]], list(values))
        if not found:
            policies.create(values)
            self.changes.append(f"create approval policy {item['name']}")
            return
        row = found[0]
        if row["fallback_user_id"]:
            row["fallback_user_id"] = row["fallback_user_id"]["id"]
        diff = {k: v for k, v in values.items() if row.get(k) != v}
        if diff:
            policies.browse(row["id"]).write(diff)
            self.changes.append(f"update approval policy {item['name']} ({', '.join(sorted(diff))})")


class _Workflow:
    """One ``workflows:`` item written: states, transitions (and their
    triggers), field modes — each compared by its key first."""

    def __init__(self, applier, wanted, replace, raw, where):
        self.a, self.env, self.w = applier, applier.env, wanted
        self.replace, self.raw, self.where = replace, raw, where
        self.model = wanted["model"]
        self.have = workflow_state(self.env, self.model)

    def change(self, verb, what):
        self.a.changes.append(f"{verb} workflow {self.model}: {what}")

    def run(self):
        if self.replace:
            self.states()
        self.transitions()
        self.modes()

    def states(self):
        env, model = self.env, self.model
        table = env["core.workflow_state"]
        have = {s["code"]: s for s in self.have["states"]}
        for i, s in enumerate(self.w["states"]):
            values = {"label": s.get("label") or s["code"], "sequence": s.get("sequence", 10 * (i + 1)),
                      "folded": bool(s.get("folded")), "terminal": bool(s.get("terminal"))}
            old = have.get(s["code"])
            if old is None:
                table.create({"model": model, "field": self.w["field"], "code": s["code"], **values})
                self.change("add", f"state {s['code']}")
            elif any(old[k] != v for k, v in values.items()):
                table.search([["model", "=", model], ["code", "=", s["code"]]]).write(values)
                self.change("set", f"state {s['code']}")
        listed = {s["code"] for s in self.w["states"]}
        for code in sorted(set(have) - listed):
            fname = self.w["field"]
            held = env.sudo()[model].search_count([[fname, "=", code]])
            if held:
                raise TemplateError(f"{self.where}.states: state {code!r} is left out but {held} "
                                    f"{model} record{'s are' if held != 1 else ' is'} in it")
            table.search([["model", "=", model], ["code", "=", code]]).unlink()
            self.change("remove", f"state {code}")

    def transitions(self):
        env, model = self.env, self.model
        table, triggers = env["core.workflow_transition"], env["core.workflow_trigger"]
        have = {t["action"]: t for t in self.have["transitions"]}
        raw = {t["action"]: t for t in self.raw.get("transitions") or ()}
        last = max([t["sequence"] for t in self.have["transitions"]] or [0])
        for i, t in enumerate(self.w["transitions"]):
            action = t["action"]
            given = raw[action]
            old = have.get(action)
            full = self.replace or old is None
            values = {"from_states": t["from"], "to_state": t["to"]}
            defaults = {"label": action, "roles": [], "condition": None, "required_fields": [],
                        "sequence": 10 * (i + 1) if self.replace else last + 10 * (i + 1)}
            keys = {"label": "label", "roles": "roles", "condition": "condition",
                    "required_fields": "required", "sequence": "sequence"}
            for column, key in keys.items():
                if key in given:
                    value = t.get(key)
                    values[column] = list(value or []) if column in ("roles", "required_fields") else \
                        (value or None if column == "condition" else value)
                    if column == "label" and not value:
                        values[column] = action
                elif full:
                    values[column] = defaults[column]
            new_triggers = [{"kind": k, "params": p} for k, p in t["triggers"]] \
                if ("triggers" in given or full) else None
            if old is None:
                made = table.create({"model": model, "action": action, **values})
                if new_triggers:
                    triggers.create([{**trig, "transition_id": made.id, "sequence": 10 * (j + 1)}
                                     for j, trig in enumerate(new_triggers)])
                self.change("add", f"transition {action}")
                continue
            diff = {k: v for k, v in values.items() if old[k] != v}
            trig_differs = new_triggers is not None and new_triggers != old["triggers"]
            if diff:
                table.browse(old["id"]).write(diff)
            if trig_differs:
                triggers.search([["transition_id", "=", old["id"]]]).unlink()
                if new_triggers:
                    triggers.create([{**trig, "transition_id": old["id"], "sequence": 10 * (j + 1)}
                                     for j, trig in enumerate(new_triggers)])
            if diff or trig_differs:
                self.change("set", f"transition {action}")
        if self.replace:
            listed = {t["action"] for t in self.w["transitions"]}
            for action in sorted(set(have) - listed):
                table.browse(have[action]["id"]).unlink()
                self.change("remove", f"transition {action}")

    def modes(self):
        env, model = self.env, self.model
        table = env["core.workflow_field_mode"]
        have = {(m["state"], m["field"]): m for m in self.have["modes"]}
        wanted = {(s, f): mode for s, by in self.w["field_modes"].items() for f, mode in by.items()}
        for (state, fname), mode in sorted(wanted.items()):
            old = have.get((state, fname))
            if old is None:
                table.create({"model": model, "state": state, "field": fname, "mode": mode})
                self.change("add", f"field mode {state}.{fname} {mode}")
            elif old["mode"] != mode:
                table.browse(old["id"]).write({"mode": mode})
                self.change("set", f"field mode {state}.{fname} {mode}")
        if self.replace:
            for state, fname in sorted(set(have) - set(wanted)):
                table.browse(have[(state, fname)]["id"]).unlink()
                self.change("remove", f"field mode {state}.{fname}")
