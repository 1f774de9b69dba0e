"""Offline evaluation (`make eval`): the hybrid against popularity, content-only, LightFM without
features and a conditional-logit location-choice model, on a cold-start and a time split.

Test enterprises are never seen in training. Hybrid weights are chosen on a validation part of the
training enterprises, never on the test split. Writes reports/eval.json and reports/eval.md.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from features.history import POSITIVE_KINDS
from features.kb import KnowledgeBase, load_kb
from recommender import evaluate_industry, evaluate_realworld
from recommender.bundle import industry_classifier
from recommender.content import ContentScorer
from recommender.evaluate_draft import evaluate_draft_both as evaluate_draft_kb
from recommender.evaluate_draft import markdown as draft_markdown
from recommender.evaluate_registry import evaluate_registry, read_registry
from recommender.evaluate_registry import markdown as registry_markdown
from recommender.hybrid import HybridWeights, Matcher
from recommender.metrics import Split, cold_start_split, ranking_metrics, relevance, time_split
from recommender.synthetic import (
    BEIJING,
    TIANJIN,
    GeneratorParams,
    generate_history,
    haversine_km,
    park_coordinates,
)
from recommender.train import (
    TrainParams,
    enterprise_features,
    fit_text,
    profiles,
    score_matrix,
    train_matcher,
)

ROOT = Path(__file__).resolve().parents[1]


# -- baselines --------------------------------------------------------------------------------
def popularity_scores(train_inter: pd.DataFrame, park_ids: list[str], n_users: int) -> np.ndarray:
    pos = train_inter[train_inter["kind"].isin(POSITIVE_KINDS)]
    counts = pos["park_id"].value_counts()
    pop = np.array([counts.get(p, 0) for p in park_ids], dtype=float)
    return np.tile(pop, (n_users, 1))


class ConditionalLogit:
    """McFadden's conditional logit, U = β·x(e, p), fitted by maximum likelihood on the chosen park
    against a random sample of other parks (consistent for this model, McFadden 1978)."""

    FEATURES = (
        "content_fit",
        "log_popularity",
        "zone_focus",
        "distance_relocating",
        "national_or_base",
    )

    def __init__(self, n_alternatives: int = 30, seed: int = 0) -> None:
        self.n_alternatives = n_alternatives
        self.seed = seed

    def design(
        self, content: np.ndarray, zone_fit: np.ndarray, origins: list[str | None]
    ) -> np.ndarray:
        """(n_users, n_parks, n_features)."""
        n_users, n_parks = content.shape
        x = np.zeros((n_users, n_parks, len(self.FEATURES)))
        x[:, :, 0] = content
        x[:, :, 1] = self.log_pop_[None, :]
        x[:, :, 2] = zone_fit
        for u, o in enumerate(origins):
            if o in self.dist_:
                x[u, :, 3] = self.dist_[o]
        x[:, :, 4] = self.big_[None, :]
        return x

    def fit(
        self,
        kb: KnowledgeBase,
        train_inter: pd.DataFrame,
        content: np.ndarray,
        zone_fit: np.ndarray,
        origins: list[str | None],
        chosen: np.ndarray,
    ) -> ConditionalLogit:
        park_ids = [p.park_id for p in kb.parks]
        pos = train_inter[train_inter["kind"].isin(POSITIVE_KINDS)]
        counts = pos["park_id"].value_counts()
        self.log_pop_ = np.log1p(np.array([counts.get(p, 0) for p in park_ids], dtype=float))
        coords = park_coordinates(kb, kb.parks)
        self.dist_ = {
            o: haversine_km(pt, coords) / 100.0 for o, pt in (("北京", BEIJING), ("天津", TIANJIN))
        }
        self.big_ = np.array(
            [p.kind in ("devzone_national", "base", "demonstration") for p in kb.parks], float
        )
        x = self.design(content, zone_fit, origins)
        rng = np.random.default_rng(self.seed)
        n_users, n_parks = content.shape
        alts = np.zeros((n_users, self.n_alternatives + 1), dtype=int)
        alts[:, 0] = chosen
        for u in range(n_users):
            others = rng.choice(n_parks - 1, size=self.n_alternatives, replace=False)
            others[others >= chosen[u]] += 1
            alts[u, 1:] = others
        xs = x[np.arange(n_users)[:, None], alts]  # (n_users, 1 + n_alt, n_features)

        def nll(beta: np.ndarray) -> tuple[float, np.ndarray]:
            v = xs @ beta
            v = v - v.max(axis=1, keepdims=True)
            p = np.exp(v)
            p /= p.sum(axis=1, keepdims=True)
            ll = np.log(p[:, 0] + 1e-300).sum()
            grad = (xs[:, 0, :] - (p[:, :, None] * xs).sum(axis=1)).sum(axis=0)
            return -ll, -grad

        res = optimize.minimize(nll, np.zeros(len(self.FEATURES)), jac=True, method="L-BFGS-B")
        self.coef_ = res.x
        return self

    def scores(
        self, content: np.ndarray, zone_fit: np.ndarray, origins: list[str | None]
    ) -> np.ndarray:
        return self.design(content, zone_fit, origins) @ self.coef_


# -- the evaluation ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalConfig:
    n_enterprises: int = 20_000
    test_share: float = 0.2
    validation_share: float = 0.15
    seed: int = 7
    epochs: int = 30
    # Weight α of the learned part against the content part, chosen on validation. The policy part
    # is the province's rules, not a free parameter: its weight stays 1 (rules carry their own).
    alpha_grid: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0)


def _content_arrays(
    content: ContentScorer, profs: list
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sigs = [content.score(p) for p in profs]
    park = np.vstack([s.park_scores + s.park_bonus for s in sigs])
    zone = np.vstack([s.zone_fit[content.park_zone] for s in sigs])
    return park, zone, np.array([0])


def evaluate_split(
    kb: KnowledgeBase, split: Split, cfg: EvalConfig, log: Callable[[str], None]
) -> dict[str, Any]:
    park_ids = [p.park_id for p in kb.parks]
    text = fit_text(kb)
    content = ContentScorer(kb, text)
    train_prof = profiles(split.train_ents)
    test_prof = profiles(split.test_ents)
    t0 = time.perf_counter()
    train_feats = enterprise_features(content, train_prof)
    log(
        f"[{split.name}] features of {len(train_prof)} training enterprises: {time.perf_counter() - t0:.1f}s"
    )
    rel = relevance(split.test_ents, split.test_inter, park_ids)
    models: dict[str, dict[str, float]] = {}

    models["popularity"] = ranking_metrics(
        popularity_scores(split.train_inter, park_ids, len(test_prof)), rel
    )
    test_content, test_zone, _ = _content_arrays(content, test_prof)
    models["content"] = ranking_metrics(test_content, rel)

    params = TrainParams(epochs=cfg.epochs)
    t0 = time.perf_counter()
    no_feat = train_matcher(
        kb,
        split.train_ents,
        split.train_inter,
        params,
        text=text,
        user_feats=train_feats,
        use_user_features=False,
    )
    assert no_feat.collab is not None
    models["lightfm_no_features"] = ranking_metrics(
        no_feat.collab.score_known_users(list(split.test_ents["enterprise_id"])), rel
    )
    log(f"[{split.name}] lightfm_no_features: {time.perf_counter() - t0:.1f}s")

    # Conditional logit on the training enterprises' chosen parks.
    pos = split.train_inter[split.train_inter["kind"].isin(POSITIVE_KINDS)].drop_duplicates(
        "enterprise_id"
    )
    chosen_by = dict(zip(pos["enterprise_id"], pos["park_id"], strict=True))
    col = {p: j for j, p in enumerate(park_ids)}
    keep = [i for i, e in enumerate(split.train_ents["enterprise_id"]) if e in chosen_by]
    rng = np.random.default_rng(cfg.seed)
    keep = sorted(rng.choice(keep, size=min(len(keep), 6000), replace=False))
    cl_prof = [train_prof[i] for i in keep]
    cl_content, cl_zone, _ = _content_arrays(content, cl_prof)
    chosen = np.array([col[chosen_by[split.train_ents["enterprise_id"].iloc[i]]] for i in keep])
    cl = ConditionalLogit(seed=cfg.seed).fit(
        kb, split.train_inter, cl_content, cl_zone, [p.origin for p in cl_prof], chosen
    )
    models["conditional_logit"] = ranking_metrics(
        cl.scores(test_content, test_zone, [p.origin for p in test_prof]), rel
    )
    models["conditional_logit"]["coefficients"] = dict(
        zip(ConditionalLogit.FEATURES, map(float, cl.coef_), strict=True)
    )  # type: ignore[assignment]

    # Hybrid: weights chosen on validation enterprises carved out of the training split.
    val = cold_start_split(split.train_ents, split.train_inter, cfg.validation_share, cfg.seed + 1)
    inner_ids = set(val.train_ents["enterprise_id"])
    val_idx = [i for i, e in enumerate(split.train_ents["enterprise_id"]) if e in inner_ids]
    t0 = time.perf_counter()
    inner = train_matcher(
        kb,
        val.train_ents,
        val.train_inter,
        params,
        text=text,
        user_feats=[train_feats[i] for i in val_idx],
    )
    val_prof = profiles(val.test_ents)
    val_rel = relevance(val.test_ents, val.test_inter, park_ids)
    # Score each validation enterprise once with unit weights; each grid point only reweights.
    inner.weights = HybridWeights(content=1.0, collaborative=1.0, policy=1.0)
    parts = [inner.score(p) for p in val_prof]
    content_m = np.vstack([s.content for s in parts])
    collab_m = np.vstack([s.collaborative for s in parts])
    policy_m = np.vstack([s.policy.adjustment for s in parts])
    excluded = ~np.isfinite(np.vstack([s.final for s in parts]))
    # score = (1 − α)·content + α·collaborative + policy: α mixes the two fits, both on 0–1, and
    # the policy's rule weights keep their meaning on that scale.
    grid = []
    for alpha in cfg.alpha_grid:
        final = (1 - alpha) * content_m + alpha * collab_m + policy_m
        m = ranking_metrics(np.where(excluded, -1e9, final), val_rel)
        grid.append({"alpha": alpha, "ndcg@10": m["ndcg@10"]})
    best = max(grid, key=lambda g: g["ndcg@10"])
    weights = HybridWeights(
        content=round(1 - best["alpha"], 6), collaborative=best["alpha"], policy=1.0
    )
    log(f"[{split.name}] validation grid: {time.perf_counter() - t0:.1f}s, best {best}")
    t0 = time.perf_counter()
    hybrid = train_matcher(
        kb,
        split.train_ents,
        split.train_inter,
        replace(params, weights=weights),
        text=text,
        user_feats=train_feats,
    )
    log(f"[{split.name}] hybrid training: {time.perf_counter() - t0:.1f}s")
    models["hybrid"] = ranking_metrics(score_matrix(hybrid, test_prof), rel)
    models["lightfm_features_only"] = ranking_metrics(
        hybrid.collab.score_users([f for f in enterprise_features(content, test_prof)]),  # type: ignore[union-attr]
        rel,
    )
    return {
        "train_enterprises": len(split.train_ents),
        "test_enterprises": len(split.test_ents),
        "weights": asdict(weights),
        "validation_grid": grid,
        "models": models,
    }


def write_reports(result: dict[str, Any], out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "eval.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    history = result.get("history")
    lines = [
        "# Offline evaluation",
        "",
        f"Generated by `make eval` ({result['generated_at']}); "
        + (
            f"history: {history['enterprises']} synthetic enterprises, "
            f"{history['interactions']} interactions, seed {history['seed']}."
            if history
            else "the synthetic splits have not been run (plain `make eval` runs them)."
        ),
        "",
    ]
    metrics = [
        "ndcg@1",
        "ndcg@5",
        "ndcg@10",
        "precision@1",
        "precision@5",
        "precision@10",
        "recall@5",
        "recall@10",
        "auc",
        "coverage@10",
    ]
    for name, split in result["splits"].items():
        if name == "realworld":
            lines += [evaluate_realworld.summary_markdown(split), ""]
            continue
        if name == "registry":  # its own metrics (city@k, county@k); see evaluate_registry
            lines += registry_markdown(split, result.get("registry_source", ""))
            continue
        lines += [
            f"## Split: {name}",
            "",
            f"{split['train_enterprises']} training, {split['test_enterprises']} test enterprises "
            "(all test enterprises unseen in training). Hybrid weights chosen on validation: "
            f"{split['weights']}.",
            "",
            "| model | " + " | ".join(metrics) + " |",
            "|---|" + "---|" * len(metrics),
        ]
        for model, m in split["models"].items():
            lines.append(f"| {model} | " + " | ".join(f"{m[k]:.4f}" for k in metrics) + " |")
        lines.append("")
    if "industry" in result:
        lines += [evaluate_industry.summary_markdown(result["industry"]), ""]
    if "draft_kb" in result:
        lines.append(draft_markdown(result["draft_kb"]))
    (out_dir / "eval.md").write_text("\n".join(lines), encoding="utf-8")


def main_registry(path: Path, out: Path) -> int:
    """`make eval REGISTRY=path`: the registry split, written into the existing reports."""
    kb = load_kb()
    firms = read_registry(path, kb)
    print(f"registry {path}: {firms.attrs.get('rows')} rows, {len(firms)} located firms")
    old = out / "eval.json"
    result: dict[str, Any] = (
        json.loads(old.read_text(encoding="utf-8"))
        if old.exists()
        else {"history": None, "splits": {}}
    )
    result["generated_at"] = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    result["registry_source"] = path.name
    result["splits"]["registry"] = evaluate_registry(kb, firms)
    write_reports(result, out)
    print("registry", result["splits"]["registry"]["models"])
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m recommender.evaluate", description=__doc__)
    ap.add_argument("--enterprises", type=int, default=EvalConfig.n_enterprises)
    ap.add_argument("--epochs", type=int, default=EvalConfig.epochs)
    ap.add_argument("--out", type=Path, default=ROOT / "reports")
    ap.add_argument(
        "--registry",
        type=Path,
        help="a registry export (.csv/.xlsx): run only the registry split, kept beside the others",
    )
    args = ap.parse_args(argv)
    if args.registry:
        return main_registry(args.registry, args.out)
    cfg = EvalConfig(n_enterprises=args.enterprises, epochs=args.epochs)
    kb = load_kb()
    t0 = time.perf_counter()
    gen = GeneratorParams(n_enterprises=cfg.n_enterprises)
    ents, inter = generate_history(kb, gen)
    print(
        f"history: {len(ents)} enterprises, {len(inter)} interactions ({time.perf_counter() - t0:.1f}s)"
    )
    result: dict[str, Any] = {
        "generated_at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
        "history": {"enterprises": len(ents), "interactions": len(inter), "seed": gen.seed},
        "config": asdict(cfg),
        "splits": {},
    }
    for split in (
        cold_start_split(ents, inter, cfg.test_share, cfg.seed),
        time_split(ents, inter, cfg.test_share),
    ):
        result["splits"][split.name] = evaluate_split(kb, split, cfg, print)
    # Real enterprises whose place is known from public sources, against the matcher a fresh
    # install serves (content and policy with the industry classifier; nothing learned).
    result["splits"]["realworld"] = evaluate_realworld.evaluate(
        Matcher(kb, fit_text(kb), None, version="content-only", industry=industry_classifier()),
        log=print,
    )
    # The industry classifier is judged on held-out official phrases (reports/industry.md).
    result["industry"] = evaluate_industry.run(log=print)
    evaluate_industry.write_reports(result["industry"], args.out)
    result["draft_kb"] = evaluate_draft_kb()
    old = args.out / "eval.json"
    if old.exists():  # the registry split of an earlier `make eval REGISTRY=…` stays
        earlier = json.loads(old.read_text(encoding="utf-8"))
        if "registry" in earlier.get("splits", {}):
            result["splits"]["registry"] = earlier["splits"]["registry"]
            result["registry_source"] = earlier.get("registry_source", "")
    write_reports(result, args.out)
    for name, split in result["splits"].items():
        key = {"realworld": "city@3", "registry": "city@3"}.get(name, "ndcg@10")
        print(name, {m: round(v.get(key, float("nan")), 4) for m, v in split["models"].items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
