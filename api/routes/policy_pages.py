"""Admin pages for new policy documents: upload a text, review the draft against the current KB
record by record (added / changed / removed, each with its sentence), accept or reject, apply."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import BureauPageDep, session_principal
from api.deps import AppState, StateDep
from api.errors import AppError
from api.policy_service import apply_draft, draft_document, load_draft
from api.routes.bureau_pages import error_page, page
from api.security import csrf_ok
from api.web import csrf_rejected
from features.draft.build import MAX_CHARS, Draft
from features.draft.text import clean_input
from store.policy_drafts import list_drafts

router = APIRouter(include_in_schema=False)

BASE = "/bureau/admin/policies"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a long plan in GB18030 or UTF-8 is well under 2 MB
ACTIONS = {"added": "新增", "changed": "修改", "removed": "删除", "unchanged": "无变化"}
KINDS = {"zones": "区域", "chains": "产业链", "parks": "园区/集群", "rules": "规则"}


def _refused(request: Request, state: AppState, csrf_token: str) -> Response | None:
    """A form post needs this browser's CSRF token (checked first, so a forged post learns
    nothing), then the admin's page cookie."""
    if not csrf_ok(request, csrf_token):
        return csrf_rejected(request)
    who = session_principal(request, state)
    if who is None:
        return RedirectResponse(f"/bureau/login?next={quote(BASE, safe='')}", status_code=303)
    return _admin_only(request, who.role)


def _admin_only(request: Request, role: str) -> HTMLResponse | None:
    if role != "admin":
        return error_page(
            request,
            "需要管理员令牌",
            "政策文件的审核与应用只对管理员开放，请用管理员令牌登录。",
            403,
        )
    return None


@router.get(BASE, response_class=HTMLResponse)
def policies_page(request: Request, state: StateDep, who: BureauPageDep) -> HTMLResponse:
    refused = _admin_only(request, who.role)
    if refused:
        return refused
    return page(
        request,
        "bureau_policies.html",
        {
            "title": "政策文件",
            "documents": state.kb.documents,
            "drafts": list_drafts(state.sessions),
        },
    )


@router.post(BASE, response_model=None)
async def upload_policy(
    request: Request,
    state: StateDep,
    text: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    refused = _refused(request, state, csrf_token)
    if refused:
        return refused
    raw: str | bytes = text
    if file is not None and file.filename:
        raw = await file.read(MAX_UPLOAD_BYTES + 1)
        if len(raw) > MAX_UPLOAD_BYTES:
            return _form_error(request, state, "文件过大：最多 2 MB，请只上传政策正文（.txt）")
    body = clean_input(raw)
    if len(body.strip()) < 20:
        return _form_error(request, state, "请粘贴政策全文或选择 .txt 文件（至少 20 个字）")
    if len(body) > MAX_CHARS:
        return _form_error(request, state, f"正文超过 {MAX_CHARS} 字，请只上传一个政策文件的正文")
    # Drafting is CPU work: off the event loop, like every plain-def route.
    draft_id, _draft, _items = await run_in_threadpool(draft_document, state, body)
    return RedirectResponse(f"{BASE}/{draft_id}", status_code=303)


def _form_error(request: Request, state: StateDep, message: str) -> HTMLResponse:
    context = {
        "title": "政策文件",
        "documents": state.kb.documents,
        "drafts": list_drafts(state.sessions),
        "error": message,
    }
    return page(request, "bureau_policies.html", context, 422)


@router.get(BASE + "/{draft_id}", response_class=HTMLResponse)
def review_page(
    draft_id: str, request: Request, state: StateDep, who: BureauPageDep
) -> HTMLResponse:
    refused = _admin_only(request, who.role)
    if refused:
        return refused
    try:
        draft, items, status = load_draft(state, draft_id)
    except AppError as exc:
        return error_page(request, "草稿不存在", exc.detail, exc.status_code)
    return _review(request, draft_id, draft, items, status)


def _review(
    request: Request,
    draft_id: str,
    draft: Draft,
    items: list[dict[str, Any]],
    status: str,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    code: int = 200,
) -> HTMLResponse:
    groups = {a: [it for it in items if it["action"] == a] for a in ACTIONS}
    context = {
        "title": "审核政策草稿",
        "draft_id": draft_id,
        "document": draft.document,
        "problems": draft.problems,
        "groups": groups,
        "actions": ACTIONS,
        "kinds": KINDS,
        "status": status,
        "error": error,
        "result": result,
    }
    return page(request, "bureau_policy_review.html", context, code)


@router.post(BASE + "/{draft_id}/apply", response_model=None)
async def apply_page(
    draft_id: str,
    request: Request,
    state: StateDep,
    csrf_token: Annotated[str, Form()] = "",
    title: Annotated[str, Form(max_length=200)] = "",
    issuer: Annotated[str, Form(max_length=100)] = "",
    date: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    refused = _refused(request, state, csrf_token)
    if refused:
        return refused
    form = await request.form()
    accept = [str(v) for v in form.getlist("accept")][:5000]
    document = {"title": title.strip(), "issuer": issuer.strip(), "date": date.strip()}
    try:
        draft, items, status = load_draft(state, draft_id)
    except AppError as exc:
        return error_page(request, "草稿不存在", exc.detail, exc.status_code)
    if document["date"] and not _is_date(document["date"]):
        return _review(
            request, draft_id, draft, items, status, "发文日期请写成 2023-04-20 的格式", code=422
        )
    try:
        result = await run_in_threadpool(apply_draft, state, draft_id, accept, document)
    except AppError as exc:
        return _review(request, draft_id, draft, items, status, exc.detail, code=exc.status_code)
    return _review(request, draft_id, draft, items, "已应用", result=result)


def _is_date(s: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s))
