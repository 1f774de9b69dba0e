"""`python -m api.cli import-registry FILE`: imports, prints the report in Chinese, retrains unless told
not to, and refuses a bad file with nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from api import cli
from api.settings import Settings
from store import firms
from store.db import get_sessionmaker
from tests.fixtures.registry_fixture import write_csv


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", var_dir=tmp_path)
    monkeypatch.setattr(cli, "get_settings", lambda: s)
    return s


def test_import_registry_imports_reports_and_retrains(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    trained: list[bool] = []
    monkeypatch.setattr(cli, "cmd_train", lambda s, force: trained.append(force) or 0)
    path = write_csv(tmp_path / "登记名录.csv", 300, seed=8)
    assert cli.main(["import-registry", str(path), "--bureau", "测试局"]) == 0
    out = capsys.readouterr().out
    assert "读取 300 行" in out and "未能定位到县" in out and "法定代表人" in out
    n = firms.count_firms(get_sessionmaker(settings.database_url))
    assert n > 250 and trained == [False]
    # The same file again: nothing new, so nothing to retrain.
    assert cli.main(["import-registry", str(path)]) == 0
    assert "新导入 0，更新 0" in capsys.readouterr().out
    assert trained == [False]


def test_import_registry_no_train_skips_training(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "cmd_train", lambda s, force: pytest.fail("trained"))
    path = write_csv(tmp_path / "r.csv", 20, seed=1)
    assert cli.main(["import-registry", str(path), "--no-train"]) == 0


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("企业名称,地址\n测试样本,石家庄\n", "缺少必需的列“统一社会信用代码”"),
        (None, "无法读取文件"),
    ],
)
def test_import_registry_bad_file_exits_1_and_writes_nothing(
    settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
    expected: str,
) -> None:
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert cli.main(["import-registry", str(path), "--no-train"]) == 1
    assert expected in capsys.readouterr().err
    assert firms.count_firms(get_sessionmaker(settings.database_url)) == 0
