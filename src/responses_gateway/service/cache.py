"""Recently finished conversations, kept so a continuation needs no chain query.

The service keeps the conversations that are already chains (a response that
continued another, or a chain just loaded for a continuation): a one-off
answer is cached only once somebody continues it.

A stored response never changes once finished, so the conversation it ends
(history, its input, its output, with token counts and memoised upstream
JSON) can be reused by the next turn as is. Entries share their item objects,
so a long chain costs pointers, not copies. Bounded in bytes (each entry's
`Transcript.memory_bytes`, re-read on use since encodings are added lazily,
shared items counted in every entry that holds them); least recently used
first out. Per process: a miss (another replica's turn, a restart) falls back
to the database.
"""

from __future__ import annotations

from collections import OrderedDict

from responses_gateway.context.transcript import Transcript

DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def _weight(entry: Transcript) -> int:
    return entry.memory_bytes()


class ConversationCache:
    """An LRU map (tenant, response id) → the Transcript ending at that response."""

    def __init__(self, max_weight: int = DEFAULT_MAX_BYTES) -> None:
        self._entries: OrderedDict[tuple[str, str], tuple[Transcript, int]] = OrderedDict()
        self._weight = 0
        self._max = max_weight

    def get(self, tenant_id: str, response_id: str) -> Transcript | None:
        """The conversation ending at that response, if cached."""
        key = (tenant_id, response_id)
        found = self._entries.get(key)
        if found is None:
            return None
        entry, weight = found
        now = _weight(entry)
        self._entries[key] = (entry, now)
        self._entries.move_to_end(key)
        self._weight += now - weight
        self._evict()
        return entry

    def put(self, tenant_id: str, response_id: str, entry: Transcript) -> None:
        """Remember a finished response's conversation."""
        weight = _weight(entry)
        if weight > self._max:
            return
        self.invalidate(tenant_id, response_id)
        self._entries[(tenant_id, response_id)] = (entry, weight)
        self._weight += weight
        self._evict()

    def invalidate(self, tenant_id: str, response_id: str) -> None:
        """Forget a response (deleted)."""
        found = self._entries.pop((tenant_id, response_id), None)
        if found is not None:
            self._weight -= found[1]

    def _evict(self) -> None:
        while self._weight > self._max and len(self._entries) > 1:
            _, (_, weight) = self._entries.popitem(last=False)
            self._weight -= weight
