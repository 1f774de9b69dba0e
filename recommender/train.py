"""Training: enterprises and interactions (DataFrames) → a fitted `Matcher`."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from features.enterprise import EnterpriseProfile, profile_from
from features.history import KIND_WEIGHTS
from features.kb import KnowledgeBase
from features.text import SegmentTextFeaturizer
from recommender.bundle import industry_classifier
from recommender.collab import CollaborativeModel
from recommender.content import ContentScorer
from recommender.hybrid import HybridWeights, Matcher, item_features
from recommender.metrics import Split, ranking_metrics, relevance
from recommender.pool import segment_scores, user_feature_lists
from recommender.registry import RegistryIndex, clean_scope

# The registry term's weight when a registry is imported (the kNN county support is 0–1, like the
# squashed LightFM preference). On the generated fixture `make eval REGISTRY=…` picks 1–4 on
# validation firms (city@3 0.77 at 1, 0.79 at 4); 1 keeps the policy rules and content audible.
REGISTRY_WEIGHT = 1.0


@dataclass(frozen=True)
class TrainParams:
    no_components: int = 32
    epochs: int = 30
    learning_rate: float = 0.05
    loss: str = "warp"
    num_threads: int = 1
    random_state: int = 0
    weights: HybridWeights = field(default_factory=HybridWeights)


def profiles(enterprises: pd.DataFrame) -> list[EnterpriseProfile]:
    """A frame's rows as profiles, through the one converter (`features.enterprise.profile_from`)."""
    return [profile_from(r) for r in enterprises.to_dict("records")]


# Below this many enterprises, starting worker processes (each unpickles the content scorer and its
# industry classifier, a few seconds) costs more than it saves.
PARALLEL_MIN_ENTERPRISES = 20_000
_WORKER_CONTENT: ContentScorer | None = None


def _init_worker(content: ContentScorer) -> None:
    global _WORKER_CONTENT
    _WORKER_CONTENT = content


def _features_part(profs: list[EnterpriseProfile]) -> list[list[tuple[str, float]]]:
    assert _WORKER_CONTENT is not None
    return user_feature_lists(_WORKER_CONTENT, profs)


def enterprise_features(
    content: ContentScorer, profs: Sequence[EnterpriseProfile], workers: int | None = None
) -> list[list[tuple[str, float]]]:
    """LightFM user features of many enterprises, batched (equal to `hybrid.user_features`).

    Each enterprise's features depend on it alone, so a large batch is split over `workers`
    processes (default: the cores this process may use) and the parts joined in order. Most of the
    time goes to reading texts (the industry classifier, jieba, TF-IDF), pure Python that threads
    would serialise. Workers come from a fork server, not a fork of this process, which may be the
    service with its threads and their locks."""
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if workers < 2 or len(profs) < PARALLEL_MIN_ENTERPRISES:
        return user_feature_lists(content, profs)
    step = -(-len(profs) // workers)
    parts = [list(profs[a : a + step]) for a in range(0, len(profs), step)]
    with ProcessPoolExecutor(
        len(parts),
        mp_context=multiprocessing.get_context("forkserver"),
        initializer=_init_worker,
        initargs=(content,),
    ) as pool:
        return [f for part in pool.map(_features_part, parts) for f in part]


def interaction_triples(interactions: pd.DataFrame) -> list[tuple[str, str, float]]:
    """(enterprise_id, park_id, weight): the strongest stage reached per pair; declines dropped."""
    df = interactions.assign(weight=interactions["kind"].map(KIND_WEIGHTS).fillna(0.0))
    df = df[df["weight"] > 0]
    best = df.groupby(["enterprise_id", "park_id"], sort=True)["weight"].max().reset_index()
    return list(best.itertuples(index=False, name=None))


def data_hash(enterprises: pd.DataFrame, interactions: pd.DataFrame) -> str:
    h = hashlib.sha256()
    h.update(
        pd.util.hash_pandas_object(
            enterprises[["enterprise_id", "description"]], index=False
        ).values.tobytes()
    )
    h.update(
        pd.util.hash_pandas_object(
            interactions[["enterprise_id", "park_id", "kind"]], index=False
        ).values.tobytes()
    )
    return h.hexdigest()[:16]


def fit_text(kb: KnowledgeBase) -> SegmentTextFeaturizer:
    return SegmentTextFeaturizer().fit(kb)


def train_matcher(
    kb: KnowledgeBase,
    enterprises: pd.DataFrame,
    interactions: pd.DataFrame,
    params: TrainParams | None = None,
    *,
    text: SegmentTextFeaturizer | None = None,
    industry: Any = None,
    user_feats: list[list[tuple[str, float]]] | None = None,
    use_user_features: bool = True,
    version: str = "dev",
    progress: Callable[[float], None] | None = None,
    registry_firms: pd.DataFrame | None = None,
    registry_source: str | None = None,
) -> Matcher:
    """Fit the text featuriser (unless given) and LightFM, and return the hybrid matcher.

    `registry_firms` (located registry firms, `store.firms.load_placements` columns): the firms to
    index for the registry term; their placements must already be among `enterprises` and
    `interactions` (see `registry.placement_history`)."""
    params = params or TrainParams()
    text = text or fit_text(kb)
    if industry is None:
        industry = industry_classifier()
    content = ContentScorer(kb, text, industry)
    registry = None
    weights = params.weights
    if registry_firms is not None and len(registry_firms) >= 2:
        registry = RegistryIndex().fit(registry_firms, registry_source)
        if not weights.registry:
            weights = replace(weights, registry=REGISTRY_WEIGHT)
        kept = registry_firms[registry_firms["scope"].fillna("").astype(str).str.strip() != ""]
        scopes = [clean_scope(str(t)) for t in kept["scope"]]
        firm_profiles = profiles(pd.DataFrame({"description": scopes}))
        registry.count_segments(segment_scores(content, firm_profiles))
    ids = [str(x) for x in enterprises["enterprise_id"]]
    if user_feats is None:
        user_feats = enterprise_features(content, profiles(enterprises))
    known = set(ids)
    triples = [t for t in interaction_triples(interactions) if t[0] in known]
    collab = CollaborativeModel(
        no_components=params.no_components,
        loss=params.loss,
        epochs=params.epochs,
        learning_rate=params.learning_rate,
        use_user_features=use_user_features,
        num_threads=params.num_threads,
        random_state=params.random_state,
    ).fit(
        ids,
        user_feats,
        [p.park_id for p in kb.parks],
        [item_features(p) for p in kb.parks],
        triples,
        progress=progress,
    )
    return Matcher(kb, text, collab, weights, version=version, registry=registry, industry=industry)


def score_matrix(
    matcher: Matcher, profs: Sequence[EnterpriseProfile], *, use_policy: bool = True
) -> np.ndarray:
    """(n_enterprises, n_parks) final scores; excluded parks rank last."""
    out = np.vstack([matcher.score(p, use_policy=use_policy).final for p in profs])
    return np.where(np.isfinite(out), out, -1e9)


def holdout_mask(enterprise_ids: pd.Series, share: float = 0.1) -> np.ndarray:
    """Held-out enterprises by a stable hash of their id, so that every retraining holds out the
    same enterprises and a model is never compared on enterprises it was trained on."""
    buckets = enterprise_ids.astype(str).map(
        lambda e: int(hashlib.sha1(e.encode()).hexdigest()[:8], 16) % 1000
    )
    return (buckets < int(share * 1000)).to_numpy()


def holdout_split(
    enterprises: pd.DataFrame, interactions: pd.DataFrame, share: float = 0.1
) -> Split:
    mask = holdout_mask(enterprises["enterprise_id"], share)
    test_ids = set(enterprises.loc[mask, "enterprise_id"])
    mask_i = interactions["enterprise_id"].isin(test_ids).to_numpy()
    return Split(
        "holdout",
        enterprises[~mask],
        interactions[~mask_i],
        enterprises[mask],
        interactions[mask_i],
    )


def evaluate_on(matcher: Matcher, split: Split) -> dict[str, float]:
    """Cold-start metrics of `matcher` on the split's held-out enterprises."""
    rel = relevance(split.test_ents, split.test_inter, [p.park_id for p in matcher.parks])
    return ranking_metrics(score_matrix(matcher, profiles(split.test_ents)), rel)


def train_with_holdout(
    kb: KnowledgeBase,
    enterprises: pd.DataFrame,
    interactions: pd.DataFrame,
    params: TrainParams | None = None,
    *,
    holdout_share: float = 0.1,
    version: str = "dev",
    progress: Callable[[float], None] | None = None,
) -> tuple[Matcher, dict[str, float]]:
    """Train on all but the held-out enterprises (see `holdout_mask`) and score the model on those."""
    split = holdout_split(enterprises, interactions, holdout_share)
    matcher = train_matcher(
        kb, split.train_ents, split.train_inter, params, version=version, progress=progress
    )
    return matcher, evaluate_on(matcher, split)
