"""Pool-scale scoring: many enterprises against the parks with numpy, equal to
`Matcher.score(profile).final` for each of them (a lead list for one park over millions).

`PoolScorer.index` does the per-enterprise work once (text fit, keyword hits, the LightFM user
vector, the rule conditions that depend on the enterprise alone) and keeps it as arrays in a
`PoolIndex`; `scores_for_park` and `scores_for_enterprises` are then numpy over those arrays.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse

from features.enterprise import EnterpriseProfile, numeric_features
from features.kb import RuleWhen
from features.text import normalize
from recommender.content import CODE_PRIOR, ContentScorer, park_content
from recommender.hybrid import Matcher, features_from_scores
from recommender.rules import CHAIN_MIN_FIT, CHAIN_RELATIVE_FIT, PolicyEngine, activity

# The RuleWhen conditions `_conditions` evaluates with arrays; a rule file using any other
# condition is evaluated enterprise by enterprise with `PolicyEngine.enterprise_matches`.
PARK_SIDE = frozenset({"zone_ids", "park_kinds", "park_ids", "park_chains", "park_not_chains"})
ENTERPRISE_SIDE = frozenset(
    {
        "enterprise_chains",
        "enterprise_not_chains",
        "enterprise_terms",
        "enterprise_not_terms",
        "origins",
        "min_energy_tce",
        "min_rd_intensity",
        "min_investment_wan",
        "min_land_mu",
        "enterprise_activities",
    }
)
THRESHOLDS = {
    "min_energy_tce": "energy_tce",
    "min_rd_intensity": "rd_intensity",
    "min_investment_wan": "investment_wan",
    "min_land_mu": "land_mu",
}
INDEX_CHUNK = 20_000  # enterprises featurised at once (bounds the TF-IDF intermediates)
BLOCK_CELLS = 4_000_000  # enterprise × park × segment products held at once


@dataclass
class PoolIndex:
    """What the scores need of each enterprise of a pool; row i is enterprise `enterprise_ids[i]`.

    Attributes
    ----------
    enterprise_ids : (n,) str
    segment : (n, n_segments) float32
        Segment fit after the industry-code prior (`ContentSignals.segment_scores`).
    zone_fit : (n, n_zones) float32
    keyword_hits : (n, n_keywords) sparse 0/1
        The catalogue's park product words found in the text; the scorer's (n_keywords, n_parks)
        incidence turns it into the per-park hit counts of the keyword bonus.
    latent : (n, no_components) float32, or None without a collaborative model
        The LightFM user vector (`CollaborativeModel.user_representation`).
    collab_mean, collab_std : (n,) float64
        Mean and standard deviation of the enterprise's raw LightFM scores over all parks, which
        the per-request z-score squash uses.
    conditions : (n, n_rules) bool
        Whether each rule's enterprise-side conditions hold (`PolicyEngine.enterprise_matches`).
    classes : (n, n_classes) sparse float32
        The GB/T class distribution (`ContentScorer.class_distribution`); no columns without an
        industry classifier.
    fingerprint : str
        Model version and catalogue the index was built for; a scorer refuses any other.
    """

    enterprise_ids: np.ndarray
    segment: np.ndarray
    zone_fit: np.ndarray
    keyword_hits: sparse.csr_matrix
    latent: np.ndarray | None
    collab_mean: np.ndarray
    collab_std: np.ndarray
    conditions: np.ndarray
    fingerprint: str
    classes: sparse.csr_matrix | None = None
    # (n, n_counties) registry county support share (`RegistryIndex.shares`); None without one
    registry: sparse.csr_matrix | None = None

    def __len__(self) -> int:
        return len(self.enterprise_ids)

    @property
    def nbytes(self) -> int:
        kw = self.keyword_hits
        arrays = [self.segment, self.zone_fit, self.collab_mean, self.collab_std, self.conditions]
        for m in (kw, self.class_matrix):
            arrays += [m.data, m.indices, m.indptr]
        arrays += [self.latent] if self.latent is not None else []
        return int(sum(a.nbytes for a in arrays))

    @staticmethod
    def concat(parts: Sequence[PoolIndex]) -> PoolIndex:
        if not parts:
            raise ValueError("没有可合并的索引")
        if len({p.fingerprint for p in parts}) > 1:
            raise ValueError("索引来自不同的模型或园区目录，不能合并")
        first = parts[0]
        return PoolIndex(
            enterprise_ids=np.concatenate([p.enterprise_ids for p in parts]),
            segment=np.concatenate([p.segment for p in parts]),
            zone_fit=np.concatenate([p.zone_fit for p in parts]),
            keyword_hits=sparse.vstack([p.keyword_hits for p in parts]).tocsr(),
            latent=None if first.latent is None else np.concatenate([p.latent for p in parts]),  # type: ignore[misc]
            collab_mean=np.concatenate([p.collab_mean for p in parts]),
            collab_std=np.concatenate([p.collab_std for p in parts]),
            conditions=np.concatenate([p.conditions for p in parts]),
            fingerprint=first.fingerprint,
            classes=sparse.vstack([p.class_matrix for p in parts]).tocsr(),
            registry=None
            if first.registry is None
            else sparse.vstack([p.registry for p in parts]).tocsr(),
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> PoolIndex:
        """The index of the given rows, in that order (a pool index is edited by taking rows and
        concatenating freshly indexed ones, never by re-indexing the whole pool)."""
        r = np.asarray(rows, dtype=np.intp)
        return PoolIndex(
            enterprise_ids=self.enterprise_ids[r],
            segment=self.segment[r],
            zone_fit=self.zone_fit[r],
            keyword_hits=self.keyword_hits[r],
            latent=None if self.latent is None else self.latent[r],
            collab_mean=self.collab_mean[r],
            collab_std=self.collab_std[r],
            conditions=self.conditions[r],
            fingerprint=self.fingerprint,
            classes=self.class_matrix[r],
            registry=None if self.registry is None else self.registry[r],
        )

    @property
    def class_matrix(self) -> sparse.csr_matrix:
        if self.classes is None:
            return sparse.csr_matrix((len(self.enterprise_ids), 0), dtype=np.float32)
        return self.classes

    def save(self, path: Path | str) -> Path:
        """Write the index as one uncompressed `.npz` (loads without unpickling anything)."""
        path = Path(path)
        kw = self.keyword_hits
        arrays: dict[str, np.ndarray] = dict(
            enterprise_ids=self.enterprise_ids.astype(str),
            segment=self.segment,
            zone_fit=self.zone_fit,
            kw_data=kw.data,
            kw_indices=kw.indices,
            kw_indptr=kw.indptr,
            kw_shape=np.array(kw.shape),
            latent=self.latent if self.latent is not None else np.zeros((0, 0), np.float32),
            has_latent=np.array(self.latent is not None),
            collab_mean=self.collab_mean,
            collab_std=self.collab_std,
            conditions=self.conditions,
            fingerprint=np.array(self.fingerprint),
            cls_data=self.class_matrix.data,
            cls_indices=self.class_matrix.indices,
            cls_indptr=self.class_matrix.indptr,
            cls_shape=np.array(self.class_matrix.shape),
            **_sparse_arrays("registry", self.registry),
        )
        np.savez(path, **arrays)  # type: ignore[arg-type]
        return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")

    @staticmethod
    def load(path: Path | str) -> PoolIndex:
        with np.load(path, allow_pickle=False) as z:
            shape = tuple(int(x) for x in z["kw_shape"])
            return PoolIndex(
                enterprise_ids=z["enterprise_ids"],
                segment=z["segment"],
                zone_fit=z["zone_fit"],
                keyword_hits=sparse.csr_matrix(
                    (z["kw_data"], z["kw_indices"], z["kw_indptr"]), shape=shape
                ),
                latent=z["latent"] if bool(z["has_latent"]) else None,
                collab_mean=z["collab_mean"],
                collab_std=z["collab_std"],
                conditions=z["conditions"],
                fingerprint=str(z["fingerprint"]),
                classes=sparse.csr_matrix(
                    (z["cls_data"], z["cls_indices"], z["cls_indptr"]),
                    shape=tuple(int(x) for x in z["cls_shape"]),
                ),
                registry=sparse.csr_matrix(
                    (z["registry_data"], z["registry_indices"], z["registry_indptr"]),
                    shape=tuple(int(x) for x in z["registry_shape"]),
                )
                if "registry_data" in z
                else None,
            )


def _sparse_arrays(name: str, m: sparse.csr_matrix | None) -> dict[str, np.ndarray]:
    """A CSR matrix as plain `.npz` arrays (none for None)."""
    if m is None:
        return {}
    return {
        f"{name}_data": m.data,
        f"{name}_indices": m.indices,
        f"{name}_indptr": m.indptr,
        f"{name}_shape": np.array(m.shape),
    }


def segment_text_scores(content: ContentScorer, texts: list[str], norm: list[str]) -> np.ndarray:
    """(n, n_segments) `transform_one(text).scores` for a batch of texts (`norm`: each text
    normalised), with one TF-IDF call for the whole batch (the per-call overhead is most of a
    single transform)."""
    tf = content.text
    n, n_seg = len(texts), len(tf.segment_ids_)
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for i, t in enumerate(texts):
        for term, count in tf.match_terms(t).items():
            w = tf.term_weight_[term] * (1 + 0.3 * math.log(count))
            for j in tf.term_segments_[term]:
                rows.append(i)
                cols.append(j)
                vals.append(w)
    raw = np.zeros((n, n_seg))
    # add.at adds in the given order, as transform_one's loop does.
    np.add.at(raw, (np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp)), vals)
    term_score = 1 - np.exp(-raw / tf.saturation_)
    if n:
        vec = tf.vectorizer_.transform(norm)
        # segment_matrix_ @ vec.T, as transform_one multiplies, keeps its summation order.
        cos = (tf.segment_matrix_ @ vec.T).toarray().T
    else:
        cos = np.zeros((0, n_seg))
    return np.clip(tf.term_weight * term_score + (1 - tf.term_weight) * np.sqrt(cos), 0.0, 1.0)


def segment_scores(
    content: ContentScorer,
    profs: Sequence[EnterpriseProfile],
    text_scores: np.ndarray | None = None,
) -> np.ndarray:
    """(n, n_segments) `ContentScorer.score(e).segment_scores` for a batch: the text's fit
    (`segment_text_scores`, or `text_scores` when the caller has it), then the industry-code
    prior."""
    kb = content.kb
    if text_scores is None:
        texts = [e.text for e in profs]
        text_scores = segment_text_scores(content, texts, [normalize(t) for t in texts])
    seg = text_scores.copy()
    by_code: dict[str, list[int]] = {}
    for i, e in enumerate(profs):
        if e.industry_code:
            by_code.setdefault(e.industry_code, []).append(i)
    for code, members in by_code.items():
        refs = kb.chains_for_code(code)
        segs = sorted({j for r in refs for j in content._ref_segments(r.chain_id, r.segment_id)})
        if not segs:
            continue
        prior = CODE_PRIOR * (1.0 if any(r.segment_id for r in refs) else 0.6)
        block = np.ix_(members, segs)
        seg[block] = seg[block] + prior * (1 - seg[block])
    return seg


def chain_scores(content: ContentScorer, seg: np.ndarray) -> np.ndarray:
    """(n, n_chains): each chain's best segment fit, as `ContentScorer.score` takes it."""
    out = np.zeros((len(seg), len(content.chain_ids)))
    for c in range(len(content.chain_ids)):
        cols = content.seg_chain == c
        if cols.any():
            out[:, c] = np.maximum(seg[:, cols].max(axis=1), 0.0)
    return out


def user_feature_lists(
    content: ContentScorer, profs: Sequence[EnterpriseProfile]
) -> list[list[tuple[str, float]]]:
    """`hybrid.user_features` of every enterprise, computed as a batch (for training on large
    histories: about 0.2 ms an enterprise instead of 1.2 ms through `ContentScorer.score`)."""
    out: list[list[tuple[str, float]]] = []
    for a in range(0, len(profs), INDEX_CHUNK):
        chunk = profs[a : a + INDEX_CHUNK]
        texts = [e.text for e in chunk]
        text_seg = segment_text_scores(content, texts, [normalize(t) for t in texts])
        seg = segment_scores(content, chunk, text_scores=text_seg)
        if content.class_fit is not None:
            conflicts = content.code_conflicts(chunk, text_seg)
            seg = content.lift_segments(seg, content.class_distributions(chunk, conflicts))
        chain = chain_scores(content, seg)
        out.extend(
            features_from_scores(seg[i], chain[i], content.segment_ids, content.chain_ids, e)
            for i, e in enumerate(chunk)
        )
    return out


@dataclass(frozen=True)
class ParkScores:
    """Scores of every enterprise of an index for one park, weighted as in `Matcher.score`."""

    final: np.ndarray  # (n,) float64, −inf where a rule excludes the park for the enterprise
    content: np.ndarray
    collaborative: np.ndarray
    policy: np.ndarray
    registry: np.ndarray  # the weighted registry term; zeros without a registry


def _squash_rows(raw: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """`hybrid._squash` with each row's mean and std over all parks given."""
    flat = std < 1e-9
    safe = np.where(flat, 1.0, std)
    out = 1.0 / (1.0 + np.exp(-(raw - mean) / safe))
    return np.where(flat, 0.5, out)


class PoolScorer:
    """Scores pools of enterprises against a matcher's parks (its current catalogue).

    `exact=True` keeps the index in float64, so that a pool's scores equal `Matcher.score`'s to
    rounding (the service's leads, shown beside `/v1/match`); the default float32 halves the
    memory of batch pools of millions.
    """

    def __init__(self, matcher: Matcher, *, exact: bool = False) -> None:
        self.matcher = matcher
        self.dtype = np.float64 if exact else np.float32
        content, policy = matcher.content, matcher.policy
        self.text = matcher.text
        self.weights = matcher.weights
        self.park_ids = [p.park_id for p in matcher.parks]
        self.park_segment = content.park_segment.astype(self.dtype)
        self.park_zone = content.park_zone
        self.park_named = content.park_named
        cf = content.class_fit
        self.class_sim = cf.sim if cf is not None else np.zeros((len(matcher.parks), 0), np.float32)
        self.has_classes = (
            cf.has_classes if cf is not None else np.zeros(len(matcher.parks), dtype=bool)
        )
        self.zone_focus = content.zone_focus
        self.seg_chain = content.seg_chain
        self.n_chains = len(content.chain_ids)
        self.keywords = list(content.kw_parks)
        n_parks = len(self.park_ids)
        kp = np.zeros((len(self.keywords), n_parks), dtype=np.float32)
        for k, word in enumerate(self.keywords):
            kp[k, content.kw_parks[word]] = 1.0  # a park listing a word twice still counts it once
        self.keyword_parks = sparse.csc_matrix(kp)
        self.rules = list(policy.rules)
        masks = np.array(policy.masks, dtype=bool).reshape(len(self.rules), n_parks)
        weight = np.array(
            [r.weight if r.effect in ("bonus", "penalty") and r.weight else 0.0 for r in self.rules]
        )
        self.rule_adjust = masks * weight[:, None]  # (n_rules, n_parks)
        self.rule_exclude = masks & np.array([r.effect == "exclude" for r in self.rules])[:, None]
        self.registry = matcher.registry
        if self.registry is not None:
            # (n_counties, n_parks): which places each registry county's support reaches
            rows = matcher._registry_rows
            on = np.flatnonzero(rows >= 0)
            self.county_places = sparse.csr_matrix(
                (np.ones(len(on)), (rows[on], on)), shape=(len(self.registry.counties_), n_parks)
            )
        self.collab = matcher.collab
        if self.collab is not None:
            self.item_repr = matcher._item_repr.astype(np.float64)
            self.item_bias = matcher._item_bias.astype(np.float64)
            self._moments = (
                self.item_repr.mean(axis=0),
                float(self.item_bias.mean()),
                self.item_repr.T @ self.item_repr / n_parks,
                self.item_repr.T @ self.item_bias / n_parks,
                float((self.item_bias**2).mean()),
            )
            fmap = self.collab.user_feature_map_
            self._seg_cols = np.array([fmap.get(f"seg:{s}", -1) for s in content.segment_ids])
            self._chain_cols = np.array([fmap.get(f"chain:{c}", -1) for c in content.chain_ids])
        h = hashlib.sha1()
        for part in (
            [matcher.version],
            self.park_ids,
            [r.rule_id for r in self.rules],
            self.keywords,
        ):
            h.update("\x1f".join(part).encode())
            h.update(b"\x1e")
        self.fingerprint = f"{matcher.version}:{h.hexdigest()[:16]}"

    # -- the per-enterprise work -----------------------------------------------------------------
    def index(
        self, profiles: Sequence[EnterpriseProfile], enterprise_ids: Sequence[str] | None = None
    ) -> PoolIndex:
        """Featurise a pool once (about 0.2 ms an enterprise, mostly jieba and the term regex)."""
        ids = (
            [str(i) for i in enterprise_ids]
            if enterprise_ids is not None
            else [str(i) for i in range(len(profiles))]
        )
        if len(ids) != len(profiles):
            raise ValueError("enterprise_ids 与企业数量不一致")
        if not profiles:
            return self._index_chunk([], [])
        parts = [
            self._index_chunk(profiles[i : i + INDEX_CHUNK], ids[i : i + INDEX_CHUNK])
            for i in range(0, len(profiles), INDEX_CHUNK)
        ]
        return parts[0] if len(parts) == 1 else PoolIndex.concat(parts)

    def _index_chunk(self, profs: Sequence[EnterpriseProfile], ids: list[str]) -> PoolIndex:
        n = len(profs)
        texts = [e.text for e in profs]
        norm = [normalize(t) for t in texts]
        content = self.matcher.content
        text_seg = segment_text_scores(content, texts, norm)
        classes = self._classes(profs, content.code_conflicts(profs, text_seg))
        seg = content.lift_segments(segment_scores(content, profs, text_scores=text_seg), classes)
        chain = chain_scores(self.matcher.content, seg)
        zone_fit = (
            np.stack(
                [
                    (seg * self.zone_focus[z][None, :]).max(axis=1)
                    for z in range(len(self.zone_focus))
                ],
                axis=1,
            )
            if n
            else np.zeros((0, len(self.zone_focus)))
        )
        registry = self.registry.shares(texts) if self.registry is not None else None
        top = chain.max(axis=1, initial=0.0) if self.n_chains else np.zeros(n)
        member = (chain >= CHAIN_MIN_FIT) & (chain >= CHAIN_RELATIVE_FIT * top[:, None])
        latent, mean, std = self._latent(seg, chain, profs)
        return PoolIndex(
            enterprise_ids=np.array(ids, dtype=str),
            segment=seg.astype(self.dtype),
            zone_fit=zone_fit.astype(self.dtype),
            keyword_hits=self._keyword_hits(norm),
            latent=latent,
            collab_mean=mean,
            collab_std=std,
            conditions=self._conditions(profs, norm, member),
            fingerprint=self.fingerprint,
            classes=classes,
            registry=registry,
        )

    def _classes(
        self, profs: Sequence[EnterpriseProfile], conflicts: Sequence[bool]
    ) -> sparse.csr_matrix:
        content = self.matcher.content
        n_cls = self.class_sim.shape[1]
        if content.class_fit is None or not profs:
            return sparse.csr_matrix((len(profs), n_cls), dtype=np.float32)
        dist = content.class_distributions(profs, conflicts)
        return sparse.csr_matrix(dist.astype(self.dtype))

    def _keyword_hits(self, norm: list[str]) -> sparse.csr_matrix:
        content = self.matcher.content
        col = {w: k for k, w in enumerate(self.keywords)}
        indptr, indices = [0], []
        for t in norm:
            found = {col[k] for k in content.keyword_matches(t) if k in col}
            indices.extend(sorted(found))
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        return sparse.csr_matrix(
            (data, np.array(indices, dtype=np.int32), np.array(indptr, dtype=np.int64)),
            shape=(len(norm), len(self.keywords)),
        )

    def _latent(
        self, seg: np.ndarray, chain: np.ndarray, profs: Sequence[EnterpriseProfile]
    ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
        """LightFM user vectors from `hybrid.user_features`, built for the batch at once."""
        n = len(profs)
        if self.collab is None:
            return None, np.zeros(n), np.zeros(n)
        fmap = self.collab.user_feature_map_
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for scores, colmap, k in ((seg, self._seg_cols, 5), (chain, self._chain_cols, 3)):
            order = np.argsort(-scores, axis=1)[
                :, :k
            ]  # the same sort, row by row, as user_features
            top = np.take_along_axis(scores, order, axis=1)
            c = colmap[order]
            keep = (top >= 0.1) & (c >= 0)
            rows.append(np.nonzero(keep)[0])
            cols.append(c[keep])
            vals.append(top[keep])
        extra_r, extra_c, extra_v = [], [], []
        gbt: dict[str, int] = {}
        for i, e in enumerate(profs):
            if e.industry_code:
                if e.industry_code not in gbt:
                    digits = e.industry_code.strip().upper().lstrip("ABCDEFGHIJKLMNOPQRST")
                    gbt[e.industry_code] = (
                        fmap.get(f"gbt:{digits[:2]}", -1) if len(digits) >= 2 else -1
                    )
                j = gbt[e.industry_code]
                if j >= 0:
                    extra_r.append(i)
                    extra_c.append(j)
                    extra_v.append(0.5)
            for name in numeric_features(e):
                j = fmap.get(name, -1)
                if j >= 0:
                    extra_r.append(i)
                    extra_c.append(j)
                    extra_v.append(0.3)
        rows.append(np.array(extra_r, dtype=np.intp))
        cols.append(np.array(extra_c, dtype=np.intp))
        vals.append(np.array(extra_v))
        x = sparse.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, len(fmap)),
            dtype=np.float32,
        )
        total = np.asarray(x.sum(axis=1), dtype=np.float32).ravel()
        x = x.astype(np.float64)
        scale = np.where(total != 0, 1.0 / np.where(total != 0, total, 1), 1.0)
        x = sparse.diags(scale) @ x  # each row / its sum, as CollaborativeModel.user_vector does
        u = np.asarray(x @ self.collab.model_.user_embeddings)
        rbar, bbar, gram, cross, b2 = self._moments
        mean = u @ rbar + bbar
        ex2 = np.einsum("ij,jk,ik->i", u, gram, u) + 2 * (u @ cross) + b2
        std = np.sqrt(np.maximum(ex2 - mean**2, 0.0))
        return u.astype(self.dtype), mean, std

    def _conditions(
        self, profs: Sequence[EnterpriseProfile], norm: list[str], member: np.ndarray
    ) -> np.ndarray:
        """(n, n_rules) `PolicyEngine.enterprise_matches` with the pool's `enterprise_chains`."""
        n = len(profs)
        out = np.ones((n, len(self.rules)), dtype=bool)
        chain_ids = self.matcher.content.chain_ids
        cidx = {c: i for i, c in enumerate(chain_ids)}
        if set(RuleWhen.model_fields) - PARK_SIDE - ENTERPRISE_SIDE:
            for i, e in enumerate(profs):
                chains = frozenset(chain_ids[c] for c in np.flatnonzero(member[i]))
                for r, rule in enumerate(self.rules):
                    out[i, r] = PolicyEngine.enterprise_matches(rule, e, chains)
            return out
        numbers = {
            f: np.array([getattr(e, f) or 0 for e in profs], dtype=float)
            for f in THRESHOLDS.values()
        }
        origins = np.array([e.origin or "" for e in profs], dtype=object)
        activities: np.ndarray | None = None

        def any_term(terms: Sequence[str]) -> np.ndarray:
            # One alternation finds a substring exactly when one of the terms is in the text.
            pattern = re.compile("|".join(re.escape(normalize(t)) for t in terms))
            return np.array([pattern.search(s) is not None for s in norm], dtype=bool)

        def any_chain(ids: Sequence[str]) -> np.ndarray:
            cols = [cidx[c] for c in ids if c in cidx]
            if not cols:
                return np.zeros(n, dtype=bool)
            return np.asarray(member[:, cols].any(axis=1), dtype=bool)

        for r, rule in enumerate(self.rules):
            w = rule.when
            ok = np.ones(n, dtype=bool)
            if w.enterprise_chains:
                ok &= any_chain(w.enterprise_chains)
            if w.enterprise_not_chains:
                ok &= ~any_chain(w.enterprise_not_chains)
            if w.enterprise_terms:
                ok &= any_term(w.enterprise_terms)
            if w.enterprise_not_terms:
                ok &= ~any_term(w.enterprise_not_terms)
            if w.origins:
                ok &= np.isin(origins, list(w.origins))
            if w.enterprise_activities:
                if activities is None:
                    activities = np.array([activity(e.text) for e in profs], dtype=object)
                ok &= np.isin(activities, list(w.enterprise_activities))
            for cond, fld in THRESHOLDS.items():
                limit = getattr(w, cond)
                if limit is not None:
                    ok &= numbers[fld] >= limit
            out[:, r] = ok
        return out

    # -- scores ----------------------------------------------------------------------------------
    def _check(self, index: PoolIndex) -> None:
        if index.fingerprint != self.fingerprint:
            raise ValueError(
                f"企业池索引为 {index.fingerprint} 构建，与当前模型和园区目录 {self.fingerprint} 不符，请重建索引"
            )

    def scores_for_park(self, index: PoolIndex, park: int) -> ParkScores:
        """Every enterprise's scores for park number `park` (of `matcher.parks`): numpy over the index."""
        self._check(index)
        n, w = len(index), self.weights
        ps = self.park_segment[park]
        nz = np.flatnonzero(ps)
        fit = (index.segment[:, nz] * ps[nz]).max(axis=1) if len(nz) else np.zeros(n)
        hits = index.keyword_hits @ self.keyword_parks[:, park].toarray().ravel()
        zone = index.zone_fit[:, self.park_zone[park]]
        inside, bonus = park_content(
            fit.astype(np.float64),
            self._class_fit(index.class_matrix, self.class_sim[park : park + 1]).ravel(),
            self.has_classes[park],
            zone,
            hits,
            self.park_named[park],
            self.matcher.content.weights,
        )
        content = w.content * inside + bonus
        if self.collab is not None and index.latent is not None:
            raw = (
                index.latent @ self.item_repr[park].astype(index.latent.dtype)
                + self.item_bias[park]
            )
            collaborative = w.collaborative * _squash_rows(
                raw.astype(np.float64), index.collab_mean, index.collab_std
            )
        else:
            collaborative = np.zeros(n)
        adjust = self.rule_adjust[:, park]
        on = np.flatnonzero(adjust)
        policy = w.policy * (
            index.conditions[:, on].astype(np.float64) @ adjust[on] if len(on) else np.zeros(n)
        )
        final = content + collaborative + policy
        registry = np.zeros(n)
        if self.registry is not None and index.registry is not None:
            registry = w.registry * (index.registry @ self.county_places[:, park]).toarray().ravel()
            final = final + registry
        excl = np.flatnonzero(self.rule_exclude[:, park])
        if len(excl):
            final[index.conditions[:, excl].any(axis=1)] = -np.inf
        return ParkScores(final, content, collaborative, policy, registry)

    def enterprise_block(
        self, index: PoolIndex, rows: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(final, content, collaborative, policy), each (len(rows), n_parks), for a few rows."""
        self._check(index)
        rows = np.asarray(rows, dtype=np.intp)
        n_parks, w = len(self.park_ids), self.weights
        out = [np.zeros((len(rows), n_parks)) for _ in range(4)]
        step = max(1, BLOCK_CELLS // max(1, n_parks * self.park_segment.shape[1]))
        for a in range(0, len(rows), step):
            r = rows[a : a + step]
            seg = index.segment[r]
            fit = (seg[:, None, :] * self.park_segment[None, :, :]).max(axis=2)
            hits = (index.keyword_hits[r] @ self.keyword_parks).toarray()
            zone = index.zone_fit[r][:, self.park_zone]
            inside, bonus = park_content(
                fit.astype(np.float64),
                self._class_fit(index.class_matrix[r], self.class_sim),
                self.has_classes[None, :],
                zone,
                hits,
                self.park_named[None, :],
                self.matcher.content.weights,
            )
            content = w.content * inside + bonus
            if self.collab is not None and index.latent is not None:
                raw = index.latent[r].astype(np.float64) @ self.item_repr.T + self.item_bias
                collab = w.collaborative * _squash_rows(
                    raw, index.collab_mean[r, None], index.collab_std[r, None]
                )
            else:
                collab = np.zeros_like(content)
            cond = index.conditions[r].astype(np.float64)
            policy = w.policy * (cond @ self.rule_adjust)
            final = content + collab + policy
            if self.registry is not None and index.registry is not None:
                final = final + w.registry * (index.registry[r] @ self.county_places).toarray()
            final[(cond @ self.rule_exclude) > 0] = -np.inf
            for k, arr in enumerate((final, content, collab, policy)):
                out[k][a : a + len(r)] = arr
        return out[0], out[1], out[2], out[3]

    @staticmethod
    def _class_fit(p: sparse.csr_matrix, sim: np.ndarray) -> np.ndarray:
        """(n, n_parks) `ClassFit.score` for rows of class distributions `p`."""
        if not sim.shape[1]:
            return np.zeros((p.shape[0], sim.shape[0]))
        total = np.asarray(p.sum(axis=1), dtype=np.float64)
        fit = np.asarray(p @ sim.T, dtype=np.float64) / np.maximum(total, 1e-9)
        return np.clip(fit, 0.0, 1.0)

    def scores_for_enterprises(
        self, index: PoolIndex, rows: Sequence[int] | np.ndarray
    ) -> np.ndarray:
        """(len(rows), n_parks) final scores of the given index rows; −inf where excluded."""
        return self.enterprise_block(index, rows)[0]

    def rank_park(self, index: PoolIndex, park: int, k: int | None = None) -> np.ndarray:
        """Index rows ranked best first for `park`, excluded enterprises left out (top `k`)."""
        final = self.scores_for_park(index, park).final
        ok = np.flatnonzero(np.isfinite(final))
        if k is not None and k < len(ok):
            part = ok[np.argpartition(-final[ok], k - 1)[:k]]
            return part[np.argsort(-final[part], kind="stable")]
        return ok[np.argsort(-final[ok], kind="stable")]
