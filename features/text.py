"""Chinese text → chain/segment fit: the policy's own vocabulary matched term by term, plus TF-IDF\nover jieba words and character bigrams.

`SegmentTextFeaturizer` is a scikit-learn style transformer fitted on the knowledge base. For an
enterprise description it returns, per segment, a fit in [0, 1] and the policy terms it matched,
which the explanations quote.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import jieba
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from features.kb import KnowledgeBase

jieba.setLogLevel(logging.WARNING)

# Words too generic to count as evidence of a segment on their own.
GENERIC_TERMS = frozenset(
    [
        "产品",
        "技术",
        "设备",
        "装备",
        "材料",
        "系统",
        "服务",
        "研发",
        "产业",
        "制造",
        "生产",
        "销售",
        "开发",
        "应用",
        "关键",
        "新型",
        "高端",
        "智能",
        "平台",
        "企业",
        "工业",
        "发展",
        "建设",
        "加快",
        "推动",
        "推进",
        "支持",
        "鼓励",
        "提升",
        "重点",
        "一批",
        "基地",
        "园区",
        "高效",
        "先进",
        "新技术",
    ]
)


_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


def analyze(text: str, tokenizer: jieba.Tokenizer | None = None) -> list[str]:
    """TF-IDF tokens: jieba words (by `tokenizer`, which keeps policy terms whole) plus character
    bigrams."""
    words = [w for w in (tokenizer or jieba.dt).lcut(text) if not _PUNCT.fullmatch(w)]
    compact = _PUNCT.sub("", text)
    return words + [compact[i : i + 2] for i in range(len(compact) - 1)]


@functools.lru_cache(maxsize=2)
def _policy_tokenizer(terms: tuple[str, ...]) -> jieba.Tokenizer:
    """A jieba tokenizer of our own that keeps `terms` whole.

    `jieba.add_word` would change jieba's process-wide dictionary, and with it how every other
    user of jieba (the industry classifier, a library, a test) segments text, depending on
    whether a featuriser happened to be fitted or unpickled first. A private tokenizer holds its
    own copy of the dictionary (about 60 MB and a second to load), so featurisers fitted on the
    same terms share one.
    """
    tokenizer = jieba.Tokenizer()
    for t in terms:
        tokenizer.add_word(t, freq=2000)
    return tokenizer


class PolicyAnalyzer:
    """The TF-IDF analyzer (`analyze` with the policy tokenizer). It pickles as its terms alone:
    a jieba tokenizer holds a lock and cannot be pickled, and it is rebuilt on load."""

    def __init__(self, terms: Sequence[str]) -> None:
        self.terms = tuple(terms)
        self.tokenizer = _policy_tokenizer(self.terms)

    def __call__(self, text: str) -> list[str]:
        return analyze(text, self.tokenizer)

    def __getstate__(self) -> dict[str, object]:
        return {"terms": self.terms}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.terms = tuple(state["terms"])  # type: ignore[arg-type]
        self.tokenizer = _policy_tokenizer(self.terms)


def normalize(text: str) -> str:
    """NFKC (full-width → half-width), lower case, collapsed white space."""
    text = unicodedata.normalize("NFKC", text or "")
    return re.sub(r"\s+", " ", text).strip().lower()


@dataclass(frozen=True)
class TextMatch:
    """Segment fits of one text: `scores[j]` for `segment_ids[j]`, with the terms matched."""

    scores: np.ndarray  # shape (n_segments,)
    terms: tuple[tuple[str, ...], ...]  # per segment, the policy terms found in the text

    def top(self, segment_ids: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.scores)[:k]
        return [(segment_ids[i], float(self.scores[i])) for i in order if self.scores[i] > 0]


class SegmentTextFeaturizer(BaseEstimator):
    """Fit on a KB; `transform(texts)` gives the (n_texts, n_segments) fit matrix.

    Parameters
    ----------
    term_weight : float
        Share of the score that comes from exact policy-term matches (the rest is TF-IDF cosine).
    """

    def __init__(self, term_weight: float = 0.7) -> None:
        self.term_weight = term_weight

    def fit(self, kb: KnowledgeBase) -> SegmentTextFeaturizer:
        segment_ids: list[str] = []
        docs: list[str] = []
        vocab: dict[str, set[int]] = {}
        for chain in kb.chains:
            for seg in chain.segments:
                j = len(segment_ids)
                segment_ids.append(seg.segment_id)
                own = [seg.name, *seg.keywords, *seg.synonyms]
                inherited = [chain.name.removesuffix("产业"), *chain.keywords, *chain.synonyms]
                docs.append(" ".join(own + own + inherited))
                for term in own:
                    self._add_term(vocab, term, j)
                for term in inherited:
                    self._add_term(vocab, term, j)
        n = len(segment_ids)
        # A term's weight falls with the number of segments it names (inverse document frequency)
        # and rises with its length: 高强汽车板 says more than 汽车.
        weights = {
            t: math.log(1 + n / len(js)) * min(1.0, 0.4 + 0.15 * len(t)) for t, js in vocab.items()
        }
        self.segment_ids_ = segment_ids
        self.chain_of_segment_ = [kb.chain_of_segment[s] for s in segment_ids]
        self.term_segments_ = {t: sorted(js) for t, js in vocab.items()}
        self.term_weight_ = weights
        # Longest terms first so that 新能源汽车 is matched before 汽车.
        self.terms_by_length_ = sorted(vocab, key=lambda t: (-len(t), t))
        self._pattern = re.compile("|".join(re.escape(t) for t in self.terms_by_length_))
        self.analyzer_ = PolicyAnalyzer(self.terms_by_length_)
        self.vectorizer_ = TfidfVectorizer(analyzer=self.analyzer_, sublinear_tf=True)
        self.segment_matrix_ = self.vectorizer_.fit_transform([normalize(d) for d in docs])
        self._term_segment = self.segment_matrix_.T.toarray()  # (n_terms, n_segments), ~2 MB
        # Saturation point of the term score: the fit is 1 once a text names this much evidence.
        self.saturation_ = float(np.median(list(weights.values()))) * 2.5
        return self

    @staticmethod
    def _add_term(vocab: dict[str, set[int]], term: str, j: int) -> None:
        t = normalize(term)
        if len(t) >= 2 and t not in GENERIC_TERMS:
            vocab.setdefault(t, set()).add(j)

    def match_terms(self, text: str) -> dict[str, int]:
        """Policy terms found in `text` (longest match wins), with their counts."""
        check_is_fitted(self, "term_segments_")
        found: dict[str, int] = {}
        for m in self._pattern.finditer(normalize(text)):
            found[m.group(0)] = found.get(m.group(0), 0) + 1
        return found

    def _cosines(self, text: str) -> np.ndarray:
        """Cosine of the text's TF-IDF vector with each segment's: what `vectorizer_.transform`
        computes (sublinear tf × idf, L2-normalised), without its per-call overhead."""
        vocab = self.vectorizer_.vocabulary_
        counts = Counter(t for t in self.analyzer_(text) if t in vocab)
        if not counts:
            return np.zeros(len(self.segment_ids_))
        cols = np.fromiter((vocab[t] for t in counts), dtype=np.int64, count=len(counts))
        vals = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))
        vals *= self.vectorizer_.idf_[cols]
        vals /= np.linalg.norm(vals)
        # Summed term by term in the text's order, as the sparse product does (a term a segment
        # lacks adds an exact 0): the same bits, without building a sliced matrix per call.
        return np.add.reduce(self._term_segment[cols] * vals[:, None], axis=0)

    def transform_one(self, text: str) -> TextMatch:
        check_is_fitted(self, "term_segments_")
        n = len(self.segment_ids_)
        raw = np.zeros(n)
        terms: list[list[str]] = [[] for _ in range(n)]
        for term, count in self.match_terms(text).items():
            w = self.term_weight_[term] * (1 + 0.3 * math.log(count))
            for j in self.term_segments_[term]:
                raw[j] += w
                terms[j].append(term)
        term_score = 1 - np.exp(-raw / self.saturation_)
        cos = self._cosines(normalize(text))
        scores = self.term_weight * term_score + (1 - self.term_weight) * np.sqrt(cos)
        ordered = tuple(tuple(sorted(ts, key=lambda t: -self.term_weight_[t])) for ts in terms)
        return TextMatch(scores=np.clip(scores, 0.0, 1.0), terms=ordered)

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Segment fit matrix of shape (len(texts), n_segments)."""
        return (
            np.vstack([self.transform_one(t).scores for t in texts])
            if texts
            else np.zeros((0, len(self.segment_ids_)))
        )

    def tokenize(self, text: str) -> list[str]:
        """jieba words of `text`, with the policy's terms kept whole."""
        check_is_fitted(self, "term_segments_")
        return [w for w in self.analyzer_.tokenizer.lcut(normalize(text)) if w.strip()]

    def chain_matrix(self, kb: KnowledgeBase) -> sparse.csr_matrix:
        """(n_segments, n_chains) 0/1 matrix: which chain each segment belongs to."""
        chain_ids = [c.chain_id for c in kb.chains]
        rows = np.arange(len(self.segment_ids_))
        cols = [chain_ids.index(c) for c in self.chain_of_segment_]
        return sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(rows), len(chain_ids))
        )

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state.pop("_pattern", None)  # derived: rebuilt on load
        state.pop("_term_segment", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        if "segment_matrix_" in state:
            self._term_segment = self.segment_matrix_.T.toarray()
        if "terms_by_length_" in state:
            terms: list[str] = state["terms_by_length_"]  # type: ignore[assignment]
            self._pattern = re.compile("|".join(re.escape(t) for t in terms))
            if "analyzer_" not in state:  # pickled before the featuriser had its own tokenizer
                self.analyzer_ = PolicyAnalyzer(terms)
                self.vectorizer_.set_params(analyzer=self.analyzer_)
