"""Schema sync: the database follows the registry's metadata.

Differences are computed with Alembic's autogenerate comparison and applied
with Alembic operations, inside the caller's transaction. What holds data is
never dropped here: a table or column the metadata no longer has (an
uninstalled addon's) stays until an explicit purge (``drop``).
"""
import logging
import re

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations

log = logging.getLogger(__name__)


def _context(conn, metadata):
    ours = set(metadata.tables)

    def include_name(name, type_, parent_names):
        if type_ == "table":
            return name in ours
        return True

    return MigrationContext.configure(conn, opts={
        "compare_type": False, "compare_server_default": False,
        "include_name": include_name, "target_metadata": metadata})


def plan(conn, metadata):
    """The changes ``sync`` would make, as readable strings."""
    return [_describe(d) for d in _wanted(conn, metadata)]


def _wanted(conn, metadata):
    diffs = compare_metadata(_context(conn, metadata), metadata)
    wanted = []
    existing_fks = {}
    # a new column brings its own reference (see sync)
    new_columns = {(d[2], d[3].name) for d in diffs if not isinstance(d, list) and d[0] == "add_column"}
    for diff in diffs:
        if isinstance(diff, list):  # column modifications: types/nullability are not changed
            continue
        kind = diff[0]
        if kind == "add_fk" and conn.dialect.name == "sqlite" and all(
                (diff[1].table.name, c.name) in new_columns for c in diff[1].columns):
            continue
        if kind == "add_fk" and conn.dialect.name == "sqlite":
            # SQLite reflects a column-level REFERENCES (see below) without its
            # name and ON DELETE: compare what it does keep
            fk = diff[1]
            table = fk.table.name
            if table not in existing_fks:
                existing_fks[table] = {(tuple(f["constrained_columns"]), f["referred_table"])
                                       for f in sa.inspect(conn).get_foreign_keys(table)}
            if (tuple(c.name for c in fk.columns), fk.referred_table.name) in existing_fks[table]:
                continue
        if kind in ("add_table", "add_column", "add_index", "add_fk"):
            wanted.append(diff)
        elif kind == "remove_index":
            index = diff[1]
            table = metadata.tables.get(index.table.name)
            if table is not None and all(c.name in table.c for c in index.columns) \
                    and (index.name or "").startswith(("ix_", "uq_")):
                wanted.append(diff)
    return wanted


def _describe(diff):
    kind = diff[0]
    if kind == "add_table":
        return f"create table {diff[1].name}"
    if kind == "add_column":
        return f"add column {diff[2]}.{diff[3].name}"
    if kind in ("add_index", "remove_index"):
        return f"{kind.replace('_', ' ')} {diff[1].name} on {diff[1].table.name}"
    if kind == "add_fk":
        return f"add foreign key on {diff[1].table.name}({', '.join(c.name for c in diff[1].columns)})"
    return str(diff)


def sync(conn, metadata):
    """Create missing tables, columns, indexes and foreign keys."""
    wanted = _wanted(conn, metadata)
    if not wanted:
        return []
    ops = Operations(_context(conn, metadata))
    # the comparison hands back copies without indexes: create the real tables
    new_tables = [metadata.tables[d[1].name] for d in wanted if d[0] == "add_table"]
    if new_tables:
        # create_all orders the tables and handles foreign-key cycles
        metadata.create_all(conn, tables=new_tables)
    new_names = {t.name for t in new_tables}
    sqlite = conn.dialect.name == "sqlite"
    for diff in wanted:
        kind = diff[0]
        if kind == "add_column":
            column = diff[3]
            if sqlite and column.foreign_keys:
                _sqlite_add_reference_column(conn, diff[2], column)
            else:
                ops.add_column(diff[2], column._copy())
        elif kind == "add_index" and diff[1].table.name not in new_names:
            index = diff[1]
            ops.create_index(index.name, index.table.name, [c.name for c in index.columns],
                             unique=index.unique)
        elif kind == "remove_index":
            ops.drop_index(diff[1].name, table_name=diff[1].table.name)
        elif kind == "add_fk" and diff[1].table.name not in new_names:
            fk = diff[1]
            if sqlite:  # only an old column without its reference; SQLite cannot add one
                log.warning("cannot add %s on SQLite to an existing column", _describe(diff))
                continue
            ops.create_foreign_key(fk.name, fk.table.name, fk.referred_table.name,
                                   [c.name for c in fk.columns], [e.column.name for e in fk.elements],
                                   ondelete=fk.ondelete)
    return [_describe(d) for d in wanted]


def _sqlite_add_reference_column(conn, table, column):
    """``ALTER TABLE … ADD COLUMN … REFERENCES …``: SQLite accepts a
    reference on a new nullable column, but Alembic only offers a table
    rebuild, which with foreign keys enforced would cascade-delete rows
    referring to the rebuilt table. The DDL is composed from SQLAlchemy's
    own compiled pieces."""
    fk = next(iter(column.foreign_keys))
    q = conn.dialect.identifier_preparer
    spec = sa.schema.CreateColumn(column._copy()).compile(dialect=conn.dialect)
    ondelete = f" ON DELETE {fk.ondelete}" if fk.ondelete else ""
    name = f"CONSTRAINT {q.quote(fk.constraint.name)} " if fk.constraint is not None and fk.constraint.name else ""
    conn.exec_driver_sql(
        f"ALTER TABLE {q.quote(table)} ADD COLUMN {spec} {name}"
        f"REFERENCES {q.quote(fk.column.table.name)} ({q.quote(fk.column.name)}){ondelete}")


def drop(conn, tables=(), columns=None):
    """Purge: drop ``tables`` and ``{table: [columns]}`` — only on request."""
    inspector = sa.inspect(conn)
    existing = set(inspector.get_table_names())
    ops = Operations(MigrationContext.configure(conn))
    dropped = []
    for table, names in (columns or {}).items():
        if table not in existing or table in tables:
            continue
        present = {c["name"] for c in inspector.get_columns(table)}
        names = [n for n in names if n in present]
        if not names:
            continue
        for index in inspector.get_indexes(table):
            if set(index["column_names"]) & set(names):
                ops.drop_index(index["name"], table_name=table)
        if conn.dialect.name == "sqlite":
            # SQLite drops a column only once nothing refers to it
            with ops.batch_alter_table(table, recreate="always") as batch:
                for name in names:
                    batch.drop_column(name)
        else:
            for name in names:
                ops.drop_column(table, name)
        dropped.extend(f"drop column {table}.{n}" for n in names)
    meta = sa.MetaData()
    to_drop = [sa.Table(t, meta, autoload_with=conn) for t in tables if t in existing]
    meta.drop_all(conn, tables=to_drop)
    dropped.extend(f"drop table {t.name}" for t in to_drop)
    return dropped


def column_in_table_foreign_key(conn, table, column):
    """SQLite: is ``column`` named by a table-level ``FOREIGN KEY (…)``
    clause? ``ALTER TABLE … DROP COLUMN`` refuses such a column (a column
    declared with its own ``REFERENCES`` drops fine); tables created by
    ``create_all`` or rebuilt by a purge write their references that way."""
    if conn.dialect.name != "sqlite":
        return False
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (table,)).scalar() or ""
    pattern = r'FOREIGN\s+KEY\s*\(([^)]*)\)'
    return any(column in [c.strip().strip('"`[]') for c in cols.split(",")]
               for cols in re.findall(pattern, sql, re.IGNORECASE))


def drop_column(conn, table, column):
    """Drop one column and the indexes that include it, in the caller's
    transaction (an explicit removal: the caller keeps the data first).

    Plain ``ALTER TABLE … DROP COLUMN`` through Alembic's operations on
    both databases (SQLite ≥ 3.35 has it). On SQLite a column named by a
    table-level foreign key clause needs the table rebuilt, which is only
    safe with foreign key enforcement off (the rebuild drops the old table,
    and with enforcement on that would run its children's ``ON DELETE``):
    the caller must then use ``Database.transaction(foreign_keys=False)``.
    Returns what it did, as readable strings."""
    inspector = sa.inspect(conn)
    ops = Operations(MigrationContext.configure(conn))
    done = []
    for index in inspector.get_indexes(table):
        if column in index["column_names"]:
            ops.drop_index(index["name"], table_name=table)
            done.append(f"drop index {index['name']} on {table}")
    if column_in_table_foreign_key(conn, table, column):
        if conn.exec_driver_sql("PRAGMA foreign_keys").scalar():
            raise RuntimeError(f"dropping {table}.{column} rebuilds the table: "
                               "open the transaction with foreign_keys=False")
        with ops.batch_alter_table(table, recreate="always") as batch:
            batch.drop_column(column)
    else:
        ops.drop_column(table, column)
    done.append(f"drop column {table}.{column}")
    return done
