"""The recycle bin (issue 6 point 7): deleted records, restorable whole.

``Recordset.unlink`` calls :func:`capture` before its DELETE and
:func:`keep` after it: the rows of the records, of everything that cascades
with them (one2many children with ``ondelete="cascade"``, recursively),
their many2many links and their attachments are selected in bulk — a few
queries per model involved, whatever the number of records — and stored as
one ``core.trash`` entry per deleted record for config ``trash_days`` days.

Which models: every addon model; no ``core.*`` model (kernel bookkeeping:
sessions, audit, jobs…), unless its declaration sets ``trash = True`` on
the model meta (and an addon model may opt out with ``trash = False``).
Context ``purge=True`` deletes for good (the purge itself, ``uninstall
--purge``).

:func:`restore` re-inserts the rows whole, with their original ids and
versions, in the caller's transaction, or refuses with ``Conflict`` naming
what is in the way (the id used again, a unique value taken, a parent gone).
Administrators see and restore every entry; other users the entries of
records they owned or deleted.
"""
import base64
import datetime as dt
import decimal
import weakref

import sqlalchemy as sa

from ..errors import Conflict, NotFound
from ..i18n import _
from ..security import audit

MODEL = "core.trash"
ATTACHMENT = "core.attachment"
LISTED = ["model", "record_id", "name", "deleted_by_id", "deleted_at", "expires_at", "owner_id",
          "rows"]
_CHUNK = 900
_reverse = weakref.WeakKeyDictionary()


def trashable(meta):
    """Does deleting a record of ``meta`` move it to the bin?"""
    flag = getattr(meta, "trash", None)
    if flag is not None:
        return bool(flag)
    return not meta.name.startswith("core.") and meta.addon != "base"


def enabled(env, meta):
    return not env.context.get("purge") and MODEL in env.registry.models and trashable(meta)


def _children_of(registry, ondelete="cascade"):
    """``{model: [(child meta, many2one field)]}`` of the many2one fields
    with that ``ondelete`` (cascading children; ``set null`` references),
    computed once per registry."""
    cached = _reverse.setdefault(registry, {})
    found = cached.get(ondelete)
    if found is None:
        found = cached[ondelete] = {}
        for meta in registry.models.values():
            for field in meta.many2one:
                if field.column and getattr(field, "ondelete", None) == ondelete \
                        and field.name not in ("created_by_id", "updated_by_id"):
                    found.setdefault(field.relation, []).append((meta, field))
    return found


def _links_of(registry, name):
    """The many2many link tables with a side on model ``name``: ``(table, column)``."""
    found = []
    for meta in registry.models.values():
        for fname, table in meta.link_tables.items():
            if meta.name == name:
                found.append((table, "source_id"))
            if meta.fields[fname].relation == name:
                found.append((table, "target_id"))
    return found


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


def _encode(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _decode(column, value):
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, sa.JSON):
        return value
    if isinstance(kind, sa.DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(kind, sa.Date):
        return dt.date.fromisoformat(value)
    if isinstance(kind, sa.Time):
        return dt.time.fromisoformat(value)
    if isinstance(kind, sa.LargeBinary):
        return base64.b64decode(value)
    if isinstance(kind, sa.Numeric) and isinstance(value, str):
        return decimal.Decimal(value)
    return value


class Snapshot:
    """The rows a delete is about to remove, grouped by the deleted record
    they belong to: ``tables[root][table name] -> [row]``."""

    def __init__(self, meta):
        self.meta = meta
        self.order = []
        self.tables = {}
        self.deleted = []   # (model, {id: root}) of every record the delete removes
        self.relinks = {}   # root -> [[table, column, id, value]] the delete sets to null

    def add(self, table, root, row):
        if table.name not in self.order:
            self.order.append(table.name)
        self.tables.setdefault(root, {}).setdefault(table.name, []).append(
            {k: _encode(v) for k, v in row.items()})


def capture(env, meta, ids):
    """Select the rows of records ``ids`` of ``meta`` and of all that
    cascades with them (before the DELETE)."""
    registry, conn = env.registry, env.conn
    snap = Snapshot(meta)
    children = _children_of(registry)
    seen = {}
    level = [(meta, None, {rid: rid for rid in ids})]
    while level:
        following = []
        for m, field, roots in level:
            table = m.table
            column = table.c.id if field is None else table.c[field.name]
            found = {}
            for chunk in _chunks(sorted(roots)):
                for row in conn.execute(sa.select(table).where(column.in_(chunk))).mappings():
                    if row["id"] in seen.setdefault(m.name, set()):
                        continue
                    seen[m.name].add(row["id"])
                    root = roots[row["id"] if field is None else row[field.name]]
                    snap.add(table, root, row)
                    found[row["id"]] = root
            if not found:
                continue
            snap.deleted.append((m.name, found))
            for child, cfield in children.get(m.name, ()):
                following.append((child, cfield, found))
        level = following
    nulled = _children_of(registry, "set null")
    for model, found in list(snap.deleted):
        _capture_links(conn, registry, model, found, snap)
        for other, field in nulled.get(model, ()):
            column = other.table.c[field.name]
            for chunk in _chunks(sorted(found)):
                for rid, value in conn.execute(sa.select(other.table.c.id, column).where(column.in_(chunk))):
                    snap.relinks.setdefault(found[value], []).append(
                        [other.table.name, field.name, rid, value])
        if model != ATTACHMENT:
            att = registry[ATTACHMENT].table
            for chunk in _chunks(sorted(found)):
                stmt = sa.select(att).where(att.c.res_model == model, att.c.res_id.in_(chunk))
                for row in conn.execute(stmt).mappings():
                    snap.add(att, found[row["res_id"]], row)
    return snap


def _capture_links(conn, registry, model, found, snap):
    done = set()
    for table, side in _links_of(registry, model):
        for chunk in _chunks(sorted(found)):
            for row in conn.execute(sa.select(table).where(table.c[side].in_(chunk))).mappings():
                key = (table.name, row["source_id"], row["target_id"])
                if key not in done:
                    done.add(key)
                    snap.add(table, found[row[side]], row)


def keep(env, snap):
    """After the DELETE: remove the attachment rows of the deleted records
    and store one bin entry per record (one INSERT for all)."""
    registry = env.registry
    att = registry[ATTACHMENT].table
    for model, found in snap.deleted:
        if model != ATTACHMENT:
            for chunk in _chunks(sorted(found)):
                env.conn.execute(sa.delete(att).where(att.c.res_model == model,
                                                      att.c.res_id.in_(chunk)))
    meta = snap.meta
    config_days = keep_days(env)
    now = env.now
    rec = meta.rec_name
    entries = []
    for root, tables in snap.tables.items():
        main = next(r for r in tables[meta.table.name] if r["id"] == root)
        name = main.get(rec)
        files = sorted({r["checksum"] for r in tables.get(att.name, ()) if r.get("checksum")})
        entries.append({
            "model": meta.name, "record_id": root,
            "name": str(name)[:250] if name not in (None, "") else f"{meta.name},{root}",
            "deleted_by_id": env.uid, "deleted_at": now,
            "expires_at": now + dt.timedelta(days=config_days),
            "owner_id": main.get("owner_id") if isinstance(main.get("owner_id"), int) else None,
            "rows": sum(len(rows) for rows in tables.values()),
            "payload": {"order": [t for t in snap.order if t in tables], "tables": tables,
                        "relinks": snap.relinks.get(root, [])},
            "files": " ".join(files) or None,
            "version": 1, "created_at": now, "created_by_id": env.uid,
            "updated_at": now, "updated_by_id": env.uid})
    if entries:
        # kernel bookkeeping written directly, like the audit log: not audited
        # itself (the payload would be stored twice)
        env.conn.execute(registry[MODEL].table.insert(), entries)


def keep_days(env):
    from .files import config_of
    try:
        return max(0, int(getattr(config_of(env), "trash_days", 30)))
    except (TypeError, ValueError):
        return 30


def forget_attachments(env, meta, ids):
    """A delete for good (``purge``) of addon records: their attachment rows
    go too (the files follow with the garbage collection)."""
    if meta.name.startswith("core.") or ATTACHMENT not in env.registry.models:
        return
    att = env.registry[ATTACHMENT].table
    for chunk in _chunks(sorted(set(ids))):
        env.conn.execute(sa.delete(att).where(att.c.res_model == meta.name, att.c.res_id.in_(chunk)))


# -- the bin as users see it -------------------------------------------------------------------
def _mine(env):
    if env.su or env.access.unrestricted:
        return []
    return ["|", ["owner_id", "=", env.uid], ["deleted_by_id", "=", env.uid]]


def entries(env, model=None, limit=80, offset=0):
    """``(rows, total)``: the entries the caller may see, newest first."""
    domain = _mine(env) + ([["model", "=", model]] if model else [])
    trash = env.sudo()[MODEL]
    return (trash.search_read(domain, LISTED, limit=limit, offset=offset),
            trash.search_count(domain))


def entry(env, tid, fields=None):
    """One entry the caller may see, or ``NotFound``."""
    rows = env.sudo()[MODEL].search_read(_mine(env) + [["id", "=", tid]], fields or LISTED + ["payload"])
    if not rows:
        raise NotFound(_("recycle bin entry {id} not found").format(id=tid), {"id": tid})
    return rows[0]


def delete_forever(env, tid):
    """Remove an entry for good (its files go with the garbage collection)."""
    found = entry(env, tid, LISTED)
    env.sudo().with_context(purge=True)[MODEL].browse([tid]).unlink()
    audit.log(env, "purge", found["model"], found["record_id"], {"trash": tid, "name": found["name"]})
    return found


def purge_expired(env):
    """The daily job ``core.trash.purge``: remove the entries past their
    ``expires_at``; how many."""
    trash = env.sudo().with_context(purge=True)[MODEL]
    expired = trash.search([["expires_at", "<", env.now]])
    count = len(expired)
    if count:
        expired.unlink()
    return count



# -- restore -----------------------------------------------------------------------------------
def restore(env, tid):
    """Put the rows of entry ``tid`` back whole (same ids, same versions)
    and remove the entry; ``Conflict`` naming what is in the way, and then
    nothing is written. Audited as ``restore`` on the record."""
    found = entry(env, tid)
    registry, conn = env.registry, env.conn
    tables = registry.metadata.tables
    payload = found["payload"] or {}
    order, data = payload.get("order", []), payload.get("tables", {})
    rows_of = {}
    for tname in order:
        table = tables.get(tname)
        if table is None:
            raise Conflict(_("cannot restore {name}: its table {table} no longer exists (addon "
                             "uninstalled?)").format(name=found["name"], table=tname))
        rows = sorted(data.get(tname, ()), key=lambda r: r.get("id") or 0)
        rows_of[tname] = [{k: _decode(table.c[k], v) for k, v in row.items() if k in table.c}
                          for row in rows]
    by_table = {meta.table.name: meta for meta in registry.models.values()}
    for tname, rows in rows_of.items():
        _check_free(env, found, tables[tname], by_table.get(tname), rows)
    for tname, rows in rows_of.items():
        _check_parents(env, found, tables[tname], by_table.get(tname), rows, rows_of)
    for tname in order:
        if rows_of[tname]:
            try:
                conn.execute(tables[tname].insert(), rows_of[tname])
            except sa.exc.IntegrityError as exc:
                raise Conflict(_("cannot restore {name}: {reason}").format(
                    name=found["name"], reason=str(exc.orig).splitlines()[0])) from None
    _relink(env, tables, payload.get("relinks") or [])
    env.sudo().with_context(purge=True)[MODEL].browse([tid]).unlink()
    env.cache.clear()
    audit.log(env, "restore", found["model"], found["record_id"],
              {"trash": tid, "rows": sum(len(r) for r in rows_of.values())})
    return found


def _relink(env, tables, relinks):
    """Point the references the delete had set to null back at the restored
    records, where they are still null (one UPDATE per table and column)."""
    grouped = {}
    for tname, column, rid, value in relinks:
        if tname in tables and column in tables[tname].c:
            grouped.setdefault((tname, column), []).append({"t_rid": rid, "t_value": value})
    for (tname, column), params in grouped.items():
        table = tables[tname]
        stmt = (sa.update(table).where(table.c.id == sa.bindparam("t_rid"), table.c[column].is_(None))
                .values({column: sa.bindparam("t_value")}))
        env.conn.execute(stmt, params)


def _label(meta, tname):
    return meta.name if meta is not None else tname


def _check_free(env, found, table, meta, rows):
    """The ids and unique values of ``rows`` are not taken meanwhile."""
    if "id" not in table.c or not rows:
        return
    ids = [r["id"] for r in rows]
    for chunk in _chunks(ids):
        taken = env.conn.execute(sa.select(table.c.id).where(table.c.id.in_(chunk))).scalars().first()
        if taken is not None:
            raise Conflict(_("cannot restore {name}: {model} {id} exists again").format(
                name=found["name"], model=_label(meta, table.name), id=taken),
                {"model": _label(meta, table.name), "id": taken})
    if meta is None:
        return
    for field in meta.fields.values():
        if not getattr(field, "unique", False) or not field.column or field.name not in table.c:
            continue
        values = [r[field.name] for r in rows if r.get(field.name) is not None]
        column = table.c[field.name]
        for chunk in _chunks(values):
            taken = env.conn.execute(sa.select(column).where(column.in_(chunk))).scalars().first()
            if taken is not None:
                raise Conflict(_("cannot restore {name}: {field} {value} of {model} is now used by "
                                 "another record").format(name=found["name"], field=field.name,
                                                          value=taken, model=meta.name),
                               {"model": meta.name, "fields": [field.name], "value": str(taken)})


def _check_parents(env, found, table, meta, rows, rows_of):
    """Every record the rows refer to still exists (or comes back with them)."""
    for fk in table.foreign_keys:
        column, target = fk.parent, fk.column.table
        wanted = {r[column.name] for r in rows if r.get(column.name) is not None}
        wanted -= {r["id"] for r in rows_of.get(target.name, ())}
        for chunk in _chunks(sorted(wanted)):
            there = set(env.conn.execute(sa.select(target.c.id).where(target.c.id.in_(chunk))).scalars())
            gone = sorted(set(chunk) - there)
            if gone:
                raise Conflict(_("cannot restore {name}: {field} refers to {target} {id}, which no "
                                 "longer exists").format(name=found["name"], field=column.name,
                                                         target=target.name, id=gone[0]),
                               {"fields": [column.name], "id": gone[0]})
