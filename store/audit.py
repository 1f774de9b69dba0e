"""The match audit, written off the request path: one writer thread commits the rows in the order
they were answered, several to a transaction, and drains what is queued before the service stops."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from store.orm import MatchRequest, utcnow

log = logging.getLogger("investmatch")

# Rows waiting at most: a request that finds the queue full waits for room (never drops its row).
QUEUE_ROWS = 1024
BATCH_ROWS = 64  # rows committed in one transaction at most

_WRITERS: weakref.WeakSet[AuditWriter] = weakref.WeakSet()


@dataclass(frozen=True)
class AuditRow:
    """One answered match, as the audit keeps it."""

    request_id: str
    model_version: str | None
    request: dict[str, Any]
    response: dict[str, Any]
    duration_ms: float
    channel: str
    created_at: datetime = field(default_factory=utcnow)  # when answered, not when written

    def orm(self) -> MatchRequest:
        return MatchRequest(
            request_id=self.request_id,
            model_version=self.model_version,
            request=self.request,
            response=self.response,
            duration_ms=self.duration_ms,
            channel=self.channel,
            created_at=self.created_at,
        )


class AuditWriter:
    """A bounded queue of `AuditRow`s and the one thread that writes them.

    `submit` returns at once (or waits while `QUEUE_ROWS` rows are pending); `flush` waits until
    every row submitted before it is committed or, if the database refused it, logged; `close`
    flushes and stops the thread. Writing stays best effort, as it was inline: a row the database
    refuses is logged with its request id and does not hold back the others.
    """

    def __init__(self, sessions: sessionmaker[Session], max_rows: int = QUEUE_ROWS) -> None:
        self._sessions = sessions
        self._queue: queue.Queue[AuditRow | None] = queue.Queue(maxsize=max_rows)
        self._done = threading.Condition()
        self._submitted = 0  # rows submitted so far (guarded by _done)
        self._settled = 0  # rows written or given up, in submission order (guarded by _done)
        self._gate = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="match-audit", daemon=True)
        self._thread.start()
        _WRITERS.add(self)
        # A process that ends without the app's shutdown (a script, a test) still writes its rows.
        atexit.register(self.close)

    def submit(self, row: AuditRow) -> None:
        # The gate orders submits against `close`: no row can land behind the stop marker. The
        # writer never takes it, so a submit waiting for room holds it safely.
        with self._gate:
            if self._closed:  # the service has stopped: write it here rather than lose it
                self._write([row])
                return
            with self._done:
                self._submitted += 1
            self._queue.put(row)

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row submitted so far is settled; False if `timeout` ran out first."""
        with self._done:
            target = self._submitted
            return self._done.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued and stop the thread (idempotent)."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)
        atexit.unregister(self.close)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first] if first is not None else []
            stop = first is None
            while not stop and len(batch) < BATCH_ROWS:
                try:
                    row = self._queue.get_nowait()
                except queue.Empty:
                    break
                if row is None:
                    stop = True
                else:
                    batch.append(row)
            if batch:
                self._write(batch)
                with self._done:
                    self._settled += len(batch)
                    self._done.notify_all()
            if stop:
                return

    def _write(self, batch: list[AuditRow]) -> None:
        """Commit the batch; if the database refuses it, each row alone, so that one row it
        refuses costs the others nothing."""
        if len(batch) > 1 and self._commit(batch) is None:
            return
        for row in batch:
            error = self._commit([row])
            if error is not None:
                log.warning(
                    "match %s answered but not audited: %s",
                    row.request_id,
                    error.__class__.__name__,
                )

    def _commit(self, rows: list[AuditRow]) -> Exception | None:
        try:
            with self._sessions.begin() as session:
                session.add_all([r.orm() for r in rows])
        # Any error, not only the database's: the thread must outlive a row it cannot write, or
        # every later request would wait on a full queue.
        except Exception as exc:  # noqa: BLE001
            return exc
        return None


def flush_all(timeout: float | None = 30.0) -> bool:
    """Flush every audit writer of this process (for readers that must see the rows, e.g. tests)."""
    return all(w.flush(timeout) for w in list(_WRITERS))
