"""The Responses service: every API rule lives here, once, for both faces.

Transport-free: the gRPC servicer and the bridge's in-process backend both
call these methods with proto messages and a CallContext. The work is done
by one object per RPC family: creation (create, stream, count input tokens),
persistence (claims, atomic writes, write-behind) and reads (get, delete,
input items, cancel).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from responses_gateway.api.v1 import events_pb2 as epb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.router import Router
from responses_gateway.security import Authenticator
from responses_gateway.security.limits import MemoryRateLimiter, RateLimiter
from responses_gateway.service import reads
from responses_gateway.service.admission import Admission
from responses_gateway.service.cache import ConversationCache
from responses_gateway.service.call import CallContext, caller_of
from responses_gateway.service.creation import ResponseCreation
from responses_gateway.service.history import HistoryLoader
from responses_gateway.service.leases import LeaseKeeper
from responses_gateway.service.observed import CreateObserver
from responses_gateway.service.pending import PendingWrites
from responses_gateway.service.persistence import ResponseWriter
from responses_gateway.service.usage import UsageLedger
from responses_gateway.store import Store
from responses_gateway.telemetry import Telemetry

__all__ = ["CallContext", "ResponsesService"]


class ResponsesService:
    """The service's RPCs as methods on proto messages; owns no transport."""

    def __init__(
        self,
        router: Router,
        store: Store,
        leases: LeaseKeeper,
        authenticator: Authenticator,
        cache: ConversationCache | None = None,
        pending: PendingWrites | None = None,
        limiter: RateLimiter | None = None,
        ledger: UsageLedger | None = None,
        telemetry: Telemetry | None = None,
    ) -> None:
        """`pending`: where finished responses' writes run behind their answers; None writes before answering.

        `limiter`: the rate limits' buckets (default: in this process's memory);
        `ledger`: where usage is recorded (None: not recorded, no monthly quotas);
        `telemetry`: the spans and metrics creates record into (None: none).
        """
        cache = cache or ConversationCache()
        self._authenticator = authenticator
        self._ledger = ledger
        self._admission = Admission(limiter or MemoryRateLimiter(), ledger)
        self._router = router
        self._writer = ResponseWriter(store, leases, cache, pending)
        history = HistoryLoader(store, cache, self._writer)
        observer = CreateObserver(telemetry)
        self._creation = ResponseCreation(router, history, self._writer, self._admission, observer)
        self._stored = reads.StoredResponses(store, cache, self._writer)

    async def authenticate(self, authorization: str | None, headers: dict[str, str] | None = None) -> CallContext:
        """The caller behind an `Authorization` header value, or Unauthenticated (the rule for both faces).

        `headers` receives what the call tells the caller besides its reply (rate-limit state).
        """
        return caller_of(await self._authenticator.authenticate(authorization), headers)

    async def create(self, req: pb.CreateResponseRequest, ctx: CallContext) -> pb.Response:
        """Create a response and return it finished."""
        return await self._creation.create(req, ctx)

    def stream(self, req: pb.CreateResponseRequest, ctx: CallContext) -> AsyncIterator[epb.ResponseStreamEvent]:
        """Create a response and yield its events; errors before the first event raise."""
        return self._creation.stream(req, ctx)

    async def count_input_tokens(self, req: pb.CreateResponseRequest, ctx: CallContext) -> spb.CountInputTokensResponse:
        """Tokens the input of a would-be request takes, without calling a model."""
        await self._admission.admit(ctx)
        return await self._creation.count_input_tokens(req, ctx)

    async def get(self, response_id: str, ctx: CallContext, include: Sequence[str] = ()) -> pb.Response:
        """A stored response, or 404 as for an id that never existed."""
        await self._admission.admit(ctx)
        return await self._stored.get(response_id, ctx, include)

    async def delete(self, response_id: str, ctx: CallContext) -> spb.DeleteResponseResponse:
        """Delete a stored response and its items."""
        await self._admission.admit(ctx)
        return await self._stored.delete(response_id, ctx)

    async def list_input_items(self, req: spb.ListInputItemsRequest, ctx: CallContext) -> spb.ListInputItemsResponse:
        """A page of the input items a stored response was given."""
        await self._admission.admit(ctx)
        return await self._stored.list_input_items(req, ctx)

    async def cancel(self, response_id: str, ctx: CallContext) -> pb.Response:
        """Cancel a background response; every response here runs in the foreground."""
        await self._admission.admit(ctx)
        return await self._stored.cancel(response_id, ctx)

    async def list_models(self, ctx: CallContext) -> spb.ListModelsResponse:
        """Every routed model."""
        await self._admission.admit(ctx)
        return reads.list_models(self._router)

    async def get_model(self, model_id: str, ctx: CallContext) -> spb.Model:
        """One routed model, or 404."""
        await self._admission.admit(ctx)
        return reads.get_model(self._router, model_id)

    async def drain(self) -> None:
        """Finish the writes still behind their answers (before the store closes)."""
        await self._writer.drain()

    async def flush_usage(self) -> None:
        """Write the usage gathered so far (it is otherwise written every second)."""
        if self._ledger is not None:
            await self._ledger.flush()
