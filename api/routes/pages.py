"""Chinese web pages: the enterprise self-check form and its result, and browse pages of the KB.

Server-rendered with Jinja2 and readable without JavaScript; the score chart is inline SVG.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from api.deps import AppState, StateDep
from api.drawing import ParkMap, fit_map
from api.errors import FIELD_NAMES, AppError, describe_validation_error
from api.routes.match import run_match, to_profile
from api.schemas import ORIGIN_VALUES, MatchRequest
from api.security import CsrfTokens, csrf_cookie, csrf_ok, csrf_tokens, set_csrf_cookie
from features.enterprise import ENTERPRISE_FIELDS, split_products
from features.kb import CATALOGUE, CHAIN_GROUPS, DIVISIONS, PARK_KINDS, KnowledgeBase, Park
from recommender.hybrid import LEARNED_OFF_NOTICE
from store.enterprises import create_enterprise

API_DIR = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = API_DIR / "templates"
STATIC_DIR = API_DIR / "static"

log = logging.getLogger("investmatch")
router = APIRouter(include_in_schema=False)

FORM_LABELS = {**{f.name: f.short for f in ENTERPRISE_FIELDS}, "top_k": "返回园区数量"}
REASON_KINDS = {
    "chain": "产业链",
    "cluster": "集群基地",
    "zone": "区域定位",
    "policy": "政策规则",
    "similar": "相似企业",
}
ZONE_KINDS = {"core": "一核", "demonstration": "四区"}
# Sent to the browser: the self-check answer describes one enterprise and must not be cached.
NO_STORE = {"Cache-Control": "no-store"}


@cache
def templates() -> Jinja2Templates:
    t = Jinja2Templates(directory=TEMPLATES_DIR)
    t.env.filters["score"] = lambda v: f"{v:.2f}"
    t.env.filters["signed"] = lambda v: f"{v:+.2f}"
    t.env.globals.update(
        quote_label=quote_label,
        park_kinds=PARK_KINDS,
        chain_groups=CHAIN_GROUPS,
        reason_kinds=REASON_KINDS,
        zone_kinds=ZONE_KINDS,
    )
    return t


def static_files() -> StaticFiles:
    """The stylesheet, mounted at /static by `create_app`."""
    return StaticFiles(directory=STATIC_DIR)


def quote_label(source: str) -> str:
    """Whose words a quotation is: the 2018 catalogue, the divisions table, the bureau's registry
    or the provincial policy."""
    if source.startswith(CATALOGUE):
        return "开发区目录"
    if source.startswith(DIVISIONS):
        return "行政区划"
    if source.startswith("企业登记名录"):
        return "登记名录"
    return "政策原文"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A page; its forms carry the CSRF token signed for this browser's cookie (set if missing)."""
    nonce = request.cookies.get(csrf_cookie(request))
    fresh = None if CsrfTokens.valid_nonce(nonce) else CsrfTokens.new_nonce()
    token = csrf_tokens(request).sign(fresh or nonce or "")
    state = getattr(request.app.state, "app", None)
    marks = {
        # Every page says when its data is the demo's, and when the learned part is off.
        "demo": bool(state and state.settings.demo),
        "learned": bool(state and state.holder.matcher.learned),
        "learned_off_notice": LEARNED_OFF_NOTICE,
    }
    response = templates().TemplateResponse(
        request,
        name,
        {**marks, **context, "csrf_token": token},
        status_code=status_code,
        headers=headers,
    )
    if fresh:
        set_csrf_cookie(request, response, fresh)
    return response


def csrf_rejected(request: Request) -> HTMLResponse:
    """403 for a form post without the token of this browser (forged, or the page is stale)."""
    context = {
        "title": "无法提交表单",
        "message": "表单的安全校验未通过：页面可能已过期，或表单来自其他网站。"
        "请回到原页面，刷新后重新填写提交。",
    }
    return render(request, "error.html", context, 403, NO_STORE)


def not_found(request: Request, message: str) -> HTMLResponse:
    return render(request, "error.html", {"title": "未找到", "message": message}, 404)


# -- the self-check form --------------------------------------------------------------------------
class SelfCheckForm(BaseModel):
    """The form exactly as typed: every field is text, blank means "not given"."""

    description: str = ""
    name: str = ""
    industry_code: str = ""
    products: str = ""
    employees: str = ""
    annual_revenue_wan: str = ""
    investment_wan: str = ""
    rd_intensity: str = ""
    energy_tce: str = ""
    land_mu: str = ""
    origin: str = ""
    top_k: str = ""
    # The enterprise's consent to keep its record for follow-up; an unchecked box sends nothing.
    consent: str = ""


class SelfCheckPost(SelfCheckForm):
    """The form as posted: the fields and the CSRF token."""

    csrf_token: str = ""


FormErrors = dict[str, list[str]]


def _add(errors: FormErrors, fld: str, message: str) -> None:
    errors.setdefault(fld, []).append(message)


def to_payload(form: SelfCheckForm) -> tuple[dict[str, Any], FormErrors]:
    """The MatchRequest payload: blanks dropped, products split, the R&D percent made a fraction."""
    payload: dict[str, Any] = {}
    errors: FormErrors = {}
    for fld in SelfCheckForm.model_fields:
        value = str(getattr(form, fld)).strip()
        if not value or fld == "consent":
            continue  # not given (a blank description is reported by MatchRequest as missing)
        if fld == "products":
            payload[fld] = split_products(value)
        elif fld == "rd_intensity":
            try:
                percent = float(value)
            except ValueError:
                percent = math.nan
            if not (math.isfinite(percent) and 0 <= percent <= 100):
                _add(errors, fld, "研发投入强度 应为 0–100 之间的百分数，如 5 表示 5%")
            else:
                payload[fld] = percent / 100
        else:
            payload[fld] = value
    return payload, errors


def relabel(fld: str, message: str, loc: tuple[Any, ...] = ()) -> str:
    """Name the field as the form labels it rather than by its API name."""
    label = FORM_LABELS.get(fld, fld)
    api_label = FIELD_NAMES.get(fld, fld)
    if len(loc) > 1 and isinstance(loc[1], int):
        api_label = f"{api_label}[{loc[1]}]"
        label = f"{label}第 {loc[1] + 1} 项"
    if message.startswith(api_label):
        return label + message.removeprefix(api_label)
    return f"{label}：{message}"


def validation_errors(exc: ValidationError) -> FormErrors:
    errors: FormErrors = {}
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        fld = str(loc[0]) if loc else "form"
        _add(errors, fld, relabel(fld, describe_validation_error(dict(err)), loc))
    return errors


def app_error_field(exc: AppError) -> str:
    """The field an AppError's detail names first (e.g. InvalidField for industry_code)."""
    for fld, api_label in FIELD_NAMES.items():
        if exc.detail.startswith(api_label):
            return fld
    return "form"


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


# -- the score chart ------------------------------------------------------------------------------
# Narrow on purpose: the SVG scales to the page, so a 360-unit width keeps 14-unit text near 14px
# on a 390px phone (the stylesheet caps its width on wide screens).
CHART_WIDTH = 360
CHART_PAD = 6
LEGEND_HEIGHT = 50
ROW_HEIGHT = 72
NAME_CHARS = 19
COMPONENTS = (
    ("content", "内容", "#2b6cb0"),
    ("collaborative", "协同", "#2f855a"),
    ("policy", "政策", "#b7791f"),
)
NEGATIVE_COLOUR = "#c53030"
LEGEND = (
    ("内容契合", "#2b6cb0"),
    ("相似企业（协同过滤）", "#2f855a"),
    ("政策加分", "#b7791f"),
    ("政策减分", NEGATIVE_COLOUR),
)


@dataclass(frozen=True)
class ChartBar:
    x: float
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class ChartPart:
    label: str
    value: float
    colour: str


@dataclass(frozen=True)
class ChartRow:
    y: float
    rank: int
    name: str
    full_name: str
    total: float
    bars: list[ChartBar]
    parts: list[ChartPart]


@dataclass(frozen=True)
class Chart:
    width: int
    height: float
    zero_x: float
    has_negative: bool
    rows: list[ChartRow] = field(default_factory=list)
    legend: tuple[tuple[str, str], ...] = LEGEND


def _short(name: str, n: int = NAME_CHARS) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def score_chart(parks: Iterable[dict[str, Any]]) -> Chart:
    """Stacked horizontal bars of content + collaborative + policy, negatives drawn left of zero."""
    parks = list(parks)
    pos_max = max(
        (sum(max(p["score_breakdown"][k], 0.0) for k, _, _ in COMPONENTS) for p in parks),
        default=0.0,
    )
    neg_max = max(
        (sum(max(-p["score_breakdown"][k], 0.0) for k, _, _ in COMPONENTS) for p in parks),
        default=0.0,
    )
    span = (pos_max + neg_max) or 1.0
    plot = CHART_WIDTH - 2 * CHART_PAD
    zero_x = CHART_PAD + plot * neg_max / span
    rows = []
    for i, p in enumerate(parks):
        y = LEGEND_HEIGHT + i * ROW_HEIGHT
        right, left = zero_x, zero_x
        bars, parts = [], []
        for key, label, colour in COMPONENTS:
            v = float(p["score_breakdown"][key])
            c = NEGATIVE_COLOUR if v < 0 else colour
            parts.append(ChartPart(label, v, c))
            w = abs(v) / span * plot
            if v >= 0:
                bars.append(ChartBar(right, w, c, f"{label} {v:+.2f}"))
                right += w
            else:
                left -= w
                bars.append(ChartBar(left, w, c, f"{label} {v:+.2f}"))
        rows.append(
            ChartRow(
                y=y,
                rank=i + 1,
                name=_short(p["name"]),
                full_name=p["name"],
                total=float(p["score"]),
                bars=bars,
                parts=parts,
            )
        )
    return Chart(
        width=CHART_WIDTH,
        height=LEGEND_HEIGHT + len(rows) * ROW_HEIGHT,
        zero_x=zero_x,
        has_negative=neg_max > 0,
        rows=rows,
    )


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
