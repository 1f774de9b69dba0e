"""Property tests of the featurisers and the content score: any Unicode text (empty, emoji, control
characters, very long) and any number in range never crash, give the same answer twice, and keep
scores in [0, 1]."""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.enterprise import (
    ENERGY,
    ENERGY_PER_REVENUE,
    INVEST,
    LAND,
    ORIGINS,
    RD,
    SCALE,
    EnterpriseProfile,
    numeric_features,
)
from features.kb import KnowledgeBase
from features.text import SegmentTextFeaturizer, normalize
from recommender.content import ContentScorer

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
POLICY_WORDS = [
    "工业机器人",
    "减速器",
    "伺服电机",
    "光伏",
    "羊绒",
    "钢铁",
    "生物医药",
    "冷链",
    "研发",
    # Terms that contain one another: which one a text names depends on longest-match.
    "新能源汽车",
    "汽车",
    "高强汽车板",
    "汽车板",
]
# Any code point (surrogates excluded: not encodable text), weighted towards what users type.
texts = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=50),
    st.lists(st.sampled_from(POLICY_WORDS + ["🤖", "　", "\x00", "\u200b", "，", " "])).map(
        "".join
    ),
    st.builds(
        lambda w, n: w * n, st.sampled_from(POLICY_WORDS + ["x", "🚀"]), st.integers(1, 2500)
    ),
)


@pytest.fixture(scope="module")
def featurizer(kb: KnowledgeBase) -> SegmentTextFeaturizer:
    return SegmentTextFeaturizer().fit(kb)


@pytest.fixture(scope="module")
def scorer(kb: KnowledgeBase, featurizer: SegmentTextFeaturizer) -> ContentScorer:
    return ContentScorer(kb, featurizer)


@PROPERTY
@given(text=texts)
def test_transform_one_scores_any_text_in_unit_interval(
    featurizer: SegmentTextFeaturizer, text: str
) -> None:
    a = featurizer.transform_one(text)
    assert a.scores.shape == (len(featurizer.segment_ids_),)
    assert np.all(np.isfinite(a.scores)) and a.scores.min() >= 0 and a.scores.max() <= 1
    assert len(a.terms) == len(a.scores)
    b = featurizer.transform_one(text)
    assert np.array_equal(a.scores, b.scores) and a.terms == b.terms


def _leftmost_longest_terms(featurizer: SegmentTextFeaturizer, norm: str) -> dict[str, int]:
    """Reference scan: from left to right, take the longest policy term starting here, else move
    one character on."""
    terms = featurizer.term_segments_
    longest = max(map(len, terms))
    found: dict[str, int] = {}
    i = 0
    while i < len(norm):
        hit = next(
            (norm[i : i + n] for n in range(longest, 0, -1) if norm[i : i + n] in terms), None
        )
        if hit is None:
            i += 1
        else:
            found[hit] = found.get(hit, 0) + 1
            i += len(hit)
    return found


@PROPERTY
@given(text=texts)
def test_match_terms_finds_only_policy_terms_present_in_the_text(
    featurizer: SegmentTextFeaturizer, text: str
) -> None:
    found = featurizer.match_terms(text)
    norm = normalize(text)
    assert found == _leftmost_longest_terms(featurizer, norm)
    for term, count in found.items():
        assert term in featurizer.term_segments_ and count >= 1 and term in norm


@PROPERTY
@given(text=texts)
def test_tokenize_never_crashes_and_is_repeatable(
    featurizer: SegmentTextFeaturizer, text: str
) -> None:
    tokens = featurizer.tokenize(text)
    assert all(isinstance(t, str) and t.strip() for t in tokens)
    # Tokens cover the normalised text in order, dropping only white space.
    assert "".join(tokens) == "".join(c for c in normalize(text) if not c.isspace())


def test_empty_and_blank_texts_fit_nothing(featurizer: SegmentTextFeaturizer) -> None:
    for text in ("", " ", "\n\t", "　", "\u200b", "\x00"):
        assert featurizer.transform_one(text).scores.max() == 0
    for text in ("", " ", "\n\t", "　"):
        assert featurizer.tokenize(text) == []


def in_range(low: float, high: float, edges: tuple[float, ...]) -> st.SearchStrategy[float | None]:
    """None, any number in range, or exactly a bucket edge (where off-by-one errors live)."""
    return st.one_of(st.none(), st.floats(low, high), st.sampled_from(edges))


numbers = in_range(0, 1e9, INVEST[0])
profiles = st.builds(
    EnterpriseProfile,
    description=texts,
    name=st.one_of(st.none(), st.text(max_size=200)),
    products=st.lists(st.text(max_size=100), max_size=50).map(tuple),
    employees=st.one_of(st.none(), st.integers(0, 10_000_000), st.sampled_from(SCALE[0])),
    annual_revenue_wan=numbers,
    investment_wan=numbers,
    rd_intensity=in_range(0, 1, RD[0]),
    energy_tce=in_range(0, 1e8, ENERGY[0]),
    land_mu=in_range(0, 1e6, LAND[0]),
    origin=st.one_of(st.none(), st.sampled_from(ORIGINS), st.text(max_size=5)),
)


def _expected_buckets(e: EnterpriseProfile) -> list[str]:
    """Reference bucketing: a value's label is the number of edges at or below it."""

    def bucket(value: float | None, edges: tuple[float, ...], labels: tuple[str, ...]) -> str:
        return "unknown" if value is None else labels[bisect.bisect_right(edges, value)]

    revenue = e.annual_revenue_wan
    intensity = e.energy_tce / revenue if e.energy_tce is not None and revenue else None
    return [
        f"scale:{bucket(e.employees, *SCALE)}",
        f"rd:{bucket(e.rd_intensity, *RD)}",
        f"energy:{bucket(e.energy_tce, *ENERGY)}",
        f"energy_intensity:{bucket(intensity, *ENERGY_PER_REVENUE)}",
        f"land:{bucket(e.land_mu, *LAND)}",
        f"invest:{bucket(e.investment_wan, *INVEST)}",
        f"origin:{e.origin if e.origin in ORIGINS else 'unknown'}",
    ]


@PROPERTY
@given(e=profiles)
def test_numeric_features_name_one_bucket_per_feature(e: EnterpriseProfile) -> None:
    feats = numeric_features(e)
    assert feats == _expected_buckets(e)
    kinds = [f.split(":", 1)[0] for f in feats]
    assert kinds == ["scale", "rd", "energy", "energy_intensity", "land", "invest", "origin"]
    assert all(f.split(":", 1)[1] for f in feats)
    assert feats[-1] in {f"origin:{o}" for o in (*ORIGINS, "unknown")}


@PROPERTY
@given(
    e=profiles, code=st.one_of(st.none(), st.sampled_from(["C3491", "C27", "I65", "C3612", "A01"]))
)
def test_content_score_of_any_enterprise_is_bounded_and_repeatable(
    scorer: ContentScorer, e: EnterpriseProfile, code: str | None
) -> None:
    e = EnterpriseProfile(**{**e.__dict__, "industry_code": code})
    a = scorer.score(e)
    for arr in (a.segment_scores, a.chain_scores, a.park_scores, a.zone_fit):
        assert np.all(np.isfinite(arr))
        assert arr.min() >= 0 and arr.max() <= 1 + 1e-9
    assert a.park_scores.shape == (len(scorer.parks),)
    b = scorer.score(e)
    assert np.array_equal(a.park_scores, b.park_scores)
    assert np.array_equal(a.chain_scores, b.chain_scores)
    assert a.park_keywords == b.park_keywords and a.code_conflict == b.code_conflict


def test_the_name_never_changes_the_content_score(scorer: ContentScorer) -> None:
    base = EnterpriseProfile(description="生产工业机器人减速器")
    named = EnterpriseProfile(description="生产工业机器人减速器", name="钢铁羊绒光伏集团")
    assert np.array_equal(scorer.score(base).park_scores, scorer.score(named).park_scores)
    assert math.isclose(scorer.score(base).park_scores.sum(), scorer.score(named).park_scores.sum())
