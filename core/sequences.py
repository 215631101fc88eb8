"""Named sequences: ``SO{yyyy}{mm}-{seq:05}`` with a counter per period.

The period is given by the date tokens the pattern uses: a pattern with
``{yyyy}`` restarts every year, with ``{mm}`` every month, with ``{dd}``
every day. Numbers are taken with ``UPDATE … RETURNING`` on the counter row,
which holds the row lock until the transaction ends: two transactions never
get the same number, and a rolled-back transaction gives its numbers back
(no gaps). On SQLite the database write lock does the same.
"""
import re

import sqlalchemy as sa

from .errors import UserInputError

TOKEN = re.compile(r"\{(yyyy|yy|mm|dd|seq(?::0?(\d+))?)\}")


def check_pattern(pattern):
    if not isinstance(pattern, str) or "{seq" not in pattern:
        raise UserInputError(f"sequence pattern {pattern!r} must contain {{seq}} or {{seq:05}}")
    leftovers = TOKEN.sub("", pattern)
    if "{" in leftovers or "}" in leftovers:
        raise UserInputError(f"sequence pattern {pattern!r}: unknown token; use "
                             "{yyyy} {yy} {mm} {dd} {seq} {seq:05}")
    return pattern


def period_key(pattern, day):
    parts = []
    if "{yyyy}" in pattern or "{yy}" in pattern:
        parts.append(f"{day.year:04d}")
    if "{mm}" in pattern:
        parts.append(f"{day.month:02d}")
    if "{dd}" in pattern:
        parts.append(f"{day.day:02d}")
    return "-".join(parts)


def render(pattern, day, number):
    def token(match):
        name = match.group(1)
        if name == "yyyy":
            return f"{day.year:04d}"
        if name == "yy":
            return f"{day.year % 100:02d}"
        if name == "mm":
            return f"{day.month:02d}"
        if name == "dd":
            return f"{day.day:02d}"
        width = int(match.group(2) or 0)
        return str(number).zfill(width)
    return TOKEN.sub(token, pattern)


def render_many(pattern, day, numbers):
    """``render`` for a run of numbers: the date tokens are expanded once."""
    def token(match):
        name = match.group(1)
        if name.startswith("seq"):
            return "{0:0%dd}" % int(match.group(2)) if match.group(2) else "{0}"
        return render("{%s}" % name, day, 0)
    template = TOKEN.sub(token, pattern)  # check_pattern allows no other braces
    return [template.format(n) for n in numbers]


def next_values(env, code, count=1):
    """``count`` consecutive values of sequence ``code`` for this transaction."""
    registry = env.registry
    seq_table = registry["core.sequence"].table
    counter = registry["core.sequence_counter"].table
    conn = env.conn
    row = conn.execute(sa.select(seq_table.c.id, seq_table.c.pattern)
                       .where(seq_table.c.code == code)).first()
    if row is None:
        raise UserInputError(f"unknown sequence {code!r}")
    seq_id, pattern = row
    day = env.now.date()
    period = period_key(pattern, day)
    take = (sa.update(counter)
            .where(counter.c.sequence_id == seq_id, counter.c.period == period)
            .values(next_number=counter.c.next_number + count, version=counter.c.version + 1)
            .returning(counter.c.next_number))
    after = conn.execute(take).scalar()
    if after is None:
        # First number of this period: insert the counter row; a concurrent
        # insert of the same row makes one of them fail on the unique index,
        # so the loser retries the update inside a savepoint.
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(counter).values(
                    sequence_id=seq_id, period=period, next_number=1 + count, version=1,
                    created_at=env.now, updated_at=env.now))
            after = 1 + count
        except sa.exc.IntegrityError:
            after = conn.execute(take).scalar()
    first = after - count
    return render_many(pattern, day, range(first, after))
