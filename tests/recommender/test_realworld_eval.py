"""The real-world split of `make eval`, on the public dev set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from features.kb import KnowledgeBase
from recommender.bundle import industry_classifier
from recommender.evaluate_realworld import METRICS, evaluate, load_cases, summary_markdown
from recommender.hybrid import Matcher
from recommender.train import fit_text


@pytest.mark.slow
def test_realworld_split_reports_every_model_and_beats_the_naive_baseline(
    kb: KnowledgeBase,
) -> None:
    cases = load_cases()
    assert len(cases) >= 120
    clf = industry_classifier(Path(os.environ["CACHE_DIR"]))
    m = Matcher(kb, fit_text(kb), None, version="content-only", industry=clf)
    out = evaluate(m, cases, log=lambda _: None)
    assert set(out["models"]) == {"naive_tfidf", "content", "hybrid"}  # nothing learned yet
    for model in out["models"].values():
        assert set(METRICS) <= set(model) and model["n"] == len(cases)
    ours, naive = out["models"]["hybrid"], out["models"]["naive_tfidf"]
    assert ours["city@3"] > naive["city@3"] + 0.05
    assert ours["chain@1"] > naive["chain@1"]
    assert set(out["cross_validation"]["chosen"]) == {"classes", "keyword", "zone", "mix"}
    assert "naive_tfidf" in summary_markdown(out)
