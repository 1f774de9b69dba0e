"""One knowledge base at run time: the KB in memory, the matcher's parks and the database's KB
tables agree. `load-kb`, run by another process, is picked up without a restart."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from api.models_service import load_serving_matcher
from features.kb import KBError, KnowledgeBase, load_kb
from store.kb_sync import synced_digest

if TYPE_CHECKING:
    from api.deps import AppState

log = logging.getLogger("investmatch")

CHECK_INTERVAL_SECONDS = 1.0


def serve_kb(state: AppState, kb: KnowledgeBase) -> None:
    """Serve `kb` from now on: pages, matching (a matcher built on its parks) and training."""
    matcher = load_serving_matcher(kb, state.sessions, state.settings.reference_cache)
    state.kb = kb
    state.trainer.kb = kb  # the next training run learns these parks
    state.holder.swap(matcher)


class KbWatcher:
    """A background thread that checks every `interval` seconds (one primary-key read) whether the
    database holds another KB than the one served and, if so, loads the KB files and serves them
    once their digest is the database's. Requests never wait for it: a database that is down only
    makes a check fail. A digest is acted on once, so a mismatch is not re-read every second."""

    def __init__(self, state: AppState, interval: float = CHECK_INTERVAL_SECONDS) -> None:
        self.state = state
        self.interval = interval
        self._seen: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kb-watcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:  # the watcher must outlive any one failed reload
                log.exception("knowledge base check failed; still serving %s", self.state.kb.digest)

    def check(self) -> None:
        """One check (the thread's step; tests call it directly)."""
        self._reload_if_synced(self.state)

    def _reload_if_synced(self, state: AppState) -> None:
        try:
            with state.sessions() as session:
                digest = synced_digest(session)
        except SQLAlchemyError:
            return
        if digest is None or digest == self._seen:
            return
        self._seen = digest
        if digest == state.kb.digest:
            return
        try:
            kb = load_kb(state.settings.data_dir)
        except KBError as exc:
            log.error(
                "knowledge base %s in the database, but the files do not load: %s", digest, exc
            )
            return
        if kb.digest != digest:
            log.warning(
                "knowledge base %s in the database, %s in %s: still serving %s",
                digest,
                kb.digest,
                state.settings.data_dir,
                state.kb.digest,
            )
            return
        serve_kb(state, kb)
        log.info("knowledge base %s loaded after load-kb: %d parks", kb.digest, len(kb.parks))
