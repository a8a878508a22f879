"""The input a model will see: stored history plus new input, counted and fitted to its window.

Counts of stored items are reused when the same tokenizer produced them, so a
long conversation is not re-tokenized every turn; only new items are counted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.config import ModelConfig
from responses_gateway.context import TokenCounter, TruncationPlan, counter_for, plan_truncation, trim_further
from responses_gateway.errors import InvalidRequest

# Above this much text, counting moves to a thread so the event loop keeps serving.
_COUNT_IN_THREAD_BYTES = 64 * 1024


@dataclass
class Conversation:
    """History + new input with per-item token counts and the truncation decision."""

    items: list[ipb.Item]
    counts: list[int]
    fixed_tokens: int
    budget: int
    mode: str
    plan: TruncationPlan
    counter: TokenCounter

    @property
    def sent(self) -> list[ipb.Item]:
        """The items that go upstream after truncation."""
        return self.items[self.plan.drop :]

    @property
    def input_tokens(self) -> int:
        """Tokens of what goes upstream (framing estimate included)."""
        return self.plan.total_tokens

    def trim_further(self) -> bool:
        """Drop more after an upstream still reported overflow; False when `auto` is off."""
        if self.mode != "auto":
            return False
        self.plan = trim_further(self.plan, self.items, self.counts, keep_from_last_user=False)
        return True


def reserved_output(model: ModelConfig, request: pb.CreateResponseRequest) -> int:
    """Output tokens kept free in the window: the request's cap, else the model's."""
    if request.HasField("max_output_tokens"):
        if request.max_output_tokens > model.max_output_tokens:
            raise InvalidRequest(
                f"Invalid 'max_output_tokens': the model '{model.id}' produces at most "
                f"{model.max_output_tokens} output tokens, but {request.max_output_tokens} were requested.",
                code="integer_above_max_value",
                param="max_output_tokens",
            )
        return request.max_output_tokens
    return model.max_output_tokens


def _text_size(items: Sequence[ipb.Item]) -> int:
    return sum(item.ByteSize() for item in items)


async def count_items(counter: TokenCounter, items: Sequence[ipb.Item]) -> list[int]:
    """Token counts of items, off the event loop when the text is large."""
    if _text_size(items) > _COUNT_IN_THREAD_BYTES:
        return await asyncio.to_thread(lambda: [counter.count_item(i) for i in items])
    return [counter.count_item(i) for i in items]


async def build(
    model: ModelConfig,
    request: pb.CreateResponseRequest,
    history_items: Sequence[ipb.Item],
    history_counts: Sequence[int | None],
    history_counter: Sequence[str | None],
    new_items: Sequence[ipb.Item],
    *,
    enforce: bool = True,
) -> tuple[Conversation, list[int]]:
    """The conversation to send, and the token counts of `new_items` (to store with them).

    A history count is reused when `history_counter` says the same tokenizer
    made it, else the item is counted again. With `enforce` (a create),
    `truncation: disabled` raises context_length_exceeded when over budget;
    without it (counting input tokens) nothing is refused.
    """
    counter = counter_for(model.tokenizer)
    stale = [
        i
        for i, (count, made_by) in enumerate(zip(history_counts, history_counter, strict=True))
        if count is None or made_by != counter.name
    ]
    recounted = await count_items(counter, [history_items[i] for i in stale])
    counts_so_far = [count or 0 for count in history_counts]
    for index, count in zip(stale, recounted, strict=True):
        counts_so_far[index] = count
    new_counts = await count_items(counter, new_items)
    items = [*history_items, *new_items]
    counts = [*counts_so_far, *new_counts]
    fixed = counter.count_request_overhead(request)
    budget = max(0, model.context_window - reserved_output(model, request))
    mode = request.truncation if request.HasField("truncation") else "disabled"
    if enforce or mode == "auto":
        # Oldest first, whatever the role: a long agent loop after one user
        # message must still fit, as with OpenAI's own `auto`.
        plan = plan_truncation(items, counts, fixed_tokens=fixed, budget=budget, mode=mode, keep_from_last_user=False)
    else:
        plan = TruncationPlan(drop=0, total_tokens=fixed + sum(counts))
    return Conversation(items, counts, fixed, budget, mode, plan, counter), new_counts
