"""The one place uploaded tables (.csv / .xlsx) are parsed, with every size bounded before parsing.

Uploads are hostile: a 1.7 KB workbook can declare a million rows of 16,384 columns, a 400 KB zip
can hold a 400 MB cell, a CSV header can hold millions of cells. Everything here is bounded by
`TableLimits` so that time and memory depend on the limits, never on what the file claims.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import BinaryIO

XLSX_MAGIC = b"PK\x03\x04"
_SCAN_CHUNK = 1 << 20
# DTDs are how XML entity expansion and external entities (XXE) get in; no real workbook has one.
_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")
_UTF16_STARTS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"<\x00", b"\x00<")


class TableError(ValueError):
    """A file that cannot be read as a table; `.args[0]` is a Chinese message saying what to fix."""


@dataclass(frozen=True)
class TableLimits:
    """Bounds on one uploaded table; every one is checked before the part it bounds is parsed."""

    max_bytes: int
    max_rows: int  # data rows, header not counted
    max_cols: int = 64
    max_cell_chars: int = 4000
    max_uncompressed_bytes: int = 64 * 1024 * 1024  # .xlsx: the sum over the zip's members
    max_zip_members: int = 500
    blank_run_stop: int = 100  # this many blank rows in a row end the table
    max_shared_strings: int = 1_000_000  # .xlsx: each one becomes a Python string up front


def _mb(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n} 字节"


def _label(filename: str) -> str:
    name = PurePath(filename or "").name.strip()
    return name[:80] if name else "上传的文件"


def _read_bounded(data: bytes | BinaryIO, label: str, limits: TableLimits) -> bytes:
    raw = (
        bytes(data)
        if isinstance(data, bytes | bytearray | memoryview)
        else data.read(limits.max_bytes + 1)
    )
    if len(raw) > limits.max_bytes:
        raise TableError(f"{label} 超过 {_mb(limits.max_bytes)}，请拆分为多个文件分批导入")
    return raw


def open_table(
    data: bytes | BinaryIO, filename: str, limits: TableLimits
) -> tuple[list[str], Iterator[list[str]]]:
    """The header and an iterator over the data rows of a .csv (UTF-8, UTF-8-BOM, GB18030) or .xlsx.

    Rows are lists of stripped strings ('' for an empty cell) with trailing empty cells dropped.
    Blank rows between data rows are yielded (as []) so row numbers stay true; a run of
    `limits.blank_run_stop` blank rows ends the table and trailing blank rows are not yielded.
    Row i of the iterator is row i + 2 of the file. Any problem, including ones found while
    iterating, raises `TableError` with a Chinese message naming what to fix.
    """
    label = _label(filename)
    raw = _read_bounded(data, label, limits)
    suffix = PurePath(filename or "").suffix.lower()
    if suffix == ".xlsx" or (suffix not in (".csv", ".txt") and raw.startswith(XLSX_MAGIC)):
        rows = _xlsx_rows(raw, label, limits)
    elif suffix in (".csv", ".txt", ""):
        rows = _csv_rows(raw, label, limits)
    else:
        raise TableError(f"{label}：只支持 .xlsx 或 .csv 文件，请另存为其中一种后上传")
    bounded = _bounded_rows(rows, label, limits)
    header = next(bounded, None)
    if header is None:
        raise TableError(f"{label} 是空文件：第 1 行应为表头，其下每行一条记录")
    return header, bounded


# -- shared row bounds ----------------------------------------------------------------------------
def _bounded_rows(
    rows: Iterable[list[str]], label: str, limits: TableLimits
) -> Iterator[list[str]]:
    """Trim, check widths and cell lengths, hold back blank runs, stop at too many rows."""
    pending = 0  # blank rows seen but not yet yielded: only yielded if data follows them
    data_rows = 0
    for line_no, row in enumerate(rows, start=1):
        while row and not row[-1]:
            row.pop()
        if len(row) > limits.max_cols:
            raise TableError(
                f"{label} 第 {line_no} 行 超过 {limits.max_cols} 列（第 {len(row)} 列仍有内容），"
                f"请删除多余的列，最多 {limits.max_cols} 列"
            )
        for j, cell in enumerate(row):
            if len(cell) > limits.max_cell_chars:
                raise TableError(
                    f"{label} 第 {line_no} 行 第 {j + 1} 列 超过 {limits.max_cell_chars} 个字符"
                    f"（{len(cell)} 个），请缩短该单元格"
                )
        if line_no == 1:
            yield row  # the header, even if blank: the caller says what a header needs
            continue
        if not row:
            pending += 1
            if pending >= limits.blank_run_stop:
                return
            continue
        data_rows += pending + 1
        if data_rows > limits.max_rows:
            raise TableError(f"{label} 超过 {limits.max_rows} 行数据，请拆分为多个文件分批导入")
        for _ in range(pending):
            yield []
        pending = 0
        yield row


# -- CSV ------------------------------------------------------------------------------------------
def _decode(raw: bytes, label: str) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(
        f"{label} 既不是 UTF-8 也不是 GB18030 编码的 CSV；请在 Excel 中“另存为 CSV UTF-8（逗号分隔）”，"
        "或直接上传 .xlsx 文件"
    )


def _csv_rows(raw: bytes, label: str, limits: TableLimits) -> Iterator[list[str]]:
    text = _decode(raw, label)
    # A physical line longer than the widest legal row is refused before csv splits it, so a
    # header of millions of cells never becomes a list of millions of strings.
    max_line = limits.max_cols * (limits.max_cell_chars + 3) + 2

    def lines() -> Iterator[str]:
        for n, line in enumerate(io.StringIO(text, newline=""), start=1):
            if len(line) > max_line:
                raise TableError(
                    f"{label} 第 {n} 行（物理行）过长（{len(line)} 个字符）：最多 {limits.max_cols} 列、"
                    f"每格 {limits.max_cell_chars} 个字符，请检查分隔符或删除多余内容"
                )
            yield line

    reader = csv.reader(lines())
    try:
        for row in reader:
            yield [c.strip() for c in row]
    except csv.Error as exc:
        raise TableError(
            f"{label} 第 {reader.line_num} 行 不是有效的 CSV（{exc}）；请检查引号是否成对"
        ) from None


# -- XLSX -----------------------------------------------------------------------------------------
def _bad_xlsx(label: str, why: str = "") -> TableError:
    return TableError(
        f"{label} 不是可读取的 Excel .xlsx 文件{f'（{why}）' if why else ''}；"
        "请在 Excel 中“另存为 Excel 工作簿 (*.xlsx)”后重新上传"
    )


def _check_zip(zf: zipfile.ZipFile, label: str, limits: TableLimits) -> None:
    """Refuse bombs from the zip directory, then read every member once, bounded, before openpyxl.

    `zipfile` stops each member at the size its directory entry declares, so the declared sizes
    bound the real work. The scan also finds corrupt deflate streams and CRC errors up front and
    refuses DTDs (entity expansion, XXE) and non-UTF-8 XML, which openpyxl would otherwise parse.
    """
    infos = zf.infolist()
    if len(infos) > limits.max_zip_members:
        raise _bad_xlsx(label, f"压缩包内有 {len(infos)} 个文件，超过 {limits.max_zip_members} 个")
    total = sum(i.file_size for i in infos)
    if total > limits.max_uncompressed_bytes:
        raise _bad_xlsx(
            label, f"解压后 {_mb(total)}，超过 {_mb(limits.max_uncompressed_bytes)} 的上限"
        )
    for info in infos:
        if info.is_dir():
            continue
        shared = info.filename.lower().endswith("sharedstrings.xml")
        strings = 0
        tail = b""
        with zf.open(info) as member:
            first = True
            while chunk := member.read(_SCAN_CHUNK):
                # expat reads UTF-16 too, where the byte patterns below would not match.
                if first and chunk.startswith(_UTF16_STARTS):
                    raise _bad_xlsx(label, f"{info.filename} 不是 UTF-8 编码的 XML")
                first = False
                # Every member is scanned, whatever its name: a content type can point a sheet
                # at any part. The tail carries a pattern split across two chunks.
                window = tail + chunk
                if _DTD.search(window):
                    raise _bad_xlsx(label, f"{info.filename} 含有 DTD 声明")
                if shared:
                    strings += len(_SHARED_STRING.findall(window)) - len(
                        _SHARED_STRING.findall(tail)
                    )
                    if strings > limits.max_shared_strings:
                        raise _bad_xlsx(label, f"共享字符串超过 {limits.max_shared_strings} 个")
                tail = window[-32:]


def _cell(v: object) -> str:
    """A spreadsheet cell as the text a person typed: 320 not 320.0, dates as ISO."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    return str(v).strip()


def _xlsx_rows(raw: bytes, label: str, limits: TableLimits) -> Iterator[list[str]]:
    # openpyxl raises whatever its zip, XML and value parsers raise (KeyError, ValueError,
    # ParseError, zlib.error, TypeError, ...); for an upload every one of them means "bad file",
    # so they are all caught here and nowhere else.
    from openpyxl import load_workbook  # imported here so CSV-only callers do not pay for it

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            _check_zip(zf, label, limits)
        wb = load_workbook(io.BytesIO(raw), read_only=True, data_only=True)
    except TableError:
        raise
    except Exception as exc:  # noqa: BLE001 - see above
        raise _bad_xlsx(label, exc.__class__.__name__) from None
    return _xlsx_iter(wb, label, limits)


def _xlsx_iter(wb: object, label: str, limits: TableLimits) -> Iterator[list[str]]:
    try:
        sheets = wb.worksheets  # type: ignore[attr-defined]
        if not sheets:
            raise _bad_xlsx(label, "没有工作表")
        ws = sheets[0]
        # The declared <dimension> is a claim of the file, not a fact: ignore it, and read one
        # column more than allowed so that data beyond the limit is reported, not dropped.
        ws.reset_dimensions()
        for values in ws.iter_rows(max_col=limits.max_cols + 1, values_only=True):
            yield [_cell(v) for v in values]
    except TableError:
        raise
    except Exception as exc:  # noqa: BLE001 - see _xlsx_rows
        raise _bad_xlsx(label, exc.__class__.__name__) from None
    finally:
        wb.close()  # type: ignore[attr-defined]
