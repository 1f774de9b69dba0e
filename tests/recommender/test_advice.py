"""Advice is what re-scoring says: each item's park scores are the Matcher's own for the changed
profile, gains and obligations come from the rules, and nothing that moves no park is offered."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from api.settings import Settings
from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.advice import MAX_ADVICE, MIN_MOVE, advise, candidate_changes
from recommender.bundle import load_bundle
from recommender.hybrid import Matcher
from store.db import get_sessionmaker
from store.registry import active_version

ROBOT = EnterpriseProfile(
    description="主要从事工业机器人减速器、伺服电机和智能焊接装备的研发与生产",
    rd_intensity=0.005,
    employees=320,
    origin="北京",
)
SMELTER = EnterpriseProfile(description="钢铁冶炼：炼钢、炼铁及热轧板材生产", origin="河北")


@pytest.fixture(scope="module")
def matcher(trained_settings: Settings, kb: KnowledgeBase) -> Matcher:
    with get_sessionmaker(trained_settings.database_url)() as s:
        model = active_version(s)
    assert model is not None
    return load_bundle(model.path, kb)


@pytest.fixture(scope="module")
def content_only(kb: KnowledgeBase, matcher: Matcher) -> Matcher:
    """The same text model with no learned part: moves come from the policy rules alone."""
    return Matcher(kb, matcher.text, None, version="content-only")


def _by_field(advice: list[dict], field: str) -> dict:
    found = [a for a in advice if a["field"] == field]
    assert found, [a["field"] for a in advice]
    return found[0]


def test_advice_rd_below_one_percent_is_a_gain_confirmed_by_rescoring(matcher: Matcher) -> None:
    advice = advise(matcher, ROBOT, top_k=10)
    rd = _by_field(advice, "rd_intensity")
    assert rd["kind"] == "gain" and "提高到1%" in rd["change"]
    assert "研发经费投入强度达到1%以上" in rd["source"]
    base = matcher.score(ROBOT).final
    after = matcher.score(dataclasses.replace(ROBOT, rd_intensity=0.01)).final
    index = {p.park_id: i for i, p in enumerate(matcher.parks)}
    for p in rd["parks"]:
        i = index[p["park_id"]]
        assert p["score_before"] == pytest.approx(base[i], abs=1e-4)
        assert p["score_after"] == pytest.approx(after[i], abs=1e-4)
        assert p["delta"] == pytest.approx(after[i] - base[i], abs=1e-4)
    assert max(p["delta"] for p in rd["parks"]) >= 0.05  # the rule's own weight at least


def test_advice_offers_no_rd_change_to_an_enterprise_already_at_one_percent(
    content_only: Matcher,
) -> None:
    at = dataclasses.replace(ROBOT, rd_intensity=0.02)
    assert all(a["field"] != "rd_intensity" for a in advise(content_only, at))
    assert any(a["field"] == "rd_intensity" for a in advise(content_only, ROBOT))


def test_advice_high_tech_status_gain_cites_the_double_growth_sentence(
    content_only: Matcher,
) -> None:
    status = _by_field(advise(content_only, ROBOT), "status")
    assert status["kind"] == "gain" and "高新技术企业" in status["change"]
    assert "高新技术企业和科技型中小企业双倍增计划" in status["source"]
    # Without the learned part, the move is the rule's weight (the added words shift the text fit
    # a little).
    assert status["parks"][0]["delta"] == pytest.approx(0.1, abs=0.01)
    stated = dataclasses.replace(ROBOT, products=("高新技术企业",))
    assert all(a["field"] != "status" for a in advise(content_only, stated))


def test_advice_smelter_gets_a_capacity_obligation_with_the_swap_sentence(
    content_only: Matcher,
) -> None:
    advice = advise(content_only, SMELTER)
    capacity = _by_field(advice, "capacity")
    assert capacity["kind"] == "obligation" and "炼钢" in capacity["change"]
    assert "产能置换" in capacity["source"] and capacity["obligation"]
    # The capacity penalty (−0.3) is lifted; leaving 炼钢 out of the text also lowers the content
    # fit a little, so the park moves by less than the penalty, but clearly up.
    assert 0.1 < capacity["parks"][0]["delta"] <= 0.35


def test_advice_energy_obligation_only_when_the_cut_is_reachable(content_only: Matcher) -> None:
    e = EnterpriseProfile(description="锂电池正极材料和隔膜的研发与生产", energy_tce=6000)
    changes = list(candidate_changes(content_only, e, content_only.score(e)))
    energy = [c for c in changes if c.key == "energy_tce"]
    assert len(energy) == 1 and energy[0].profile.energy_tce == pytest.approx(4950)
    assert "特别排放限值" in (energy[0].obligation or "")
    huge = dataclasses.replace(e, energy_tce=800_000)
    assert not [
        c
        for c in candidate_changes(content_only, huge, content_only.score(huge))
        if c.key == "energy_tce"
    ]


def test_advice_is_at_most_three_each_moving_a_park(matcher: Matcher) -> None:
    for e in (ROBOT, SMELTER, dataclasses.replace(ROBOT, energy_tce=6000, land_mu=150)):
        advice = advise(matcher, e, top_k=10)
        assert len(advice) <= MAX_ADVICE
        sizes = [max(abs(p["delta"] or 1) for p in a["parks"]) for a in advice]
        assert all(s >= MIN_MOVE for s in sizes)
        assert sizes == sorted(sizes, reverse=True)  # the biggest change first


def test_advice_none_for_a_profile_no_rule_can_improve(content_only: Matcher) -> None:
    e = EnterpriseProfile(description="冷链物流仓储与城市配送", rd_intensity=0.05)
    assert advise(content_only, e) == []
    assert np.isfinite(content_only.score(e).final).any()
