"""Every write to the store, as plain functions of a sync SQLAlchemy Connection.

Written once against a sync Connection so `Store.write` can run each two ways
with the same SQL: whole, in one hop to the SQLite writer thread (`group_commit`),
or on the async engine through `run_sync` (PostgreSQL, SQLite in memory).
None of them commits: the caller owns the transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, CursorResult, Table, bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import aliased

from .models import ResponseItemRow, ResponseRow
from .records import ItemKind, ItemRecord, ResponseRecord

IN_PROGRESS = "in_progress"
FAILED = "failed"

# Built once: plain Core inserts on the tables, parameters passed per call. The
# ORM's unit of work cost more CPU than the database itself on the hottest write.
_RESPONSES = cast(Table, ResponseRow.__table__)
_INSERT_RESPONSE = insert(_RESPONSES)
_INSERT_ITEMS = insert(cast(Table, ResponseItemRow.__table__))
# The conditional UPDATE that ends a response, likewise built once: built per
# call as an ORM update it cost ~900 µs of CPU, ~8× the database's own work.
_FINISH = (
    update(_RESPONSES)
    .where(_RESPONSES.c.tenant_id == bindparam("k_tenant"), _RESPONSES.c.id == bindparam("k_id"), _RESPONSES.c.status == IN_PROGRESS)
    .values(status=bindparam("v_status"), data=bindparam("v_data"), updated_at=bindparam("v_updated"), owner=None, lease_expires_at=None)
)


def save_response(
    conn: Connection, response: ResponseRecord, input_items: Sequence[ItemRecord], output_items: Sequence[ItemRecord]
) -> None:
    """Insert a response with its own new input items and its output items."""
    _insert(conn, response, [*item_rows(response, "input", input_items), *item_rows(response, "output", output_items)])


def begin_response(conn: Connection, record: ResponseRecord, input_items: Sequence[ItemRecord]) -> None:
    """Insert a response as it starts (status, owner and lease from `record`) with its input items.

    Commit it right away: from then on the row is claimed by `record.owner` until
    `record.lease_expires_at`, and `finish_response` completes it in one later transaction.
    """
    _insert(conn, record, item_rows(record, "input", input_items))


def finish_response(
    conn: Connection,
    record: ResponseRecord,
    output_items: Sequence[ItemRecord],
    input_items: Sequence[ItemRecord] | None = None,
) -> bool:
    """Write a response's end: its status, data and output items, releasing owner and lease.

    The row must still be in_progress: if it exists in any other status (a sweep marked it
    failed, or it already ended), nothing is written and the answer is False. A response
    that never began is inserted whole instead, with `input_items` (then required).
    Everything happens in the caller's transaction, so the end is atomic either way.
    """
    if record.status == IN_PROGRESS:
        raise ValueError("finish_response needs a final status, not in_progress")
    # The conditional UPDATE is the claim: concurrent with a sweep, exactly one of them
    # matches the in_progress row (PostgreSQL re-checks the WHERE after the row lock,
    # SQLite serialises the writers), and it is the first statement, taking SQLite's
    # write lock before anything is read.
    result = conn.execute(
        _FINISH,
        {"k_tenant": record.tenant_id, "k_id": record.id, "v_status": record.status, "v_data": record.data, "v_updated": int(time.time())},
    )
    if result.rowcount > 0:
        rows = item_rows(record, "output", output_items)
        if rows:
            conn.execute(_INSERT_ITEMS, rows)
        return True
    exists = conn.scalar(select(ResponseRow.status).where(*owned(record.tenant_id, record.id)))
    if exists is not None:
        return False  # ended already (or failed by a sweep): never overwrite a final row
    if input_items is None:
        raise ValueError(f"response {record.id} never began: finish_response needs its input_items")
    save_response(conn, replace(record, owner=None, lease_expires_at=None), input_items, output_items)
    return True


def renew_leases(conn: Connection, owner: str, lease_expires_at: int) -> int:
    """Move the lease of every in_progress response of `owner` to `lease_expires_at`; how many."""
    stmt = (
        update(ResponseRow)
        .where(ResponseRow.owner == owner, ResponseRow.status == IN_PROGRESS)
        .values(lease_expires_at=lease_expires_at)
    )
    return conn.execute(stmt).rowcount


def fail_orphans(conn: Connection, *, now: int, owner: str | None = None) -> list[str]:
    """Mark failed every in_progress response whose lease expired before `now`; their ids.

    With `owner`, also every in_progress response of that owner whatever its lease (a
    restarted replica reclaiming what its previous life left). Rows of other owners
    with a live lease are never touched, nor are in_progress rows with no lease at all
    (except by their own owner's reclaim). Safe beside other sweepers and finishers:
    each row is claimed by exactly one of them; on PostgreSQL, rows another transaction
    holds are skipped rather than waited for (that transaction decides them).
    """
    # The alias keeps the subquery from being correlated to the UPDATE's own table.
    # FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite renders no locking clause (its single
    # writer already serialises sweeps). The outer WHERE re-tests the row once locked.
    candidate = aliased(ResponseRow, name="candidate")
    claimed = select(candidate.id).where(*_orphaned(candidate, now, owner)).with_for_update(skip_locked=True)
    stmt = (
        update(ResponseRow)
        .where(ResponseRow.id.in_(claimed), *_orphaned(ResponseRow, now, owner))
        .values(status=FAILED, updated_at=now, owner=None, lease_expires_at=None)
        .returning(ResponseRow.id)
    )
    return list(conn.scalars(stmt).all())


def delete_response(conn: Connection, tenant_id: str, response_id: str) -> bool:
    """Delete the response and (by ON DELETE CASCADE) its items; False if it did not exist."""
    result: CursorResult[Any] = conn.execute(delete(ResponseRow).where(*owned(tenant_id, response_id)))
    return result.rowcount > 0


def owned(tenant_id: str, response_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """WHERE clauses selecting one response of one tenant."""
    return ResponseRow.tenant_id == tenant_id, ResponseRow.id == response_id


def _orphaned(row: type[ResponseRow], now: int, owner: str | None) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """WHERE clauses of the sweep: in_progress, and the lease expired (or, given `owner`, that owner's)."""
    expired = row.lease_expires_at < now
    return row.status == IN_PROGRESS, expired if owner is None else or_(expired, row.owner == owner)


def _insert(conn: Connection, response: ResponseRecord, items: list[dict[str, Any]]) -> None:
    conn.execute(_INSERT_RESPONSE, _response_row(response))
    if items:
        conn.execute(_INSERT_ITEMS, items)


def item_rows(response: ResponseRecord, kind: ItemKind, items: Sequence[ItemRecord]) -> list[dict[str, Any]]:
    """Insert values for one kind of a response's items, numbered from 0."""
    return [
        dict(
            tenant_id=response.tenant_id,
            response_id=response.id,
            kind=kind,
            position=position,
            item_id=item.item_id,
            item_type=item.item_type,
            token_count=item.token_count,
            token_counter=item.token_counter,
            data=item.data,
        )
        for position, item in enumerate(items)
    ]


def _response_row(record: ResponseRecord) -> dict[str, Any]:
    return dict(
        id=record.id,
        tenant_id=record.tenant_id,
        previous_response_id=record.previous_response_id,
        model=record.model,
        status=record.status,
        created_at=record.created_at,
        updated_at=int(time.time()),
        data=record.data,
        owner=record.owner,
        lease_expires_at=record.lease_expires_at,
    )
