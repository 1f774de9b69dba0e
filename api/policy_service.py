"""Draft a policy document into a KB, keep it for review, and apply what an admin accepts: the one
place the API (/v1/policies/drafts) and the admin pages (/bureau/admin/policies) call."""

from __future__ import annotations

import threading
from dataclasses import asdict
from typing import Any

from api.deps import AppState
from api.errors import AppError, NotFound
from api.kb_service import serve_kb
from features.draft.build import Draft, draft_kb
from features.draft.review import overlay, review_items
from features.kb import KBError
from store.kb_sync import apply_policy
from store.policy_drafts import get_draft, mark_applied, save_draft

_apply_lock = threading.Lock()  # one apply at a time: each rewrites the KB files


def draft_document(state: AppState, text: str) -> tuple[str, Draft, list[dict[str, Any]]]:
    draft = draft_kb(text, state.kb, data_dir=state.settings.data_dir)
    items = review_items(draft, state.kb)
    payload = {k: v for k, v in asdict(draft).items() if k != "text"}
    draft_id = save_draft(state.sessions, draft.text, payload, items)
    return draft_id, draft, items


def load_draft(state: AppState, draft_id: str) -> tuple[Draft, list[dict[str, Any]], str]:
    row = get_draft(state.sessions, draft_id)
    if row is None:
        raise NotFound(f"草稿 {draft_id} 不存在，请重新上传政策文件")
    d = row.draft
    draft = Draft(
        document=d.get("document") or {},
        zones=d.get("zones") or [],
        chains=d.get("chains") or [],
        parks=d.get("parks") or [],
        rules=d.get("rules") or [],
        problems=d.get("problems") or [],
        text=row.text,
    )
    return draft, row.items, row.status


def apply_draft(
    state: AppState, draft_id: str, accept: list[str], document: dict[str, Any] | None
) -> dict[str, Any]:
    """Apply the accepted records of a draft; 422 (nothing changed) when they cannot be."""
    draft, items, status = load_draft(state, draft_id)
    if status == "已应用":
        raise AppError("该草稿已应用过；如需修改，请重新上传政策文件生成新草稿", status_code=409)
    known = {it["id"] for it in items}
    unknown = [a for a in accept if a not in known]
    if unknown:
        raise AppError(
            f"accept（审核通过的记录）中有草稿没有的编号：{'、'.join(unknown[:5])}", status_code=422
        )
    if not accept:
        raise AppError("accept（审核通过的记录）为空：请至少勾选一条记录", status_code=422)
    given = {k: v for k, v in (document or {}).items() if v not in (None, "")}
    doc = {**draft.document, **given}
    doc.pop("note", None)
    if not doc.get("title"):
        raise AppError(
            "document.title（文件标题）缺失：原文未写标题，请填写文件标题后再应用", status_code=422
        )
    records = overlay(draft, items, set(accept))
    with _apply_lock:
        try:
            kb, report = apply_policy(
                state.sessions,
                state.settings.data_dir,
                doc,
                records,
                also=lambda s: mark_applied(s, draft_id, accept, doc),
            )
        except KBError as exc:
            raise AppError(
                f"审核通过的记录无法应用，知识库未改动：{exc}（请取消勾选该记录或先补全其字段）",
                status_code=422,
            ) from exc
        serve_kb(state, kb)
    return {
        "document_id": doc["document_id"],
        "title": doc["title"],
        "applied": {k: len(v) for k, v in records.items()},
        "database": {"inserted": report.inserted, "updated": report.updated},
        "kb_digest": kb.digest,
    }
