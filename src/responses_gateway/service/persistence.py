"""Writing responses: the claim when a stream starts, the atomic write when it ends, write-behind.

A response is written once, atomically, when it ends (a unary create: one
insert; a stream: a claim row at its first event, finished in place). A
crash between the two leaves a claimed row that the lease sweep fails, never
a response that claims to be finished with missing output.
"""

from __future__ import annotations

import asyncio
import logging

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.service.cache import ConversationCache
from responses_gateway.service.call import CallContext
from responses_gateway.service.conversation import Conversation, count_items
from responses_gateway.service.items import item_id, item_type
from responses_gateway.service.leases import LeaseKeeper
from responses_gateway.service.pending import PendingWrites
from responses_gateway.store import ItemRecord, ResponseRecord, Store, writes

log = logging.getLogger(__name__)


class ResponseWriter:
    """Stores responses and keeps the conversation cache in step with what is stored."""

    def __init__(self, store: Store, leases: LeaseKeeper, cache: ConversationCache, pending: PendingWrites | None) -> None:
        """`pending`: where finished responses' writes run behind their answers; None writes before answering."""
        self._store = store
        self._leases = leases
        self._cache = cache
        self._pending = pending

    def begin(self, snapshot: pb.Response, conv: Conversation, ctx: CallContext) -> asyncio.Task[bool]:
        """Claim the response row now, beside the stream rather than before it.

        Called when the first upstream event arrives: before it the client has
        seen nothing, so there is nothing to claim (a failure then means the
        response never existed, as on OpenAI), and the write competes with
        relaying output rather than delaying the upstream request.
        """
        record = _record(snapshot, ctx, owner=self._leases.owner, lease=self._leases.lease_until())
        inputs = _input_records(conv)

        async def begin() -> bool:
            await self._store.write(lambda c: writes.begin_response(c, record, inputs))
            return True

        return asyncio.create_task(begin())

    async def finish(
        self,
        conv: Conversation,
        begun: asyncio.Task[bool] | None,
        final: pb.Response,
        output: list[ipb.Item],
        ctx: CallContext,
    ) -> None:
        """Store the finished response: behind the answer when write-behind has room, else before it."""
        # Serialised now: the caller owns `final` again once this returns.
        write = self._persist(conv, begun, _record(final, ctx), output, ctx)
        if self._pending is None or not self._pending.try_start(ctx.tenant_id, final.id, write):
            await write

    async def interrupted(
        self,
        conv: Conversation,
        begun: asyncio.Task[bool] | None,
        final: pb.Response,
        output: list[ipb.Item],
        ctx: CallContext,
    ) -> None:
        """Store what a client saw before it went away; never raises (the stream is already gone)."""
        try:
            await self._persist(conv, begun, _record(final, ctx), output, ctx)
        except Exception:
            log.exception("could not store interrupted response %s", final.id)

    async def settled(self, tenant_id: str, response_id: str) -> None:
        """Before reading a response: its write, if it is still behind its answer, has finished."""
        if self._pending is not None:
            await self._pending.settled(tenant_id, response_id)

    async def drain(self) -> None:
        """Finish the writes still behind their answers (before the store closes)."""
        if self._pending is not None:
            await self._pending.drain()

    async def _persist(
        self,
        conv: Conversation,
        begun: asyncio.Task[bool] | None,
        record: ResponseRecord,
        output: list[ipb.Item],
        ctx: CallContext,
    ) -> None:
        """Write the finished response atomically; a crash before this leaves the claimed row to be failed."""
        claimed = False
        if begun is not None:
            try:
                claimed = await begun
            except Exception:
                log.exception("could not record the start of response %s", record.id)
        output_counts = await count_items(conv.counter, output)
        output_records = _records(output, output_counts, conv.counter.name)
        if begun is None:  # never claimed (a unary create): one plain insert
            inputs = _input_records(conv)
            await self._store.write(lambda c: writes.save_response(c, record, inputs, output_records))
            written = True
        else:
            # The input items were written with the claim; only a failed claim needs them here.
            unclaimed = None if claimed else _input_records(conv)
            written = await self._store.write(lambda c: writes.finish_response(c, record, output_records, unclaimed))
        if not written:
            log.warning("response %s was no longer in progress when it finished; kept as stored", record.id)
            return
        if conv.history.items:
            # Only conversations already being continued are kept: an answer with no
            # history is cached once someone continues it (one chain query, then hits).
            self._cache.put(ctx.tenant_id, record.id, conv.then(output, output_counts))


def _record(resp: pb.Response, ctx: CallContext, *, owner: str | None = None, lease: int | None = None) -> ResponseRecord:
    return ResponseRecord(
        id=resp.id,
        tenant_id=ctx.tenant_id,
        previous_response_id=resp.previous_response_id if resp.HasField("previous_response_id") else None,
        model=resp.model,
        status=resp.status,
        created_at=resp.created_at,
        data=resp.SerializeToString(),
        owner=owner,
        lease_expires_at=lease,
    )


def _records(items: list[ipb.Item], counts: list[int], counter: str) -> list[ItemRecord]:
    return [
        ItemRecord(item_id=item_id(i), item_type=item_type(i), data=i.SerializeToString(), token_count=n, token_counter=counter)
        for i, n in zip(items, counts, strict=True)
    ]


def _input_records(conv: Conversation) -> list[ItemRecord]:
    return _records(conv.new_items, conv.new_counts, conv.counter.name)
