"""Registry import into the database (SQLite, and PostgreSQL when TEST_DATABASE_URL is set): counts,
idempotent re-import, updates, all-or-nothing failure, no personal names stored, placements."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from features.registry import REGISTRY_LIMITS, uscc_check_char
from features.tables import TableError, TableLimits, open_table
from store import firms, orm
from store.db import get_sessionmaker
from tests.fixtures.registry_fixture import HEADER, generate

CLEAN_HEADER = ["企业名称", "统一社会信用代码", "法定代表人", "注册资金", "经营范围", "注册地址"]


def code_for(division: str, serial: str = "MA0000001") -> str:
    body = "91" + division + serial
    return body + uscc_check_char(body)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def run_import(
    url: str, data: bytes, limits: TableLimits = REGISTRY_LIMITS, bureau: str | None = None
):
    header, rows = open_table(data, "registry.csv", limits)
    return firms.import_registry(get_sessionmaker(url), header, rows, bureau=bureau)


def all_firms(url: str) -> list[orm.RegistryFirm]:
    with get_sessionmaker(url)() as s:
        return list(s.scalars(select(orm.RegistryFirm).order_by(orm.RegistryFirm.id)))


def test_import_counts_keeps_flagged_codes_and_dedupes(db_url: str) -> None:
    good = code_for("130534")
    bad = code_for("130102")[:17] + ("0" if code_for("130102")[17] != "0" else "1")
    rows = [
        [
            "测试样本甲有限公司",
            good,
            "测试代表人",
            "300万元人民币",
            "羊绒纱线加工",
            "河北省清河县1号",
        ],
        # The same code written with a space and in lower case: the same firm.
        ["测试样本甲有限公司", f"{good[:8]} {good[8:].lower()}", "测试代表人", "", "羊绒", ""],
        [
            "测试样本乙有限公司",
            bad,
            "测试代表人",
            "6,280(万元人民币)",
            "减速器制造",
            "石家庄市长安区1号",
        ],
        ["测试样本丙有限公司", "N/A", "测试代表人", "50万美元", "物流", "N/A"],
        ["", code_for("130104"), "测试代表人", "", "无名称", ""],
    ]
    report = run_import(db_url, csv_bytes(CLEAN_HEADER, rows), bureau="测试局")
    assert (report.rows_read, report.imported, report.duplicates, report.skipped) == (5, 3, 1, 1)
    assert (report.invalid_codes, report.missing_codes) == (1, 1)
    assert report.unlocated == 1 and report.capital_foreign == 1
    assert report.dropped_personal_columns == ["法定代表人"]
    stored = {f.name: f for f in all_firms(db_url)}
    a, b, c = (
        stored["测试样本甲有限公司"],
        stored["测试样本乙有限公司"],
        stored["测试样本丙有限公司"],
    )
    assert (a.credit_code, a.code_valid, a.county, a.located_by) == (
        good,
        True,
        "清河县",
        "credit_code",
    )
    assert a.capital_wan == 300 and a.bureau == "测试局"
    assert (b.credit_code, b.code_valid, b.credit_code_raw) == (None, False, bad)
    assert (b.county, b.located_by, b.capital_wan) == ("长安区", "address", 6280)
    assert (c.credit_code, c.capital_wan, c.capital_currency, c.capital_amount_wan) == (
        None,
        None,
        "USD",
        50,
    )
    assert c.located_by == "none"


def test_import_never_stores_the_legal_representative(db_url: str) -> None:
    rows = [list(r) for r in generate(200, seed=7)]
    run_import(db_url, csv_bytes(HEADER, rows))
    with get_sessionmaker(db_url)() as s:
        columns = [c.name for c in orm.RegistryFirm.__table__.columns]
        dump = s.execute(select(orm.RegistryFirm.__table__)).all()
    assert not any("法" in c or "legal" in c or "person" in c for c in columns)
    assert len(dump) > 150
    assert not any("测试代表人" in str(v) for row in dump for v in row)


def test_reimport_changes_nothing_and_a_newer_export_updates(db_url: str) -> None:
    data = csv_bytes(HEADER, [list(r) for r in generate(300, seed=3)])
    first = run_import(db_url, data)
    before = [(f.id, f.row_key, f.scope, f.imported_at) for f in all_firms(db_url)]
    second = run_import(db_url, data)
    assert (second.imported, second.updated, second.unchanged) == (0, 0, first.imported)
    assert [(f.id, f.row_key, f.scope, f.imported_at) for f in all_firms(db_url)] == before

    rows = [list(r) for r in generate(300, seed=3)]
    target = next(r for r in rows if len(r[1]) == 18 and r[1].isupper())
    target[6] = "测试：经营范围已变更为工业机器人制造"
    third = run_import(db_url, csv_bytes(HEADER, rows))
    assert (third.imported, third.updated) == (0, 1)
    changed = [f for f in all_firms(db_url) if f.scope == target[6]]
    assert len(changed) == 1 and len(all_firms(db_url)) == len(before)


def test_failure_while_reading_writes_nothing(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Small chunks, so that some rows are inserted before the row past the limit is reached.
    monkeypatch.setattr(firms, "CHUNK", 10)
    data = csv_bytes(HEADER, [list(r) for r in generate(120, seed=5)])
    limits = TableLimits(max_bytes=10**7, max_rows=100)
    with pytest.raises(TableError, match="超过 100 行"):
        run_import(db_url, data, limits)
    assert firms.count_firms(get_sessionmaker(db_url)) == 0


def test_failure_in_the_database_writes_nothing(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(firms, "CHUNK", 10)
    rows = [list(r) for r in generate(60, seed=9)]

    def breaking(original: Iterator[dict]) -> Iterator[dict]:
        for i, r in enumerate(original):
            if i == 35:
                raise RuntimeError("simulated failure after some chunks were written")
            yield r

    real = firms._parse_rows
    monkeypatch.setattr(firms, "_parse_rows", lambda *a, **k: breaking(real(*a, **k)))
    with pytest.raises(RuntimeError):
        run_import(db_url, csv_bytes(HEADER, rows))
    assert firms.count_firms(get_sessionmaker(db_url)) == 0


def test_bad_header_is_refused_with_row_numbered_messages(db_url: str) -> None:
    data = csv_bytes(["公司", "经营范围", "经营范围"], [["测试样本", "x", "y"]])
    with pytest.raises(firms.RegistryFileError) as err:
        run_import(db_url, data)
    joined = "\n".join(err.value.errors)
    assert "第 1 行 缺少必需的列“企业名称”" in joined
    assert "统一社会信用代码" in joined and "第 3 列 表头“经营范围”与第 2 列相同" in joined
    assert firms.count_firms(get_sessionmaker(db_url)) == 0


def test_hostile_cells_are_bounded_before_import(db_url: str) -> None:
    huge = "经" * (REGISTRY_LIMITS.max_cell_chars + 1)
    data = csv_bytes(CLEAN_HEADER, [["测试样本", code_for("130534"), "", "", huge, ""]])
    with pytest.raises(TableError, match="超过"):
        run_import(db_url, data)
    assert firms.count_firms(get_sessionmaker(db_url)) == 0


def test_load_placements_gives_hebei_firms_located_to_a_county(db_url: str) -> None:
    rows = [
        ["测试样本一", code_for("130534"), "", "", "羊绒制品", ""],
        ["测试样本二", code_for("130100"), "", "", "软件开发", "石家庄市裕华路1号"],  # city only
        ["测试样本三", code_for("110105"), "", "", "咨询", ""],  # 北京
        ["测试样本四", "N/A", "", "", "钢材加工", "唐山市丰润区1号"],
    ]
    run_import(db_url, csv_bytes(CLEAN_HEADER, rows))
    sessions = get_sessionmaker(db_url)
    placed = firms.load_placements(sessions)
    assert list(placed.columns) == firms.PLACEMENT_COLUMNS
    assert sorted(placed["name"]) == ["测试样本一", "测试样本四"]
    assert set(placed["county_code"]) == {"130534", "130208"}
    assert len(firms.load_placements(sessions, hebei_only=False)) == 3
    assert firms.count_firms(sessions) == 4
    with sessions() as s:
        summary = firms.registry_summary(s)
    assert summary["total"] == 4 and summary["with_county"] == 3
    shijiazhuang = next(c for c in summary["by_city"] if c["city"] == "石家庄")
    assert shijiazhuang["count"] == 1 and shijiazhuang["counties"] == []


def test_generated_export_imports_and_every_located_firm_has_a_real_division(
    db_url: str, tmp_path: Path
) -> None:
    report = run_import(db_url, csv_bytes(HEADER, [list(r) for r in generate(1500, seed=11)]))
    assert report.imported + report.duplicates + report.skipped == report.rows_read
    assert sum(report.by_city.values()) == report.imported
    with get_sessionmaker(db_url)() as s:
        codes = {r[0] for r in s.execute(text("SELECT DISTINCT county_code FROM registry_firms"))}
    from features.registry import load_divisions

    counties = load_divisions().counties
    assert all(c is None or c in counties for c in codes)


def test_placements_leave_out_firms_that_are_gone(db_url: str) -> None:
    header = ["企业名称", "统一社会信用代码", "经营范围", "登记状态", "所属城市", "所属区县"]
    rows = [
        [
            "测试样本在业",
            code_for("130534", "MA0000011"),
            "羊绒",
            "存续（在营、开业、在册）",
            "",
            "",
        ],
        ["测试样本注销", code_for("130534", "MA0000012"), "羊绒", "注销", "", ""],
        ["测试样本吊销", code_for("130534", "MA0000013"), "羊绒", "吊销，未注销", "", ""],
        ["测试样本无状态", "N/A", "钢材", "", "唐山市", "丰润区"],
    ]
    report = run_import(db_url, csv_bytes(header, rows))
    assert report.imported == 4 and report.located_by == {"credit_code": 3, "region": 1}
    sessions = get_sessionmaker(db_url)
    assert sorted(firms.load_placements(sessions)["name"]) == ["测试样本在业", "测试样本无状态"]
    assert len(firms.load_placements(sessions, active_only=False)) == 4
    gone = {f.name: f.status for f in all_firms(db_url)}
    assert gone["测试样本注销"] == "注销" and gone["测试样本无状态"] is None


def test_a_race_with_another_import_writes_nothing_and_says_so(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [list(r) for r in generate(50, seed=13)]
    held = run_import(db_url, csv_bytes(HEADER, rows)).imported
    # What a concurrent import looks like from here: firms committed by another import after
    # this one looked them up. The unique key refuses them, and this import writes nothing.
    monkeypatch.setattr(firms, "_existing", lambda session, keys: {})
    new = list(rows[0])
    new[0], new[1] = "测试样本新企业", code_for("130534", "MA0000099")
    mixed = csv_bytes(HEADER, [new, *rows])
    with pytest.raises(firms.ConcurrentImport):
        run_import(db_url, mixed)
    assert firms.count_firms(get_sessionmaker(db_url)) == held


def test_nul_characters_in_cells_do_not_sink_the_import(db_url: str) -> None:
    rows = [["测试样本\x00甲", code_for("130534"), "", "300万元", "羊绒\x00纱线", "清河县\x001号"]]
    assert run_import(db_url, csv_bytes(CLEAN_HEADER, rows)).imported == 1
    (firm,) = all_firms(db_url)
    assert (firm.name, firm.scope, firm.address) == ("测试样本甲", "羊绒纱线", "清河县1号")
