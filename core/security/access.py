"""Access rules of one user in one unit of work, compiled to SQL.

Loaded once per unit of work (three small queries): the permissions of the
user's roles, the field rules, the department tree. The model API asks:

* ``check(meta, op)`` — may the user ``op`` (read, create, write, delete,
  export, import, approve) records of this model at all? (403 otherwise)
* ``predicate(meta, table, mode)`` — the SQL condition a row must meet to be
  visible (``mode="read"``) or changeable (``"write"``): the union of the
  user's role scopes (own, department, department tree, all, each with its
  optional extra domain), records shared with the user or their department,
  and, for models that follow a parent (``access_parent``), the parent's
  condition. ``None`` means no restriction (system context, administrators).
* ``hidden(meta)`` / ``readonly(meta)`` — field names the user may not see
  or change.

Nothing is filtered in Python: the condition goes into the WHERE clause of
every search, count, group and by-id read.
"""
import sqlalchemy as sa

from ..errors import AccessDenied

OPS = ("read", "create", "write", "delete", "export", "import", "approve")

#: Models whose changes alter someone's access rules: changing one moves the
#: security version, which drops every cached set of rules (``core.db``).
#: An addon's model counts too when declared ``Model(..., security=True)``
#: (its data feeds a ``keel_record_rules`` domain): see :func:`is_security`.
SECURITY_MODELS = frozenset({"core.user", "core.role", "core.permission", "core.field_rule",
                             "core.department", "core.share", "core.approval_policy"})


def is_security(meta):
    """Do changes to this model's records move the security version?"""
    return meta.name in SECURITY_MODELS or getattr(meta, "security", False)


class Access:
    def __init__(self, env, snapshot=None):
        self.env = env
        self.superuser = env.su
        self.admin = False
        self.perms = {}          # model -> list of permission dicts
        self._rules = {}         # model -> list of (role_id, {field: mode}) of roles with permissions
        self._tree = None
        self._cache = {}
        self._field_modes = {}   # (model, role_id) -> {field: mode}
        self.role_ids = []
        self._department = None
        self._shared_models = frozenset()  # models with a record shared with the user
        if snapshot is not None:
            (self.role_ids, self.admin, self.perms, self._field_modes, self._department,
             self._tree, self._shared_models, self._cache) = snapshot
            return
        if self.superuser:
            return
        conn, registry = env.conn, env.registry
        link = registry["core.user"].link_tables["roles"]
        roles = registry["core.role"].table
        perm = registry["core.permission"].table
        held = conn.execute(sa.select(roles.c.id, roles.c.is_admin)
                            .join(link, link.c.target_id == roles.c.id)
                            .where(link.c.source_id == env.uid)).all()
        self.role_ids = [r.id for r in held]
        self.admin = any(r.is_admin for r in held)
        if self.admin or not self.role_ids:
            return
        for row in conn.execute(sa.select(perm).where(perm.c.role_id.in_(self.role_ids))).mappings():
            self.perms.setdefault(row["model"], []).append(dict(row))
        rules = registry["core.field_rule"].table
        by_role = {}
        for row in conn.execute(sa.select(rules.c.role_id, rules.c.model, rules.c.field, rules.c.mode)
                                .where(rules.c.role_id.in_(self.role_ids))):
            by_role.setdefault((row.model, row.role_id), {})[row.field] = row.mode
        self._field_modes = by_role
        self._shared_models = self._load_shared_models()

    def _load_shared_models(self):
        """The models where something is shared with the user or their
        department: only their rules carry the sharing condition (a share
        moves the security version, so this stays true)."""
        share = self.env.registry["core.share"].table
        who = share.c.user_id == self.env.uid
        depts = self.department_ids(False)
        if depts:
            who = sa.or_(who, share.c.department_id == depts[0])
        return frozenset(self.env.conn.execute(sa.select(share.c.model).where(who).distinct()).scalars())

    def snapshot(self):
        """What ``Access(env, snapshot)`` needs to rebuild these rules with no
        query (``core.db`` caches it until the security version moves)."""
        self.department_ids(True)
        # _cache (field sets, compiled conditions, statements) depends on
        # nothing else, so units of work of the same user share it
        return (self.role_ids, self.admin, self.perms, self._field_modes, self._department,
                self._tree, self._shared_models, self._cache)

    @property
    def unrestricted(self):
        return self.superuser or self.admin

    # -- operations --------------------------------------------------------
    def allowed(self, model, op, explicit=False):
        """May the user ``op`` records of ``model``? ``explicit``: only by a
        permission of their roles, not because everyone may read the model
        (menus: the org chart is readable by all, administering it is not)."""
        if self.unrestricted:
            return True
        meta = self.env.registry.models.get(model)
        if op == "read" and not explicit and meta is not None and meta.readable_by_all:
            return True
        return any(p[f"perm_{op}"] for p in self.perms.get(model, ()))

    def check(self, meta, op):
        if not self.allowed(meta.name, op):
            raise AccessDenied(f"you may not {op} {meta.name} records",
                               {"model": meta.name, "operation": op})

    # -- fields ------------------------------------------------------------
    def _modes(self, meta, op):
        """Per role granting ``op``: the fields it hides or makes read-only."""
        return [self._field_modes.get((meta.name, p["role_id"]), {})
                for p in self.perms.get(meta.name, ()) if p[f"perm_{op}"]]

    def hidden(self, meta):
        """Fields absent for this user: secret fields, and fields every role
        that reads the model hides."""
        key = ("hidden", meta.name)
        if key not in self._cache:
            hidden = {f.name for f in meta.fields.values() if f.secret} if not self.superuser else set()
            if not self.unrestricted:
                modes = self._modes(meta, "read")
                if modes:
                    hidden |= set.intersection(*[{f for f, m in rule.items() if m == "hidden"}
                                                 for rule in modes])
            self._cache[key] = frozenset(hidden)
        return self._cache[key]

    def readonly(self, meta):
        """Fields this user may not write: hidden ones, and those every role
        that writes the model makes read-only."""
        key = ("readonly", meta.name)
        if key not in self._cache:
            readonly = set(self.hidden(meta))
            if not self.unrestricted:
                modes = self._modes(meta, "write")
                if modes:
                    readonly |= set.intersection(*[set(rule) for rule in modes])
            self._cache[key] = frozenset(readonly)
        return self._cache[key]

    # -- rows --------------------------------------------------------------
    def department_ids(self, tree):
        """The user's department (and, with ``tree``, every one below it)."""
        if self._department is None:
            self._department = (self.env.user_values().get("department_id"),)
        dept = self._department[0]
        if dept is None:
            return []
        if not tree:
            return [dept]
        if self._tree is None:
            table = self.env.registry["core.department"].table
            children = {}
            for did, parent in self.env.conn.execute(sa.select(table.c.id, table.c.parent_id)):
                children.setdefault(parent, []).append(did)
            found, todo = [], [dept]
            while todo:
                current = todo.pop()
                if current in found:
                    continue
                found.append(current)
                todo.extend(children.get(current, ()))
            self._tree = sorted(found)
        return self._tree

    def predicate(self, meta, table, mode="read"):
        """The SQL condition for rows of ``table`` (``meta``'s table or an
        alias of it), or ``None`` when nothing is restricted."""
        if self.unrestricted or (mode == "read" and meta.readable_by_all):
            return None
        if table is meta.table:  # the usual case: built once per user and rules
            key = ("predicate", meta.name, mode)
            if key not in self._cache:
                self._cache[key] = self._predicate(meta, table, mode)
            return self._cache[key]
        return self._predicate(meta, table, mode)

    def _predicate(self, meta, table, mode):
        if meta.access_parent:
            field = meta.fields[meta.access_parent]
            parent = self.env.registry[field.relation]
            alias = parent.table.alias(f"p_{parent.table.name}")
            inner = self.predicate(parent, alias, mode)
            if inner is None:
                return None
            return table.c[field.name].in_(sa.select(alias.c.id).where(inner))
        op = mode if mode in ("read", "create") else "write"
        terms = []
        for perm in self.perms.get(meta.name, ()):
            if not perm[f"perm_{op}"]:
                continue
            if perm["scope"] == "all" and not perm.get("domain"):
                return None  # one role sees every row: no condition at all (nor a subquery)
            term = self._scope(meta, table, perm["scope"])
            if perm.get("domain"):
                term = sa.and_(term, self._domain(meta, table, perm["domain"]))
            terms.append(term)
        if meta.name in self._shared_models:
            terms.append(self._shared(meta, table, mode))
        if mode == "read" and terms:
            terms.extend(self._domain(meta, table, d) for d in self.record_rules(meta))
        if not terms:
            return sa.false()
        return sa.or_(*terms)

    def record_rules(self, meta):
        """Extra domains from addons (``keel_record_rules``) whose records
        the user may read — only users whose roles read the model get them.
        Cached with the rest of the rules: what they depend on moves the
        security version (``SECURITY_MODELS``, models declared with
        ``security=True``)."""
        key = ("record_rules", meta.name)
        if key not in self._cache:
            hooks = self.env.registry.hooks
            found = []
            if hooks.has("keel_record_rules"):
                for _addon, domains in hooks.gather("keel_record_rules", env=self.env, model=meta.name):
                    found.extend(d for d in domains or () if d is not None)
            self._cache[key] = found
        return self._cache[key]

    def _scope(self, meta, table, scope):
        uid = self.env.uid
        fields = meta.fields
        if scope == "all":
            return sa.true()
        owner = "owner_id" if "owner_id" in fields else "created_by_id"
        if scope == "own":
            return table.c[owner] == uid
        depts = self.department_ids(scope == "department_tree")
        if not depts:
            return table.c[owner] == uid
        team = table.c[owner].in_(self._members(depts))
        dept_field = fields.get("department_id")
        if dept_field is not None and dept_field.relation == "core.department":
            return sa.or_(table.c.department_id.in_(depts), team)
        return team

    def _members(self, depts):
        """Ids of the users of ``depts``, as a list: a user moving department
        moves the security version, which rebuilds these rules."""
        key = ("members", tuple(depts))
        if key not in self._cache:
            users = self.env.registry["core.user"].table
            self._cache[key] = sorted(self.env.conn.execute(
                sa.select(users.c.id).where(users.c.department_id.in_(depts))).scalars())
        return self._cache[key]

    def _domain(self, meta, table, domain):
        from ..orm.domain import Query, compile_domain
        query = Query(self.env.registry, meta)
        expr = compile_domain(query, domain)
        if expr is None:
            return sa.true()
        if table is meta.table and query.from_ is meta.table:
            # no join: the condition itself, which the planner can combine
            # with the scope's (an id IN (subquery) hides it from the indexes)
            return expr
        return table.c.id.in_(sa.select(query.root.c.id).select_from(query.from_).where(expr)
                              .correlate(None))

    def _shared(self, meta, table, mode):
        share = self.env.registry["core.share"].table
        who = share.c.user_id == self.env.uid
        depts = self.department_ids(False)
        dept = depts[0] if depts else None
        if dept is not None:
            who = sa.or_(who, share.c.department_id == dept)
        cond = [share.c.model == meta.name, who]
        if mode != "read":
            cond.append(share.c.mode == "edit")
        return table.c.id.in_(sa.select(share.c.record_id).where(*cond))
