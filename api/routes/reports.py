"""Match reports of a pool enterprise as CSV or Excel with Chinese headers (the printable HTML
report is /bureau/report)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import ValidationError

from api.auth import BureauDep
from api.deps import SessionDep, StateDep
from api.errors import AppError, NotFound
from api.exports import XLSX, export_title, table_response
from api.routes.match import run_match
from api.schemas import MAX_ID, MatchRequest, error_responses
from api.schemas_bureau import ENTERPRISE_ID_DOC
from store import orm
from store.enterprises import fields_of, get_enterprise

router = APIRouter(prefix="/v1", tags=["招商线索"])

HEADERS = (
    "排名",
    "园区编号",
    "园区名称",
    "城市",
    "县（市、区）",
    "所属区域",
    "综合得分",
    "内容契合",
    "相似企业",
    "政策调整",
    "推荐理由",
    "政策依据",
)
WIDTHS = (6, 18, 30, 8, 12, 24, 10, 10, 10, 10, 70, 70)
KINDS = {
    "chain": "产业链",
    "cluster": "集群基地",
    "zone": "区域定位",
    "policy": "政策规则",
    "similar": "相似企业",
}


def request_of(row: orm.Enterprise, top_k: int) -> MatchRequest:
    """The stored enterprise as a `/v1/match` request."""
    try:
        return MatchRequest(**fields_of(row), top_k=top_k)
    except ValidationError as exc:  # a record saved before a limit was tightened
        raise AppError(
            f"企业记录 {row.id} 的字段不符合匹配要求：{exc.errors()[0]['msg']}",
            code="invalid_record",
            status_code=422,
        ) from exc


def report_rows(result: dict[str, Any], zone_names: dict[str, str]) -> list[list[Any]]:
    rows = []
    for rank, p in enumerate(result["parks"], start=1):
        b = p["score_breakdown"]
        rows.append(
            [
                rank,
                p["park_id"],
                p["name"],
                p["city"],
                p["county"] or "",
                zone_names.get(p["zone_id"], p["zone_id"]),
                p["score"],
                b["content"],
                b["collaborative"],
                b["policy"],
                "\n".join(
                    f"【{KINDS.get(r['kind'], r['kind'])}】{r['text']}" for r in p["reasons"]
                ),
                "\n".join(dict.fromkeys(r["source"] for r in p["reasons"] if r["source"])),
            ]
        )
    return rows


@router.get(
    "/enterprises/{enterprise_id}/match-report.{fmt}",
    summary="导出企业的匹配报告（CSV 或 Excel，中文表头）",
    responses={
        **error_responses(401, 403, 404, 422, 503),
        200: {"content": {"text/csv": {}, XLSX: {}}},
    },
    response_class=Response,
)
def match_report(
    enterprise_id: Annotated[int, Path(ge=1, le=MAX_ID, description=ENTERPRISE_ID_DOC)],
    fmt: Annotated[Literal["csv", "xlsx"], Path(description="csv 或 xlsx")],
    session: SessionDep,
    state: StateDep,
    _: BureauDep,
    top_k: Annotated[int, Query(ge=1, le=50, description="园区数量，1–50")] = 20,
) -> Response:
    row = get_enterprise(session, enterprise_id)
    if row is None:
        raise NotFound(
            f"企业记录 id {enterprise_id} 不存在，请用 GET /v1/enterprises 查询企业的 id",
            code="enterprise_not_found",
        )
    result = run_match(request_of(row, top_k), state, channel="export", consent=True)
    zones = {z.zone_id: z.name for z in state.kb.zones}
    label = row.name or row.external_id or f"企业{row.id}"
    return table_response(
        fmt,
        HEADERS,
        report_rows(result, zones),
        ascii_name=f"match-report-{row.id}",
        chinese_name=f"匹配报告-{label}",
        sheet="匹配报告",
        widths=WIDTHS,
        wrap_columns=(11, 12),
        title=export_title(f"园区匹配报告：{label}"),
    )
