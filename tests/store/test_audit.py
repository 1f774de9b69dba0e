"""The match audit's writer thread: every answered match is written, in the order answered, even
past a full queue, a row the database refuses, or a shutdown."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, text

from store import orm
from store.audit import AuditRow, AuditWriter
from store.db import get_sessionmaker, migrate


def row(i: int, request_id: str | None = None) -> AuditRow:
    return AuditRow(
        request_id=request_id or f"req-{i:04d}",
        model_version="test",
        request={"industry_code": None, "top_k": 10, "anonymous": True},
        response={"request_id": request_id or f"req-{i:04d}", "parks": [], "chains": []},
        duration_ms=1.0,
        channel="api",
    )


def written(url: str) -> list[str]:
    with get_sessionmaker(url)() as s:
        return list(s.scalars(select(orm.MatchRequest.request_id)).all())


def test_close_writes_every_row_in_the_order_answered(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate(url)
    writer = AuditWriter(get_sessionmaker(url), max_rows=4)  # submits outrun it and must wait
    for i in range(300):
        writer.submit(row(i))
    writer.close()
    with get_sessionmaker(url)() as s:
        in_order = s.scalars(text("SELECT request_id FROM match_requests ORDER BY rowid")).all()
    assert list(in_order) == [f"req-{i:04d}" for i in range(300)]


def test_flush_makes_submitted_rows_readable_without_waiting_for_the_interval(db_url: str) -> None:
    writer = AuditWriter(get_sessionmaker(db_url), interval=600)
    try:
        writer.submit(row(1))
        writer.submit(row(2))
        assert writer.flush(timeout=20)  # the writer would otherwise wait ten minutes for more
        assert sorted(written(db_url)) == ["req-0001", "req-0002"]
    finally:
        writer.close()


def test_a_refused_row_does_not_cost_the_others_theirs(db_url: str) -> None:
    writer = AuditWriter(get_sessionmaker(db_url))
    writer.submit(row(1))
    assert writer.flush()
    for i in range(2, 40):  # one of them repeats a request id already written
        writer.submit(row(i, request_id="req-0001" if i == 20 else None))
    writer.close()
    got = written(db_url)
    assert sorted(got) == [f"req-{i:04d}" for i in range(1, 40) if i != 20]


def test_a_row_submitted_after_close_is_still_written(db_url: str) -> None:
    writer = AuditWriter(get_sessionmaker(db_url))
    writer.close()
    writer.submit(row(7))
    assert written(db_url) == ["req-0007"]
