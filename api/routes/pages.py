"""Chinese web pages: the enterprise self-check form and its result, and browse pages of the KB.

Server-rendered with Jinja2 (`api.web`) and readable without JavaScript; the score chart is inline
SVG drawn by `api.drawing`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.deps import AppState, StateDep
from api.drawing import ParkMap, fit_map, score_chart
from api.errors import AppError
from api.routes.match import run_match, to_profile
from api.schemas import ORIGIN_VALUES, MatchRequest
from api.security import csrf_ok
from api.web import (
    FORM_LABELS,
    NO_STORE,
    FormErrors,
    SelfCheckForm,
    SelfCheckPost,
    app_error_field,
    csrf_rejected,
    not_found,
    relabel,
    render,
    to_payload,
    validation_errors,
)
from features.kb import KnowledgeBase, Park
from store.enterprises import create_enterprise

log = logging.getLogger("investmatch")
router = APIRouter(include_in_schema=False)


def form_page(
    request: Request, values: dict[str, str], errors: FormErrors, status_code: int = 200
) -> HTMLResponse:
    context = {
        "values": values,
        "errors": errors,
        "labels": FORM_LABELS,
        "origins": ORIGIN_VALUES,
        "title": "企业自检",
    }
    return render(request, "selfcheck.html", context, status_code, NO_STORE)


@router.get("/", response_class=HTMLResponse)
def selfcheck_form(request: Request) -> HTMLResponse:
    return form_page(request, SelfCheckForm(top_k="10").model_dump(), {})


@router.post("/", response_class=HTMLResponse)
def selfcheck_submit(
    request: Request, form: Annotated[SelfCheckPost, Form()], state: StateDep
) -> HTMLResponse:
    if not csrf_ok(request, form.csrf_token):
        return csrf_rejected(request)
    values = form.model_dump(exclude={"csrf_token"})
    payload, errors = to_payload(form)
    try:
        req = MatchRequest.model_validate(payload)
    except ValidationError as exc:
        for fld, messages in validation_errors(exc).items():
            errors.setdefault(fld, []).extend(messages)
        return form_page(request, values, errors, 422)
    if errors:
        return form_page(request, values, errors, 422)
    try:
        result = run_match(req, state, channel="web", consent=bool(form.consent), advice=True)
    except AppError as exc:
        if exc.status_code != 422:
            return render(
                request,
                "error.html",
                {"title": "暂时无法匹配", "message": exc.detail},
                exc.status_code,
            )
        fld = app_error_field(exc)
        return form_page(request, values, {fld: [relabel(fld, exc.detail)]}, 422)
    saved = keep_with_consent(req, state) if form.consent else None
    kb = state.kb
    industry = kb.industry(req.industry_code) if req.industry_code else None
    context = {
        "title": "匹配结果",
        "saved": saved,
        "result": result,
        "req": req,
        "industry": industry,
        "chart": score_chart(result["parks"]),
        "park_map": result_map(req, state, result),
        "zone_names": {z.zone_id: z.name for z in kb.zones},
        "values": values,
        "errors": {},
        "labels": FORM_LABELS,
        "origins": ORIGIN_VALUES,
        "policy_title": kb.policy_title,
    }
    return render(request, "result.html", context, 200, NO_STORE)


def result_map(req: MatchRequest, state: AppState, result: dict[str, Any]) -> ParkMap:
    """The 招商地图 of an answer: every park's score (one more scoring, about a millisecond)."""
    matcher = state.holder.matcher
    final = matcher.score(to_profile(req, state)).final
    return fit_map(state.settings.data_dir / "reference", matcher.parks, final, result["parks"])


def keep_with_consent(req: MatchRequest, state: AppState) -> bool:
    """Store the enterprise for the bureau's follow-up (the form's box was checked); best effort,
    like the audit: the answer does not depend on it, and the page says whether it was kept."""
    try:
        create_enterprise(
            state.sessions, req.model_dump(), record_source="self_check", consent=True
        )
    except SQLAlchemyError as exc:
        log.warning("self-check enterprise not stored: %s", exc.__class__.__name__)
        return False
    return True


# -- browse pages ---------------------------------------------------------------------------------
def parks_by_city(parks: Iterable[Park], cities: Iterable[str]) -> list[tuple[str, list[Park]]]:
    """Parks grouped by city in the KB's city order; cities without parks left out."""
    parks = list(parks)
    groups = [(city, [p for p in parks if p.city == city]) for city in cities]
    return [(city, ps) for city, ps in groups if ps]


def park_chains(kb: KnowledgeBase, park: Park) -> list[tuple[str, str, list[str]]]:
    """A park's chains in order: (chain_id, chain name, segment names; empty = the whole chain)."""
    out: dict[str, list[str]] = {}
    for ref in park.chains:
        segs = out.setdefault(ref.chain_id, [])
        if ref.segment_id and ref.segment_id in kb.segment_by_id:
            segs.append(kb.segment_by_id[ref.segment_id].name)
    return [(cid, kb.chain_by_id[cid].name, segs) for cid, segs in out.items()]


@router.get("/browse", response_class=HTMLResponse)
def browse(request: Request, state: StateDep) -> HTMLResponse:
    kb = state.kb
    zones = []
    for z in kb.zones:  # every park's city lies in its zone (checked by load_kb)
        cities = parks_by_city(kb.parks, z.cities)
        zones.append({"zone": z, "cities": cities, "count": sum(len(ps) for _, ps in cities)})
    chains = [
        (c, sum(any(r.chain_id == c.chain_id for r in p.chains) for p in kb.parks))
        for c in kb.chains
    ]
    context = {"title": "浏览园区与产业链", "zones": zones, "chains": chains, "kb": kb}
    return render(request, "browse.html", context)


@router.get("/browse/parks/{park_id}", response_class=HTMLResponse)
def browse_park(request: Request, park_id: str, state: StateDep) -> HTMLResponse:
    kb = state.kb
    park = kb.park_by_id.get(park_id)
    if park is None:
        return not_found(request, f"园区“{park_id}”不存在。请从浏览页按区域和城市查找园区。")
    context = {
        "title": park.name,
        "park": park,
        "zone": kb.zone_by_id[park.zone_id],
        "chains": park_chains(kb, park),
    }
    return render(request, "park.html", context)


@router.get("/browse/chains/{chain_id}", response_class=HTMLResponse)
def browse_chain(request: Request, chain_id: str, state: StateDep) -> HTMLResponse:
    kb = state.kb
    chain = kb.chain_by_id.get(chain_id)
    if chain is None:
        return not_found(request, f"产业链“{chain_id}”不存在。浏览页列出了全部 16 条产业链。")
    serving = [p for p in kb.parks if any(r.chain_id == chain_id for r in p.chains)]
    segments_of = {
        p.park_id: [
            kb.segment_by_id[r.segment_id].name
            for r in p.chains
            if r.chain_id == chain_id and r.segment_id in kb.segment_by_id
        ]
        for p in serving
    }
    context = {
        "title": chain.name,
        "chain": chain,
        "cities": parks_by_city(serving, kb.cities),
        "count": len(serving),
        "segments_of": segments_of,
    }
    return render(request, "chain.html", context)
