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
from responses_gateway.context.transcript import Transcript

# Above this much text, counting moves to a thread so the event loop keeps serving.
_COUNT_IN_THREAD_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class StoredHistory:
    """A chain as loaded from the store: counts may be missing or made by other tokenizers."""

    items: tuple[ipb.Item, ...]
    counts: tuple[int | None, ...]
    counters: tuple[str | None, ...]

    def uniform(self) -> Transcript | None:
        """The chain as a Transcript when one tokenizer counted every item."""
        counters = set(self.counters)
        if len(counters) != 1 or None in counters or None in self.counts:
            return None
        (counter,) = counters
        return Transcript(self.items, [c or 0 for c in self.counts], counter or "")


@dataclass
class Conversation:
    """Stored history + new input with per-item token counts and the truncation decision."""

    history: Transcript
    new_items: list[ipb.Item]
    new_counts: list[int]
    fixed_tokens: int
    budget: int
    mode: str
    plan: TruncationPlan
    counter: TokenCounter

    @property
    def items(self) -> list[ipb.Item]:
        """Every item, history first (a copy: for truncation, not for the hot path)."""
        return [*self.history.items, *self.new_items]

    @property
    def counts(self) -> list[int]:
        """Token counts of `items`."""
        return [*self.history.counts, *self.new_counts]

    @property
    def history_start(self) -> int:
        """The first history item that goes upstream after truncation."""
        return min(self.plan.drop, len(self.history))

    @property
    def sent_new_items(self) -> list[ipb.Item]:
        """The new items that go upstream after truncation (all of them unless truncation reached them)."""
        return self.new_items[max(0, self.plan.drop - len(self.history)) :]

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

    def then(self, output: Sequence[ipb.Item], output_counts: Sequence[int]) -> Transcript:
        """The whole conversation after this turn: history, new input, output."""
        return self.history.extend([*self.new_items, *output], [*self.new_counts, *output_counts])


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


async def _counted(counter: TokenCounter, history: Transcript | StoredHistory) -> Transcript:
    """The history with every count made by `counter`, recounting only what another tokenizer (or none) counted."""
    if isinstance(history, Transcript):
        if history.counter == counter.name or not history.items:
            return history
        return Transcript(history.items, await count_items(counter, history.items), counter.name)
    stale = [
        i
        for i, (count, made_by) in enumerate(zip(history.counts, history.counters, strict=True))
        if count is None or made_by != counter.name
    ]
    recounted = await count_items(counter, [history.items[i] for i in stale])
    counts = [count or 0 for count in history.counts]
    for index, count in zip(stale, recounted, strict=True):
        counts[index] = count
    return Transcript(history.items, counts, counter.name)


async def build(
    model: ModelConfig,
    request: pb.CreateResponseRequest,
    history: Transcript | StoredHistory,
    new_items: Sequence[ipb.Item],
    *,
    enforce: bool = True,
) -> Conversation:
    """The conversation to send, with the token counts of `new_items` (to store with them).

    With `enforce` (a create), `truncation: disabled` raises
    context_length_exceeded when over budget; without it (counting input
    tokens) nothing is refused. Costs O(new items) when everything fits.
    """
    counter = counter_for(model.tokenizer)
    fitted = await _counted(counter, history)
    new_counts = await count_items(counter, new_items)
    fixed = counter.count_request_overhead(request)
    budget = max(0, model.context_window - reserved_output(model, request))
    mode = request.truncation if request.HasField("truncation") else "disabled"
    total = fixed + fitted.total_tokens + sum(new_counts)
    if total <= budget or not (enforce or mode == "auto"):
        plan = TruncationPlan(drop=0, total_tokens=total)
    else:
        # Oldest first, whatever the role: a long agent loop after one user
        # message must still fit, as with OpenAI's own `auto`.
        plan = plan_truncation(
            [*fitted.items, *new_items],
            [*fitted.counts, *new_counts],
            fixed_tokens=fixed,
            budget=budget,
            mode=mode,
            keep_from_last_user=False,
        )
    return Conversation(fitted, list(new_items), new_counts, fixed, budget, mode, plan, counter)
