"""The conversation cache stays within its size in bytes, counting encodings added after the fact."""

from __future__ import annotations

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.providers.openai_responses import STATELESS_ITEMS
from responses_gateway.context.transcript import Transcript
from responses_gateway.service.cache import ConversationCache


def transcript(n: int, text: str = "x") -> Transcript:
    items = []
    for i in range(n):
        item = ipb.Item()
        item.message.role = "user"
        item.message.parts.parts.add().input_text.text = f"{text} {i}"
        items.append(item)
    return Transcript(items, [1] * n, "o200k")


def test_least_recently_used_conversations_leave_first() -> None:
    size = transcript(10).memory_bytes()
    cache = ConversationCache(max_weight=int(size * 2.5))
    cache.put("t", "a", transcript(10))
    cache.put("t", "b", transcript(10))
    assert cache.get("t", "a") is not None  # a is now the most recent
    cache.put("t", "c", transcript(10))
    assert cache.get("t", "b") is None
    assert cache.get("t", "a") is not None and cache.get("t", "c") is not None


def test_an_encoding_made_after_caching_counts_towards_the_bound() -> None:
    big = transcript(100, "y" * 400)
    small = transcript(5)
    cache = ConversationCache(max_weight=big.memory_bytes() + small.memory_bytes() + 1000)
    cache.put("t", "big", big)
    cache.put("t", "small", small)
    big.encoded(STATELESS_ITEMS)  # ~45 KB of JSON more
    assert cache.get("t", "big") is big
    assert cache.get("t", "small") is None


def test_tenants_do_not_share_entries_and_delete_forgets() -> None:
    cache = ConversationCache()
    cache.put("t1", "r", transcript(2))
    assert cache.get("t2", "r") is None
    cache.invalidate("t1", "r")
    assert cache.get("t1", "r") is None
