"""Bearer tokens and web sessions in the database: look-ups by hash, expiry, revocation, logout."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from store import orm


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes that were stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def live_token(session: Session, token_hash: str, now: datetime) -> orm.ApiToken | None:
    """The token with this hash if it is neither revoked nor expired."""
    row = session.scalars(select(orm.ApiToken).where(orm.ApiToken.token_hash == token_hash)).first()
    if row is None or row.revoked:
        return None
    if row.expires_at is not None and _aware(row.expires_at) <= now:
        return None
    return row


@dataclass(frozen=True)
class SessionRow:
    role: str
    bureau: str
    token_id: int | None
    expires_at: datetime


def create_session(
    factory: sessionmaker[Session],
    id_hash: str,
    *,
    role: str,
    bureau: str,
    token_id: int | None,
    expires_at: datetime,
) -> None:
    with factory.begin() as s:
        # Expired sessions are swept here, at the rare moment one is made, not on every request.
        s.execute(delete(orm.WebSession).where(orm.WebSession.expires_at <= datetime.now(UTC)))
        s.add(
            orm.WebSession(
                id_hash=id_hash,
                role=role,
                bureau=bureau,
                token_id=token_id,
                expires_at=expires_at,
            )
        )


def live_session(session: Session, id_hash: str, now: datetime) -> SessionRow | None:
    """The session with this hash if unexpired and its token (if any) is still live."""
    row = session.get(orm.WebSession, id_hash)
    if row is None or _aware(row.expires_at) <= now:
        return None
    if row.token_id is not None:
        token = session.get(orm.ApiToken, row.token_id)
        if token is None or live_token(session, token.token_hash, now) is None:
            return None
    return SessionRow(row.role, row.bureau, row.token_id, _aware(row.expires_at))


def end_session(factory: sessionmaker[Session], id_hash: str) -> None:
    with factory.begin() as s:
        s.execute(delete(orm.WebSession).where(orm.WebSession.id_hash == id_hash))


def revoke_tokens(factory: sessionmaker[Session], *, token_id: int | None, name: str | None) -> int:
    """Revoke tokens by id or by name and end their sessions; the number of tokens revoked."""
    t = orm.ApiToken
    conds = ([t.id == token_id] if token_id is not None else []) + (
        [t.name == name] if name else []
    )
    if not conds:
        return 0
    with factory.begin() as s:
        ids = list(s.scalars(select(t.id).where(or_(*conds), t.revoked.is_(False))))
        if ids:
            s.execute(update(t).where(t.id.in_(ids)).values(revoked=True))
            s.execute(delete(orm.WebSession).where(orm.WebSession.token_id.in_(ids)))
    return len(ids)


def list_tokens(factory: sessionmaker[Session]) -> Sequence[orm.ApiToken]:
    with factory() as s:
        return s.scalars(select(orm.ApiToken).order_by(orm.ApiToken.id)).all()
