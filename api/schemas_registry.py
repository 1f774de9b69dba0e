"""Response schemas of the registry import and its summary (`/v1/registry`)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RegistryImportPublic(BaseModel):
    rows_read: int = Field(description="读取的数据行数（不含表头和空行）")
    imported: int = Field(description="新导入的企业数")
    updated: int = Field(description="库中已有、本次内容有变化而更新的企业数")
    unchanged: int = Field(description="库中已有且内容相同的企业数（重复导入不改变任何数据）")
    duplicates: int = Field(
        description="文件内重复的行（统一社会信用代码相同，或无有效代码时名称和地址相同）"
    )
    skipped: int = Field(description="缺少企业名称而跳过的行")
    invalid_codes: int = Field(
        description="统一社会信用代码未通过 GB 32100-2015 校验的行（已导入并标记）"
    )
    missing_codes: int = Field(description="统一社会信用代码为空或 N/A 的行（已导入并标记）")
    located_by: dict[str, int] = Field(
        description="定位到县或市的依据：credit_code（代码第 3–8 位登记机关区划）、address（注册地址）、region（地区）"
    )
    city_only: int = Field(description="只能定位到市、不能定位到县的企业数")
    unlocated: int = Field(description="未能定位到县的企业数（含只定位到市的）")
    capital_foreign: int = Field(description="注册资金为外币的企业数（保留原币金额，不折算人民币）")
    capital_unparsed: int = Field(description="注册资金无法识别的行")
    bad_dates: int = Field(description="注册日期无法识别的行")
    by_city: dict[str, int] = Field(description="本文件中各市的企业数")
    ignored_columns: list[str] = Field(description="未使用的列")
    dropped_personal_columns: list[str] = Field(
        description="含个人姓名、未读取也未保存的列（如法定代表人）"
    )
    warnings: list[str] = Field(description="逐行提示（最多 200 条），带行号")
    seconds: float = Field(description="导入耗时（秒）")
    training_job_id: str | None = Field(
        description="导入后自动开始的模型训练任务（GET /v1/models/train/{job_id} 查看进度）；未训练时为 null"
    )


class CountyCount(BaseModel):
    county_code: str
    county: str | None
    count: int


class CityCount(BaseModel):
    city: str = Field(description="城市（不带“市”），或“未能定位”")
    count: int
    counties: list[CountyCount]


class SourceCount(BaseModel):
    bureau: str | None = Field(description="导入的招商部门（导入时填写）")
    count: int
    last_imported_at: str | None


class RegistrySummaryPublic(BaseModel):
    total: int = Field(description="库中登记企业总数")
    code_valid: int
    code_invalid_or_missing: int
    located_by: dict[str, int]
    with_county: int = Field(description="定位到县的企业数（用于学习落位）")
    by_city: list[CityCount]
    sources: list[SourceCount]
    source: str = Field(description="数据来源说明")
