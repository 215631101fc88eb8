"""Merging records: two (or more) records that name the same thing become
one (客户合并 — a customer entered twice).

:func:`merge` keeps one record and, in the caller's unit of work (one
transaction: all of it or nothing):

1. moves every reference to the others onto the kept one: every many2one
   of every model of the registry pointing at the model (user-defined
   ``x_`` fields included, the model's own included), every many2many link
   (both sides: links *to* the others and the others' own links), and the
   records that name a record by ``(model, id)``: attachments, shares,
   to-dos (activities), notifications and approval requests (the audit log
   and the recycle bin keep what they recorded);
2. with ``fill``, fills the kept record's empty fields from the others (in
   the order given; unique fields are left alone — the others still hold
   them until they are deleted — nor the workflow's state);
3. deletes the others through the model API: their own ``unlink`` checks,
   hooks and audit entries apply, and — since nothing refers to them any
   more — nothing cascades; they go to the recycle bin only as bare rows
   (restoring one would bring back a record without its contacts,
   follow-ups or opportunities, a duplicate again: the ``purge`` context), so the merge is final;
4. writes an audit entry ``merge`` on the kept record naming the merged ids
   and how many references moved per ``model.field``.

Only administrators merge (a merge rewrites records of many models, beyond
any role's scope). The references move by set-based ``UPDATE`` statements,
one per referencing field (no loop over records); the referencing rows get
a new ``version`` (an open form of one of them then reloads).
"""
import sqlalchemy as sa

from ..errors import AccessDenied, Conflict, NotFound, UserInputError
from ..registry import MAGIC
from ..security import audit

#: models that name a record by ``(model field, id field)`` and follow it
GENERIC = (("core.attachment", "res_model", "res_id"), ("core.share", "model", "record_id"),
           ("core.activity", "model", "record_id"), ("core.notification", "model", "record_id"),
           ("core.approval_request", "model", "record_id"))


def may_merge(env):
    """Administrators (and the system context) may merge."""
    return env.su or env.access.admin


def merge(env, model, keep_id, other_ids, fill=False):
    """Merge ``other_ids`` of ``model`` into ``keep_id``; the kept record
    (a recordset). Refusals: 403 for a non-administrator, 400 for bad ids
    (the kept one among the others, none given), 404 for a missing record,
    409 when a unique constraint of a referencing model would be broken."""
    records = env[model]  # 400 for an unknown model
    meta = records._meta
    if not may_merge(env):
        raise AccessDenied(f"only administrators may merge {model} records",
                           {"model": model, "operation": "merge"})
    keep_id = _id(keep_id, "id")
    if not isinstance(other_ids, (list, tuple)) or not other_ids:
        raise UserInputError("ids: give the list of the records to merge into this one",
                             {"parameter": "ids"})
    others = list(dict.fromkeys(_id(i, "ids") for i in other_ids))
    if keep_id in others:
        raise UserInputError(f"ids: {keep_id} is the record kept; it cannot be merged into itself",
                             {"parameter": "ids", "id": keep_id})
    every = [keep_id, *others]
    found = set(records.browse(every).exists().ids)
    missing = [i for i in every if i not in found]
    if missing:
        raise NotFound(f"{model} {missing[0]} does not exist", {"model": model, "id": missing[0]})
    moved = {}
    try:
        with env.conn.begin_nested():
            _move_many2one(env, meta, keep_id, others, moved)
            _move_many2many(env, meta, keep_id, others, moved)
            _move_generic(env, meta, keep_id, others, moved)
    except sa.exc.IntegrityError as exc:
        raise Conflict(f"{model}: cannot merge {others} into {keep_id}: "
                       f"{str(exc.orig).splitlines()[0]}", {"model": model, "ids": others}) from None
    env.cache.clear()
    values = _fill_values(env, meta, keep_id, others) if fill else {}
    # nothing refers to them any more: deleted for good, not to the recycle bin
    env.with_context(purge=True)[model].browse(others).unlink()
    kept = records.browse(keep_id)
    if values:
        kept.write(values)
    audit.log(env, "merge", model, keep_id, {"merged_ids": others, "moved": moved,
                                             "filled": sorted(values)})
    return kept


def _id(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UserInputError(f"{name}: {value!r} is not a record id", {"parameter": name})
    return value


def _bump(table):
    """The bookkeeping of a row changed by a merge."""
    return {"version": table.c.version + 1} if "version" in table.c else {}


def _move_many2one(env, meta, keep_id, others, moved):
    for other in env.registry.models.values():
        for field in other.many2one:
            if field.relation != meta.name or not field.column or field.name in MAGIC:
                continue
            table = other.table
            column = table.c[field.name]
            stmt = sa.update(table).where(column.in_(others)).values({field.name: keep_id,
                                                                      **_bump(table)})
            count = env.conn.execute(stmt).rowcount
            if count:
                moved[f"{other.name}.{field.name}"] = count
            if other is meta:  # the kept record pointed at one of the others: not at itself
                env.conn.execute(sa.update(table).where(table.c.id == keep_id, column == keep_id)
                                 .values({field.name: None}))


def _move_many2many(env, meta, keep_id, others, moved):
    for other in env.registry.models.values():
        for field in other.many2many:
            link = other.link_tables[field.name]
            sides = []
            if field.relation == meta.name:
                sides.append(("target_id", "source_id"))
            if other.name == meta.name:
                sides.append(("source_id", "target_id"))
            for side, partner in sides:
                col, pcol = link.c[side], link.c[partner]
                # a link the kept record already has is dropped, the others move
                held = sa.select(pcol).where(col == keep_id).scalar_subquery()
                env.conn.execute(sa.delete(link).where(col.in_(others), pcol.in_(held)))
                # two of the others linked to the same partner: keep one of them
                dup = link.alias("dup")
                env.conn.execute(sa.delete(link).where(col.in_(others), sa.exists().where(
                    dup.c[side].in_(others), dup.c[partner] == pcol, dup.c[side] < col)))
                count = env.conn.execute(sa.update(link).where(col.in_(others))
                                         .values({side: keep_id})).rowcount
                if count:
                    moved[f"{other.name}.{field.name}"] = moved.get(
                        f"{other.name}.{field.name}", 0) + count


def _move_generic(env, meta, keep_id, others, moved):
    for name, model_field, id_field in GENERIC:
        other = env.registry.models.get(name)
        if other is None or model_field not in other.fields or id_field not in other.fields:
            continue
        table = other.table
        where = sa.and_(table.c[model_field] == meta.name, table.c[id_field].in_(others))
        if name == "core.share":
            # one share per (model, record, user, department): the kept
            # record's own wins, then the first of the others'
            dup = table.alias("dup")
            same = sa.and_(dup.c[model_field] == meta.name, _same(dup.c.user_id, table.c.user_id),
                           _same(dup.c.department_id, table.c.department_id))
            env.conn.execute(sa.delete(table).where(where, sa.or_(
                sa.exists().where(same, dup.c[id_field] == keep_id),
                sa.exists().where(same, dup.c[id_field].in_(others), dup.c.id < table.c.id))))
        count = env.conn.execute(sa.update(table).where(where)
                                 .values({id_field: keep_id, **_bump(table)})).rowcount
        if count:
            moved[name] = count


def _same(a, b):
    """``a`` and ``b`` equal, NULL equal to NULL."""
    return sa.or_(a == b, sa.and_(a.is_(None), b.is_(None)))


def _fill_values(env, meta, keep_id, others):
    """The kept record's empty fields, filled from the first of the others
    that has a value (read in the system context: an administrator's merge)."""
    from .. import workflow
    flow = workflow.matrix(env, meta.name)
    names = [f.name for f in meta.writable_columns
             if not f.unique and not f.readonly and not f.compute and not f.secret
             and f.type != "binary" and (flow is None or f.name != flow.field)]
    table = meta.table
    rows = {r.id: r for r in env.conn.execute(
        sa.select(table.c.id, *[table.c[n] for n in names]).where(table.c.id.in_([keep_id, *others])))}
    kept = rows[keep_id]
    values = {}
    for name in names:
        if getattr(kept, name) not in (None, ""):
            continue
        for oid in others:
            value = getattr(rows[oid], name)
            if value not in (None, ""):
                values[name] = value
                break
    return values
