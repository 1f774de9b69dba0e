"""The command line a bureau's administrator uses: every subcommand parses and does its job."""

from __future__ import annotations

from pathlib import Path

import pytest

from api import cli
from api.auth import hash_token
from api.settings import Settings
from store import orm
from store.db import get_sessionmaker


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", var_dir=tmp_path)
    monkeypatch.setattr(cli, "get_settings", lambda: s)
    return s


def test_create_token_prints_a_token_and_stores_only_its_hash(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["create-token", "--name", "唐山市商务局", "--role", "bureau"]) == 0
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert len(token) >= 32
    with get_sessionmaker(settings.database_url)() as s:
        row = s.query(orm.ApiToken).one()
    assert (
        row.role == "bureau" and row.token_hash == hash_token(token) and token not in row.token_hash
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["setup", "--help"],
        ["serve", "--help"],
        ["load-kb", "--help"],
        ["train", "--help"],
        ["create-token", "--help"],
        ["import-history", "--help"],
    ],
)
def test_every_subcommand_parses(argv: list[str], settings: Settings) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0


def test_load_kb_twice_changes_nothing(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["load-kb"]) == 0
    assert cli.main(["load-kb"]) == 0
    assert "新增 0，更新 0，删除 0" in capsys.readouterr().out
