"""The model registry: which bundle versions exist, their metrics, and which one serves."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from store.orm import ModelVersion


def register(
    session: Session,
    version: str,
    path: str,
    *,
    metrics: dict[str, Any],
    data_hash: str,
    kb_digest: str,
    activate: bool,
) -> ModelVersion:
    """Record a trained version; with `activate`, it becomes the one that serves."""
    if activate:
        session.execute(
            update(ModelVersion).where(ModelVersion.status == "active").values(status="retired")
        )
    mv = ModelVersion(
        version=version,
        path=path,
        metrics=metrics,
        data_hash=data_hash,
        kb_digest=kb_digest,
        status="active" if activate else "candidate",
    )
    session.add(mv)
    return mv


def active_version(session: Session) -> ModelVersion | None:
    """The pinned version if any, else the newest active one."""
    pinned = session.scalars(
        select(ModelVersion)
        .where(ModelVersion.pinned.is_(True))
        .order_by(ModelVersion.created_at.desc())
    ).first()
    if pinned is not None:
        return pinned
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.status == "active")
        .order_by(ModelVersion.created_at.desc())
    ).first()


def list_versions(session: Session) -> list[ModelVersion]:
    return list(
        session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc())).all()
    )


def activate(session: Session, version: str, *, pin: bool | None = None) -> ModelVersion | None:
    """Make `version` the active one (others retire); `pin` True pins it, False unpins all."""
    mv = session.get(ModelVersion, version)
    if mv is None:
        return None
    session.execute(
        update(ModelVersion)
        .where(ModelVersion.status == "active", ModelVersion.version != version)
        .values(status="retired")
    )
    if pin is not None:
        session.execute(update(ModelVersion).values(pinned=False))
    mv.status = "active"
    if pin:
        mv.pinned = True
    return mv


def unpin_all(session: Session) -> None:
    session.execute(update(ModelVersion).values(pinned=False))
