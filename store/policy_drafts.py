"""Policy drafts waiting for review, and the record of what an admin applied."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.orm import PolicyDraft, utcnow

LISTED = 50


def save_draft(
    factory: sessionmaker[Session],
    text: str,
    draft: dict[str, Any],
    items: list[dict[str, Any]],
) -> str:
    draft_id = uuid.uuid4().hex[:16]
    doc = draft.get("document") or {}
    with factory.begin() as s:
        s.add(
            PolicyDraft(
                draft_id=draft_id,
                document_id=doc.get("document_id") or "unknown",
                title=doc.get("title"),
                text=text,
                draft=draft,
                items=items,
                status="待审核",
                accepted=[],
            )
        )
    return draft_id


def get_draft(factory: sessionmaker[Session], draft_id: str) -> PolicyDraft | None:
    with factory() as s:
        row = s.get(PolicyDraft, draft_id[:40])
        if row is not None:
            s.expunge(row)
        return row


def list_drafts(factory: sessionmaker[Session]) -> list[PolicyDraft]:
    with factory() as s:
        rows = list(
            s.scalars(select(PolicyDraft).order_by(PolicyDraft.created_at.desc()).limit(LISTED))
        )
        for r in rows:
            s.expunge(r)
        return rows


def mark_applied(
    session: Session, draft_id: str, accepted: list[str], document: dict[str, Any]
) -> None:
    """Record, inside the transaction that applies the records, which ones were accepted."""
    row = session.get(PolicyDraft, draft_id)
    if row is not None:
        row.status = "已应用"
        row.applied_at = utcnow()
        row.accepted = accepted
        row.title = document.get("title") or row.title
