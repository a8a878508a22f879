"""Usage totals in the store: added in batches (an upsert that sums), read per key, model and day."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from .models import UsageRow

__all__ = ["UsageRecord", "add_usage", "month_tokens", "usage_since"]

_COUNTERS = ("requests", "input_tokens", "cached_tokens", "output_tokens", "reasoning_tokens")


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """Usage of one tenant's key with one model on one day."""

    tenant_id: str
    key_id: str
    model: str
    day: str
    requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0


def add_usage(conn: Connection, records: Sequence[UsageRecord]) -> None:
    """Add each record to its row's totals (creating the row), in this transaction."""
    if not records:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(UsageRow)
    statement = statement.on_conflict_do_update(
        index_elements=["tenant_id", "key_id", "model", "day"],
        set_={name: getattr(UsageRow, name) + getattr(statement.excluded, name) for name in _COUNTERS},
    )
    conn.execute(
        statement,
        [
            {
                "tenant_id": r.tenant_id,
                "key_id": r.key_id,
                "model": r.model,
                "day": r.day,
                **{name: getattr(r, name) for name in _COUNTERS},
            }
            for r in records
        ],
    )


async def usage_since(session: AsyncSession, since_day: str, tenant_id: str | None = None) -> list[UsageRecord]:
    """Every row from `since_day` on (one tenant's, or all), by tenant, key, model and day."""
    query = select(UsageRow).where(UsageRow.day >= since_day)
    if tenant_id is not None:
        query = query.where(UsageRow.tenant_id == tenant_id)
    query = query.order_by(UsageRow.tenant_id, UsageRow.key_id, UsageRow.model, UsageRow.day)
    return [
        UsageRecord(r.tenant_id, r.key_id, r.model, r.day, *(getattr(r, name) for name in _COUNTERS))
        for r in (await session.execute(query)).scalars()
    ]


async def month_tokens(session: AsyncSession, key_id: str, month: str) -> int:
    """Input plus output tokens a key used in `month` (YYYY-MM)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(UsageRow.input_tokens + UsageRow.output_tokens), 0)).where(
            UsageRow.key_id == key_id, UsageRow.day >= f"{month}-01", UsageRow.day <= f"{month}-31"
        )
    )
    return int(total or 0)
