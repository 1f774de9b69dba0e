"""What an enterprise makes, read through GB/T classes and the KB's places (issue 11): real texts a
bureau officer would try, 雄安 by activity, and county clusters of public lists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.bundle import industry_classifier
from recommender.hybrid import Matcher
from recommender.train import fit_text

XIONGAN_RULE = "xiongan_no_general_manufacturing"


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase) -> Matcher:
    """The matcher a fresh install serves: content and policy, with the industry classifier."""
    cache = Path(os.environ["CACHE_DIR"])
    return Matcher(
        kb, fit_text(kb), None, version="content-only", industry=industry_classifier(cache)
    )


def _top(m: Matcher, text: str, k: int = 5) -> list[dict]:
    return m.match(EnterpriseProfile(description=text), top_k=k)["parks"]


def test_fastener_text_reaches_the_yongnian_fastener_cluster(matcher: Matcher) -> None:
    # The KB's word is 标准件; the enterprise writes 紧固件, 螺栓, 螺母.
    top = _top(matcher, "螺栓、螺母等标准紧固件生产", 3)
    assert any(p["county"] == "永年区" for p in top)
    reasons = [r for p in top for r in p["reasons"] if r["kind"] == "industry"]
    assert any("3482 紧固件制造" in r["text"] for r in reasons)


def test_nuclear_island_text_reaches_the_named_base(matcher: Matcher) -> None:
    ids = [p["park_id"] for p in _top(matcher, "核岛主设备、核级泵阀", 5)]
    assert "harbin_electric_nuclear_island" in ids


def test_plant_extract_text_reaches_handan(matcher: Matcher) -> None:
    top = _top(matcher, "辣椒红色素、叶黄素等天然植物提取物", 5)
    assert "handan_natural_extracts" in [p["park_id"] for p in top]
    assert top[0]["city"] == "邯郸"


def test_ski_equipment_text_reaches_zhangjiakou(matcher: Matcher) -> None:
    # The policy names 冰雪运动装备 for 张承; the province's ice-and-snow equipment parks are in 张家口.
    parks = _top(matcher, "滑雪板、雪地摩托和造雪机", 20)
    cities = list(dict.fromkeys(p["city"] for p in parks))
    assert "张家口" in cities[:3], cities[:5]
    zjk = next(p for p in parks if p["city"] == "张家口")
    assert any(r["kind"] == "cluster" and "冰雪" in r["text"] for r in zjk["reasons"])


@pytest.mark.parametrize(
    "text", ["实木家具和办公家具的设计与生产", "自行车、电动自行车及童车的生产"]
)
def test_manufacturer_is_excluded_from_xiongan_even_when_it_designs(
    matcher: Matcher, text: str
) -> None:
    out = matcher.match(EnterpriseProfile(description=text), top_k=20)
    assert all(p["city"] != "雄安新区" for p in out["parks"])
    design_city = "xiongan_international_design_eco_city"
    assert design_city in [x["park_id"] for x in out["excluded"]]
    assert any("严格限制" in x["reason"] for x in out["excluded"])


@pytest.mark.parametrize(
    "text",
    [
        "为家电、家具和箱包企业提供工业设计和产品外观设计服务",
        "生物医药企业的研发总部和研究院，开展新药研发",
    ],
)
def test_design_and_rd_firms_are_not_excluded_from_xiongan(matcher: Matcher, text: str) -> None:
    out = matcher.match(EnterpriseProfile(description=text), top_k=20)
    excluded = {x["park_id"] for x in out["excluded"]}
    assert "xiongan_international_design_eco_city" not in excluded


def test_list_cluster_ranks_and_cites_its_list(matcher: Matcher, kb: KnowledgeBase) -> None:
    listed = next(p for p in kb.parks if p.from_list and p.keywords)
    text = f"主要产品为{listed.keywords[0]}，从事其生产加工与销售"
    out = matcher.match(EnterpriseProfile(description=text), top_k=30)
    entry = next((p for p in out["parks"] if p["park_id"] == listed.park_id), None)
    assert entry is not None, listed.park_id
    cited = [r for r in entry["reasons"] if r["kind"] == "cluster" and "所列" in r["text"]]
    assert cited and cited[0]["source"] == listed.source
    assert kb.list_by_id[listed.lists[0]].title in cited[0]["source"]
