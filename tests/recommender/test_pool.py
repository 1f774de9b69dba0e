"""PoolScorer: pool-scale numpy scoring equals Matcher.score enterprise by enterprise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.catalogue import synthetic_parks
from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.hybrid import Matcher, user_features
from recommender.pool import PoolIndex, PoolScorer, user_feature_lists
from recommender.synthetic import GeneratorParams, generate_history
from recommender.train import TrainParams, profiles, train_matcher

TOL = 1e-5

# Texts that reach the corners: a 雄安 exclusion, park product words (the keyword bonus, capped at
# two words), rule terms, a vague text and a GB/T code that contradicts the text.
EDGE_CASES = [
    EnterpriseProfile(description="普通机械零部件加工，承接来料加工", origin="河北"),
    EnterpriseProfile(
        description="羊绒制品、羊绒纱线和羊绒服装的生产销售", industry_code="C1713", origin="北京"
    ),
    EnterpriseProfile(
        description="数控机床、新能源汽车零部件和光伏组件的研发制造，建设研发中心",
        rd_intensity=0.08,
        origin="天津",
        employees=400,
    ),
    EnterpriseProfile(
        description="炼钢、炼铁和高炉改造，钢铁企业整体搬迁入园",
        industry_code="C3110",
        energy_tce=80_000,
        investment_wan=600_000,
        land_mu=800,
    ),
    EnterpriseProfile(description="人工智能与大数据平台研发，云计算服务", origin="北京"),
    EnterpriseProfile(description="原油加工与乙烯、丙烯生产", industry_code="C2511"),
    EnterpriseProfile(description="生产加工各类产品", industry_code="C3612"),
]


@pytest.fixture(scope="module")
def history(kb: KnowledgeBase) -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate_history(kb, GeneratorParams(n_enterprises=600, seed=7))


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase, history: tuple[pd.DataFrame, pd.DataFrame]) -> Matcher:
    ents, inter = history
    return train_matcher(kb, ents, inter, TrainParams(epochs=5, num_threads=1), version="pool-test")


@pytest.fixture(scope="module")
def pool(history: tuple[pd.DataFrame, pd.DataFrame]) -> list[EnterpriseProfile]:
    return profiles(history[0].head(300)) + EDGE_CASES


def reference(matcher: Matcher, pool: list[EnterpriseProfile]) -> np.ndarray:
    return np.vstack([matcher.score(e).final for e in pool])


def assert_scores_equal(got: np.ndarray, want: np.ndarray) -> None:
    assert np.array_equal(np.isfinite(got), np.isfinite(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], atol=TOL, rtol=0)


def test_scores_for_park_equals_matcher_score(
    matcher: Matcher, pool: list[EnterpriseProfile]
) -> None:
    scorer = PoolScorer(matcher)
    index = scorer.index(pool)
    want = reference(matcher, pool)
    got = np.column_stack(
        [scorer.scores_for_park(index, p).final for p in range(len(matcher.parks))]
    )
    assert_scores_equal(got, want)
    assert (~np.isfinite(want)).any(), "the pool should contain an excluded park"


def test_scores_for_enterprises_equals_matcher_score(
    matcher: Matcher, pool: list[EnterpriseProfile]
) -> None:
    scorer = PoolScorer(matcher)
    index = scorer.index(pool)
    rows = np.arange(len(pool))[::-1]
    assert_scores_equal(scorer.scores_for_enterprises(index, rows), reference(matcher, pool)[rows])


def test_score_breakdown_equals_matcher_score(
    matcher: Matcher, pool: list[EnterpriseProfile]
) -> None:
    scorer = PoolScorer(matcher)
    index = scorer.index(pool)
    park = next(i for i, p in enumerate(matcher.parks) if p.keywords)
    got = scorer.scores_for_park(index, park)
    for i, e in enumerate(pool[:50] + EDGE_CASES):
        row = i if i < 50 else len(pool) - len(EDGE_CASES) + (i - 50)
        s = matcher.score(e)
        assert got.content[row] == pytest.approx(s.content[park], abs=TOL)
        assert got.collaborative[row] == pytest.approx(s.collaborative[park], abs=TOL)
        assert got.policy[row] == pytest.approx(s.policy.adjustment[park], abs=TOL)


def test_keyword_bonus_is_counted(matcher: Matcher) -> None:
    scorer = PoolScorer(matcher)
    e = EDGE_CASES[1]
    index = scorer.index([e])
    kw = matcher.content.score(e).park_keywords
    assert kw, "the 羊绒 text should name a park's product word"
    for park in kw:
        got = scorer.scores_for_park(index, park)
        assert got.final[0] == pytest.approx(matcher.score(e).final[park], abs=TOL)


def test_synthetic_catalogue_scores_equal_matcher_score(
    matcher: Matcher, kb: KnowledgeBase, pool: list[EnterpriseProfile]
) -> None:
    other = Matcher(  # a fresh matcher sharing the trained parts
        kb, matcher.text, matcher.collab, matcher.weights, version=matcher.version
    )
    other.set_parks(synthetic_parks(kb, 400, seed=3))
    scorer = PoolScorer(other)
    sample = pool[:80] + EDGE_CASES
    index = scorer.index(sample)
    want = reference(other, sample)
    assert_scores_equal(scorer.scores_for_enterprises(index, np.arange(len(sample))), want)


def test_index_save_load_round_trip(
    matcher: Matcher, pool: list[EnterpriseProfile], tmp_path: Path
) -> None:
    scorer = PoolScorer(matcher)
    index = scorer.index(pool[:40], [f"E{i}" for i in range(40)])
    path = index.save(tmp_path / "pool.npz")
    back = PoolIndex.load(path)
    assert list(back.enterprise_ids) == [f"E{i}" for i in range(40)]
    np.testing.assert_array_equal(
        scorer.scores_for_park(back, 3).final, scorer.scores_for_park(index, 3).final
    )


def test_index_from_another_catalogue_is_refused(
    matcher: Matcher, kb: KnowledgeBase, pool: list[EnterpriseProfile]
) -> None:
    index = PoolScorer(matcher).index(pool[:5])
    other = Matcher(kb, matcher.text, matcher.collab, matcher.weights, version=matcher.version)
    other.set_parks(synthetic_parks(kb, 50, seed=1))
    with pytest.raises(ValueError, match="重建索引"):
        PoolScorer(other).scores_for_park(index, 0)


def test_rank_park_orders_best_first_and_drops_excluded(
    matcher: Matcher, pool: list[EnterpriseProfile]
) -> None:
    scorer = PoolScorer(matcher)
    index = scorer.index(pool)
    xiongan = next(i for i, p in enumerate(matcher.parks) if p.zone_id == "xiongan")
    final = scorer.scores_for_park(index, xiongan).final
    ranked = scorer.rank_park(index, xiongan)
    assert len(ranked) == int(np.isfinite(final).sum()) < len(pool)
    assert np.all(np.diff(final[ranked]) <= 0)
    np.testing.assert_array_equal(scorer.rank_park(index, xiongan, k=10), ranked[:10])


def test_user_feature_lists_equal_the_per_request_features(
    matcher: Matcher, pool: list[EnterpriseProfile]
) -> None:
    want = [
        user_features(matcher.content.score(p), matcher.segment_ids, matcher.chain_ids, p)
        for p in pool
    ]
    got = user_feature_lists(matcher.content, pool)
    assert [[n for n, _ in f] for f in got] == [[n for n, _ in f] for f in want]
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose([v for _, v in g], [v for _, v in w], atol=1e-12)
