"""Domains → SQLAlchemy expressions.

A domain is a list of ``[field, operator, value]`` terms and the prefix
operators ``"&"``, ``"|"`` and ``"!"``; terms side by side are joined by AND.
Fields may be dotted through many2one (``"owner_id.login"``): each step is a
LEFT OUTER JOIN, shared by every term that walks the same path. A many2many
field compares against its linked ids through an EXISTS subquery.
"""
import sqlalchemy as sa

from ..errors import DomainError

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not in", "like", "ilike")
#: fields ``like``/``ilike`` apply to (PostgreSQL has no LIKE on numbers, dates…)
TEXT_TYPES = ("char", "text", "selection")


class Query:
    """A model's FROM clause with the joins that dotted paths need."""

    def __init__(self, registry, meta, access=None):
        self.registry = registry
        self.meta = meta
        #: the caller's ``Access``: fields it hides do not exist for it
        self.access = access
        self.root = meta.table
        self.from_ = meta.table
        self._aliases = {(): meta.table}

    def resolve(self, path, purpose="domain"):
        """``(meta, table_or_alias, field)`` for a dotted ``path``."""
        if not isinstance(path, str) or not path:
            raise DomainError(f"{purpose}: bad field {path!r}")
        parts = path.split(".")
        meta, table = self.meta, self.root
        for depth, part in enumerate(parts):
            field = meta.fields.get(part)
            if field is not None and self.access is not None and part in self.access.hidden(meta):
                field = None
            if field is None:
                raise DomainError(f"{purpose}: {meta.name} has no field {part!r}"
                                  + (f" (in {path!r})" if len(parts) > 1 else ""))
            if depth == len(parts) - 1:
                return meta, table, field
            if field.type != "many2one":
                raise DomainError(f"{purpose}: {meta.name}.{part} is not a many2one; "
                                  f"cannot follow {path!r}")
            key = tuple(parts[:depth + 1])
            target = self.registry[field.relation]
            alias = self._aliases.get(key)
            if alias is None:
                alias = target.table.alias(f"j{len(self._aliases)}_{target.table.name}")
                self.from_ = self.from_.outerjoin(alias, table.c[part] == alias.c.id)
                self._aliases[key] = alias
            meta, table = target, alias
        raise AssertionError("unreachable")


def normalize(domain):
    if domain is None:
        return []
    if not isinstance(domain, (list, tuple)):
        raise DomainError(f"domain must be a list of terms, got {domain!r}")
    return list(domain)


def compile_domain(query, domain):
    """The WHERE expression of ``domain`` over ``query`` (``None`` if empty)."""
    items = normalize(domain)
    stack = []
    for item in reversed(items):
        if item in ("&", "|"):
            if len(stack) < 2:
                raise DomainError(f"malformed domain: {item!r} needs two terms after it")
            first, second = stack.pop(), stack.pop()
            stack.append(sa.and_(first, second) if item == "&" else sa.or_(first, second))
        elif item == "!":
            if not stack:
                raise DomainError("malformed domain: '!' needs a term after it")
            # a term that is NULL on a row (a comparison with an empty
            # column) does not match it, so "!" of it must: NOT (t IS TRUE)
            stack.append(sa.not_(sa.func.coalesce(stack.pop(), sa.false())))
        elif isinstance(item, (list, tuple)) and len(item) == 3:
            stack.append(_term(query, *item))
        else:
            raise DomainError(f"malformed domain term {item!r}: expected [field, operator, value] "
                              "or one of '&', '|', '!'")
    if not stack:
        return None
    return stack[0] if len(stack) == 1 else sa.and_(*reversed(stack))


def _convert(meta, field, value, path):
    try:
        return field.convert(value)
    except ValueError as exc:
        raise DomainError(f"domain: {meta.name}.{field.name} ({path}): {value!r} {exc}") from None


def _term(query, path, op, value):
    if op not in OPERATORS:
        raise DomainError(f"domain: unknown operator {op!r} (use one of {', '.join(OPERATORS)})")
    meta, table, field = query.resolve(path)
    if field.type == "many2many":
        return _many2many_term(query, meta, table, field, op, value, path)
    if not field.column:
        raise DomainError(f"domain: {meta.name}.{field.name} is a {field.type} field; "
                          "filter on its records' model instead")
    col = table.c[field.name]
    if op in ("like", "ilike"):
        if field.type not in TEXT_TYPES:
            raise DomainError(f"domain: {op} on {path} needs a text field; {field.name} is a {field.type}")
        if not isinstance(value, str):
            raise DomainError(f"domain: {op} on {path} needs a text pattern, got {value!r}")
        return col.like(value) if op == "like" else col.ilike(value)
    if op in ("in", "not in"):
        if not isinstance(value, (list, tuple)):
            raise DomainError(f"domain: {op} on {path} needs a list, got {value!r}")
        values = [_convert(meta, field, v, path) for v in value if v is not None]
        has_null = any(v is None for v in value)
        if field.type == "boolean" and False in values:  # False matches unset, as with "="
            has_null = True
        if op == "in":
            expr = col.in_(values) if values else sa.false()
            return sa.or_(expr, col.is_(None)) if has_null else expr
        expr = col.not_in(values) if values else sa.true()
        return sa.and_(expr, col.is_not(None)) if has_null else sa.or_(expr, col.is_(None))
    if value is None or (value is False and field.type != "boolean"):
        if op == "=":
            return col.is_(None)
        if op == "!=":
            return col.is_not(None)
        raise DomainError(f"domain: {op} on {path} cannot compare with null")
    value = _convert(meta, field, value, path)
    if field.type == "boolean" and value is False and op in ("=", "!="):
        unset = sa.or_(col == sa.false(), col.is_(None))
        return unset if op == "=" else sa.not_(unset)
    if op == "=":
        return col == value
    if op == "!=":
        return sa.or_(col != value, col.is_(None))
    return {"<": col.__lt__, "<=": col.__le__, ">": col.__gt__, ">=": col.__ge__}[op](value)


def _many2many_term(query, meta, table, field, op, value, path):
    link = query.registry[meta.name].link_tables[field.name]
    if op in ("=", "!=") and not isinstance(value, (list, tuple)):
        value = [] if value is None or value is False else [value]
        op = "in" if op == "=" else "not in"
    if op not in ("in", "not in"):
        raise DomainError(f"domain: {path} is a many2many; use in, not in, = or !=")
    ids = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int):
            raise DomainError(f"domain: {path} compares with record ids, got {v!r}")
        ids.append(v)
    if not ids:  # "= empty" means no links at all
        exists = sa.exists().where(link.c.source_id == table.c.id)
        return sa.not_(exists) if op == "in" else exists
    exists = sa.exists().where(link.c.source_id == table.c.id, link.c.target_id.in_(ids))
    return exists if op == "in" else sa.not_(exists)


def compile_order(query, order, default):
    """ORDER BY clauses for ``"field [asc|desc], …"``; ``id`` breaks ties."""
    text = order if order else default or "id"
    if not isinstance(text, str):
        raise DomainError(f"order: expected text like 'name desc', got {text!r}")
    clauses, seen = [], set()
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise DomainError(f"order: cannot read {part.strip()!r}; expected 'field' or 'field desc'")
        meta, table, field = query.resolve(words[0], "order")
        if not field.column:
            raise DomainError(f"order: {meta.name}.{field.name} is a {field.type}; cannot sort by it")
        col = table.c[field.name]
        desc = len(words) == 2 and words[1].lower() == "desc"
        if field.required and table is query.root:
            # never NULL (the model API sees to it; a joined row may be
            # missing, so only on the model's own table): a plain ORDER BY lets
            # SQLite walk the column's index instead of sorting every match
            clauses.append(col.desc() if desc else col.asc())
        else:
            # NULLs sort as PostgreSQL does by default (last going up), on SQLite too
            clauses.append(col.desc().nulls_first() if desc else col.asc().nulls_last())
        seen.add(words[0])
    if "id" not in seen:
        clauses.append(query.root.c.id.asc())
    return clauses


def page(stmt, limit, offset):
    """``stmt`` with LIMIT and OFFSET, each a whole number ≥ 0 (or ``None``)."""
    for name, number in (("limit", limit), ("offset", offset)):
        if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 0):
            raise DomainError(f"{name} must be a whole number ≥ 0, got {number!r}")
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return stmt
