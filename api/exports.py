"""Spreadsheet downloads with Chinese headers: CSV (UTF-8 with BOM, so Excel reads it) and .xlsx."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from features.controls import strip_controls

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Bureaus date their sheets in Beijing time, whatever the server's clock zone is.
LOCAL_ZONE = ZoneInfo("Asia/Shanghai")
MIN_WIDTH, MAX_WIDTH = 6, 60


def today() -> date:
    return datetime.now(LOCAL_ZONE).date()


def export_title(subject: str, on: date | None = None) -> str:
    """The sheet's first row: what it is about (a park, an enterprise) and the day it was made."""
    d = on or today()
    return f"{subject}（导出日期：{d.year}年{d.month}月{d.day}日）"


def display_width(value: Any) -> int:
    """Columns a value needs in Excel: a CJK character is about two Latin ones wide."""
    longest = max(str(value).split("\n"), key=len) if value is not None else ""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def fitted_widths(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[int]:
    """Each column as wide as its widest header or cell (first 200 rows), within bounds."""
    widths = [display_width(h) + 2 for h in headers]
    for row in rows[:200]:
        for i, v in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], display_width(v) + 2)
    return [min(MAX_WIDTH, max(MIN_WIDTH, w)) for w in widths]


def safe_cell(v: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe; control
    characters are dropped (a second guard behind validation: XLSX cannot hold them)."""
    if isinstance(v, str):
        v = strip_controls(v)
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def disposition(ascii_name: str, chinese_name: str) -> str:
    """An ASCII filename for old clients and the Chinese one for the rest (RFC 6266)."""
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(chinese_name)}"


def table_response(
    fmt: str,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    ascii_name: str,
    chinese_name: str,
    sheet: str,
    widths: Sequence[int] = (),
    wrap_columns: Sequence[int] = (),
    title: str | None = None,
) -> Response:
    """`fmt` is "csv" or "xlsx"; names are given without the extension.

    The workbook has `title` (if given) merged across its first row, the bold headers below it
    frozen, and columns `widths` wide (or fitted to their content where a width is not given).
    The CSV stays a plain table (headers first), so scripts can read it.
    """
    cells = [[safe_cell(v) for v in row] for row in rows]
    names = disposition(f"{ascii_name}.{fmt}", f"{chinese_name}.{fmt}")
    hdrs = {"Content-Disposition": names, "Cache-Control": "no-store"}
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(headers)
        writer.writerows(cells)
        body = ("\ufeff" + buf.getvalue()).encode("utf-8")
        return Response(body, media_type="text/csv; charset=utf-8", headers=hdrs)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    header_row = 1
    if title:
        ws.append([title])
        ws.cell(row=1, column=1).font = Font(bold=True, size=14)
        if len(headers) > 1:
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
        header_row = 2
    ws.append(list(headers))
    for header in ws[header_row]:
        header.font = Font(bold=True)
    for row in cells:
        ws.append(row)
    fitted = fitted_widths(headers, cells)
    for i, width in enumerate(fitted):
        # openpyxl's letters: chr(ord("A") + i) gave "[" for the 27th column instead of "AA".
        ws.column_dimensions[get_column_letter(i + 1)].width = (
            widths[i] if i < len(widths) else width
        )
    for col in wrap_columns:
        for (cell,) in ws.iter_rows(min_row=header_row + 1, min_col=col, max_col=col):
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = f"A{header_row + 1}"
    ws.print_title_rows = f"{header_row}:{header_row}"  # headers repeat on every printed page
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), media_type=XLSX, headers=hdrs)
