"""Reading an import file: CSV (UTF-8, UTF-8 with BOM or GBK/GB18030,
delimiter ``,`` ``;`` or tab) or XLSX (first sheet) into a :class:`Table`.

Anything else — an empty file, binary junk, a PDF renamed ``.csv``, a file
without a header — is refused with :class:`ImportFileError` naming the
problem; nothing here lets another exception out.
"""
import contextlib
import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from ...errors import UserInputError
from ...i18n import _
from .report import Reason

#: the first bytes of a ZIP file (an XLSX is one)
ZIP_MAGIC = b"PK\x03\x04"
DELIMITERS = ",;\t"
#: refused above this many columns (a header of junk)
MAX_COLUMNS = 500


class ImportFileError(UserInputError):
    """The file cannot be read as a table (exit 1 / HTTP 400)."""


@dataclass
class Table:
    """A file read: ``rows`` are ``(line, cells)`` with the line in the file
    where the row starts (the header is line 1; XLSX: the sheet's row)."""
    format: str
    encoding: str
    header: list
    rows: list = field(default_factory=list)
    delimiter: str = ","


def read(data, filename=None):
    """The :class:`Table` of the bytes ``data``."""
    if not isinstance(data, (bytes, bytearray)):
        raise ImportFileError(_("the file must be given as bytes"))
    data = bytes(data)
    if not data.strip():
        raise ImportFileError(_("the file is empty"))
    name = (filename or "").lower()
    if data.startswith(ZIP_MAGIC) or name.endswith((".xlsx", ".xlsm")):
        return _read_xlsx(data)
    if name.endswith(".xls") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError(_("old Excel files (.xls) are not supported: save the file as .xlsx or CSV"))
    return _read_csv(data)


# -- CSV -------------------------------------------------------------------------------
def _decode(data):
    if b"\x00" in data[:65536]:
        raise ImportFileError(_("the file is not a CSV text file (it holds binary data); "
                                "give a CSV or XLSX file"))
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise ImportFileError(Reason(_("the file starts as UTF-8 but byte %(at)s is not UTF-8"),
                                         {"at": exc.start + 4})) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError as exc:
        raise ImportFileError(Reason(_("the file is neither UTF-8 nor GBK text (byte %(at)s); "
                                       "give a CSV or XLSX file"), {"at": exc.start + 1})) from None


def _control_junk(text):
    sample = text[:4096]
    bad = sum(1 for c in sample if ord(c) < 32 and c not in "\r\n\t")
    return bad > max(2, len(sample) // 100)


def _delimiter(text):
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.split("\n", 1)[0]
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=counts.get)
        return best if counts[best] else ","


def _read_csv(data):
    text, encoding = _decode(data)
    if text.startswith("%PDF") or _control_junk(text):
        raise ImportFileError(_("the file is not a CSV text file; give a CSV or XLSX file"))
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    rows = []
    header = None
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if header is None:
                if not any(c.strip() for c in cells):
                    continue
                header = cells
                continue
            if any(c.strip() for c in cells):
                rows.append((start, cells))
    except csv.Error as exc:
        raise ImportFileError(Reason(_("line %(line)s: the CSV cannot be read (%(reason)s)"),
                                     {"line": line, "reason": str(exc)})) from None
    if header is None:
        raise ImportFileError(_("the file has no header row"))
    return Table("csv", encoding, _header(header), rows, delimiter)


# -- XLSX ------------------------------------------------------------------------------
def _read_xlsx(data):
    try:
        from openpyxl import load_workbook
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds on junk
        raise ImportFileError(_("the file is not a readable XLSX workbook")) from None
    try:
        sheets = book.worksheets
        if not sheets:
            raise ImportFileError(_("the workbook has no sheet"))
        header, rows = None, []
        for number, values in enumerate(sheets[0].iter_rows(values_only=True), start=1):
            cells = [_xlsx_cell(v) for v in values]
            if not any(c not in (None, "") for c in cells):
                continue
            if header is None:
                header = ["" if c is None else str(c) for c in cells]
                continue
            rows.append((number, cells))
    except ImportFileError:
        raise
    except Exception:  # noqa: BLE001
        raise ImportFileError(_("the file is not a readable XLSX workbook")) from None
    finally:
        with contextlib.suppress(Exception):
            book.close()
    if header is None:
        raise ImportFileError(_("the file has no header row"))
    return Table("xlsx", "xlsx", _header(header), rows)


def _xlsx_cell(value):
    if isinstance(value, str):
        return value
    if value is None or isinstance(value, (bool, int, float, dt.date, dt.datetime, dt.time)):
        return value
    return str(value)


def _header(cells):
    header = [("" if c is None else str(c)).strip() for c in cells]
    while header and not header[-1]:
        header.pop()
    if not header:
        raise ImportFileError(_("the file has no header row"))
    if len(header) > MAX_COLUMNS:
        raise ImportFileError(Reason(_("the header has %(n)s columns: at most %(max)s"),
                                     {"n": len(header), "max": MAX_COLUMNS}))
    return header
