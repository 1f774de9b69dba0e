"""Which matcher serves: the registered model version, loaded once and swapped atomically."""

from __future__ import annotations

import logging
import threading

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from features.kb import KnowledgeBase
from recommender.bundle import BundleError, load_bundle
from recommender.hybrid import Matcher
from recommender.train import fit_text
from store.registry import active_version

log = logging.getLogger("investmatch")

CONTENT_ONLY = "content-only"


class MatcherHolder:
    """Holds the serving matcher; readers take a reference, a swap replaces it in one assignment."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._lock = threading.Lock()

    @property
    def matcher(self) -> Matcher:
        return self._matcher

    def swap(self, matcher: Matcher) -> None:
        with self._lock:
            self._matcher = matcher


def load_serving_matcher(kb: KnowledgeBase, sessions: sessionmaker[Session]) -> Matcher:
    """The registered version; without one (or without a database) a content-and-policy matcher."""
    try:
        with sessions() as session:
            mv = active_version(session)
            path = mv.path if mv else None
    except SQLAlchemyError as exc:
        log.warning("model registry unavailable (%s); serving content and policy scores only", exc)
        path = None
    if path:
        try:
            return load_bundle(path, kb)
        except BundleError as exc:
            log.error("registered model refused: %s; serving content and policy scores only", exc)
    else:
        log.warning("no registered model; serving content and policy scores only")
    return Matcher(kb, fit_text(kb), None, version=CONTENT_ONLY)
