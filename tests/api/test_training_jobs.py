"""The training job table: an administrator can look up recent jobs, and starting jobs over and
over does not grow the service's memory without bound."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import pytest

import api.training
from api.training import MAX_JOBS, Trainer


def test_trainer_keeps_only_the_most_recent_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    def fails_at_once(*args: Any, **kwargs: Any) -> None:
        raise ValueError("数据库中没有企业历史数据，无法训练")

    # Each job fails at once: what is under test is the job table, not training.
    monkeypatch.setattr(api.training, "train_new_version", fails_at_once)
    trainer = Trainer(None, None, None, SimpleNamespace(matcher=None))  # type: ignore[arg-type]
    started = []
    for _ in range(MAX_JOBS + 15):
        job = trainer.start()
        assert job is not None
        trainer.wait(timeout=30)
        assert job.status == "failed" and "无法训练" in (job.message or "")
        started.append(job.job_id)
    assert len(trainer.jobs) == MAX_JOBS
    assert list(trainer.jobs) == started[-MAX_JOBS:]  # the newest are kept, oldest first
    assert started[0] not in trainer.jobs


def test_trainer_never_forgets_the_running_job(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def blocks(*args: Any, **kwargs: Any) -> None:
        release.wait(30)
        raise ValueError("停止")

    monkeypatch.setattr(api.training, "train_new_version", blocks)
    trainer = Trainer(None, None, None, SimpleNamespace(matcher=None), max_jobs=1)  # type: ignore[arg-type]
    running = trainer.start()
    assert running is not None
    assert trainer.start() is None  # one at a time: the running job is not pushed out
    assert list(trainer.jobs) == [running.job_id]
    release.set()
    trainer.wait(timeout=30)
    following = trainer.start()
    assert following is not None
    trainer.wait(timeout=30)
    assert list(trainer.jobs) == [following.job_id]
