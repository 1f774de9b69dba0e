"""Ranking metrics and train/test splits shared by training and the offline evaluation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from features.history import POSITIVE_KINDS

KS = (1, 5, 10)


# -- metrics ----------------------------------------------------------------------------------
def ranking_metrics(
    scores: np.ndarray, relevant: sparse.csr_matrix, ks: tuple[int, ...] = KS
) -> dict[str, float]:
    """Mean precision@k, recall@k, NDCG@k (binary gains) and AUC over users with ≥1 relevant item,
    plus catalogue coverage@10 (share of items in anyone's top 10).

    scores : (n_users, n_items); relevant : (n_users, n_items), nonzero = relevant.
    """
    relevant = sparse.csr_matrix(relevant)
    n_users, n_items = scores.shape
    order = np.argsort(-scores, axis=1, kind="stable")
    out: dict[str, list[float]] = {
        f"{m}@{k}": [] for m in ("precision", "recall", "ndcg") for k in ks
    }
    out["auc"] = []
    discounts = 1.0 / np.log2(np.arange(2, n_items + 2))
    for u in range(n_users):
        rel = relevant.indices[relevant.indptr[u] : relevant.indptr[u + 1]]
        if len(rel) == 0:
            continue
        is_rel = np.zeros(n_items, dtype=bool)
        is_rel[rel] = True
        ranked = is_rel[order[u]]
        for k in ks:
            hits = ranked[:k].sum()
            out[f"precision@{k}"].append(hits / k)
            out[f"recall@{k}"].append(hits / len(rel))
            ideal = discounts[: min(k, len(rel))].sum()
            out[f"ndcg@{k}"].append(float((ranked[:k] * discounts[:k]).sum() / ideal))
        n_pos, n_neg = len(rel), n_items - len(rel)
        if n_neg:
            # AUC = P(score(pos) > score(neg)), from the ranks of the positives.
            ranks = np.empty(n_items)
            ranks[order[u]] = np.arange(n_items, 0, -1)
            out["auc"].append(float((ranks[rel].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)))
    result = {k: float(np.mean(v)) if v else 0.0 for k, v in out.items()}
    top = order[:, :10]
    result["coverage@10"] = float(len(np.unique(top)) / n_items)
    result["users"] = float(len(out["auc"]))
    return result


# -- splits -----------------------------------------------------------------------------------
@dataclass
class Split:
    name: str
    train_ents: pd.DataFrame
    train_inter: pd.DataFrame
    test_ents: pd.DataFrame
    test_inter: pd.DataFrame


def cold_start_split(
    ents: pd.DataFrame, inter: pd.DataFrame, test_share: float, seed: int
) -> Split:
    rng = np.random.default_rng(seed)
    ids = ents["enterprise_id"].to_numpy()
    test = set(rng.choice(ids, size=int(len(ids) * test_share), replace=False))
    mask_e = ents["enterprise_id"].isin(test)
    mask_i = inter["enterprise_id"].isin(test)
    return Split("cold_start", ents[~mask_e], inter[~mask_i], ents[mask_e], inter[mask_i])


def time_split(ents: pd.DataFrame, inter: pd.DataFrame, test_share: float) -> Split:
    cutoff = ents["created_at"].quantile(1 - test_share)
    mask_e = ents["created_at"] >= cutoff
    test = set(ents.loc[mask_e, "enterprise_id"])
    mask_i = inter["enterprise_id"].isin(test)
    return Split("time", ents[~mask_e], inter[~mask_i], ents[mask_e], inter[mask_i])


def relevance(
    test_ents: pd.DataFrame, test_inter: pd.DataFrame, park_ids: list[str]
) -> sparse.csr_matrix:
    row = {e: i for i, e in enumerate(test_ents["enterprise_id"])}
    col = {p: j for j, p in enumerate(park_ids)}
    pos = test_inter[test_inter["kind"].isin(POSITIVE_KINDS)]
    r = [row[e] for e in pos["enterprise_id"]]
    c = [col[p] for p in pos["park_id"]]
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(len(row), len(col)))
