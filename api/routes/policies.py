"""Policy documents: the documents in force (public), and for admins a new document drafted into a
KB, reviewed record by record and applied in one transaction."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import AdminDep
from api.deps import StateDep
from api.errors import AppError, NotFound
from api.models_service import load_serving_matcher
from api.schemas import PoliciesPublic, PolicyPublic, error_responses
from features.draft.build import MAX_CHARS, Draft, draft_kb
from features.draft.review import overlay, review_items
from features.kb import KBError

router = APIRouter(prefix="/v1", tags=["政策文件"], responses=error_responses(422, 503))

KEEP_DRAFTS = 20  # drafts wait in memory for review; the oldest go first
_lock = threading.Lock()


class DraftRequest(BaseModel):
    text: str = Field(min_length=20, max_length=MAX_CHARS, description="政策全文（纯文本）")


class ApplyRequest(BaseModel):
    accept: list[str] = Field(description="审核通过的记录编号（review 列表中的 id）")
    document: dict[str, Any] | None = Field(
        default=None, description="补充或更正的文件信息：title、issuer、date、number"
    )


def _drafts(request: Request) -> OrderedDict[str, tuple[Draft, list[dict[str, Any]]]]:
    store = getattr(request.app.state, "policy_drafts", None)
    if store is None:
        store = request.app.state.policy_drafts = OrderedDict()
    return store


@router.get("/policies", response_model=PoliciesPublic, summary="现行政策文件")
def list_policies(state: StateDep) -> PoliciesPublic:
    kb = state.kb
    counts: dict[str, int] = {}
    for doc_id in kb.cited.values():
        counts[doc_id] = counts.get(doc_id, 0) + 1
    data = [
        PolicyPublic(
            document_id=d.document_id,
            title=d.title,
            issuer=d.issuer,
            date=d.date,
            number=d.number,
            status=d.status,
            records=counts.get(d.document_id, 0),
        )
        for d in kb.documents
        if d.status == "现行"
    ]
    return PoliciesPublic(data=data, count=len(data))


@router.post("/policies/drafts", summary="上传政策文件，生成待审核草稿", status_code=201)
def post_draft(req: DraftRequest, request: Request, state: StateDep, _: AdminDep) -> dict[str, Any]:
    draft = draft_kb(req.text, state.kb, data_dir=state.settings.data_dir)
    items = review_items(draft, state.kb)
    draft_id = uuid.uuid4().hex[:12]
    with _lock:
        store = _drafts(request)
        store[draft_id] = (draft, items)
        while len(store) > KEEP_DRAFTS:
            store.popitem(last=False)
    return _review(draft_id, draft, items)


def _review(draft_id: str, draft: Draft, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "draft_id": draft_id,
        "document": draft.document,
        "problems": draft.problems,
        "items": [{k: v for k, v in it.items() if k not in ("draft", "current")} for it in items],
        "count": len(items),
    }


@router.get("/policies/drafts/{draft_id}", summary="草稿与当前知识库的差异")
def get_draft(draft_id: str, request: Request, _: AdminDep) -> dict[str, Any]:
    found = _drafts(request).get(draft_id)
    if found is None:
        raise NotFound(f"草稿 {draft_id} 不存在或已过期，请重新上传政策文件")
    return _review(draft_id, *found)


@router.post("/policies/drafts/{draft_id}/apply", summary="应用审核通过的记录")
def apply_draft(
    draft_id: str, req: ApplyRequest, request: Request, state: StateDep, _: AdminDep
) -> dict[str, Any]:
    from store.kb_sync import apply_policy

    found = _drafts(request).get(draft_id)
    if found is None:
        raise NotFound(f"草稿 {draft_id} 不存在或已过期，请重新上传政策文件")
    draft, items = found
    known = {it["id"] for it in items}
    unknown = [a for a in req.accept if a not in known]
    if unknown:
        raise AppError(
            f"accept（审核通过的记录）中有草稿没有的编号：{'、'.join(unknown[:5])}", status_code=422
        )
    document = {**draft.document, **(req.document or {})}
    if not document.get("title"):
        raise AppError(
            "document.title（文件标题）缺失：原文未写标题，请在 document 中补充", status_code=422
        )
    document.pop("note", None)
    records = overlay(draft, items, set(req.accept))
    with _lock:
        try:
            kb, report = apply_policy(state.sessions, state.settings.data_dir, document, records)
        except KBError as exc:
            raise AppError(f"审核通过的记录无法应用，知识库未改动：{exc}", status_code=422) from exc
        state.kb = kb
        state.holder.swap(load_serving_matcher(kb, state.sessions))
    return {
        "document_id": document["document_id"],
        "applied": {k: len(v) for k, v in records.items()},
        "database": {"inserted": report.inserted, "updated": report.updated},
        "kb_digest": kb.digest,
    }
