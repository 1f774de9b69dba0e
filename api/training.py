"""Training new model versions: evaluate, register, and switch the service to it only if it is not
worse than the serving model on the same held-out enterprises. Used by the CLI and the HTTP API."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from api.models_service import MatcherHolder
from api.settings import Settings
from features.kb import KnowledgeBase
from recommender.bundle import industry_classifier, new_version, save_bundle
from recommender.evaluate_realworld import DEV_SET, choose_mix
from recommender.hybrid import Matcher
from recommender.metrics import Split
from recommender.registry import FIRM_PREFIX, placement_history
from recommender.train import TrainParams, data_hash, evaluate_on, holdout_split, train_matcher
from store.history import read_history
from store.placements import registry_placements
from store.registry import register

log = logging.getLogger("investmatch")

# A new version may score this much lower (NDCG@10) than the serving one and still replace it:
# retraining on the same data moves the figure by about this much from run to run.
TOLERANCE = 0.005
# Held-out enterprises scored per version: a registry of 100,000 firms holds out 10,000, and each
# is a full match; the first ones (a stable hash order) are enough to compare two versions.
MAX_EVAL_ENTERPRISES = 2000
# Finished jobs kept for GET /v1/models/train/{job_id}: enough to look back over a day of retraining,
# few enough that a client starting jobs in a loop cannot grow the process without bound.
MAX_JOBS = 50
Progress = Callable[[str, float], None]


@dataclass
class TrainOutcome:
    version: str
    metrics: dict[str, float]
    baseline: dict[str, float] | None
    switched: bool
    path: str
    matcher: Matcher = field(repr=False)


def capped(split: Split, n: int) -> Split:
    """The split with at most `n` held-out enterprises (and their interactions)."""
    if len(split.test_ents) <= n:
        return split
    test = split.test_ents.head(n)
    inter = split.test_inter[split.test_inter["enterprise_id"].isin(set(test["enterprise_id"]))]
    return Split(split.name, split.train_ents, split.train_inter, test, inter)


def _round(metrics: dict[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in metrics.items()}


def train_new_version(
    settings: Settings,
    kb: KnowledgeBase,
    sessions: sessionmaker[Session],
    current: Matcher | None,
    *,
    progress: Progress | None = None,
    force: bool = False,
) -> TrainOutcome:
    """Train on the database's history; register the version; activate it if not worse than
    `current` on the held-out enterprises (or if `force`, or if nothing serves yet)."""
    say = progress or (lambda stage, share: None)
    say("读取历史数据", 0.02)
    ents, inter = read_history(sessions)
    # Registered firms are real placements: each in its county place and that county's parks.
    firms = registry_placements(sessions)
    if len(firms):
        # Hook: pass classify=IndustryClassifier.predict (recommender/industry.py, issue-11-clf)
        # to give registry firms GB/T class features once that classifier is merged.
        reg_ents, reg_inter = placement_history(firms, kb.parks)
        ents = pd.concat([ents, reg_ents], ignore_index=True)
        inter = pd.concat([inter, reg_inter], ignore_index=True)
    if ents.empty or inter.empty:
        raise ValueError("数据库中没有企业登记名录或招商互动记录，无法训练（请先导入真实数据）")
    split = holdout_split(ents, inter)
    train_ids = set(split.train_ents["enterprise_id"])
    train_firms = firms[(FIRM_PREFIX + firms["firm_id"].astype(str)).isin(train_ids)]
    split = capped(split, MAX_EVAL_ENTERPRISES)
    t0 = time.perf_counter()
    params = TrainParams(epochs=settings.train_epochs, num_threads=settings.train_threads)
    version = new_version()
    matcher = train_matcher(
        kb,
        split.train_ents,
        split.train_inter,
        params,
        version=version,
        industry=industry_classifier(settings.reference_cache),
        progress=lambda share: say("训练模型", 0.05 + 0.75 * share),
        registry_firms=train_firms,
    )
    realworld: dict[str, float] = {}
    if DEV_SET.exists():
        # The learned part's share is chosen on real firms of public sources, never on the
        # placements it was trained on (issue 11: weights chosen on real cases).
        say("在公开真实案例上选择学习部分的权重", 0.8)
        mix, realworld = choose_mix(matcher)
        matcher.weights = replace(matcher.weights, content=1 - mix, collaborative=mix)
    say("评估新版本", 0.82)
    metrics = _round(evaluate_on(matcher, split))
    metrics.update({f"realworld_{k}": v for k, v in realworld.items() if k != "n"})
    metrics["learned_share"] = round(matcher.weights.collaborative, 4)
    metrics["train_seconds"] = round(time.perf_counter() - t0, 1)
    baseline = None
    if current is not None and current.collab is not None:
        say("评估当前版本", 0.9)
        baseline = _round(evaluate_on(current, split))
    switched = force or baseline is None or metrics["ndcg@10"] >= baseline["ndcg@10"] - TOLERANCE
    say("保存并登记", 0.96)
    dh = data_hash(ents, inter)
    path = save_bundle(matcher, settings.model_dir, data_hash=dh, metrics=metrics)
    try:
        with sessions.begin() as s:
            register(
                s,
                version,
                str(path),
                metrics={**metrics, "baseline": baseline},
                data_hash=dh,
                kb_digest=kb.digest,
                activate=switched,
            )
    except Exception:
        shutil.rmtree(path, ignore_errors=True)  # nothing registered: leave no orphan bundle
        raise
    say("完成", 1.0)
    log.info(
        "model %s: ndcg@10 %.4f (serving %s), %s",
        version,
        metrics["ndcg@10"],
        baseline and baseline["ndcg@10"],
        "activated" if switched else "kept as candidate",
    )
    return TrainOutcome(version, metrics, baseline, switched, str(path), matcher)


@dataclass
class TrainingJob:
    job_id: str
    status: str = "running"  # running | succeeded | rejected | failed
    stage: str = "排队中"
    progress: float = 0.0
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    finished_at: str | None = None
    version: str | None = None
    metrics: dict[str, Any] | None = None
    baseline_metrics: dict[str, Any] | None = None
    switched: bool = False
    message: str | None = None

    def public(self) -> dict[str, Any]:
        return asdict(self)


class Trainer:
    """Runs one training job at a time in a background thread; the service keeps answering."""

    def __init__(
        self,
        settings: Settings,
        kb: KnowledgeBase,
        sessions: sessionmaker[Session],
        holder: MatcherHolder,
        *,
        max_jobs: int = MAX_JOBS,
    ) -> None:
        self.settings, self.kb, self.sessions, self.holder = settings, kb, sessions, holder
        self.max_jobs = max_jobs
        self.jobs: dict[str, TrainingJob] = {}  # oldest first (insertion order)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def running(self) -> TrainingJob | None:
        return next((j for j in self.jobs.values() if j.status == "running"), None)

    def start(self, *, force: bool = False) -> TrainingJob | None:
        """Start a job, or return None when one is already running."""
        with self._lock:
            if self.running():
                return None
            job = TrainingJob(job_id=uuid.uuid4().hex[:12])
            self.jobs[job.job_id] = job
            # Forget the oldest jobs; none of them is running (checked above), so no progress
            # a client is watching disappears.
            for old in list(self.jobs)[: max(0, len(self.jobs) - self.max_jobs)]:
                del self.jobs[old]
            self._thread = threading.Thread(target=self._run, args=(job, force), daemon=True)
            self._thread.start()
            return job

    def wait(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self, job: TrainingJob, force: bool) -> None:
        def progress(stage: str, share: float) -> None:
            job.stage, job.progress = stage, round(share, 3)

        try:
            out = train_new_version(
                self.settings,
                self.kb,
                self.sessions,
                self.holder.matcher,
                progress=progress,
                force=force,
            )
        except Exception as exc:  # the job reports any failure; registry and service are unchanged
            log.exception("training job %s failed", job.job_id)
            job.status, job.message = "failed", f"训练失败，已保留当前版本：{exc}"
        else:
            job.version, job.metrics, job.baseline_metrics = out.version, out.metrics, out.baseline
            job.switched = out.switched
            if out.switched:
                self.holder.swap(out.matcher)
                job.status, job.message = "succeeded", f"新版本 {out.version} 已启用"
            else:
                job.status = "rejected"
                job.message = (
                    f"新版本 NDCG@10 {out.metrics['ndcg@10']:.4f} 低于当前版本 "
                    f"{out.baseline['ndcg@10']:.4f}（容差 {TOLERANCE}），未切换，仅登记为候选版本"
                    if out.baseline
                    else "未切换"
                )
        finally:
            job.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
