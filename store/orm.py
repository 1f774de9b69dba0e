"""SQLAlchemy 2 ORM tables: the knowledge base, enterprises, interactions, the match audit, models
and the firms of imported registries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Explicit constraint names so that migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Zone(Base):
    __tablename__ = "zones"
    zone_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    positioning: Mapped[str] = mapped_column(Text)
    focus_terms: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    cities: Mapped[list[City]] = relationship(back_populates="zone", order_by="City.position")


class KbVersion(Base):
    """One row: the digest of the KB the tables hold, written by `sync_kb` in its transaction, so
    a running service can tell cheaply that `load-kb` changed the KB and reload it."""

    __tablename__ = "kb_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    digest: Mapped[str] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class City(Base):
    __tablename__ = "cities"
    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.zone_id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    zone: Mapped[Zone] = relationship(back_populates="cities")


class Chain(Base):
    __tablename__ = "chains"
    chain_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    group: Mapped[str] = mapped_column(String(30))
    direction: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    segments: Mapped[list[Segment]] = relationship(
        back_populates="chain", order_by="Segment.position"
    )


class Segment(Base):
    __tablename__ = "segments"
    segment_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    chain_id: Mapped[str] = mapped_column(ForeignKey("chains.chain_id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    chain: Mapped[Chain] = relationship(back_populates="segments")


class Park(Base):
    __tablename__ = "parks"
    park_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(30), index=True)
    city: Mapped[str] = mapped_column(ForeignKey("cities.name"), index=True)
    county: Mapped[str | None] = mapped_column(String(40))
    zone_id: Mapped[str] = mapped_column(ForeignKey("zones.zone_id"), index=True)
    devzone_code: Mapped[str | None] = mapped_column(String(20))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    source: Mapped[str] = mapped_column(Text)
    also_source: Mapped[list[Any]] = mapped_column(default=list)
    level: Mapped[str | None] = mapped_column(String(20))
    zone_type: Mapped[str | None] = mapped_column(String(40))
    approved: Mapped[str | None] = mapped_column(String(10))
    area_ha: Mapped[float | None] = mapped_column(Float)
    leading_industries: Mapped[list[Any]] = mapped_column(default=list)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer)
    chains: Mapped[list[ParkChain]] = relationship(
        order_by="ParkChain.position", cascade="all, delete-orphan"
    )


class ParkChain(Base):
    __tablename__ = "park_chains"
    park_id: Mapped[str] = mapped_column(ForeignKey("parks.park_id"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[str] = mapped_column(ForeignKey("chains.chain_id"), index=True)
    segment_id: Mapped[str | None] = mapped_column(ForeignKey("segments.segment_id"))


class Enterprise(Base):
    __tablename__ = "enterprises"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(80), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    industry_code: Mapped[str | None] = mapped_column(String(8))
    products: Mapped[list[Any]] = mapped_column(default=list)
    employees: Mapped[int | None] = mapped_column(Integer)
    annual_revenue_wan: Mapped[float | None] = mapped_column(Float)
    investment_wan: Mapped[float | None] = mapped_column(Float)
    rd_intensity: Mapped[float | None] = mapped_column(Float)
    energy_tce: Mapped[float | None] = mapped_column(Float)
    land_mu: Mapped[float | None] = mapped_column(Float)
    origin: Mapped[str | None] = mapped_column(String(10))
    record_source: Mapped[str] = mapped_column(String(20), default="api")
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The bureau whose token created the record; "" for self-checks, history and admin imports.
    bureau: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)


class Interaction(Base):
    __tablename__ = "interactions"
    # An idempotency key is a bureau's own: another bureau's key neither replays nor blocks it.
    __table_args__ = (
        UniqueConstraint(
            "bureau", "idempotency_key", name="uq_interactions_bureau_idempotency_key"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    park_id: Mapped[str] = mapped_column(ForeignKey("parks.park_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    record_source: Mapped[str] = mapped_column(String(20), default="api")
    idempotency_key: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(Text)
    # The bureau whose token wrote it; a bureau reads only its own, an admin all ("" = no bureau).
    bureau: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)


class MatchRequest(Base):
    __tablename__ = "match_requests"
    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    model_version: Mapped[str | None] = mapped_column(String(60))
    request: Mapped[dict[str, Any]] = mapped_column()
    response: Mapped[dict[str, Any]] = mapped_column()
    duration_ms: Mapped[float | None] = mapped_column(Float)
    channel: Mapped[str] = mapped_column(String(20), default="api")


class ModelVersion(Base):
    __tablename__ = "model_versions"
    version: Mapped[str] = mapped_column(String(60), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_hash: Mapped[str | None] = mapped_column(String(64))
    kb_digest: Mapped[str | None] = mapped_column(String(64))
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiToken(Base):
    """A bureau or admin bearer token; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    bureau: Mapped[str] = mapped_column(String(100), default="", server_default="")
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser: the cookie holds a signed random id, this table only its SHA-256.

    Logout deletes the row; revoking the token deletes its rows; `expires_at` is checked on every
    request, so the lifetime the login page states is the one enforced here.
    """

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    bureau: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class PolicyDraft(Base):
    """A KB drafted from a policy document, waiting for an admin's review (features/draft)."""

    __tablename__ = "policy_drafts"
    draft_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    document_id: Mapped[str] = mapped_column(String(60), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    draft: Mapped[dict[str, Any]] = mapped_column()
    items: Mapped[list[Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(20), default="待审核")  # 待审核 | 已应用
    applied_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted: Mapped[list[Any]] = mapped_column(default=list)


class RegistryFirm(Base):
    """A firm of a market-regulation registry export a bureau imported: a real placement.

    No column holds a natural person's name: the import drops 法定代表人 and the like unread.
    """

    __tablename__ = "registry_firms"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The dedupe key: the 统一社会信用代码 when valid, else sha1(name, address) in hex.
    row_key: Mapped[str] = mapped_column(String(40), unique=True)
    credit_code: Mapped[str | None] = mapped_column(String(18), unique=True)
    # What the file held when the code is invalid (kept so the bureau can correct it).
    credit_code_raw: Mapped[str | None] = mapped_column(String(40))
    code_valid: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(Text)
    reg_date: Mapped[date | None] = mapped_column(Date)
    firm_type: Mapped[str | None] = mapped_column(Text)
    capital_wan: Mapped[float | None] = mapped_column(Float)  # 万元人民币 only
    capital_currency: Mapped[str | None] = mapped_column(String(3))
    capital_amount_wan: Mapped[float | None] = mapped_column(Float)  # in capital_currency
    scope: Mapped[str] = mapped_column(Text)
    province: Mapped[str | None] = mapped_column(Text)
    region: Mapped[str | None] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(Text)
    county_code: Mapped[str | None] = mapped_column(String(6), index=True)
    city: Mapped[str | None] = mapped_column(String(20), index=True)
    county: Mapped[str | None] = mapped_column(String(40))
    located_by: Mapped[str] = mapped_column(String(12))
    status: Mapped[str | None] = mapped_column(Text)  # 登记状态 as written (存续, 注销, …)
    bureau: Mapped[str | None] = mapped_column(String(100))
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
