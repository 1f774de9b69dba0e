"""The command line a bureau's administrator uses, run as they run it (`python -m api.cli …` in its
own process, configured by DATABASE_URL and VAR_DIR): every subcommand parses, and load-kb,
create-token and import-history do their jobs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api import cli
from api.auth import hash_token
from api.settings import Settings
from features.kb import KnowledgeBase
from store import orm
from store.db import get_sessionmaker, migrate
from store.kb_sync import sync_kb
from tests.conftest import ROOT


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    s = Settings(database_url=f"sqlite:///{tmp_path / 'cli.db'}", var_dir=tmp_path)
    monkeypatch.setattr(cli, "get_settings", lambda: s)
    return s


def run_cli(settings: Settings, *argv: str) -> subprocess.CompletedProcess[str]:
    """`python -m api.cli *argv` from a directory of its own (no .env), on `settings`' database."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("ADMIN_TOKEN", "DATABASE_URL")},
        "DATABASE_URL": settings.database_url,
        "VAR_DIR": str(settings.var_dir),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *argv],
        cwd=settings.var_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _count(settings: Settings, table: type[orm.Base]) -> int:
    with get_sessionmaker(settings.database_url)() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


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


def test_load_kb_fills_an_empty_database_and_a_second_run_changes_nothing(
    settings: Settings, kb: KnowledgeBase
) -> None:
    first = run_cli(settings, "load-kb")
    assert first.returncode == 0, first.stderr
    inserted = re.search(r"新增 (\d+)，更新 (\d+)，删除 (\d+) 行", first.stdout)
    assert inserted and int(inserted.group(1)) > len(kb.parks), first.stdout
    assert _count(settings, orm.Park) == len(kb.parks)
    assert _count(settings, orm.Chain) == len(kb.chains)

    second = run_cli(settings, "load-kb")
    assert second.returncode == 0, second.stderr
    assert "新增 0，更新 0，删除 0 行" in second.stdout
    assert _count(settings, orm.Park) == len(kb.parks)


def test_create_token_prints_a_token_once_and_stores_only_its_hash(settings: Settings) -> None:
    r = run_cli(settings, "create-token", "--name", "唐山市商务局", "--role", "admin")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) >= 32  # the token alone, on standard output
    token = lines[0]
    assert token not in r.stderr  # and never in the log
    with get_sessionmaker(settings.database_url)() as s:
        row = s.scalars(select(orm.ApiToken)).one()
    assert row.name == "唐山市商务局" and row.role == "admin"
    assert row.token_hash == hash_token(token)
    stored = Path(settings.database_url.removeprefix("sqlite:///")).read_bytes()
    assert token.encode() not in stored


def _history(folder: Path, park_id: str) -> tuple[Path, Path]:
    enterprises = folder / "enterprises.csv"
    enterprises.write_text(
        "enterprise_id,description,origin,employees\n"
        "E1,生产工业机器人减速器和伺服电机,北京,320\n"
        "E2,高效光伏电池组件和逆变器制造,天津,800\n",
        encoding="utf-8",
    )
    interactions = folder / "interactions.csv"
    interactions.write_text(
        f"enterprise_id,park_id,kind,occurred_at\nE1,{park_id},signed,2024-03-01\n",
        encoding="utf-8",
    )
    return enterprises, interactions


def test_import_history_is_all_or_nothing(settings: Settings, kb: KnowledgeBase) -> None:
    migrate(settings.database_url)
    sync_kb(get_sessionmaker(settings.database_url), kb)
    ents, inter = _history(settings.var_dir, "no_such_park")
    bad = run_cli(
        settings, "import-history", "--enterprises", str(ents), "--interactions", str(inter)
    )
    assert bad.returncode == 1
    assert "未写入任何数据" in bad.stderr and "no_such_park" in bad.stderr
    assert _count(settings, orm.Enterprise) == 0 and _count(settings, orm.Interaction) == 0

    ents, inter = _history(settings.var_dir, kb.parks[0].park_id)
    good = run_cli(
        settings, "import-history", "--enterprises", str(ents), "--interactions", str(inter)
    )
    assert good.returncode == 0, good.stderr
    assert "已导入 2 家企业、1 条互动记录" in good.stdout
    assert _count(settings, orm.Enterprise) == 2 and _count(settings, orm.Interaction) == 1
