"""Learning from registered firms (a generated fixture registry, never real firms): the kNN's
county evidence and reasons, LightFM trained on the placements, bundles, and the registry split of
`make eval REGISTRY=…`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.bundle import load_bundle, save_bundle
from recommender.evaluate_registry import (
    RegistryEvalConfig,
    evaluate_registry,
    markdown,
    read_registry,
)
from recommender.hybrid import Matcher
from recommender.registry import (
    FIRM_PREFIX,
    RegistryIndex,
    place_counties,
    placement_history,
)
from recommender.synthetic_registry import (
    RegistryParams,
    credit_code,
    generate_registry,
    to_export,
)
from recommender.train import TrainParams, train_matcher

QINGHE = "county_130534"  # 清河县, whose KB cluster is 清河羊绒
CASHMERE = EnterpriseProfile(description="羊绒纱线、羊绒制品的生产、销售；货物进出口")


@pytest.fixture(scope="module")
def firms(kb: KnowledgeBase) -> pd.DataFrame:
    return generate_registry(kb, RegistryParams(n_firms=4000, seed=11))


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase, firms: pd.DataFrame) -> Matcher:
    ents, inter = placement_history(firms, kb.parks)
    return train_matcher(
        kb,
        ents,
        inter,
        TrainParams(epochs=3, num_threads=1),
        version="test-registry",
        registry_firms=firms,
    )


def test_credit_codes_of_the_fixture_carry_valid_check_digits() -> None:
    # GB 32100-2015: the weighted sum of the 17 characters plus the check character is ≡ 0 mod 31;
    # GB 11714: the same for the 9-character organisation code, mod 11 (X for 10)
    chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    for serial in (0, 12345678, 99999999, 71092546):
        code = credit_code("130534", serial)
        assert len(code) == 18 and code.startswith("91130534")
        total = sum(chars.index(c) * pow(3, i, 31) for i, c in enumerate(code[:17]))
        assert (total + chars.index(code[17])) % 31 == 0
        org = code[8:17]
        weights = (3, 7, 9, 10, 5, 8, 4, 2)
        check = 10 if org[8] == "X" else int(org[8])
        assert (sum(int(c) * w for c, w in zip(org[:8], weights, strict=True)) + check) % 11 == 0


def test_placement_history_places_a_firm_in_its_county_and_the_county_parks(
    kb: KnowledgeBase, firms: pd.DataFrame
) -> None:
    ents, inter = placement_history(firms.head(200), kb.parks)
    assert ents["enterprise_id"].str.startswith(FIRM_PREFIX).all() and ents["name"].isna().all()
    first = firms.iloc[0]
    rows = inter[inter["enterprise_id"] == FIRM_PREFIX + first["firm_id"]]
    county = f"county_{first['county_code']}"
    assert rows[rows["kind"] == "settled"]["park_id"].tolist() == [county]
    in_county = {
        p.park_id
        for p, c in zip(kb.parks, place_counties(kb.parks), strict=True)
        if c == county and p.kind != "county"
    }
    assert set(rows[rows["kind"] == "signed"]["park_id"]) == in_county
    # the GB/T classifier hook: its codes become the firms' industry codes (gbt: features)
    coded, _ = placement_history(firms.head(3), kb.parks, classify=lambda ts: ["C1762"] * len(ts))
    assert coded["industry_code"].tolist() == ["C1762"] * 3


def test_registry_knn_votes_for_the_county_of_similar_firms(
    kb: KnowledgeBase, firms: pd.DataFrame
) -> None:
    index = RegistryIndex().fit(firms)
    support = index.support(CASHMERE.text)
    best = index.counties_[int(np.argmax(support.support))]
    assert best == QINGHE
    # a text about something else entirely does not point at 清河
    other = index.support("冷链物流仓储与城市配送")
    assert index.counties_[int(np.argmax(other.support))] != QINGHE


def test_match_cites_registered_firms_as_counts_in_public_and_by_name_for_bureaus(
    matcher: Matcher,
) -> None:
    public = matcher.match(CASHMERE, top_k=10)
    assert public["learned"] and public["notice"] is None
    ids = [p["park_id"] for p in public["parks"]]
    assert QINGHE in ids
    county = public["parks"][ids.index(QINGHE)]
    assert county["kind"] == "county" and county["score_breakdown"]["registry"] > 0
    reason = next(r for r in county["reasons"] if "已登记经营范围相近的企业" in r["text"])
    assert reason["text"].startswith("本县已登记经营范围相近的企业 ")
    assert reason["source"].startswith("企业登记名录")
    assert "如：" not in reason["text"] and "测试" not in str(public)  # no firm name in public
    bureau = matcher.match(CASHMERE, top_k=10, reveal_names=True)
    named = next(
        r["text"]
        for p in bureau["parks"]
        if p["park_id"] == QINGHE
        for r in p["reasons"]
        if "已登记经营范围相近的企业" in r["text"]
    )
    assert "（如：测试清河县企业" in named
    # a park in 清河 cites its county's firms too
    park = next(p for p in public["parks"] if p["county"] == "清河县" and p["kind"] != "county")
    assert any(r["text"].startswith("园区所在的清河县已登记") for r in park["reasons"])


def test_registry_chain_gap_counts_per_county_segment(matcher: Matcher) -> None:
    from recommender.leads import park_segments, registry_counts

    qinghe = next(i for i, p in enumerate(matcher.parks) if p.park_id == "qinghe_cashmere")
    counts, source = registry_counts(matcher, qinghe)
    assert source is not None and source.startswith("企业登记名录") and "清河县" in source
    segments = park_segments(matcher, qinghe, [], counts, source)
    assert sum(segments.registry.values()) > 0
    j = max(segments.registry, key=lambda k: segments.registry[k])
    assert segments.counts(j)[1] == {"count": segments.registry[j], "source": source}


def test_bundle_round_trip_keeps_the_registry(
    matcher: Matcher, kb: KnowledgeBase, tmp_path: Path
) -> None:
    path = save_bundle(matcher, tmp_path, data_hash="x")
    loaded = load_bundle(path, kb)
    assert loaded.registry is not None and loaded.weights == matcher.weights
    assert loaded.match(CASHMERE)["parks"] == matcher.match(CASHMERE)["parks"]


def test_read_registry_locates_by_code_then_address(kb: KnowledgeBase, tmp_path: Path) -> None:
    export = to_export(generate_registry(kb, RegistryParams(n_firms=30, seed=3)), kb)
    export.loc[0, "统一社会信用代码"] = "N/A"  # located from its address instead
    export.loc[1, "统一社会信用代码"] = export.loc[2, "统一社会信用代码"]  # a duplicate code
    export.loc[3, ["地区", "注册地址"]] = ["", "不详"]
    export.loc[3, "统一社会信用代码"] = "N/A"  # cannot be located
    path = tmp_path / "r.csv"
    export.to_csv(path, index=False)
    firms = read_registry(path, kb)
    assert firms.attrs["rows"] == 30 and len(firms) == 28
    assert firms.iloc[0]["county"] in export.loc[0, "地区"]


def test_eval_registry_split_puts_the_hybrid_ahead_of_content_only(kb: KnowledgeBase) -> None:
    firms = generate_registry(kb, RegistryParams(n_firms=3000, seed=5))
    cfg = RegistryEvalConfig(max_test=300, max_validation=200, epochs=2)
    split = evaluate_registry(kb, firms, cfg, log=lambda _: None)
    m = split["models"]
    assert set(m) == {
        "prior",
        "registry_knn",
        "content",
        "content_lightfm",
        "hybrid",
        "hybrid_served",
    }
    assert set(m["hybrid"]) == {"city@1", "city@3", "county@1", "county@3"}
    assert m["hybrid"]["county@3"] > m["content"]["county@3"] + 0.2
    assert m["hybrid"]["city@3"] > m["content"]["city@3"]
    assert m["hybrid_served"]["county@3"] > m["content"]["county@3"] + 0.2
    assert m["registry_knn"]["county@3"] > m["prior"]["county@3"]
    assert "| hybrid |" in "\n".join(markdown(split, "fixture.csv"))


def test_pool_scores_equal_matcher_scores_with_the_registry_term(
    matcher: Matcher, firms: pd.DataFrame, tmp_path: Path
) -> None:
    from recommender.pool import PoolIndex, PoolScorer
    from recommender.train import profiles

    pool = profiles(
        pd.DataFrame({"description": list(firms["scope"].head(40)) + [CASHMERE.description]})
    )
    scorer = PoolScorer(matcher)
    index = PoolIndex.load(scorer.index(pool).save(tmp_path / "pool"))
    assert index.registry is not None
    expected = np.vstack([matcher.score(p).final for p in pool])
    got = scorer.scores_for_enterprises(index, np.arange(len(pool)))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    park = next(i for i, p in enumerate(matcher.parks) if p.park_id == QINGHE)
    np.testing.assert_allclose(
        scorer.scores_for_park(index, park).final, expected[:, park], rtol=1e-5, atol=1e-5
    )
