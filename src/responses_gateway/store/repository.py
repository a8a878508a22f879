"""Reads of responses and their items, on a session the caller owns (writes: `writes`, via `Store.write`)."""

from __future__ import annotations

from typing import Literal, cast

from sqlalchemy import ColumnElement, Integer, Select, case, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from responses_gateway.errors import ChainTooDeep

from .models import ResponseItemRow, ResponseRow
from .records import ChainItem, ItemKind, ItemRecord, ResponseRecord
from .writes import owned

__all__ = ["DEFAULT_MAX_CHAIN_DEPTH", "ResponseRepository"]

DEFAULT_MAX_CHAIN_DEPTH = 100_000


class ResponseRepository:
    """Reads on one AsyncSession the caller owns; writes go through `Store.write` with `writes`."""

    def __init__(self, session: AsyncSession, *, max_chain_depth: int = DEFAULT_MAX_CHAIN_DEPTH) -> None:
        self._session = session
        self._max_chain_depth = max_chain_depth

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
        return await self._session.scalar(select(ResponseRow.status).where(*owned(tenant_id, response_id)))

    async def get_response(self, tenant_id: str, response_id: str) -> ResponseRecord | None:
        """The response, or None if it does not exist for this tenant."""
        row = await self._session.scalar(select(ResponseRow).where(*owned(tenant_id, response_id)))
        return None if row is None else _response_record(row)

    async def load_conversation(self, tenant_id: str, response_id: str) -> list[ChainItem] | None:
        """Every item of the chain ending at response_id, oldest response first, in one query.

        Within a response: inputs by position, then outputs by position. None if response_id
        does not exist for this tenant. A deleted (or foreign) ancestor ends the walk there.
        Raises ChainTooDeep (a client error, 400) past max_chain_depth responses, which also
        bounds a cycle.
        """
        rows = (await self._session.execute(self._chain_query(tenant_id, response_id))).all()
        if not rows:
            return None
        if rows[0].depth >= self._max_chain_depth:  # rows are ordered deepest first
            raise ChainTooDeep(response_id, self._max_chain_depth)
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
        exists = await self._session.scalar(select(ResponseRow.id).where(*owned(tenant_id, response_id)))
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
            .where(*owned(tenant_id, response_id))
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
