"""Real placements the learned part may train on: registered firms (the bureau's registry import)
and the bureau's recorded interactions. Nothing here invents data; with neither, the learned part
stays off (see `api.cli.cmd_setup`)."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from store import firms, orm

PLACEMENT_COLUMNS = ("firm_id", "name", "scope", "county_code", "city", "county", "reg_date")
SYNTHETIC = "synthetic"


def registry_placements(sessions: sessionmaker[Session]) -> pd.DataFrame:
    """Located registry firms (`store.firms.load_placements`); empty before any import."""
    return firms.load_placements(sessions)


def registry_firm_count(sessions: sessionmaker[Session]) -> int:
    return int(firms.count_firms(sessions))


def recorded_interaction_count(sessions: sessionmaker[Session], *, demo: bool = False) -> int:
    """Interactions a bureau recorded or imported (the demo's synthetic ones count only in demo)."""
    with sessions() as s:
        q = select(func.count()).select_from(orm.Interaction)
        if not demo:
            q = q.where(orm.Interaction.record_source != SYNTHETIC)
        return int(s.scalar(q) or 0)


def purge_synthetic(sessions: sessionmaker[Session]) -> int:
    """Remove the synthetic history that earlier versions wrote into every empty database, and
    retire the models trained on it; return the number of enterprises removed. One transaction."""
    with sessions.begin() as s:
        ids = select(orm.Enterprise.id).where(orm.Enterprise.record_source == SYNTHETIC)
        n = int(
            s.scalar(
                select(func.count())
                .select_from(orm.Enterprise)
                .where(orm.Enterprise.record_source == SYNTHETIC)
            )
            or 0
        )
        if not n:
            return 0
        s.execute(delete(orm.Interaction).where(orm.Interaction.enterprise_id.in_(ids)))
        s.execute(delete(orm.Interaction).where(orm.Interaction.record_source == SYNTHETIC))
        s.execute(delete(orm.Enterprise).where(orm.Enterprise.record_source == SYNTHETIC))
        s.execute(
            update(orm.ModelVersion)
            .values(status="retired", pinned=False)
            .execution_options(synchronize_session=False)
        )
    return n
