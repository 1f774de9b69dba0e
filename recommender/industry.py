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
from collections.abc import Sequence
from pathlib import Path

import jieba
import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize as l2_normalize
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


def _words(text: str) -> list[str]:
    return [w for w in jieba.lcut(text) if len(w) > 1 and not _PUNCT.fullmatch(w)]


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
            targets = _CODE.findall(" ".join(tails))
            if len(tails) == 1 and len(targets) == 1 and len(targets[0]) == 4:
                phrase = head.strip("。；;，, ")
                if len(phrase) >= 2:
                    rows.append((phrase, targets[0], 1.0, "notes_sent_to"))

    scope = pd.read_csv(ref_dir / SCOPE_FILE, dtype=str, keep_default_na=False)
    for phrase, parsed in zip(
        scope["经营范围表述条目"], scope["gbt4754_codes_parsed"], strict=True
    ):
        targets: list[tuple[str, float]] = []
        codes_here = [c for c in parsed.split(";") if c]
        for c in codes_here:
            kids = [c] if len(c) == 4 else children.get(c, [])
            targets += [(k, 1.0 / (len(kids) * len(codes_here))) for k in kids]
        phrase = _SCOPE_QUALIFIER.sub("", phrase)
        for k, w in targets:
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


def _top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """(n, k) column indices of each row's k largest values (in no order).

    Exactly `argpartition` over the row, but partitioning only the entries within half of the
    row's maximum when there are at least k of them — a few dozen of ~28,000 phrases, so a pool
    of thousands is classified in seconds rather than minutes."""
    top = np.empty((len(sims), k), dtype=np.int64)
    mask = sims >= 0.5 * sims.max(axis=1, keepdims=True)
    counts = mask.sum(axis=1)
    for i in range(len(sims)):
        if counts[i] >= k:
            cand = np.flatnonzero(mask[i])
            top[i] = cand[np.argpartition(-sims[i, cand], k - 1)[:k]]
        else:
            top[i] = np.argpartition(-sims[i], k - 1)[:k]
    return top


# -- the classifier -------------------------------------------------------------------------------
class IndustryClassifier(BaseEstimator, ClassifierMixin):
    """Text → probabilities over GB/T 4754-2017 小类.

    A class's score mixes (a) the similarity-weighted vote of the `n_neighbors` most similar
    training phrases and (b) the cosine to the class's pooled phrases; a softmax with
    `temperature` turns scores into probabilities. Features: TF-IDF of character 1–3-grams and of
    jieba words, each L2-normalised, concatenated with `word_weight` on the words.

    Parameters
    ----------
    n_neighbors : int
        Phrases voting for each text.
    centroid_weight : float
        Share of the class score taken from the pooled-class cosine (the rest from the vote).
    temperature : float
        Softmax temperature over class scores; lower is more confident.
    word_weight : float
        Weight of the word block against the character block.
    """

    def __init__(
        self,
        n_neighbors: int = 20,
        centroid_weight: float = 0.5,
        temperature: float = 0.05,
        word_weight: float = 0.5,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.centroid_weight = centroid_weight
        self.temperature = temperature
        self.word_weight = word_weight

    # features
    def _featurize(self, texts: Sequence[str]) -> sparse.csr_matrix:
        norm = [normalize_text(t) for t in texts]
        chars = self.char_vec_.transform([_chars(t) for t in norm])
        words = self.word_vec_.transform(norm)
        x = sparse.hstack([chars, self.word_weight * words], format="csr")
        return l2_normalize(x)

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
        self.char_vec_ = TfidfVectorizer(
            analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=1, dtype=np.float32
        ).fit([_chars(t) for t in norm])
        self.word_vec_ = TfidfVectorizer(
            analyzer=_words, sublinear_tf=True, min_df=1, dtype=np.float32
        ).fit(norm)
        self.classes_, y_idx = np.unique(labels, return_inverse=True)
        xt = self._featurize(texts).astype(np.float32)
        self.train_x_t_ = xt.T.tocsr()  # (n_features, n_phrases): one product per query
        self.train_y_ = y_idx.astype(np.int32)
        self.train_w_ = w.astype(np.float32)
        onehot = sparse.csr_matrix(
            (w, (y_idx, np.arange(len(texts)))), shape=(len(self.classes_), len(texts))
        )
        self.centroids_t_ = l2_normalize(onehot @ xt).T.tocsr().astype(np.float32)
        return self

    def decision_function(self, X: Sequence[str]) -> np.ndarray:
        """(n, n_classes) class scores in [0, 1] before the softmax."""
        check_is_fitted(self, "classes_")
        x = self._featurize([str(t) for t in X]).astype(np.float32)
        n, n_classes = x.shape[0], len(self.classes_)
        sims = (x @ self.train_x_t_).toarray()  # (n, n_phrases)
        vote = np.zeros((n, n_classes), dtype=np.float64)
        k = min(self.n_neighbors, sims.shape[1])
        top = _top_k(sims, k)
        for i in range(n):
            s = sims[i, top[i]] * self.train_w_[top[i]]
            np.add.at(vote[i], self.train_y_[top[i]], s)
        best = vote.max(axis=1, keepdims=True)
        vote = vote / np.where(best > 0, best, 1.0) * sims.max(axis=1, keepdims=True)
        cent = (x @ self.centroids_t_).toarray()
        return (1 - self.centroid_weight) * vote + self.centroid_weight * cent

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
        items' weights (making counts above selling) together with the whole text's distribution,
        so both a list of products and a single sentence are read sensibly.
        """
        p = self.proba_of_text(text)
        order = np.argsort(-p)[:k]
        return [(str(self.classes_[i]), float(p[i])) for i in order]

    def proba_of_text(self, text: str) -> np.ndarray:
        """(n_classes,) distribution of one enterprise text (see `rank`)."""
        return self.proba_of_texts([text])[0]

    def proba_of_texts(self, texts: Sequence[str], chunk: int = 512) -> np.ndarray:
        """(n, n_classes): `proba_of_text` of many texts, their items classified in batches (a
        pool of thousands costs a few matrix products, not thousands of small ones)."""
        parts: list[str] = []
        owner: list[int] = []
        weight: list[float] = []  # < 0 marks a whole text
        for i, text in enumerate(texts):
            parts.append(text)
            owner.append(i)
            weight.append(-1.0)
            # A made item is classified as made: 「…研发、生产和销售」 reads as 「…生产」, else the
            # 销售 phrases of the scope catalogue pull it towards wholesale classes.
            for it in parse_scope(text):
                parts.append(
                    _SECONDARY_VERBS.sub("", it.text) if it.activity == "make" else it.text
                )
                owner.append(i)
                weight.append(it.weight)
        probs = (
            np.vstack(
                [self.predict_proba(parts[a : a + chunk]) for a in range(0, len(parts), chunk)]
            )
            if parts
            else np.zeros((0, len(self.classes_)))
        )
        own, w = np.asarray(owner), np.asarray(weight)
        whole = np.zeros((len(texts), len(self.classes_)))
        mixed = np.zeros_like(whole)
        total = np.zeros(len(texts))
        is_whole = w < 0
        whole[own[is_whole]] = probs[is_whole]
        np.add.at(mixed, own[~is_whole], w[~is_whole, None] * probs[~is_whole])
        np.add.at(total, own[~is_whole], w[~is_whole])
        has_items = total > 0
        out = whole.copy()
        out[has_items] = 0.5 * whole[has_items] + 0.5 * mixed[has_items] / total[has_items, None]
        return out

    def rank_many(self, texts: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        """`rank` of many texts, classified in batches."""
        p = self.proba_of_texts(texts)
        order = np.argsort(-p, axis=1)[:, :k]
        return [
            [(str(self.classes_[j]), float(p[i, j])) for j in order[i]] for i in range(len(texts))
        ]


def fit_official(ref_dir: Path | None = None) -> IndustryClassifier:
    """The classifier fitted on every official phrase under `ref_dir` (default data/reference)."""
    df = official_samples(ref_dir)
    return IndustryClassifier().fit(list(df["text"]), list(df["code"]), list(df["weight"]))
