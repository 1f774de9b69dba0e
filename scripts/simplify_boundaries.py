"""Build data/reference/hebei_{prefecture,county}_simplified.geojson from the DataV boundary files
(GCJ-02): Douglas–Peucker per ring, coordinates rounded to 0.001° (about 100 m), slivers dropped.
Run once when the source changes; the service reads only the simplified copies.

    python scripts/simplify_boundaries.py SOURCE_DIR [--out data/reference]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

Point = tuple[float, float]
# Degrees. At the map's scale (about 90 px a degree) 0.01° is under a pixel for the prefectures.
TOLERANCE = {"prefecture": 0.01, "county": 0.006}
MIN_RING_AREA = 1e-4  # square degrees: islets and slivers smaller than about 1 km² are left out
DIGITS = 3


def _dist(p: Point, a: Point, b: Point) -> float:
    """Distance of `p` from the segment a–b (plain degrees: the shape, not the surveyed length)."""
    (x, y), (x1, y1), (x2, y2) = p, a, b
    dx, dy = x2 - x1, y2 - y1
    if dx == dy == 0:
        return math.hypot(x - x1, y - y1)
    t = max(0.0, min(1.0, ((x - x1) * dx + (y - y1) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - (x1 + t * dx), y - (y1 + t * dy))


def douglas_peucker(points: list[Point], tol: float) -> list[Point]:
    """Keep the point farthest from the chord while it is farther than `tol` (iterative)."""
    if len(points) < 3:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        far, at = 0.0, -1
        for k in range(i + 1, j):
            d = _dist(points[k], points[i], points[j])
            if d > far:
                far, at = d, k
        if far > tol:
            keep[at] = True
            stack += [(i, at), (at, j)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def _area(ring: list[Point]) -> float:
    return (
        abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False))) / 2
    )


def simplify_polygon(rings: list[list[list[float]]], tol: float) -> list[list[list[float]]]:
    out = []
    for n, ring in enumerate(rings):
        pts = douglas_peucker([(float(x), float(y)) for x, y in ring], tol)
        pts = [(round(x, DIGITS), round(y, DIGITS)) for x, y in pts]
        pts = [p for i, p in enumerate(pts) if i == 0 or p != pts[i - 1]]
        if len(pts) < 4 or _area(pts) < MIN_RING_AREA:
            if n == 0:
                return []  # the outer ring vanished: drop the polygon with its holes
            continue
        out.append([list(p) for p in pts])
    return out


def simplify(collection: dict[str, Any], tol: float) -> dict[str, Any]:
    features = []
    for f in collection["features"]:
        g = f["geometry"]
        polygons = g["coordinates"] if g["type"] == "MultiPolygon" else [g["coordinates"]]
        kept = [p for p in (simplify_polygon(poly, tol) for poly in polygons) if p]
        props = f["properties"]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "adcode": props["adcode"],
                    "name": props["name"],
                    "parent": props["parent"]["adcode"],
                    "centroid": [
                        round(v, DIGITS) for v in props.get("centroid") or props["center"]
                    ],
                },
                "geometry": {"type": "MultiPolygon", "coordinates": kept},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path, help="folder with hebei_*_datav.geojson")
    parser.add_argument("--out", type=Path, default=Path("data/reference"))
    args = parser.parse_args()
    for level, tol in TOLERANCE.items():
        src = json.loads((args.source / f"hebei_{level}_datav.geojson").read_text("utf-8"))
        out = simplify(src, tol)
        path = args.out / f"hebei_{level}_simplified.geojson"
        path.write_text(json.dumps(out, ensure_ascii=False, separators=(",", ":")), "utf-8")
        n = sum(
            len(r) for f in out["features"] for poly in f["geometry"]["coordinates"] for r in poly
        )
        print(f"{path}: {len(out['features'])} features, {n} points, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
