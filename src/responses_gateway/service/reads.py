"""Reading stored responses back: get, delete, input items, cancel; and the model list."""

from __future__ import annotations

from collections.abc import Sequence

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.api.v1 import service_pb2 as spb
from responses_gateway.codec.items import ENCRYPTED_REASONING
from responses_gateway.errors import InvalidRequest, ModelNotFound, NotFound, set_failed
from responses_gateway.router import Router
from responses_gateway.service.cache import ConversationCache
from responses_gateway.service.call import CallContext
from responses_gateway.service.items import client_visible
from responses_gateway.service.persistence import ResponseWriter
from responses_gateway.service.validation import validate_list_input_items, validate_response_id
from responses_gateway.store import ResponseRepository, Store, writes


def _not_found(response_id: str) -> NotFound:
    return NotFound(f"Response with id '{response_id}' not found.", param="response_id")


class StoredResponses:
    """The read side of the store, as the API presents it; every read waits for its response's pending write."""

    def __init__(self, store: Store, cache: ConversationCache, writer: ResponseWriter) -> None:
        self._store = store
        self._cache = cache
        self._writer = writer

    async def get(self, response_id: str, ctx: CallContext, include: Sequence[str] = ()) -> pb.Response:
        """A stored response, or 404 as for an id that never existed.

        With `include=["reasoning.encrypted_content"]` reasoning items carry the
        encrypted state kept for replays (the stored response object omits it
        unless the creating request asked).
        """
        validate_response_id(response_id)
        await self._writer.settled(ctx.tenant_id, response_id)
        async with self._store.session() as session:
            repo = ResponseRepository(session)
            record = await repo.get_response(ctx.tenant_id, response_id)
            stored_output = (
                await repo.response_items(ctx.tenant_id, response_id, "output")
                if record is not None and ENCRYPTED_REASONING in include
                else []
            )
        if record is None:
            raise _not_found(response_id)
        response = pb.Response.FromString(record.data)
        if stored_output:
            del response.output[:]
            response.output.extend(ipb.Item.FromString(r.data) for r in stored_output)
        if record.status != response.status:
            # The status column is the truth: a sweep failed a response its process left behind.
            response.status = record.status
            if record.status == "failed" and not response.HasField("error"):
                set_failed(response, pb.ErrorDetail(code="server_error", message="The response was interrupted before it finished."))
        return response

    async def delete(self, response_id: str, ctx: CallContext) -> spb.DeleteResponseResponse:
        """Delete a stored response and its items."""
        validate_response_id(response_id)
        await self._writer.settled(ctx.tenant_id, response_id)
        self._cache.invalidate(ctx.tenant_id, response_id)
        deleted = await self._store.write(lambda c: writes.delete_response(c, ctx.tenant_id, response_id))
        if not deleted:
            raise _not_found(response_id)
        return spb.DeleteResponseResponse(id=response_id, object="response", deleted=True)

    async def list_input_items(self, req: spb.ListInputItemsRequest, ctx: CallContext) -> spb.ListInputItemsResponse:
        """A page of the input items a stored response was given, in OpenAI's list shape."""
        limit, order = validate_list_input_items(req)
        await self._writer.settled(ctx.tenant_id, req.id)
        async with self._store.session() as session:
            page = await ResponseRepository(session).list_input_items(
                ctx.tenant_id,
                req.id,
                after=req.after if req.HasField("after") else None,
                before=req.before if req.HasField("before") else None,
                limit=limit,
                order=order,
            )
        if page is None:
            raise _not_found(req.id)
        records, has_more = page
        include_encrypted = ENCRYPTED_REASONING in req.include
        out = spb.ListInputItemsResponse(object="list", has_more=has_more)
        out.data.extend(client_visible(ipb.Item.FromString(r.data), include_encrypted) for r in records)
        if records:
            out.first_id, out.last_id = records[0].item_id, records[-1].item_id
        return out

    async def cancel(self, response_id: str, ctx: CallContext) -> pb.Response:
        """Cancel a background response; every response here runs in the foreground."""
        await self.get(response_id, ctx)
        raise InvalidRequest(
            "Only responses created with background=true can be cancelled.", code="invalid_request_error", param="response_id"
        )


def list_models(router: Router) -> spb.ListModelsResponse:
    """Every routed model."""
    return spb.ListModelsResponse(
        object="list",
        data=[spb.Model(id=m.id, object="model", created=m.created, owned_by=m.owned_by) for m in router.models()],
    )


def get_model(router: Router, model_id: str) -> spb.Model:
    """One routed model, or 404."""
    try:
        m = router.model(model_id)
    except ModelNotFound:
        raise NotFound(f"The model '{model_id}' does not exist", code="model_not_found", param="model") from None
    return spb.Model(id=m.id, object="model", created=m.created, owned_by=m.owned_by)
