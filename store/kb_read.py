"""Reading the knowledge base's tables (zones, chains, parks) for the read API."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from store import orm


def list_zones(session: Session) -> Sequence[orm.Zone]:
    stmt = select(orm.Zone).options(selectinload(orm.Zone.cities)).order_by(orm.Zone.position)
    return session.scalars(stmt).all()


def list_chains(session: Session) -> Sequence[orm.Chain]:
    stmt = select(orm.Chain).options(selectinload(orm.Chain.segments)).order_by(orm.Chain.position)
    return session.scalars(stmt).all()


def get_chain(session: Session, chain_id: str) -> orm.Chain | None:
    return session.get(orm.Chain, chain_id, options=[selectinload(orm.Chain.segments)])


def get_park(session: Session, park_id: str) -> orm.Park | None:
    return session.get(orm.Park, park_id, options=[selectinload(orm.Park.chains)])


@dataclass(frozen=True)
class ParkFilter:
    zone_id: str | None = None
    city: str | None = None
    chain_id: str | None = None
    q: str | None = None


def list_parks(
    session: Session, where: ParkFilter, limit: int, offset: int
) -> tuple[Sequence[orm.Park], int]:
    """A page of parks in KB order, and how many match `where` in all."""
    p = orm.Park
    stmt = select(p)
    if where.zone_id:
        stmt = stmt.where(p.zone_id == where.zone_id)
    if where.city:
        stmt = stmt.where(p.city == where.city.removesuffix("市"))
    if where.chain_id:
        chained = select(orm.ParkChain.park_id).where(orm.ParkChain.chain_id == where.chain_id)
        stmt = stmt.where(p.park_id.in_(chained))
    if where.q:
        # Literal text: % and _ typed by the caller are not LIKE wildcards ("%" matched every park).
        stmt = stmt.where(
            or_(
                p.name.contains(where.q, autoescape=True),
                p.county.contains(where.q, autoescape=True),
                p.source.contains(where.q, autoescape=True),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.options(selectinload(p.chains)).order_by(p.position).limit(limit).offset(offset)
    ).all()
    return rows, int(total)
