"""Bureau endpoints for a park: ranked leads from the enterprise pool, chain gaps, and lead exports.

The pool is every enterprise in the database not already signed or settled in the park. Each
enterprise is scored once per model version by the serving matcher (`recommender.leads.LeadCache`),
so a lead's score is the park's score in that enterprise's `/v1/match` answer.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.auth import BureauDep
from api.deps import AppState, SessionDep, StateDep
from api.errors import AppError, NotFound
from api.exports import XLSX, export_title, table_response
from api.schemas import (
    MAX_OFFSET,
    ORIGIN_VALUES,
    ErrorPublic,
    Reason,
    ScoreBreakdown,
    error_responses,
)
from features.enterprise import EnterpriseProfile
from features.history import POSITIVE_KINDS
from features.kb import Park
from recommender.hybrid import Matcher
from recommender.leads import (
    SCALE_NAMES,
    LeadCache,
    LeadFilters,
    LeadVector,
    ParkSegments,
    chain_gaps,
    lead_entry,
    park_segments,
    rank_leads,
    registry_counts,
    served_segments,
)
from store.orm import Enterprise, Interaction

log = logging.getLogger("investmatch")
router = APIRouter(prefix="/v1", tags=["招商线索"])

MAX_LIMIT = 200
MAX_EXPORT = 5000
EXPORT_HEADERS = (
    "企业编号",
    "企业名称",
    "来源地",
    "员工人数",
    "综合得分",
    "内容契合",
    "相似企业",
    "政策调整",
    "对应环节",
    "是否补链",
    "推荐理由",
)
ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 403, 503),
    404: {"model": ErrorPublic, "description": "园区不存在"},
    422: {"model": ErrorPublic, "description": "筛选条件有误，detail 指出字段"},
}


class InvalidFilter(AppError):
    status_code = 422
    code = "invalid_input"


# -- response schemas -----------------------------------------------------------------------------
class LeadSegment(BaseModel):
    segment_id: str = Field(description="园区承载的、该企业最契合的产业环节编号")
    name: str = Field(description="产业环节名称")
    chain_id: str = Field(description="所属产业链编号")
    chain_name: str = Field(description="所属产业链名称")
    fit: float = Field(description="企业与该环节的契合度 0–1")


class LeadPublic(BaseModel):
    enterprise_id: str = Field(description="企业编号（导入时的编号，无则为 db<数据库编号>）")
    name: str | None = Field(description="企业名称")
    description: str = Field(description="主营业务（截取前约 120 字）")
    industry_code: str | None = Field(description="行业代码")
    origin: str | None = Field(description="来源地")
    employees: int | None = Field(description="员工人数")
    scale: str | None = Field(description="规模：micro | small | medium | large | xlarge")
    score: float = Field(description="该园区在此企业 /v1/match 结果中的综合得分")
    score_breakdown: ScoreBreakdown
    segment: LeadSegment | None = Field(
        description="该企业最能服务的园区环节；描述未涉及园区任何环节时为 null"
    )
    fills_gap: bool = Field(description="该环节在园区中空缺或薄弱（补链）")
    reasons: list[Reason] = Field(description="从园区角度的推荐理由")


class LeadsPublic(BaseModel):
    park_id: str
    park_name: str
    model_version: str = Field(description="作答的模型版本")
    data: list[LeadPublic]
    count: int = Field(description="符合筛选条件的线索总数（与 limit 无关）")


class GapCandidate(BaseModel):
    enterprise_id: str
    name: str | None
    origin: str | None
    score: float = Field(description="该企业对本园区的综合得分")
    segment_fit: float = Field(description="该企业与本环节的契合度 0–1")


class SourcedCount(BaseModel):
    count: int = Field(description="企业数")
    source: str = Field(description="数字的来源：招商部门的互动记录，或导入的企业登记名录")


class GapSegment(BaseModel):
    segment_id: str
    name: str
    placed: int = Field(description="已在本园区签约或落地、且最契合本环节的企业数")
    counts: list[SourcedCount] = Field(
        description="本环节的各项企业数及其来源：招商部门记录的签约/落地；导入企业登记名录后，"
        "另有园区所在县已登记、经营范围最契合本环节的企业数"
    )
    status: str = Field(description="empty 空缺 / thin 薄弱 / ok 已成规模")
    candidates: list[GapCandidate] = Field(description="可补链的候选企业（前 5 名）")
    source: str = Field(description="该环节的政策原文")


class GapChain(BaseModel):
    chain_id: str
    name: str
    segments: list[GapSegment] = Field(description="园区承载的环节，按政策所列顺序")


class ChainGapsPublic(BaseModel):
    park_id: str
    park_name: str
    model_version: str
    placed_total: int = Field(description="在本园区签约或落地的企业数")
    placed_unassigned: int = Field(description="其中描述未涉及园区任何环节的企业数")
    thin_rule: str = Field(description="“薄弱”的判定标准")
    chains: list[GapChain]


# -- the pool -------------------------------------------------------------------------------------
_cache_lock = threading.Lock()


def lead_cache(request: Request) -> LeadCache:
    """The app's cache of scored enterprises, created on first use."""
    cache: LeadCache | None = getattr(request.app.state, "lead_cache", None)
    if cache is None:
        with _cache_lock:
            cache = getattr(request.app.state, "lead_cache", None)
            if cache is None:
                cache = LeadCache()
                request.app.state.lead_cache = cache
    return cache


def enterprise_key(db_id: int, external_id: str | None) -> str:
    """The id leads show: the imported id, else db<primary key> (as store.history.read_history)."""
    return external_id or f"db{db_id}"


def load_enterprises(session: Session) -> list[tuple[str, EnterpriseProfile]]:
    rows = session.execute(
        select(
            Enterprise.id,
            Enterprise.external_id,
            Enterprise.name,
            Enterprise.description,
            Enterprise.industry_code,
            Enterprise.products,
            Enterprise.employees,
            Enterprise.annual_revenue_wan,
            Enterprise.investment_wan,
            Enterprise.rd_intensity,
            Enterprise.energy_tce,
            Enterprise.land_mu,
            Enterprise.origin,
        ).order_by(Enterprise.id)
    ).all()
    return [
        (
            enterprise_key(r.id, r.external_id),
            EnterpriseProfile(
                description=r.description,
                name=r.name,
                industry_code=r.industry_code,
                products=tuple(r.products or ()),
                employees=r.employees,
                annual_revenue_wan=r.annual_revenue_wan,
                investment_wan=r.investment_wan,
                rd_intensity=r.rd_intensity,
                energy_tce=r.energy_tce,
                land_mu=r.land_mu,
                origin=r.origin,
            ),
        )
        for r in rows
    ]


def placed_ids(session: Session, park_id: str) -> set[str]:
    """Enterprises signed or settled in the park."""
    rows = session.execute(
        select(Enterprise.id, Enterprise.external_id)
        .join(Interaction, Interaction.enterprise_id == Enterprise.id)
        .where(Interaction.park_id == park_id, Interaction.kind.in_(POSITIVE_KINDS))
        .distinct()
    ).all()
    return {enterprise_key(r.id, r.external_id) for r in rows}


@dataclass
class ParkView:
    """Everything a leads or chain-gaps answer needs for one park, from one matcher."""

    matcher: Matcher
    park: Park
    index: int
    pool: list[LeadVector]
    placed: list[LeadVector]
    segments: ParkSegments
    elapsed_ms: float


def park_or_404(state: AppState, park_id: str) -> Park:
    park = state.kb.park_by_id.get(park_id)
    if park is None:
        raise NotFound(f"园区“{park_id}”不存在，请用 GET /v1/parks 查询园区编号")
    return park


def park_view(state: AppState, session: Session, cache: LeadCache, park_id: str) -> ParkView:
    park = park_or_404(state, park_id)
    matcher = state.holder.matcher  # one reference for the whole answer, even across a swap
    index = next(i for i, p in enumerate(matcher.parks) if p.park_id == park.park_id)
    t0 = time.perf_counter()
    items = load_enterprises(session)
    placed = placed_ids(session, park.park_id)
    vectors = cache.vectors(matcher, items)
    pool = [v for v in vectors if v.enterprise_id not in placed]
    settled = [v for v in vectors if v.enterprise_id in placed]
    segments = park_segments(matcher, index, settled, *registry_counts(matcher, index))
    elapsed = (time.perf_counter() - t0) * 1000
    return ParkView(matcher, park, index, pool, settled, segments, elapsed)


_warming = threading.Lock()


def warm(state: AppState, cache: LeadCache) -> bool:
    """Score the whole pool in the background (at start and after a bureau login), so that the
    first leads page does not wait for it. Only when the cache is cold and no warm-up is running:
    each login used to start a thread that rescored the whole pool. True if one was started."""
    if cache.warm_for(state.holder.matcher) or not _warming.acquire(blocking=False):
        return False

    def run() -> None:
        try:
            with state.sessions() as session:
                items = load_enterprises(session)
            cache.vectors(state.holder.matcher, items)
        except SQLAlchemyError as exc:  # no database now: the first request will score instead
            log.warning("leads cache not warmed: %s", exc.__class__.__name__)
        finally:
            _warming.release()

    threading.Thread(target=run, name="leads-warm", daemon=True).start()
    return True


# -- filters --------------------------------------------------------------------------------------
def check_filters(matcher: Matcher, park: Park, index: int, filters: LeadFilters) -> LeadFilters:
    """422 in Chinese naming the field for a filter the KB or the park cannot satisfy."""
    kb = matcher.kb
    served = [matcher.segment_ids[j] for j in served_segments(matcher, index)]
    served_chains = list(dict.fromkeys(kb.chain_of_segment[s] for s in served))
    if filters.chain_id is not None:
        if filters.chain_id not in kb.chain_by_id:
            raise InvalidFilter(
                f"chain_id（产业链编号）“{filters.chain_id}” 不存在，请用 GET /v1/chains 查询"
            )
        if filters.chain_id not in served_chains:
            names = "、".join(f"{c}（{kb.chain_by_id[c].name}）" for c in served_chains)
            raise InvalidFilter(
                f"chain_id（产业链编号）“{filters.chain_id}” 不是园区「{park.name}」承载的产业链，可选：{names}"
            )
    if filters.segment_id is not None:
        if filters.segment_id not in kb.segment_by_id:
            raise InvalidFilter(
                f"segment_id（产业环节编号）“{filters.segment_id}” 不存在，请用 GET /v1/chains 查询"
            )
        if filters.segment_id not in served:
            raise InvalidFilter(
                f"segment_id（产业环节编号）“{filters.segment_id}” 不是园区「{park.name}」承载的环节，"
                f"可选：{'、'.join(served)}"
            )
        chain = kb.chain_of_segment[filters.segment_id]
        if filters.chain_id is not None and filters.chain_id != chain:
            raise InvalidFilter(
                f"segment_id（产业环节编号）“{filters.segment_id}” 不属于产业链 {filters.chain_id}"
            )
    if filters.origin is not None and filters.origin not in ORIGIN_VALUES:
        raise InvalidFilter(f"origin（企业来源地）只能取以下值之一：{' | '.join(ORIGIN_VALUES)}")
    if filters.scale is not None and filters.scale not in SCALE_NAMES:
        choices = "；".join(f"{k} {v}" for k, v in SCALE_NAMES.items())
        raise InvalidFilter(f"scale（企业规模）只能取以下值之一：{choices}")
    return filters


def blank(v: str | None) -> str | None:
    return v.strip() or None if v is not None else None


ChainQ = Annotated[
    str | None, Query(description="产业链编号：只看该链上的线索（须为园区承载的产业链）")
]
SegmentQ = Annotated[str | None, Query(description="产业环节编号：只看该环节的线索")]
OriginQ = Annotated[str | None, Query(description="来源地：北京 | 天津 | 河北 | 其他省份 | 境外")]
ScaleQ = Annotated[
    str | None,
    Query(
        description="规模（员工人数）：micro <20 | small <100 | medium <300 | large <1000 | xlarge"
    ),
]
OffsetQ = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="跳过的条数")]


@dataclass
class RankedLeads:
    view: ParkView
    entries: list[dict[str, Any]]
    count: int


def ranked(
    state: AppState,
    session: Session,
    cache: LeadCache,
    park_id: str,
    filters: LeadFilters,
    limit: int,
    offset: int,
) -> RankedLeads:
    park = park_or_404(state, park_id)
    # Check the filters against the park before the (possibly slow) scoring of the pool.
    matcher = state.holder.matcher
    index = next(i for i, p in enumerate(matcher.parks) if p.park_id == park.park_id)
    check_filters(matcher, park, index, filters)
    view = park_view(state, session, cache, park_id)
    leads = rank_leads(view.matcher, view.index, view.pool, view.segments, filters)
    page = leads[offset : offset + limit]
    entries = [lead_entry(view.matcher, view.index, lead, view.segments) for lead in page]
    return RankedLeads(view, entries, len(leads))


def filters_of(
    chain_id: ChainQ = None,
    segment_id: SegmentQ = None,
    origin: OriginQ = None,
    scale: ScaleQ = None,
) -> LeadFilters:
    """The lead filters of a query string (also a FastAPI dependency, shared by every leads route)."""
    return LeadFilters(blank(chain_id), blank(segment_id), blank(origin), blank(scale))


FiltersDep = Annotated[LeadFilters, Depends(filters_of)]


# -- routes ---------------------------------------------------------------------------------------
@router.get(
    "/parks/{park_id}/leads",
    response_model=LeadsPublic,
    summary="园区招商线索：从企业库中为园区排序候选企业",
    responses=ERRORS,
)
def leads(
    park_id: str,
    request: Request,
    state: StateDep,
    session: SessionDep,
    _: BureauDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数，1–200")] = 20,
    offset: OffsetQ = 0,
) -> dict[str, Any]:
    r = ranked(
        state,
        session,
        lead_cache(request),
        park_id,
        filters,
        limit,
        offset,
    )
    return {
        "park_id": r.view.park.park_id,
        "park_name": r.view.park.name,
        "model_version": r.view.matcher.version,
        "data": r.entries,
        "count": r.count,
    }


THIN_RULE = "已签约/落地企业为 0 家为“空缺”；少于 3 家或少于园区各环节中位数的 25% 为“薄弱”"


def gaps_body(view: ParkView) -> dict[str, Any]:
    return {
        "park_id": view.park.park_id,
        "park_name": view.park.name,
        "model_version": view.matcher.version,
        "placed_total": len(view.placed),
        "placed_unassigned": view.segments.unassigned,
        "thin_rule": THIN_RULE,
        "chains": chain_gaps(view.matcher, view.index, view.pool, view.segments),
    }


@router.get(
    "/parks/{park_id}/chain-gaps",
    response_model=ChainGapsPublic,
    summary="园区补链分析：各产业环节的落地企业数、空缺与薄弱环节及候选企业",
    responses=ERRORS,
)
def gaps(
    park_id: str, request: Request, state: StateDep, session: SessionDep, _: BureauDep
) -> dict[str, Any]:
    return gaps_body(park_view(state, session, lead_cache(request), park_id))


# -- exports --------------------------------------------------------------------------------------
def export_rows(entries: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for e in entries:
        seg = e["segment"]
        rows.append(
            [
                e["enterprise_id"],
                e["name"] or "",
                e["origin"] or "",
                e["employees"] if e["employees"] is not None else "",
                e["score"],
                e["score_breakdown"]["content"],
                e["score_breakdown"]["collaborative"],
                e["score_breakdown"]["policy"],
                f"{seg['chain_name']}·{seg['name']}" if seg else "",
                "是" if e["fills_gap"] else "否",
                "\n".join(r["text"] for r in e["reasons"]),
            ]
        )
    return rows


ExportLimit = Annotated[int, Query(ge=1, le=MAX_EXPORT, description="导出条数，1–5000")]


@router.get(
    "/parks/{park_id}/leads.{fmt}",
    summary="导出园区招商线索（csv：UTF-8 带 BOM，Excel 可直接打开；xlsx：Excel 工作簿）",
    responses={**ERRORS, 200: {"content": {"text/csv": {}, XLSX: {}}}},
    response_class=Response,
)
def leads_export(
    park_id: str,
    fmt: Annotated[Literal["csv", "xlsx"], Path(description="导出格式：csv 或 xlsx")],
    request: Request,
    state: StateDep,
    session: SessionDep,
    _: BureauDep,
    filters: FiltersDep,
    limit: ExportLimit = 1000,
    offset: OffsetQ = 0,
) -> Response:
    r = ranked(state, session, lead_cache(request), park_id, filters, limit, offset)
    return export_response(r, fmt)


COLUMN_WIDTHS = (14, 28, 10, 10, 10, 10, 10, 10, 30, 10, 80)


def export_response(r: RankedLeads, fmt: str) -> Response:
    """The leads of `r` as a CSV or XLSX download with Chinese headers."""
    park = r.view.park
    return table_response(
        fmt,
        EXPORT_HEADERS,
        export_rows(r.entries),
        ascii_name=f"leads-{park.park_id}",
        chinese_name=f"招商线索-{park.name}",
        sheet="招商线索",
        widths=COLUMN_WIDTHS,
        wrap_columns=(11,),
        title=export_title(f"招商线索：{park.name}"),
    )
