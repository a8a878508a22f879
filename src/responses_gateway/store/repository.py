"""Data access for responses and their items, on a session the caller owns."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Integer,
    Select,
    Table,
    case,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .models import ResponseItemRow, ResponseRow
from .records import ChainItem, ItemKind, ItemRecord, ResponseRecord

__all__ = ["DEFAULT_MAX_CHAIN_DEPTH", "ChainTooDeepError", "ResponseRepository"]

DEFAULT_MAX_CHAIN_DEPTH = 100_000
IN_PROGRESS = "in_progress"
FAILED = "failed"


class ChainTooDeepError(Exception):
    """A previous_response_id chain is longer than the repository's cap (or loops back on itself)."""


class ResponseRepository:
    """Data access on one AsyncSession; flushes, never commits (the caller owns the transaction)."""

    def __init__(self, session: AsyncSession, *, max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH) -> None:
        self._session = session
        self._max_chain_depth = max_chain_depth

    async def save_response(
        self,
        response: ResponseRecord,
        input_items: Sequence[ItemRecord],
        output_items: Sequence[ItemRecord],
    ) -> None:
        """Insert a response with its own new input items and its output items."""
        await self._insert(response, [*_item_rows(response, "input", input_items), *_item_rows(response, "output", output_items)])

    async def _insert(self, response: ResponseRecord, items: list[dict[str, Any]]) -> None:
        # Core inserts (one executemany for the items): the ORM's unit of work
        # cost more CPU than the database itself on this, the hottest write.
        await self._session.execute(_INSERT_RESPONSE, _response_row(response))
        if items:
            await self._session.execute(_INSERT_ITEMS, items)

    async def begin_response(self, record: ResponseRecord, input_items: Sequence[ItemRecord]) -> None:
        """Insert a response as it starts (status, owner and lease from `record`) with its input items.

        Commit it right away: from then on the row is claimed by `record.owner` until
        `record.lease_expires_at`, and `finish_response` completes it in one later transaction.
        """
        await self._insert(record, _item_rows(record, "input", input_items))

    async def finish_response(
        self,
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
        claim = (
            update(ResponseRow)
            .where(*_owned(record.tenant_id, record.id), ResponseRow.status == IN_PROGRESS)
            .values(
                status=record.status,
                data=record.data,
                updated_at=int(time.time()),
                owner=None,
                lease_expires_at=None,
            )
            .execution_options(synchronize_session=False)
        )
        result = cast(CursorResult[()], await self._session.execute(claim))
        if result.rowcount > 0:
            rows = _item_rows(record, "output", output_items)
            if rows:
                await self._session.execute(_INSERT_ITEMS, rows)
            return True
        if await self.response_status(record.tenant_id, record.id) is not None:
            return False  # ended already (or failed by a sweep): never overwrite a final row
        if input_items is None:
            raise ValueError(f"response {record.id} never began: finish_response needs its input_items")
        await self.save_response(replace(record, owner=None, lease_expires_at=None), input_items, output_items)
        return True

    async def renew_leases(self, owner: str, lease_expires_at: int) -> int:
        """Move the lease of every in_progress response of `owner` to `lease_expires_at`; how many."""
        stmt = (
            update(ResponseRow)
            .where(ResponseRow.owner == owner, ResponseRow.status == IN_PROGRESS)
            .values(lease_expires_at=lease_expires_at)
        )
        result = cast(CursorResult[()], await self._session.execute(stmt))
        return result.rowcount

    async def fail_orphans(self, *, now: int, owner: str | None = None) -> list[str]:
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
        claimed = (
            select(candidate.id)
            .where(*_orphaned(candidate, now, owner))
            .with_for_update(skip_locked=True)
        )
        stmt = (
            update(ResponseRow)
            .where(ResponseRow.id.in_(claimed), *_orphaned(ResponseRow, now, owner))
            .values(status=FAILED, updated_at=now, owner=None, lease_expires_at=None)
            .returning(ResponseRow.id)
        )
        return list((await self._session.scalars(stmt)).all())

    async def response_items(self, tenant_id: str, response_id: str, kind: ItemKind) -> list[ItemRecord]:
        """One kind of a response's own items, in order (empty if the response is absent)."""
        stmt = (
            select(ResponseItemRow)
            .where(
                ResponseItemRow.tenant_id == tenant_id,
                ResponseItemRow.response_id == response_id,
                ResponseItemRow.kind == kind,
            )
            .order_by(ResponseItemRow.position)
        )
        return [_item_record(row) for row in (await self._session.scalars(stmt)).all()]

    async def response_status(self, tenant_id: str, response_id: str) -> str | None:
        """The status column of one response (the truth, even where its data says otherwise); None if absent."""
        return await self._session.scalar(select(ResponseRow.status).where(*_owned(tenant_id, response_id)))

    async def get_response(self, tenant_id: str, response_id: str) -> ResponseRecord | None:
        """The response, or None if it does not exist for this tenant."""
        row = await self._session.scalar(select(ResponseRow).where(*_owned(tenant_id, response_id)))
        return None if row is None else _response_record(row)

    async def delete_response(self, tenant_id: str, response_id: str) -> bool:
        """Delete the response and (by ON DELETE CASCADE) its items; False if it did not exist."""
        stmt = delete(ResponseRow).where(*_owned(tenant_id, response_id))
        # A bulk DELETE always yields a CursorResult; the stubs only promise Result.
        result = cast(CursorResult[()], await self._session.execute(stmt))
        return result.rowcount > 0

    async def load_conversation(self, tenant_id: str, response_id: str) -> list[ChainItem] | None:
        """Every item of the chain ending at response_id, oldest response first, in one query.

        Within a response: inputs by position, then outputs by position. None if response_id
        does not exist for this tenant. A deleted (or foreign) ancestor ends the walk there.
        Raises ChainTooDeepError past max_chain_depth responses, which also bounds a cycle.
        """
        rows = (await self._session.execute(self._chain_query(tenant_id, response_id))).all()
        if not rows:
            return None
        if rows[0].depth >= self._max_chain_depth:  # rows are ordered deepest first
            raise ChainTooDeepError(f"conversation of {response_id} exceeds {self._max_chain_depth} responses")
        return [
            ChainItem(
                response_id=row.response_id,
                kind=cast(ItemKind, row.kind),
                item=ItemRecord(row.item_id, row.item_type, row.data, row.token_count, row.token_counter),
            )
            for row in rows
            if row.item_id is not None  # the outer join's placeholder for a response without items
        ]

    async def list_input_items(
        self,
        tenant_id: str,
        response_id: str,
        *,
        after: str | None,
        before: str | None,
        limit: int,
        order: Literal["asc", "desc"],
    ) -> tuple[list[ItemRecord], bool] | None:
        """A page of the response's own input items and whether more follow; None if the response is absent.

        Cursors are item ids, meant in the listing order: `after` continues past an item,
        `before` alone returns the `limit` items just before it (the previous page), and then
        has_more says whether still earlier ones exist. An unknown cursor gives an empty page.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        exists = await self._session.scalar(select(ResponseRow.id).where(*_owned(tenant_id, response_id)))
        if exists is None:
            return None
        backwards = before is not None and after is None
        stmt = _input_page_query(tenant_id, response_id, after, before, order, backwards).limit(limit + 1)
        rows = list((await self._session.scalars(stmt)).all())
        has_more = len(rows) > limit
        page = rows[:limit]
        if backwards:
            page.reverse()
        return [_item_record(row) for row in page], has_more

    def _chain_query(self, tenant_id: str, response_id: str) -> Select[str, int, str, str, str, int | None, bytes]:
        """WITH RECURSIVE walk from response_id up previous_response_id, joined to the items."""
        # The tenant filter sits inside both halves of the CTE, so the walk can never step
        # into another tenant's rows, even through a previous_response_id naming one.
        chain = (
            select(
                ResponseRow.id,
                ResponseRow.previous_response_id,
                literal_column("0", Integer).label("depth"),
            )
            .where(*_owned(tenant_id, response_id))
            .cte("chain", recursive=True)
        )
        parent = aliased(ResponseRow, name="parent")
        chain = chain.union_all(
            select(parent.id, parent.previous_response_id, (chain.c.depth + 1).label("depth"))
            .join(chain, parent.id == chain.c.previous_response_id)
            .where(parent.tenant_id == tenant_id, chain.c.depth < self._max_chain_depth)
        )
        item = ResponseItemRow
        return (
            select(
                chain.c.id.label("response_id"),
                chain.c.depth,
                item.kind,
                item.item_id,
                item.item_type,
                item.token_count,
                item.token_counter,
                item.data,
            )
            # Outer join: a response with no items still yields a row, telling "absent" from "empty".
            .outerjoin(item, (item.response_id == chain.c.id) & (item.tenant_id == tenant_id))
            .order_by(chain.c.depth.desc(), _kind_order(), item.position)
        )


def _owned(tenant_id: str, response_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """WHERE clauses selecting one response of one tenant."""
    return ResponseRow.tenant_id == tenant_id, ResponseRow.id == response_id


def _orphaned(
    row: type[ResponseRow], now: int, owner: str | None
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """WHERE clauses of the sweep: in_progress, and the lease expired (or, given `owner`, that owner's)."""
    expired = row.lease_expires_at < now
    return row.status == IN_PROGRESS, expired if owner is None else or_(expired, row.owner == owner)


def _kind_order() -> ColumnElement[int]:
    """Inputs before outputs, stated rather than left to string collation."""
    return case((ResponseItemRow.kind == "input", 0), else_=1)


def _input_page_query(
    tenant_id: str,
    response_id: str,
    after: str | None,
    before: str | None,
    order: Literal["asc", "desc"],
    backwards: bool,
) -> Select[ResponseItemRow]:
    """Input items strictly between the cursors, sorted in travel order (reversed when paging back)."""
    position = ResponseItemRow.position
    stmt = select(ResponseItemRow).where(
        ResponseItemRow.tenant_id == tenant_id,
        ResponseItemRow.response_id == response_id,
        ResponseItemRow.kind == "input",
    )
    ascending = order == "asc"
    if after is not None:
        cursor = _input_position(response_id, after)
        stmt = stmt.where(position > cursor if ascending else position < cursor)
    if before is not None:
        cursor = _input_position(response_id, before)
        stmt = stmt.where(position < cursor if ascending else position > cursor)
    return stmt.order_by(position.asc() if ascending != backwards else position.desc())


def _input_position(response_id: str, item_id: str) -> ColumnElement[int]:
    """Scalar subquery: position of an input item by id (NULL, so no match, when unknown)."""
    return (
        select(func.min(ResponseItemRow.position))
        .where(
            ResponseItemRow.response_id == response_id,
            ResponseItemRow.kind == "input",
            ResponseItemRow.item_id == item_id,
        )
        .scalar_subquery()
    )


# Built once: plain Core inserts on the tables, parameters passed per call.
_INSERT_RESPONSE = insert(cast(Table, ResponseRow.__table__))
_INSERT_ITEMS = insert(cast(Table, ResponseItemRow.__table__))


def _item_rows(response: ResponseRecord, kind: ItemKind, items: Sequence[ItemRecord]) -> list[dict[str, Any]]:
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


def _response_record(row: ResponseRow) -> ResponseRecord:
    return ResponseRecord(
        id=row.id,
        tenant_id=row.tenant_id,
        previous_response_id=row.previous_response_id,
        model=row.model,
        status=row.status,  # the column, not whatever status the serialized data carries
        created_at=row.created_at,
        data=row.data,
        owner=row.owner,
        lease_expires_at=row.lease_expires_at,
    )


def _item_record(row: ResponseItemRow) -> ItemRecord:
    return ItemRecord(
        item_id=row.item_id,
        item_type=row.item_type,
        data=row.data,
        token_count=row.token_count,
        token_counter=row.token_counter,
    )
