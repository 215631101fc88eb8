"""Field types: conversion of incoming values and the round trip through the database."""
import base64
import datetime as dt
import decimal

import pytest

from core import fields as F
from core.errors import ValidationError
from tests.test_model_api import scratch_env

D = decimal.Decimal


@pytest.fixture
def env(mdb):
    with scratch_env(mdb) as env:
        yield env


def stored(env, values, fname):
    """Create a thing with ``values`` and read ``fname`` back from the database."""
    rec = env["test.thing"].create({"name": "x", **values})
    env.cache.clear()
    return rec.read([fname])[0][fname]


CET = dt.timezone(dt.timedelta(hours=8))

ROUND_TRIPS = [
    ("qty", 42, 42), ("qty", "  -7 ", -7), ("qty", 3.0, 3), ("qty", D("5"), 5), ("qty", 2 ** 31 - 1, 2 ** 31 - 1),
    ("qty", -2 ** 31, -2 ** 31), ("qty", None, None),
    ("ratio", 0.25, 0.25), ("ratio", "1.5", 1.5), ("ratio", 3, 3.0), ("ratio", D("2.5"), 2.5),
    ("amount", "12.345", D("12.35")), ("amount", "1.005", D("1.01")), ("amount", 0.1, D("0.10")),
    ("amount", 7, D("7.00")), ("amount", D("-3.14159"), D("-3.14")), ("amount", "1e3", D("1000.00")),
    ("amount", "99999999.99", D("99999999.99")), ("amount", " 8 ", D("8.00")),
    ("flag", True, True), ("flag", False, False), ("flag", 1, True), ("flag", 0, False), ("flag", "yes", True),
    ("flag", "否", False), ("flag", "是", True), ("flag", "FALSE", False), ("flag", None, None),
    ("day", "2024-02-29", dt.date(2024, 2, 29)), ("day", dt.date(1999, 12, 31), dt.date(1999, 12, 31)),
    ("day", dt.datetime(2024, 5, 6, 23, 59), dt.date(2024, 5, 6)),
    ("at", "2024-03-05T10:20:30", dt.datetime(2024, 3, 5, 10, 20, 30)),
    ("at", "2024-03-05T10:20:30Z", dt.datetime(2024, 3, 5, 10, 20, 30)),
    ("at", "2024-03-05T08:00:00+08:00", dt.datetime(2024, 3, 5, 0, 0)),
    ("at", dt.datetime(2024, 1, 1, 2, 0, tzinfo=CET), dt.datetime(2023, 12, 31, 18, 0)),
    ("at", dt.datetime(2024, 1, 1, 2, 0, 0, 123456), dt.datetime(2024, 1, 1, 2, 0, 0, 123456)),
    ("at", dt.date(2024, 7, 1), dt.datetime(2024, 7, 1)),
    ("at", "2024-07-01", dt.datetime(2024, 7, 1)),
    ("state", "done", "done"), ("state", None, None),
    ("note", "多行\n文本 ✓", "多行\n文本 ✓"), ("name", 12, "12"), ("name", D("1.50"), "1.50"),
    ("ref", "12345", "12345"), ("ref", "中文五个字", "中文五个字"),
    ("data", {"客户": ["上海", 1, 2.5, None, True]}, {"客户": ["上海", 1, 2.5, None, True]}),
    ("data", [1, "two"], [1, "two"]), ("data", "text", "text"), ("data", 0, 0), ("data", None, None),
    ("blob", b"\x00\xffbinary", b"\x00\xffbinary"),
    ("blob", base64.b64encode(b"hello \xe4").decode(), b"hello \xe4"), ("blob", None, None),
]


@pytest.mark.parametrize("fname,value,expected", ROUND_TRIPS, ids=[f"{f}-{v!r}"[:40] for f, v, _ in ROUND_TRIPS])
def test_round_trip(env, fname, value, expected):
    got = stored(env, {fname: value}, fname)
    assert got == expected
    assert type(got) is type(expected)


def test_decimal_keeps_exact_amounts(env):
    big = D("12345678.91")
    rec = env["test.thing"].create({"name": "x", "amount": big, "price": "0.10"})
    env.cache.clear()
    row = rec.read(["amount", "price"])[0]
    assert row == {"id": rec.id, "amount": big, "price": D("0.10")}
    assert env["test.thing"].search_count([["amount", "=", "12345678.91"], ["id", "=", rec.id]]) == 1


def test_json_none_is_null_and_searchable(env):
    recs = env["test.thing"].create([{"name": "empty"}, {"name": "none", "data": None},
                                     {"name": "full", "data": {"a": 1}}])
    found = env["test.thing"].search([["data", "=", None], ["id", "in", list(recs.ids)]])
    assert set(found.ids) == set(recs.ids[:2])
    recs.browse(recs.ids[2]).write({"data": None})
    assert env["test.thing"].search_count([["data", "!=", None], ["id", "in", list(recs.ids)]]) == 0


def test_json_is_a_copy_not_a_reference(env):
    data = {"list": [1, 2]}
    rec = env["test.thing"].create({"name": "x", "data": data})
    data["list"].append(3)
    env.cache.clear()
    assert rec.read(["data"])[0]["data"] == {"list": [1, 2]}


def test_boolean_unset_reads_none(env):
    assert stored(env, {}, "flag") is None


def test_datetime_in_domains_uses_the_same_conversion(env):
    rec = env["test.thing"].create({"name": "x", "at": "2024-03-05T08:00:00+08:00"})
    assert env["test.thing"].search([["at", "=", "2024-03-05T00:00:00"], ["id", "=", rec.id]]) == rec
    assert env["test.thing"].search([["at", "=", "2024-03-05T08:00:00+08:00"], ["id", "=", rec.id]]) == rec
    assert not env["test.thing"].search([["at", ">", dt.datetime(2024, 3, 5)], ["id", "=", rec.id]])


def test_binary_large_value(env):
    blob = bytes(range(256)) * 4096  # 1 MiB
    assert stored(env, {"blob": blob}, "blob") == blob


@pytest.mark.parametrize("field,value,reason", [
    (F.Integer(), 2 ** 31, "out of range"), (F.Integer(), -2 ** 31 - 1, "out of range"),
    (F.Integer(), "1.5", "expected an integer"), (F.Integer(), float("inf"), "expected an integer"),
    (F.Integer(), [], "expected an integer"),
    (F.Float(), float("nan"), "finite"), (F.Float(), "inf", "finite"), (F.Float(), None, None),
    (F.Decimal(), "NaN", "expected an amount"), (F.Decimal(), "Infinity", "expected an amount"),
    (F.Decimal(), [1], "expected an amount"), (F.Decimal(digits=4, scale=2), "100", "2 digits before"),
    (F.Decimal(digits=4, scale=2), "99.999", "2 digits before"),
    (F.Boolean(), 0.0, "true or false"), (F.Boolean(), "perhaps", "true or false"),
    (F.Date(), "05/03/2024", "YYYY-MM-DD"), (F.Date(), 1.5, "YYYY-MM-DD"),
    (F.Datetime(), "2024-13-01T00:00", "date and time"), (F.Datetime(), 1700000000, "date and time"),
    (F.Selection(options=["a"]), {"a": 1}, "is not one of a"), (F.Selection(options=["a"]), "A", "not one of"),
    (F.Many2one("core.user"), 1.0, "record id"), (F.Many2one("core.user"), "-3", "record id"),
    (F.Many2many("core.user"), {"a": 1}, "list of record ids"), (F.Many2many("core.user"), ["1"], "record ids"),
    (F.Json(), dt.date(2024, 1, 1), "JSON"), (F.Json(), {"x": float("nan")}, "JSON"),
    (F.Json(), D("1.5"), "JSON"),
    (F.Binary(), bytearray(b"x"), "base64"), (F.Binary(), "abc", "base64"),
    (F.Char(size=2), "abc", "longer than 2"), (F.Char(), b"bytes", "expected text"),
    (F.Char(), ["a"], "expected text"),
])
def test_convert_refuses(field, value, reason):
    if reason is None:
        assert field.convert(value) is None
        return
    with pytest.raises(ValueError, match=reason):
        field.convert(value)


def test_convert_accepts():
    assert F.Decimal(scale=3).convert("1.2345") == D("1.235")
    assert F.Decimal(scale=0).convert("2.5") == D("3")  # half up, not banker's
    assert F.Decimal().convert("-0.005") == D("-0.01")
    assert F.Many2many("core.user").convert((3, 1, {"id": 2})) == [3, 1, 2]
    assert F.Many2many("core.user").convert(None) == []
    assert F.Many2one("core.user").convert({"id": "4", "name": "x"}) == 4
    assert F.Selection(options=[("a", "A"), "b"]).values == ["a", "b"]
    assert F.Json().convert({"k": (1, 2)}) == {"k": (1, 2)}


def test_selection_options_added_by_an_addon(env):
    rec = env["crm.customer"].create({"name": "x", "source": "quotation_request"})  # from sales
    assert rec.source == "quotation_request"
    with pytest.raises(ValidationError, match="crm.customer.source"):
        env["crm.customer"].create({"name": "y", "source": "carrier pigeon"})


def test_describe(env):
    fields = env.registry["test.thing"].fields
    assert fields["state"].describe()["selection"] == [{"value": "draft", "label": "Draft"},
                                                       {"value": "done", "label": "Done"}]
    assert fields["partner_id"].describe()["relation"] == "crm.customer"
    assert fields["name"].describe()["required"] is True
    assert fields["locked"].describe()["readonly"] is True
    assert F.Decimal().to_json(D("1.50")) == "1.50"
    assert F.Binary().to_json(b"hi") == "aGk="
    assert F.Datetime().to_json(dt.datetime(2024, 1, 2, 3, 4)) == "2024-01-02T03:04:00"
    assert F.Date().to_json(None) is None


def test_many2one_ondelete_must_be_known():
    with pytest.raises(ValueError, match="ondelete"):
        F.Many2one("core.user", ondelete="explode")
