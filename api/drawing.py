"""SVG drawing for the pages: the 招商地图 (below), the self-check's score chart and the bureau's
chain-gap diagram (at the end), all geometry computed here and only drawn by the templates.

The 招商地图: a server-rendered SVG map of Hebei's prefectures and counties with park points.

No JavaScript and no tiles: the page prints and stays within the CSP (fills are SVG attributes, not
inline styles). Boundaries are the simplified DataV copies in data/reference (GCJ-02, no 审图号:
a schematic only, and every map says so); park points are the 2018 catalogue's GCJ-02 geocodes,
and a park with none is drawn at its county's (or city's) centre with a dashed ring.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from features.kb import KnowledgeBase, Park

WIDTH = 600
PAD = 12
NOTICE = "示意图，不作为权属及边界依据"
CREDIT = (
    "边界：阿里云 DataV.GeoAtlas（约 2025 年 1 月）简化，GCJ-02 坐标，无审图号；"
    "园区位置：《中国开发区审核公告目录（2018年版）》地理编码"
)
# County-level units the KB treats as cities of their own (data/kb/devzones.yaml).
OWN_CITY = {
    "辛集市": "辛集",
    "定州市": "定州",
    "雄县": "雄安新区",
    "容城县": "雄安新区",
    "安新县": "雄安新区",
}

# Fit classes, relative to the best park's score of the answer (darker = better).
FIT_CLASSES = (
    (0.9, "#08519c", "最契合（≥ 最高分的 90%）"),
    (0.75, "#3182bd", "较高（75%–90%）"),
    (0.6, "#6baed6", "中等（60%–75%）"),
    (0.4, "#bdd7e7", "一般（40%–60%）"),
    (-math.inf, "#eff3ff", "较低（< 40%）"),
)
EXCLUDED_FILL, EXCLUDED_LABEL = "#a0aec0", "园区均依政策排除"
NO_PARK_FILL, NO_PARK_LABEL = "#ffffff", "无园区"
# Chain layout: how many parks serve the chain in a county or city.
COUNT_CLASSES = (
    (4, "#006d2c", "4 个及以上园区"),
    (2, "#31a354", "2–3 个园区"),
    (1, "#a1d99b", "1 个园区"),
)
GAP_FILL, GAP_LABEL = "#fde2e1", "空白：无承载这些产业链的园区"
TINT = 0.35  # the opacity of a city's shade on its counties that have no park
TINT_LABEL = "浅色：县内无园区，显示所在市的颜色"


@dataclass(frozen=True)
class Region:
    name: str
    city: str  # the KB's city: prefecture without 市, or 辛集 / 定州 / 雄安新区
    d: str  # SVG path
    x: float  # label point
    y: float
    rings: tuple[tuple[tuple[float, float], ...], ...] = ()  # lon/lat, for point-in-polygon

    def contains(self, lon: float, lat: float) -> bool:
        """Even-odd rule over all rings (holes included)."""
        inside = False
        for ring in self.rings:
            for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
                if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
                    inside = not inside
        return inside


@dataclass(frozen=True)
class Basemap:
    width: int
    height: int
    prefectures: tuple[Region, ...]
    counties: tuple[Region, ...]
    lon0: float
    lat1: float
    scale: float
    kx: float

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            PAD + (lon - self.lon0) * self.kx * self.scale,
            PAD + (self.lat1 - lat) * self.scale,
        )


@dataclass(frozen=True)
class Shape:
    d: str
    fill: str
    title: str
    opacity: float = 1.0


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    label: str  # the number drawn in it ("" for a plain dot)
    title: str
    exact: bool  # a catalogue geocode (else the county's or city's centre)
    main: bool  # a numbered park, drawn large


@dataclass
class ParkMap:
    title: str
    desc: str
    width: int
    height: int
    cities: list[Shape]
    counties: list[Shape]
    labels: list[tuple[float, float, str]]
    markers: list[Marker]
    legend: list[tuple[str, str]]
    notes: list[str] = field(default_factory=list)
    notice: str = NOTICE
    credit: str = CREDIT


# -- the base map ---------------------------------------------------------------------------------
def _rings(geometry: Mapping[str, Any]) -> Iterable[list[list[float]]]:
    for polygon in geometry["coordinates"]:
        yield from polygon


@cache
def basemap(ref_dir: Path) -> Basemap:
    """Prefectures and counties projected once (equirectangular at Hebei's mid-latitude)."""
    pref = json.loads((ref_dir / "hebei_prefecture_simplified.geojson").read_text("utf-8"))
    county = json.loads((ref_dir / "hebei_county_simplified.geojson").read_text("utf-8"))
    points = np.array([pt for f in pref["features"] for r in _rings(f["geometry"]) for pt in r])
    lon0, lat0 = points.min(axis=0)
    lon1, lat1 = points.max(axis=0)
    kx = math.cos(math.radians((lat0 + lat1) / 2))
    scale = (WIDTH - 2 * PAD) / ((lon1 - lon0) * kx)
    height = math.ceil((lat1 - lat0) * scale + 2 * PAD)
    base = Basemap(WIDTH, height, (), (), float(lon0), float(lat1), scale, kx)

    def path(geometry: Mapping[str, Any]) -> str:
        parts = []
        for ring in _rings(geometry):
            xy = [base.project(lon, lat) for lon, lat in ring]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in xy) + "Z")
        return "".join(parts)

    names = {f["properties"]["adcode"]: f["properties"]["name"] for f in pref["features"]}

    def region(f: Mapping[str, Any], city: str) -> Region:
        x, y = base.project(*f["properties"]["centroid"])
        rings = tuple(tuple((lon, lat) for lon, lat in r) for r in _rings(f["geometry"]))
        return Region(f["properties"]["name"], city, path(f["geometry"]), x, y, rings)

    prefectures = tuple(
        region(f, f["properties"]["name"].removesuffix("市")) for f in pref["features"]
    )
    counties = tuple(
        region(
            f,
            OWN_CITY.get(
                f["properties"]["name"], names[f["properties"]["parent"]].removesuffix("市")
            ),
        )
        for f in county["features"]
    )
    return Basemap(WIDTH, height, prefectures, counties, float(lon0), float(lat1), scale, kx)


@cache
def catalogue_points(ref_dir: Path) -> dict[str, tuple[float, float]]:
    """Catalogue code → GCJ-02 (lon, lat), the same datum as the boundaries; wrong geocodes out."""
    out = {}
    with (ref_dir / "hebei_devzones_2018.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row.get("geocode_flag") == "geocode_wrong" or not row.get("经度_GCJ02"):
                continue
            out[row["代码"]] = (float(row["经度_GCJ02"]), float(row["纬度_GCJ02"]))
    return out


def catalogue_code(park: Park) -> str | None:
    """The park's 2018 catalogue code: its id for a catalogue zone, or the zone it is linked to."""
    return park.devzone_code or (None if park.named_by_policy else park.park_id)


def park_point(ref_dir: Path, park: Park) -> tuple[float, float, bool]:
    """(x, y, exact): the catalogue geocode, else the centre of the park's county or city."""
    base = basemap(ref_dir)
    lonlat = catalogue_points(ref_dir).get(catalogue_code(park) or "")
    if lonlat:
        return (*base.project(*lonlat), True)
    spots = [r for r in base.counties if r.city == park.city and r.name == park.county]
    if not spots:
        spots = [r for r in base.prefectures if r.city == park.city]
    if not spots:  # 辛集 / 定州 / 雄安新区 without a county: the centre of their counties
        spots = [r for r in base.counties if r.city == park.city]
    if not spots:
        return (math.nan, math.nan, False)
    return (
        sum(r.x for r in spots) / len(spots),
        sum(r.y for r in spots) / len(spots),
        False,
    )


def park_county(ref_dir: Path, park: Park) -> str | None:
    """The park's county: as the KB says, else the county its catalogue point lies in (within the
    park's city), so a city-level zone shades the county where it is."""
    if park.county:
        return park.county
    lonlat = catalogue_points(ref_dir).get(catalogue_code(park) or "")
    if lonlat is None:
        return None
    for r in basemap(ref_dir).counties:
        if r.city == park.city and r.contains(*lonlat):
            return r.name
    return None


def _spread(markers: list[Marker]) -> list[Marker]:
    """Move a marker off one already drawn at nearly the same point, so both numbers show."""
    placed: list[Marker] = []
    for m in markers:
        x, y, turn = m.x, m.y, 0
        while any(math.hypot(x - p.x, y - p.y) < (17 if m.main else 6) for p in placed):
            turn += 1
            angle = turn * 2.4  # golden-angle spiral
            x, y = (
                m.x + 9 * math.sqrt(turn) * math.cos(angle),
                m.y + 9 * math.sqrt(turn) * math.sin(angle),
            )
        placed.append(Marker(x, y, m.label, m.title, m.exact, m.main))
    return placed


def _county_shapes(
    base: Basemap, own: Mapping[str, tuple[str, str]], city: Mapping[str, tuple[str, str]]
) -> list[Shape]:
    """Counties with parks of their own in their own shade; the others left clear, showing the
    light tint of their city's shade below (no county without a park looks like a good fit)."""
    out = []
    for r in base.counties:
        key = f"{r.city}/{r.name}"
        if key in own:
            out.append(Shape(r.d, *own[key]))
        elif r.city in city:
            fill, title = city[r.city]
            out.append(Shape(r.d, "none", f"{r.name}：县内无园区；{title}"))
        else:
            out.append(Shape(r.d, NO_PARK_FILL, f"{r.name}：{NO_PARK_LABEL}"))
    return out


# -- the self-check map ---------------------------------------------------------------------------
def _fit_fill(score: float, best: float) -> str:
    share = score / best if best > 0 else 0.0
    return next(colour for edge, colour, _ in FIT_CLASSES if share >= edge)


def fit_map(
    ref_dir: Path,
    parks: tuple[Park, ...],
    final: np.ndarray,
    top: list[dict[str, Any]],
) -> ParkMap:
    """Cities and counties shaded by the best score of their parks in this answer (`final`, one
    score per park of `parks`, −inf when excluded); the answer's `top` parks numbered."""
    base = basemap(ref_dir)
    best = float(final[np.isfinite(final)].max(initial=0.0))
    by_city: dict[str, list[float]] = {}
    by_county: dict[str, list[float]] = {}
    for p, s in zip(parks, final, strict=True):
        by_city.setdefault(p.city, []).append(float(s))
        county = park_county(ref_dir, p)
        if county:
            by_county.setdefault(f"{p.city}/{county}", []).append(float(s))

    def fill(scores: list[float], name: str) -> tuple[str, str]:
        ok = [s for s in scores if math.isfinite(s)]
        if not ok:
            return EXCLUDED_FILL, f"{name}：{EXCLUDED_LABEL}"
        return _fit_fill(max(ok), best), f"{name}：最高得分 {max(ok):.2f}（{len(ok)} 个园区）"

    city_fill = {c: fill(s, c) for c, s in by_city.items()}
    county_fill = {k: fill(s, k.split("/")[1]) for k, s in by_county.items()}
    # 辛集 / 定州 / 雄安新区 are cities made of counties: those counties carry the city's own shade.
    for r in base.counties:
        if r.city in OWN_CITY.values() and r.city in city_fill:
            county_fill.setdefault(f"{r.city}/{r.name}", city_fill[r.city])
    cities = [
        Shape(r.d, *city_fill.get(r.city, (NO_PARK_FILL, f"{r.name}：{NO_PARK_LABEL}")), TINT)
        for r in base.prefectures
    ]
    index = {p.park_id: p for p in parks}
    markers = []
    for n, entry in enumerate(top, start=1):
        p = index[entry["park_id"]]
        x, y, exact = park_point(ref_dir, p)
        if math.isnan(x):
            continue
        where = "" if exact else "（位置按所在县市中心示意）"
        markers.append(
            Marker(x, y, str(n), f"{n}. {p.name}：{entry['score']:.2f}{where}", exact, True)
        )
    legend = [(label, colour) for _, colour, label in FIT_CLASSES]
    legend += [(EXCLUDED_LABEL, EXCLUDED_FILL), (NO_PARK_LABEL, NO_PARK_FILL)]
    return ParkMap(
        title="招商地图：各市县园区的最高契合度",
        desc="颜色越深，该市或县内园区对贵企业的最高得分越高；数字为推荐园区的名次。",
        width=base.width,
        height=base.height,
        cities=cities,
        counties=_county_shapes(base, county_fill, city_fill),
        labels=_labels(base, spread := _spread(markers)),
        markers=spread,
        legend=legend,
        notes=[TINT_LABEL + "。", *_approximate_note(markers)],
    )


def _labels(base: Basemap, markers: list[Marker]) -> list[tuple[float, float, str]]:
    """City names at their centroids, lifted above a numbered marker that would hide them."""
    out = []
    for r in base.prefectures:
        y = r.y
        if any(m.main and abs(m.x - r.x) < 28 and abs(m.y - y) < 14 for m in markers):
            y -= 18
        out.append((r.x, y, r.city))
    return out


def _approximate_note(markers: list[Marker]) -> list[str]:
    if any(not m.exact for m in markers):
        return ["虚线圆圈：园区无目录坐标，按所在县（市）中心示意。"]
    return []


# -- a chain's parks and gaps ---------------------------------------------------------------------
def chain_map(
    ref_dir: Path, parks: tuple[Park, ...], chain_ids: list[str], names: list[str], here: Park
) -> ParkMap:
    """Parks serving any of `chain_ids` as dots, counties and cities shaded by how many there
    are, the ones with none marked as gaps; `here` (the bureau's park) numbered 1."""
    base = basemap(ref_dir)
    wanted = set(chain_ids)
    serving = [p for p in parks if wanted & {r.chain_id for r in p.chains}]
    per_city: dict[str, int] = {}
    per_county: dict[str, int] = {}
    for p in serving:
        per_city[p.city] = per_city.get(p.city, 0) + 1
        county = park_county(ref_dir, p)
        if county:
            per_county[f"{p.city}/{county}"] = per_county.get(f"{p.city}/{county}", 0) + 1

    def fill(n: int, name: str) -> tuple[str, str]:
        if n == 0:
            return GAP_FILL, f"{name}：{GAP_LABEL}"
        colour = next(c for edge, c, _ in COUNT_CLASSES if n >= edge)
        return colour, f"{name}：{n} 个园区承载"

    city_fill = {r.city: fill(per_city.get(r.city, 0), r.name) for r in base.prefectures}
    cities = [Shape(r.d, *city_fill[r.city]) for r in base.prefectures]
    county_fill = {k: fill(n, k.split("/")[1]) for k, n in per_county.items()}
    for r in base.counties:  # 辛集 / 定州 / 雄安新区: their counties carry the city's count
        if r.city in OWN_CITY.values():
            county_fill.setdefault(f"{r.city}/{r.name}", fill(per_city.get(r.city, 0), r.name))
        else:  # a county with none of its own is a gap, whatever the rest of its city has
            n = per_city.get(r.city, 0)
            county_fill.setdefault(
                f"{r.city}/{r.name}", (GAP_FILL, f"{r.name}：县内无承载园区（全市 {n} 个）")
            )
    markers = []
    for p in serving:
        if p.park_id == here.park_id:
            continue
        x, y, exact = park_point(ref_dir, p)
        if not math.isnan(x):
            markers.append(Marker(x, y, "", p.name, exact, False))
    x, y, exact = park_point(ref_dir, here)
    if not math.isnan(x):
        markers.insert(0, Marker(x, y, "本", f"本园区：{here.name}", exact, True))
    legend = [(label, colour) for _, colour, label in COUNT_CLASSES] + [(GAP_LABEL, GAP_FILL)]
    return ParkMap(
        title=f"产业链布局：{'、'.join(names)}",
        desc="绿色越深，该县（市）承载这些产业链的园区越多；浅红为空白；圆点为承载园区，“本”为本园区。",
        width=base.width,
        height=base.height,
        cities=cities,
        counties=[
            Shape(r.d, *county_fill.get(f"{r.city}/{r.name}", ("none", r.name)))
            for r in base.counties
        ],
        labels=_labels(base, spread := _spread(markers)),
        markers=spread,
        legend=legend,
        notes=_approximate_note(markers),
    )


# -- the score chart ------------------------------------------------------------------------------
# Narrow on purpose: the SVG scales to the page, so a 360-unit width keeps 14-unit text near 14px
# on a 390px phone (the stylesheet caps its width on wide screens).
CHART_WIDTH = 360
CHART_PAD = 6
LEGEND_HEIGHT = 50
ROW_HEIGHT = 72
NAME_CHARS = 19
COMPONENTS = (
    ("content", "内容", "#2b6cb0"),
    ("collaborative", "协同", "#2f855a"),
    ("policy", "政策", "#b7791f"),
)
NEGATIVE_COLOUR = "#c53030"
LEGEND = (
    ("内容契合", "#2b6cb0"),
    ("相似企业（协同过滤）", "#2f855a"),
    ("政策加分", "#b7791f"),
    ("政策减分", NEGATIVE_COLOUR),
)


@dataclass(frozen=True)
class ChartBar:
    x: float
    width: float
    colour: str
    title: str


@dataclass(frozen=True)
class ChartPart:
    label: str
    value: float
    colour: str


@dataclass(frozen=True)
class ChartRow:
    y: float
    rank: int
    name: str
    full_name: str
    total: float
    bars: list[ChartBar]
    parts: list[ChartPart]


@dataclass(frozen=True)
class Chart:
    width: int
    height: float
    zero_x: float
    has_negative: bool
    rows: list[ChartRow] = field(default_factory=list)
    legend: tuple[tuple[str, str], ...] = LEGEND


def _short(name: str, n: int = NAME_CHARS) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


def score_chart(parks: Iterable[dict[str, Any]]) -> Chart:
    """Stacked horizontal bars of content + collaborative + policy, negatives drawn left of zero."""
    parks = list(parks)
    pos_max = max(
        (sum(max(p["score_breakdown"][k], 0.0) for k, _, _ in COMPONENTS) for p in parks),
        default=0.0,
    )
    neg_max = max(
        (sum(max(-p["score_breakdown"][k], 0.0) for k, _, _ in COMPONENTS) for p in parks),
        default=0.0,
    )
    span = (pos_max + neg_max) or 1.0
    plot = CHART_WIDTH - 2 * CHART_PAD
    zero_x = CHART_PAD + plot * neg_max / span
    rows = []
    for i, p in enumerate(parks):
        y = LEGEND_HEIGHT + i * ROW_HEIGHT
        right, left = zero_x, zero_x
        bars, parts = [], []
        for key, label, colour in COMPONENTS:
            v = float(p["score_breakdown"][key])
            c = NEGATIVE_COLOUR if v < 0 else colour
            parts.append(ChartPart(label, v, c))
            w = abs(v) / span * plot
            if v >= 0:
                bars.append(ChartBar(right, w, c, f"{label} {v:+.2f}"))
                right += w
            else:
                left -= w
                bars.append(ChartBar(left, w, c, f"{label} {v:+.2f}"))
        rows.append(
            ChartRow(
                y=y,
                rank=i + 1,
                name=_short(p["name"]),
                full_name=p["name"],
                total=float(p["score"]),
                bars=bars,
                parts=parts,
            )
        )
    return Chart(
        width=CHART_WIDTH,
        height=LEGEND_HEIGHT + len(rows) * ROW_HEIGHT,
        zero_x=zero_x,
        has_negative=neg_max > 0,
        rows=rows,
    )


# -- the chain-gap diagram ------------------------------------------------------------------------
STATUS_NAMES = {"empty": "空缺", "thin": "薄弱", "ok": "已成规模"}
NODE_W = 170
NODE_H = 96
NODE_GAP = 22
DIAGRAM_PAD = 10
CHAIN_HEAD = 34
CHAIN_GAP = 26
LEGEND_H = 34
DIAGRAM_W = 2 * DIAGRAM_PAD + 5 * NODE_W + 4 * NODE_GAP
NAME_FONT = 15
STATUS_STYLE = {
    "empty": {"fill": "#fed7d7", "stroke": "#c53030", "ink": "#822727", "mark": "✕"},
    "thin": {"fill": "#fefcbf", "stroke": "#b7791f", "ink": "#744210", "mark": "!"},
    "ok": {"fill": "#c6f6d5", "stroke": "#2f855a", "ink": "#22543d", "mark": "✓"},
}


@dataclass(frozen=True)
class Node:
    x: float
    y: float
    lines: list[str]
    placed: int
    status: str
    anchor: str
    style: dict[str, str]
    title: str


@dataclass(frozen=True)
class ChainRow:
    y: float
    name: str
    note: str
    nodes: list[Node]
    arrows: list[tuple[float, float, float]]  # x1, x2, y


@dataclass
class Diagram:
    width: int
    height: float
    rows: list[ChainRow] = field(default_factory=list)
    legend: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def wrap(name: str, per_line: int, lines: int = 2) -> list[str]:
    out = [name[i : i + per_line] for i in range(0, len(name), per_line)] or [""]
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][:-1] + "…"
    return out


def anchor(segment_id: str) -> str:
    return "seg-" + segment_id.replace(".", "-")


def chain_diagram(kb: KnowledgeBase, chains: list[dict[str, Any]]) -> Diagram:
    """Each chain a row of its served segments left → right, coloured by status."""
    per_line = (NODE_W - 16) // NAME_FONT
    rows = []
    y = LEGEND_H
    for c in chains:
        total = len(kb.chain_by_id[c["chain_id"]].segments)
        served = len(c["segments"])
        note = "全部环节" if served == total else f"承载 {served}/{total} 个环节"
        node_y = y + CHAIN_HEAD
        nodes = []
        for k, s in enumerate(c["segments"]):
            x = DIAGRAM_PAD + k * (NODE_W + NODE_GAP)
            title = f"{c['name']}·{s['name']}：{STATUS_NAMES[s['status']]}，已签约或落地 {s['placed']} 家"
            nodes.append(
                Node(
                    x=x,
                    y=node_y,
                    lines=wrap(s["name"], per_line),
                    placed=s["placed"],
                    status=s["status"],
                    anchor=anchor(s["segment_id"]),
                    style=STATUS_STYLE[s["status"]],
                    title=title,
                )
            )
        arrows = [
            (n.x + NODE_W + 3, n.x + NODE_W + NODE_GAP - 3, node_y + NODE_H / 2) for n in nodes[:-1]
        ]
        rows.append(ChainRow(y=y, name=c["name"], note=note, nodes=nodes, arrows=arrows))
        y = node_y + NODE_H + CHAIN_GAP
    legend = [(f"{STATUS_NAMES[k]}", STATUS_STYLE[k]) for k in ("empty", "thin", "ok")]
    return Diagram(width=DIAGRAM_W, height=y - CHAIN_GAP + DIAGRAM_PAD, rows=rows, legend=legend)
