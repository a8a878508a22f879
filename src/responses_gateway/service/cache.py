"""Recently finished conversations, kept so a continuation needs no chain query.

A stored response never changes once finished, so the conversation it ends
(history, its input, its output, with token counts) can be reused by the next
turn as is. Entries share their item objects, so a long chain costs pointers,
not copies. Bounded by the total number of item references; least recently
used first out. Per process: a miss (another replica's turn, a restart) falls
back to the database.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from responses_gateway.api.v1 import items_pb2 as ipb


@dataclass(frozen=True, slots=True)
class CachedConversation:
    """Every item of a conversation up to and including one response, oldest first."""

    items: tuple[ipb.Item, ...]
    counts: tuple[int, ...]
    counter: str  # the tokenizer that produced `counts`


class ConversationCache:
    """An LRU map (tenant, response id) → CachedConversation; treat entries as read-only."""

    def __init__(self, max_item_refs: int = 2_000_000) -> None:
        self._entries: OrderedDict[tuple[str, str], CachedConversation] = OrderedDict()
        self._refs = 0
        self._max = max_item_refs

    def get(self, tenant_id: str, response_id: str) -> CachedConversation | None:
        """The conversation ending at that response, if cached."""
        entry = self._entries.get((tenant_id, response_id))
        if entry is not None:
            self._entries.move_to_end((tenant_id, response_id))
        return entry

    def put(self, tenant_id: str, response_id: str, entry: CachedConversation) -> None:
        """Remember a finished response's conversation."""
        if len(entry.items) > self._max:
            return
        self.invalidate(tenant_id, response_id)
        self._entries[(tenant_id, response_id)] = entry
        self._refs += len(entry.items)
        while self._refs > self._max:
            _, evicted = self._entries.popitem(last=False)
            self._refs -= len(evicted.items)

    def invalidate(self, tenant_id: str, response_id: str) -> None:
        """Forget a response (deleted)."""
        entry = self._entries.pop((tenant_id, response_id), None)
        if entry is not None:
            self._refs -= len(entry.items)
