"""API keys in the store: written through `Store.write`, read on a session the caller owns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import ApiKeyRow

__all__ = ["KeyRecord", "find_by_hash", "insert_key", "list_keys", "revoke_key"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One key as stored: never the key itself, only its hash."""

    id: str
    tenant_id: str
    name: str | None
    key_hash: str
    created_at: int
    revoked_at: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    monthly_tokens: int | None = None


def _record(row: ApiKeyRow) -> KeyRecord:
    return KeyRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        key_hash=row.key_hash,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        rpm=row.rpm,
        tpm=row.tpm,
        monthly_tokens=row.monthly_tokens,
    )


def insert_key(conn: Connection, key: KeyRecord) -> None:
    """Store a new key."""
    conn.execute(
        insert(ApiKeyRow).values(
            id=key.id,
            tenant_id=key.tenant_id,
            name=key.name,
            key_hash=key.key_hash,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            rpm=key.rpm,
            tpm=key.tpm,
            monthly_tokens=key.monthly_tokens,
        )
    )


def revoke_key(conn: Connection, key_id: str, now: int) -> bool:
    """Mark a key revoked; False when no live key has that id."""
    result = conn.execute(
        update(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None)).values(revoked_at=now)
    )
    return bool(result.rowcount)


async def find_by_hash(session: AsyncSession, key_hash: str) -> KeyRecord | None:
    """The key with this hash (revoked or not), by its unique index."""
    row = (await session.execute(select(ApiKeyRow).where(ApiKeyRow.key_hash == key_hash))).scalar_one_or_none()
    return None if row is None else _record(row)


async def list_keys(session: AsyncSession, tenant_id: str | None = None) -> Sequence[KeyRecord]:
    """Every key (of one tenant), oldest first."""
    query = select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)
    if tenant_id is not None:
        query = query.where(ApiKeyRow.tenant_id == tenant_id)
    return [_record(row) for row in (await session.execute(query)).scalars()]
