"""Spreadsheet downloads with Chinese headers: CSV (UTF-8 with BOM, so Excel reads it) and .xlsx."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font

from features.controls import strip_controls

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
) -> Response:
    """`fmt` is "csv" or "xlsx"; names are given without the extension."""
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
    ws.append(list(headers))
    for header in ws[1]:
        header.font = Font(bold=True)
    for row in cells:
        ws.append(row)
    for i, width in enumerate(widths):
        ws.column_dimensions[chr(ord("A") + i)].width = width
    for col in wrap_columns:
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    return Response(out.getvalue(), media_type=XLSX, headers=hdrs)
