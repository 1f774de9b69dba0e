"""An inbound enterprise: its fields defined once (names, types, Chinese labels, bounds, import
headers), its profile, the one converter to a profile, and its bucketed numeric features."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

ORIGINS = ("北京", "天津", "河北", "其他省份", "境外")

FieldKind = Literal["text", "code", "list", "int", "float", "origin"]


@dataclass(frozen=True)
class EnterpriseField:
    """One field of an enterprise, as the API, imports, the database and exports know it.

    `label` names the field in messages (`employees（员工人数）`); `headers` are the import headers
    it is read from (the API name is always accepted too).
    """

    name: str
    kind: FieldKind
    label: str
    short: str  # the form's label and the export's column
    headers: tuple[str, ...]
    description: str
    lo: float | None = None
    hi: float | None = None
    min_length: int | None = None
    max_length: int | None = None

    @property
    def api_label(self) -> str:
        return f"{self.name}（{self.label}）"


ENTERPRISE_FIELDS: tuple[EnterpriseField, ...] = (
    EnterpriseField(
        "description",
        "text",
        "企业主营业务描述",
        "主营业务描述",
        ("主营业务描述",),
        "主营业务、经营范围或主要产品的中文描述，4–4000 字",
        min_length=4,
        max_length=4000,
    ),
    EnterpriseField(
        "name",
        "text",
        "企业名称",
        "企业名称",
        ("企业名称",),
        "企业名称（不影响排序）",
        max_length=200,
    ),
    EnterpriseField(
        "industry_code",
        "code",
        "国民经济行业代码",
        "行业代码",
        ("行业代码",),
        "GB/T 4754-2017 国民经济行业代码，如 C3612 或 3612（可选）",
        max_length=5,
    ),
    EnterpriseField(
        "products",
        "list",
        "主要产品",
        "主要产品",
        ("主要产品",),
        "主要产品，每项不超过 100 字，最多 50 项",
        max_length=50,
    ),
    EnterpriseField(
        "employees",
        "int",
        "员工人数",
        "员工人数",
        ("员工人数",),
        "员工人数（人）",
        lo=0,
        hi=10_000_000,
    ),
    EnterpriseField(
        "annual_revenue_wan",
        "float",
        "年营业收入，万元",
        "年营业收入",
        ("年营业收入（万元）",),
        "年营业收入（万元）",
        lo=0,
        hi=1e9,
    ),
    EnterpriseField(
        "investment_wan",
        "float",
        "计划投资额，万元",
        "计划投资额",
        ("计划投资额（万元）",),
        "计划投资额（万元）",
        lo=0,
        hi=1e9,
    ),
    EnterpriseField(
        "rd_intensity",
        "float",
        "研发投入强度",
        "研发投入强度",
        ("研发投入强度",),
        "研发投入强度：研发费用占营业收入的比例，0–1（如 0.05 表示 5%）",
        lo=0,
        hi=1,
    ),
    EnterpriseField(
        "energy_tce",
        "float",
        "年综合能耗，吨标准煤",
        "年综合能耗",
        ("年综合能耗（吨标准煤）",),
        "年综合能耗（吨标准煤）",
        lo=0,
        hi=1e8,
    ),
    EnterpriseField(
        "land_mu",
        "float",
        "用地需求，亩",
        "用地需求",
        ("用地需求（亩）",),
        "用地需求（亩）",
        lo=0,
        hi=1e6,
    ),
    EnterpriseField(
        "origin",
        "origin",
        "企业来源地",
        "来源地",
        ("来源地",),
        "企业来源地：" + " | ".join(ORIGINS),
    ),
)
FIELD_BY_NAME = {f.name: f for f in ENTERPRISE_FIELDS}
FIELD_NAMES = tuple(FIELD_BY_NAME)
# The fields a database row holds as plain columns (products is a JSON list beside them).
SCALAR_FIELDS = tuple(f.name for f in ENTERPRISE_FIELDS if f.kind != "list")
NUMERIC_LIMITS = {
    f.name: (f.lo, f.hi) for f in ENTERPRISE_FIELDS if f.lo is not None and f.hi is not None
}
# The bureau's own id of an enterprise: never `enterprise_id`, which is the record's database id.
EXTERNAL_ID_HEADERS = ("企业编号", "external_id", "enterprise_id")
PRODUCT_SEPARATORS = re.compile(r"[\r\n、,，;；]+")


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v) in ("NaT", "<NA>")


def split_products(value: object) -> list[str]:
    """Products as a list: a list is kept item by item, a text split on 、，；and line breaks."""
    if _missing(value):
        return []
    if isinstance(value, list | tuple):
        return [str(p).strip() for p in value if not _missing(p) and str(p).strip()]
    if not isinstance(value, str) and isinstance(value, Iterable):  # a NumPy array from Parquet
        return split_products(list(value))
    return [p.strip() for p in PRODUCT_SEPARATORS.split(str(value)) if p.strip()]


def profile_from(values: Mapping[str, Any]) -> EnterpriseProfile:
    """The one converter to a profile, from anything keyed by the field names (an API request's
    dump, a database row's mapping, a frame's record); missing, None and NaN are "not given"."""
    kwargs: dict[str, object] = {}
    for f in ENTERPRISE_FIELDS:
        v: Any = values.get(f.name)
        if f.kind == "list":
            kwargs[f.name] = tuple(split_products(v))
        elif _missing(v):
            kwargs[f.name] = None
        elif f.kind == "int":
            kwargs[f.name] = int(v)
        elif f.kind == "float":
            kwargs[f.name] = float(v)
        else:
            kwargs[f.name] = str(v)
    kwargs["description"] = kwargs["description"] or ""
    return EnterpriseProfile(**kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class EnterpriseProfile:
    """What an enterprise tells us; every field but `description` may be missing."""

    description: str
    name: str | None = None
    industry_code: str | None = None
    products: tuple[str, ...] = field(default=())
    employees: int | None = None
    annual_revenue_wan: float | None = None
    investment_wan: float | None = None
    rd_intensity: float | None = None  # R&D spending / revenue, 0–1
    energy_tce: float | None = None  # annual energy use, tonnes of standard coal
    land_mu: float | None = None
    origin: str | None = None

    @property
    def text(self) -> str:
        """The text the matcher reads. The name is left out: it must not change the ranking."""
        return "；".join([self.description, *self.products])


def bucket(value: float | None, edges: tuple[float, ...], labels: tuple[str, ...]) -> str:
    """The label of the first edge `value` is below (the last label above them all)."""
    if value is None:
        return "unknown"
    for edge, label in zip(edges, labels, strict=False):
        if value < edge:
            return label
    return labels[-1]


SCALE = ((20, 100, 300, 1000), ("micro", "small", "medium", "large", "xlarge"))
RD = ((0.01, 0.03, 0.06), ("none", "low", "mid", "high"))
ENERGY = ((1_000, 5_000, 50_000), ("low", "mid", "high", "heavy"))
ENERGY_PER_REVENUE = ((0.05, 0.3), ("low", "mid", "high"))  # 吨标准煤 / 万元
LAND = ((20, 100, 500), ("small", "medium", "large", "xlarge"))
INVEST = ((5_000, 50_000, 500_000), ("small", "medium", "large", "major"))


def numeric_features(e: EnterpriseProfile) -> list[str]:
    """Bucket names such as `scale:medium`, `rd:high`, `origin:北京`; unknown values say so."""
    intensity = None
    if e.energy_tce is not None and e.annual_revenue_wan:
        intensity = e.energy_tce / e.annual_revenue_wan
    return [
        f"scale:{bucket(e.employees, *SCALE)}",
        f"rd:{bucket(e.rd_intensity, *RD)}",
        f"energy:{bucket(e.energy_tce, *ENERGY)}",
        f"energy_intensity:{bucket(intensity, *ENERGY_PER_REVENUE)}",
        f"land:{bucket(e.land_mu, *LAND)}",
        f"invest:{bucket(e.investment_wan, *INVEST)}",
        f"origin:{e.origin if e.origin in ORIGINS else 'unknown'}",
    ]
