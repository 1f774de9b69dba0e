"""Data quality of the public real-world dev set (data/eval/realworld_dev.csv).

The set measures the matcher on real Hebei enterprises, so a wrong place, an unknown chain or a
description that gives its own answer away would make every figure computed on it meaningless.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
import yaml

from features.kb import DATA_DIR

DEV = DATA_DIR / "eval" / "realworld_dev.csv"
COLUMNS = [
    "case_id",
    "description",
    "industry_code",
    "expected_city",
    "expected_county",
    "expected_chain",
    "source_kind",
    "source_title",
    "source_origin",
    "note",
]
# Province-administered cities and the new area are reported as their own "city" by the product.
SPECIAL_CITIES = {"定州": {"定州市"}, "辛集": {"辛集市"}, "雄安新区": {"雄县", "容城县", "安新县"}}
# Longest first, so 孟村回族自治县 loses 回族自治县 rather than only 县.
SUFFIXES = (
    "满族蒙古族自治县",
    "回族自治县",
    "满族自治县",
    "自治县",
    "矿区",
    "新区",
    "市",
    "县",
    "区",
)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def cases() -> list[dict[str, str]]:
    return _read(DEV)


@pytest.fixture(scope="module")
def divisions() -> dict[str, set[str]]:
    """City name (without 市) → its 2023 county-level names, from the reference table."""
    out: dict[str, set[str]] = {}
    with (DATA_DIR / "reference" / "hebei_city_county.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            city = row["city_name"].removesuffix("市")
            out.setdefault(city, set())
            if row["level"] == "县级":
                out[city].add(row["name"])
    return out


def _stem(name: str) -> str:
    """邢台市 → 邢台, 清河县 → 清河; a one-character stem (雄县, 涉县) stays whole, as its bare
    character would match unrelated words."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def test_realworld_dev_has_enough_cases_with_unique_ids(cases: list[dict[str, str]]) -> None:
    assert len(cases) >= 120
    ids = [c["case_id"] for c in cases]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"rw\d{3}", i) for i in ids)
    descriptions = [c["description"] for c in cases]
    assert len(set(descriptions)) == len(descriptions)


def test_realworld_dev_places_exist_in_the_2023_divisions(
    cases: list[dict[str, str]], divisions: dict[str, set[str]]
) -> None:
    for c in cases:
        city, county = c["expected_city"], c["expected_county"]
        if city in SPECIAL_CITIES:
            allowed = SPECIAL_CITIES[city]
        else:
            assert city in divisions, (c["case_id"], city)
            allowed = divisions[city]
        assert county == "" or county in allowed, (c["case_id"], city, county)


def test_realworld_dev_chains_are_kb_chains(cases: list[dict[str, str]]) -> None:
    chains = yaml.safe_load((DATA_DIR / "kb" / "chains.yaml").read_text(encoding="utf-8"))
    chain_ids = {c["chain_id"] for c in chains}
    for c in cases:
        assert c["expected_chain"] in chain_ids, (c["case_id"], c["expected_chain"])


def test_realworld_dev_descriptions_do_not_name_their_place(cases: list[dict[str, str]]) -> None:
    for c in cases:
        text = c["description"]
        for name in (c["expected_city"], c["expected_county"]):
            if name:
                assert name not in text and _stem(name) not in text, (c["case_id"], name)


def test_realworld_dev_descriptions_are_usable_match_requests(cases: list[dict[str, str]]) -> None:
    # /v1/match takes 4–4000 characters; a real description also names at least one product or service.
    for c in cases:
        assert 8 <= len(c["description"]) <= 4000, c["case_id"]
        assert c["industry_code"] == "" or re.fullmatch(r"[A-T]\d{2,4}", c["industry_code"])


def test_realworld_dev_every_case_cites_a_source(cases: list[dict[str, str]]) -> None:
    for c in cases:
        assert c["source_kind"] in {"news", "list", "catalogue", "company_disclosure"}, c["case_id"]
        assert c["source_title"].strip(), c["case_id"]
        origin = c["source_origin"]
        # A web page, or a repository file pinned to a commit.
        assert re.match(r"https?://\S+$", origin) or re.search(r"[0-9a-f]{40}", origin), (
            c["case_id"],
            origin,
        )


def test_realworld_dev_covers_every_prefecture(cases: list[dict[str, str]]) -> None:
    prefectures = {
        "石家庄",
        "唐山",
        "秦皇岛",
        "邯郸",
        "邢台",
        "保定",
        "张家口",
        "承德",
        "沧州",
        "廊坊",
        "衡水",
    }
    assert prefectures <= {c["expected_city"] for c in cases}


def test_stem_keeps_one_character_counties_whole() -> None:
    assert _stem("清河县") == "清河"
    assert _stem("孟村回族自治县") == "孟村"
    assert _stem("雄县") == "雄县"
    assert _stem("邢台") == "邢台"
