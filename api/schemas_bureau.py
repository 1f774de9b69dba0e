"""Request and response schemas of the bureau's enterprise records and lead interactions."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, computed_field, field_validator
from pydantic.json_schema import SkipJsonSchema

from api.schemas import ENTERPRISE_EXAMPLE, MAX_ID, MatchRequest, no_controls
from features.enterprise import FIELD_BY_NAME
from store.enterprises import as_utc

UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]

# Earlier versions showed records without an external id as `db<primary key>`, and exports made
# then carry such ids: an imported id of that form would be taken for another record.
INVENTED_ID = re.compile(r"^db[0-9]+$", re.IGNORECASE)
INVENTED_ID_MESSAGE = (
    "{label} “{value}” 的形式 db+数字 留作系统内部编号，请换一个编号（例如加上部门前缀）"
)

# One meaning of `enterprise_id` everywhere (README, 企业编号): the record's database id.
ENTERPRISE_ID_DOC = (
    "企业记录编号 enterprise_id：企业库中这条记录的数据库 id（整数）。线索、链条缺口、对接进展、"
    "导出和报告中的 enterprise_id 都是它，可原样用于 POST /v1/interactions"
)
EXTERNAL_ID_DOC = "招商部门自己的企业编号 external_id（导入或录入时填写；可为空），仅供对照"

RECORD_SOURCES = {
    "bureau": "招商部门录入",
    "import": "文件导入",
    "self_check": "企业自检（经同意保存）",
    "synthetic": "模拟历史数据",
    "api": "接口写入",
}
RecordSource = Literal["bureau", "import", "self_check", "synthetic", "api"]
Kind = Literal["viewed", "contacted", "visited", "signed", "settled", "declined"]


class EnterpriseCreate(MatchRequest):
    """An enterprise for the candidate pool: the fields of `POST /v1/match`, plus the bureau's id."""

    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={"examples": [{"external_id": "SJZ-2024-0001", **ENTERPRISE_EXAMPLE}]},
    )

    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=80,
        description="招商部门自己的企业编号（可选，全库唯一；重复时返回 409）",
        examples=["SJZ-2024-0001"],
    )
    # Matching's result size means nothing for a stored record: accepted and ignored, not shown.
    top_k: SkipJsonSchema[int] = Field(default=10, exclude=True)

    @field_validator("external_id", mode="before")
    @classmethod
    def _blank_id(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, v: str | None) -> str | None:
        no_controls(v, "external_id（企业编号）", multiline=False)
        if v is not None and INVENTED_ID.match(v):
            raise ValueError(INVENTED_ID_MESSAGE.format(label="external_id（企业编号）", value=v))
        return v


def described(name: str) -> Any:
    """A response field described as `features.enterprise` describes it (bounds are the input's)."""
    return Field(description=FIELD_BY_NAME[name].description)


class EnterprisePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description=ENTERPRISE_ID_DOC)
    external_id: str | None = Field(description=EXTERNAL_ID_DOC)
    name: str | None = described("name")
    description: str = described("description")
    industry_code: str | None = described("industry_code")
    products: list[str] = described("products")
    employees: int | None = described("employees")
    annual_revenue_wan: float | None = described("annual_revenue_wan")
    investment_wan: float | None = described("investment_wan")
    rd_intensity: float | None = described("rd_intensity")
    energy_tce: float | None = described("energy_tce")
    land_mu: float | None = described("land_mu")
    origin: str | None = described("origin")
    record_source: str = Field(
        description="来源：bureau 招商部门录入 / import 文件导入 / self_check 企业自检（经同意）/ "
        "synthetic 模拟历史数据"
    )
    consent: bool = Field(description="企业是否同意保存（自检来源时为企业本人勾选）")
    created_at: UtcDatetime = Field(description="建档时间（UTC）")

    @computed_field(description=ENTERPRISE_ID_DOC)  # type: ignore[prop-decorator]
    @property
    def enterprise_id(self) -> int:
        """The record id under the name every other answer (leads, interactions) gives it."""
        return self.id


class EnterprisesPublic(BaseModel):
    data: list[EnterprisePublic]
    count: int = Field(description="符合筛选条件的企业总数（与 limit 无关）")


class ImportResult(BaseModel):
    imported: int = Field(description="导入的企业数")


class ImportRejected(BaseModel):
    detail: str = Field(description="中文摘要：多少处错误、在哪些行；整个文件未导入")
    code: str = Field(description="invalid_file")
    errors: list[str] = Field(description="逐条错误，每条指出行号和列")
    error_count: int = Field(description="错误总数（errors 最多列出 500 条）")


class InteractionCreate(BaseModel):
    model_config = ConfigDict(
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "enterprise_id": 1,
                    "park_id": "tangshan_robotics",
                    "kind": "visited",
                    "occurred_at": "2024-05-20T10:00:00+08:00",
                    "note": "企业负责人到园区考察标准厂房",
                }
            ]
        },
    )

    enterprise_id: int = Field(ge=1, le=MAX_ID, description=ENTERPRISE_ID_DOC)
    park_id: str = Field(min_length=1, max_length=80, description="园区编号（GET /v1/parks）")
    kind: Kind = Field(
        description="进展：viewed 浏览 / contacted 已接洽 / visited 已考察 / signed 已签约 / "
        "settled 已落地 / declined 已放弃"
    )
    occurred_at: datetime | None = Field(
        default=None,
        description="发生时间，ISO 8601；不带时区时按北京时间（UTC+8）理解；不填为当前时间",
    )
    note: str | None = Field(default=None, max_length=2000, description="备注，最多 2000 字")

    @field_validator("note")
    @classmethod
    def _blank_note(cls, v: str | None) -> str | None:
        return no_controls(v, "note（备注）", multiline=True) or None

    @field_validator("park_id")
    @classmethod
    def _park_id(cls, v: str) -> str:
        no_controls(v, "park_id（园区编号）", multiline=False)
        return v


class InteractionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(description="记录编号")
    enterprise_id: int = Field(description=ENTERPRISE_ID_DOC)
    park_id: str = Field(description="园区编号")
    park_name: str | None = Field(default=None, description="园区名称")
    kind: str = Field(description="进展")
    kind_name: str = Field(default="", description="进展中文名")
    occurred_at: UtcDatetime = Field(description="发生时间（UTC）")
    note: str | None = Field(description="备注")
    idempotency_key: str | None = Field(description="记录时使用的幂等键")
    record_source: str = Field(description="来源")


class InteractionsPublic(BaseModel):
    data: list[InteractionPublic]
    count: int = Field(description="符合筛选条件的记录总数（与 limit 无关）")
