"""Policy documents: the documents in force (public), and for admins a new document drafted into a
KB, reviewed record by record and applied in one transaction (see api/policy_service.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import AdminDep
from api.deps import StateDep
from api.policy_service import apply_draft, draft_document, load_draft
from api.schemas import PoliciesPublic, PolicyPublic, error_responses
from features.draft.build import MAX_CHARS, Draft

router = APIRouter(prefix="/v1", tags=["政策文件"], responses=error_responses(422, 503))


class DraftRequest(BaseModel):
    text: str = Field(min_length=20, max_length=MAX_CHARS, description="政策全文（纯文本）")


class DocumentFields(BaseModel):
    title: str | None = Field(default=None, max_length=200)
    issuer: str | None = Field(default=None, max_length=100)
    date: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    number: str | None = Field(default=None, max_length=60)


class ApplyRequest(BaseModel):
    accept: list[str] = Field(max_length=5000, description="审核通过的记录编号（草稿 items 的 id）")
    document: DocumentFields | None = Field(
        default=None, description="补充或更正的文件信息（原文未写明时必填 title）"
    )


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


def review_body(draft_id: str, draft: Draft, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "draft_id": draft_id,
        "document": draft.document,
        "problems": draft.problems,
        "items": [{k: v for k, v in it.items() if k not in ("draft", "current")} for it in items],
        "count": len(items),
    }


@router.post(
    "/policies/drafts",
    summary="上传政策文件，生成待审核草稿",
    status_code=201,
    responses=error_responses(401, 403, 413),
)
def post_draft(req: DraftRequest, state: StateDep, _: AdminDep) -> dict[str, Any]:
    draft_id, draft, items = draft_document(state, req.text)
    return review_body(draft_id, draft, items)


@router.get(
    "/policies/drafts/{draft_id}",
    summary="草稿与当前知识库的差异",
    responses=error_responses(401, 403, 404),
)
def get_draft(draft_id: str, state: StateDep, _: AdminDep) -> dict[str, Any]:
    draft, items, status = load_draft(state, draft_id)
    return {**review_body(draft_id, draft, items), "status": status}


@router.post(
    "/policies/drafts/{draft_id}/apply",
    summary="应用审核通过的记录",
    responses=error_responses(401, 403, 404, 409, 413),
)
def post_apply(draft_id: str, req: ApplyRequest, state: StateDep, _: AdminDep) -> dict[str, Any]:
    doc = req.document.model_dump() if req.document else None
    return apply_draft(state, draft_id, req.accept, doc)
