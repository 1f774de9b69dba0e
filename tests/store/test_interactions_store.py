"""Persistence of enterprise records and interactions on SQLite and (with TEST_DATABASE_URL) PostgreSQL:
idempotency under concurrent retries, whole-or-nothing imports, and reading interactions for training."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pandas as pd
import pytest
from sqlalchemy import func, select

from features.kb import KnowledgeBase
from store import orm
from store.db import get_sessionmaker
from store.enterprises import (
    DuplicateExternalIds,
    IdempotencyConflict,
    NewInteraction,
    UnknownReference,
    create_enterprise,
    import_enterprises,
    list_interactions,
    record_interaction,
)
from store.history import read_history
from store.kb_sync import sync_kb

THREADS = 16


@pytest.fixture
def db(db_url: str, kb: KnowledgeBase) -> str:
    sync_kb(get_sessionmaker(db_url), kb)
    return db_url


def _enterprise(url: str, external_id: str | None = None) -> int:
    row = create_enterprise(
        get_sessionmaker(url),
        {
            "external_id": external_id,
            "name": "保定测试新能源有限公司",
            "description": "研发生产锂离子电池和储能系统",
            "industry_code": "C3841",
            "products": ["储能电池", "电池管理系统"],
        },
        record_source="bureau",
        consent=True,
    )
    return row.id


def _count(url: str, model: type[orm.Base]) -> int:
    with get_sessionmaker(url)() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_record_interaction_concurrent_same_key_makes_one_row(db: str, kb: KnowledgeBase) -> None:
    eid = _enterprise(db)
    new = NewInteraction(eid, kb.parks[0].park_id, "settled", note="并发重试")
    key = f"race-{uuid.uuid4()}"
    start = threading.Barrier(THREADS)
    factory = get_sessionmaker(db)

    def attempt(_: int) -> tuple[int, bool]:
        start.wait()
        row, created = record_interaction(factory, key, new)
        return row.id, created

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = list(pool.map(attempt, range(THREADS)))

    assert sum(created for _, created in results) == 1
    assert len({row_id for row_id, _ in results}) == 1
    with factory() as s:
        rows = s.scalars(select(orm.Interaction).where(orm.Interaction.idempotency_key == key))
        assert len(rows.all()) == 1
    assert _count(db, orm.Interaction) == 1


def test_record_interaction_sequential_retry_returns_the_same_row(
    db: str, kb: KnowledgeBase
) -> None:
    eid = _enterprise(db)
    when = datetime(2024, 5, 20, 2, 0, tzinfo=UTC)
    new = NewInteraction(eid, kb.parks[0].park_id, "visited", note=None, occurred_at=when)
    factory = get_sessionmaker(db)
    first, created = record_interaction(factory, "retry-key-1", new)
    again, created_again = record_interaction(factory, "retry-key-1", new)
    assert (created, created_again) == (True, False)
    assert again.id == first.id and again.occurred_at.replace(tzinfo=UTC) == when
    assert _count(db, orm.Interaction) == 1


def test_record_interaction_key_reuse_with_other_content_raises(db: str, kb: KnowledgeBase) -> None:
    eid = _enterprise(db)
    factory = get_sessionmaker(db)
    park = kb.parks[0].park_id
    record_interaction(factory, "reused-key", NewInteraction(eid, park, "contacted", None))
    with pytest.raises(IdempotencyConflict) as err:
        record_interaction(factory, "reused-key", NewInteraction(eid, park, "declined", "不谈了"))
    assert err.value.differences == ["kind", "note"]
    assert _count(db, orm.Interaction) == 1


@pytest.mark.parametrize("bad", ["enterprise_id", "park_id"])
def test_record_interaction_unknown_reference_raises(db: str, kb: KnowledgeBase, bad: str) -> None:
    eid = _enterprise(db)
    new = NewInteraction(
        eid if bad != "enterprise_id" else eid + 1000,
        kb.parks[0].park_id if bad != "park_id" else "no_such_park",
        "viewed",
        None,
    )
    with pytest.raises(UnknownReference) as err:
        record_interaction(get_sessionmaker(db), f"k-{bad}-123", new)
    assert err.value.field == bad
    assert _count(db, orm.Interaction) == 0


def test_recorded_interactions_are_read_for_training(db: str, kb: KnowledgeBase) -> None:
    eid = _enterprise(db, external_id="E-TRAIN-1")
    factory = get_sessionmaker(db)
    park = kb.parks[1].park_id
    for i, kind in enumerate(["contacted", "visited", "settled"]):
        record_interaction(factory, f"train-key-{i}", NewInteraction(eid, park, kind, None))
    ents, inter = read_history(factory)
    assert list(ents["external_id"]) == ["E-TRAIN-1"] and list(ents["enterprise_id"]) == [str(eid)]
    assert sorted(inter["kind"]) == ["contacted", "settled", "visited"]
    assert set(inter["enterprise_id"]) == {str(eid)} and set(inter["park_id"]) == {park}
    with factory() as s:
        rows, count = list_interactions(
            s, enterprise_id=eid, park_id=None, kind="settled", limit=10, offset=0
        )
    assert count == 1 and rows[0].kind == "settled"


def test_create_enterprise_concurrent_same_external_id_makes_one_row(db: str) -> None:
    start = threading.Barrier(8)

    def attempt(_: int) -> str:
        start.wait()
        try:
            _enterprise(db, external_id="SAME-ID")
        except DuplicateExternalIds:
            return "duplicate"
        return "created"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(attempt, range(8)))
    assert outcomes == ["created"] + ["duplicate"] * 7
    assert _count(db, orm.Enterprise) == 1


def _frame(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "enterprise_id": ids,
            "name": [f"企业{i}" for i in ids],
            "description": ["生产羊绒纱线和羊绒衫"] * len(ids),
            "industry_code": ["C1721"] * len(ids),
            "products": ["羊绒衫、羊绒纱线"] * len(ids),
            "employees": [200] * len(ids),
            "annual_revenue_wan": [None] * len(ids),
            "investment_wan": [None] * len(ids),
            "rd_intensity": [0.02] * len(ids),
            "energy_tce": [None] * len(ids),
            "land_mu": [None] * len(ids),
            "origin": ["河北"] * len(ids),
            "created_at": [pd.NaT] * len(ids),
        }
    )


def test_import_enterprises_is_all_or_nothing(db: str) -> None:
    factory = get_sessionmaker(db)
    assert import_enterprises(factory, _frame(["A1", "A2"])) == 2
    with factory() as s:
        a1 = s.scalars(select(orm.Enterprise).where(orm.Enterprise.external_id == "A1")).one()
        assert a1.products == ["羊绒衫", "羊绒纱线"] and a1.record_source == "import"
    with pytest.raises(DuplicateExternalIds) as err:
        import_enterprises(factory, _frame(["B1", "A2", "B2"]))
    assert list(err.value.existing) == ["A2"]
    assert _count(db, orm.Enterprise) == 2
