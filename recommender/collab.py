"""The learned part: LightFM over enterprise (user) and park (item) features.

Enterprises carry no identity feature when `use_user_features` is on, so a new enterprise is scored
exactly like a training one: through its features. Scoring uses precomputed item representations
and numpy rather than `LightFM.predict`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from lightfm import LightFM
from lightfm.data import Dataset
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_is_fitted

Features = Sequence[tuple[str, float]]


@dataclass(frozen=True)
class PairContribution:
    user_feature: str
    item_feature: str
    value: float


def interaction_matrices(
    ds: Dataset, triples: Sequence[tuple[str, str, float]]
) -> tuple[sparse.coo_matrix, sparse.coo_matrix]:
    """`Dataset.build_interactions` of (user, item, weight) triples without its per-triple Python
    calls (a million interactions): the same (n_users, n_items) COO matrices, entries in the same
    order, int32 ones and float32 weights."""
    umap, _, imap, _ = ds.mapping()
    n = len(triples)
    try:
        rows = np.fromiter((umap[u] for u, _, _ in triples), dtype=np.int32, count=n)
    except KeyError as exc:
        raise ValueError(f"User id {exc.args[0]} not in user id mapping.") from None
    try:
        cols = np.fromiter((imap[i] for _, i, _ in triples), dtype=np.int32, count=n)
    except KeyError as exc:
        raise ValueError(f"Item id {exc.args[0]} not in item id mapping.") from None
    w = np.fromiter((w for _, _, w in triples), dtype=np.float32, count=n)
    shape = ds.interactions_shape()
    ones = sparse.coo_matrix((np.ones(n, dtype=np.int32), (rows, cols)), shape=shape)
    return ones, sparse.coo_matrix((w, (rows, cols)), shape=shape)


def user_feature_matrix(
    ds: Dataset, user_ids: Sequence[str], user_features: Sequence[Features]
) -> sparse.csr_matrix:
    """`Dataset.build_user_features` of users without identity features, each given as
    (name, weight) pairs (a repeated name keeps its last weight, as a dict would), built from
    arrays: the same CSR matrix, rows normalised to sum 1."""
    umap, ufmap = ds.mapping()[0], ds.mapping()[1]
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for uid, feats in zip(user_ids, user_features, strict=True):
        row = dict(feats)
        rows.extend([umap[uid]] * len(row))
        try:
            cols.extend([ufmap[f] for f in row])
        except KeyError as exc:
            raise ValueError(f"Feature {exc.args[0]} not in feature mapping.") from None
        vals.extend(row.values())
    shape = ds.user_features_shape()
    m = sparse.coo_matrix(
        (
            np.asarray(vals, dtype=np.float32),
            (np.asarray(rows, dtype=np.int32), np.asarray(cols, dtype=np.int32)),
        ),
        shape=shape,
    ).tocsr()
    if np.any(m.getnnz(1) == 0):
        raise ValueError("Cannot normalize feature matrix: some rows have zero norm.")
    normalize(m, norm="l1", copy=False)
    return m


class CollaborativeModel(BaseEstimator):
    """LightFM wrapper keeping the `Dataset` id ↔ index mappings.

    Parameters
    ----------
    no_components : int
        Embedding size.
    loss : str
        LightFM loss ('warp' ranks the chosen park above sampled others).
    epochs : int
    learning_rate : float
    item_alpha, user_alpha : float
        L2 penalties on the feature embeddings.
    use_user_features, use_item_features : bool
        Off for the pure collaborative baseline (identity features only).
    num_threads : int
        1 makes training repeatable.
    random_state : int
    """

    def __init__(
        self,
        no_components: int = 32,
        loss: str = "warp",
        epochs: int = 30,
        learning_rate: float = 0.05,
        item_alpha: float = 1e-6,
        user_alpha: float = 1e-6,
        use_user_features: bool = True,
        use_item_features: bool = True,
        num_threads: int = 1,
        random_state: int = 0,
    ) -> None:
        self.no_components = no_components
        self.loss = loss
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.item_alpha = item_alpha
        self.user_alpha = user_alpha
        self.use_user_features = use_user_features
        self.use_item_features = use_item_features
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(
        self,
        user_ids: Sequence[str],
        user_features: Sequence[Features],
        item_ids: Sequence[str],
        item_features: Sequence[Features],
        interactions: Sequence[tuple[str, str, float]],
        progress: Callable[[float], None] | None = None,
    ) -> CollaborativeModel:
        """Train on (user_id, item_id, weight) triples; features are (name, weight) lists.

        `progress`, if given, is called with the share of epochs done after each epoch.
        """
        ds = Dataset(user_identity_features=not self.use_user_features, item_identity_features=True)
        ufeat = sorted({f for fs in user_features for f, _ in fs}) if self.use_user_features else []
        ifeat = sorted({f for fs in item_features for f, _ in fs}) if self.use_item_features else []
        ds.fit(users=user_ids, items=item_ids, user_features=ufeat, item_features=ifeat)
        inter, weights = interaction_matrices(ds, interactions)
        # Dataset takes {feature: weight} per entity and normalises each row to sum 1.
        umat = (
            user_feature_matrix(ds, user_ids, user_features)
            if self.use_user_features
            else ds.build_user_features((u, {}) for u in user_ids)
        )
        imat = ds.build_item_features(
            zip(item_ids, [dict(f) for f in item_features], strict=True)
            if self.use_item_features
            else ((i, {}) for i in item_ids)
        )
        model = LightFM(
            no_components=self.no_components,
            loss=self.loss,
            learning_rate=self.learning_rate,
            item_alpha=self.item_alpha,
            user_alpha=self.user_alpha,
            random_state=self.random_state,
        )
        kwargs = dict(
            user_features=umat,
            item_features=imat,
            sample_weight=weights,
            num_threads=self.num_threads,
        )
        model.fit(inter, epochs=1, **kwargs)
        for epoch in range(1, self.epochs):
            if progress:
                progress(epoch / self.epochs)
            model.fit_partial(inter, epochs=1, **kwargs)
        if progress:
            progress(1.0)
        self.model_ = model
        self.dataset_ = ds
        self.item_ids_ = list(item_ids)
        self.user_feature_map_ = ds.mapping()[1]
        self.item_feature_map_ = ds.mapping()[3]
        self.item_feature_names_ = {v: k for k, v in self.item_feature_map_.items()}
        self.user_feature_names_ = {v: k for k, v in self.user_feature_map_.items()}
        self.item_features_ = imat.tocsr()
        self._precompute()
        return self

    def _precompute(self) -> None:
        self.item_biases_, self.item_repr_ = self.represent_items(self.item_features_)

    def user_vector(self, features: Features) -> sparse.csr_matrix:
        """One user's feature row, normalised to sum 1 as `Dataset.build_user_features` does."""
        check_is_fitted(self, "model_")
        cols, vals = [], []
        for name, w in features:
            j = self.user_feature_map_.get(name)
            if j is not None and w:
                cols.append(j)
                vals.append(w)
        n = len(self.user_feature_map_)
        # Built from sorted, summed columns rather than through COO and a sparse division: a
        # request builds this row for each park it explains, and that route cost ~0.4 ms a call.
        # The values are the same: float32 sums, then float64 times the float32 1/total.
        idx, inv = np.unique(np.asarray(cols, dtype=np.int32), return_inverse=True)
        data = np.zeros(len(idx), dtype=np.float32)
        np.add.at(data, inv, np.asarray(vals, dtype=np.float32))
        indptr = np.array([0, len(idx)], dtype=np.int32)
        total = data.sum()
        if total:
            data = data.astype(np.float64) * (1 / total)
        return sparse.csr_matrix((data, idx.astype(np.int32), indptr), shape=(1, n))

    def item_rows(self, item_ids: Sequence[str], features: Sequence[Features]) -> sparse.csr_matrix:
        """Item feature rows for a catalogue: a park seen in training keeps its training row
        (identity feature included); an unseen one is represented by its features alone."""
        check_is_fitted(self, "model_")
        known = self.dataset_.mapping()[2]
        n_feat = len(self.item_feature_map_)
        rows = []
        for pid, feats in zip(item_ids, features, strict=True):
            if pid in known:
                rows.append(self.item_features_[known[pid]])
                continue
            cols, vals = [], []
            for name, w in feats:
                j = self.item_feature_map_.get(name)
                if j is not None and w:
                    cols.append(j)
                    vals.append(w)
            row = sparse.csr_matrix(
                (vals, ([0] * len(cols), cols)), shape=(1, n_feat), dtype=np.float32
            )
            total = row.sum()
            rows.append(row / total if total else row)
        return (
            sparse.vstack(rows).tocsr()
            if rows
            else sparse.csr_matrix((0, n_feat), dtype=np.float32)
        )

    def represent_items(self, rows: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
        """(biases (n,), representations (n, no_components)) of item feature rows."""
        biases, reprs = self.model_.get_item_representations(rows)
        return biases.astype(np.float32), reprs.astype(np.float32)

    def user_representation(
        self, features: Features, user_row: sparse.csr_matrix | None = None
    ) -> np.ndarray:
        """A user's latent vector from its features (the user bias is the same for every item);
        `user_row` is `user_vector(features)` when the caller already has it."""
        row = user_row if user_row is not None else self.user_vector(features)
        return np.asarray(row @ self.model_.user_embeddings).ravel()

    def score_users(self, features: Sequence[Features]) -> np.ndarray:
        """(n_users, n_items) scores for users given by features (new users welcome)."""
        check_is_fitted(self, "model_")
        rows = sparse.vstack([self.user_vector(f) for f in features]).tocsr()
        u = rows @ self.model_.user_embeddings
        return (np.asarray(u) @ self.item_repr_.T + self.item_biases_[None, :]).astype(np.float32)

    def score_known_users(self, user_ids: Sequence[str]) -> np.ndarray:
        """Scores of training users by identity (the no-features baseline); unknown users get biases."""
        check_is_fitted(self, "model_")
        umap = self.dataset_.mapping()[0]
        out = np.tile(self.item_biases_, (len(user_ids), 1))
        emb = self.model_.user_embeddings
        for r, uid in enumerate(user_ids):
            if uid in umap:
                out[r] += self.item_repr_ @ emb[umap[uid]]
        return out

    def explain(
        self,
        features: Features,
        item_row: sparse.csr_matrix,
        k: int = 3,
        *,
        user_row: sparse.csr_matrix | None = None,
    ) -> list[PairContribution]:
        """The (user feature, item feature) pairs whose embedding products add most to a score.

        A LightFM score is (Σ_i x_i e_i) · (Σ_j y_j f_j) + biases, so the pair (i, j) contributes
        x_i y_j (e_i · f_j).
        """
        check_is_fitted(self, "model_")
        # `user_row`: `user_vector(features)` computed once for all the parks a request explains.
        u = user_row if user_row is not None else self.user_vector(features)
        ui, uw = u.indices, u.data
        ij, iw = item_row.indices, item_row.data
        if not len(ui) or not len(ij):
            return []
        e = self.model_.user_embeddings[ui]
        f = self.model_.item_embeddings[ij]
        contrib = (e @ f.T) * uw[:, None] * iw[None, :]
        flat = np.argsort(-contrib, axis=None)[:k]
        out = []
        for idx in flat:
            a, b = np.unravel_index(idx, contrib.shape)
            if contrib[a, b] <= 0:
                break
            out.append(
                PairContribution(
                    self.user_feature_names_[int(ui[a])],
                    self.item_feature_names_[int(ij[b])],
                    float(contrib[a, b]),
                )
            )
        return out
