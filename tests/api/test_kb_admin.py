"""The admin's KB preview: an edited copy of the files, shown as records added, changed and removed
against the KB being served, or as the checker's problems; bureau tokens may not see it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from features.kb import DATA_DIR, KnowledgeBase
from features.kb_check import load_kb_for
from features.kb_diff import diff_kb
from tests.conftest import ADMIN_TOKEN, LiveServer, post_form
from tests.features.test_kb_check import edit_yaml


def _change_three(kb_dir: Path) -> None:
    """One park renamed, one rule re-weighted, one park added, one gbt mapping removed."""

    def parks(ps: list[dict[str, Any]]) -> None:
        ps[0]["name"] = "廊坊数控机床产业基地（更名）"
        ps.append({**ps[1], "park_id": "baoding_new_base", "name": "保定新基地"})

    edit_yaml(kb_dir / "parks.yaml", parks)
    edit_yaml(kb_dir / "rules.yaml", lambda rs: rs[1].update(weight=0.15))
    edit_yaml(kb_dir / "gbt_chain_map.yaml", lambda ms: ms.pop(0))


def test_diff_kb_names_added_changed_and_removed_records(tmp_path: Path, kb: KnowledgeBase) -> None:
    shutil.copytree(DATA_DIR / "kb", tmp_path / "kb")
    _change_three(tmp_path / "kb")
    changes = diff_kb(kb, load_kb_for(tmp_path / "kb"))
    got = {(c.action, c.kind, c.record_id) for c in changes}
    removed_code = next(c.record_id for c in changes if c.action == "removed")
    assert got == {
        ("changed", "parks", "langfang_cnc_machine_tools"),
        ("added", "parks", "baoding_new_base"),
        ("changed", "rules", "xiongan_high_end_priority"),
        ("removed", "gbt_map", removed_code),
    }
    rule = next(c for c in changes if c.kind == "rules")
    assert [(f.field, f.before, f.after) for f in rule.fields] == [("weight", "0.2", "0.15")]
    assert diff_kb(kb, kb) == []


@pytest.fixture
def kb_server(tmp_path: Path, trained_settings: Settings) -> Iterator[tuple[LiveServer, Path]]:
    """A server whose KB files live in a copy the test may edit after it started."""
    shutil.copytree(DATA_DIR, tmp_path / "data")
    settings = trained_settings.model_copy(
        update={"data_dir": tmp_path / "data", "leads_warm": False}
    )
    with LiveServer(settings) as server:
        yield server, tmp_path / "data" / "kb"


@contextmanager
def _login(server: LiveServer, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        r = post_form(client, "/bureau/login", {"token": token, "next": "/bureau"})
        assert r.status_code in (200, 303)
        yield client


def test_kb_preview_page_shows_the_edits_before_they_are_applied(
    kb_server: tuple[LiveServer, Path],
) -> None:
    server, kb_dir = kb_server
    with _login(server, ADMIN_TOKEN) as admin:
        same = admin.get("/bureau/kb")
        assert same.status_code == 200 and "没有需要应用的变更" in same.text
        _change_three(kb_dir)
        r = admin.get("/bureau/kb")
        assert r.status_code == 200
        assert "新增 1 条" in r.text and "修改 2 条" in r.text and "删除 1 条" in r.text
        assert "廊坊数控机床产业基地（更名）" in r.text and "baoding_new_base" in r.text
        assert "<del>0.2</del> → <ins>0.15</ins>" in r.text
        # Nothing was applied: the served KB is unchanged.
        park = admin.get("/v1/parks/langfang_cnc_machine_tools").json()
        assert park["name"] == "廊坊数控机床基地"

        edit_yaml(kb_dir / "rules.yaml", lambda rs: rs[0].pop("source"))
        broken = admin.get("/bureau/kb")
        assert "不能应用" in broken.text and "缺少此字段" in broken.text
        assert "rules.yaml" in broken.text


def test_kb_preview_is_for_admins_only(
    kb_server: tuple[LiveServer, Path], bureau_token: str
) -> None:
    server, _ = kb_server
    with _login(server, bureau_token) as bureau:
        r = bureau.get("/bureau/kb")
        assert r.status_code == 403 and "管理员" in r.text
