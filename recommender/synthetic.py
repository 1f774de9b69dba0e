"""A documented, deterministic placement history to learn from, since no public one exists.

Enterprises are drawn across the 16 chains in fixed proportions; each gets a Chinese description
composed from its segment's policy vocabulary and real GB/T 4754 names, with noise. Each then
chooses a park by a conditional-logit location-choice model (McFadden 1974; Guimarães et al. 2003):

    U(e, p) = β_fit·fit(e, p) + β_agg·log(1 + n_chain(p)) + β_zone·focus(zone(p), e)
              − β_dist·relocating(e)·dist_km(p, origin)/100 + β_size·size(p) + policy(e, p) + ε,

with ε ~ Gumbel(0, 1), so P(p | e) = softmax(U − ε). `fit` uses the enterprise's *true* segment,
which the recommender never sees (it reads only the noisy text), `n_chain` counts earlier placements
of the same chain (agglomeration), and `policy` applies the KB's rules (exclusions remove the park).
Parameters are in `GeneratorParams`; the README documents them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from features.enterprise import ORIGINS, EnterpriseProfile
from features.kb import KnowledgeBase, Park
from recommender.rules import PolicyEngine

BEIJING = (116.40, 39.90)
TIANJIN = (117.20, 39.08)

# Share of inbound projects per chain (sums to 1). Manufacturing-heavy, as Hebei's inbound
# investment is; services and future industries are thin.
CHAIN_SHARES = {
    "high_end_equipment": 0.16,
    "next_gen_it": 0.08,
    "biomedicine": 0.07,
    "new_materials": 0.07,
    "energy_saving_env": 0.05,
    "new_energy": 0.06,
    "future_industries": 0.02,
    "steel": 0.06,
    "petrochemical": 0.07,
    "food": 0.09,
    "textile": 0.08,
    "industrial_design": 0.02,
    "it_services": 0.04,
    "ecommerce": 0.04,
    "modern_logistics": 0.07,
    "industrial_tourism": 0.02,
}
ORIGIN_SHARES = (0.15, 0.07, 0.45, 0.28, 0.05)  # 北京 天津 河北 其他省份 境外
HEAVY_CHAINS = {"steel", "petrochemical"}
SERVICE_GROUP = "producer_services"

OPENERS = ("主要从事", "专注于", "公司致力于", "企业主营", "经营范围包括", "从事")
VERBS = (
    "的研发、生产和销售",
    "的生产与销售",
    "的研发制造",
    "的技术开发和产业化",
    "及相关技术服务",
    "",
)
TAILS = (
    "产品广泛应用于{app}等领域。",
    "拥有多项自主知识产权。",
    "计划在河北投资建设生产基地。",
    "客户覆盖京津冀及全国市场。",
    "拟扩大产能并建设研发中心。",
    "",
)
APPS = (
    "汽车",
    "电力",
    "建筑",
    "医疗",
    "通信",
    "家电",
    "轨道交通",
    "新能源",
    "化工",
    "食品",
    "物流",
)
VAGUE = (
    "生产加工各类产品，承接来料加工业务。",
    "从事贸易及相关配套服务。",
    "综合性生产企业，业务多元。",
)


@dataclass(frozen=True)
class GeneratorParams:
    n_enterprises: int = 20_000
    seed: int = 20_170_222
    beta_fit: float = 3.0  # true segment fit (1 segment, 0.75 chain only, 0 none)
    beta_agg: float = 0.6  # log(1 + earlier same-chain placements in the park)
    beta_zone: float = 1.0  # the zone's positioning names the enterprise's chain
    beta_dist: float = 0.8  # per 100 km from 北京/天津, for firms relocating from there
    beta_size: float = 0.3  # national zone / policy-named base
    beta_policy: float = 1.0  # multiplier on the KB rules' bonus and penalty weights
    p_code: float = 0.6  # the enterprise states a GB/T 4754 code
    p_distractor: float = 0.25  # a term from another segment enters the text
    p_gbt_name: float = 0.5  # a product term is a GB/T class name rather than the policy's word
    p_vague: float = 0.05  # the description names nothing useful
    p_settle: float = 0.85  # a chosen park becomes 'settled' (else 'signed')
    extra_contacts: tuple[int, int] = (1, 4)  # other parks an enterprise looks at
    start: str = "2018-01-01"
    end: str = "2025-12-31"
    chain_shares: dict[str, float] = field(default_factory=lambda: dict(CHAIN_SHARES))


def haversine_km(a: tuple[float, float], b: np.ndarray) -> np.ndarray:
    lon1, lat1 = np.radians(a[0]), np.radians(a[1])
    lon2, lat2 = np.radians(b[:, 0]), np.radians(b[:, 1])
    h = (
        np.sin((lat2 - lat1) / 2) ** 2
        + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    )
    return 6371.0 * 2 * np.arcsin(np.sqrt(h))


def park_coordinates(kb: KnowledgeBase, parks: tuple[Park, ...]) -> np.ndarray:
    """(n_parks, 2) lon/lat; parks without a geocode take their city's mean catalogue point."""
    by_city: dict[str, list[tuple[float, float]]] = {}
    for p in kb.parks:
        if p.lon is not None and p.lat is not None:
            by_city.setdefault(p.city, []).append((p.lon, p.lat))
    centroid = {c: tuple(np.mean(v, axis=0)) for c, v in by_city.items()}
    fallback = {
        "雄安新区": centroid.get("保定"),
        "定州": centroid.get("保定"),
        "辛集": centroid.get("石家庄"),
    }
    out = np.zeros((len(parks), 2))
    for i, p in enumerate(parks):
        if p.lon is not None and p.lat is not None:
            out[i] = (p.lon, p.lat)
        else:
            point = centroid.get(p.city) or fallback.get(p.city) or (115.5, 38.5)
            out[i] = point
    return out


def _segment_codes(kb: KnowledgeBase) -> dict[str, list[str]]:
    """GB/T 4754 4-digit classes that the KB maps to each segment (directly or via its chain)."""
    classes = [c for c, ind in kb.industries.items() if ind.level == 4]
    out: dict[str, list[str]] = {}
    for chain in kb.chains:
        for seg in chain.segments:
            codes = []
            for code in classes:
                refs = kb.chains_for_code(code)
                if any(r.segment_id == seg.segment_id for r in refs):
                    codes.append(code)
            if not codes:
                codes = [
                    c
                    for c in classes
                    if any(
                        r.chain_id == chain.chain_id and r.segment_id is None
                        for r in kb.chains_for_code(c)
                    )
                ]
            out[seg.segment_id] = codes
    return out


def _describe(
    rng: np.random.Generator,
    kb: KnowledgeBase,
    segment_id: str,
    codes: list[str],
    params: GeneratorParams,
    all_terms: list[str],
) -> str:
    """A business description: 1–4 product terms, each the policy's word or, as real registrations
    mostly read, a GB/T 4754 class name of the segment; sometimes an unrelated term or nothing useful."""
    if rng.random() < params.p_vague:
        return str(rng.choice(VAGUE))
    seg = kb.segment_by_id[segment_id]
    chain = kb.chain_by_id[kb.chain_of_segment[segment_id]]
    pool = list(seg.keywords) + list(seg.synonyms) or list(chain.keywords) or [seg.name]
    terms: list[str] = []
    for _ in range(int(rng.integers(1, 5))):
        if codes and rng.random() < params.p_gbt_name:
            name = kb.industries[str(rng.choice(codes))].name
            terms.append(name.removesuffix("制造").removesuffix("服务") if len(name) > 4 else name)
        else:
            terms.append(str(rng.choice(pool)))
    if rng.random() < params.p_distractor:
        terms.append(str(rng.choice(all_terms)))
    terms = list(dict.fromkeys(terms))
    rng.shuffle(terms)
    opener, verb, tail = rng.choice(OPENERS), rng.choice(VERBS), str(rng.choice(TAILS))
    return f"{opener}{'、'.join(terms)}{verb}，{tail.format(app=rng.choice(APPS))}".rstrip("，")


def _numbers(rng: np.random.Generator, group: str, chain_id: str) -> dict[str, float | int]:
    employees = int(max(3, rng.lognormal(4.6 if group != SERVICE_GROUP else 3.8, 1.0)))
    revenue = float(round(employees * rng.lognormal(math.log(60), 0.6), 1))
    rd_mean = {"strategic_emerging": 0.05, "traditional": 0.015, SERVICE_GROUP: 0.03}[group]
    rd = float(round(min(0.6, rng.gamma(2.0, rd_mean / 2.0)), 4))
    if chain_id in HEAVY_CHAINS:
        energy = float(round(rng.lognormal(math.log(20_000), 1.0), 0))
    else:
        energy = float(round(revenue * rng.lognormal(math.log(0.03), 0.7), 1))
    land = (
        float(round(employees / rng.uniform(2, 6), 1))
        if group != SERVICE_GROUP
        else float(round(rng.uniform(0, 20), 1))
    )
    invest = float(round(revenue * rng.uniform(0.3, 2.0), 0))
    return dict(
        employees=employees,
        annual_revenue_wan=revenue,
        rd_intensity=rd,
        energy_tce=energy,
        land_mu=land,
        investment_wan=invest,
    )


def generate_history(
    kb: KnowledgeBase, params: GeneratorParams | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (enterprises, interactions) DataFrames; the same params give the same frames."""
    params = params or GeneratorParams()
    rng = np.random.default_rng(params.seed)
    # The invented placements are in parks only; county places learn from real registrations.
    parks = tuple(p for p in kb.parks if p.kind != "county")
    n_parks = len(parks)
    park_ids = [p.park_id for p in parks]
    coords = park_coordinates(kb, parks)
    dist = {o: haversine_km(pt, coords) / 100.0 for o, pt in (("北京", BEIJING), ("天津", TIANJIN))}
    size = np.array(
        [1.0 if p.kind in ("devzone_national", "base", "demonstration") else 0.0 for p in parks]
    )
    chain_ids = [c.chain_id for c in kb.chains]
    cidx = {c: i for i, c in enumerate(chain_ids)}
    # fit[s, p]: 1 when the park names the segment, 0.75 when it names only the chain.
    seg_ids = [s.segment_id for c in kb.chains for s in c.segments]
    sidx = {s: i for i, s in enumerate(seg_ids)}
    fit = np.zeros((len(seg_ids), n_parks))
    for pi, p in enumerate(parks):
        for ref in p.chains:
            if ref.segment_id:
                fit[sidx[ref.segment_id], pi] = 1.0
            else:
                for s in kb.chain_by_id[ref.chain_id].segments:
                    fit[sidx[s.segment_id], pi] = max(fit[sidx[s.segment_id], pi], 0.75)
    zone_focus = np.zeros((len(chain_ids), n_parks))
    for pi, p in enumerate(parks):
        for ref in kb.zone_by_id[p.zone_id].focus_chains:
            zone_focus[cidx[ref.chain_id], pi] = 1.0
    engine = PolicyEngine(kb, parks)
    seg_codes = _segment_codes(kb)
    all_terms = sorted({t for c in kb.chains for s in c.segments for t in s.keywords})
    shares = np.array([params.chain_shares[c] for c in chain_ids], dtype=float)
    shares /= shares.sum()
    agg = np.zeros((len(chain_ids), n_parks))
    start = datetime.fromisoformat(params.start).replace(tzinfo=UTC)
    span_days = (datetime.fromisoformat(params.end).replace(tzinfo=UTC) - start).days
    days = np.sort(rng.integers(0, span_days, size=params.n_enterprises))

    ent_rows: list[dict[str, object]] = []
    int_rows: list[dict[str, object]] = []
    for n in range(params.n_enterprises):
        ci = int(rng.choice(len(chain_ids), p=shares))
        chain = kb.chains[ci]
        seg = chain.segments[int(rng.integers(len(chain.segments)))]
        codes = seg_codes.get(seg.segment_id) or []
        code = str(rng.choice(codes)) if codes and rng.random() < params.p_code else None
        origin = str(rng.choice(ORIGINS, p=ORIGIN_SHARES))
        nums = _numbers(rng, chain.group, chain.chain_id)
        desc = _describe(rng, kb, seg.segment_id, codes, params, all_terms)
        created = start + timedelta(days=int(days[n]))
        eid = f"S{n + 1:06d}"
        profile = EnterpriseProfile(description=desc, origin=origin, industry_code=code, **nums)  # type: ignore[arg-type]
        outcome = engine.evaluate(profile, frozenset({chain.chain_id}))
        u = (
            params.beta_fit * fit[sidx[seg.segment_id]]
            + params.beta_agg * np.log1p(agg[ci])
            + params.beta_zone * zone_focus[ci]
            + params.beta_size * size
            + params.beta_policy * outcome.adjustment
        )
        if origin in dist:
            u = u - params.beta_dist * dist[origin]
        allowed = np.ones(n_parks, dtype=bool)
        allowed[list(outcome.excluded)] = False
        taste = rng.gumbel(size=n_parks)
        total = np.where(allowed, u + taste, -np.inf)
        order = np.argsort(-total)
        choice = int(order[0])
        agg[ci, choice] += 1
        ent_rows.append(
            dict(
                enterprise_id=eid,
                name=f"样本企业{n + 1:05d}",
                description=desc,
                industry_code=code,
                products="",
                origin=origin,
                **nums,
                true_chain=chain.chain_id,
                true_segment=seg.segment_id,
                created_at=created,
            )
        )
        t = created
        n_extra = int(rng.integers(params.extra_contacts[0], params.extra_contacts[1] + 1))
        for alt in order[1 : 1 + n_extra]:
            if not allowed[alt]:
                continue
            t = t + timedelta(days=int(rng.integers(1, 30)))
            kind = str(
                rng.choice(["viewed", "contacted", "visited", "declined"], p=[0.4, 0.3, 0.15, 0.15])
            )
            int_rows.append(
                dict(enterprise_id=eid, park_id=park_ids[alt], kind=kind, occurred_at=t)
            )
        for stage in ("contacted", "visited"):
            t = t + timedelta(days=int(rng.integers(3, 45)))
            int_rows.append(
                dict(enterprise_id=eid, park_id=park_ids[choice], kind=stage, occurred_at=t)
            )
        t = t + timedelta(days=int(rng.integers(10, 120)))
        final = "settled" if rng.random() < params.p_settle else "signed"
        int_rows.append(
            dict(enterprise_id=eid, park_id=park_ids[choice], kind=final, occurred_at=t)
        )

    enterprises = pd.DataFrame(ent_rows)
    interactions = pd.DataFrame(int_rows)
    interactions["source"] = "synthetic"
    enterprises.attrs["params"] = asdict(params)
    return enterprises, interactions
