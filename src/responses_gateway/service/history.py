"""The conversation a `previous_response_id` continues: from the cache, or one chain query."""

from __future__ import annotations

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.errors import PreviousResponseNotFound
from responses_gateway.context.transcript import Transcript
from responses_gateway.service.cache import ConversationCache
from responses_gateway.service.conversation import StoredHistory
from responses_gateway.service.persistence import ResponseWriter
from responses_gateway.store import ResponseRepository, Store


class HistoryLoader:
    """Loads stored conversations for continuations; caches those one tokenizer counted."""

    def __init__(self, store: Store, cache: ConversationCache, writer: ResponseWriter) -> None:
        self._store = store
        self._cache = cache
        self._writer = writer

    async def load(self, tenant_id: str, response_id: str) -> Transcript | StoredHistory:
        """The conversation ending at `response_id`, or PreviousResponseNotFound (ChainTooDeep past the limit)."""
        await self._writer.settled(tenant_id, response_id)
        cached = self._cache.get(tenant_id, response_id)
        async with self._store.session() as session:
            repo = ResponseRepository(session)
            if cached is not None:
                # Still there (not deleted, here or by another replica)?
                if await repo.response_status(tenant_id, response_id) is not None:
                    return cached
                self._cache.invalidate(tenant_id, response_id)
                raise PreviousResponseNotFound(response_id)
            chain = await repo.load_conversation(tenant_id, response_id)
        if chain is None:
            raise PreviousResponseNotFound(response_id)
        stored = StoredHistory(
            tuple(ipb.Item.FromString(entry.item.data) for entry in chain),
            tuple(entry.item.token_count for entry in chain),
            tuple(entry.item.token_counter for entry in chain),
        )
        transcript = stored.uniform()
        if transcript is None:
            return stored
        self._cache.put(tenant_id, response_id, transcript)
        return transcript
