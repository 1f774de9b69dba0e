"""Leads and chain gaps for a park: the enterprise pool scored by the serving matcher's vectorised
core (`recommender.pool.PoolScorer`), seen from the park.

Pure ranking logic (no database, no HTTP): `LeadPool` keeps the pool's `PoolIndex` per serving
matcher and updates it row by row when records are added, edited or deleted; a park's scores over
the whole pool are one column of the enterprise × park score matrix, computed with numpy and cached
per (pool generation, park). A lead's score for a park is the park's score in that enterprise's
`/v1/match` answer: `PoolScorer(exact=True)` keeps the index in float64 and equals
`Matcher.score` to rounding (tests/recommender/test_pool.py).

`enterprise_id` in every answer is the enterprise's record id (the database id that
`/v1/interactions` takes); the id it was imported under is `external_id`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from features.enterprise import SCALE, EnterpriseProfile, bucket
from features.kb import Park, Rule
from features.text import normalize
from recommender.bundle import library_versions
from recommender.hybrid import SIMILAR_SHOWN, Matcher, features_from_scores
from recommender.pool import ParkScores, PoolIndex, PoolScorer

log = logging.getLogger("investmatch")
ROOT = Path(__file__).resolve().parents[1]
# What a pool row's index depends on besides the model, the KB and the record itself.
SCORING_SOURCES = (
    "recommender/pool.py",
    "recommender/content.py",
    "recommender/classfit.py",
    "recommender/industry.py",
    "recommender/hybrid.py",
    "recommender/rules.py",
    "recommender/registry.py",
    "features/text.py",
    "features/scope.py",
    "features/enterprise.py",
)
# How stale the pool may be to another process's additions or deletions (writes through this
# process are marked and seen at once).
STAMP_EVERY = 0.5
# How long a request waits for an update of an index it could answer from (seconds).
UPDATE_WAIT = 0.5
# Text readings kept per snapshot for the reasons (about 0.3 KB each).
READINGS_KEPT = 50_000
# Fresh rows after which an updated index is written to disk again (an import, not an edit).
SAVE_AFTER = 500

SCALE_NAMES = {
    "micro": "微型（20 人以下）",
    "small": "小型（20–99 人）",
    "medium": "中型（100–299 人）",
    "large": "大型（300–999 人）",
    "xlarge": "特大型（1000 人及以上）",
}
# A segment is "empty" without any signed/settled enterprise, "thin" below THIN_MIN of them or
# below THIN_SHARE of the park's median segment (so a big park's weak link shows up too), else "ok".
THIN_MIN = 3
THIN_SHARE = 0.25
# Below this fit the enterprise's text names nothing of the segment (the same cut as Matcher.reasons).
SEGMENT_MIN_FIT = 0.05
# A gap candidate must belong to the segment about as clearly as rules.CHAIN_MIN_FIT asks of a chain;
# candidates are then ranked by CANDIDATE_FIT_WEIGHT·segment fit + (1 − it)·score for the park.
CANDIDATE_MIN_FIT = 0.3
CANDIDATE_FIT_WEIGHT = 0.5
CANDIDATES = 5
# Where each count of a chain-gap answer comes from (registry counts name their import).
RECORDED_SOURCE = "招商部门记录的签约/落地（互动记录）"
DESCRIPTION_CHARS = 120
# Parks whose ranked view of the pool is kept (each about 6 float64s an enterprise: 1 MB at 20,000).
PARK_CACHE = 64


def scale_of(employees: int | None) -> str | None:
    """The `scale:` bucket of features.enterprise (micro … xlarge), None when unknown."""
    return None if employees is None else bucket(employees, *SCALE)


def shorten(text: str, n: int = DESCRIPTION_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass(frozen=True)
class PoolRow:
    """One enterprise record of the pool: its record id (the database id, which every answer
    calls `enterprise_id`), the id it was imported under, and its profile."""

    record_id: int
    external_id: str | None
    profile: EnterpriseProfile


class PoolSource(Protocol):
    """Where the pool's records come from (the database, in the service). Each call is one short
    query: nothing holds a connection while the pool is scored."""

    def stamp(self) -> tuple[int, int]:
        """(number of records, largest record id): a cheap check that nothing was added or
        deleted since the last look."""
        ...

    def rows(self, *, ids: Sequence[int] | None = None, above: int | None = None) -> list[PoolRow]:
        """Records by id, or those with an id above `above`, or (neither given) all of them."""
        ...

    def record_ids(self) -> np.ndarray:
        """Every record id (to find deletions)."""
        ...


@cache
def _code_digest() -> str:
    """The scoring code and library versions a saved index was built with (read once a process)."""
    h = hashlib.sha256()
    for name in SCORING_SOURCES:
        path = ROOT / name
        h.update(path.read_bytes() if path.exists() else b"")
    h.update(json.dumps(library_versions(), sort_keys=True).encode())
    return h.hexdigest()


def row_key(row: PoolRow) -> str:
    """The record id and a digest of its profile: an index row saved under this key is reused
    for the same record only while the record is unchanged."""
    digest = hashlib.blake2b(repr(row.profile).encode(), digest_size=8).hexdigest()
    return f"{row.record_id}:{digest}"


@dataclass(frozen=True, eq=False)
class PoolSnapshot:
    """The pool indexed for one serving matcher; row i is record `record_ids[i]`, rows in
    ascending record id. Immutable: a refresh builds a new snapshot and swaps it in, so a request
    reads one consistent pool even while enterprises are being imported."""

    matcher: Matcher
    parks: tuple[Park, ...]  # the matcher's catalogue when indexed (a KB reload replaces it)
    scorer: PoolScorer
    index: PoolIndex
    record_ids: np.ndarray  # int64, ascending
    external_ids: list[str | None]
    profiles: list[EnterpriseProfile]
    origin: np.ndarray  # object: the origin of each row ("" when unknown)
    scale: np.ndarray  # object: the scale bucket of each row ("" when unknown)
    generation: int
    # filled as leads are explained: industry code → the segments it points to; row → reading
    code_memo: dict[str, frozenset[int]] = field(default_factory=dict)
    readings: dict[int, RowReading] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.record_ids)

    def serves(self, matcher: Matcher) -> bool:
        """Whether the snapshot was indexed for this matcher and its current catalogue."""
        return self.matcher is matcher and self.parks is matcher.parks

    @property
    def stamp(self) -> tuple[int, int]:
        return len(self.record_ids), int(self.record_ids[-1]) if len(self.record_ids) else 0

    def rows_of(self, record_ids: Iterable[int]) -> np.ndarray:
        """Rows of the given record ids (ids not in the pool are left out)."""
        ids = np.fromiter(record_ids, dtype=np.int64)
        pos = np.searchsorted(self.record_ids, ids)
        ok = pos < len(self.record_ids)
        ok[ok] = self.record_ids[pos[ok]] == ids[ok]
        return np.unique(pos[ok])

    def rows_mask(self, record_ids: Iterable[int]) -> np.ndarray:
        mask = np.zeros(len(self), dtype=bool)
        mask[self.rows_of(record_ids)] = True
        return mask


@dataclass(frozen=True)
class ParkLeads:
    """One park's view of the whole pool (cached per snapshot and park)."""

    scores: ParkScores
    order: np.ndarray  # rows the policy admits, best score first, ties by record id
    segment: np.ndarray  # (n,) int: the park segment each row serves best, −1 for none
    item_row: Any = None  # the park's LightFM feature row (None without a learned part)


def _build_snapshot(
    matcher: Matcher,
    scorer: PoolScorer,
    index: PoolIndex,
    rows: Sequence[PoolRow],
    generation: int,
) -> PoolSnapshot:
    profiles = [r.profile for r in rows]
    return PoolSnapshot(
        matcher=matcher,
        parks=scorer.matcher.parks,
        scorer=scorer,
        index=index,
        record_ids=np.array([r.record_id for r in rows], dtype=np.int64),
        external_ids=[r.external_id for r in rows],
        profiles=profiles,
        origin=np.array([p.origin or "" for p in profiles], dtype=object),
        scale=np.array([scale_of(p.employees) or "" for p in profiles], dtype=object),
        generation=generation,
    )


class PoolNotReady(Exception):
    """The pool has no index for the serving matcher yet; one is being built."""

    def __init__(self, records: int) -> None:
        super().__init__(records)
        self.records = records


@dataclass
class RefreshJob:
    """One background indexing run: `done` is set when it ends, `error` if it failed."""

    done: threading.Event = field(default_factory=threading.Event)
    error: Exception | None = None


class LeadPool:
    """The enterprise pool of the service, indexed once per serving matcher (`PoolScorer`) and
    kept up to date row by row: records added, edited or deleted are re-indexed alone, never the
    whole table. A different matcher object (a new or rolled-back version) builds a new index.

    Writers call `mark_changed` for edited records; additions and deletions by any process are
    also found by the cheap `PoolSource.stamp` check each request makes.
    """

    def __init__(
        self, park_cache: int = PARK_CACHE, cache_dir: Path | None = None, wait: float = 8.0
    ) -> None:
        """`cache_dir`: where the index is kept between restarts (rows of unchanged records are
        read back instead of re-indexed); None keeps it in memory only. `wait`: how long a request
        waits for indexing (seconds)."""
        self.cache_dir = cache_dir
        self.wait = wait
        self._job: RefreshJob | None = None
        self._job_lock = threading.Lock()
        self._snap: PoolSnapshot | None = None
        self._dirty: set[int] = set()
        self._dirty_lock = threading.Lock()
        self._checked = -math.inf  # when the table was last found unchanged (time.monotonic)
        self._generation = 0
        self._parks: OrderedDict[tuple[int, int], ParkLeads] = OrderedDict()
        self._parks_lock = threading.Lock()
        self._park_cache = park_cache

    def mark_changed(self, record_ids: Iterable[int] = ()) -> None:
        """Records written through this process: edited ones are re-indexed, and the next look
        checks the table at once (without ids: records were added or deleted)."""
        with self._dirty_lock:
            self._dirty.update(int(i) for i in record_ids)
            self._checked = -math.inf

    def snapshot(
        self, matcher: Matcher, source: PoolSource, wait: float | None = None
    ) -> PoolSnapshot:
        """The pool as it is now for `matcher`, brought up to date if records changed. Other
        processes' additions and deletions are looked for at most every STAMP_EVERY seconds.

        Indexing runs in a background thread; a request waits for it at most `wait` seconds
        (default `self.wait`). After that it gets the last snapshot — of this matcher without the
        records still being indexed, or of the previous matcher while a swapped-in one is indexed
        (the answer names its model) — or `PoolNotReady` when there is none yet: never a request
        hanging for the minute a large first index takes."""
        snap = self._snap
        if snap is not None and snap.serves(matcher) and not self._dirty:
            now = time.monotonic()
            if now - self._checked < STAMP_EVERY:
                return snap
            if source.stamp() == snap.stamp:
                self._checked = now
                return snap
        if wait is None:
            # With an index of this matcher to answer from, a request waits only for small updates
            # (an edited record); a large import is indexed behind it.
            serving = snap is not None and snap.serves(matcher)
            wait = min(self.wait, UPDATE_WAIT) if serving else self.wait
        deadline = time.monotonic() + wait
        while True:
            job, _ = self.refresh(matcher, source)
            job.done.wait(max(0.0, deadline - time.monotonic()))
            if job.error is not None:
                raise job.error
            snap = self._snap
            if snap is not None and snap.serves(matcher) and job.done.is_set():
                return snap
            if time.monotonic() >= deadline:
                if snap is not None:  # the last index answers (of the previous model, if swapped)
                    return snap
                raise PoolNotReady(source.stamp()[0])
            # that job indexed for another matcher: start one for this one

    @property
    def indexed(self) -> int:
        """Records in the last snapshot (0 before the first)."""
        snap = self._snap
        return len(snap) if snap is not None else 0

    @property
    def indexing(self) -> RefreshJob | None:
        """The background refresh running now, if any."""
        job = self._job
        return job if job is not None and not job.done.is_set() else None

    def refresh(self, matcher: Matcher, source: PoolSource) -> tuple[RefreshJob, bool]:
        """The background refresh for `matcher` running now, or a new one; True if started."""
        with self._job_lock:
            job = self._job
            if job is not None and not job.done.is_set():
                return job, False
            job = RefreshJob()
            self._job = job
        threading.Thread(
            target=self._run, args=(job, matcher, source), name="lead-pool", daemon=True
        ).start()
        return job, True

    def _run(self, job: RefreshJob, matcher: Matcher, source: PoolSource) -> None:
        try:  # one job runs at a time (`refresh`), so nothing else writes the snapshot meanwhile
            snap = self._snap
            if snap is None or not snap.serves(matcher):
                with self._dirty_lock:
                    self._dirty.clear()
                rows = source.rows()
                scorer = PoolScorer(matcher, exact=True)
                snap = self._new(matcher, scorer, self._index_all(scorer, rows), rows)
                self._save(snap)
            else:
                snap = self._update(snap, source)
            self._snap = snap
        except Exception as exc:  # noqa: BLE001 - handed to the requests that wait for it
            log.warning("lead pool not indexed: %s", exc.__class__.__name__)
            job.error = exc
        finally:
            job.done.set()

    # -- the index on disk -----------------------------------------------------------------------
    def _path(self, scorer: PoolScorer) -> Path | None:
        if self.cache_dir is None:
            return None
        h = hashlib.sha256()
        h.update(scorer.fingerprint.encode())
        h.update(scorer.matcher.kb.digest.encode())
        h.update(_code_digest().encode())
        return self.cache_dir / f"leadpool-{h.hexdigest()[:20]}.npz"

    def _index_all(self, scorer: PoolScorer, rows: Sequence[PoolRow]) -> PoolIndex:
        """The index of `rows`, reading back the saved rows of unchanged records."""
        keys = [row_key(r) for r in rows]
        path = self._path(scorer)
        saved: PoolIndex | None = None
        if path is not None and path.exists():
            try:
                saved = PoolIndex.load(path)
                if saved.fingerprint != scorer.fingerprint:
                    saved = None
            except (OSError, ValueError, KeyError) as exc:
                log.warning("lead pool index %s not read (%s): indexing afresh", path.name, exc)
                saved = None
        where = {k: i for i, k in enumerate(saved.enterprise_ids)} if saved is not None else {}
        found = [(i, where[k]) for i, k in enumerate(keys) if k in where]
        missing = [i for i, k in enumerate(keys) if k not in where]
        parts: list[PoolIndex] = []
        order: list[int] = []
        if saved is not None and found:
            parts.append(saved.take([j for _, j in found]))
            order += [i for i, _ in found]
        if missing or not parts:
            parts.append(
                scorer.index([rows[i].profile for i in missing], [keys[i] for i in missing])
            )
            order += missing
        if saved is not None:
            log.info("lead pool: %d rows read back, %d indexed", len(found), len(missing))
        index = PoolIndex.concat(parts) if len(parts) > 1 else parts[0]
        return index.take(np.argsort(order, kind="stable"))

    def _save(self, snap: PoolSnapshot) -> None:
        """Write the snapshot's index (atomically), and remove indexes of other models."""
        path = self._path(snap.scorer)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".leadpool-", suffix=".npz")
            os.close(fd)
            snap.index.save(tmp)
            os.replace(tmp, path)
            for old in path.parent.glob("leadpool-*.npz"):
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as exc:  # a read-only or full disk costs the next restart time, nothing else
            log.warning("lead pool index not saved (%s)", exc)

    def _new(
        self, matcher: Matcher, scorer: PoolScorer, index: PoolIndex, rows: Sequence[PoolRow]
    ) -> PoolSnapshot:
        self._generation += 1
        return _build_snapshot(matcher, scorer, index, rows, self._generation)

    def _update(self, snap: PoolSnapshot, source: PoolSource) -> PoolSnapshot:
        with self._dirty_lock:
            dirty, self._dirty = self._dirty, set()
        self._checked = time.monotonic()
        count, _ = source.stamp()
        added = source.rows(above=snap.stamp[1])
        edited_ids = snap.record_ids[snap.rows_of(dirty)]
        edited = source.rows(ids=[int(i) for i in edited_ids]) if len(edited_ids) else []
        gone = set(int(i) for i in edited_ids) - {r.record_id for r in edited}
        if len(snap) - len(gone) + len(added) != count:  # deleted elsewhere
            gone |= set(int(i) for i in np.setdiff1d(snap.record_ids, source.record_ids()))
        if not added and not edited and not gone:
            return snap
        replaced = gone | {r.record_id for r in edited}
        keep = np.flatnonzero(~snap.rows_mask(replaced))
        fresh = list(edited) + list(added)
        rows = [
            PoolRow(int(snap.record_ids[i]), snap.external_ids[i], snap.profiles[i]) for i in keep
        ]
        rows += fresh
        parts = [snap.index.take(keep)]
        if fresh:
            parts.append(snap.scorer.index([r.profile for r in fresh], [row_key(r) for r in fresh]))
        index = PoolIndex.concat(parts) if len(parts) > 1 else parts[0]
        order = np.argsort([r.record_id for r in rows], kind="stable")
        out = self._new(snap.matcher, snap.scorer, index.take(order), [rows[int(i)] for i in order])
        if len(fresh) >= SAVE_AFTER:
            self._save(out)
        return out

    def park(self, snap: PoolSnapshot, park: int) -> ParkLeads:
        """The park's scores over the pool, ranked (cached for the snapshot)."""
        key = (snap.generation, park)
        with self._parks_lock:
            hit = self._parks.get(key)
            if hit is not None:
                self._parks.move_to_end(key)
                return hit
        scores = snap.scorer.scores_for_park(snap.index, park)
        ok = np.flatnonzero(np.isfinite(scores.final))
        order = ok[np.argsort(-scores.final[ok], kind="stable")]  # rows ascend by record id
        m = snap.matcher
        item_row = m._item_rows[park] if m.collab is not None else None
        out = ParkLeads(scores, order, park_segment_of_rows(snap, park), item_row)
        with self._parks_lock:
            self._parks[key] = out
            while len(self._parks) > self._park_cache:
                self._parks.popitem(last=False)
        return out


def park_segment_of_rows(snap: PoolSnapshot, park: int) -> np.ndarray:
    """(n,) the park segment each row serves best (its fit weighted by the park's segment
    weights, as `ContentScorer.score` picks it), −1 where the text names none of them."""
    ps = snap.matcher.content.park_segment[park]
    nz = np.flatnonzero(ps > 0)
    n = len(snap)
    if not len(nz) or not n:
        return np.full(n, -1, dtype=np.int64)
    seg = snap.index.segment[:, nz]
    best = nz[np.argmax(seg * ps[nz], axis=1)]
    fit = snap.index.segment[np.arange(n), best]
    return np.where(fit > SEGMENT_MIN_FIT, best, -1)


# -- the park's side ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeadFilters:
    chain_id: str | None = None
    segment_id: str | None = None
    origin: str | None = None
    scale: str | None = None


@dataclass(frozen=True)
class Lead:
    """One pool row ranked for a park."""

    row: int
    score: float
    content: float
    collaborative: float
    policy: float
    registry: float
    segment: int | None  # index into matcher.segment_ids; None when it names none of the park's
    fills_gap: bool


@dataclass(frozen=True)
class ParkSegments:
    """A park's segments and how well its signed/settled enterprises fill them."""

    served: list[int]  # segment indices the park serves, in the policy's order
    placed: dict[int, int]  # segment index → enterprises placed there
    unassigned: int  # placed enterprises whose text names none of the park's segments
    status: dict[int, str]  # segment index → empty | thin | ok
    median: float
    # segment index → registered firms of the park's county whose 经营范围 fits it best (none
    # before a registry is imported), and where those counts come from
    registry: dict[int, int] = field(default_factory=dict)
    registry_source: str | None = None

    def counts(self, j: int) -> list[dict[str, Any]]:
        """Each count of segment `j` with its source: recorded placements, then the registry."""
        out: list[dict[str, Any]] = [{"count": self.placed.get(j, 0), "source": RECORDED_SOURCE}]
        if self.registry_source is not None:
            out.append({"count": self.registry.get(j, 0), "source": self.registry_source})
        return out

    def gap(self, j: int | None) -> bool:
        return j is not None and self.status.get(j) in ("empty", "thin")


def served_segments(matcher: Matcher, park: int) -> list[int]:
    """Segments the park serves; a park naming only a chain serves all of its segments."""
    return [int(j) for j in np.flatnonzero(matcher.content.park_segment[park] > 0)]


def segment_status(placed: int, median: float) -> str:
    if placed == 0:
        return "empty"
    if placed < max(THIN_MIN, THIN_SHARE * median):
        return "thin"
    return "ok"


def park_segments(
    matcher: Matcher,
    park: int,
    placed: Iterable[int],
    registry: Mapping[int, int] | None = None,
    registry_source: str | None = None,
) -> ParkSegments:
    """Placed counts per served segment from the segments (−1: none of the park's) of the
    enterprises signed or settled in the park; with `registry` (segment → registered firms of
    the park's county), a segment's status counts both."""
    served = served_segments(matcher, park)
    reg = {j: int((registry or {}).get(j, 0)) for j in served}
    counts: Counter[int] = Counter()
    unassigned = 0
    for j in placed:
        if j < 0:
            unassigned += 1
        else:
            counts[int(j)] += 1
    total = {j: counts[j] + reg[j] for j in served}
    median = float(np.median([total[j] for j in served])) if served else 0.0
    return ParkSegments(
        served=served,
        placed={j: counts[j] for j in served},
        unassigned=unassigned,
        status={j: segment_status(total[j], median) for j in served},
        median=median,
        registry=reg if registry_source is not None else {},
        registry_source=registry_source,
    )


def registry_counts(matcher: Matcher, park: int) -> tuple[dict[int, int] | None, str | None]:
    """(segment index → registered firms of the park's county that fit it best, source), or
    (None, None) when the serving model has no registry."""
    reg = matcher.registry
    counts = getattr(reg, "segment_counts_", None)
    if reg is None or counts is None:
        return None, None
    row = int(matcher._registry_rows[park])
    county = matcher.kb.park_by_id.get(reg.counties_[row]) if row >= 0 else None
    where = county.name if county else "所在县"
    source = f"{reg.source_}：{where}已登记、经营范围最契合本环节的企业"
    if row < 0:
        return {}, source
    return {j: int(c) for j, c in enumerate(counts[row]) if c}, source


def _filter_mask(snap: PoolSnapshot, pl: ParkLeads, f: LeadFilters) -> np.ndarray | None:
    """Rows the filters keep (None: no filter)."""
    matcher, kb = snap.matcher, snap.matcher.kb
    mask: np.ndarray | None = None

    def both(m: np.ndarray) -> np.ndarray:
        return m if mask is None else mask & m

    if f.origin is not None:
        mask = both(snap.origin == f.origin)
    if f.scale is not None:
        mask = both(snap.scale == f.scale)
    if f.segment_id is not None:
        j = matcher.segment_ids.index(f.segment_id) if f.segment_id in matcher.segment_ids else -2
        mask = both(pl.segment == j)
    if f.chain_id is not None:
        in_chain = np.array(
            [kb.chain_of_segment[s] == f.chain_id for s in matcher.segment_ids] + [False]
        )
        mask = both(in_chain[pl.segment])  # −1 takes the trailing False
    return mask


def rank_leads(
    snap: PoolSnapshot,
    pl: ParkLeads,
    segments: ParkSegments,
    filters: LeadFilters | None = None,
    leave_out: np.ndarray | None = None,
) -> np.ndarray:
    """Rows the policy admits to the park, filtered, best score first (ties by record id);
    `leave_out`: a row mask of enterprises not to offer (those already placed in the park)."""
    mask = _filter_mask(snap, pl, filters or LeadFilters())
    if leave_out is not None:
        mask = ~leave_out if mask is None else mask & ~leave_out
    return pl.order if mask is None else pl.order[mask[pl.order]]


def lead_at(pl: ParkLeads, row: int, segments: ParkSegments) -> Lead:
    s = pl.scores
    j = int(pl.segment[row])
    return Lead(
        row=row,
        score=float(s.final[row]),
        content=float(s.content[row]),
        collaborative=float(s.collaborative[row]),
        policy=float(s.policy[row]),
        registry=float(s.registry[row]),
        segment=j if j >= 0 else None,
        fills_gap=segments.gap(j if j >= 0 else None),
    )


@dataclass
class RowReading:
    """What the reasons read of one record, whatever the park: the policy terms found
    (weightiest first), the canonical product words found, and (once a park's learned part is
    explained) its LightFM features and feature row."""

    terms: tuple[str, ...]
    keywords: tuple[str, ...]
    user: tuple[Any, Any] | None = None


def row_reading(snap: PoolSnapshot, row: int) -> RowReading:
    """The record's reading, kept for the snapshot (a page of leads is asked again and again)."""
    hit = snap.readings.get(row)
    if hit is None:
        matcher, text = snap.matcher, snap.profiles[row].text
        tf = matcher.text
        terms = tuple(sorted(tf.match_terms(text), key=lambda t: -tf.term_weight_[t]))
        keywords = tuple(sorted(matcher.content.keyword_matches(normalize(text))))
        hit = RowReading(terms, keywords)
        if len(snap.readings) >= READINGS_KEPT:
            snap.readings.clear()
        snap.readings[row] = hit
    return hit


def segment_terms(snap: PoolSnapshot, row: int, j: int) -> tuple[str, ...]:
    """The policy terms of segment `j` found in the record's text, weightiest first (as
    `TextMatch.terms`)."""
    segments_of = snap.matcher.text.term_segments_
    return tuple(t for t in row_reading(snap, row).terms if j in segments_of[t])


def code_segments(snap: PoolSnapshot, code: str | None) -> frozenset[int]:
    """Segments a stated industry code points to (`ContentSignals.code_segments`)."""
    if not code:
        return frozenset()
    hit = snap.code_memo.get(code)
    if hit is None:
        matcher = snap.matcher
        hit = frozenset(
            j
            for ref in matcher.kb.chains_for_code(code)
            for j in matcher.content._ref_segments(ref.chain_id, ref.segment_id)
        )
        snap.code_memo[code] = hit
    return hit


def park_keywords(snap: PoolSnapshot, row: int, park: int) -> list[str]:
    """The park's own product words found in the record's text (`ContentSignals.park_keywords`)."""
    content = snap.matcher.content
    return [
        content.kw_own[(park, k)]
        for k in row_reading(snap, row).keywords
        if park in content.kw_parks.get(k, ())
    ]


def applied_rules(snap: PoolSnapshot, row: int, park: int) -> list[Rule]:
    """The bonus/penalty rules that moved the park for the enterprise, in rule order."""
    sc = snap.scorer
    return [
        rule
        for r, rule in enumerate(sc.rules)
        if sc.rule_adjust[r, park] and snap.index.conditions[row, r]
    ]


def lead_reasons(
    snap: PoolSnapshot, park: int, pl: ParkLeads, lead: Lead, segments: ParkSegments
) -> list[dict[str, Any]]:
    """Why the lead suits the park, in Chinese, from the park's side: which of its segments the
    enterprise serves and how that segment stands, shared products, policy rules, similar firms."""
    matcher = snap.matcher
    kb, p, e = matcher.kb, matcher.parks[park], snap.profiles[lead.row]
    out: list[dict[str, Any]] = []
    j = lead.segment
    if j is not None:
        seg = kb.segment_by_id[matcher.segment_ids[j]]
        chain = kb.chain_by_id[kb.chain_of_segment[seg.segment_id]]
        terms = segment_terms(snap, lead.row, j)[:5]
        what = "、".join(terms) if terms else shorten(e.description, 24)
        code = e.industry_code
        via_code = ""
        if code and j in code_segments(snap, code):
            ind = kb.industry(code)
            via_code = f"（行业代码 {code}{'·' + ind.name if ind else ''}也指向该环节）"
        label = f"「{chain.name}·{seg.name}」"
        n = segments.placed.get(j, 0)
        status = segments.status.get(j)
        if status == "empty":
            tail = f"可填补园区{label}环节的空白；园区该环节尚无签约或落地企业"
        elif status == "thin":
            tail = f"可补强园区{label}环节；园区该环节现有 {n} 家企业"
        else:
            tail = f"可壮大园区{label}环节；园区该环节已有 {n} 家企业"
        out.append(
            {
                "kind": "chain",
                "text": f"该企业主营「{what}」{via_code}，{tail}。",
                "source": seg.source,
            }
        )
    words = park_keywords(snap, lead.row, park)
    if words:
        out.append(
            {
                "kind": "cluster",
                "text": f"该企业产品与园区特色产品「{'、'.join(words)}」一致，可在园区就近配套、融入产业集群。",
                "source": p.source,
            }
        )
    for rule in applied_rules(snap, lead.row, park):
        out.append({"kind": "policy", "text": rule.text, "source": rule.source})
    collab = matcher.collab
    w = matcher.weights.collaborative
    if collab is not None and w and lead.collaborative / w >= SIMILAR_SHOWN:
        reading = row_reading(snap, lead.row)
        if reading.user is None:
            seg_row = np.asarray(snap.index.segment[lead.row], dtype=np.float64)
            chain_row = np.zeros(len(matcher.chain_ids))
            np.maximum.at(chain_row, matcher.content.seg_chain, seg_row)  # as ContentScorer.score
            feats = features_from_scores(
                seg_row, chain_row, matcher.segment_ids, matcher.chain_ids, e
            )
            reading.user = (feats, collab.user_vector(feats))
        feats, user_row = reading.user
        pairs = collab.explain(feats, pl.item_row, user_row=user_row)
        if pairs:
            said = "；".join(
                f"{matcher.describe_feature(a.user_feature)} ↔ {matcher.describe_feature(a.item_feature)}"
                for a in pairs
            )
            out.append(
                {
                    "kind": "similar",
                    "text": f"与该企业特征相近的企业多在本园区落户或签约（主要依据：{said}）。",
                    "source": None,
                }
            )
    return out


def lead_entry(
    snap: PoolSnapshot, park: int, pl: ParkLeads, lead: Lead, segments: ParkSegments
) -> dict[str, Any]:
    """One lead as the API returns it."""
    kb, e = snap.matcher.kb, snap.profiles[lead.row]
    segment = None
    if lead.segment is not None:
        seg = kb.segment_by_id[snap.matcher.segment_ids[lead.segment]]
        segment = {
            "segment_id": seg.segment_id,
            "name": seg.name,
            "chain_id": kb.chain_of_segment[seg.segment_id],
            "chain_name": kb.chain_by_id[kb.chain_of_segment[seg.segment_id]].name,
            "fit": round(float(snap.index.segment[lead.row, lead.segment]), 4),
        }
    return {
        "enterprise_id": int(snap.record_ids[lead.row]),
        "external_id": snap.external_ids[lead.row],
        "name": e.name,
        "description": shorten(e.description),
        "industry_code": e.industry_code,
        "origin": e.origin,
        "employees": e.employees,
        "scale": scale_of(e.employees),
        "score": round(lead.score, 4),
        "score_breakdown": {
            "content": round(lead.content, 4),
            "collaborative": round(lead.collaborative, 4),
            "policy": round(lead.policy, 4),
            "registry": round(lead.registry, 4),
        },
        "segment": segment,
        "fills_gap": lead.fills_gap,
        "reasons": lead_reasons(snap, park, pl, lead, segments),
    }


def chain_gaps(
    snap: PoolSnapshot,
    park: int,
    pl: ParkLeads,
    segments: ParkSegments,
    leave_out: np.ndarray | None = None,
    k: int = CANDIDATES,
) -> list[dict[str, Any]]:
    """For every chain the park serves, its served segments in the policy's order with placed
    counts, status and the top `k` pool candidates (fit to the segment combined with park score)."""
    kb, matcher = snap.matcher.kb, snap.matcher
    admitted = np.isfinite(pl.scores.final)
    if leave_out is not None:
        admitted &= ~leave_out
    rows = np.flatnonzero(admitted)  # ascending record id: the tie order
    scores = pl.scores.final[rows]
    by_chain: dict[str, list[int]] = {}
    for j in segments.served:
        by_chain.setdefault(kb.chain_of_segment[matcher.segment_ids[j]], []).append(j)
    out = []
    for chain in kb.chains:  # the policy's order of chains; served segments are in its order too
        if chain.chain_id not in by_chain:
            continue
        segs = []
        for j in by_chain[chain.chain_id]:
            seg = kb.segment_by_id[matcher.segment_ids[j]]
            fit = np.asarray(snap.index.segment[rows, j], dtype=np.float64)
            eligible = np.flatnonzero(fit >= CANDIDATE_MIN_FIT)
            rank = (
                CANDIDATE_FIT_WEIGHT * fit[eligible] + (1 - CANDIDATE_FIT_WEIGHT) * scores[eligible]
            )
            top = eligible[np.argsort(-rank, kind="stable")[:k]]
            candidates = [
                {
                    "enterprise_id": int(snap.record_ids[rows[i]]),
                    "external_id": snap.external_ids[rows[i]],
                    "name": snap.profiles[rows[i]].name,
                    "origin": snap.profiles[rows[i]].origin,
                    "score": round(float(scores[i]), 4),
                    "segment_fit": round(float(fit[i]), 4),
                }
                for i in top
            ]
            segs.append(
                {
                    "segment_id": seg.segment_id,
                    "name": seg.name,
                    "placed": segments.placed[j],
                    "counts": segments.counts(j),
                    "status": segments.status[j],
                    "candidates": candidates,
                    "source": seg.source,
                }
            )
        out.append({"chain_id": chain.chain_id, "name": chain.name, "segments": segs})
    return out
