"""SQLAlchemy table models; every row carries its tenant so isolation needs no schema change later."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, MetaData, String, UniqueConstraint
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["ApiKeyRow", "Base", "ResponseItemRow", "ResponseRow", "UsageRow"]

# Deterministic constraint names, so Alembic can drop or alter them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), never a BIGINT one.
_BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


class Base(AsyncAttrs, DeclarativeBase):
    """Declarative base of the gateway's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class ResponseRow(Base):
    """A stored response; `data` is the serialized proto Response."""

    __tablename__ = "responses"
    __table_args__ = (
        Index("ix_responses_tenant_id_id", "tenant_id", "id"),
        # The orphan sweep: in_progress rows, by lease.
        Index("ix_responses_status_lease_expires_at", "status", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    # Deliberately not a foreign key: a parent may be deleted while its continuations live on.
    previous_response_id: Mapped[str | None] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    # Crash safety: while in_progress, the replica producing it and until when its claim holds.
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[int | None] = mapped_column(BigInteger)

    # Write-side only (it orders the INSERTs); reads go through explicit queries, never lazy loads.
    items: Mapped[list[ResponseItemRow]] = relationship(
        lazy="raise", cascade="all, delete-orphan", passive_deletes=True
    )


class ResponseItemRow(Base):
    """One input or output item of a response, in its position."""

    __tablename__ = "response_items"
    __table_args__ = (UniqueConstraint("response_id", "kind", "position"),)

    pk: Mapped[int] = mapped_column(_BigIntPK, primary_key=True, autoincrement=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    response_id: Mapped[str] = mapped_column(String(64), ForeignKey("responses.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(64))
    item_type: Mapped[str] = mapped_column(String(48))
    token_count: Mapped[int | None] = mapped_column(Integer)
    token_counter: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ApiKeyRow(Base):
    """A gateway API key: only its SHA-256 is kept; it belongs to one tenant."""

    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_tenant_id", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(255))
    # Hex SHA-256 of the key; the unique index is the lookup (never a scan).
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[int] = mapped_column(BigInteger)
    revoked_at: Mapped[int | None] = mapped_column(BigInteger)
    # Limits; None: unlimited.
    rpm: Mapped[int | None] = mapped_column(Integer)
    tpm: Mapped[int | None] = mapped_column(Integer)
    monthly_tokens: Mapped[int | None] = mapped_column(BigInteger)


class UsageRow(Base):
    """Tokens used per tenant, key, model and day (UTC), summed as responses finish."""

    __tablename__ = "usage_daily"

    tenant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # "" for calls without a key (open mode).
    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(255), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD
    requests: Mapped[int] = mapped_column(BigInteger)
    input_tokens: Mapped[int] = mapped_column(BigInteger)
    cached_tokens: Mapped[int] = mapped_column(BigInteger)
    output_tokens: Mapped[int] = mapped_column(BigInteger)
    reasoning_tokens: Mapped[int] = mapped_column(BigInteger)
