"""Enterprise records and lead interactions in the database: single inserts, whole-file imports and
idempotent interaction recording that stays correct under concurrent retries (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Select, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from features.enterprise import (
    FIELD_NAMES,
    SCALAR_FIELDS,
    EnterpriseProfile,
    profile_from,
    split_products,
)
from store import orm

# Bound parameters per IN (...) query: SQLite allows 32,766, PostgreSQL 65,535.
ID_CHUNK = 1000


class DuplicateExternalIds(ValueError):
    """External ids that are already taken; `existing` maps each to the DB id holding it."""

    def __init__(self, existing: dict[str, int]) -> None:
        self.existing = existing
        super().__init__(", ".join(existing))


class UnknownReference(ValueError):
    """An interaction names an enterprise or park that does not exist; `field` says which."""

    def __init__(self, field: str, value: object) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}={value!r}")


class IdempotencyConflict(ValueError):
    """The idempotency key was already used for a different interaction (`existing`)."""

    def __init__(self, existing: orm.Interaction, differences: list[str]) -> None:
        self.existing = existing
        self.differences = differences
        super().__init__(", ".join(differences))


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; SQLite hands back naive datetimes that were stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# -- enterprises ----------------------------------------------------------------------------------
def _taken(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    ids = list(external_ids)
    found: dict[str, int] = {}
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start : start + ID_CHUNK]
        rows = session.execute(
            select(orm.Enterprise.external_id, orm.Enterprise.id).where(
                orm.Enterprise.external_id.in_(chunk)
            )
        )
        found.update({str(ext): int(pk) for ext, pk in rows})
    return found


def taken_external_ids(session: Session, external_ids: Iterable[str]) -> dict[str, int]:
    """Which of `external_ids` the pool already holds, and the DB id holding each."""
    return _taken(session, external_ids)


def create_enterprise(
    factory: sessionmaker[Session],
    fields: dict[str, Any],
    *,
    record_source: str,
    consent: bool,
    bureau: str = "",
) -> orm.Enterprise:
    """Insert one enterprise; a taken `external_id` raises `DuplicateExternalIds` (race-safe: the
    UNIQUE constraint decides, not a prior look-up)."""
    values = {k: fields.get(k) for k in SCALAR_FIELDS}
    external_id = fields.get("external_id")
    row = orm.Enterprise(
        **values,
        external_id=external_id,
        products=split_products(fields.get("products")),
        record_source=record_source,
        consent=consent,
        bureau=bureau,
    )
    try:
        with factory.begin() as session:
            session.add(row)
    except IntegrityError:
        if external_id is None:
            raise
        with factory() as session:
            taken = _taken(session, [external_id])
        if not taken:
            raise
        raise DuplicateExternalIds(taken) from None
    return row


def import_enterprises(
    factory: sessionmaker[Session],
    enterprises: pd.DataFrame,
    record_source: str = "import",
    bureau: str = "",
) -> int:
    """Insert a frame validated by `features.history.validate_enterprises` in ONE transaction.

    Unlike `store.history.import_history`, which skips enterprises it already holds (re-running a
    history import is harmless), an external id that is already taken rejects the whole frame with
    `DuplicateExternalIds`: a bureau's file that collides with the pool is a mistake to report.
    """
    rows: list[dict[str, Any]] = []
    ids: list[str] = []
    for r in enterprises.to_dict("records"):
        ids.append(str(r["enterprise_id"]))
        row: dict[str, Any] = {k: _clean(r.get(k)) for k in SCALAR_FIELDS}
        row.update(
            external_id=ids[-1],
            products=split_products(_clean(r.get("products"))),
            record_source=record_source,
            consent=True,
            bureau=bureau,
        )
        created = _clean(r.get("created_at"))
        if created is not None:
            row["created_at"] = pd.Timestamp(created).to_pydatetime()
        rows.append(row)
    if not rows:
        return 0
    try:
        with factory.begin() as session:
            taken = _taken(session, ids)
            if taken:
                raise DuplicateExternalIds(taken)
            session.execute(insert(orm.Enterprise), rows)
    except IntegrityError:
        # Another import took one of the ids between our look-up and the insert.
        with factory() as session:
            taken = _taken(session, ids)
        if not taken:
            raise
        raise DuplicateExternalIds(taken) from None
    return len(rows)


def _clean(v: object) -> object:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, float) and pd.isna(v):
        return None
    return v


def get_enterprise(session: Session, enterprise_id: int) -> orm.Enterprise | None:
    return session.get(orm.Enterprise, enterprise_id)


def fields_of(row: orm.Enterprise) -> dict[str, Any]:
    """A record's enterprise fields that are given, as `/v1/match` takes them."""
    values = {k: getattr(row, k) for k in FIELD_NAMES}
    values["products"] = list(row.products or [])
    return {k: v for k, v in values.items() if v not in (None, [], "")}


def profile_of(row: orm.Enterprise) -> EnterpriseProfile:
    """The profile the matcher scores for a stored record."""
    return profile_from({k: getattr(row, k) for k in FIELD_NAMES})


def load_profiles(
    session: Session, *, ids: Sequence[int] | None = None, above: int | None = None
) -> list[tuple[int, str | None, EnterpriseProfile]]:
    """Records of the pool as (record id, external id, profile), by record id: all of them, those
    with the given ids, or those with an id above `above`. The columns alone are read, not ORM
    objects."""
    e = orm.Enterprise
    stmt = select(e.id, e.external_id, *(getattr(e, k) for k in FIELD_NAMES)).order_by(e.id)
    if ids is not None:
        stmt = stmt.where(e.id.in_(list(ids)))
    if above is not None:
        stmt = stmt.where(e.id > above)
    return [(r.id, r.external_id, profile_from(dict(r._mapping))) for r in session.execute(stmt)]


# A record id is a 32-bit INTEGER column: larger numbers are no record (and overflow SQLite).
MAX_RECORD_ID = 2**31 - 1


def find_enterprise(session: Session, key: str) -> orm.Enterprise | None:
    """The record whose id is `key` (ASCII digits: the `enterprise_id` every answer shows)."""
    if re.fullmatch(r"[0-9]{1,10}", key) and int(key) <= MAX_RECORD_ID:
        return session.get(orm.Enterprise, int(key))
    return None


def delete_enterprise(
    factory: sessionmaker[Session], enterprise_id: int, bureau: str | None
) -> bool:
    """Delete a record and the interactions that name it, in one transaction. `bureau` None (an
    admin) may delete any record, a bureau only its own; False when there is no such record."""
    with factory.begin() as session:
        row = session.get(orm.Enterprise, enterprise_id)
        if row is None or (bureau is not None and row.bureau != bureau):
            return False
        session.execute(delete(orm.Interaction).where(orm.Interaction.enterprise_id == row.id))
        session.delete(row)
    return True


@dataclass(frozen=True)
class EnterpriseFilter:
    origin: str | None = None
    record_source: str | None = None
    q: str | None = None

    def apply(self, stmt: Select[Any]) -> Select[Any]:
        e = orm.Enterprise
        if self.origin:
            stmt = stmt.where(e.origin == self.origin)
        if self.record_source:
            stmt = stmt.where(e.record_source == self.record_source)
        if self.q:
            stmt = stmt.where(
                or_(
                    e.name.contains(self.q, autoescape=True),
                    e.description.contains(self.q, autoescape=True),
                    e.external_id.contains(self.q, autoescape=True),
                )
            )
        return stmt


def list_enterprises(
    session: Session, where: EnterpriseFilter, limit: int, offset: int
) -> tuple[Sequence[orm.Enterprise], int]:
    """A page of enterprises, newest first, and the total that match `where`."""
    total = session.scalar(where.apply(select(func.count()).select_from(orm.Enterprise))) or 0
    rows = session.scalars(
        where.apply(select(orm.Enterprise))
        .order_by(orm.Enterprise.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return rows, int(total)


# -- interactions ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewInteraction:
    enterprise_id: int
    park_id: str
    kind: str
    note: str | None
    # None: "now" on first insert, and "whatever was recorded" when a retry is compared.
    occurred_at: datetime | None = None


def _by_key(session: Session, bureau: str, key: str) -> orm.Interaction | None:
    i = orm.Interaction
    return session.scalars(select(i).where(i.bureau == bureau, i.idempotency_key == key)).first()


def _differences(row: orm.Interaction, new: NewInteraction) -> list[str]:
    diffs = [
        name
        for name, old, value in (
            ("enterprise_id", row.enterprise_id, new.enterprise_id),
            ("park_id", row.park_id, new.park_id),
            ("kind", row.kind, new.kind),
            ("note", row.note, new.note),
        )
        if old != value
    ]
    if new.occurred_at is not None and as_utc(row.occurred_at) != as_utc(new.occurred_at):
        diffs.append("occurred_at")
    return diffs


def _replay(row: orm.Interaction, new: NewInteraction) -> tuple[orm.Interaction, bool]:
    diffs = _differences(row, new)
    if diffs:
        raise IdempotencyConflict(row, diffs)
    return row, False


def record_interaction(
    factory: sessionmaker[Session],
    key: str,
    new: NewInteraction,
    record_source: str = "bureau",
    bureau: str = "",
) -> tuple[orm.Interaction, bool]:
    """Record `new` under idempotency `key` once: (row, True) the first time, (the same row, False)
    on a retry with the same content, `IdempotencyConflict` if the key was used for other content.

    Concurrent retries race to INSERT and the UNIQUE constraint on (bureau, key) lets exactly one
    win; the losers roll back and return the winner's row. No lock or prior read is relied on.
    Keys are per bureau: another bureau's use of the same key is neither seen nor replayed.
    """
    with factory() as session:
        existing = _by_key(session, bureau, key)
        if existing is not None:
            return _replay(existing, new)
        if session.get(orm.Enterprise, new.enterprise_id) is None:
            raise UnknownReference("enterprise_id", new.enterprise_id)
        if session.get(orm.Park, new.park_id) is None:
            raise UnknownReference("park_id", new.park_id)
    row = orm.Interaction(
        enterprise_id=new.enterprise_id,
        park_id=new.park_id,
        kind=new.kind,
        occurred_at=as_utc(new.occurred_at or datetime.now(UTC)),
        record_source=record_source,
        idempotency_key=key,
        note=new.note,
        bureau=bureau,
    )
    try:
        with factory.begin() as session:
            session.add(row)
    except IntegrityError:
        with factory() as session:
            existing = _by_key(session, bureau, key)
        if existing is None:
            raise  # not the key: a foreign key, i.e. a reference removed meanwhile
        return _replay(existing, new)
    return row, True


def list_interactions(
    session: Session,
    *,
    enterprise_id: int | None,
    park_id: str | None,
    kind: str | None,
    limit: int,
    offset: int,
    bureau: str | None = None,
) -> tuple[Sequence[orm.Interaction], int]:
    """A page of interactions, latest first, and the total that match; only `bureau`'s own unless
    `bureau` is None (an admin)."""
    i = orm.Interaction

    def where(stmt: Select[Any]) -> Select[Any]:
        if bureau is not None:
            stmt = stmt.where(i.bureau == bureau)
        if enterprise_id is not None:
            stmt = stmt.where(i.enterprise_id == enterprise_id)
        if park_id:
            stmt = stmt.where(i.park_id == park_id)
        if kind:
            stmt = stmt.where(i.kind == kind)
        return stmt

    total = session.scalar(where(select(func.count()).select_from(i))) or 0
    rows = session.scalars(
        where(select(i)).order_by(i.occurred_at.desc(), i.id.desc()).limit(limit).offset(offset)
    ).all()
    return rows, int(total)
