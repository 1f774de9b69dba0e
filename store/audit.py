"""The match audit, written off the request path: one writer thread commits the rows in the order
they were answered, several to a transaction, and drains what is queued before the service stops."""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import weakref
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from store.orm import MatchRequest, utcnow

log = logging.getLogger("investmatch")

# Rows waiting at most: a request that finds the queue full waits for room (never drops its row).
QUEUE_ROWS = 1024
BATCH_ROWS = 64  # rows committed in one transaction at most
# How often the writer commits what is queued: one commit (one fsync on SQLite) serves every
# request answered meanwhile. `flush`, `close` and a half-full queue cut the wait short.
INTERVAL_S = 0.05
_STOP = object()  # queue marker: `close` was called

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

    def values(self) -> dict[str, Any]:
        """The `match_requests` row."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


class AuditWriter:
    """A bounded queue of `AuditRow`s and the one thread that writes them.

    `submit` returns at once (or waits while `QUEUE_ROWS` rows are pending); every `interval`
    seconds the thread commits what is queued in multi-row INSERTs; `flush` waits
    until every row submitted before it is committed or, if the database refused it, logged;
    `close` flushes and stops the thread. Writing stays best effort, as it was inline: a row the database
    refuses is logged with its request id and does not hold back the others.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        max_rows: int = QUEUE_ROWS,
        interval: float = INTERVAL_S,
    ) -> None:
        self._sessions = sessions
        self._interval = interval
        self._max_rows = max_rows
        self._queue: queue.Queue[AuditRow | object] = queue.Queue(maxsize=max_rows)
        self._wake = threading.Event()  # flush, close or a half-full queue: write now
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
            # Nobody waits on the queue, so this wakes no thread: a request does not hand the
            # GIL to the writer; the writer comes by itself every `interval`.
            self._queue.put(row)
            if self._queue.qsize() * 2 > self._max_rows:
                self._wake.set()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row submitted so far is settled; False if `timeout` ran out first."""
        with self._done:
            target = self._submitted
            if self._settled >= target:
                return True
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._settled >= target, timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Write what is queued and stop the thread (idempotent)."""
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
            self._wake.set()
        self._thread.join(timeout)
        atexit.unregister(self.close)

    def _run(self) -> None:
        stop = False
        while not stop:
            self._wake.wait(self._interval)
            self._wake.clear()
            while True:  # everything queued, `BATCH_ROWS` to a transaction
                batch, stop = self._take()
                if batch:
                    self._write(batch)
                    with self._done:
                        self._settled += len(batch)
                        self._done.notify_all()
                if stop or len(batch) < BATCH_ROWS:
                    break

    def _take(self) -> tuple[list[AuditRow], bool]:
        """Up to `BATCH_ROWS` queued rows, and whether the stop marker came after them."""
        batch: list[AuditRow] = []
        while len(batch) < BATCH_ROWS:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if not isinstance(item, AuditRow):
                return batch, True
            batch.append(item)
        return batch, False

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
                # one multi-row INSERT, without the unit of work's per-object bookkeeping
                session.execute(insert(MatchRequest), [r.values() for r in rows])
        # Any error, not only the database's: the thread must outlive a row it cannot write, or
        # every later request would wait on a full queue.
        except Exception as exc:  # noqa: BLE001
            return exc
        return None


def flush_all(timeout: float | None = 30.0) -> bool:
    """Flush every audit writer of this process (for readers that must see the rows, e.g. tests)."""
    return all(w.flush(timeout) for w in list(_WRITERS))
