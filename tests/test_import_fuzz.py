"""Property tests of the import: random and malformed CSV/XLSX bytes never
raise anything but the import's own errors (``KeelError``: a one-line
message, no traceback), and never write part of a file — the number of
customers is either unchanged or grown by exactly the rows reported created.
"""
import io

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from core.errors import KeelError
from core.services import imports

HEADERS = ["name", "名称", "phone", "电话", "email", "kind", "类型", "birthday", "contact_cycle_days",
           "in_pool", "grade", "code", "owner_id", "x", "", "version"]
CELLS = st.one_of(st.text(max_size=12), st.sampled_from(
    ["", "公司", "company", "person", "是", "否", "2024/1/5", "2024-13-01", "1,234", "-1", "1e999",
     "13800000000", "+86 138-0000-0000", "a@b.cn", "admin", "C1", "上海某某有限公司", "\x00", "\"", "\r\n"]))
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory):
    from tests.conftest import drop_module_database, module_database
    db = module_database(tmp_path_factory, "t_import_fuzz")
    with db.unit_of_work("admin") as env:
        env["crm.customer"].create([{"name": "上海某某有限公司", "code": "C1", "phone": "13800000000"}])
    yield db
    drop_module_database(db, "t_import_fuzz")


def _attempt(db, data, name, on_duplicate):
    with db.unit_of_work("admin") as env:
        before = env["crm.customer"].search_count([])
    created = 0
    try:
        with db.unit_of_work("admin") as env:
            result = imports.run(env, "crm.customer", data, name, on_duplicate=on_duplicate)
            created = result.created
    except KeelError as exc:
        assert str(exc) and "\n" not in str(exc).strip("\n") or isinstance(exc, imports.ImportFailed)
    with db.unit_of_work("admin") as env:
        after = env["crm.customer"].search_count([])
    assert after == before + created


@SETTINGS
@given(data=st.binary(max_size=400), name=st.sampled_from(["a.csv", "a.xlsx", None]))
def test_random_bytes(fuzz_db, data, name):
    _attempt(fuzz_db, data, name, "error")


def _table(draw_rows):
    header, rows = draw_rows
    return [header, *rows]


TABLES = st.tuples(st.lists(st.sampled_from(HEADERS), min_size=1, max_size=5),
                   st.lists(st.lists(CELLS, max_size=6), max_size=6))


@SETTINGS
@given(table=TABLES, delimiter=st.sampled_from([",", ";", "\t"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
       on_duplicate=st.sampled_from(["error", "skip", "update"]))
def test_random_csv(fuzz_db, table, delimiter, encoding, on_duplicate):
    text = "\r\n".join(delimiter.join(row) for row in _table(table))
    _attempt(fuzz_db, text.encode(encoding, errors="replace"), "a.csv", on_duplicate)


@SETTINGS
@given(table=TABLES, cut=st.integers(min_value=0, max_value=4000))
def test_random_xlsx(fuzz_db, table, cut):
    book = openpyxl.Workbook()
    sheet = book.active
    for row in _table(table):
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", c) for c in row])
    out = io.BytesIO()
    book.save(out)
    data = out.getvalue()
    _attempt(fuzz_db, data, "a.xlsx", "skip")
    _attempt(fuzz_db, data[:cut], "a.xlsx", "skip")  # a truncated workbook
