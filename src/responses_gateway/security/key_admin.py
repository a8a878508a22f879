"""Creating, listing and revoking gateway API keys (the `keys` commands)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from responses_gateway.security.keys import hash_key, new_key
from responses_gateway.store import Store, keys, usage
from responses_gateway.store.keys import KeyRecord
from responses_gateway.store.usage import UsageRecord


async def create_key(
    store: Store,
    tenant_id: str,
    *,
    name: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
    monthly_tokens: int | None = None,
) -> tuple[KeyRecord, str]:
    """Store a new key for `tenant_id`; the record and the key itself, which exists nowhere else from now on."""
    key_id, key = new_key()
    record = KeyRecord(
        id=key_id,
        tenant_id=tenant_id,
        name=name,
        key_hash=hash_key(key),
        created_at=int(time.time()),
        rpm=rpm,
        tpm=tpm,
        monthly_tokens=monthly_tokens,
    )
    await store.write(lambda c: keys.insert_key(c, record))
    return record, key


async def list_keys(store: Store, tenant_id: str | None = None) -> Sequence[KeyRecord]:
    """Every key (of one tenant), oldest first; records hold hashes, never keys."""
    async with store.session() as session:
        return await keys.list_keys(session, tenant_id)


async def usage_since(store: Store, since_day: str, tenant_id: str | None = None) -> list[UsageRecord]:
    """Usage per tenant, key, model and day from `since_day` (YYYY-MM-DD) on."""
    async with store.session() as session:
        return await usage.usage_since(session, since_day, tenant_id)


async def revoke_key(store: Store, key_id: str) -> bool:
    """Revoke a key; False when no live key has that id."""
    now = int(time.time())
    return await store.write(lambda c: keys.revoke_key(c, key_id, now))
