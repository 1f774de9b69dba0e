"""The 招商地图 (api/drawing.py): boundaries that cover every place of the KB, shading that follows
the scores, numbered parks, the schematic notice, and the maps on the result and chain-gap pages."""

from __future__ import annotations

import math
import re

import httpx
import numpy as np

from api.drawing import (
    EXCLUDED_FILL,
    FIT_CLASSES,
    GAP_FILL,
    NOTICE,
    basemap,
    catalogue_code,
    catalogue_points,
    chain_map,
    fit_map,
    park_point,
)
from api.settings import Settings
from features.kb import KnowledgeBase
from tests.api.test_bureau_pages import browser, logged_in  # noqa: F401 (fixtures)
from tests.conftest import post_form

REF = Settings().data_dir / "reference"


def test_basemap_has_every_city_and_county_the_kb_names(kb: KnowledgeBase) -> None:
    base = basemap(REF)
    assert len(base.prefectures) == 11 and len(base.counties) == 167
    cities = {r.city for r in base.prefectures} | {r.city for r in base.counties}
    counties = {(r.city, r.name) for r in base.counties}
    # Development zones that the 2023 table lists as county-level units have no boundary of their
    # own; their places are drawn at their city (the map's fallback).
    zone_units = ("开发区", "新区", "园区", "管理区", "高新区", "新城")
    for p in kb.parks:
        assert p.city in cities, p.park_id
        if p.county and not p.county.endswith(zone_units):
            assert (p.city, p.county) in counties, (p.park_id, p.city, p.county)
    assert {r.city for r in base.counties if r.name in ("雄县", "容城县", "安新县")} == {"雄安新区"}


def test_catalogue_points_fall_in_their_county(kb: KnowledgeBase) -> None:
    """Most catalogue geocodes lie in the county the KB gives; not all, since a geocode is an
    address that may sit across a county line, and the simplified borders leave thin slivers."""
    base = basemap(REF)
    points = catalogue_points(REF)
    located = [
        (p, ll) for p in kb.parks if p.county and (ll := points.get(catalogue_code(p) or ""))
    ]
    inside = [
        p
        for p, ll in located
        if any(r.name == p.county and r.city == p.city and r.contains(*ll) for r in base.counties)
    ]
    assert len(located) > 100
    assert len(inside) / len(located) > 0.85, (len(inside), len(located))


def test_fit_map_shades_the_best_city_darkest_and_greys_an_excluded_one(
    kb: KnowledgeBase,
) -> None:
    parks = kb.parks
    final = np.full(len(parks), 0.1)
    best = next(i for i, p in enumerate(parks) if p.city == "唐山")
    final[best] = 1.0
    final[[i for i, p in enumerate(parks) if p.city == "衡水"]] = -np.inf
    top = [{"park_id": parks[best].park_id, "score": 1.0}]
    m = fit_map(REF, parks, final, top)
    fills = {r.city: s.fill for r, s in zip(basemap(REF).prefectures, m.cities, strict=True)}
    assert fills["唐山"] == FIT_CLASSES[0][1]
    assert fills["衡水"] == EXCLUDED_FILL
    assert fills["石家庄"] == FIT_CLASSES[-1][1]  # 0.1 of the best: the lightest class
    assert [k.label for k in m.markers] == ["1"] and m.markers[0].main
    x, y, exact = park_point(REF, parks[best])
    assert not math.isnan(x) and 0 <= x <= m.width and 0 <= y <= m.height
    assert m.notice == NOTICE == "示意图，不作为权属及边界依据"


def test_chain_map_marks_cities_without_the_chain_as_gaps(kb: KnowledgeBase) -> None:
    here = kb.park_by_id["cangzhou_canal_laser"]
    chain_ids = sorted({r.chain_id for r in here.chains})
    m = chain_map(REF, kb.parks, chain_ids, ["x"], here)
    serving = {p.city for p in kb.parks if set(chain_ids) & {r.chain_id for r in p.chains}}
    for shape, region in zip(m.cities, basemap(REF).prefectures, strict=True):
        assert (shape.fill == GAP_FILL) == (region.city not in serving), region.city
    assert m.markers[0].label == "本"
    assert len(m.markers) == sum(
        1 for p in kb.parks if set(chain_ids) & {r.chain_id for r in p.chains}
    ) - sum(1 for p in kb.parks if math.isnan(park_point(REF, p)[0]))


def test_result_page_draws_the_map_with_the_notice(http: httpx.Client) -> None:
    data = {"description": "生物疫苗和化学药制剂的研发生产", "top_k": "5"}
    html = post_form(http, "/", data).text
    svg = html[html.index('id="fit-map"') : html.index("</figure>", html.index('id="fit-map"'))]
    assert len(re.findall(r'<g class="marker">', svg)) == 5
    assert svg.count("<path") == 11 + 167 + 11  # cities, counties, city outlines
    assert NOTICE in html and "DataV" in html
    assert "style=" not in svg and "<script" not in svg  # nothing the CSP would block


def test_chain_gaps_page_draws_the_chain_map(logged_in: httpx.Client) -> None:  # noqa: F811
    r = logged_in.get("/bureau/parks/cangzhou_canal_laser/chain-gaps")
    assert r.status_code == 200
    assert 'id="chain-map"' in r.text and "全省布局" in r.text and NOTICE in r.text
