"""Spreadsheet exports as a bureau opens them in Excel: letters past Z, widths, title, frozen header."""

from __future__ import annotations

import io
from datetime import date

from openpyxl import load_workbook

from api.exports import export_title, table_response

COLUMNS = 30


def _thirty_column_sheet() -> tuple[list[str], list[list[str]]]:
    headers = [f"指标{i + 1}" for i in range(COLUMNS)]
    rows = [[f"第{r}行第{c + 1}列" for c in range(COLUMNS)] for r in range(1, 4)]
    rows[0][29] = "一段很长很长的说明文字，用来检查最后一列的宽度是否随内容变宽"
    return headers, rows


def test_export_30_columns_opens_with_every_header_in_its_lettered_column() -> None:
    headers, rows = _thirty_column_sheet()
    title = export_title("招商线索：石家庄高新技术产业开发区", date(2026, 12, 2))
    r = table_response(
        "xlsx", headers, rows, ascii_name="t", chinese_name="测试", sheet="线索", title=title
    )
    ws = load_workbook(io.BytesIO(r.body)).active
    assert ws["A1"].value == "招商线索：石家庄高新技术产业开发区（导出日期：2026年12月2日）"
    assert ws["A2"].value == "指标1" and ws["Z2"].value == "指标26"
    assert ws["AA2"].value == "指标27" and ws["AD2"].value == "指标30"
    assert ws["AD3"].value == rows[0][29] and ws["AA5"].value == "第3行第27列"
    assert ws.freeze_panes == "A3"  # title and headers stay in view while scrolling
    assert "A1:AD1" in {str(m) for m in ws.merged_cells.ranges}
    # Widths fit the content: the long Chinese note's column is far wider than a short one's.
    assert ws.column_dimensions["AD"].width > 2 * ws.column_dimensions["AC"].width
    assert all(ws.column_dimensions[c].width >= 6 for c in ("A", "Z", "AA", "AB", "AC"))


def test_export_explicit_widths_win_and_csv_stays_a_plain_table() -> None:
    headers, rows = _thirty_column_sheet()
    x = table_response(
        "xlsx", headers, rows, ascii_name="t", chinese_name="测试", sheet="s", widths=(40,)
    )
    ws = load_workbook(io.BytesIO(x.body)).active
    assert ws["A1"].value == "指标1" and ws.freeze_panes == "A2"  # no title: headers first
    assert ws.column_dimensions["A"].width == 40
    c = table_response(
        "csv", headers, rows, ascii_name="t", chinese_name="测试", sheet="s", title="标题"
    )
    text = bytes(c.body).decode("utf-8-sig")
    assert text.splitlines()[0].split(",")[29] == "指标30"  # no title row in the CSV
