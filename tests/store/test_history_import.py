"""A bureau's history imports whole or not at all, with row-numbered Chinese errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from features.history import HistoryError, read_csv, validate_history
from features.kb import KnowledgeBase
from store import orm
from store.db import get_sessionmaker
from store.history import import_history, read_history
from store.kb_sync import sync_kb

ENTERPRISES = """enterprise_id,name,description,industry_code,products,employees,annual_revenue_wan,investment_wan,rd_intensity,energy_tce,land_mu,origin,created_at
E1,甲公司,生产羊绒纱线和羊绒衫,C1721,羊绒衫；羊绒纱线,200,12000,5000,0.02,800,30,河北,2023-05-01
E2,乙公司,研发生产工业机器人和伺服电机,C3491,,320,45000,30000,0.06,1800,80,北京,2024-01-10
"""


def _counts(url: str) -> tuple[int, int]:
    with get_sessionmaker(url)() as s:
        return (
            int(s.scalar(select(func.count()).select_from(orm.Enterprise)) or 0),
            int(s.scalar(select(func.count()).select_from(orm.Interaction)) or 0),
        )


def _interactions(kb: KnowledgeBase, rows: list[str]) -> str:
    return "enterprise_id,park_id,kind,occurred_at\n" + "\n".join(rows) + "\n"


def test_import_history_writes_both_files(db_url: str, kb: KnowledgeBase, tmp_path: Path) -> None:
    sync_kb(get_sessionmaker(db_url), kb)
    park = kb.parks[0].park_id
    (tmp_path / "e.csv").write_text(ENTERPRISES, encoding="utf-8")
    (tmp_path / "i.csv").write_text(
        _interactions(kb, [f"E1,{park},visited,2023-06-01", f"E1,{park},settled,2023-09-01"]),
        encoding="utf-8",
    )
    ents, inter = validate_history(
        read_csv(tmp_path / "e.csv"),
        read_csv(tmp_path / "i.csv"),
        kb.industries,
        [p.park_id for p in kb.parks],
    )
    assert import_history(get_sessionmaker(db_url), ents, inter, record_source="import") == (2, 2)
    e, i = read_history(get_sessionmaker(db_url))
    assert set(e["external_id"]) == {"E1", "E2"} and list(i["kind"]) == ["visited", "settled"]
    by_external = e.set_index("external_id")
    assert by_external.loc["E1", "products"] == "羊绒衫；羊绒纱线"
    # Interactions name the record id, as every API answer does, never the imported id.
    assert set(i["enterprise_id"]) == {by_external.loc["E1", "enterprise_id"]}


def test_import_history_bad_rows_reject_the_whole_file(
    db_url: str, kb: KnowledgeBase, tmp_path: Path
) -> None:
    sync_kb(get_sessionmaker(db_url), kb)
    before = _counts(db_url)
    bad_ents = ENTERPRISES + "E3,丙公司,短,C9999,,-4,,,5,,,火星,昨天\n"
    park = kb.parks[0].park_id
    bad_inter = _interactions(
        kb, [f"E1,{park},settled,2023-09-01", "E9,no_such_park,married,someday"]
    )
    with pytest.raises(HistoryError) as err:
        validate_history(
            pd.read_csv(pd.io.common.StringIO(bad_ents), dtype=str, keep_default_na=False),
            pd.read_csv(pd.io.common.StringIO(bad_inter), dtype=str, keep_default_na=False),
            kb.industries,
            [p.park_id for p in kb.parks],
        )
    text = "\n".join(err.value.errors)
    for expected in (
        "enterprises.csv 第 4 行 description",
        "industry_code “C9999”",
        "employees = -4",
        "rd_intensity = 5",
        "origin “火星”",
        "created_at “昨天”",
        "interactions.csv 第 3 行 enterprise_id “E9”",
        "park_id “no_such_park”",
        "kind “married”",
        "occurred_at “someday”",
    ):
        assert expected in text, expected
    assert _counts(db_url) == before


def test_import_history_cli_reports_errors_and_writes_nothing(
    tmp_path: Path, kb: KnowledgeBase, capsys: pytest.CaptureFixture[str]
) -> None:
    from api.cli import cmd_import_history, cmd_load_kb
    from api.settings import Settings

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", var_dir=tmp_path)
    assert cmd_load_kb(settings) == 0
    (tmp_path / "e.csv").write_text(ENTERPRISES, encoding="utf-8")
    (tmp_path / "i.csv").write_text(
        _interactions(kb, ["E1,no_such_park,settled,2023-09-01"]), encoding="utf-8"
    )
    assert cmd_import_history(settings, str(tmp_path / "e.csv"), str(tmp_path / "i.csv")) == 1
    assert "no_such_park" in capsys.readouterr().err
    assert _counts(settings.database_url) == (0, 0)
