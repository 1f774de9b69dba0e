"""The text featuriser: policy terms matched whole, TF-IDF equal to scikit-learn's, pickling."""

from __future__ import annotations

import pickle

import jieba
import numpy as np
import pytest

from features.kb import KnowledgeBase
from features.text import SegmentTextFeaturizer, normalize


@pytest.fixture(scope="module")
def text(kb: KnowledgeBase) -> SegmentTextFeaturizer:
    return SegmentTextFeaturizer().fit(kb)


@pytest.mark.parametrize(
    "sample",
    [
        "主要从事工业机器人减速器、伺服电机的研发与生产",
        "羊绒纱线；羊绒衫",
        "",
        "ABC ｄｅｆ 123",
        "钢铁冶炼，生产汽车板" * 20,
    ],
)
def test_cosines_equal_sklearn_transform(text: SegmentTextFeaturizer, sample: str) -> None:
    ours = text._cosines(normalize(sample))
    vec = text.vectorizer_.transform([normalize(sample)])
    theirs = np.asarray((text.segment_matrix_ @ vec.T).todense()).ravel()
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def test_longest_policy_term_wins(text: SegmentTextFeaturizer) -> None:
    found = text.match_terms("研发新能源汽车动力电池")
    assert "新能源汽车" in found and "动力电池" in found


def test_pickle_round_trip_scores_the_same(text: SegmentTextFeaturizer) -> None:
    again = pickle.loads(pickle.dumps(text))
    sample = "生产高效光伏电池组件和逆变器"
    np.testing.assert_array_equal(
        again.transform_one(sample).scores, text.transform_one(sample).scores
    )


def _jieba_state() -> tuple[int, int, list[str]]:
    jieba.dt.check_initialized()
    return len(jieba.dt.FREQ), jieba.dt.total, jieba.lcut(SEGMENTED)


SEGMENTED = "研发新能源汽车动力电池和高强汽车板，工业机器人减速器"


def test_fit_and_unpickling_leave_jiebas_own_dictionary_alone(kb: KnowledgeBase) -> None:
    before = _jieba_state()
    fitted = SegmentTextFeaturizer().fit(kb)
    again = pickle.loads(pickle.dumps(fitted))
    assert _jieba_state() == before
    # The featuriser still keeps the policy's terms whole, with a tokenizer of its own.
    for featurizer in (fitted, again):
        words = featurizer.tokenize(SEGMENTED)
        assert "新能源汽车" in words and "高强汽车板" in words
    assert "高强汽车板" not in jieba.lcut(SEGMENTED)
