"""Loading the KB into the database is idempotent and atomic, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from features.kb import DATA_DIR, KBError, KnowledgeBase, load_kb
from store import orm
from store.db import get_sessionmaker
from store.kb_sync import sync_kb


def _snapshot(url: str) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    with get_sessionmaker(url)() as s:
        out = {}
        for model in (orm.Zone, orm.City, orm.Chain, orm.Segment, orm.Park, orm.ParkChain):
            table = model.__table__
            out[table.name] = [
                tuple(r) for r in s.execute(select(table).order_by(*table.primary_key.columns))
            ]
        return out


def test_sync_kb_loads_everything(db_url: str, kb: KnowledgeBase) -> None:
    report = sync_kb(get_sessionmaker(db_url), kb)
    assert report.inserted["chains"] == 16
    with get_sessionmaker(db_url)() as s:
        assert s.scalar(select(func.count()).select_from(orm.Park)) == len(kb.parks)
        assert s.scalar(select(func.count()).select_from(orm.Zone)) == 5


def test_sync_kb_twice_changes_nothing(db_url: str, kb: KnowledgeBase) -> None:
    factory = get_sessionmaker(db_url)
    sync_kb(factory, kb)
    before = _snapshot(db_url)
    again = sync_kb(factory, kb)
    assert again.changed == 0
    assert _snapshot(db_url) == before


def test_sync_kb_applies_a_corrected_entry(db_url: str, kb: KnowledgeBase, tmp_path: Path) -> None:
    factory = get_sessionmaker(db_url)
    sync_kb(factory, kb)
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "kb" / "parks.yaml"
    parks = yaml.safe_load(path.read_text(encoding="utf-8"))
    parks[0]["name"] = parks[0]["name"] + "（更正）"
    path.write_text(yaml.safe_dump(parks, allow_unicode=True), encoding="utf-8")
    report = sync_kb(factory, load_kb(data))
    assert report.updated["parks"] == 1 and report.changed == 1
    with factory() as s:
        assert s.get(orm.Park, parks[0]["park_id"]).name.endswith("（更正）")  # type: ignore[union-attr]


def test_broken_kb_file_leaves_database_untouched(
    db_url: str, kb: KnowledgeBase, tmp_path: Path
) -> None:
    factory = get_sessionmaker(db_url)
    sync_kb(factory, kb)
    before = _snapshot(db_url)
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "kb" / "parks.yaml"
    parks = yaml.safe_load(path.read_text(encoding="utf-8"))
    bad_id = parks[3]["park_id"]
    parks[3]["chains"][0]["chain_id"] = "no_such_chain"
    parks[0]["name"] = "不应写入的名字"
    path.write_text(yaml.safe_dump(parks, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KBError) as err:
        sync_kb(factory, load_kb(data))
    message = str(err.value)
    assert "parks.yaml" in message and bad_id in message and "chain_id" in message
    assert _snapshot(db_url) == before


def test_sync_failing_midway_rolls_back(db_url: str, kb: KnowledgeBase) -> None:
    """A database error during the sync (here: a park whose city has no row) writes nothing."""
    factory = get_sessionmaker(db_url)
    sync_kb(factory, kb)
    before = _snapshot(db_url)
    broken = kb.parks[0].model_copy(update={"name": "不应写入", "city": "不存在的城市"})
    bad = KnowledgeBase(
        zones=kb.zones,
        chains=kb.chains,
        parks=(broken, *kb.parks[1:]),
        rules=kb.rules,
        industries=kb.industries,
        gbt_map=kb.gbt_map,
        counties=kb.counties,
    )
    with pytest.raises(IntegrityError) as err:  # the parks → cities foreign key, on both drivers
        sync_kb(factory, bad)
    assert "foreign key" in str(err.value.orig).lower()
    assert _snapshot(db_url) == before
