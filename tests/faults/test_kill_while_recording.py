"""The server is killed (SIGKILL) while interactions are being recorded: after a restart, every
interaction that was acknowledged (201, or 200 for a replay) is in the database, once, as sent;
and the requests that were cut off can be retried with their keys without being recorded twice."""

from __future__ import annotations

import os
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.settings import Settings
from features.kb import KnowledgeBase
from store.db import get_engine, get_sessionmaker
from store.orm import Interaction
from tests.conftest import ADMIN_TOKEN, DB_PARAMS, _postgres_schema_url, provision
from tests.process import ServiceProcess

WRITERS = 4
ENTERPRISES = 20
KILL_AFTER = 60  # acknowledged writes before the kill
TIME_CAP = 90.0  # seconds; the loops are bounded in count too
PER_WRITER = 2000
KINDS = ["viewed", "contacted", "visited", "signed", "settled", "declined"]


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'app.db'}"
        return
    gen = _postgres_schema_url(os.environ["TEST_DATABASE_URL"])
    url = next(gen)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        next(gen, None)


class Writer(threading.Thread):
    """Sends interactions until the connection fails; keeps what was acknowledged and what was
    in flight when the server died."""

    def __init__(self, url: str, parks: list[str], seed: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.parks, self.stop = url, parks, stop
        self.rng = random.Random(seed)
        self.acked: dict[str, dict[str, object]] = {}
        self.in_flight: dict[str, dict[str, object]] = {}

    def run(self) -> None:
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as c:
            for _ in range(PER_WRITER):
                if self.stop.is_set():
                    return
                key = f"kill-{uuid.uuid4()}"
                body = {
                    "enterprise_id": self.rng.randint(1, ENTERPRISES),
                    "park_id": self.rng.choice(self.parks),
                    "kind": self.rng.choice(KINDS),
                    "note": key,
                }
                try:
                    r = c.post("/v1/interactions", json=body, headers={"Idempotency-Key": key})
                except httpx.TransportError:
                    self.in_flight[key] = body  # sent, answer lost: it may or may not be stored
                    return
                assert r.status_code == 201, r.text
                self.acked[key] = body


@pytest.mark.parametrize("kind", DB_PARAMS)
def test_no_acknowledged_interaction_is_lost_when_the_server_is_killed(
    kind: str, trained_settings: Settings, kb: KnowledgeBase, tmp_path: Path
) -> None:
    with database(kind, tmp_path) as url:
        provision(url, trained_settings, kb, enterprises=ENTERPRISES)
        parks = [p.park_id for p in kb.parks[:40]]
        log = tmp_path / "service.log"
        service = ServiceProcess(url, tmp_path, log, ADMIN_TOKEN=ADMIN_TOKEN).start()
        stop = threading.Event()
        writers = [Writer(service.url, parks, seed, stop) for seed in range(WRITERS)]
        try:
            for w in writers:
                w.start()
            deadline = time.monotonic() + TIME_CAP
            while sum(len(w.acked) for w in writers) < KILL_AFTER:
                assert time.monotonic() < deadline, "too few writes acknowledged in time"
                assert any(w.is_alive() for w in writers), "the writers stopped early"
                time.sleep(0.01)
            service.kill()  # mid-stream: the writers are still sending
            for w in writers:
                w.join(timeout=60)
        finally:
            stop.set()
            service.kill()
        acked = {k: v for w in writers for k, v in w.acked.items()}
        in_flight = {k: v for w in writers for k, v in w.in_flight.items()}
        assert len(acked) >= KILL_AFTER and in_flight, "the kill did not land mid-stream"

        with ServiceProcess(url, tmp_path, log, ADMIN_TOKEN=ADMIN_TOKEN) as again:
            get_engine(url).dispose()  # read what is on disk now, not a pooled view
            with get_sessionmaker(url)() as s:
                rows = s.scalars(
                    select(Interaction).where(Interaction.idempotency_key.like("kill-%"))
                ).all()
            by_key = {r.idempotency_key: r for r in rows}
            assert len(by_key) == len(rows)  # no key twice
            missing = sorted(set(acked) - set(by_key))
            assert not missing, f"{len(missing)} of {len(acked)} acknowledged writes lost"
            for key, body in acked.items():
                row = by_key[key]
                assert (row.enterprise_id, row.park_id, row.kind, row.note) == (
                    body["enterprise_id"],
                    body["park_id"],
                    body["kind"],
                    body["note"],
                )
            # A cut-off request is retried with its key: stored once whatever happened before.
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            with httpx.Client(base_url=again.url, headers=headers, timeout=30) as c:
                for key, body in in_flight.items():
                    r = c.post("/v1/interactions", json=body, headers={"Idempotency-Key": key})
                    assert r.status_code == (200 if key in by_key else 201), r.text
                total = c.get("/v1/interactions", params={"limit": 1}).json()["count"]
        assert total == len(rows) + sum(k not in by_key for k in in_flight)
        print(
            f"\nkill test ({kind}): {len(acked)} acknowledged before SIGKILL, all found after "
            f"restart; {len(in_flight)} in flight ({sum(k in by_key for k in in_flight)} had "
            f"been stored), retried once each"
        )
