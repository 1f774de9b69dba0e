"""Registry evidence: what firms of a kind already do in a county, from the bureau's registry.

`RegistryIndex` is a nearest-neighbour index over registered firms' 经营范围 (TF-IDF on character
bigrams). For an enterprise text it finds the most similar registered firms and turns them into a
support per county (and per park, through the park's county): the `registry` term of the hybrid
score and the reason 「本县已登记经营范围相近的企业 N 家（如：…）」.

`placement_history` turns the same firms into training rows for LightFM: each firm is a real
placement in its county place and in that county's parks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from features.kb import COUNTY_PREFIX, Park

# Sentences every 经营范围 carries whatever the business: they would make every firm look alike.
BOILERPLATE = re.compile(
    r"[（(]?依法须经批准的项目[^）)]*[）)]?|经相关部门批准后[^。；;]*|"
    r"一般项目[:：]|许可项目[:：]|除依法须经批准的项目外[^。；;]*|凭营业执照依法自主开展经营活动|"
    r"具体经营项目以[^。；;]*为准|[（(]不含[^）)]*[）)]|"
    # most firms may import and export whatever they make: not evidence of cross-border trade
    r"(?:货物|技术)(?:及技术)?进出口(?:业务)?"
)
FIRM_PREFIX = "reg:"
# Kinds recorded for a firm's placements when training LightFM (features.history.KIND_WEIGHTS):
# its own county is where it settled; that county's parks are where firms like it sign.
COUNTY_KIND = "settled"
PARK_KIND = "signed"
EXAMPLES = 2
# A firm counts for a segment in the chain-gap counts when its 经营范围 fits it at least this well
# (below leads.CANDIDATE_MIN_FIT: a registration lists products in few, plain words, e.g. 羊绒).
SEGMENT_MIN_FIT = 0.2


def clean_scope(text: str) -> str:
    return BOILERPLATE.sub("", str(text or ""))


def place_counties(parks: Sequence[Park]) -> list[str | None]:
    """The county place id (`county_<code>`) of each place: a county is its own; a park takes the
    county place of its (city, county), or of its city for 辛集 and 定州; None when unknown."""
    by_name = {(p.city, p.county): p.park_id for p in parks if p.kind == "county"}
    by_city = {p.city: p.park_id for p in parks if p.kind == "county" and p.county == p.city + "市"}
    out: list[str | None] = []
    for p in parks:
        if p.kind == "county":
            out.append(p.park_id)
        elif p.county and (p.city, p.county) in by_name:
            out.append(by_name[(p.city, p.county)])
        else:
            out.append(by_city.get(p.city))
    return out


@dataclass(frozen=True)
class RegistrySupport:
    """One enterprise's registry evidence, per county place (the index's `counties_`)."""

    support: np.ndarray  # (n_counties,) summed similarity of the neighbours in each county
    count: np.ndarray  # (n_counties,) neighbours at least `min_similarity` alike
    examples: dict[int, list[str]]  # county → names of its most similar firms (bureau eyes only)


class RegistryIndex(BaseEstimator):
    """k nearest registered firms by 经营范围, voting for their counties.

    Parameters
    ----------
    k : int
        Neighbours that vote.
    min_similarity : float
        Cosine below which a neighbour is not counted as 「经营范围相近」 in the reasons.
    max_features : int
        Vocabulary bound (character bigrams), which bounds the index's memory.
    """

    def __init__(self, k: int = 50, min_similarity: float = 0.25, max_features: int = 60_000):
        self.k = k
        self.min_similarity = min_similarity
        self.max_features = max_features

    def fit(self, firms: pd.DataFrame, source: str | None = None) -> RegistryIndex:
        """firms: located registry firms (`store.firms.load_placements`): firm_id, name, scope,
        county_code. `source` names the registry import in the reasons and chain-gap counts."""
        firms = firms[firms["scope"].fillna("").astype(str).str.strip() != ""]
        texts = [clean_scope(t) for t in firms["scope"]]
        self.vectorizer_ = TfidfVectorizer(
            analyzer="char",
            ngram_range=(2, 2),
            min_df=2,
            max_df=0.3,
            sublinear_tf=True,
            max_features=self.max_features,
            dtype=np.float32,
        )
        if len(texts) < 2:
            raise ValueError("企业登记名录中可用的经营范围少于 2 条，无法建立相似企业索引")
        m = self.vectorizer_.fit_transform(texts)
        # Stored term-major: a query touches only the posting lists of its own bigrams.
        self.postings_ = sparse.csr_matrix(m.T, dtype=np.float32)
        codes = firms["county_code"].astype(str).str.strip().to_numpy()
        counties, firm_county = np.unique(
            np.array([COUNTY_PREFIX + c for c in codes]), return_inverse=True
        )
        self.counties_: list[str] = [str(c) for c in counties]
        self.firm_county_ = firm_county.astype(np.int32)
        self.firm_names_ = [str(n) if isinstance(n, str) else "" for n in firms["name"]]
        self.county_size_ = np.bincount(self.firm_county_, minlength=len(self.counties_))
        self.n_firms_ = len(texts)
        when = (
            pd.to_datetime(firms["imported_at"], errors="coerce").max()
            if "imported_at" in firms
            else pd.NaT
        )
        self.source_ = source or (
            f"企业登记名录（导入于 {when:%Y-%m-%d}，已定位企业 {self.n_firms_} 家）"
            if pd.notna(when)
            else f"企业登记名录（已定位企业 {self.n_firms_} 家，"
            f"{datetime.now(UTC).strftime('%Y-%m-%d')} 训练时读取）"
        )
        self.segment_counts_: np.ndarray | None = None
        return self

    def count_segments(self, segment_scores: np.ndarray) -> RegistryIndex:
        """Keep, per county, how many firms fit each segment best (chain-gap counts).

        segment_scores : (n_firms, n_segments), rows in the order the firms were fitted.
        """
        check_is_fitted(self, "postings_")
        best = segment_scores.argmax(axis=1)
        ok = segment_scores[np.arange(len(best)), best] >= SEGMENT_MIN_FIT
        counts = np.zeros((len(self.counties_), segment_scores.shape[1]), dtype=np.int32)
        np.add.at(counts, (self.firm_county_[ok], best[ok]), 1)
        self.segment_counts_ = counts
        return self

    def neighbours(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(firm indices, cosine similarities) of the k most similar firms, most similar first."""
        check_is_fitted(self, "postings_")
        q = self.vectorizer_.transform([clean_scope(text)])
        if not q.nnz:
            return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
        sims = np.asarray((q @ self.postings_).todense()).ravel()
        k = min(self.k, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[sims[top] > 0]
        top = top[np.argsort(-sims[top], kind="stable")]
        return top, sims[top]

    def support(self, text: str) -> RegistrySupport:
        idx, sims = self.neighbours(text)
        n = len(self.counties_)
        county = self.firm_county_[idx]
        support = np.bincount(county, weights=sims, minlength=n).astype(np.float64)
        close = sims >= self.min_similarity
        count = np.bincount(county[close], minlength=n)
        examples: dict[int, list[str]] = {}
        for i, c in zip(idx[close], county[close], strict=True):
            names = examples.setdefault(int(c), [])
            if len(names) < EXAMPLES and self.firm_names_[i] and self.firm_names_[i] not in names:
                names.append(self.firm_names_[i])
        return RegistrySupport(support, count, examples)

    def shares(self, texts: Sequence[str], batch: int = 256) -> sparse.csr_matrix:
        """(n, n_counties) each text's county support as a share of its best county's (what
        `place_scores` spreads over the places), for pools: one TF-IDF call per batch."""
        check_is_fitted(self, "postings_")
        n_c = len(self.counties_)
        parts = []
        for a in range(0, len(texts), batch):
            q = self.vectorizer_.transform([clean_scope(t) for t in texts[a : a + batch]])
            sims = np.asarray((q @ self.postings_).todense())
            k = min(self.k, sims.shape[1])
            top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            val = np.take_along_axis(sims, top, axis=1)
            rows = np.repeat(np.arange(len(sims)), k)
            m = sparse.csr_matrix(
                (val.ravel().astype(np.float64), (rows, self.firm_county_[top.ravel()])),
                shape=(len(sims), n_c),
            )
            best = np.asarray(m.max(axis=1).todense()).ravel()
            scale = np.where(best > 0, 1.0 / np.where(best > 0, best, 1.0), 0.0)
            parts.append(sparse.csr_matrix(sparse.diags(scale) @ m))
        if not parts:
            return sparse.csr_matrix((0, n_c))
        return sparse.vstack(parts).tocsr()

    def place_index(self, parks: Sequence[Park]) -> np.ndarray:
        """(n_places,) each place's row in `counties_`, −1 for places without registered firms."""
        check_is_fitted(self, "postings_")
        pos = {c: i for i, c in enumerate(self.counties_)}
        return np.array([pos.get(c, -1) if c else -1 for c in place_counties(parks)], dtype=np.intp)


def place_scores(s: RegistrySupport, place_rows: np.ndarray) -> np.ndarray:
    """(n_places,) the county support in [0, 1] (share of the best county's), for every place of
    the county; places without registered firms get 0."""
    top = float(s.support.max(initial=0.0))
    if top <= 0:
        return np.zeros(len(place_rows))
    values = np.append(s.support / top, 0.0)  # index −1 reads the trailing 0
    return values[place_rows]


def placement_history(
    firms: pd.DataFrame,
    parks: Sequence[Park],
    classify: Callable[[Sequence[str]], Sequence[str | None]] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(enterprises, interactions) training frames from located registry firms: the firm's
    经营范围 is its description, its county place and that county's parks its placements.

    `classify` (texts → GB/T 4754 codes, e.g. `IndustryClassifier.predict` of
    `recommender/industry.py`, branch issue-11-clf) fills `industry_code`, which becomes the
    LightFM user feature `gbt:<division>`; without it registry firms carry no GB/T class."""
    counties = place_counties(parks)
    in_county: dict[str, list[str]] = {}
    for p, c in zip(parks, counties, strict=True):
        if c and p.kind != "county":
            in_county.setdefault(c, []).append(p.park_id)
    known = {p.park_id for p in parks if p.kind == "county"}
    f = firms[firms["scope"].fillna("").astype(str).str.strip().str.len() >= 4]
    place = COUNTY_PREFIX + f["county_code"].astype(str).str.strip()
    f = f[place.isin(known)]
    place = place[place.isin(known)]
    ids = FIRM_PREFIX + f["firm_id"].astype(str)
    descriptions = [clean_scope(t)[:4000] or str(t)[:4000] for t in f["scope"]]
    ents = pd.DataFrame(
        {
            "enterprise_id": ids.to_numpy(),
            "industry_code": list(classify(descriptions)) if classify else None,
            "description": descriptions,
            "name": None,  # the model learns from what firms do, never from who they are
            "products": "",
            "created_at": pd.to_datetime(f["reg_date"], errors="coerce", utc=True).to_numpy()
            if "reg_date" in f
            else pd.NaT,
        }
    )
    rows = []
    for eid, c, when in zip(ids, place, ents["created_at"], strict=True):
        rows.append((eid, c, COUNTY_KIND, when))
        rows.extend((eid, pid, PARK_KIND, when) for pid in in_county.get(c, ()))
    inter = pd.DataFrame(rows, columns=["enterprise_id", "park_id", "kind", "occurred_at"])
    return ents, inter
