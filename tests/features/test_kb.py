"""The knowledge base is pinned to the policy text: counts, names, sources and references."""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import pytest
import yaml

from features.kb import DATA_DIR, KBError, KnowledgeBase, load_kb

POLICY = (DATA_DIR / "reference" / "hebei-industrial-upgrading-guidance.txt").read_text(
    encoding="utf-8"
)


def _squash(s: str) -> str:
    return re.sub(r"\s+", "", s)


def test_load_kb_has_one_core_and_four_zones(kb: KnowledgeBase) -> None:
    assert [z.kind for z in kb.zones].count("core") == 1
    assert [z.kind for z in kb.zones].count("demonstration") == 4
    xiongan = kb.zone_by_id["xiongan"]
    assert "严格限制承接和布局一般性制造业" in xiongan.positioning + xiongan.source
    assert set(kb.zone_by_id["shibaolang"].cities) >= {"石家庄", "保定", "廊坊"}
    assert set(kb.zone_by_id["zhangcheng"].cities) == {"张家口", "承德"}
    assert set(kb.zone_by_id["qintangcang"].cities) == {"秦皇岛", "唐山", "沧州"}
    assert set(kb.zone_by_id["xinghenghan"].cities) == {"邢台", "衡水", "邯郸"}


def test_load_kb_has_sixteen_chains_in_three_groups(kb: KnowledgeBase) -> None:
    groups = [c.group for c in kb.chains]
    assert len(kb.chains) == 16
    assert (
        groups.count("strategic_emerging"),
        groups.count("traditional"),
        groups.count("producer_services"),
    ) == (7, 4, 5)


def test_chain_names_are_the_policy_headings(kb: KnowledgeBase) -> None:
    # Each chain is headed "N. 名称。" in the policy.
    headings = set(re.findall(r"\d\.\s*([^。\s]{2,12})。", POLICY))
    for chain in kb.chains:
        assert chain.name in headings, chain.name
    assert {"高端装备产业", "钢铁工业", "现代物流"} <= {c.name for c in kb.chains}


def test_high_end_equipment_segments_as_the_policy_lists_them(kb: KnowledgeBase) -> None:
    names = [s.name for s in kb.chain_by_id["high_end_equipment"].segments]
    assert names == [
        "智能装备",
        "节能与新能源汽车和智能网联汽车",
        "先进轨道交通装备",
        "先进通用航空装备",
        "先进工程与专用装备",
    ]


def test_every_source_is_a_sentence_of_the_policy(kb: KnowledgeBase) -> None:
    text = _squash(POLICY)
    records = [
        *kb.zones,
        *kb.chains,
        *(s for c in kb.chains for s in c.segments),
        *kb.rules,
        *(p for p in kb.parks if p.named_by_policy),
    ]
    for r in records:
        for source in (r.source, *r.also_source):
            if source.startswith("中国开发区审核公告目录"):
                continue
            for part in source.split("……"):
                assert _squash(part) in text, f"{r!r:.80}: {part[:40]}"


def test_every_cluster_of_the_duojiqun_paragraph_is_present(kb: KnowledgeBase) -> None:
    para = re.search(r"支持(清河羊绒.*?)等有影响力的县域特色产业集群", POLICY)
    assert para is not None
    names = para.group(1).split("、")
    assert len(names) == 10
    clusters = [p for p in kb.parks if p.kind == "cluster"]
    for name in names:
        assert any(name in p.source or name in p.also_source for p in clusters), name
    for place, product in [
        ("清河", "羊绒"),
        ("白沟", "箱包"),
        ("安平", "丝网"),
        ("辛集", "皮革"),
        ("宁晋", "电线电缆"),
        ("永年", "标准件"),
        ("昌黎", "葡萄酒"),
        ("定州", "体育用品"),
    ]:
        assert any(place in p.name and product in p.name for p in clusters), place + product
    for county in ("平乡县", "广宗县", "曲周县", "孟村回族自治县", "盐山县"):
        assert any(p.county == county for p in clusters), county


def test_every_park_city_lies_in_its_zone(kb: KnowledgeBase) -> None:
    for p in kb.parks:
        assert p.city in kb.zone_by_id[p.zone_id].cities, p.park_id
        # (county places are checked against the divisions table by code, below: names repeat)
        if p.county and p.kind != "county" and p.city not in ("定州", "辛集", "雄安新区"):
            assert kb.counties.get(p.county) == p.city, (p.park_id, p.county)


def test_every_county_is_a_place_beside_the_parks(kb: KnowledgeBase) -> None:
    rows = list(
        csv.DictReader((DATA_DIR / "reference" / "hebei_city_county.csv").open(encoding="utf-8"))
    )
    counties = [p for p in kb.parks if p.kind == "county"]
    assert [p.park_id for p in counties] == [
        f"county_{r['code']}" for r in rows if r["level"] == "县级"
    ]
    by_id = {p.park_id: p for p in counties}
    qinghe = by_id["county_130534"]
    assert (qinghe.name, qinghe.city, qinghe.county, qinghe.zone_id) == (
        "清河县",
        "邢台",
        "清河县",
        "xinghenghan",
    )
    # a county serves the chains of the KB's parks in it (清河羊绒 → 纺织)
    assert "textile" in {r.chain_id for r in qinghe.chains}
    assert by_id["county_130638"].city == "雄安新区" and by_id["county_130682"].city == "定州"
    assert by_id["county_130104"].city == "石家庄" and by_id["county_130703"].city == "张家口"
    assert all(p.source.startswith("统计用区划代码（2023年）：") for p in counties)


def test_catalogue_zones_are_all_present_once(kb: KnowledgeBase) -> None:
    catalogue = [p for p in kb.parks if p.from_catalogue]
    linked = [p for p in kb.parks if p.devzone_code]
    assert len(catalogue) + len(linked) == 153
    assert len({p.devzone_code for p in linked}) == len(linked)
    # Every catalogue zone carries the chains its 主导产业 map to (industry_terms.yaml).
    terms = yaml.safe_load((DATA_DIR / "kb" / "industry_terms.yaml").read_text(encoding="utf-8"))
    for p in catalogue:
        mapped = {r["chain_id"] for item in p.leading_industries for r in (terms[item] or [])}
        assert mapped <= {r.chain_id for r in p.chains}, p.park_id
    assert sum(bool(p.chains) for p in catalogue) > 100
    # Catalogue zones whose 主导产业 name a chain carry it.
    sjz = kb.park_by_id.get("G131055") or next(p for p in kb.parks if p.devzone_code == "G131055")
    assert {"biomedicine", "high_end_equipment", "food"} <= {r.chain_id for r in sjz.chains}


def test_industry_code_maps_to_chain_by_longest_prefix(kb: KnowledgeBase) -> None:
    assert "biomedicine" in {r.chain_id for r in kb.chains_for_code("C2710")}
    assert "steel" in {r.chain_id for r in kb.chains_for_code("3120")}
    assert kb.industry("C3612") is not None and kb.industry("C9999") is None


def _chains_of(kb: KnowledgeBase, code: str) -> set[str]:
    return {r.chain_id for r in kb.chains_for_code(code)}


def test_a_clusters_product_class_maps_to_the_chain_the_policy_puts_the_cluster_in(
    kb: KnowledgeBase,
) -> None:
    # The 工业设计 paragraph names these clusters; a maker of their product (by GB/T class) must
    # land in the same chain, else a 香河 furniture maker gets no chain at all.
    for park_name, code in [
        ("香河家具产业集群", "C2110"),
        ("平乡自行车产业集群", "C3761"),
        ("唐山陶瓷产业集群", "C3074"),
        ("曲阳石雕产业集群", "C2431"),
    ]:
        park = next(p for p in kb.parks if p.name == park_name)
        assert _chains_of(kb, code) <= {r.chain_id for r in park.chains}, code
        assert "industrial_design" in _chains_of(kb, code), code
    # 观光缆车 is named under 工业旅游; the rest of 物料搬运设备 stays 专用装备.
    assert _chains_of(kb, "C3436") == {"industrial_tourism"}
    assert _chains_of(kb, "C3432") == {"high_end_equipment"}
    # 残疾人座车 stays with 康复器具 although its group now maps to 工业设计.
    assert _chains_of(kb, "C3762") == {"biomedicine"}


def test_groups_are_split_where_only_some_classes_belong_to_a_chain(kb: KnowledgeBase) -> None:
    # 高端轴承 is named under 钢材精深加工, gears and reducers are 智能装备, not 钢材.
    assert "steel" in _chains_of(kb, "C3451")
    assert _chains_of(kb, "C3453") == {"high_end_equipment"}
    assert "steel" not in _chains_of(kb, "C3459")
    # Non-ferrous rolling and casting are not 钢材精深加工 (战新 tags them 新材料).
    for code in ("C3252", "C3392"):
        assert _chains_of(kb, code) == {"new_materials"}, code
    assert "steel" in _chains_of(kb, "C3391")
    # Growers supply the food chain, but not with fibre or tobacco crops; 中药材 is 中医药.
    assert _chains_of(kb, "A0141") == {"food"}
    assert _chains_of(kb, "A0134") == set()
    assert _chains_of(kb, "A0170") == {"biomedicine"}


def test_every_class_mapping_says_what_supports_it(kb: KnowledgeBase) -> None:
    missing = [m.code for m in kb.gbt_map if not (m.note or "").strip()]
    assert not missing


# -- the validator ------------------------------------------------------------------------------
@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    shutil.copytree(DATA_DIR, tmp_path / "data")
    return tmp_path / "data"


def _edit(path: Path, fn) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def test_load_kb_rejects_dangling_segment_reference(kb_copy: Path) -> None:
    def broken(parks: list[dict]) -> None:  # type: ignore[type-arg]
        parks[0]["chains"][0]["segment_id"] = "high_end_equipment.no_such_segment"

    _edit(kb_copy / "kb" / "parks.yaml", broken)
    with pytest.raises(KBError) as err:
        load_kb(kb_copy)
    assert err.value.file == "parks.yaml"
    assert "segment_id" in (err.value.field or "")
    assert "no_such_segment" in str(err.value)


def test_load_kb_rejects_park_city_outside_zone(kb_copy: Path) -> None:
    def broken(parks: list[dict]) -> None:  # type: ignore[type-arg]
        parks[0]["city"] = "张家口" if parks[0]["zone_id"] != "zhangcheng" else "石家庄"

    _edit(kb_copy / "kb" / "parks.yaml", broken)
    with pytest.raises(KBError, match="zone_id"):
        load_kb(kb_copy)


def test_load_kb_rejects_duplicate_id(kb_copy: Path) -> None:
    _edit(kb_copy / "kb" / "chains.yaml", lambda chains: chains.append(dict(chains[0])))
    with pytest.raises(KBError, match="重复"):
        load_kb(kb_copy)


def test_load_kb_rejects_missing_source(kb_copy: Path) -> None:
    def broken(rules: list[dict]) -> None:  # type: ignore[type-arg]
        del rules[0]["source"]

    _edit(kb_copy / "kb" / "rules.yaml", broken)
    with pytest.raises(KBError) as err:
        load_kb(kb_copy)
    assert (err.value.file, err.value.field) == ("rules.yaml", "source")


def test_load_kb_rejects_unmapped_catalogue_industry(kb_copy: Path) -> None:
    _edit(kb_copy / "kb" / "industry_terms.yaml", lambda terms: terms.pop("装备制造"))
    with pytest.raises(KBError, match="装备制造"):
        load_kb(kb_copy)


def test_county_clusters_are_places_citing_their_lists(kb: KnowledgeBase) -> None:
    listed = [p for p in kb.parks if p.from_list]
    assert len(listed) >= 100
    for p in listed:
        assert not p.named_by_policy and p.lists and p.county_code
        assert p.city in kb.zone_by_id[p.zone_id].cities
        for list_id in p.lists:
            assert kb.list_by_id[list_id].title in p.source


def test_every_place_but_counties_carries_classes(kb: KnowledgeBase) -> None:
    missing = [p.park_id for p in kb.parks if not p.classes and p.kind != "county"]
    assert len(missing) <= 0.02 * len(kb.parks), missing
    assert {c.code for c in kb.park_by_id["yongnian_fasteners"].classes} == {"3482"}


def test_load_kb_rejects_a_cluster_in_the_wrong_city(kb_copy: Path) -> None:
    def broken(clusters: list[dict]) -> None:  # type: ignore[type-arg]
        clusters[0]["city"] = "承德" if clusters[0]["city"] != "承德" else "邯郸"

    _edit(kb_copy / "kb" / "county_clusters.yaml", broken)
    with pytest.raises(KBError) as err:
        load_kb(kb_copy)
    assert (err.value.file, err.value.field) == ("county_clusters.yaml", "city")


def test_load_kb_rejects_a_class_code_that_is_not_gbt(kb_copy: Path) -> None:
    def broken(records: list[dict]) -> None:  # type: ignore[type-arg]
        records[0]["classes"][0]["code"] = "9999"

    _edit(kb_copy / "kb" / "place_classes.yaml", broken)
    with pytest.raises(KBError) as err:
        load_kb(kb_copy)
    assert err.value.file == "place_classes.yaml" and "9999" in str(err.value)
