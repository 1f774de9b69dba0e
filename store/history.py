"""Placement history in the database: atomic import of validated frames, and reading it back to train."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from features.enterprise import SCALAR_FIELDS, split_products
from store import orm


def _clean(v: object) -> object:
    if v is None:
        return None
    if isinstance(v, float) and pd.isna(v):
        return None
    if v is pd.NaT:
        return None
    return v


def _external_ids(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(orm.Enterprise.external_id, orm.Enterprise.id).where(
            orm.Enterprise.external_id.is_not(None)
        )
    )
    return {str(ext): int(pk) for ext, pk in rows}


def import_history(
    factory: sessionmaker[Session],
    enterprises: pd.DataFrame,
    interactions: pd.DataFrame,
    record_source: str,
) -> tuple[int, int]:
    """Insert validated frames (see features.history) in one transaction; return the row counts."""
    with factory.begin() as session:
        known = _external_ids(session)
        rows = []
        for r in enterprises.to_dict("records"):
            if r["enterprise_id"] in known:
                continue
            row = {k: _clean(r.get(k)) for k in SCALAR_FIELDS}
            row.update(
                external_id=r["enterprise_id"],
                products=split_products(r.get("products")),
                record_source=record_source,
                consent=True,
            )
            created = _clean(r.get("created_at"))
            if created is not None:
                row["created_at"] = pd.Timestamp(created).to_pydatetime()
            rows.append(row)
        if rows:
            session.execute(insert(orm.Enterprise), rows)
        ids = _external_ids(session)
        irows = [
            dict(
                enterprise_id=ids[r["enterprise_id"]],
                park_id=r["park_id"],
                kind=r["kind"],
                occurred_at=pd.Timestamp(r["occurred_at"]).to_pydatetime(),
                record_source=record_source,
                idempotency_key=_clean(r.get("idempotency_key")),
            )
            for r in interactions.to_dict("records")
        ]
        if irows:
            session.execute(insert(orm.Interaction), irows)
    return len(rows), len(irows)


def existing_external_ids(factory: sessionmaker[Session]) -> set[str]:
    with factory() as session:
        return set(_external_ids(session))


def count_enterprises(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(orm.Enterprise)) or 0)


def read_history(factory: sessionmaker[Session]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(enterprises, interactions) as training frames. `enterprise_id` is the record's database id
    (as text, since registry firms are keyed `reg:…` beside them); `external_id` the imported id."""
    with factory() as session:
        ents = session.execute(select(orm.Enterprise)).scalars().all()
        ent = pd.DataFrame(
            [
                dict(
                    enterprise_id=str(e.id),
                    external_id=e.external_id,
                    products="；".join(e.products or []),
                    created_at=e.created_at,
                    **{k: getattr(e, k) for k in SCALAR_FIELDS},
                )
                for e in ents
            ]
        )
        inter = pd.DataFrame(
            [
                dict(
                    enterprise_id=str(i.enterprise_id),
                    park_id=i.park_id,
                    kind=i.kind,
                    occurred_at=i.occurred_at,
                )
                for i in session.execute(select(orm.Interaction)).scalars().all()
            ],
            columns=["enterprise_id", "park_id", "kind", "occurred_at"],
        )
    return ent, inter
