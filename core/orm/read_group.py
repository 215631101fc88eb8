"""``read_group``: aggregates by one SQL GROUP BY.

``groupby`` names fields, dates with a granularity (``created_at:month``);
``aggregates`` are ``field:function`` with ``count``, ``count_distinct``,
``sum``, ``avg``, ``min``, ``max``. Each group is a dict keyed by the
groupby names and the aggregate specs, as the REST API returns it; a
many2one group key reads ``{"id", "name"}``.
"""
import decimal

import sqlalchemy as sa

from ..errors import DomainError
from .domain import Query, compile_domain, page

FUNCTIONS = ("count", "count_distinct", "sum", "avg", "min", "max")
NUMERIC = ("integer", "float", "decimal")
GRANULARITY = ("day", "month", "quarter", "year")


def _split(items, what):
    if isinstance(items, str):
        items = [i.strip() for i in items.split(",") if i.strip()]
    if not isinstance(items, (list, tuple)):
        raise DomainError(f"{what}: expected a list, got {items!r}")
    return list(items)


def _date_bucket(conn, col, unit):
    if conn.dialect.name == "sqlite":
        fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y", "quarter": "%Y-%m"}[unit]
        expr = sa.func.strftime(fmt, col, type_=sa.String)
        if unit == "quarter":
            month = sa.cast(sa.func.strftime("%m", col), sa.Integer)
            expr = sa.func.strftime("%Y", col, type_=sa.String).concat("-Q").concat(
                sa.cast((month + 2) // 3, sa.String))
        return expr
    if unit == "quarter":
        return sa.func.to_char(col, 'YYYY-"Q"Q')
    return sa.func.to_char(col, {"day": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[unit])


def read_group(records, domain, groupby, aggregates, order, limit, offset):
    env, meta = records.env, records._meta
    env.access.check(meta, "read")
    query = Query(env.registry, meta, env.access)
    where = compile_domain(query, domain)
    scope = env.access.predicate(meta, query.root)
    if scope is not None:
        where = scope if where is None else sa.and_(where, scope)
    groupby = _split(groupby, "groupby")
    aggregates = _split(aggregates or ["id:count"], "aggregates")
    keys, group_cols, m2o = [], [], []
    for spec in groupby:
        if not isinstance(spec, str):
            raise DomainError(f"groupby: bad field {spec!r}")
        path, _, unit = spec.partition(":")
        fmeta, table, field = query.resolve(path, "groupby")
        if not field.column:
            raise DomainError(f"groupby: {fmeta.name}.{field.name} is a {field.type}; cannot group by it")
        col = table.c[field.name]
        if unit:
            if field.type not in ("date", "datetime") or unit not in GRANULARITY:
                raise DomainError(f"groupby: {spec!r}: only date fields take :{'|'.join(GRANULARITY)}")
            col = _date_bucket(env.conn, col, unit)
        elif field.type == "many2one":
            m2o.append((spec, field.relation))
        group_cols.append(col.label(f"g{len(group_cols)}"))
        keys.append(spec)
    agg_cols, fixes = [], []
    for spec in aggregates:
        if not isinstance(spec, str) or ":" not in spec:
            raise DomainError(f"aggregates: {spec!r} should look like 'amount:sum'")
        path, _, func = spec.rpartition(":")
        if func not in FUNCTIONS:
            raise DomainError(f"aggregates: unknown function {func!r} (use {', '.join(FUNCTIONS)})")
        fmeta, table, field = query.resolve(path, "aggregates")
        if not field.column:
            raise DomainError(f"aggregates: {fmeta.name}.{field.name} is a {field.type}")
        col = table.c[field.name]
        if func in ("sum", "avg") and field.type not in NUMERIC:
            raise DomainError(f"aggregates: {func} needs a number field; {path} is {field.type}")
        if func == "count":
            expr = sa.func.count() if path == "id" else sa.func.count(col)
        elif func == "count_distinct":
            expr = sa.func.count(sa.distinct(col))
        else:
            expr = getattr(sa.func, func)(col)
        agg_cols.append(expr.label(f"a{len(agg_cols)}"))
        fixes.append(_result_type(field, func))
    stmt = sa.select(*group_cols, *agg_cols).select_from(query.from_)
    if where is not None:
        stmt = stmt.where(where)
    if group_cols:
        stmt = stmt.group_by(*[c.element for c in group_cols])
        stmt = stmt.order_by(*_order(order, keys, aggregates, group_cols, agg_cols))
    rows = env.conn.execute(page(stmt, limit, offset)).all()
    n = len(group_cols)
    result = [{**dict(zip(keys, row[:n])), **dict(zip(aggregates, [f(v) for f, v in zip(fixes, row[n:])]))}
              for row in rows]
    for spec, relation in m2o:
        ids = sorted({g[spec] for g in result if g[spec] is not None})
        labels = env[relation].browse(ids)._display_names() if ids else {}
        for g in result:
            v = g[spec]
            g[spec] = None if v is None else {"id": v, "name": labels.get(v)}
    return result


def _result_type(field, func):
    """The same Python type from every database: counts as int, sums and
    averages of amounts as ``Decimal`` at the field's scale, of numbers as
    int (sum of integers) or float."""
    if func in ("count", "count_distinct"):
        return lambda v: 0 if v is None else int(v)
    if field.type == "decimal" and func in ("sum", "avg", "min", "max"):
        quantum = decimal.Decimal(1).scaleb(-field.scale)
        return lambda v: None if v is None else decimal.Decimal(str(v)).quantize(
            quantum, rounding=decimal.ROUND_HALF_UP)
    if field.type == "integer" and func == "sum":
        return lambda v: None if v is None else int(v)
    if func == "avg" or field.type == "float":
        return lambda v: None if v is None else float(v)
    return lambda v: v


def _order(order, keys, aggregates, group_cols, agg_cols):
    if not order:  # NULLs last, as in search
        return [c.element.asc().nulls_last() for c in group_cols]
    if not isinstance(order, str):
        raise DomainError(f"order: expected text like 'amount:sum desc', got {order!r}")
    clauses = []
    lookup = {**dict(zip(keys, group_cols)), **dict(zip(aggregates, agg_cols))}
    for part in order.split(","):
        words = part.split()
        if not words or words[0] not in lookup or len(words) > 2 or \
                (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise DomainError(f"order: {part.strip()!r} is not a groupby field or aggregate")
        col = lookup[words[0]].element
        clauses.append(col.desc().nulls_first() if len(words) == 2 and words[1].lower() == "desc"
                       else col.asc().nulls_last())
    return clauses
