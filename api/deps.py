"""FastAPI dependencies: the app state built in the lifespan and a database session per request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.errors import DB_DOWN, ServiceUnavailable
from api.models_service import MatcherHolder
from api.settings import Settings
from api.training import Trainer
from features.kb import KnowledgeBase
from store.audit import AuditWriter


@dataclass
class AppState:
    settings: Settings
    kb: KnowledgeBase
    sessions: sessionmaker[Session]
    holder: MatcherHolder
    admin_hash: str | None = None
    trainer: Trainer = field(init=False)
    audit: AuditWriter = field(init=False)  # the match audit's writer thread; closed at shutdown

    def __post_init__(self) -> None:
        self.trainer = Trainer(self.settings, self.kb, self.sessions, self.holder)
        self.audit = AuditWriter(self.sessions)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.app
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_db(state: StateDep) -> Iterator[Session]:
    """A session per request; a lost database connection becomes a 503, never a 500."""
    session = state.sessions()
    try:
        yield session
    except (OperationalError, InterfaceError) as exc:
        raise ServiceUnavailable(DB_DOWN, code="database_unavailable") from exc
    finally:
        # Closing rolls back; on a connection that has just died that fails too, and the pool
        # has already invalidated it, so there is nothing left to clean up.
        with contextlib.suppress(SQLAlchemyError):
            session.close()


SessionDep = Annotated[Session, Depends(get_db)]
