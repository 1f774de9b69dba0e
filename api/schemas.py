"""Request and response schemas of the HTTP API (the shapes of ../CONTRACT are kept field for field)."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from api.errors import FIELD_NAMES
from features.controls import control_message
from features.enterprise import ENTERPRISE_FIELDS, FIELD_BY_NAME, ORIGINS


class SegmentPublic(BaseModel):
    segment_id: str = Field(
        description="产业环节编号", examples=["high_end_equipment.intelligent_equipment"]
    )
    name: str = Field(description="产业环节名称（政策原文）", examples=["智能装备"])
    keywords: list[str] = Field(default=[], description="政策在该环节下点名的技术和产品")
    source: str = Field(description="政策原文依据")


class ChainPublic(BaseModel):
    chain_id: str = Field(description="产业链编号", examples=["high_end_equipment"])
    name: str = Field(description="产业链名称，与政策标题一致", examples=["高端装备产业"])
    group: str = Field(
        description="产业链类别：strategic_emerging 战略性新兴 / traditional 优势传统 / "
        "producer_services 现代生产性服务业"
    )
    group_name: str = Field(description="产业链类别中文名", examples=["战略性新兴产业链"])
    direction: str = Field(description="主攻方向", examples=["以高端化、智能化、服务化为主攻方向"])
    segments: list[SegmentPublic] = Field(description="政策列出的产业环节")
    source: str = Field(description="政策原文依据")


class ChainsPublic(BaseModel):
    data: list[ChainPublic]
    count: int = Field(description="产业链数量")


class ZonePublic(BaseModel):
    zone_id: str = Field(description="区域编号", examples=["xiongan"])
    name: str = Field(description="区域名称", examples=["雄安新区高端高新产业发展核心区"])
    kind: str = Field(description="core 一核 / demonstration 四区之一")
    cities: list[str] = Field(description="所含城市")
    positioning: str = Field(description="功能定位（政策原文）")
    focus_terms: list[str] = Field(default=[], description="政策为该区域点名的重点产业")
    source: str = Field(description="政策原文依据")


class ZonesPublic(BaseModel):
    data: list[ZonePublic]
    count: int = Field(description="区域数量")


class ParkChainRef(BaseModel):
    chain_id: str = Field(description="产业链编号")
    segment_id: str | None = Field(description="产业环节编号，未细分到环节时为 null")
    chain_name: str = Field(description="产业链名称")
    segment_name: str | None = Field(description="产业环节名称")


class ParkPublic(BaseModel):
    park_id: str = Field(description="园区编号（目录开发区为目录代码，如 G131055）")
    name: str = Field(description="园区、基地或集群名称")
    kind: str = Field(
        description="类型：base 产业基地园区 / cluster 县域特色产业集群 / service_park 服务业集聚园区 / "
        "demonstration 示范区 / devzone_national 国家级开发区 / devzone_provincial 省级开发区"
    )
    kind_name: str = Field(description="类型中文名")
    city: str = Field(
        description="所在地级市（不含“市”），或定州、辛集、雄安新区", examples=["石家庄"]
    )
    county: str | None = Field(description="所在县（市、区），未知为 null")
    zone_id: str = Field(description="所属区域编号")
    chains: list[ParkChainRef] = Field(description="服务的产业链与环节")
    keywords: list[str] = Field(default=[], description="政策或目录点名的产品与产业")
    source: str = Field(description="政策原文或开发区目录依据")
    also_source: list[str] = Field(default=[], description="其他依据")
    devzone_code: str | None = Field(default=None, description="对应的 2018 年开发区目录代码")
    level: str | None = Field(default=None, description="批准级别：国务院 / 省政府")
    zone_type: str | None = Field(default=None, description="开发区类型")
    approved: str | None = Field(default=None, description="批准时间 YYYY.MM")
    area_ha: float | None = Field(default=None, description="核准面积（公顷）")
    leading_industries: list[str] = Field(default=[], description="目录主导产业")


class ParksPublic(BaseModel):
    data: list[ParkPublic]
    count: int = Field(description="符合筛选条件的园区总数（与 limit 无关）")


class Health(BaseModel):
    status: str = Field(description="ok 正常 / degraded 数据库不可用但仍可匹配")
    model_version: str | None = Field(description="正在使用的模型版本")
    database: str = Field(description="ok / unavailable")
    kb_digest: str = Field(description="知识库版本摘要")
    learned: bool = Field(default=False, description="协同部分是否启用（需真实数据训练的模型）")
    demo: bool = Field(default=False, description="演示模式：数据为合成的演示数据")
    leads_indexed: int = Field(
        default=0, description="招商线索索引中的企业数（尚未建立索引时为 0）"
    )
    leads_indexing: bool = Field(
        default=False, description="是否正在为企业库建立或更新招商线索索引"
    )


class ErrorPublic(BaseModel):
    detail: str = Field(description="中文错误说明，指出字段和修改方法")
    code: str = Field(description="错误代码")


ERROR_DESCRIPTIONS = {
    401: "缺少或无效的招商部门令牌（Authorization: Bearer <令牌>）",
    403: "令牌有效，但无权执行此操作（需要管理员令牌）",
    404: "请求的记录不存在，detail 说明如何查到正确的编号",
    409: "与已有记录冲突，detail 说明如何处理",
    413: "请求体过大",
    422: "输入有误，detail 指出字段和修改方法",
    429: "自检过于频繁：按响应头 Retry-After 的秒数等待后重试",
    503: "数据库暂时不可用，请稍后重试",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for error statuses, all in the one error shape (ErrorPublic)."""
    return {c: {"model": ErrorPublic, "description": ERROR_DESCRIPTIONS[c]} for c in codes}


# Bounds of integer inputs that reach the database: a record id is a 32-bit INTEGER column (a larger
# number made SQLite raise OverflowError, a 500), and no listing is paged a million rows deep.
MAX_ID = 2**31 - 1
MAX_OFFSET = 1_000_000

ORIGIN_VALUES = ORIGINS
Origin = Literal["北京", "天津", "河北", "其他省份", "境外"]


# The example enterprise of the OpenAPI documents (the match request, the pool record).
ENTERPRISE_EXAMPLE: dict[str, Any] = {
    "description": "主要从事工业机器人减速器、伺服电机的研发与生产，产品用于汽车焊接生产线",
    "name": "某某智能装备有限公司",
    "industry_code": "C3491",
    "products": ["RV减速器", "伺服电机"],
    "employees": 320,
    "annual_revenue_wan": 45000,
    "investment_wan": 30000,
    "rd_intensity": 0.06,
    "energy_tce": 1800,
    "land_mu": 80,
    "origin": "北京",
}


def enterprise_field(name: str, **extra: Any) -> Any:
    """A pydantic Field with the bounds and description of `features.enterprise`'s field `name`;
    every field but description is optional."""
    f = FIELD_BY_NAME[name]
    bounds: dict[str, Any] = {
        k: v
        for k, v in (
            ("ge", f.lo),
            ("le", f.hi),
            ("min_length", f.min_length),
            ("max_length", f.max_length),
        )
        if v is not None
    }
    default: dict[str, Any] = {}
    if name != "description":
        default["default"] = [] if f.kind == "list" else None
    return Field(**default, **bounds, description=f.description, **extra)  # type: ignore[call-overload]


class MatchRequest(BaseModel):
    """An enterprise's self-description; only `description` is required."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{**ENTERPRISE_EXAMPLE, "top_k": 10}]},
    )

    description: str = enterprise_field(
        "description", examples=["主要从事工业机器人减速器、伺服电机的研发与生产"]
    )
    name: str | None = enterprise_field("name")
    industry_code: str | None = enterprise_field(
        "industry_code", pattern=r"^[A-Ta-t]?\d{2,4}$", examples=["C3491"]
    )
    products: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    ] = enterprise_field("products")
    employees: int | None = enterprise_field("employees")
    annual_revenue_wan: float | None = enterprise_field("annual_revenue_wan")
    investment_wan: float | None = enterprise_field("investment_wan")
    rd_intensity: float | None = enterprise_field("rd_intensity")
    energy_tce: float | None = enterprise_field("energy_tce")
    land_mu: float | None = enterprise_field("land_mu")
    origin: Origin | None = enterprise_field("origin")
    top_k: int = Field(default=10, ge=1, le=50, description="返回园区数量，1–50")

    @field_validator("industry_code")
    @classmethod
    def _upper(cls, v: str | None) -> str | None:
        return v.upper() if v else None

    @field_validator("description", "name")
    @classmethod
    def _no_controls(cls, v: str | None, info: ValidationInfo) -> str | None:
        return no_controls(v, info.field_name or "", multiline=info.field_name == "description")

    @field_validator("products")
    @classmethod
    def _no_controls_in_products(cls, v: list[str]) -> list[str]:
        for i, item in enumerate(v):
            no_controls(item, "products", multiline=False, item=i)
        return v

    @field_validator(*(f.name for f in ENTERPRISE_FIELDS if f.kind == "float"))
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("数值必须是有限的数字")
        return v


def no_controls(
    value: str | None, field: str, *, multiline: bool, item: int | None = None
) -> str | None:
    """Refuse C0 control characters in a text field (see features.controls), naming the field
    (`field` is an API name of FIELD_NAMES, or already the label to show)."""
    if value is None:
        return None
    label = FIELD_NAMES.get(field, field) + (f"[{item}]" if item is not None else "")
    message = control_message(label, value, multiline=multiline)
    if message:
        raise ValueError(message)
    return value


class SegmentRef(BaseModel):
    segment_id: str = Field(description="产业环节编号")
    name: str = Field(description="产业环节名称")


class ChainMatch(BaseModel):
    chain_id: str = Field(description="产业链编号")
    name: str = Field(description="产业链名称")
    group: str = Field(description="产业链类别")
    segment: SegmentRef = Field(description="最契合的产业环节")
    score: float = Field(description="契合度 0–1")
    matched_terms: list[str] = Field(default=[], description="描述中命中的政策用语")
    source: str = Field(description="该环节的政策原文")


class ZoneMatch(BaseModel):
    zone_id: str = Field(description="区域编号")
    name: str = Field(description="区域名称")
    score: float = Field(description="区域契合度")
    positioning: str = Field(description="区域功能定位")
    source: str = Field(description="政策原文依据")


class ScoreBreakdown(BaseModel):
    content: float = Field(description="内容契合分：业务与园区产业链、环节、特色产品的契合")
    collaborative: float = Field(description="协同过滤分：相似企业的落户记录（LightFM）")
    policy: float = Field(description="政策调整分：政策规则的加分或减分")
    registry: float = Field(
        default=0.0,
        description="登记名录分：所在县已登记、经营范围相近的企业（导入企业登记名录后启用）",
    )


class DocumentRef(BaseModel):
    document_id: str
    title: str
    date: str | None = None


class PolicyPublic(BaseModel):
    document_id: str
    title: str
    issuer: str | None = None
    date: str | None = None
    number: str | None = None
    status: str = Field(description="现行 = 在用")
    records: int = Field(description="知识库中依据该文件的记录数")


class PoliciesPublic(BaseModel):
    data: list[PolicyPublic]
    count: int


class Reason(BaseModel):
    kind: Literal["chain", "industry", "cluster", "zone", "policy", "similar", "registry"] = Field(
        description="理由类别：chain 产业链 / industry 国民经济行业分类 / cluster 集群或基地 / "
        "zone 区域定位 / policy 政策规则 / similar 相似企业 / registry 登记企业"
    )
    text: str = Field(description="中文说明")
    source: str | None = Field(
        description="所依据的政策原文；县域特色产业集群为所引公开名单（名称、发布机关、年份）；无则为 null"
    )
    document: DocumentRef | None = Field(
        default=None, description="原文出自的政策文件（GET /v1/policies），无原文则为 null"
    )


class ParkMatch(BaseModel):
    park_id: str = Field(description="园区编号")
    name: str = Field(description="园区名称")
    kind: str = Field(description="园区类型")
    city: str = Field(description="所在城市（不含“市”）")
    county: str | None = Field(description="所在县（市、区）")
    zone_id: str = Field(description="所属区域编号")
    score: float = Field(description="综合得分 = 三项分之和")
    score_breakdown: ScoreBreakdown
    reasons: list[Reason] = Field(description="推荐理由，每条附政策原文")


class MatchWarning(BaseModel):
    code: str = Field(description="提示代码")
    text: str = Field(description="中文说明")
    source: str | None = Field(description="政策原文依据")


class Excluded(BaseModel):
    park_id: str = Field(description="被排除的园区编号")
    name: str = Field(description="园区名称")
    reason: str = Field(description="排除原因")
    source: str = Field(description="政策原文依据")


class AdvicePark(BaseModel):
    park_id: str
    name: str
    city: str
    score_before: float | None = Field(description="改变前得分（null：改变前依政策排除）")
    score_after: float | None = Field(description="改变后得分（null：改变后依政策排除）")
    delta: float | None = Field(description="得分变化；null 表示被排除或解除排除")
    rank_before: int = Field(description="改变前在全部园区中的名次")
    rank_after: int = Field(description="改变后在全部园区中的名次")


class Advice(BaseModel):
    kind: Literal["gain", "obligation"] = Field(
        description="gain：可争取的加分；obligation：政策义务（产能置换、排放限值、用地）"
    )
    field: str = Field(
        description="改变的方面：rd_intensity、status、capacity、energy_tce、land_mu"
    )
    change: str = Field(description="改变什么（中文）")
    text: str = Field(description="一句话说明：改变及其对园区得分的影响")
    obligation: str | None = Field(description="不作改变时政策的要求（仅 obligation）")
    parks: list[AdvicePark] = Field(description="变化最大的园区（至多 3 个）")
    parks_moved: int = Field(description="推荐范围内得分或名次变化的园区数")
    rule_id: str = Field(description="依据的规则（data/kb/rules.yaml）")
    source: str = Field(description="政策原文依据")


class MatchResponse(BaseModel):
    request_id: str = Field(description="请求编号")
    model_version: str = Field(description="作答的模型版本")
    learned: bool = Field(
        default=False,
        description="协同部分是否启用：仅在导入真实的企业登记名录或招商记录并训练后为 true",
    )
    notice: str | None = Field(
        default=None, description="协同部分未启用时的中文说明（结果仅依据内容契合和政策规则）"
    )
    demo: bool = Field(default=False, description="演示模式：数据为合成的演示数据，并非真实企业")
    chains: list[ChainMatch] = Field(description="最契合的产业链，从高到低")
    zones: list[ZoneMatch] = Field(description="区域排序，从高到低")
    parks: list[ParkMatch] = Field(description="推荐园区，从高到低")
    warnings: list[MatchWarning] = Field(description="政策提示（产能置换、环保等）")
    excluded: list[Excluded] = Field(description="依政策排除的园区及原因")
    advice: list[Advice] | None = Field(
        default=None,
        description="改进建议（至多 3 条，每条由改变后的企业信息重新打分得出）；"
        "仅在请求带 ?advice=true 时给出，否则为 null",
    )
