"""Recordsets: the model API — the one gate to the data.

Every way in (web, REST, CLI, import, jobs, addon code) ends here, so checks,
defaults, sequences, hooks and record versions are applied in one place.
"""
import re

import sqlalchemy as sa

from .. import sequences, workflow
from ..workflow import rules as _workflow
from ..errors import AccessDenied, Conflict, NotFound, UserInputError, ValidationError
from ..registry import MAGIC
from ..security import audit
from ..security.access import is_security
from ..services import trash as _trash
from . import read_group as _group
from .domain import Query, compile_domain, compile_order, page

#: ``env.cache`` key of ``{model: ids}`` that a search of this unit of work
#: found under the caller's record rules (forgotten on any change), for at
#: most this many ids per search
_SEEN, _SEEN_MAX = "seen", 1000

#: Kept by the kernel; a caller never gives them (``version`` on a write is
#: the version the caller read, taken out before the values are checked).
_KERNEL_COLUMNS = frozenset(MAGIC)


class Recordset:
    __slots__ = ("env", "_meta", "ids", "_prefetch")

    def __init__(self, env, meta, ids, prefetch=None):
        self.env = env
        self._meta = meta
        self.ids = tuple(ids)
        self._prefetch = prefetch

    # -- basics ----------------------------------------------------------
    @property
    def _name(self):
        return self._meta.name

    def __repr__(self):
        return f"{self._meta.name}{list(self.ids)}"

    def __len__(self):
        return len(self.ids)

    def __bool__(self):
        return bool(self.ids)

    def __iter__(self):
        prefetch = self.ids
        for rid in self.ids:
            yield Recordset(self.env, self._meta, (rid,), prefetch)

    def __eq__(self, other):
        return isinstance(other, Recordset) and other._meta is self._meta and other.ids == self.ids

    def __hash__(self):
        return hash((self._meta.name, self.ids))

    @property
    def id(self):
        return self.ensure_one().ids[0]

    def ensure_one(self):
        if len(self.ids) != 1:
            raise ValueError(f"expected one {self._meta.name} record, got {len(self.ids)}")
        return self

    def browse(self, ids):
        if isinstance(ids, int):
            ids = (ids,)
        return Recordset(self.env, self._meta, ids)

    def __getattr__(self, name):
        meta = object.__getattribute__(self, "_meta")
        field = meta.fields.get(name)
        if field is None:
            raise AttributeError(f"{meta.name} has no field or method {name!r}")
        return self._field_value(field)

    def _field_value(self, field):
        rid = self.ensure_one().ids[0]
        env = self.env
        if field.name in env.access.hidden(self._meta):
            raise AccessDenied(f"{self._meta.name}.{field.name} is hidden from you",
                               {"model": self._meta.name, "field": field.name})
        if field.column:
            key = (self._meta.name, rid)
            row = env.cache.get(key)
            if row is None:
                self._fill_cache(self._prefetch or self.ids)
                row = env.cache.get(key)
                if row is None:
                    raise NotFound(f"{self._meta.name} {rid} does not exist")
            value = row[field.name]
            if field.type == "many2one":
                return env[field.relation].browse(() if value is None else (value,))
            return value
        ids = self._x2many_ids(field, [rid])[rid]
        return env[field.relation].browse(ids)

    def _fill_cache(self, ids):
        table = self._meta.table
        cache = self.env.cache
        missing = [i for i in ids if (self._meta.name, i) not in cache]
        scope = self.env.access.predicate(self._meta, table) if missing else None
        for chunk in _chunks(missing):
            stmt = table.select().where(_ids_clause(table, chunk))
            result = self.env.conn.execute(stmt if scope is None else stmt.where(scope))
            keys = list(result.keys())
            for row in result:
                cache[(self._meta.name, row[0])] = dict(zip(keys, row))

    def _invalidate(self, ids=None):
        cache = self.env.cache
        cache.pop(_SEEN, None)  # a change may move any record out of the caller's rules
        name = self._meta.name
        for rid in self.ids if ids is None else ids:
            cache.pop((name, rid), None)

    def exists(self):
        """The records of this set that still exist."""
        if not self.ids:
            return self
        table = self._meta.table
        found = set()
        for chunk in _chunks(self.ids):
            found.update(self.env.conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk))).scalars())
        return self.browse([i for i in self.ids if i in found])

    # -- errors ----------------------------------------------------------
    def _invalid(self, fname, value, reason, row=None):
        where = f" (row {row + 1})" if row is not None else ""
        details = {"model": self._meta.name, "field": fname, "fields": [fname], "value": _repr(value),
                   "reason": reason}
        if row is not None:
            details["row"] = row + 1
        return ValidationError(f"{self._meta.name}.{fname}: {_repr(value)} {reason}{where}", details)

    def _check_field(self, fname, value, row=None):
        """The field ``fname`` may be given by the caller: it exists, and it
        is not a kernel column (unless an import keeps the original audit
        columns in the system context)."""
        field = self._meta.fields.get(fname)
        if field is None:
            raise ValidationError(
                f"{self._meta.name}: unknown field {fname!r}" + (f" (row {row + 1})" if row is not None else ""),
                {"model": self._meta.name, "field": fname, "fields": [fname], "reason": "unknown field"})
        if fname in _KERNEL_COLUMNS:
            env = self.env
            if not (env.su and env.context.get("keep_audit") and fname not in ("id", "version")):
                raise self._invalid(fname, value, "is set by the kernel", row)
        return field

    def _check(self, values):
        """Converted column values and the x2many values of a write."""
        out, relations = {}, {}
        for fname, value in values.items():
            field = self._check_field(fname, value)
            if field.readonly and not self.env.su:
                raise self._invalid(fname, value, "is read-only")
            if not field.column:
                relations[fname] = (field, value)
                continue
            try:
                out[fname] = field.convert(value)
            except ValueError as exc:
                raise self._invalid(fname, value, str(exc)) from None
        return out, relations

    def _check_still_allowed(self, op):
        """A record the caller creates or changes must stay within what the
        caller may change: a rep cannot hand a customer to a colleague by
        setting ``owner_id`` (the unit of work is then rolled back)."""
        if self.env.access.unrestricted:
            return
        # a new record: within the scope of a role granting create (a rep who
        # may add tags but not change them); a change: of one granting write
        visible = self._visible(self.ids, "create" if op == "create" else "write")
        outside = [i for i in self.ids if i not in visible]
        if outside:
            raise AccessDenied(f"{self._meta.name}: you may not {op} a record outside your own scope "
                               "(check owner and department)", {"model": self._meta.name})

    def _touch_security(self):
        if is_security(self._meta) and self.env.db is not None:
            self.env.db.touch_security(self.env.conn)
        if self._meta.name in workflow.WORKFLOW_MODELS:
            workflow.changed(self.env, self._meta.name)
        if self._meta.name == "core.view":
            from .. import viewdefs
            viewdefs.changed(self.env)
        if self._meta.name == "core.notification_channel":
            from ..services import notify
            notify.channels_changed(self.env)

    def _guard(self, op, values=None):
        """403 unless the caller may ``op`` this model (and write these fields)."""
        if self._meta.name == "core.audit":
            raise AccessDenied("the audit log cannot be changed", {"model": "core.audit"})
        access = self.env.access
        access.check(self._meta, op)
        if values:
            self._guard_fields(values)

    def _guard_fields(self, names):
        readonly = self.env.access.readonly(self._meta)
        refused = sorted(n for n in names if n in readonly and n != "version")
        if refused:
            raise AccessDenied(f"{self._meta.name}.{refused[0]} is read-only for you",
                               {"model": self._meta.name, "field": refused[0], "fields": refused})

    def _check_batch(self, rows_in, single):
        """``_check`` for many dicts: the keys are checked once per distinct
        set of keys, then only the values are converted."""
        fields = self._meta.fields
        plans = {}
        rows, relations = [], []
        for i, vals in enumerate(rows_in):
            if not isinstance(vals, dict):
                raise UserInputError(f"{self._meta.name}.create: row {i + 1} is not a dict of values")
            keys = tuple(vals)
            plan = plans.get(keys)
            if plan is None:
                plan = plans[keys] = self._plan(keys, None if single else i)
            converters, rel_names = plan
            out = {}
            try:
                for fname, convert in converters:
                    out[fname] = convert(vals[fname])
            except ValueError as exc:
                raise self._invalid(fname, vals[fname], str(exc), None if single else i) from None
            rows.append(out)
            relations.append({f: (fields[f], vals[f]) for f in rel_names} if rel_names else {})
        return rows, relations

    def _plan(self, keys, row):
        """Check a set of field names for create: ``([(name, convert)], [x2many names])``."""
        converters, rel_names = [], []
        self._guard_fields(keys)
        for fname in keys:
            field = self._check_field(fname, None, row)
            if field.column:
                converters.append((fname, field.convert))
            else:
                rel_names.append(fname)
        return converters, rel_names

    # -- create ----------------------------------------------------------
    def create(self, values):
        """Create one record (a dict) or many (a list of dicts) in one batch."""
        single = isinstance(values, dict)
        rows_in = [values] if single else list(values)
        if not rows_in:
            return self.browse(())
        meta, env = self._meta, self.env
        self._guard("create")
        rows, relations = self._check_batch(rows_in, single)
        state_required = _workflow.start(self, rows, single)  # the initial state, or refused
        self._apply_defaults(rows)
        self._apply_computed(rows)
        self._apply_sequences(rows)
        _before(env, "keel_before_create", model=meta.name, values_list=rows)
        self._check_required(rows, [*meta.required, *state_required] if state_required else None)
        keys = set()
        for row in rows:
            keys.update(row)
        # every row gets every column; what a row gives wins over the kernel's
        # columns only where _check let it (keep_audit imports)
        base = dict.fromkeys(keys)
        base.update(version=1, created_at=env.now, created_by_id=env.uid,
                    updated_at=env.now, updated_by_id=env.uid)
        for i, row in enumerate(rows):  # in place: one copy of the batch at a time
            rows[i] = {**base, **row}
        params = rows
        table = meta.table
        # SQLite has no "sentinel" to order RETURNING rows, so SQLAlchemy would
        # send one INSERT per row; its rowids grow within the statement (the
        # write lock is held), so the sorted ids are the rows in order.
        sqlite = env.conn.dialect.name == "sqlite"
        stmt = sa.insert(table).returning(table.c.id, sort_by_parameter_order=not sqlite)
        try:
            ids = env.conn.execute(stmt, params).scalars().all()
        except sa.exc.IntegrityError as exc:
            raise self._integrity(exc, params) from None
        if sqlite:
            ids.sort()
        records = self.browse(ids)
        records._check_still_allowed("create")
        self._touch_security()
        audit.record_create(env, meta, ids, params)
        if any(relations):
            records._write_relations(relations)
        _notify(env, "keel_after_create", model=meta.name, records=records)
        return records

    def _apply_defaults(self, rows):
        meta, env = self._meta, self.env
        static = {k: v for k, v in meta.defaults.items() if not callable(v)}
        dynamic = {k: v for k, v in meta.defaults.items() if callable(v)}
        fields = meta.fields
        # CONTRACT: records with owner_id get the creating user, with
        # department_id that user's department (once per batch)
        owner = fields.get("owner_id")
        if owner is not None and owner.type == "many2one" and owner.relation == "core.user" \
                and "owner_id" not in meta.defaults:
            static["owner_id"] = env.uid
        dept = fields.get("department_id")
        if dept is not None and dept.type == "many2one" and dept.relation == "core.department" \
                and "department_id" not in meta.defaults and meta.name != "core.user" \
                and any("department_id" not in row for row in rows):
            static["department_id"] = env.user_values().get("department_id")
        if static:
            for i, row in enumerate(rows):
                rows[i] = {**static, **row}
        for k, fn in dynamic.items():
            convert = fields[k].convert
            for row in rows:
                if k not in row:
                    try:
                        row[k] = convert(fn(env))
                    except ValueError as exc:
                        raise self._invalid(k, None, f"default failed: {exc}") from None

    def _apply_computed(self, rows):
        for field in self._meta.computed:
            for i, row in enumerate(rows):
                try:
                    row[field.name] = field.convert(field.compute(row))
                except ValueError as exc:
                    raise self._invalid(field.name, None, f"computed value: {exc}", i) from None

    def _apply_sequences(self, rows):
        for field in self._meta.sequenced:
            need = [row for row in rows if row.get(field.name) in (None, "")]
            if need:
                for row, value in zip(need, sequences.next_values(self.env, field.sequence, len(need))):
                    row[field.name] = value

    def _check_required(self, rows, fnames=None):
        required = self._meta.required if fnames is None else fnames
        if not required:
            return
        for i, row in enumerate(rows):
            empty = [f for f in required if row.get(f) in (None, "")]
            if empty:
                err = self._invalid(empty[0], None, "is required", i if len(rows) > 1 else None)
                err.details["fields"] = empty
                err.message = (f"{self._meta.name}: required field{'s' if len(empty) > 1 else ''} "
                               f"{', '.join(empty)} empty" + (f" (row {i + 1})" if len(rows) > 1 else ""))
                raise err

    def _integrity(self, exc, rows=()):
        """The error to raise for an ``IntegrityError`` of an insert or update
        of ``rows`` (the value dicts sent)."""
        text = str(exc.orig)
        table = self._meta.table.name
        name = self._meta.name
        for fname, field in self._meta.fields.items():
            if field.unique and re.search(rf"\b(uq_{table}_{fname}|{table}\.{fname})\b", text):
                values = [r[fname] for r in rows if r.get(fname) is not None]
                details = {"model": name, "field": fname, "fields": [fname], "reason": "unique"}
                if len(values) == 1:
                    details["value"] = _repr(values[0])
                shown = f" {details['value']}" if "value" in details else ""
                return ValidationError(f"{name}.{fname}:{shown} this value is already used "
                                       f"by another record", details)
        if "foreign key" in text.lower():
            bad = self._missing_reference(text, rows)
            if bad is not None:
                fname, value, relation = bad
                return ValidationError(
                    f"{name}.{fname}: {_repr(value)} names a {relation} that does not exist",
                    {"model": name, "field": fname, "fields": [fname], "value": _repr(value),
                     "reason": "does not exist"})
        if "foreign key" in text.lower() or "violates" in text.lower():
            return Conflict(f"{self._meta.name}: a related record does not exist or is still "
                            f"referenced: {text.splitlines()[0]}")
        return ValidationError(f"{self._meta.name}: {text.splitlines()[0]}")

    def _missing_reference(self, text, rows):
        """``(field, value, relation)`` of a many2one value of ``rows`` naming
        no record, from the constraint name (PostgreSQL) or by looking
        (SQLite, whose transaction survives the failed statement)."""
        fields = self._meta.fields
        match = re.search(r"Key \((\w+)\)=\((\d+)\) is not present", text)
        if match and match.group(1) in fields and fields[match.group(1)].type == "many2one":
            return match.group(1), int(match.group(2)), fields[match.group(1)].relation
        conn = self.env.conn
        if conn.dialect.name != "sqlite":
            return None
        for field in self._meta.many2one:
            wanted = {r[field.name] for r in rows if r.get(field.name) is not None}
            if not wanted:
                continue
            target = self.env.registry[field.relation].table
            found = set()
            for chunk in _chunks(sorted(wanted)):
                found.update(conn.execute(sa.select(target.c.id).where(target.c.id.in_(chunk))).scalars())
            missing = sorted(wanted - found)
            if missing:
                return field.name, missing[0], field.relation
        return None

    # -- relations (many2many, one2many) ----------------------------------
    def _write_relations(self, relations):
        """``relations``: one ``{field: (field, value)}`` per record of self."""
        for rid, rel in zip(self.ids, relations):
            for fname, (field, value) in rel.items():
                if field.type == "many2many":
                    self._set_links(field, rid, value)
                else:
                    self._one2many_commands(field, rid, value)

    def _set_links(self, field, rid, value):
        try:
            ids = field.convert(value)
        except ValueError as exc:
            raise self._invalid(field.name, value, str(exc)) from None
        link = self._meta.link_tables[field.name]
        conn = self.env.conn
        conn.execute(sa.delete(link).where(link.c.source_id == rid))
        if ids:
            try:
                conn.execute(sa.insert(link), [{"source_id": rid, "target_id": t} for t in dict.fromkeys(ids)])
            except sa.exc.IntegrityError:
                raise self._invalid(field.name, value, f"names a {field.relation} that does not exist") from None

    def _one2many_commands(self, field, rid, value):
        """A list of dicts: with ``id`` updates that line, with ``id`` and
        ``"_delete": true`` deletes it, without ``id`` creates one."""
        if not isinstance(value, (list, tuple)):
            raise self._invalid(field.name, value, "expected a list of line values")
        lines = self.env[field.relation]
        creates = []
        for item in value:
            if not isinstance(item, dict):
                raise self._invalid(field.name, item, "expected a dict of line values")
            item = dict(item)
            line_id = item.pop("id", None)
            if line_id is None:
                creates.append({**item, field.inverse: rid})
                continue
            line = lines.browse([line_id])
            owned = lines.search_count([["id", "=", line_id], [field.inverse, "=", rid]])
            if not owned:
                raise self._invalid(field.name, line_id, f"is not a line of {self._meta.name} {rid}")
            if item.pop("_delete", False):
                line.unlink()
            elif item:
                line.write(item)
        if creates:
            lines.create(creates)

    def _x2many_ids(self, field, ids):
        result = {i: [] for i in ids}
        conn = self.env.conn
        target = self.env.registry[field.relation]
        # linked records the caller may not see are left out
        scope = self.env.access.predicate(target, target.table)
        if field.type == "many2many":
            link = self._meta.link_tables[field.name]
            for chunk in _chunks(ids):
                stmt = (sa.select(link.c.source_id, link.c.target_id).where(link.c.source_id.in_(chunk))
                        .order_by(link.c.source_id, link.c.target_id))
                if scope is not None:
                    stmt = stmt.where(link.c.target_id.in_(sa.select(target.table.c.id).where(scope)))
                for src, tgt in conn.execute(stmt):
                    result[src].append(tgt)
        else:
            inv = target.table.c[field.inverse]
            order = compile_order(Query(self.env.registry, target), None, target.order)
            for chunk in _chunks(ids):
                stmt = sa.select(target.table.c.id, inv).where(inv.in_(chunk)).order_by(*order)
                for tid, src in conn.execute(stmt if scope is None else stmt.where(scope)):
                    result[src].append(tid)
        return result

    # -- search ----------------------------------------------------------
    def _select(self, columns, domain):
        """The FROM and WHERE of a search: the domain AND the caller's access rule."""
        access = self.env.access
        access.check(self._meta, "read")
        query = Query(self.env.registry, self._meta, access)
        where = compile_domain(query, domain)
        scope = access.predicate(self._meta, query.root)
        if scope is not None:
            where = scope if where is None else sa.and_(where, scope)
        return query, where

    def _visible(self, ids, mode="read"):
        """The ids among ``ids`` the caller may see (or change): one query,
        none at all when nothing restricts the caller."""
        table = self._meta.table
        scope = self.env.access.predicate(self._meta, table, mode)
        if scope is None:
            return set(ids)
        found = set()
        for chunk in _chunks(set(ids)):
            found.update(self.env.conn.execute(
                sa.select(table.c.id).where(table.c.id.in_(chunk), scope)).scalars())
        return found

    def _check_visible(self, mode):
        """``NotFound`` unless every record exists and the caller may see it
        (``read``) or change it (``write``) — a record outside the rules is
        answered exactly as a missing one."""
        visible = self._visible(self.ids, mode) if not self.env.access.unrestricted else None
        if visible is not None:
            hidden = [i for i in self.ids if i not in visible]
            if hidden:
                raise NotFound(f"{self._meta.name} {hidden[0]} does not exist",
                               {"model": self._meta.name, "id": hidden[0]})

    def search(self, domain=None, order=None, limit=None, offset=0):
        query, where = self._select(None, domain)
        stmt = sa.select(query.root.c.id)
        stmt = self._paged(query, stmt, where, order, limit, offset)
        ids = self.env.conn.execute(stmt).scalars().all()
        if ids and len(ids) <= _SEEN_MAX and not self.env.access.unrestricted:
            # found under the caller's rules in this unit of work: reading
            # them next (a list page) need not test the rules again
            self.env.cache.setdefault(_SEEN, {}).setdefault(self._meta.name, set()).update(ids)
        return self.browse(ids)

    def _paged(self, query, stmt, where, order, limit, offset):
        clauses = compile_order(query, order, self._meta.order)
        stmt = stmt.select_from(query.from_)
        if where is not None:
            stmt = stmt.where(where)
        return page(stmt.order_by(*clauses), limit, offset)

    def search_count(self, domain=None, limit=None):
        """How many records match; with ``limit``, counted up to ``limit``
        only (a list's "10,000+": counting a million rows would cost more
        than the page it sits on)."""
        query, where = self._select(None, domain)
        if limit is None:
            stmt = sa.select(sa.func.count()).select_from(query.from_)
            if where is not None:
                stmt = stmt.where(where)
            return self.env.conn.execute(stmt).scalar()
        inner = sa.select(query.root.c.id).select_from(query.from_)
        if where is not None:
            inner = inner.where(where)
        stmt = sa.select(sa.func.count()).select_from(inner.limit(limit).subquery())
        return self.env.conn.execute(stmt).scalar()

    def search_read(self, domain=None, fields=None, order=None, limit=None, offset=0):
        """``search`` and ``read`` in one query (plus one per relation)."""
        names, columns, x2many = self._read_plan(fields)
        query, where = self._select(None, domain)
        table = query.root
        stmt = sa.select(*[table.c[n] for n in columns])
        stmt = self._paged(query, stmt, where, order, limit, offset)
        result = self.env.conn.execute(stmt)
        keys = list(result.keys())
        rows = [dict(zip(keys, r)) for r in result]
        return self._finish_read(rows, names, x2many)

    def read(self, fields=None):
        """Values of ``fields`` (default: all) for every record, in order.

        A many2one reads as ``{"id", "name"}`` (one query per relation for
        all records), a many2many or one2many as a list of ids."""
        if not self.ids:
            return []
        self.env.access.check(self._meta, "read")
        names, columns, x2many = self._read_plan(fields)
        table = self._meta.table
        by_id = {}
        seen = self.env.cache.get(_SEEN, {}).get(self._meta.name)
        stmt = self._by_ids_statement("read", [table.c[n] for n in columns],
                                      scoped=not (seen and seen.issuperset(self.ids)))
        for chunk in _chunks(self.ids):
            result = self.env.conn.execute(stmt, {"ids": chunk})
            keys = list(result.keys())
            for row in result:
                by_id[row[0]] = dict(zip(keys, row))
        missing = [i for i in self.ids if i not in by_id]
        if missing:
            raise NotFound(f"{self._meta.name} {missing[0]} does not exist")
        return self._finish_read([by_id[i] for i in self.ids], names, x2many)

    def _read_plan(self, fields):
        meta = self._meta
        hidden = self.env.access.hidden(meta)
        if fields is None:
            names = [n for n in meta.fields if n not in hidden]
        else:
            if isinstance(fields, str):
                fields = [f.strip() for f in fields.split(",") if f.strip()]
            names = list(dict.fromkeys(["id", *fields]))
            for n in names:
                if n not in meta.fields or n in hidden:
                    raise UserInputError(f"{meta.name} has no field {n!r}")
        columns = _workflow.read_columns(self, [n for n in names if meta.fields[n].column])
        x2many = [meta.fields[n] for n in names if not meta.fields[n].column]
        return names, columns, x2many

    def _finish_read(self, rows, names, x2many):
        meta, env = self._meta, self.env
        for field in meta.many2one:
            if field.name in names:
                ids = {r[field.name] for r in rows if r[field.name] is not None}
                labels = env[field.relation].browse(sorted(ids))._display_names() if ids else {}
                for r in rows:
                    v = r[field.name]
                    r[field.name] = None if v is None else {"id": v, "name": labels.get(v)}
        if x2many and rows:
            ids = [r["id"] for r in rows]
            for field in x2many:
                linked = self._x2many_ids(field, ids)
                for r in rows:
                    r[field.name] = linked[r["id"]]
        return _workflow.hide(self, rows, names)  # fields hidden in a record's state

    def _display_names(self):
        """``{id: display name}`` in one query."""
        meta = self._meta
        rec = meta.rec_name
        table = meta.table
        names = {}
        stmt = self._by_ids_statement("names", [table.c.id, table.c[rec]])
        for chunk in _chunks(self.ids):
            for rid, label in self.env.conn.execute(stmt, {"ids": chunk}):
                names[rid] = str(label) if label is not None else f"{meta.name},{rid}"
        return names

    def _by_ids_statement(self, purpose, columns, scoped=True):
        """``SELECT columns WHERE id IN :ids`` and, when ``scoped``, the
        caller's read rule; built once per registry (or per unit of work
        for a restricted caller)."""
        key = (purpose, self._meta.name, tuple(c.name for c in columns))
        table = self._meta.table
        scope = self.env.access.predicate(self._meta, table) if scoped else None
        statements = self.env.registry.statements if scope is None else self.env.access._cache
        stmt = statements.get(key)
        if stmt is None:
            stmt = sa.select(*columns).where(table.c.id.in_(sa.bindparam("ids", expanding=True)))
            if scope is not None:
                stmt = stmt.where(scope)
            statements[key] = stmt
        return stmt

    @property
    def display_name(self):
        return self._display_names().get(self.id)

    # -- write -----------------------------------------------------------
    def write(self, values):
        """Update every record with ``values``. A ``version`` key is the
        version the caller read: if a record has changed since, nothing is
        written and ``Conflict`` is raised."""
        if not isinstance(values, dict):
            raise UserInputError(f"{self._meta.name}.write expects a dict of values")
        if not self.ids:
            return True
        meta, env = self._meta, self.env
        self._guard("write", values)
        self._check_visible("write")
        values = dict(values)
        expected = values.pop("version", None)
        converted, relations = self._check(values)
        _workflow.check_write(self, converted, relations)  # state field, per-state field modes
        per_record = self._recompute_for_write(converted) if meta.computed else None
        _before(env, "keel_before_write", model=meta.name, records=self, values=converted)
        self._check_required([converted], [f for f in meta.required if f in converted])
        table = meta.table
        if expected is not None:
            try:
                expected = int(expected)
            except (TypeError, ValueError):
                raise self._invalid("version", expected, "expected the integer version you read") from None
            if len(set(self.ids)) > 1:
                # all or none: refuse before touching any record
                stale = env.conn.execute(sa.select(sa.func.count()).where(
                    table.c.id.in_(self.ids), table.c.version != expected)).scalar()
                if stale:
                    self._raise_write_mismatch(expected)
        old = self._old_values(audit.fields_to_read(meta, converted))
        stmt, params = self._update_statement(sorted(converted), expected is not None)
        params.update({f"_v_{k}": v for k, v in converted.items()}, _now=env.now, _uid=env.uid,
                      _version=expected)
        try:
            count = env.conn.execute(stmt, params).rowcount
        except sa.exc.IntegrityError as exc:
            raise self._integrity(exc, [converted]) from None
        if count != len(set(self.ids)):
            self._raise_write_mismatch(expected)
        if per_record:
            names = sorted(next(iter(per_record.values())))
            env.conn.execute(sa.update(table).where(table.c.id == sa.bindparam("_id"))
                             .values({n: sa.bindparam(f"_v_{n}") for n in names}),
                             [{"_id": rid, **{f"_v_{n}": vals[n] for n in names}}
                              for rid, vals in per_record.items()])
        if per_record:
            new = {rid: {**converted, **vals} for rid, vals in per_record.items()}
        else:
            new = {rid: converted for rid in set(self.ids)}
        self._check_still_allowed("write")
        self._touch_security()
        audit.record_write(env, meta, sorted(set(self.ids)), old, new)
        self._invalidate()
        if relations:
            self._write_relations([relations] * len(self.ids))
        _notify(env, "keel_after_write", model=meta.name, records=self, values=converted)
        return True

    def _old_values(self, columns):
        """``{id: {column: value}}`` before a write (for the audit log)."""
        if not columns:
            return {}
        table = self._meta.table
        stmt = self._by_ids_statement("old", [table.c.id] + [table.c[c] for c in sorted(columns)],
                                      scoped=False)
        old = {}
        for chunk in _chunks(set(self.ids)):
            result = self.env.conn.execute(stmt, {"ids": chunk})
            keys = list(result.keys())
            for row in result:
                old[row[0]] = dict(zip(keys[1:], row[1:]))
        return old

    def _update_statement(self, columns, check_version):
        """The UPDATE for these columns, built once per registry and reused:
        ``(statement, params holding the ids)``."""
        single = len(self.ids) == 1
        key = ("update", self._meta.name, tuple(columns), check_version, single)
        statements = self.env.registry.statements
        stmt = statements.get(key)
        if stmt is None:
            table = self._meta.table
            stmt = sa.update(table).where(
                table.c.id == sa.bindparam("_id") if single
                else table.c.id.in_(sa.bindparam("_ids", expanding=True)))
            if check_version:
                stmt = stmt.where(table.c.version == sa.bindparam("_version"))
            stmt = statements[key] = stmt.values(
                {**{c: sa.bindparam(f"_v_{c}") for c in columns},
                 "version": table.c.version + 1, "updated_at": sa.bindparam("_now"),
                 "updated_by_id": sa.bindparam("_uid")})
        return stmt, ({"_id": self.ids[0]} if single else {"_ids": list(self.ids)})

    def _raise_write_mismatch(self, expected):
        table = self._meta.table
        current = dict(self.env.conn.execute(
            sa.select(table.c.id, table.c.version).where(table.c.id.in_(self.ids))).all())
        missing = [i for i in self.ids if i not in current]
        if missing:
            raise NotFound(f"{self._meta.name} {missing[0]} does not exist")
        stale = [i for i in self.ids if current[i] != expected]
        raise Conflict(f"{self._meta.name} {stale[0]} was changed by someone else "
                       f"(version {current[stale[0]]}, you read {expected}); reload and try again",
                       {"id": stale[0], "version": current[stale[0]], "expected_version": expected})

    def _recompute_for_write(self, converted):
        """Stored computed fields whose inputs change: one value per record."""
        touched = [f for f in self._meta.computed if set(f.depends) & set(converted)]
        if not touched:
            return None
        ids = list(dict.fromkeys(self.ids))
        if len(ids) > 1:
            # one value per record: written by a second (executemany) UPDATE
            self._fill_cache(ids)
            per_record = {}
            for rid in ids:
                values = dict(converted)
                self.browse(rid)._recompute_for_write_one(values, touched)
                per_record[rid] = {f.name: values[f.name] for f in touched}
            return per_record
        self._recompute_for_write_one(converted, touched)
        return None

    def _recompute_for_write_one(self, converted, touched):
        self._fill_cache(self.ids)
        row = {**self.env.cache[(self._meta.name, self.id)], **converted}
        for f in touched:
            try:
                converted[f.name] = f.convert(f.compute(row))
            except ValueError as exc:
                raise self._invalid(f.name, None, f"computed value: {exc}") from None

    # -- workflow --------------------------------------------------------
    def action(self, name, comment=None, params=None):
        """Run the workflow action ``name`` on every record: a list of
        ``core.workflow.Outcome`` (the transition ran, or an approval holds
        it). The checks and their errors: ``core.workflow.engine``. A name
        the model's workflow lacks runs an addon's record action of that
        name (``core.record_actions``) with its ``params``."""
        from .. import record_actions
        registered = record_actions.of_model(self.env, self._name)
        if registered:
            m = workflow.matrix(self.env, self._name)
            if m is None or name not in m.transitions:
                return record_actions.run(self, name, comment, params)
        if params:
            raise UserInputError(f"{self._name}.{name}: unknown parameter {sorted(params)[0]!r} "
                                 "(a workflow action takes only a comment)",
                                 {"parameter": sorted(params)[0], "action": name})
        return workflow.run(self, name, comment)

    def allowed_actions(self):
        """``{id: [action, …]}``: what the caller may run on each record now
        (workflow transitions, then addons' record actions)."""
        from .. import record_actions
        return record_actions.allowed(self, workflow.allowed_actions(self))

    # -- unlink ----------------------------------------------------------
    def unlink(self):
        if not self.ids:
            return True
        meta, env = self._meta, self.env
        self._guard("delete")
        self._check_visible("write")
        _before(env, "keel_before_unlink", model=meta.name, records=self)
        table = meta.table
        # the recycle bin: the rows (and what cascades with them) are selected
        # before the DELETE and kept after it (core.services.trash)
        snapshot = _trash.capture(env, meta, self.ids) if _trash.enabled(env, meta) else None
        try:
            count = env.conn.execute(sa.delete(table).where(_ids_clause(table, self.ids))).rowcount
        except sa.exc.IntegrityError as exc:
            raise Conflict(f"{meta.name}: cannot delete {list(self.ids)}: other records still "
                           f"refer to them ({str(exc.orig).splitlines()[0]})") from None
        if count != len(set(self.ids)):
            missing = [i for i in self.ids if i not in set(self.exists().ids)]
            raise NotFound(f"{meta.name} {missing[0] if missing else ''} does not exist".strip())
        if snapshot is not None:
            _trash.keep(env, snapshot)
        else:
            _trash.forget_attachments(env, meta, self.ids)
        # ondelete cascade / set null may have changed other cached records
        self.env.cache.clear()
        self._touch_security()
        audit.record_unlink(env, meta, sorted(set(self.ids)))
        _notify(env, "keel_after_unlink", model=meta.name, ids=list(self.ids))
        return True

    # -- grouping --------------------------------------------------------
    def read_group(self, domain=None, groupby=(), aggregates=("id:count",), order=None,
                   limit=None, offset=0):
        """``[{groupby…, "field:agg"…}]`` computed by one SQL GROUP BY."""
        return _group.read_group(self, domain, groupby, aggregates, order, limit, offset)


def _before(env, hook, **kwargs):
    """Call a ``keel_before_*`` hook: a refusal propagates."""
    hooks = env.registry.hooks
    if hooks.has(hook):
        hooks.gather(hook, env=env, **kwargs)


def _notify(env, hook, **kwargs):
    """Call a ``keel_after_*`` notification hook."""
    hooks = env.registry.hooks
    if hooks.has(hook):
        hooks.notify(hook, env=env, **kwargs)


def _ids_clause(table, ids):
    """``id = x`` for one record (a plain cached statement), else ``id IN``."""
    return table.c.id == ids[0] if len(ids) == 1 else table.c.id.in_(ids)


def _chunks(ids, size=900):
    ids = list(ids)
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _repr(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
