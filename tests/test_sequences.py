"""Named sequences: patterns, periods, gap-free and unique under concurrency."""
import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from core import sequences
from core.errors import Conflict, UserInputError, ValidationError
from core.orm.env import Env
from tests.conftest import PG_URL
from tests.test_model_api import scratch_env


@pytest.fixture
def env(mdb):
    with scratch_env(mdb, now=dt.datetime(2024, 3, 5, 10)) as env:
        yield env


def at(env, *when):
    """The same transaction at another moment."""
    return Env(env.db, env.conn, env.registry, env.uid, env.su, env.context, dt.datetime(*when))


_counter = iter(range(1, 10 ** 6))


def new_sequence(mdb, pattern):
    """A committed sequence of its own (for tests that commit)."""
    code = f"test.commit{next(_counter)}"
    with mdb.unit_of_work(None) as env:
        env["core.sequence"].create({"code": code, "pattern": pattern})
    return code


# -- patterns --------------------------------------------------------------------------

@pytest.mark.parametrize("pattern,day,number,expected", [
    ("SO{yyyy}{mm}-{seq:05}", dt.date(2024, 3, 5), 7, "SO202403-00007"),
    ("C{yyyy}{seq:05}", dt.date(2024, 3, 5), 123456, "C2024123456"),
    ("T{yy}{mm}{dd}-{seq:03}", dt.date(2009, 1, 2), 42, "T090102-042"),
    ("P{seq}", dt.date(2024, 1, 1), 9, "P9"),
    ("P{seq:5}", dt.date(2024, 1, 1), 9, "P00009"),
    ("{seq:010}", dt.date(2024, 1, 1), 9, "0000000009"),
    ("发票{yyyy}年{seq:04}号", dt.date(2024, 1, 1), 3, "发票2024年0003号"),
])
def test_render(pattern, day, number, expected):
    assert sequences.render(sequences.check_pattern(pattern), day, number) == expected


@pytest.mark.parametrize("pattern,period", [
    ("SO{yyyy}{mm}-{seq:05}", "2024-03"), ("Y{yyyy}/{seq}", "2024"), ("{yy}{seq}", "2024"),
    ("D{yyyy}{mm}{dd}{seq}", "2024-03-05"), ("P{seq:04}", ""),
])
def test_period_key(pattern, period):
    assert sequences.period_key(pattern, dt.date(2024, 3, 5)) == period


@pytest.mark.parametrize("pattern", ["SO{yyyy}", "{seq", "X{seq}{hh}", "X{seq}{", "X{seq}}", None, 5,
                                     "X{YYYY}{seq}"])
def test_bad_patterns(pattern):
    with pytest.raises(UserInputError, match="pattern"):
        sequences.check_pattern(pattern)


def test_unknown_sequence(env):
    with pytest.raises(UserInputError, match="nope"):
        sequences.next_values(env, "nope")


# -- numbers and periods -------------------------------------------------------------------

def test_consecutive_numbers_and_batches(env):
    assert sequences.next_values(env, "test.plain") == ["P0001"]
    assert sequences.next_values(env, "test.plain", 3) == ["P0002", "P0003", "P0004"]
    assert sequences.next_values(env, "test.plain", 0) == []
    assert sequences.next_values(env, "test.plain") == ["P0005"]


def test_monthly_reset(env):
    assert sequences.next_values(at(env, 2024, 3, 1), "test.monthly", 2) == ["SO202403-00001", "SO202403-00002"]
    assert sequences.next_values(at(env, 2024, 3, 31, 23, 59), "test.monthly") == ["SO202403-00003"]
    assert sequences.next_values(at(env, 2024, 4, 1), "test.monthly") == ["SO202404-00001"]
    assert sequences.next_values(at(env, 2025, 3, 1), "test.monthly") == ["SO202503-00001"]
    # back in March 2024 (a late entry) the March counter goes on
    assert sequences.next_values(at(env, 2024, 3, 20), "test.monthly") == ["SO202403-00004"]


def test_yearly_reset(env):
    assert sequences.next_values(at(env, 2024, 1, 1), "test.yearly", 2) == ["Y2024/1", "Y2024/2"]
    assert sequences.next_values(at(env, 2024, 12, 31, 23, 59, 59), "test.yearly") == ["Y2024/3"]
    assert sequences.next_values(at(env, 2025, 1, 1), "test.yearly") == ["Y2025/1"]


def test_daily_reset_with_short_year(env):
    first = env["test.thing"].create([{"name": "a"}, {"name": "b"}])
    assert [r["code"] for r in first.read(["code"])] == ["T240305-001", "T240305-002"]
    later = at(env, 2024, 3, 6, 8)["test.thing"].create({"name": "c"})
    assert later.code == "T240306-001"


def test_a_field_takes_its_default_from_a_sequence(env):
    recs = env["crm.customer"].create([{"name": "a"}, {"name": "b", "code": "MINE"}, {"name": "c"}])
    assert [r["code"] for r in recs.read(["code"])] == ["C202400001", "MINE", "C202400002"]
    nxt = at(env, 2025, 1, 2)["crm.customer"].create({"name": "d"})
    assert nxt.code == "C202500001"


def test_a_refused_create_takes_no_number_once_rolled_back(mdb):
    code = new_sequence(mdb, "R{seq}")
    with mdb.unit_of_work(None) as env:
        assert sequences.next_values(env, code) == ["R1"]
    with pytest.raises(ValidationError):
        with mdb.unit_of_work(None) as env:
            assert sequences.next_values(env, code, 2) == ["R2", "R3"]
            raise ValidationError("changed my mind")
    with mdb.unit_of_work(None) as env:
        assert sequences.next_values(env, code) == ["R2"]  # no gap


def test_customer_codes_are_gap_free_after_a_rolled_back_unit_of_work(mdb):
    with mdb.unit_of_work("admin") as env:
        first = env["crm.customer"].create({"name": "gap-1"})
        code1 = first.code
    with pytest.raises(ValidationError):
        with mdb.unit_of_work("admin") as env:
            env["crm.customer"].create({"name": "gap-2"})
            env["crm.customer"].create({"name": "gap-3", "kind": "alien"})
    with mdb.unit_of_work("admin") as env:
        second = env["crm.customer"].create({"name": "gap-4"})
        assert int(second.code[-5:]) == int(code1[-5:]) + 1
        env["crm.customer"].search([["name", "like", "gap-%"]]).unlink()


# -- concurrency ---------------------------------------------------------------------

def _race(mdb, code, threads, per_thread):
    """Every thread takes numbers in its own unit of work, all at once."""
    barrier = threading.Barrier(threads)
    got, errors = [], []
    lock = threading.Lock()

    def work():
        try:
            with mdb.unit_of_work(None) as env:
                barrier.wait(timeout=10)
                values = sequences.next_values(env, code, per_thread)
                values += sequences.next_values(env, code, 1)
            with lock:
                got.extend(values)
        except Exception as exc:  # noqa: BLE001 - collected and checked below
            with lock:
                errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    return got, errors


@pytest.mark.skipif(not PG_URL, reason="row locks: PostgreSQL")
@pytest.mark.parametrize("first_period", [True, False], ids=["new-counter", "existing-counter"])
def test_concurrent_numbers_on_postgresql_are_unique_and_consecutive(mdb, first_period):
    code = new_sequence(mdb, "N{yyyy}-{seq}")
    if not first_period:
        with mdb.unit_of_work(None) as env:
            sequences.next_values(env, code)
    got, errors = _race(mdb, code, threads=8, per_thread=4)
    assert errors == []
    numbers = sorted(int(v.split("-")[1]) for v in got)
    start = 1 if first_period else 2
    assert numbers == list(range(start, start + 8 * 5))


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's database lock")
def test_concurrent_numbers_on_sqlite_never_repeat(mdb):
    code = new_sequence(mdb, "S{seq}")
    got, errors = _race(mdb, code, threads=6, per_thread=3)
    assert len(got) == len(set(got))  # never a duplicate
    for exc in errors:  # at worst a clean conflict: "try again", nothing saved
        assert isinstance(exc, Conflict) and "try again" in str(exc), repr(exc)
        assert isinstance(exc.__cause__, sa.exc.OperationalError) and "locked" in str(exc.__cause__)
    numbers = sorted(int(v[1:]) for v in got)
    assert numbers == list(range(1, len(numbers) + 1))  # the winners' numbers leave no gap
    assert len(got) >= 4
