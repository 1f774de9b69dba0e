"""The policy drafter: each extraction step on its own, the seed against the hand-built KB, and
odd input that must neither crash it nor make it quote words the input does not contain."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.draft.__main__ import main as draft_main
from features.draft.build import draft_kb, read_draft
from features.draft.extract import extract_chains, extract_rules, extract_zones
from features.draft.lexicon import Lexicon
from features.draft.places import Divisions, PlaceResolver, extract_places
from features.draft.text import split_sentences
from features.kb import DATA_DIR, load_kb
from recommender.evaluate_draft import evaluate_draft

SEED = DATA_DIR / "reference" / "hebei-industrial-upgrading-guidance.txt"


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def resolver(kb):
    return PlaceResolver(Divisions.load(DATA_DIR / "reference", kb.cities), "13")


def test_split_sentences_spans_are_verbatim():
    text = "　　一、总体要求\n　　智能装备。加快开发数控机床；推进机器人研发。\n尾句没有句号"
    ss = split_sentences(text)
    assert [s.text for s in ss] == [
        "一、总体要求",
        "智能装备。",
        "加快开发数控机床；",
        "推进机器人研发。",
        "尾句没有句号",
    ]
    assert all(text[s.start : s.end] == s.text for s in ss)
    assert ss[1].lead == "智能装备"


def test_resolver_reads_abbreviations_counties_and_brackets(resolver):
    places, theme = resolver.parse("廊保数控机床")
    assert [p.city for p in places] == ["廊坊", "保定"] and theme == "数控机床"
    places, _ = resolver.parse("平乡广宗曲周自行车")
    assert [(p.city, p.county) for p in places] == [
        ("邢台", "平乡县"),
        ("邢台", "广宗县"),
        ("邯郸", "曲周县"),
    ]
    places, _ = resolver.parse("特种气体（肥乡）产业园")
    assert [(p.city, p.county) for p in places] == [("邯郸", "肥乡区")]
    places, _ = resolver.parse("辛集皮革")
    assert places[0].city == "辛集"  # a KB city of its own, not 石家庄
    places, _ = resolver.parse("承德环保产业园")
    assert places[0].county is None  # the city 承德, not 承德县


def test_extract_places_splits_a_list_per_city(resolver):
    text = "加快推进廊保数控机床、唐山和廊坊香河机器人等基地园区建设。"
    got = {(p.name, p.city, p.county) for p in extract_places(split_sentences(text), resolver)}
    assert got == {
        ("廊坊数控机床基地", "廊坊", None),
        ("保定数控机床基地", "保定", None),
        ("唐山机器人基地", "唐山", None),
        ("廊坊香河机器人基地", "廊坊", "香河县"),
    }


def test_extract_places_ignores_a_list_of_things():
    text = "建设工业遗产主题公园、国家矿山公园、工业博物馆等。"
    d = Divisions.load(DATA_DIR / "reference")
    assert extract_places(split_sentences(text), PlaceResolver(d, "13")) == []


def test_extract_chains_and_segments_from_numbered_leads(kb):
    text = (
        "（一）集中培植2个战略性新兴产业链。\n"
        "　　1. 高端装备产业。以高端化为主攻方向，重点发展智能装备。\n"
        "智能装备。加快开发高档数控机床、工业机器人等。\n"
        "　　2. 电子商务。工业电商，支持大企业平台。农村电商，深化全覆盖。\n"
    )
    chains = extract_chains(text, split_sentences(text), Lexicon.build(kb))
    assert [(c.name, c.group) for c in chains] == [
        ("高端装备产业", "strategic_emerging"),
        ("电子商务", "strategic_emerging"),
    ]
    assert [s.name for s in chains[0].segments] == ["智能装备"]
    assert chains[0].segments[0].sentence.text == "智能装备。加快开发高档数控机床、工业机器人等。"
    assert [s.name for s in chains[1].segments] == ["工业电商", "农村电商"]


def test_extract_zones_and_a_zone_rule(kb, resolver):
    text = "一核：打造雄安新区高端高新产业发展核心区。坚持高点定位，严格限制承接和布局一般性制造业。\n四区：石保廊创新发展示范区，推进创新。"
    ss = split_sentences(text)
    zones = extract_zones(ss, resolver, Lexicon.build(kb))
    assert [(z.name, z.cities) for z in zones] == [
        ("雄安新区高端高新产业发展核心区", ["雄安新区"]),
        ("石保廊创新发展示范区", ["石家庄", "保定", "廊坊"]),
    ]
    rules = extract_rules(ss, zones, {}, text)
    assert [(r.effect, r.when["zone_names"]) for r in rules] == [
        ("exclude", ["雄安新区高端高新产业发展核心区"])
    ]


def test_draft_seed_every_record_cites_the_text_and_waits_for_review(kb):
    draft = draft_kb(SEED.read_bytes(), kb)
    text = SEED.read_text(encoding="utf-8")
    assert draft.sources() and all(s in text for s in draft.sources())
    for recs in draft.records().values():
        for r in recs:
            assert r["status"] == "待审核" and 0 < r["confidence"] <= 1
            assert r["document_id"] == draft.document["document_id"]
    assert draft.document["issuer"] == "河北省人民政府" and draft.document["date"] == "2017-02-22"
    assert all(r["weight"] == 0 or "建议值" in r["note"] for r in draft.rules)


def test_draft_seed_recovers_the_hand_built_kb():
    res = evaluate_draft()
    t = res["table"]
    assert t["chains"]["matched"] == 16 == t["chains"]["gold"]
    assert t["segments"]["recall"] >= 0.90 and t["segments"]["precision"] >= 0.90
    assert t["places"]["recall"] >= 0.85 and t["places"]["precision"] >= 0.90
    assert t["rules"]["recall"] >= 0.70 and t["rules"]["precision"] >= 0.90
    assert res["sources_verbatim"]


def test_draft_cli_writes_yaml_a_reviewer_can_load(tmp_path: Path):
    assert draft_main([str(SEED), str(tmp_path / "out")]) == 0
    back = read_draft(tmp_path / "out")
    assert len(back.chains) == 16 and back.parks and back.rules
    assert (tmp_path / "out" / "REVIEW.md").read_text(encoding="utf-8").startswith("# 草稿审核要点")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage\x00\x01",
        "加快推进、、等基地园区建设。".encode(),
        ("重点发展" + "、" * 5000).encode(),
        "１．２．（一）一、\n\n\n".encode("gb18030"),
        "支持北京、上海等市打造示范基地。".encode(),
    ],
)
def test_draft_odd_input_never_crashes_or_invents(kb, raw):
    draft = draft_kb(raw, kb)
    from features.draft.text import clean_input

    text = clean_input(raw)
    assert all(s in text for s in draft.sources())


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        alphabet=st.sampled_from(
            list(
                "加快推进廊保唐山石家庄数控机床等基地园区建设、，。；1.（一）\n　和集群示范区严格限制雄安新区"
            )
        ),
        max_size=300,
    )
)
def test_draft_any_text_quotes_only_itself(kb, text):
    draft = draft_kb(text, kb)
    assert all(s in text for s in draft.sources())


def test_draft_other_province_places_and_forwarding_notice(kb):
    """A Henan text (a fixture written for this test): places resolve against Henan's divisions,
    the issuer and date of a notice signed at the top are read, and 县域 is not read as 县."""
    text = (
        "《某市制造业集群行动计划》的通知\n河南省人民政府\n2023年5月1日\n一、优化布局\n"
        "加快推进郑州航空港电子信息、新乡起重装备、长垣医疗器械和洛阳轴承等产业基地建设。\n"
        "支持巩义铝精深加工、林州汽车零部件等县域特色产业集群。\n"
    )
    draft = draft_kb(text, kb)
    got = {(p["name"], p["city"], p["county"], p["kind"]) for p in draft.parks}
    assert ("长垣医疗器械产业基地", "新乡", "长垣市", "base") in got
    assert ("林州汽车零部件产业集群", "安阳", "林州市", "cluster") in got
    assert len(got) == 6
    assert draft.document["issuer"] == "河南省人民政府" and draft.document["date"] == "2023-05-01"
    assert draft.document["title"] == "某市制造业集群行动计划"


def test_draft_uses_a_private_jieba_dictionary(kb):
    """Division names go into the drafter's own tokenizer, never into jieba's global dictionary
    (which the text featuriser shares)."""
    import jieba

    from features.draft.places import Divisions

    jieba.lcut("初始化")  # the global dictionary, loaded as any request would
    draft_kb("加快推进保定白沟新城箱包等产业基地建设。", kb)
    assert "保定白沟新城" not in jieba.dt.FREQ
    names = (a for a in Divisions.load(DATA_DIR / "reference", kb.cities).by_alias if len(a) >= 2)
    assert "保定白沟新城" in Lexicon.build(kb, extra_words=names).tokens("保定白沟新城箱包")
