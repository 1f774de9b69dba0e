"""Data quality of the county-cluster evidence: every record resolves to a 2023 county, a known chain
and a public list, and each list's bookkeeping matches the records that cite it."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

DATA = Path(__file__).resolve().parents[2] / "data"
KB = DATA / "kb"

# Province-administered county-level cities are their own `city` in the KB (see data/kb/SCHEMA.md), while
# the division table files them under the prefecture that holds them; 雄安新区's counties sit under 保定.
OWN_CITY_COUNTIES = {
    "定州": {"定州市"},
    "辛集": {"辛集市"},
    "雄安新区": {"雄县", "容城县", "安新县"},
}


def _load(name: str) -> list[dict[str, Any]]:
    with (KB / name).open(encoding="utf-8") as f:
        records = yaml.safe_load(f)
    assert isinstance(records, list) and records, f"{name} must be a non-empty YAML list"
    return records


@pytest.fixture(scope="module")
def clusters() -> list[dict[str, Any]]:
    return _load("county_clusters.yaml")


@pytest.fixture(scope="module")
def lists() -> list[dict[str, Any]]:
    return _load("evidence_lists.yaml")


@pytest.fixture(scope="module")
def counties() -> dict[str, dict[str, str]]:
    with (DATA / "reference" / "hebei_city_county.csv").open(encoding="utf-8") as f:
        return {row["code"]: row for row in csv.DictReader(f) if row["level"] == "县级"}


def test_cluster_ids_unique_ascii_slugs(clusters: list[dict[str, Any]]) -> None:
    ids = [c["cluster_id"] for c in clusters]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids), ids


def test_list_ids_unique(lists: list[dict[str, Any]]) -> None:
    ids = [x["list_id"] for x in lists]
    assert [i for i, n in Counter(ids).items() if n > 1] == []


def test_one_record_per_county_and_name(clusters: list[dict[str, Any]]) -> None:
    # A cluster named by several lists is one record with several `lists` entries, not two records.
    keys = Counter((c["county_code"], c["name"]) for c in clusters)
    assert [k for k, n in keys.items() if n > 1] == []


def test_county_code_and_name_match_2023_divisions(
    clusters: list[dict[str, Any]], counties: dict[str, dict[str, str]]
) -> None:
    for c in clusters:
        row = counties.get(c["county_code"])
        assert row is not None, (
            f"{c['cluster_id']}: {c['county_code']} is no 2023 county-level code"
        )
        assert row["name"] == c["county"], f"{c['cluster_id']}: {c['county']} != {row['name']}"


def test_county_belongs_to_stated_city(
    clusters: list[dict[str, Any]], counties: dict[str, dict[str, str]]
) -> None:
    for c in clusters:
        if c["city"] in OWN_CITY_COUNTIES:
            assert c["county"] in OWN_CITY_COUNTIES[c["city"]], c["cluster_id"]
            continue
        prefecture = counties[c["county_code"]]["city_name"]
        assert prefecture == c["city"] + "市", (
            f"{c['cluster_id']}: {c['county']} is in {prefecture}"
        )
        assert c["county"] not in set().union(*OWN_CITY_COUNTIES.values()), c["cluster_id"]


def test_chain_ids_exist(clusters: list[dict[str, Any]]) -> None:
    known = {ch["chain_id"] for ch in _load("chains.yaml")}
    for c in clusters:
        assert isinstance(c["chain_ids"], list), c["cluster_id"]
        assert set(c["chain_ids"]) <= known, (c["cluster_id"], set(c["chain_ids"]) - known)


def test_every_cluster_cites_a_known_list_with_its_wording(
    clusters: list[dict[str, Any]], lists: list[dict[str, Any]]
) -> None:
    known = {x["list_id"] for x in lists}
    for c in clusters:
        assert c["lists"], f"{c['cluster_id']} names no list"
        for ref in c["lists"]:
            assert ref["list_id"] in known, (c["cluster_id"], ref["list_id"])
            assert str(ref["entry"]).strip(), (c["cluster_id"], ref)
        assert len({r["list_id"] for r in c["lists"]}) == len(c["lists"]), c["cluster_id"]


def test_products_non_empty_and_distinct(clusters: list[dict[str, Any]]) -> None:
    for c in clusters:
        products = c["products"]
        assert products and all(isinstance(p, str) and p.strip() for p in products), c["cluster_id"]
        assert len(set(products)) == len(products), c["cluster_id"]


def test_captured_counts_match_records(
    clusters: list[dict[str, Any]], lists: list[dict[str, Any]]
) -> None:
    # `captured` tells the reader how much of a list the KB holds; it must be the real count of the
    # list's entries cited (one entry spanning two counties is cited by two records but counts once).
    cited = Counter(
        list_id
        for list_id, _entry in {
            (ref["list_id"], ref["entry"]) for c in clusters for ref in c["lists"]
        }
    )
    for x in lists:
        assert x["captured"] == cited[x["list_id"]], x["list_id"]
        if x["entries"] is not None:
            assert x["captured"] <= x["entries"], x["list_id"]
        for field in ("title", "issuer", "origin", "terms"):
            assert str(x[field]).strip(), (x["list_id"], field)
        assert isinstance(x["year"], int), x["list_id"]


def test_synonym_groups_have_terms_and_a_reason() -> None:
    groups = _load("synonyms.yaml")
    for g in groups:
        terms = g["terms"]
        assert len(terms) >= 2 and len(set(terms)) == len(terms), terms
        assert str(g["note"]).strip(), terms
