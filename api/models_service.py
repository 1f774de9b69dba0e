"""Which matcher serves: the registered model version, loaded once and swapped atomically."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.errors import AppError, NotFound, database
from features.kb import KnowledgeBase
from recommender.bundle import BundleError, industry_classifier, load_bundle
from recommender.hybrid import Matcher
from recommender.train import fit_text
from store.orm import ModelVersion
from store.registry import activate, active_version, list_versions, unpin_all

log = logging.getLogger("investmatch")

# The version a matcher without a learned part answers as; the words say why it has none.
CONTENT_ONLY = "content-policy-only（未导入真实数据，协同部分未启用）"
CONTENT_ONLY_REFUSED = "content-policy-only（模型包不可用，协同部分未启用）"


class MatcherHolder:
    """Holds the serving matcher; readers take a reference, a swap replaces it in one assignment."""

    def __init__(self, matcher: Matcher) -> None:
        self._matcher = matcher
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Matcher], None]] = []

    @property
    def matcher(self) -> Matcher:
        return self._matcher

    def subscribe(self, listener: Callable[[Matcher], None]) -> None:
        """Call `listener` with each matcher swapped in (e.g. to index the lead pool for it)."""
        self._listeners.append(listener)

    def swap(self, matcher: Matcher) -> None:
        with self._lock:
            self._matcher = matcher
        for listener in list(self._listeners):
            listener(matcher)


def load_serving_matcher(
    kb: KnowledgeBase, sessions: sessionmaker[Session], cache_dir: Path | None = None
) -> Matcher:
    """The registered version (pinned, else newest active). A bundle that is missing, altered or
    from other library versions is refused with a logged reason, and the newest earlier version
    that loads serves instead; with none (or no database), a content-and-policy matcher does."""
    try:
        with sessions() as session:
            first = active_version(session)
            others = [
                m for m in list_versions(session) if first is None or m.version != first.version
            ]
            candidates = [(m.version, m.path) for m in ([first] if first else []) + others]
    except SQLAlchemyError as exc:
        log.warning("model registry unavailable (%s); serving content and policy scores only", exc)
        candidates = []
    for version, path in candidates:
        try:
            return load_bundle(path, kb)
        except BundleError as exc:
            log.error("model %s refused: %s", version, exc)
    if not candidates:
        log.warning("no registered model; serving content and policy scores only")
        version = CONTENT_ONLY
    else:
        version = CONTENT_ONLY_REFUSED
    return Matcher(kb, fit_text(kb), None, version=version, industry=industry_classifier(cache_dir))


def model_versions(sessions: sessionmaker[Session]) -> list[ModelVersion]:
    """Every registered version, newest first."""
    with database(), sessions() as session:
        return list(list_versions(session))


def switch_version(
    sessions: sessionmaker[Session],
    kb: KnowledgeBase,
    holder: MatcherHolder,
    version: str,
    *,
    pin: bool | None,
) -> ModelVersion:
    """Serve `version` (activate it, and pin or not); a broken bundle is refused before the
    registry is touched, so the serving version stays."""
    with database(), sessions() as session:
        mv = session.get(ModelVersion, version)
        path = mv.path if mv else None
    if path is None:
        raise NotFound(f"模型版本 '{version}' 不存在，请用 GET /v1/models 查看")
    try:
        matcher = load_bundle(path, kb)
    except BundleError as exc:
        raise AppError(f"无法启用：{exc}", code="bundle_invalid", status_code=422) from exc
    with database(), sessions.begin() as session:
        switched = activate(session, version, pin=pin)
        if switched is None:  # removed between the two reads
            raise NotFound(f"模型版本 '{version}' 不存在，请用 GET /v1/models 查看")
    holder.swap(matcher)
    return switched


def unpin(
    sessions: sessionmaker[Session], kb: KnowledgeBase, holder: MatcherHolder, cache_dir: Path
) -> None:
    """Lift every pin and serve what the registry then names."""
    with database(), sessions.begin() as session:
        unpin_all(session)
    holder.swap(load_serving_matcher(kb, sessions, cache_dir))
