"""Leads and chain gaps on a small trained matcher: the pool index's scores equal Matcher.score,
policy exclusions, filters, gap statuses on a constructed park, and the pool kept up to date row
by row."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from features.enterprise import EnterpriseProfile
from features.kb import KnowledgeBase
from recommender.hybrid import Matcher
from recommender.leads import (
    CANDIDATE_MIN_FIT,
    LeadFilters,
    LeadPool,
    ParkLeads,
    PoolNotReady,
    PoolRow,
    PoolSnapshot,
    chain_gaps,
    lead_at,
    lead_entry,
    park_segments,
    rank_leads,
    scale_of,
    segment_status,
)
from recommender.pool import PoolScorer
from recommender.synthetic import GeneratorParams, generate_history
from recommender.train import TrainParams, profiles, train_matcher

CHAIN_PARK = "cangzhou_canal_laser"  # names the whole 高端装备产业 chain: five segments
XIONGAN_PARK = "xiongan_international_design_eco_city"  # excludes general manufacturing
ROBOTS = "研发制造工业机器人、高档数控机床和机器人减速器"
NEV = "新能源汽车整车及动力电池系统、驱动电机制造"
STEEL = "生产普通铸铁管件、建筑用钢筋和水泥制品"


class ListSource:
    """A `PoolSource` over a dict of records, counting what the pool asks of it."""

    def __init__(self, rows: Sequence[PoolRow]) -> None:
        self.records = {r.record_id: r for r in rows}
        self.loaded = 0

    def stamp(self) -> tuple[int, int]:
        return len(self.records), max(self.records, default=0)

    def rows(self, *, ids=None, above=None):  # type: ignore[no-untyped-def]
        keys = sorted(self.records)
        if above is not None:
            keys = [k for k in keys if k > above]
        if ids is not None:
            keys = [k for k in keys if k in set(ids)]
        self.loaded += len(keys)
        return [self.records[k] for k in keys]

    def record_ids(self) -> np.ndarray:
        return np.array(sorted(self.records), dtype=np.int64)


@pytest.fixture(scope="module")
def matcher(kb: KnowledgeBase) -> Matcher:
    ents, inter = generate_history(kb, GeneratorParams(n_enterprises=400, seed=11))
    return train_matcher(kb, ents, inter, TrainParams(epochs=5, num_threads=1), version="leads-t")


@pytest.fixture(scope="module")
def records(matcher: Matcher) -> list[PoolRow]:
    ents, _ = generate_history(matcher.kb, GeneratorParams(n_enterprises=250, seed=12))
    rows = [PoolRow(i + 1, f"P{i:04d}", p) for i, p in enumerate(profiles(ents))]
    rows.append(PoolRow(len(rows) + 1, "STEEL", EnterpriseProfile(description=STEEL)))
    return rows


@pytest.fixture(scope="module")
def snap(matcher: Matcher, records: list[PoolRow]) -> PoolSnapshot:
    return LeadPool().snapshot(matcher, ListSource(records))


def park_index(matcher: Matcher, park_id: str) -> int:
    return next(i for i, p in enumerate(matcher.parks) if p.park_id == park_id)


def view(snap: PoolSnapshot, park_id: str) -> tuple[int, ParkLeads]:
    park = park_index(snap.matcher, park_id)
    return park, LeadPool().park(snap, park)


def test_pool_scores_are_those_of_matcher_score(matcher: Matcher, snap: PoolSnapshot) -> None:
    park, pl = view(snap, CHAIN_PARK)
    for row in range(0, len(snap), 7):
        s = matcher.score(snap.profiles[row])
        assert np.isfinite(pl.scores.final[row]) == np.isfinite(s.final[park])
        np.testing.assert_allclose(pl.scores.final[row], s.final[park], atol=1e-9)
        np.testing.assert_allclose(pl.scores.content[row], s.content[park], atol=1e-9)
        np.testing.assert_allclose(pl.scores.collaborative[row], s.collaborative[park], atol=1e-9)
        j = int(s.signals.park_best_segment[park])
        fits = s.signals.segment_scores[j] > 0.05
        assert pl.segment[row] == (j if fits else -1)


def test_lead_score_equals_the_park_score_of_match(snap: PoolSnapshot) -> None:
    matcher = snap.matcher
    park, pl = view(snap, CHAIN_PARK)
    segs = park_segments(matcher, park, [])
    explained = 0
    for row in rank_leads(snap, pl, segs)[:8]:
        entry = lead_entry(snap, park, pl, lead_at(pl, int(row), segs), segs)
        assert entry["enterprise_id"] == int(snap.record_ids[row])
        answer = matcher.match(snap.profiles[row], top_k=len(matcher.parks))
        park_score = next(p for p in answer["parks"] if p["park_id"] == CHAIN_PARK)
        assert entry["score"] == park_score["score"]
        assert entry["score_breakdown"] == park_score["score_breakdown"]
        # The learned part is explained by the same feature pairs as in /v1/match.
        basis = [
            r["text"].split("主要依据")[-1] for r in park_score["reasons"] if r["kind"] == "similar"
        ]
        said = [r["text"].split("主要依据")[-1] for r in entry["reasons"] if r["kind"] == "similar"]
        assert said == basis
        explained += bool(said)
    assert explained


def test_rank_leads_is_sorted_and_leaves_out_excluded_enterprises(snap: PoolSnapshot) -> None:
    matcher = snap.matcher
    park, pl = view(snap, XIONGAN_PARK)
    excluded = {
        int(snap.record_ids[r])
        for r in range(len(snap))
        if matcher.score(snap.profiles[r]).policy.excluded.get(park)
    }
    steel = int(snap.record_ids[snap.external_ids.index("STEEL")])
    assert steel in excluded  # general manufacturing is not for 雄安
    rows = rank_leads(snap, pl, park_segments(matcher, park, []))
    ids = [int(snap.record_ids[r]) for r in rows]
    assert not excluded & set(ids)
    assert len(ids) == len(snap) - len(excluded)
    scores = pl.scores.final[rows]
    assert np.all(np.diff(scores) <= 0)
    # Leaving out the placed ones removes exactly them.
    placed = snap.rows_mask(ids[:3])
    assert [
        int(snap.record_ids[r])
        for r in rank_leads(snap, pl, park_segments(matcher, park, []), leave_out=placed)
    ] == ids[3:]


def test_rank_leads_filters_by_origin_scale_chain_and_segment(snap: PoolSnapshot) -> None:
    matcher = snap.matcher
    park, pl = view(snap, CHAIN_PARK)
    segs = park_segments(matcher, park, [])
    everyone = rank_leads(snap, pl, segs)
    beijing = rank_leads(snap, pl, segs, LeadFilters(origin="北京"))
    assert len(beijing) and all(snap.profiles[r].origin == "北京" for r in beijing)
    assert len(beijing) == sum(snap.profiles[r].origin == "北京" for r in everyone)
    small = rank_leads(snap, pl, segs, LeadFilters(scale="small"))
    assert len(small) and all(20 <= (snap.profiles[r].employees or -1) < 100 for r in small)
    seg_id = "high_end_equipment.intelligent_equipment"
    in_segment = rank_leads(snap, pl, segs, LeadFilters(segment_id=seg_id))
    assert len(in_segment)
    assert all(matcher.segment_ids[pl.segment[r]] == seg_id for r in in_segment)
    in_chain = rank_leads(snap, pl, segs, LeadFilters(chain_id="high_end_equipment"))
    assert len(in_chain) == sum(pl.segment[r] >= 0 for r in everyone)
    assert len(in_chain) < len(everyone)


def test_scale_of_uses_the_feature_buckets() -> None:
    assert [scale_of(n) for n in (None, 5, 20, 150, 999, 5000)] == [
        None,
        "micro",
        "small",
        "medium",
        "large",
        "xlarge",
    ]


def test_segment_status_thresholds() -> None:
    assert segment_status(0, 10) == "empty"
    assert segment_status(2, 0) == "thin"  # fewer than THIN_MIN
    assert segment_status(3, 4) == "ok"
    assert segment_status(5, 40) == "thin"  # below a quarter of the park's median segment
    assert segment_status(10, 40) == "ok"


def test_gap_statuses_on_a_constructed_park(matcher: Matcher, snap: PoolSnapshot) -> None:
    park = park_index(matcher, CHAIN_PARK)
    placed_rows = [PoolRow(1000 + i, None, EnterpriseProfile(description=ROBOTS)) for i in range(4)]
    placed_rows.append(PoolRow(2000, None, EnterpriseProfile(description=NEV)))
    placed_snap = LeadPool().snapshot(matcher, ListSource(placed_rows))
    placed_segments = LeadPool().park(placed_snap, park).segment
    robot, nev = int(placed_segments[0]), int(placed_segments[-1])
    assert matcher.segment_ids[robot].endswith("intelligent_equipment")
    assert matcher.segment_ids[nev].endswith("nev_icv")

    segs = park_segments(matcher, park, placed_segments.tolist())
    assert len(segs.served) == 5 and segs.unassigned == 0
    assert segs.placed[robot] == 4 and segs.placed[nev] == 1
    assert segs.status[robot] == "ok"
    assert segs.status[nev] == "thin"
    assert [segs.status[j] for j in segs.served if j not in (robot, nev)] == ["empty"] * 3

    pl = LeadPool().park(snap, park)
    leads = [lead_at(pl, int(r), segs) for r in rank_leads(snap, pl, segs)]
    assert any(lead.fills_gap for lead in leads)
    for lead in leads:
        assert lead.fills_gap == (lead.segment is not None and lead.segment != robot)

    chains = chain_gaps(snap, park, pl, segs)
    assert [c["chain_id"] for c in chains] == ["high_end_equipment"]
    seg_ids = [s["segment_id"] for s in chains[0]["segments"]]
    assert seg_ids == [s.segment_id for s in matcher.kb.chain_by_id["high_end_equipment"].segments]
    for s in chains[0]["segments"]:
        assert len(s["candidates"]) <= 5
        assert all(c["segment_fit"] >= CANDIDATE_MIN_FIT for c in s["candidates"])
        ranks = [0.5 * c["segment_fit"] + 0.5 * c["score"] for c in s["candidates"]]
        assert ranks == sorted(ranks, reverse=True)
    robots = next(
        s for s in chains[0]["segments"] if s["segment_id"].endswith("intelligent_equipment")
    )
    assert robots["placed"] == 4 and robots["status"] == "ok" and robots["candidates"]
    # A candidate placed in the park is not offered again.
    first = robots["candidates"][0]["enterprise_id"]
    again = chain_gaps(snap, park, pl, segs, leave_out=snap.rows_mask([first]))
    robots_again = next(
        s for s in again[0]["segments"] if s["segment_id"].endswith("intelligent_equipment")
    )
    assert first not in [c["enterprise_id"] for c in robots_again["candidates"]]


def test_lead_reasons_speak_from_the_park_side(snap: PoolSnapshot) -> None:
    matcher = snap.matcher
    park, pl = view(snap, CHAIN_PARK)
    segs = park_segments(matcher, park, [])
    row = next(int(r) for r in rank_leads(snap, pl, segs) if pl.segment[r] >= 0)
    reasons = lead_entry(snap, park, pl, lead_at(pl, row, segs), segs)["reasons"]
    chain = reasons[0]
    assert chain["kind"] == "chain" and chain["source"]
    assert chain["text"].startswith("该企业主营「") and "「高端装备产业·" in chain["text"]
    assert "空白" in chain["text"]  # nothing is placed, so every segment is empty
    # The chain reason names the policy terms the matcher found for that segment.
    s = matcher.score(snap.profiles[row])
    terms = s.signals.text.terms[int(pl.segment[row])][:5]
    assert terms and f"该企业主营「{'、'.join(terms)}」" in chain["text"]


def test_pool_is_updated_row_by_row(
    matcher: Matcher, records: list[PoolRow], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = ListSource(records[:60])
    pool = LeadPool()
    first = pool.snapshot(matcher, source)
    assert len(first) == 60 and source.loaded == 60
    assert pool.snapshot(matcher, source) is first  # nothing changed: nothing read or indexed

    edited = dataclasses.replace(records[10], profile=EnterpriseProfile(description=NEV))
    source.records[edited.record_id] = edited
    del source.records[records[20].record_id]
    for r in records[60:65]:
        source.records[r.record_id] = r
    source.loaded = 0
    pool.mark_changed([edited.record_id])  # an edit is told; additions and deletions are found
    second = pool.snapshot(matcher, source)
    assert source.loaded == 1 + 5  # the edited record and the new ones, not the table
    assert second is not first and second.generation > first.generation
    assert list(second.record_ids) == sorted(source.records)
    # The updated index scores as a fresh one over the same records does.
    fresh = PoolScorer(matcher, exact=True).index(
        [source.records[k].profile for k in sorted(source.records)]
    )
    park = park_index(matcher, CHAIN_PARK)
    np.testing.assert_allclose(
        pool.park(second, park).scores.final,
        second.scorer.scores_for_park(fresh, park).final,
        atol=1e-12,
    )
    row = int(second.rows_of([edited.record_id])[0])
    assert second.profiles[row].description == NEV

    # Another process adds a record: seen once the table is looked at again (every STAMP_EVERY).
    late = records[70]
    source.records[late.record_id] = late
    monkeypatch.setattr("recommender.leads.STAMP_EVERY", 3600.0)
    assert pool.snapshot(matcher, source) is second
    monkeypatch.setattr("recommender.leads.STAMP_EVERY", 0.0)
    assert late.record_id in pool.snapshot(matcher, source).record_ids

    other = Matcher(matcher.kb, matcher.text, None, version=matcher.version)
    assert pool.snapshot(other, source).matcher is other  # another model: a new index


def test_a_restart_reads_the_saved_index_back(
    matcher: Matcher, records: list[PoolRow], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = ListSource(records[:40])
    first = LeadPool(cache_dir=tmp_path).snapshot(matcher, source)
    assert len(list(tmp_path.glob("leadpool-*.npz"))) == 1

    indexed: list[int] = []
    real = PoolScorer.index

    def counting(
        self: PoolScorer, profiles: Sequence[EnterpriseProfile], ids: object = None
    ) -> object:
        indexed.append(len(profiles))
        return real(self, profiles, ids)  # type: ignore[arg-type]

    monkeypatch.setattr(PoolScorer, "index", counting)
    edited = dataclasses.replace(records[5], profile=EnterpriseProfile(description=NEV))
    source.records[edited.record_id] = edited
    again = LeadPool(cache_dir=tmp_path).snapshot(matcher, source)  # a new process, in effect
    assert indexed == [1]  # only the record edited while the service was down
    park = park_index(matcher, CHAIN_PARK)
    fresh = PoolScorer(matcher, exact=True)
    want = fresh.scores_for_park(real(fresh, [r.profile for r in source.rows()]), park).final
    np.testing.assert_allclose(LeadPool().park(again, park).scores.final, want, atol=1e-12)
    assert not np.allclose(LeadPool().park(first, park).scores.final, want)


class SlowSource(ListSource):
    """A source whose reads wait for `release`: indexing that takes as long as the test wants."""

    def __init__(self, rows: Sequence[PoolRow]) -> None:
        super().__init__(rows)
        self.release = threading.Event()

    def rows(self, *, ids=None, above=None):  # type: ignore[no-untyped-def]
        assert self.release.wait(60)
        return super().rows(ids=ids, above=above)


def test_requests_do_not_hang_on_indexing(matcher: Matcher, records: list[PoolRow]) -> None:
    source = SlowSource(records[:20])
    pool = LeadPool(wait=0.2)
    job, started = pool.refresh(matcher, source)
    assert started and pool.refresh(matcher, source) == (job, False)  # one indexing at a time
    with pytest.raises(PoolNotReady) as no:
        pool.snapshot(matcher, source)  # no index yet: told so after `wait`, not hung
    assert no.value.records == 20
    source.release.set()
    first = pool.snapshot(matcher, source, wait=60)
    assert len(first) == 20

    source.release.clear()
    for r in records[20:30]:
        source.records[r.record_id] = r
    pool.mark_changed()
    assert pool.snapshot(matcher, source) is first  # the update goes on; the last index answers
    running = pool.indexing
    assert running is not None
    source.release.set()
    assert running.done.wait(60) and pool.indexing is None
    latest = pool.snapshot(matcher, source)
    assert len(latest) == 30

    # A new model swapped in: the last index answers (naming its model) until the new one is built.
    source.release.clear()
    other = Matcher(matcher.kb, matcher.text, None, version="other")
    assert pool.snapshot(other, source) is latest
    source.release.set()
    assert pool.snapshot(other, source, wait=60).matcher is other
