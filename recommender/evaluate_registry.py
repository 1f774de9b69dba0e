"""The `registry` split of `make eval REGISTRY=path`: held-out registered firms (cold start), each
firm's 经营范围 as the description and its registered county as the answer.

Models: `prior` (counties ranked by how many training firms they hold), `registry_knn` (the
nearest-neighbour vote alone), `content` (content fit and policy rules, nothing learned),
`content_lightfm` (plus LightFM trained on the placements), `hybrid` (plus the registry term,
its weight chosen on validation firms, never on the test firms) and `hybrid_served` (the registry
weight the service trains with, `train.REGISTRY_WEIGHT`). Metrics: city@1, city@3 (the
firm's city among the first k distinct cities of the ranking), county@1 and county@3 (likewise
for counties; a park counts as its county).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features import registry as reg
from features.kb import COUNTY_PREFIX, KnowledgeBase
from features.tables import TableLimits, open_table
from recommender.hybrid import Matcher
from recommender.registry import FIRM_PREFIX, place_counties, place_scores, placement_history
from recommender.train import REGISTRY_WEIGHT, TrainParams, profiles, train_matcher

PLACEMENT_COLUMNS = ("firm_id", "name", "scope", "county_code", "city", "county", "reg_date")
MODELS = ("prior", "registry_knn", "content", "content_lightfm", "hybrid", "hybrid_served")
METRICS = ("city@1", "city@3", "county@1", "county@3")
WEIGHT_GRID = (0.25, 0.5, 1.0, 2.0, 4.0)


@dataclass(frozen=True)
class RegistryEvalConfig:
    test_share: float = 0.2
    validation_share: float = 0.1
    max_test: int = 2000
    max_validation: int = 800
    epochs: int = 20
    seed: int = 7


def read_registry(path: Path | str, kb: KnowledgeBase) -> pd.DataFrame:
    """A registry export (.csv/.xlsx) → located firms in `store.firms.load_placements` columns.

    Read as the import reads it: the bounded table reader, the same headers and aliases, the GB
    32100 check, and the county from the code's division, else from 注册地址, else from 地区
    (`features.registry.locate`). Firms without a county are left out (their count is reported).
    """
    path = Path(path)
    limits = TableLimits(max_bytes=200 * 1024 * 1024, max_rows=1_000_000)
    with path.open("rb") as fh:
        header, rows = open_table(fh, path.name, limits)
        columns, _, problems = reg.header_columns(header)
        if problems or not {"name", "scope"} <= set(columns):
            raise ValueError(
                f"{path.name} 的表头无法识别：{'；'.join(problems) or '缺少企业名称或经营范围'}"
            )
        divisions = reg.load_divisions()
        counties = {p.park_id.removeprefix(COUNTY_PREFIX) for p in kb.parks if p.kind == "county"}
        out: dict[str, dict[str, Any]] = {}
        n_rows = 0

        def cell(row: list[str], col: str) -> str:
            return "".join(row[j] for j in columns.get(col, ()) if j < len(row) and row[j])

        for row in rows:
            n_rows += 1
            code = reg.normalize_code(cell(row, "credit_code"))
            valid = code is not None and reg.uscc_valid(code)
            name, address = cell(row, "name"), cell(row, "address")
            key = code if valid and code else reg.row_key(None, name, address)
            where = reg.locate(
                divisions,
                code if valid else None,
                valid,
                address,
                cell(row, "region"),
                cell(row, "province"),
            )
            scope = cell(row, "scope")
            if where.county_code in counties and len(scope.strip()) >= 4 and key not in out:
                out[key] = {
                    "firm_id": key,
                    "name": name,
                    "scope": scope,
                    "county_code": where.county_code,
                    "city": where.city,
                    "county": where.county,
                    "reg_date": cell(row, "reg_date"),
                }
    firms = pd.DataFrame(list(out.values()), columns=list(PLACEMENT_COLUMNS))
    firms.attrs["rows"] = n_rows
    return firms


def _distinct_hits(
    order: np.ndarray, labels: np.ndarray, truth: str, ks: Sequence[int]
) -> list[bool]:
    """Whether `truth` is among the first k distinct labels of the ranked places, for each k."""
    seen: list[str] = []
    for i in order:
        lab = labels[i]
        if lab and lab not in seen:
            seen.append(lab)
            if len(seen) >= max(ks):
                break
    return [truth in seen[:k] for k in ks]


def place_metrics(
    scores: np.ndarray, cities: np.ndarray, counties: np.ndarray, firms: pd.DataFrame
) -> dict[str, float]:
    """city@1/3 and county@1/3 of (n_firms, n_places) scores; −inf ranks last."""
    hits = np.zeros((len(firms), 4))
    for r, (city, county) in enumerate(
        zip(firms["city"], COUNTY_PREFIX + firms["county_code"].astype(str), strict=True)
    ):
        order = np.argsort(-np.nan_to_num(scores[r], neginf=-1e18), kind="stable")
        hits[r, :2] = _distinct_hits(order, cities, city, (1, 3))
        hits[r, 2:] = _distinct_hits(order, counties, county, (1, 3))
    return {m: round(float(v), 4) for m, v in zip(METRICS, hits.mean(axis=0), strict=True)}


@dataclass
class Parts:
    """Each test firm's score parts over the matcher's places, (n_firms, n_places) each."""

    base: np.ndarray  # content + policy (−inf where excluded)
    collab: np.ndarray  # weighted LightFM preference
    registry: np.ndarray  # the registry county support, 0–1 (unweighted)


def score_parts(matcher: Matcher, firms: pd.DataFrame) -> Parts:
    base, collab, reg = [], [], []
    assert matcher.registry is not None
    for e in profiles(_as_enterprises(firms)):
        s = matcher.score(e)
        b = s.content + s.policy.adjustment * matcher.weights.policy
        if s.policy.excluded:
            b = b.copy()
            b[list(s.policy.excluded)] = -np.inf
        base.append(b)
        collab.append(s.collaborative)
        assert s.registry_support is not None
        reg.append(place_scores(s.registry_support, matcher._registry_rows))
    return Parts(np.vstack(base), np.vstack(collab), np.vstack(reg))


def _as_enterprises(firms: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {"enterprise_id": FIRM_PREFIX + firms["firm_id"], "description": firms["scope"]}
    )


def evaluate_registry(
    kb: KnowledgeBase,
    firms: pd.DataFrame,
    cfg: RegistryEvalConfig | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The registry split: train on the training firms, choose the registry weight on validation
    firms, report every model on the test firms."""
    cfg = cfg or RegistryEvalConfig()
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(firms))
    n_test = int(len(firms) * cfg.test_share)
    n_val = int(len(firms) * cfg.validation_share)
    test = firms.iloc[order[:n_test]].head(cfg.max_test)
    val = firms.iloc[order[n_test : n_test + n_val]].head(cfg.max_validation)
    train = firms.iloc[order[n_test + n_val :]]
    t0 = time.perf_counter()
    ents, inter = placement_history(train, kb.parks)
    params = TrainParams(epochs=cfg.epochs, num_threads=2)
    matcher = train_matcher(kb, ents, inter, params, version="eval-registry", registry_firms=train)
    log(f"registry: trained on {len(train)} firms ({time.perf_counter() - t0:.0f}s)")
    cities = np.array([p.city for p in matcher.parks])
    counties = np.array([c or "" for c in place_counties(matcher.parks)])

    grid = {}
    vp = score_parts(matcher, val)
    for w in WEIGHT_GRID:
        grid[w] = place_metrics(vp.base + vp.collab + w * vp.registry, cities, counties, val)
    weight = max(WEIGHT_GRID, key=lambda w: (grid[w]["city@3"] + grid[w]["county@3"], -w))
    log(f"registry: weight {weight} chosen on {len(val)} validation firms")

    tp = score_parts(matcher, test)
    size = pd.Series(COUNTY_PREFIX + train["county_code"].astype(str)).value_counts()
    prior = np.array([float(size.get(c, 0.0)) if c else 0.0 for c in counties])
    models = {
        "prior": np.tile(prior, (len(test), 1)),
        "registry_knn": tp.registry,
        "content": tp.base,
        "content_lightfm": tp.base + tp.collab,
        "hybrid": tp.base + tp.collab + weight * tp.registry,
        # what the service trains: the fixed REGISTRY_WEIGHT, not the validation choice
        "hybrid_served": tp.base + tp.collab + REGISTRY_WEIGHT * tp.registry,
    }
    result = {
        "firms": len(firms),
        "rows_read": int(firms.attrs.get("rows", len(firms))),
        "train_firms": len(train),
        "validation_firms": len(val),
        "test_firms": len(test),
        "places": len(matcher.parks),
        "weights": asdict(replace(matcher.weights, registry=weight)),
        "validation_grid": {str(w): m for w, m in grid.items()},
        "models": {name: place_metrics(s, cities, counties, test) for name, s in models.items()},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return result


def markdown(split: dict[str, Any], source: str) -> list[str]:
    """The registry split as a section of reports/eval.md."""
    lines = [
        "## Split: registry",
        "",
        f"Registry {source}: {split['rows_read']} rows, {split['firms']} located firms; "
        f"{split['train_firms']} training, {split['validation_firms']} validation, "
        f"{split['test_firms']} test firms (cold start: test firms are in neither LightFM nor the "
        f"kNN index). Registry weight chosen on validation: {split['weights']['registry']}. "
        "city@k / county@k: the firm's registered city / county among the first k distinct "
        "cities / counties of the ranking (a park counts as its county).",
        "",
        "| model | " + " | ".join(METRICS) + " |",
        "|---|" + "---|" * len(METRICS),
    ]
    for model, m in split["models"].items():
        lines.append(f"| {model} | " + " | ".join(f"{m[k]:.4f}" for k in METRICS) + " |")
    lines.append("")
    return lines
