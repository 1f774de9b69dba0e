"""An inbound enterprise's profile and its bucketed numeric features (scale, R&D, energy, land, origin)."""

from __future__ import annotations

from dataclasses import dataclass, field

ORIGINS = ("北京", "天津", "河北", "其他省份", "境外")


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


def _bucket(value: float | None, edges: tuple[float, ...], labels: tuple[str, ...]) -> str:
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
        f"scale:{_bucket(e.employees, *SCALE)}",
        f"rd:{_bucket(e.rd_intensity, *RD)}",
        f"energy:{_bucket(e.energy_tce, *ENERGY)}",
        f"energy_intensity:{_bucket(intensity, *ENERGY_PER_REVENUE)}",
        f"land:{_bucket(e.land_mu, *LAND)}",
        f"invest:{_bucket(e.investment_wan, *INVEST)}",
        f"origin:{e.origin if e.origin in ORIGINS else 'unknown'}",
    ]
