"""Reading a 经营范围: items split as written, boilerplate gone, making weighed above selling."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from features.scope import is_manufacturing, parse_scope

RAW_SCOPE = (
    "一般项目：紧固件制造；五金产品批发；机械设备销售；技术服务、技术开发、技术咨询"
    "（除依法须经批准的项目外，凭营业执照依法自主开展经营活动）。许可项目：货物进出口"
    "（依法须经批准的项目，经相关部门批准后方可开展经营活动，具体经营项目以相关部门批准文件"
    "或许可证件为准）"
)


def test_parse_scope_drops_registration_boilerplate() -> None:
    texts = [item.text for item in parse_scope(RAW_SCOPE)]
    joined = "|".join(texts)
    for boilerplate in ("依法须经批准", "一般项目", "许可项目", "营业执照", "批准文件", "除"):
        assert boilerplate not in joined
    assert "紧固件制造" in texts
    assert "货物进出口" in texts


def test_parse_scope_weighs_making_above_selling_and_advising() -> None:
    items = {item.text: item for item in parse_scope(RAW_SCOPE)}
    assert items["紧固件制造"].activity == "make"
    assert items["五金产品批发"].activity == "trade"
    assert items["技术咨询"].activity == "service"
    assert items["紧固件制造"].weight > items["机械设备销售"].weight
    assert items["紧固件制造"].weight > items["技术咨询"].weight


def test_parse_scope_shares_a_trailing_verb_across_an_enumeration() -> None:
    items = parse_scope("螺栓、螺母等标准紧固件生产；五金、机械设备销售")
    by_text = {item.text: item.activity for item in items}
    assert by_text == {
        "螺栓生产": "make",
        "螺母等标准紧固件生产": "make",
        "五金销售": "trade",
        "机械设备销售": "trade",
    }


def test_parse_scope_keeps_the_verbs_of_one_object_together() -> None:
    items = parse_scope("自行车及零部件的研发、生产和销售")
    assert len(items) == 1
    assert items[0].activity == "make"
    assert items[0].text.startswith("自行车及零部件")


def test_parse_scope_of_empty_or_punctuation_is_empty() -> None:
    assert parse_scope("") == []
    assert parse_scope("；，。、（）") == []


def test_is_manufacturing_sees_production_even_beside_design() -> None:
    assert is_manufacturing("实木家具和办公家具的设计与生产")
    assert is_manufacturing("自行车及零部件的研发、生产和销售")
    assert is_manufacturing(RAW_SCOPE)


def test_is_manufacturing_is_false_for_design_research_headquarters_and_trade() -> None:
    assert not is_manufacturing("工业设计服务；家具设计")
    assert not is_manufacturing("新能源汽车技术研发，企业总部管理")
    assert not is_manufacturing("五金、机械设备销售；货物进出口")
    assert not is_manufacturing("影视节目制作；广告制作")
    assert not is_manufacturing("新药研制；医药技术开发")


def test_is_manufacturing_reads_negations_and_compounds_of_production() -> None:
    assert not is_manufacturing("本公司不从事生产加工，仅做研发和销售")
    assert not is_manufacturing("化工产品销售（不含生产）")
    assert not is_manufacturing("现代物流等生产性服务；安全生产咨询；生产资料批发")
    # 非标/无纺/无机 are parts of product names, not negations.
    assert is_manufacturing("非标设备制造")
    assert is_manufacturing("无纺布生产")


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(st.text(max_size=300))
def test_parse_scope_on_any_text_gives_weighted_non_empty_items(text: str) -> None:
    items = parse_scope(text)
    for item in items:
        assert item.text.strip()
        assert 0.0 < item.weight <= 1.0
        assert item.activity in {"make", "trade", "service", "other"}
    assert is_manufacturing(text) == any(item.activity == "make" for item in items)
