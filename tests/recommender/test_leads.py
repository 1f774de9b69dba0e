"""Leads and chain gaps on a small trained matcher: the same scores as Matcher.score, policy
exclusions, filters, the cache, and gap statuses on a constructed park."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.hybrid import Matcher
from recommender.leads import (
    CANDIDATE_MIN_FIT,
    LeadCache,
    LeadFilters,
    LeadVector,
    chain_gaps,
    lead_entry,
    lead_segment,
    park_segments,
    rank_leads,
    scale_of,
    segment_status,
)
from recommender.synthetic import GeneratorParams, generate_history
from recommender.train import TrainParams, profiles, train_matcher

CHAIN_PARK = "cangzhou_canal_laser"  # names the whole 高端装备产业 chain: five segments
XIONGAN_PARK = "xiongan_international_design_eco_city"  # excludes general manufacturing
ROBOTS = "研发制造工业机器人、高档数控机床和机器人减速器"
NEV = "新能源汽车整车及动力电池系统、驱动电机制造"


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase) -> Matcher:
    ents, inter = generate_history(kb, GeneratorParams(n_enterprises=400, seed=11))
    return train_matcher(kb, ents, inter, TrainParams(epochs=5, num_threads=1), version="leads-t")


@pytest.fixture(scope="module")
def pool(kb: KnowledgeBase, matcher: Matcher) -> list[LeadVector]:
    ents, _ = generate_history(kb, GeneratorParams(n_enterprises=250, seed=12))
    items = list(zip([f"P{i:04d}" for i in range(len(ents))], profiles(ents), strict=True))
    items.append(("STEEL", EnterpriseProfile(description="生产普通铸铁管件、建筑用钢筋和水泥制品")))
    return LeadCache().vectors(matcher, items)


def park_index(matcher: Matcher, park_id: str) -> int:
    return next(i for i, p in enumerate(matcher.parks) if p.park_id == park_id)


def test_vectors_hold_the_scores_of_matcher_score(matcher: Matcher, pool: list[LeadVector]) -> None:
    for v in pool[:40]:
        s = matcher.score(v.profile)
        assert np.array_equal(v.final, s.final)
        np.testing.assert_allclose(v.content, s.content, atol=1e-6)
        np.testing.assert_allclose(v.collaborative, s.collaborative, atol=1e-6)


def test_lead_score_equals_the_park_score_of_match(
    matcher: Matcher, pool: list[LeadVector]
) -> None:
    park = park_index(matcher, CHAIN_PARK)
    segs = park_segments(matcher, park, [])
    leads = rank_leads(matcher, park, pool, segs)
    for lead in leads[:5]:
        entry = lead_entry(matcher, park, lead, segs)
        answer = matcher.match(lead.vector.profile, top_k=len(matcher.parks))
        park_score = next(p for p in answer["parks"] if p["park_id"] == CHAIN_PARK)
        assert entry["score"] == park_score["score"]
        assert entry["score_breakdown"] == park_score["score_breakdown"]


def test_rank_leads_is_sorted_and_leaves_out_excluded_enterprises(
    matcher: Matcher, pool: list[LeadVector]
) -> None:
    park = park_index(matcher, XIONGAN_PARK)
    excluded = {v.enterprise_id for v in pool if park in v.excluded}
    assert "STEEL" in excluded  # general manufacturing is not for 雄安
    leads = rank_leads(matcher, park, pool, park_segments(matcher, park, []))
    ids = [lead.vector.enterprise_id for lead in leads]
    assert not excluded & set(ids)
    assert len(ids) == len(pool) - len(excluded)
    scores = [lead.score for lead in leads]
    assert scores == sorted(scores, reverse=True)


def test_rank_leads_filters_by_origin_scale_chain_and_segment(
    matcher: Matcher, pool: list[LeadVector]
) -> None:
    park = park_index(matcher, CHAIN_PARK)
    segs = park_segments(matcher, park, [])
    everyone = rank_leads(matcher, park, pool, segs)
    beijing = rank_leads(matcher, park, pool, segs, LeadFilters(origin="北京"))
    assert beijing and all(lead.vector.profile.origin == "北京" for lead in beijing)
    assert len(beijing) == sum(lead.vector.profile.origin == "北京" for lead in everyone)
    small = rank_leads(matcher, park, pool, segs, LeadFilters(scale="small"))
    assert all(20 <= (lead.vector.profile.employees or -1) < 100 for lead in small)
    seg_id = "high_end_equipment.intelligent_equipment"
    in_segment = rank_leads(matcher, park, pool, segs, LeadFilters(segment_id=seg_id))
    assert in_segment
    assert all(matcher.segment_ids[lead.segment] == seg_id for lead in in_segment)  # type: ignore[index]
    in_chain = rank_leads(matcher, park, pool, segs, LeadFilters(chain_id="high_end_equipment"))
    assert len(in_chain) == sum(lead.segment is not None for lead in everyone)


def test_scale_of_uses_the_feature_buckets() -> None:
    assert [scale_of(n) for n in (None, 5, 20, 150, 999, 5000)] == [
        None,
        "micro",
        "small",
        "medium",
        "large",
        "xlarge",
    ]


def test_segment_status_thresholds() -> None:
    assert segment_status(0, 10) == "empty"
    assert segment_status(2, 0) == "thin"  # fewer than THIN_MIN
    assert segment_status(3, 4) == "ok"
    assert segment_status(5, 40) == "thin"  # below a quarter of the park's median segment
    assert segment_status(10, 40) == "ok"


def test_gap_statuses_on_a_constructed_park(matcher: Matcher, pool: list[LeadVector]) -> None:
    park = park_index(matcher, CHAIN_PARK)
    placed_items = [(f"R{i}", EnterpriseProfile(description=ROBOTS)) for i in range(4)]
    placed_items.append(("N0", EnterpriseProfile(description=NEV)))
    placed = LeadCache().vectors(matcher, placed_items)
    robot = lead_segment(matcher, placed[0], park)
    nev = lead_segment(matcher, placed[-1], park)
    assert robot is not None and matcher.segment_ids[robot].endswith("intelligent_equipment")
    assert nev is not None and matcher.segment_ids[nev].endswith("nev_icv")

    segs = park_segments(matcher, park, placed)
    assert len(segs.served) == 5 and segs.unassigned == 0
    assert segs.placed[robot] == 4 and segs.placed[nev] == 1
    assert segs.status[robot] == "ok"
    assert segs.status[nev] == "thin"
    assert [segs.status[j] for j in segs.served if j not in (robot, nev)] == ["empty"] * 3

    leads = rank_leads(matcher, park, pool, segs)
    assert any(lead.fills_gap for lead in leads)
    for lead in leads:
        assert lead.fills_gap == (lead.segment is not None and lead.segment != robot)

    chains = chain_gaps(matcher, park, pool, segs)
    assert [c["chain_id"] for c in chains] == ["high_end_equipment"]
    seg_ids = [s["segment_id"] for s in chains[0]["segments"]]
    assert seg_ids == [s.segment_id for s in matcher.kb.chain_by_id["high_end_equipment"].segments]
    for s in chains[0]["segments"]:
        assert len(s["candidates"]) <= 5
        assert all(c["segment_fit"] >= CANDIDATE_MIN_FIT for c in s["candidates"])
    robots = next(
        s for s in chains[0]["segments"] if s["segment_id"].endswith("intelligent_equipment")
    )
    assert robots["placed"] == 4 and robots["status"] == "ok" and robots["candidates"]


def test_lead_reasons_speak_from_the_park_side(matcher: Matcher, pool: list[LeadVector]) -> None:
    park = park_index(matcher, CHAIN_PARK)
    segs = park_segments(matcher, park, [])
    lead = next(x for x in rank_leads(matcher, park, pool, segs) if x.segment is not None)
    reasons = lead_entry(matcher, park, lead, segs)["reasons"]
    chain = reasons[0]
    assert chain["kind"] == "chain" and chain["source"]
    assert chain["text"].startswith("该企业主营「") and "「高端装备产业·" in chain["text"]
    assert "空白" in chain["text"]  # nothing is placed, so every segment is empty


def test_cache_reuses_entries_and_rescores_changed_records(matcher: Matcher) -> None:
    cache = LeadCache(maxsize=3)
    a = EnterpriseProfile(description=ROBOTS)
    first = cache.vectors(matcher, [("a", a), ("b", EnterpriseProfile(description=NEV))])
    assert cache.misses == 2
    again = cache.vectors(matcher, [("a", a)])
    assert cache.hits == 1 and again[0] is first[0]
    edited = dataclasses.replace(a, description=NEV)
    assert cache.vectors(matcher, [("a", edited)])[0] is not first[0]
    assert cache.misses == 3
    cache.vectors(matcher, [(str(i), a) for i in range(5)])
    assert len(cache) == 3  # bounded

    other = Matcher(matcher.kb, matcher.text, None, version=matcher.version)
    cache.vectors(other, [("a", a)])
    assert len(cache) == 1  # another matcher object starts afresh
