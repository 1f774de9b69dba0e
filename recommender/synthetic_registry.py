"""A generated registry fixture, for tests, `make eval REGISTRY=…` and the demo only: never real firms.

Each county of Hebei gets a few specialities: the product words of the KB's parks in it (羊绒 for
清河) and, as real county clusters are narrower than chains, two or three GB/T 4754-2017 class names
drawn for it alone. A firm's 经营范围 names one to three of its county's specialities (or, with
probability `p_noise`, another county's), generic trade words and the usual boilerplate. Firm names
say 测试 and carry a serial number; credit codes are well formed (GB 32100-2015 check digit) but
made up.

    python -m recommender.synthetic_registry --n 20000 --out var/registry_fixture.csv
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.kb import COUNTY_PREFIX, KnowledgeBase, load_kb
from features.registry import uscc_check_char

GENERIC = (
    "五金交电",
    "日用百货",
    "建筑材料",
    "劳保用品",
    "办公用品",
    "机械设备",
    "电子产品",
    "包装材料",
    "技术咨询",
    "技术服务",
)
VERBS = ("的生产、销售", "制造、加工、销售", "的研发、生产及销售", "加工", "的制造与批发")
TAILS = (
    "；货物进出口；技术进出口",
    "；{generic}销售",
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动）",
    "",
)
TYPES = ("有限责任公司(自然人投资或控股)", "有限责任公司(自然人独资)", "股份有限公司(非上市)")
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
EXPORT_COLUMNS = (
    "企业名称",
    "统一社会信用代码",
    "注册日期",
    "企业类型",
    "注册资金",
    "经营范围",
    "所在省份",
    "地区",
    "注册地址",
)


@dataclass(frozen=True)
class RegistryParams:
    n_firms: int = 20_000
    seed: int = 20_231_231
    p_noise: float = 0.2  # the firm's scope names another county's speciality
    gbt_per_county: tuple[int, int] = (2, 4)  # GB/T class names drawn for each county


def credit_code(division: str, serial: int) -> str:
    """An 18-character unified social credit code with valid GB 11714 and GB 32100 check digits."""
    body = f"{serial % 10**8:08d}"
    org_sum = sum(int(c) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    org_check = (11 - org_sum % 11) % 11
    org = body + ("X" if org_check == 10 else str(org_check))
    head = "91" + division + org
    return head + uscc_check_char(head)


def county_specialities(kb: KnowledgeBase, rng: np.random.Generator) -> dict[str, list[str]]:
    """county place id → the words its firms' 经营范围 draw from."""
    manufacturing = [
        ind.name
        for code, ind in kb.industries.items()
        if ind.level == 4 and code[:2].isdigit() and 13 <= int(code[:2]) <= 43
    ]
    words: dict[str, list[str]] = {}
    for p in kb.parks:
        if p.kind != "county" and p.county:
            key = next(
                (
                    c.park_id
                    for c in kb.parks
                    if c.kind == "county" and c.city == p.city and c.county == p.county
                ),
                None,
            )
            if key:
                words.setdefault(key, []).extend(k for k in p.keywords if len(k) >= 2)
    out = {}
    lo, hi = RegistryParams.gbt_per_county
    for c in (p for p in kb.parks if p.kind == "county"):
        own = list(dict.fromkeys(words.get(c.park_id, [])))[:4]
        drawn = rng.choice(manufacturing, size=int(rng.integers(lo, hi + 1)), replace=False)
        out[c.park_id] = own + [str(w) for w in drawn]
    return out


def generate_registry(kb: KnowledgeBase, params: RegistryParams | None = None) -> pd.DataFrame:
    """Located firms in the shape of `store.firms.load_placements`: firm_id, name, scope,
    county_code, city, county, reg_date, capital_wan (same params, same frame)."""
    params = params or RegistryParams()
    rng = np.random.default_rng(params.seed)
    special = county_specialities(kb, rng)
    counties = [p for p in kb.parks if p.kind == "county"]
    size = rng.lognormal(0.0, 0.8, size=len(counties))
    choice = rng.choice(len(counties), size=params.n_firms, p=size / size.sum())
    start = np.datetime64("2000-01-01")
    rows = []
    for i, ci in enumerate(choice):
        c = counties[int(ci)]
        src = c
        if rng.random() < params.p_noise:
            src = counties[int(rng.integers(len(counties)))]
        pool = special[src.park_id]
        terms = list(
            dict.fromkeys(rng.choice(pool, size=int(rng.integers(1, min(3, len(pool)) + 1))))
        )
        generic = list(rng.choice(GENERIC, size=int(rng.integers(0, 3)), replace=False))
        scope = "、".join([str(t) for t in terms] + generic) + str(rng.choice(VERBS))
        scope += str(rng.choice(TAILS)).format(generic=rng.choice(GENERIC))
        code = c.park_id.removeprefix(COUNTY_PREFIX)
        rows.append(
            {
                "firm_id": credit_code(code, int(rng.integers(10**7, 10**8))),
                "name": f"测试{c.name}企业{i:06d}有限公司",
                "scope": scope,
                "county_code": code,
                "city": c.city,
                "county": c.name,
                "reg_date": str(start + np.timedelta64(int(rng.integers(0, 9000)), "D")),
                "capital_wan": float(round(rng.lognormal(5.5, 1.2), 1)),
            }
        )
    return pd.DataFrame(rows)


def to_export(firms: pd.DataFrame, kb: KnowledgeBase) -> pd.DataFrame:
    """The same firms as a market-regulation registry export (Chinese headers)."""
    city_of = {p.park_id.removeprefix(COUNTY_PREFIX): p for p in kb.parks if p.kind == "county"}

    def area(code: str) -> str:
        c = city_of[code]
        city = c.city if c.city == "雄安新区" else c.city + "市"
        return city if c.name == city else city + c.name

    return pd.DataFrame(
        {
            "企业名称": firms["name"],
            "统一社会信用代码": firms["firm_id"],
            "注册日期": firms["reg_date"],
            "企业类型": [TYPES[i % len(TYPES)] for i in range(len(firms))],
            "注册资金": [f"{v:g}万元人民币" for v in firms["capital_wan"]],
            "经营范围": firms["scope"],
            "所在省份": "河北省",
            "地区": [area(c) for c in firms["county_code"]],
            "注册地址": [
                f"河北省{area(c)}测试路{i % 300 + 1}号" for i, c in enumerate(firms["county_code"])
            ],
        },
        columns=list(EXPORT_COLUMNS),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="generate a registry fixture (never real firms)")
    ap.add_argument("--n", type=int, default=RegistryParams.n_firms)
    ap.add_argument("--seed", type=int, default=RegistryParams.seed)
    ap.add_argument("--out", type=Path, required=True, help=".csv or .xlsx")
    args = ap.parse_args(argv)
    kb = load_kb()
    export = to_export(generate_registry(kb, RegistryParams(args.n, args.seed)), kb)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix == ".xlsx":
        export.to_excel(args.out, index=False)
    else:
        export.to_csv(args.out, index=False, encoding="utf-8")
    print(f"wrote {len(export)} generated firms to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
