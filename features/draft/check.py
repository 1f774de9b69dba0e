"""Check drafted records against the KB schema and the current KB, record by record, so a reviewer
sees before applying which ones cannot be applied as they stand (and why, in Chinese)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from features.kb import POLICY_KINDS, KnowledgeBase


def record_problems(
    kind: str, rec: dict[str, Any], kb: KnowledgeBase, draft_chains: set[str]
) -> list[str]:
    """What stops `rec` (a draft record of `kind`) from joining `kb`; empty when nothing does."""
    model, _key = POLICY_KINDS[kind]
    out: list[str] = []
    try:
        model.model_validate(rec)
    except ValidationError as exc:
        for err in exc.errors()[:3]:
            loc = ".".join(str(p) for p in err["loc"])
            if kind == "parks" and loc in ("city", "zone_id") and not rec.get("city"):
                continue  # said below, in the reviewer's words
            out.append(f"字段 {loc} 不符合知识库格式（{err['msg']}）")
    chains = set(kb.chain_by_id) | draft_chains
    if kind == "parks":
        if not rec.get("city"):
            out.append("缺少所在城市（原文未写明）：确认地点后在 data/kb/parks.yaml 中手工补录")
        elif rec["city"] not in kb.zone_of_city:
            out.append(f"城市“{rec['city']}”不在知识库的任何区域中：需先在 zones.yaml 中加入该地区")
        if not rec.get("chains"):
            out.append("未能判断产业链：确认后在 data/kb/parks.yaml 中手工补录")
        for ref in rec.get("chains") or []:
            if ref.get("chain_id") not in chains:
                out.append(f"产业链 {ref.get('chain_id')} 不在知识库中")
    if kind == "zones":
        taken = {c: z.zone_id for z in kb.zones for c in z.cities}
        for c in rec.get("cities") or []:
            if c in taken and taken[c] != rec.get("zone_id"):
                out.append(f"城市“{c}”已属于区域 {taken[c]}（一个城市只能属于一个区域）")
    if kind == "rules":
        zones = set(kb.zone_by_id)
        for z in (rec.get("when") or {}).get("zone_ids") or []:
            if z not in zones:
                out.append(f"适用区域 {z} 不在知识库中，请先应用该区域")
        if rec.get("effect") == "exclude" and not (rec.get("when") or {}).get("zone_ids"):
            out.append("排除规则没有适用区域，会排除所有园区：请补充条件")
    return out
