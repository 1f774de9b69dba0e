"""Read API of the knowledge base: zones, chains and parks, read from the database (`store.kb_read`),
which holds the KB the service serves (`api.kb_service`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import SessionDep, StateDep
from api.errors import NotFound
from api.schemas import (
    ChainPublic,
    ChainsPublic,
    ParkChainRef,
    ParkPublic,
    ParksPublic,
    SegmentPublic,
    ZonePublic,
    ZonesPublic,
    error_responses,
)
from features.kb import CHAIN_GROUPS, PARK_KINDS
from store import kb_read, orm

router = APIRouter(prefix="/v1", tags=["知识库"], responses=error_responses(422, 503))


@router.get("/zones", response_model=ZonesPublic, summary="一核四区")
def list_zones(db: SessionDep) -> ZonesPublic:
    data = [
        ZonePublic(
            zone_id=z.zone_id,
            name=z.name,
            kind=z.kind,
            cities=[c.name for c in z.cities],
            positioning=z.positioning,
            focus_terms=z.focus_terms,
            source=z.source,
        )
        for z in kb_read.list_zones(db)
    ]
    return ZonesPublic(data=data, count=len(data))


def _chain_public(c: orm.Chain) -> ChainPublic:
    return ChainPublic(
        chain_id=c.chain_id,
        name=c.name,
        group=c.group,
        group_name=CHAIN_GROUPS[c.group],
        direction=c.direction,
        source=c.source,
        segments=[
            SegmentPublic(
                segment_id=s.segment_id, name=s.name, keywords=s.keywords, source=s.source
            )
            for s in c.segments
        ],
    )


@router.get("/chains", response_model=ChainsPublic, summary="16 条产业链")
def list_chains(db: SessionDep) -> ChainsPublic:
    chains = kb_read.list_chains(db)
    return ChainsPublic(data=[_chain_public(c) for c in chains], count=len(chains))


@router.get(
    "/chains/{chain_id}",
    response_model=ChainPublic,
    summary="一条产业链",
    responses=error_responses(404),
)
def get_chain(chain_id: str, db: SessionDep) -> ChainPublic:
    chain = kb_read.get_chain(db, chain_id)
    if chain is None:
        raise NotFound(f"产业链 '{chain_id}' 不存在，请用 GET /v1/chains 查看可用的 chain_id")
    return _chain_public(chain)


def park_public(p: orm.Park, state: StateDep) -> ParkPublic:
    kb = state.kb
    refs = []
    for pc in p.chains:
        seg = kb.segment_by_id.get(pc.segment_id) if pc.segment_id else None
        chain = kb.chain_by_id.get(pc.chain_id)
        refs.append(
            ParkChainRef(
                chain_id=pc.chain_id,
                segment_id=pc.segment_id,
                chain_name=chain.name if chain else pc.chain_id,
                segment_name=seg.name if seg else None,
            )
        )
    return ParkPublic(
        park_id=p.park_id,
        name=p.name,
        kind=p.kind,
        kind_name=PARK_KINDS.get(p.kind, p.kind),
        city=p.city,
        county=p.county,
        zone_id=p.zone_id,
        chains=refs,
        keywords=p.keywords,
        source=p.source,
        also_source=p.also_source,
        devzone_code=p.devzone_code,
        level=p.level,
        zone_type=p.zone_type,
        approved=p.approved,
        area_ha=p.area_ha,
        leading_industries=p.leading_industries,
    )


@router.get("/parks", response_model=ParksPublic, summary="园区、基地与集群")
def list_parks(
    db: SessionDep,
    state: StateDep,
    zone_id: Annotated[str | None, Query(max_length=40, description="区域编号，如 xiongan")] = None,
    city: Annotated[str | None, Query(max_length=20, description="城市，如 石家庄")] = None,
    chain_id: Annotated[str | None, Query(max_length=40, description="产业链编号")] = None,
    q: Annotated[str | None, Query(max_length=50, description="名称或关键词包含的文字")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="每页条数，最多 1000")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="偏移量")] = 0,
) -> ParksPublic:
    where = kb_read.ParkFilter(zone_id=zone_id, city=city, chain_id=chain_id, q=q)
    rows, total = kb_read.list_parks(db, where, limit, offset)
    return ParksPublic(data=[park_public(p, state) for p in rows], count=total)


@router.get(
    "/parks/{park_id}",
    response_model=ParkPublic,
    summary="一个园区",
    responses=error_responses(404),
)
def get_park(park_id: str, db: SessionDep, state: StateDep) -> ParkPublic:
    park = kb_read.get_park(db, park_id)
    if park is None:
        raise NotFound(f"园区 '{park_id}' 不存在，请用 GET /v1/parks 查看可用的 park_id")
    return park_public(park, state)
