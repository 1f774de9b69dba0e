"""Chinese text → GB/T 4754-2017 小类 (4-digit classes), learned from three official texts.

Training phrases come from the 国民经济行业分类注释 (class names, definitions and 包括 item lines; a
不包括 line counts for the class it is sent to, never for the class it sits under), the 市场监管总局
经营范围规范表述目录 draft (standard scope phrases → codes) and the 战略性新兴产业 key products by class.
`IndustryClassifier` scores a text against every phrase (character n-grams and jieba words, TF-IDF)
and against every class's pooled text, and turns both into class probabilities.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted

from features.scope import parse_scope

jieba.setLogLevel(logging.WARNING)

ROOT = Path(__file__).resolve().parents[1]
REF_DIR = ROOT / "data" / "reference"
NOTES_FILE = "gbt4754_2017_notes_lines.csv"
SCOPE_FILE = "business_scope_catalogue_2021_draft.csv"
TAGS_FILE = "special_classifications_by_class.csv"
CODES_FILE = "gbt4754_2017.csv"

_SENT_TO = re.compile(r"[,，]?\s*(?:分别|应|均|则|可)?\s*列入")
_CODE = re.compile(r"(?<![0-9])(?:\d{2,4}|[A-T])(?=\s*[(（])")
_EXCLUSION_TAIL = re.compile(r"[;；，,。]?\s*(?:但)?不包括.*$")
_SCOPE_QUALIFIER = re.compile(r"[(（](?:不包括|不含|除)[^()（）]*(?:[)）]|$)")
_HEADING_ONLY = re.compile(r"列入本(?:分|小|中)?类")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)
_SECONDARY_VERBS = re.compile(
    r"(?:研发|设计|开发|销售|批发|零售|进出口|技术服务)(?:[与和及、]|以及)?"
)
# Words of the notes' own scaffolding, which say nothing about any one class.
_SCAFFOLD = re.compile(r"包括对?下列|下列产品|的制造活动|的生产活动|的种植活动|[◇◆—]")


def normalize_text(text: str) -> str:
    """NFKC (full-width → half-width), lower case, scaffolding removed."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return _SCAFFOLD.sub(" ", text).strip()


@lru_cache(maxsize=1)
def _tokenizer() -> jieba.Tokenizer:
    # A private dictionary: features/text.py adds the policy's terms to jieba's global one, which
    # would make the same text tokenise differently depending on what else ran in the process.
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()  # jieba would otherwise load its dictionary on the first cut
    return tokenizer


def _words(text: str) -> list[str]:
    return [w for w in _tokenizer().lcut(text) if len(w) > 1 and not _PUNCT.fullmatch(w)]


def _chars(text: str) -> str:
    return _PUNCT.sub(" ", text)


# -- the official phrases ------------------------------------------------------------------------
def official_samples(ref_dir: Path | None = None) -> pd.DataFrame:
    """Every official phrase with its class: columns text, code, weight, source, group_hint.

    `source` is one of name, definition, notes_item, notes_sent_to, scope, tag_product. `weight`
    is below 1 where a scope phrase names a 中类 and is spread over its 小类.
    """
    ref_dir = ref_dir or REF_DIR
    rows: list[tuple[str, str, float, str]] = []

    codes = pd.read_csv(ref_dir / CODES_FILE, dtype=str, keep_default_na=False)
    classes = codes[codes["level"] == "4"]
    children: dict[str, list[str]] = {}
    for code in classes["code"]:
        children.setdefault(code[:3], []).append(code)
        children.setdefault(code[:2], []).append(code)
    for code, name in zip(classes["code"], classes["name"], strict=True):
        rows.append((name, code, 1.0, "name"))

    notes = pd.read_csv(ref_dir / NOTES_FILE, dtype=str, keep_default_na=False)
    notes = notes[notes["level"] == "4"]
    part = ""  # '' before any marker, 'in' after ◇, 'out' after ◆ — per class
    current = ""
    for code, kind, col_d, col_e in zip(
        notes["code"], notes["kind"], notes["col_d"], notes["col_e"], strict=True
    ):
        if code != current:
            current, part = code, ""
            children.setdefault(code[:3], [])
            if code not in children[code[:3]]:  # 2019 修改单 classes missing from the code list
                children[code[:3]].append(code)
                children.setdefault(code[:2], []).append(code)
        if kind == "include_heading":
            part = "in"
        elif kind == "exclude_heading":
            part = "out"
            continue
        # A definition's own 「；不包括…」 tail points away from the class: cut it off.
        text = _EXCLUSION_TAIL.sub("", (col_e or col_d).strip())
        if not text or _HEADING_ONLY.search(text):
            continue
        if kind == "name":
            rows.append((col_d, code, 1.0, "name"))
        elif kind == "include_heading":
            rows.append((text, code, 1.0, "definition"))
        elif kind == "text" and part != "out":
            rows.append((text, code, 1.0, "definition" if part == "" else "notes_item"))
        elif kind == "item" and part != "out":
            rows.append((text, code, 1.0, "notes_item"))
        elif kind == "item" and part == "out":
            # 「钟表发条制造，列入4030（…）」 is evidence for 4030 only; lines sent to a 中类, a
            # 大类 or several classes are dropped rather than guessed.
            head, *tails = _SENT_TO.split(text)
            sent_to = _CODE.findall(" ".join(tails))
            if len(tails) == 1 and len(sent_to) == 1 and len(sent_to[0]) == 4:
                phrase = head.strip("。；;，, ")
                if len(phrase) >= 2:
                    rows.append((phrase, sent_to[0], 1.0, "notes_sent_to"))

    scope = pd.read_csv(ref_dir / SCOPE_FILE, dtype=str, keep_default_na=False)
    for phrase, parsed in zip(
        scope["经营范围表述条目"], scope["gbt4754_codes_parsed"], strict=True
    ):
        spread: list[tuple[str, float]] = []
        codes_here = [c for c in parsed.split(";") if c]
        for c in codes_here:
            kids = [c] if len(c) == 4 else children.get(c, [])
            spread += [(k, 1.0 / (len(kids) * len(codes_here))) for k in kids]
        phrase = _SCOPE_QUALIFIER.sub("", phrase)
        for k, w in spread:
            rows.append((phrase, k, w, "scope"))

    tags = pd.read_csv(ref_dir / TAGS_FILE, dtype=str, keep_default_na=False)
    for code, products in zip(tags["gbt4754_code"], tags["products"], strict=True):
        for product in re.split(r"[；;]", products):
            if len(product.strip()) >= 2:
                rows.append((product.strip(), code, 1.0, "tag_product"))

    df = pd.DataFrame(rows, columns=["text", "code", "weight", "source"])
    df = df[df["text"].str.len() >= 2]
    # The same phrase with the same class twice (a tag product copied into the notes) counts once.
    df = df.sort_values("weight", ascending=False, kind="stable")
    df = df.drop_duplicates(["text", "code"]).sort_index().reset_index(drop=True)
    return df


def official_training_set(ref_dir: Path) -> tuple[list[str], list[str]]:
    """(texts, 4-digit codes) of every official phrase; see `official_samples` for weights."""
    df = official_samples(ref_dir)
    return list(df["text"]), list(df["code"])


# -- the classifier -------------------------------------------------------------------------------
# Up to this many texts per product are scored through one dense block (a request's main business
# and its scope items); more go through sparse products, whose cost grows with the texts.
DENSE_ROWS = 32


def _sparse_coef(coef: np.ndarray, prune: float) -> sparse.csr_matrix:
    """(n_features, n_outputs) float32 CSR of a linear model's weights, |w| < prune dropped.

    Dense weights over ~200,000 n-gram features for every division would take ~80 MB; the small
    ones change no ranking that matters (checked on the validation split)."""
    out, feature = np.nonzero(np.abs(coef) >= prune)
    return sparse.csr_matrix(
        (coef[out, feature].astype(np.float32), (feature, out)),
        shape=(coef.shape[1], coef.shape[0]),
    )


class _TfidfRows:
    """A fitted `TfidfVectorizer`'s `transform` (sublinear tf × idf, L2 rows, float32), computed
    with the same kernels but without its per-call validation: one short text costs ~0.1 ms
    instead of ~1 ms."""

    def __init__(self, vec: TfidfVectorizer) -> None:
        self.analyze = vec.build_analyzer()
        self.vocabulary = vec.vocabulary_
        self.idf = vec.idf_.astype(np.float32)

    def rows(self, docs: Sequence[str]) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per document, its sorted feature indices and their normalised weights."""
        vocab, cols_out, vals_out = self.vocabulary, [], []
        for doc in docs:
            counts: dict[int, int] = {}
            for token in self.analyze(doc):
                j = vocab.get(token)
                if j is not None:
                    counts[j] = counts.get(j, 0) + 1
            cols = np.fromiter(counts, dtype=np.int32, count=len(counts))
            vals = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            order = np.argsort(cols, kind="stable")
            cols, vals = cols[order], vals[order]
            np.log(vals, out=vals)
            vals += 1.0
            vals *= self.idf[cols]
            cols_out.append(cols)
            vals_out.append(vals)
        return cols_out, vals_out


def _l2_rows(vals: list[np.ndarray]) -> list[np.ndarray]:
    """Each row over its L2 norm, with the arithmetic of sklearn's `inplace_csr_row_normalize_l2`
    (float32 squares summed in order in float64, float32 ÷ float64 rounded to float32), so the
    values are equal to the last bit; an empty or all-zero row stays as it is."""
    out = []
    for v in vals:
        total = np.cumsum(v * v, dtype=np.float64)[-1] if len(v) else 0.0
        out.append((v / np.sqrt(total)).astype(np.float32) if total != 0.0 else v)
    return out


class _Serving:
    """What scoring one request needs, derived once from a fitted classifier (never pickled): the
    two analysers with their vocabularies, and the three linear parts (class centroids, division
    and within-division weights) side by side, so that a text's scores are one product."""

    def __init__(self, clf: IndustryClassifier) -> None:
        self.chars = _TfidfRows(clf.char_vec_)
        self.words = _TfidfRows(clf.word_vec_)
        self.n_chars = len(clf.char_vec_.vocabulary_)
        self.n_features = clf.train_x_t_.shape[0]
        self.word_weight = clf.word_weight
        self.linear = sparse.hstack(
            [clf.centroids_t_, clf.division_coef_, clf.within_coef_], format="csr"
        ).astype(np.float32)
        n_classes, n_div = clf.centroids_t_.shape[1], clf.division_coef_.shape[1]
        self.parts = {
            "centroids": slice(0, n_classes),
            "division": slice(n_classes, n_classes + n_div),
            "within": slice(n_classes + n_div, 2 * n_classes + n_div),
        }

    def featurize(self, norm: Sequence[str]) -> sparse.csr_matrix:
        """`IndustryClassifier._combine` of the two vectorisers' rows, value for value."""
        c_cols, c_vals = self.chars.rows([_chars(t) for t in norm])
        w_cols, w_vals = self.words.rows(norm)
        cols = [np.concatenate([c, w + self.n_chars]) for c, w in zip(c_cols, w_cols, strict=True)]
        vals = _l2_rows(
            [
                np.concatenate([c, w * self.word_weight])
                for c, w in zip(_l2_rows(c_vals), _l2_rows(w_vals), strict=True)
            ]
        )
        indptr = np.zeros(len(cols) + 1, dtype=np.int32)
        np.cumsum([len(c) for c in cols], out=indptr[1:])
        return sparse.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0, np.float32),
                np.concatenate(cols) if cols else np.zeros(0, np.int32),
                indptr,
            ),
            shape=(len(cols), self.n_features),
        )

    def linear_parts(self, x: sparse.csr_matrix) -> dict[str, np.ndarray]:
        """Dense `x @ centroids_t_`, `x @ division_coef_` and `x @ within_coef_`, equal to the
        sparse products: only the rows of the features the texts use, summed in feature order."""
        used = np.unique(x.indices)
        dense = np.zeros((x.shape[0], len(used)), dtype=np.float32)
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        dense[rows, np.searchsorted(used, x.indices)] = x.data
        out = dense @ self.linear[used]
        return {k: out[:, s] for k, s in self.parts.items()}


class IndustryClassifier(BaseEstimator, ClassifierMixin):
    """Text → probabilities over GB/T 4754-2017 小类.

    A class's score adds three parts, all on features of TF-IDF character 1–3-grams and jieba words
    (each block L2-normalised, the words weighted `word_weight`):

    - *retrieval*: the similarity-weighted vote of the `n_neighbors` nearest training phrases,
      mixed with the cosine to the class's pooled phrases (`centroid_weight`);
    - *division*: a linear SVM over the 97 大类 (a class gets its division's margin,
      × `division_weight`), which learns which n-grams tell industries apart;
    - *within*: per 大类, a linear SVM between its 小类 (× `within_weight`).

    A softmax with `temperature` turns the sum into probabilities. A flat SVM over all 1,382 classes
    is about as accurate but takes minutes to fit; the two levels take seconds.

    Parameters
    ----------
    n_neighbors : int
        Phrases voting for each text.
    centroid_weight : float
        Share of the retrieval score taken from the pooled-class cosine (the rest from the vote).
    word_weight : float
        Weight of the word block against the character block.
    division_weight, within_weight, retrieval_weight : float
        Weights of the three parts; 0 switches a part off (and skips fitting it).
    C : float
        Inverse regularisation of both SVM levels.
    temperature : float
        Softmax temperature over class scores; lower is more confident.
    prune : float
        SVM weights below this in magnitude are dropped (model size).
    random_state : int
        Seed of the SVM solvers' coordinate order (results are deterministic).
    """

    def __init__(
        self,
        n_neighbors: int = 20,
        centroid_weight: float = 0.5,
        word_weight: float = 0.5,
        division_weight: float = 1.0,
        within_weight: float = 0.5,
        retrieval_weight: float = 1.0,
        C: float = 2.0,
        temperature: float = 0.2,
        prune: float = 0.05,
        random_state: int = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.centroid_weight = centroid_weight
        self.word_weight = word_weight
        self.division_weight = division_weight
        self.within_weight = within_weight
        self.retrieval_weight = retrieval_weight
        self.C = C
        self.temperature = temperature
        self.prune = prune
        self.random_state = random_state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        _tokenizer()  # load the private jieba dictionary (~0.7 s) with the model, not mid-request

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_serving", None)  # derived from the fitted state: rebuilt, never pickled
        return state

    def _serving_state(self) -> _Serving:
        serving: _Serving | None = self.__dict__.get("_serving")
        if serving is None:
            serving = self._serving = _Serving(self)
        return serving

    # features
    def _featurize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """What `_combine(char_vec_.transform(…), word_vec_.transform(…))` gives, value for value,
        without the vectorisers' per-call validation (most of a one-text request's cost)."""
        return self._serving_state().featurize([normalize_text(t) for t in texts])

    def _combine(self, chars: sparse.csr_matrix, words: sparse.csr_matrix) -> sparse.csr_matrix:
        x = sparse.hstack([chars, self.word_weight * words], format="csr")
        return l2_normalize(x).astype(np.float32)

    def _fit_svm(self, x: sparse.csr_matrix, y: np.ndarray, w: np.ndarray) -> LinearSVC:
        # A loose tolerance and few iterations: the margins only rank, and fitting stays within
        # seconds. Hence no convergence warnings, nor the "many classes for few samples" one that
        # small divisions (one phrase per class) raise.
        svm = LinearSVC(C=self.C, tol=1e-1, max_iter=50, random_state=self.random_state)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message="The number of unique classes")
            return svm.fit(x, y, sample_weight=w)

    def fit(
        self,
        X: Sequence[str],
        y: Sequence[str],
        sample_weight: Sequence[float] | None = None,
    ) -> IndustryClassifier:
        texts = [str(t) for t in X]
        labels = np.asarray([str(c) for c in y])
        if len(texts) != len(labels) or not texts:
            raise ValueError("X and y must be non-empty and of equal length")
        w = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, float)
        norm = [normalize_text(t) for t in texts]
        # fit_transform tokenises each phrase once (jieba is most of the featurising time).
        self.char_vec_ = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, dtype=np.float32
        )
        chars = self.char_vec_.fit_transform([_chars(t) for t in norm])
        self.word_vec_ = TfidfVectorizer(
            analyzer=_words, sublinear_tf=True, min_df=1, dtype=np.float32
        )
        words = self.word_vec_.fit_transform(norm)
        self.classes_, y_idx = np.unique(labels, return_inverse=True)
        n_classes = len(self.classes_)
        xt = self._combine(chars, words)
        self.train_x_t_ = xt.T.tocsr()  # (n_features, n_phrases): one product per query
        self.train_y_ = y_idx.astype(np.int32)
        self.train_w_ = w.astype(np.float32)
        onehot = sparse.csr_matrix(
            (w, (y_idx, np.arange(len(texts)))), shape=(n_classes, len(texts))
        )
        self.centroids_t_ = l2_normalize(onehot @ xt).T.tocsr().astype(np.float32)

        divisions, self.class_division_ = np.unique(
            [c[:2] for c in self.classes_], return_inverse=True
        )
        y_div = self.class_division_[y_idx]
        n_features = xt.shape[1]
        self.division_coef_ = sparse.csr_matrix((n_features, len(divisions)), dtype=np.float32)
        self.division_intercept_ = np.zeros(len(divisions), dtype=np.float32)
        if self.division_weight and len(divisions) > 1:
            svm = self._fit_svm(xt, y_div, w)
            coef, icpt = svm.coef_, svm.intercept_
            if len(divisions) == 2:  # liblinear keeps one vector for two labels
                coef, icpt = np.vstack([-coef, coef]), np.r_[-icpt, icpt]
            self.division_coef_ = _sparse_coef(coef, self.prune)
            self.division_intercept_ = icpt.astype(np.float32)

        rows_, cols_, vals_ = [], [], []  # the within-division weights, (n_features, n_classes)
        self.within_intercept_ = np.zeros(n_classes, dtype=np.float32)
        if self.within_weight:
            for d in range(len(divisions)):
                rows = np.flatnonzero(y_div == d)
                if len(np.unique(y_idx[rows])) < 2:
                    continue
                svm = self._fit_svm(xt[rows], y_idx[rows], w[rows])
                coef, icpt = svm.coef_, svm.intercept_
                if len(svm.classes_) == 2:
                    coef, icpt = np.vstack([-coef, coef]), np.r_[-icpt, icpt]
                block = _sparse_coef(coef, self.prune).tocoo()
                rows_.append(block.row)
                cols_.append(svm.classes_[block.col])
                vals_.append(block.data)
                self.within_intercept_[svm.classes_] = icpt
        self.within_coef_ = sparse.csr_matrix(
            (
                np.concatenate(vals_) if vals_ else np.zeros(0, np.float32),
                (
                    np.concatenate(rows_) if rows_ else np.zeros(0, int),
                    np.concatenate(cols_) if cols_ else np.zeros(0, int),
                ),
            ),
            shape=(n_features, n_classes),
            dtype=np.float32,
        )
        return self

    def _retrieval(self, x: sparse.csr_matrix, cent: np.ndarray) -> np.ndarray:
        n, n_classes = x.shape[0], len(self.classes_)
        sims = sparse.csr_matrix(x @ self.train_x_t_)
        vote = np.zeros((n, n_classes))
        top_sim = np.zeros((n, 1))
        for i in range(n):
            lo, hi = sims.indptr[i], sims.indptr[i + 1]
            if hi == lo:
                continue
            data, idx = sims.data[lo:hi], sims.indices[lo:hi]
            if hi - lo > self.n_neighbors:
                keep = np.argpartition(-data, self.n_neighbors - 1)[: self.n_neighbors]
                data, idx = data[keep], idx[keep]
            np.add.at(vote[i], self.train_y_[idx], data * self.train_w_[idx])
            top_sim[i] = data.max()
        best = vote.max(axis=1, keepdims=True)
        # The vote is rescaled so that its best class scores the best phrase's cosine.
        vote = vote / np.where(best > 0, best, 1.0) * top_sim
        return (1 - self.centroid_weight) * vote + self.centroid_weight * cent

    def _linear_parts(self, x: sparse.csr_matrix) -> dict[str, np.ndarray]:
        """The dense products of `x` with the centroids and both SVM levels. A request's few texts
        go through `_Serving.linear_parts` (one small product); a batch, whose dense block over
        every feature it uses would be large, through the sparse products. Both give equal values."""
        if x.shape[0] <= DENSE_ROWS:
            return self._serving_state().linear_parts(x)
        return {
            "centroids": (x @ self.centroids_t_).toarray(),
            "division": (x @ self.division_coef_).toarray(),
            "within": (x @ self.within_coef_).toarray(),
        }

    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        """(n, n_classes) class scores before the softmax."""
        check_is_fitted(self, "classes_")
        x = self._featurize([str(t) for t in X])
        parts = self._linear_parts(x)
        score = np.zeros((x.shape[0], len(self.classes_)))
        if self.retrieval_weight:
            score += self.retrieval_weight * self._retrieval(x, parts["centroids"])
        if self.division_weight:
            div = parts["division"] + self.division_intercept_
            score += self.division_weight * div[:, self.class_division_]
        if self.within_weight:
            within = parts["within"] + self.within_intercept_
            score += self.within_weight * within
        return score

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """(n, n_classes), each row summing to 1; columns follow `classes_`."""
        z = self.decision_function(X) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]

    def rank(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Top-k (code, probability) for one enterprise text, reading it as a business scope.

        Each item of `parse_scope` is classified; the item distributions are averaged with the
        items' weights (making counts above selling), half and half with the distribution of the
        main business read as one text (the items of the weightiest activity), so both a list of
        products and a single sentence are read sensibly.
        """
        p = self.proba_of_text(text)
        order = np.argsort(-p)[:k]
        return [(str(self.classes_[i]), float(p[i])) for i in order]

    def proba_of_text(self, text: str) -> np.ndarray:
        """(n_classes,) distribution of one enterprise text (see `rank`)."""
        return self.proba_of_texts([text])[0]

    def proba_of_texts(self, texts: Sequence[str], chunk: int = 512) -> np.ndarray:
        """(n, n_classes): `proba_of_text` of many texts, all their parts classified in batches
        (a pool of thousands costs a few matrix products, not thousands of small ones)."""
        parts: list[str] = []
        owner: list[int] = []
        weight: list[float] = []  # < 0 marks the text's main business read as one
        for i, text in enumerate(texts):
            items = parse_scope(text)
            if not items:
                parts.append(text)
                owner.append(i)
                weight.append(-1.0)
                continue
            # A made item is classified as made: 「…研发、生产和销售」 reads as 「…生产」, else the
            # 销售 phrases of the scope catalogue pull it towards wholesale classes.
            item_texts = [
                _SECONDARY_VERBS.sub("", it.text) if it.activity == "make" else it.text
                for it in items
            ]
            # The main business read as a whole: the items of the weightiest activity, together.
            top_weight = max(it.weight for it in items)
            main = "；".join(
                t for t, it in zip(item_texts, items, strict=True) if it.weight == top_weight
            )
            parts += [main, *item_texts]
            owner += [i] * (len(items) + 1)
            weight += [-1.0] + [it.weight for it in items]
        n_classes = len(self.classes_)
        # A text whose main business is one item holds that part twice: classify it once.
        distinct, where = np.unique(np.asarray(parts, dtype=object), return_inverse=True)
        unique = [str(t) for t in distinct]
        probs = (
            np.vstack(
                [self.predict_proba(unique[a : a + chunk]) for a in range(0, len(unique), chunk)]
            )[where]
            if parts
            else np.zeros((0, n_classes))
        )
        own, w = np.asarray(owner, dtype=np.int64), np.asarray(weight)
        whole = np.zeros((len(texts), n_classes))
        mixed = np.zeros_like(whole)
        total = np.zeros(len(texts))
        is_whole = w < 0
        whole[own[is_whole]] = probs[is_whole]
        np.add.at(mixed, own[~is_whole], w[~is_whole, None] * probs[~is_whole])
        np.add.at(total, own[~is_whole], w[~is_whole])
        has_items = total > 0
        out = whole
        out[has_items] = 0.5 * whole[has_items] + 0.5 * mixed[has_items] / total[has_items, None]
        return out

    def rank_many(self, texts: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        """`rank` of many texts, classified in batches."""
        p = self.proba_of_texts(texts)
        order = np.argsort(-p, axis=1)[:, :k]
        return [
            [(str(self.classes_[j]), float(p[i, j])) for j in order[i]] for i in range(len(texts))
        ]


@dataclass(frozen=True)
class CodeSupport:
    """How far a text supports a declared GB/T code: the input of the code-vs-text rule.

    `level` is the finest level at which they agree — 'class' when the code's 小类 is among the
    text's top `k`, 'group' / 'division' when the text puts at least `min_mass` of its probability
    under the code's 中类 / 大类 — or 'none' when the text points elsewhere (a contradiction the
    matcher warns about). `mass` holds the probability under the code at each level given.
    """

    code: str
    level: str  # 'class' | 'group' | 'division' | 'none'
    mass: dict[str, float]  # {'class': p, 'group': p, 'division': p} for the levels the code names
    text_top: tuple[tuple[str, float], ...]


_GBT_CODE = re.compile(r"^[A-Ta-t]?(\d{2,4})$")


def code_support(
    clf: IndustryClassifier, text: str, code: str, k: int = 10, min_mass: float = 0.2
) -> CodeSupport:
    """Compare a declared code (「C3482」, 「3482」, 「348」 or 「34」) with what the text says."""
    m = _GBT_CODE.match(code.strip())
    if not m:
        raise ValueError(f"industry_code {code!r} is not a GB/T 4754 code")
    digits = m.group(1)
    p = clf.proba_of_text(text)
    classes = clf.classes_.astype(str)
    mass: dict[str, float] = {}
    for level, n in (("class", 4), ("group", 3), ("division", 2)):
        if len(digits) >= n:
            mass[level] = float(p[np.char.startswith(classes, digits[:n])].sum())
    order = np.argsort(-p)
    top = tuple((str(classes[i]), float(p[i])) for i in order[:k])
    if len(digits) == 4 and digits in {c for c, _ in top}:
        level = "class"
    elif mass.get("group", 0.0) >= min_mass:
        level = "group"
    elif mass.get("division", 0.0) >= min_mass:
        level = "division"
    else:
        level = "none"
    return CodeSupport(code=digits, level=level, mass=mass, text_top=top)


def fit_official(ref_dir: Path | None = None) -> IndustryClassifier:
    """The classifier fitted on every official phrase under `ref_dir` (default data/reference)."""
    df = official_samples(ref_dir)
    return IndustryClassifier().fit(list(df["text"]), list(df["code"]), list(df["weight"]))
