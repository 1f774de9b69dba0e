"""Bureau web pages (Chinese): login, park picker, a park's chain-gap diagram and leads table,
lead exports and a printable match report. Every page but the login needs the bureau cookie."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from api import leads_service
from api.auth import (
    ROLE_RANK,
    BureauPageDep,
    end_session,
    page_cookie,
    principal_of,
    start_session,
)
from api.deps import SessionDep, StateDep
from api.drawing import STATUS_NAMES, ParkMap, anchor, chain_diagram, chain_map
from api.errors import AppError
from api.routes import leads as api_leads
from api.routes.match import run_match
from api.routes.pages import parks_by_city
from api.schemas import ORIGIN_VALUES, MatchRequest
from api.security import csrf_ok, renew_csrf
from api.web import (
    FORM_LABELS,
    SelfCheckForm,
    csrf_rejected,
    render,
    to_payload,
    validation_errors,
)
from features.kb import Park
from recommender.leads import SCALE_NAMES, LeadFilters, served_segments
from store.enterprises import fields_of, find_enterprise
from store.orm import Enterprise

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
PAGE_SIZE = 20


def page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    """A bureau page: private, never cached."""
    return render(request, name, {"nav": "bureau", **context}, status_code, NO_STORE)


def error_page(request: Request, title: str, message: str, status_code: int) -> HTMLResponse:
    return page(request, "bureau_error.html", {"title": title, "message": message}, status_code)


def safe_next(target: str | None) -> str:
    """Only a bureau page may follow the login (no open redirect to another site)."""
    if target and target.startswith("/bureau") and not target.startswith("//"):
        return target
    return "/bureau"


# -- login ----------------------------------------------------------------------------------------
@router.get("/bureau/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "bureau_login.html", {"title": "招商部门登录", "next": safe_next(next)})


@router.post("/bureau/login", response_model=None)
def login(
    request: Request,
    state: StateDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/bureau",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    # Checked before the token, so a forged post cannot even probe whether a token is valid.
    if not csrf_ok(request, csrf_token):
        return csrf_rejected(request)
    who = principal_of(state, token.strip()) if token.strip() else None
    if who is None or ROLE_RANK[who.role] < ROLE_RANK["bureau"]:
        # The typed token is neither echoed back nor logged.
        context = {
            "title": "招商部门登录",
            "next": safe_next(next),
            "error": "令牌无效、已过期或已停用，请核对后重新输入，或向管理员申请新令牌。"
            if token.strip()
            else "请输入招商部门令牌。",
        }
        return page(request, "bureau_login.html", context, 401)
    end_session(request, state)  # a login replaces whatever session this browser had
    value, max_age = start_session(request, state, who)
    response = RedirectResponse(safe_next(next), status_code=303)
    name, path = page_cookie(request)
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    # A new CSRF nonce at login: a nonce planted or read before the login is worth nothing after.
    renew_csrf(request, response)
    response.headers["Cache-Control"] = "no-store"
    leads_service.warm(state, leads_service.lead_pool(state))
    return response


@router.post("/bureau/logout", response_model=None)
def logout(request: Request, state: StateDep, csrf_token: Annotated[str, Form()] = "") -> Response:
    if not csrf_ok(request, csrf_token):
        return csrf_rejected(request)
    end_session(request, state)  # the server forgets it: a copied cookie is worthless from now
    response = RedirectResponse("/bureau/login", status_code=303)
    name, path = page_cookie(request)
    response.delete_cookie(
        name,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


# -- pick a park ----------------------------------------------------------------------------------
def park_matches(p: Park, q: str) -> bool:
    return any(q in (s or "") for s in (p.name, p.city, p.county, p.park_id, *p.keywords))


@router.get("/bureau", response_class=HTMLResponse)
def index(
    request: Request, state: StateDep, _: BureauPageDep, q: str | None = None
) -> HTMLResponse:
    kb = state.kb
    query = (q or "").strip()
    parks = [p for p in kb.parks if park_matches(p, query)] if query else list(kb.parks)
    context = {
        "title": "招商部门工作台",
        "q": query,
        "cities": parks_by_city(parks, kb.cities),
        "count": len(parks),
        "origins": ORIGIN_VALUES,
    }
    return page(request, "bureau_index.html", context)


# -- chain gaps -----------------------------------------------------------------------------------
def park_page_context(state: Any, park: Park) -> dict[str, Any]:
    return {"park": park, "zone": state.kb.zone_by_id[park.zone_id]}


def park_chains_map(state: Any, park: Park) -> ParkMap | None:
    """Where the park's chains are carried in the province, and where nothing carries them."""
    kb = state.kb
    chain_ids = list(dict.fromkeys(r.chain_id for r in park.chains if r.chain_id in kb.chain_by_id))
    if not chain_ids:
        return None
    names = [kb.chain_by_id[c].name for c in chain_ids]
    return chain_map(state.settings.data_dir / "reference", kb.parks, chain_ids, names, park)


@router.get("/bureau/parks/{park_id}/chain-gaps", response_class=HTMLResponse)
def chain_gaps_page(
    request: Request, park_id: str, state: StateDep, session: SessionDep, _: BureauPageDep
) -> HTMLResponse:
    try:
        view = leads_service.park_view(state, leads_service.lead_pool(state), park_id)
    except AppError as exc:
        return error_page(request, "未找到园区", exc.detail, exc.status_code)
    body = leads_service.gaps_body(view)
    segments = [s for c in body["chains"] for s in c["segments"]]
    context = {
        **park_page_context(state, view.park),
        "title": f"补链分析：{view.park.name}",
        "gaps": body,
        "diagram": chain_diagram(state.kb, body["chains"]),
        "chain_map": park_chains_map(state, view.park),
        "status_names": STATUS_NAMES,
        "anchor": anchor,
        "counts": {k: sum(s["status"] == k for s in segments) for k in STATUS_NAMES},
    }
    return page(request, "bureau_chain_gaps.html", context)


# -- leads ----------------------------------------------------------------------------------------
def filter_choices(state: Any, park: Park) -> dict[str, Any]:
    matcher = state.holder.matcher
    kb = state.kb
    index = leads_service.park_index(matcher, park.park_id)
    served = served_segments(matcher, index) if index is not None else []
    segs = [matcher.segment_ids[j] for j in served]
    chains = list(dict.fromkeys(kb.chain_of_segment[s] for s in segs))
    return {
        "chains": [(c, kb.chain_by_id[c].name) for c in chains],
        "segments": [
            (s, f"{kb.chain_by_id[kb.chain_of_segment[s]].name}·{kb.segment_by_id[s].name}")
            for s in segs
        ],
        "origins": ORIGIN_VALUES,
        "scales": list(SCALE_NAMES.items()),
    }


@router.get("/bureau/parks/{park_id}/leads", response_class=HTMLResponse)
def leads_page(
    request: Request,
    park_id: str,
    state: StateDep,
    session: SessionDep,
    _: BureauPageDep,
    chain_id: str | None = None,
    segment_id: str | None = None,
    origin: str | None = None,
    scale: str | None = None,
    page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1,
) -> HTMLResponse:
    park = state.kb.park_by_id.get(park_id)
    if park is None:
        return error_page(
            request, "未找到园区", f"园区“{park_id}”不存在，请回到工作台选择园区。", 404
        )
    filters = api_leads.filters_of(chain_id, segment_id, origin, scale)
    values = {
        "chain_id": filters.chain_id or "",
        "segment_id": filters.segment_id or "",
        "origin": filters.origin or "",
        "scale": filters.scale or "",
    }
    context: dict[str, Any] = {
        **park_page_context(state, park),
        "title": f"招商线索：{park.name}",
        "values": values,
        "choices": filter_choices(state, park),
        "query": urlencode({k: v for k, v in values.items() if v}),
        "error": None,
        "leads": [],
        "count": 0,
        "page": page_no,
        "pages": 0,
        "offset": (page_no - 1) * PAGE_SIZE,
    }
    try:
        r = leads_service.ranked(
            state,
            leads_service.lead_pool(state),
            park_id,
            filters,
            PAGE_SIZE,
            (page_no - 1) * PAGE_SIZE,
        )
    except AppError as exc:
        context["error"] = exc.detail
        return page(request, "bureau_leads.html", context, exc.status_code)
    context.update(
        leads=r.entries,
        count=r.count,
        pages=(r.count + PAGE_SIZE - 1) // PAGE_SIZE,
        model_version=r.view.matcher.version,
    )
    return page(request, "bureau_leads.html", context)


def _export(
    request: Request, state: Any, session: Any, park_id: str, filters: LeadFilters, kind: str
) -> Response:
    try:
        r = leads_service.ranked(
            state,
            leads_service.lead_pool(state),
            park_id,
            filters,
            api_leads.MAX_EXPORT,
            0,
        )
    except AppError as exc:
        return error_page(request, "无法导出", exc.detail, exc.status_code)
    return api_leads.export_response(r, kind)


@router.get("/bureau/parks/{park_id}/leads.{fmt}", response_model=None)
def leads_export_page(
    request: Request,
    park_id: str,
    fmt: Literal["csv", "xlsx"],
    state: StateDep,
    session: SessionDep,
    _: BureauPageDep,
    chain_id: str | None = None,
    segment_id: str | None = None,
    origin: str | None = None,
    scale: str | None = None,
) -> Response:
    filters = api_leads.filters_of(chain_id, segment_id, origin, scale)
    return _export(request, state, session, park_id, filters, fmt)


# -- the printable match report -------------------------------------------------------------------
REPORT_PARKS = 5


@router.get("/bureau/report", response_class=HTMLResponse)
def report(
    request: Request,
    state: StateDep,
    session: SessionDep,
    _: BureauPageDep,
    form: Annotated[SelfCheckForm, Query()],
    enterprise_id: str | None = None,
) -> HTMLResponse:
    """A one-page printable match report: for a pool enterprise (`enterprise_id`, its record id as
    in every API answer; an imported id is looked up too, for links typed by hand) or for the
    fields of the self-check form given as query parameters (研发投入强度 as a percent)."""
    record: Enterprise | None = None
    if enterprise_id:
        record = find_enterprise(session, enterprise_id.strip())
        if record is None:
            return error_page(
                request,
                "未找到企业",
                f"企业记录 {enterprise_id} 不在企业库中，请核对企业记录编号（enterprise_id）。",
                404,
            )
        payload = fields_of(record)
        errors: dict[str, list[str]] = {}
    else:
        payload, errors = to_payload(form)
    payload["top_k"] = REPORT_PARKS
    try:
        req = MatchRequest.model_validate(payload)
    except ValidationError as exc:
        for fld, messages in validation_errors(exc).items():
            errors.setdefault(fld, []).extend(messages)
    if errors:
        text = "；".join(m for ms in errors.values() for m in ms)
        return error_page(request, "无法生成报告", f"输入有误：{text}", 422)
    try:
        # The bureau's own report on its own data: kept in full, like its records.
        result = run_match(req, state, channel="bureau_report", consent=True)
    except AppError as exc:
        return error_page(request, "无法生成报告", exc.detail, exc.status_code)
    kb = state.kb
    context = {
        "title": f"园区匹配报告{'：' + req.name if req.name else ''}",
        "req": req,
        "result": result,
        "record": record,
        "industry": kb.industry(req.industry_code) if req.industry_code else None,
        "zone_names": {z.zone_id: z.name for z in kb.zones},
        "labels": FORM_LABELS,
        "policy_title": kb.policy_title,
    }
    return page(request, "bureau_report.html", context)
