"""Bureau endpoints for a park: ranked leads from the enterprise pool, chain gaps, and lead exports.

Routes parse, authorise, call `api.leads_service` and serialise. The pool is every enterprise
record not already signed or settled in the park, scored by the serving model's vectorised core;
a lead's score is the park's score in that enterprise's `/v1/match` answer.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.auth import BureauDep
from api.deps import StateDep
from api.exports import XLSX, export_title, table_response
from api.leads_service import RankedLeads, gaps_body, lead_pool, park_view, ranked
from api.schemas import MAX_OFFSET, ErrorPublic, Reason, ScoreBreakdown, error_responses
from recommender.leads import LeadFilters

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
    "导入编号",
)
ERRORS: dict[int | str, dict[str, Any]] = {
    **error_responses(401, 403, 503),
    404: {"model": ErrorPublic, "description": "园区不存在"},
    422: {"model": ErrorPublic, "description": "筛选条件有误，detail 指出字段"},
}


# -- response schemas -----------------------------------------------------------------------------
class LeadSegment(BaseModel):
    segment_id: str = Field(description="园区承载的、该企业最契合的产业环节编号")
    name: str = Field(description="产业环节名称")
    chain_id: str = Field(description="所属产业链编号")
    chain_name: str = Field(description="所属产业链名称")
    fit: float = Field(description="企业与该环节的契合度 0–1")


class LeadPublic(BaseModel):
    enterprise_id: int = Field(
        description="企业记录编号（数据库 id，与 /v1/enterprises 的 id 相同，可原样用于 POST /v1/interactions）"
    )
    external_id: str | None = Field(description="导入时的企业编号（无则为 null）")
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
    enterprise_id: int = Field(
        description="企业记录编号（数据库 id，可原样用于 POST /v1/interactions）"
    )
    external_id: str | None = Field(description="导入时的企业编号（无则为 null）")
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
    state: StateDep,
    _: BureauDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="每页条数，1–200")] = 20,
    offset: OffsetQ = 0,
) -> dict[str, Any]:
    r = ranked(state, lead_pool(state), park_id, filters, limit, offset)
    return {
        "park_id": r.view.park.park_id,
        "park_name": r.view.park.name,
        "model_version": r.view.matcher.version,
        "data": r.entries,
        "count": r.count,
    }


@router.get(
    "/parks/{park_id}/chain-gaps",
    response_model=ChainGapsPublic,
    summary="园区补链分析：各产业环节的落地企业数、空缺与薄弱环节及候选企业",
    responses=ERRORS,
)
def gaps(park_id: str, state: StateDep, _: BureauDep) -> dict[str, Any]:
    return gaps_body(park_view(state, lead_pool(state), park_id))


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
                e["external_id"] or "",
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
    state: StateDep,
    _: BureauDep,
    filters: FiltersDep,
    limit: ExportLimit = 1000,
    offset: OffsetQ = 0,
) -> Response:
    r = ranked(state, lead_pool(state), park_id, filters, limit, offset)
    return export_response(r, fmt)


COLUMN_WIDTHS = (10, 28, 10, 10, 10, 10, 10, 10, 30, 10, 80, 14)


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
