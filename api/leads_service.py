"""The leads service: the pool of enterprise records, indexed once per serving model, and the
answers of the leads, chain-gap and lead-export routes and pages.

Database sessions are opened for each query alone and closed before any scoring, so 16 bureau
officers asking for leads at once hold a connection for milliseconds each, not for the whole
answer. The pool is read from the database in full only when a new model is served; after that
a cheap count check finds records added or deleted, and the enterprise routes mark the records
they edit (`pool_changed`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select

from api.deps import AppState
from api.errors import AppError, NotFound, ServiceUnavailable
from api.schemas import ORIGIN_VALUES
from features.history import POSITIVE_KINDS
from features.kb import Park
from recommender.hybrid import Matcher
from recommender.leads import (
    SCALE_NAMES,
    LeadFilters,
    LeadPool,
    ParkLeads,
    ParkSegments,
    PoolNotReady,
    PoolRow,
    PoolSnapshot,
    chain_gaps,
    lead_at,
    lead_entry,
    park_segments,
    rank_leads,
    registry_counts,
    served_segments,
)
from store.enterprises import load_profiles
from store.orm import Enterprise, Interaction

log = logging.getLogger("investmatch")

THIN_RULE = "已签约/落地企业为 0 家为“空缺”；少于 3 家或少于园区各环节中位数的 25% 为“薄弱”"
# Record ids asked of the database at once (bounds the IN list of an edit batch).
ID_BATCH = 900


class InvalidFilter(AppError):
    status_code = 422
    code = "invalid_input"


# -- the pool's records ---------------------------------------------------------------------------
class DatabasePool:
    """`recommender.leads.PoolSource` over the enterprise table: one short session a query."""

    def __init__(self, state: AppState) -> None:
        self.sessions = state.sessions

    def stamp(self) -> tuple[int, int]:
        with self.sessions() as s:
            count, top = s.execute(select(func.count(Enterprise.id), func.max(Enterprise.id))).one()
        return int(count or 0), int(top or 0)

    def rows(self, *, ids: Sequence[int] | None = None, above: int | None = None) -> list[PoolRow]:
        if ids is None:
            with self.sessions() as s:
                return [PoolRow(*r) for r in load_profiles(s, above=above)]
        out: list[PoolRow] = []
        for a in range(0, len(ids), ID_BATCH):
            with self.sessions() as s:
                out += [PoolRow(*r) for r in load_profiles(s, ids=ids[a : a + ID_BATCH])]
        return out

    def record_ids(self) -> np.ndarray:
        with self.sessions() as s:
            return np.array(s.scalars(select(Enterprise.id)).all(), dtype=np.int64)


def placed_records(state: AppState, park_id: str) -> list[int]:
    """Record ids of the enterprises signed or settled in the park."""
    with state.sessions() as s:
        return list(
            s.scalars(
                select(Interaction.enterprise_id)
                .where(Interaction.park_id == park_id, Interaction.kind.in_(POSITIVE_KINDS))
                .distinct()
            )
        )


_pool_lock = threading.Lock()


def lead_pool(state: AppState) -> LeadPool:
    """The service's lead pool, created on first use; its index is rebuilt in the background
    whenever another matcher starts serving (a new or rolled-back model, a reloaded KB)."""
    pool: LeadPool | None = getattr(state, "lead_pool", None)
    if pool is None:
        with _pool_lock:
            pool = getattr(state, "lead_pool", None)
            if pool is None:
                pool = LeadPool(
                    cache_dir=state.settings.reference_cache,
                    wait=state.settings.leads_wait_seconds,
                )
                state.lead_pool = pool  # type: ignore[attr-defined]
                if state.settings.leads_warm:

                    def reindex(_matcher: Matcher) -> None:
                        warm(state, pool)

                    state.holder.subscribe(reindex)
    return pool


def warm(state: AppState, pool: LeadPool) -> bool:
    """Bring the pool's index up to date in the background (at start, after a bureau login, an
    import or a model change), so that the next leads page does not wait for it. At most one
    runs; True if one was started."""
    _, started = pool.refresh(state.holder.matcher, DatabasePool(state))
    return started


def pool_status(state: AppState) -> dict[str, Any]:
    """What /healthz says of the lead pool: how many records are indexed, and whether indexing
    runs (a large import is indexed in the background)."""
    pool = lead_pool(state)
    return {"leads_indexed": pool.indexed, "leads_indexing": pool.indexing is not None}


def pool_changed(state: AppState, record_ids: Iterable[int] = ()) -> None:
    """Records were written: mark the edited ones and index the changes in the background."""
    pool = lead_pool(state)
    pool.mark_changed(record_ids)
    warm(state, pool)


# -- one park's view ------------------------------------------------------------------------------
@dataclass
class ParkView:
    """Everything a leads or chain-gaps answer needs for one park, from one pool snapshot."""

    snap: PoolSnapshot
    park: Park
    index: int
    scores: ParkLeads
    placed: np.ndarray  # row mask of the enterprises signed or settled in the park
    segments: ParkSegments

    @property
    def matcher(self) -> Matcher:
        return self.snap.matcher


def park_or_404(state: AppState, park_id: str) -> Park:
    park = state.kb.park_by_id.get(park_id)
    if park is None:
        raise NotFound(f"园区“{park_id}”不存在，请用 GET /v1/parks 查询园区编号")
    return park


def park_index(matcher: Matcher, park_id: str) -> int | None:
    """The park's position in the matcher's catalogue (None: not in it)."""
    return next((i for i, p in enumerate(matcher.parks) if p.park_id == park_id), None)


def indexing(records: int | None = None) -> ServiceUnavailable:
    """The 503 of a leads request made while the pool's first index is being built."""
    pool = f"企业库（{records} 家企业）" if records is not None else "企业库"
    return ServiceUnavailable(
        f"正在为{pool}建立招商线索索引，约需 1–2 分钟，请稍后刷新重试",
        code="leads_indexing",
        retry_after=30,
    )


def park_view(state: AppState, pool: LeadPool, park_id: str) -> ParkView:
    park = park_or_404(state, park_id)
    placed_ids = placed_records(state, park.park_id)
    try:
        # One matcher for the whole answer: the serving one, or the previous one while the
        # serving one's index is built (the answer's model_version says which).
        snap = pool.snapshot(state.holder.matcher, DatabasePool(state))
    except PoolNotReady as exc:
        raise indexing(exc.records) from None
    matcher = snap.matcher
    index = park_index(matcher, park.park_id)
    if index is None:  # a park the reloaded KB added: its leads come with the new index
        raise indexing()
    pl = pool.park(snap, index)
    placed = snap.rows_mask(placed_ids)
    segments = park_segments(
        matcher, index, pl.segment[placed].tolist(), *registry_counts(matcher, index)
    )
    return ParkView(snap, park, index, pl, placed, segments)


def check_filters(matcher: Matcher, park: Park, index: int, filters: LeadFilters) -> LeadFilters:
    """422 in Chinese naming the field for a filter the KB or the park cannot satisfy."""
    kb = matcher.kb
    served = [matcher.segment_ids[j] for j in served_segments(matcher, index)]
    served_chains = list(dict.fromkeys(kb.chain_of_segment[s] for s in served))
    if filters.chain_id is not None:
        if filters.chain_id not in kb.chain_by_id:
            raise InvalidFilter(
                f"chain_id（产业链编号）“{filters.chain_id}” 不存在，请用 GET /v1/chains 查询"
            )
        if filters.chain_id not in served_chains:
            names = "、".join(f"{c}（{kb.chain_by_id[c].name}）" for c in served_chains)
            raise InvalidFilter(
                f"chain_id（产业链编号）“{filters.chain_id}” 不是园区「{park.name}」承载的产业链，可选：{names}"
            )
    if filters.segment_id is not None:
        if filters.segment_id not in kb.segment_by_id:
            raise InvalidFilter(
                f"segment_id（产业环节编号）“{filters.segment_id}” 不存在，请用 GET /v1/chains 查询"
            )
        if filters.segment_id not in served:
            raise InvalidFilter(
                f"segment_id（产业环节编号）“{filters.segment_id}” 不是园区「{park.name}」承载的环节，"
                f"可选：{'、'.join(served)}"
            )
        chain = kb.chain_of_segment[filters.segment_id]
        if filters.chain_id is not None and filters.chain_id != chain:
            raise InvalidFilter(
                f"segment_id（产业环节编号）“{filters.segment_id}” 不属于产业链 {filters.chain_id}"
            )
    if filters.origin is not None and filters.origin not in ORIGIN_VALUES:
        raise InvalidFilter(f"origin（企业来源地）只能取以下值之一：{' | '.join(ORIGIN_VALUES)}")
    if filters.scale is not None and filters.scale not in SCALE_NAMES:
        choices = "；".join(f"{k} {v}" for k, v in SCALE_NAMES.items())
        raise InvalidFilter(f"scale（企业规模）只能取以下值之一：{choices}")
    return filters


@dataclass
class RankedLeads:
    view: ParkView
    entries: list[dict[str, Any]]
    count: int


def ranked(
    state: AppState, pool: LeadPool, park_id: str, filters: LeadFilters, limit: int, offset: int
) -> RankedLeads:
    """One page of the park's leads, filtered, and how many there are in all."""
    park = park_or_404(state, park_id)
    # Check the filters against the park before touching the pool.
    matcher = state.holder.matcher
    index = park_index(matcher, park.park_id)
    if index is None:  # the KB names it, the serving matcher not yet (a reload under way)
        raise indexing()
    check_filters(matcher, park, index, filters)
    view = park_view(state, pool, park_id)
    rows = rank_leads(view.snap, view.scores, view.segments, filters, leave_out=view.placed)
    entries = [
        lead_entry(
            view.snap,
            view.index,
            view.scores,
            lead_at(view.scores, int(r), view.segments),
            view.segments,
        )
        for r in rows[offset : offset + limit]
    ]
    return RankedLeads(view, entries, len(rows))


def gaps_body(view: ParkView) -> dict[str, Any]:
    """The chain-gaps answer of a park."""
    return {
        "park_id": view.park.park_id,
        "park_name": view.park.name,
        "model_version": view.matcher.version,
        "placed_total": int(view.placed.sum()),
        "placed_unassigned": view.segments.unassigned,
        "thin_rule": THIN_RULE,
        "chains": chain_gaps(
            view.snap, view.index, view.scores, view.segments, leave_out=view.placed
        ),
    }
