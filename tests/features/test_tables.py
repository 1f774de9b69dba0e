"""The bounded table reader: hostile and careless files are refused or bounded before parsing."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from features.tables import TableError, TableLimits, open_table
from tests.hostile import dimension_bomb, malformed_workbooks, sheet_xml, xlsx, zip_bomb

LIMITS = TableLimits(max_bytes=5 * 1024 * 1024, max_rows=50_000)
GOOD = [["企业编号", "主营业务描述"], ["a1", "生产汽车零部件"]]


def read(data: bytes, name: str, limits: TableLimits = LIMITS) -> tuple[list[str], list[list[str]]]:
    header, rows = open_table(data, name, limits)
    return header, list(rows)


def test_read_xlsx_ignores_declared_dimension_within_bounds() -> None:
    data = dimension_bomb(GOOD)
    assert len(data) < 2000
    tracemalloc.start()
    try:
        header, rows = read(data, "bomb.xlsx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert header == GOOD[0]
    assert rows == [GOOD[1]]  # the empty cell at row 1048576 lies past a run of blank rows
    assert peak < 20 * 1024 * 1024


def test_read_xlsx_refuses_zip_bomb_from_its_directory() -> None:
    data = zip_bomb(3 * 1024 * 1024)
    assert len(data) < 50_000
    with pytest.raises(TableError, match="解压后"):
        open_table(
            data,
            "bomb.xlsx",
            TableLimits(max_bytes=10**6, max_rows=10, max_uncompressed_bytes=2 * 1024 * 1024),
        )


def test_read_xlsx_refuses_too_many_zip_members() -> None:
    data = xlsx(sheet_xml(GOOD), extra={f"x/{i}.bin": b"" for i in range(20)})
    with pytest.raises(TableError, match="个文件"):
        open_table(data, "many.xlsx", TableLimits(max_bytes=10**6, max_rows=10, max_zip_members=10))


@pytest.mark.parametrize("kind", sorted(malformed_workbooks()))
def test_read_xlsx_malformed_is_table_error(kind: str) -> None:
    data = malformed_workbooks()[kind]
    with pytest.raises(TableError, match="不是可读取的 Excel .xlsx 文件") as info:
        read(data, f"{kind}.xlsx")
    assert "另存为" in info.value.args[0]


def test_read_xlsx_refuses_data_beyond_max_cols() -> None:
    row = ["x"] * 5
    with pytest.raises(TableError, match="超过 4 列"):
        read(
            xlsx(sheet_xml([row])),
            "wide.xlsx",
            TableLimits(max_bytes=10**6, max_rows=10, max_cols=4),
        )


def test_read_xlsx_refuses_long_cell() -> None:
    with pytest.raises(TableError, match="第 2 行 第 2 列 超过 4000 个字符"):
        read(xlsx(sheet_xml([GOOD[0], ["a", "长" * 4001]])), "long.xlsx")


def test_read_xlsx_keeps_blank_rows_between_data() -> None:
    header, rows = read(xlsx(sheet_xml([GOOD[0], GOOD[1], [], [], GOOD[1], [], []])), "gaps.xlsx")
    assert rows == [GOOD[1], [], [], GOOD[1]]


def test_read_rows_stop_after_blank_run() -> None:
    body = [GOOD[0], GOOD[1]] + [[]] * 5 + [GOOD[1]]
    limits = TableLimits(max_bytes=10**6, max_rows=100, blank_run_stop=5)
    _, rows = read(xlsx(sheet_xml(body)), "run.xlsx", limits)
    assert rows == [GOOD[1]]


def test_read_rows_refuses_more_than_max_rows() -> None:
    csv_text = "企业编号,主营业务描述\n" + "a,生产汽车零部件\n" * 11
    with pytest.raises(TableError, match="超过 10 行数据"):
        read(csv_text.encode(), "rows.csv", TableLimits(max_bytes=10**6, max_rows=10))


def test_read_csv_drops_empty_trailing_header_cells() -> None:
    # The 110 KB file: 10,000 empty header cells over 50,000 rows took 15.6 s of CPU,
    # because each blank header cell was checked against every row. Trailing blanks are gone
    # while reading, so the caller's work depends on the real columns only.
    text = "企业编号,主营业务描述" + "," * 10_000 + "\n" + "a,b,,,\n" * 50_000
    header, rows = read(text.encode(), "wide.csv")
    assert header == GOOD[0] and len(rows) == 50_000
    assert all(r == ["a", "b"] for r in rows)


def test_read_csv_refuses_header_of_millions_of_cells() -> None:
    text = ",".join(f"h{i}" for i in range(600_000)) + "\n"
    assert len(text) < 5 * 1024 * 1024
    with pytest.raises(TableError, match="过长"):
        read(text.encode(), "header.csv")


def test_read_csv_refuses_more_columns_than_allowed() -> None:
    text = ",".join(f"h{i}" for i in range(65)) + "\n"
    with pytest.raises(TableError, match="超过 64 列"):
        read(text.encode(), "cols.csv")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_read_csv_accepts_utf8_bom_and_gb18030(encoding: str) -> None:
    text = "企业编号,主营业务描述\r\n a1 ,生产汽车零部件\r\n"
    header, rows = read(text.encode(encoding), "enc.csv")
    assert header == GOOD[0] and rows == [GOOD[1]]


def test_read_csv_refuses_undecodable_bytes() -> None:
    with pytest.raises(TableError, match="GB18030"):
        read(b"\xff\xfe\xfa,\x81\n", "bad.csv")


def test_read_csv_refuses_unclosed_quote_with_message() -> None:
    with pytest.raises(TableError, match="不是有效的 CSV"):
        read(('a,b\n"x' + "y" * 200_000 + "\n").encode(), "quote.csv")


def test_read_refuses_oversized_stream_before_parsing() -> None:
    stream = io.BytesIO(b"a,b\n" * 1000)
    with pytest.raises(TableError, match="超过"):
        open_table(stream, "big.csv", TableLimits(max_bytes=100, max_rows=10))


def test_read_refuses_other_suffix_and_empty_file() -> None:
    with pytest.raises(TableError, match="只支持"):
        open_table(b"a,b", "x.xls", LIMITS)
    with pytest.raises(TableError, match="空文件"):
        open_table(b"", "x.csv", LIMITS)


def test_read_xlsx_magic_without_suffix_is_xlsx() -> None:
    header, rows = read(xlsx(sheet_xml(GOOD)), "upload")
    assert header == GOOD[0] and rows == [GOOD[1]]
    assert zipfile.is_zipfile(io.BytesIO(xlsx(sheet_xml(GOOD))))


def test_read_xlsx_written_by_openpyxl_gives_typed_text() -> None:
    from datetime import date

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["企业编号", "员工人数", "研发投入强度", "成立日期", "是否高新"])
    ws.append(["  a1 ", 320.0, 0.05, date(2020, 1, 2), True])
    buf = io.BytesIO()
    wb.save(buf)
    header, rows = read(buf.getvalue(), "typed.xlsx")
    assert rows == [["a1", "320", "0.05", "2020-01-02T00:00:00", "是"]]


def test_history_read_csv_goes_through_the_bounded_reader(tmp_path: Path) -> None:
    from features.history import HistoryError, read_csv

    path = tmp_path / "e.csv"
    path.write_bytes("enterprise_id,description\nE1,生产羊绒衫\n\nE2\n".encode("gb18030"))
    frame = read_csv(path)
    assert frame.to_dict("records") == [
        {"enterprise_id": "E1", "description": "生产羊绒衫"},
        {"enterprise_id": "E2", "description": ""},
    ]
    path.write_bytes(xlsx(sheet_xml(GOOD))[:300])
    path.rename(tmp_path / "e.xlsx")
    with pytest.raises(HistoryError, match="不是可读取的 Excel"):
        read_csv(tmp_path / "e.xlsx")
