"""The truncation planner: which leading items to drop so a request fits.

Items are the whole context in order (stored conversation, then the new
input); `counts[i]` is `count_item(items[i])`; `fixed_tokens` is
`count_request_overhead(request)`; `budget` is the model's context window
minus the output tokens reserved for the reply.

A plan drops a prefix `items[:drop]`. Cut point `k` (drop `k` items) is valid
only if it splits no unit:

* a function_call and its function_call_output (same call_id, the nearest
  call before the output): no cut in `(call, output]`, so a kept output never
  loses its call (parallel calls c1 c2 o1 o2 therefore move as one block);
* a reasoning item and the item right after it: no cut at `r + 1`, so dropping
  a reasoning item always drops its successor too (and, through the rule
  above, the successor's output if it is a function_call).

At least the newest part of the conversation is kept: with
`keep_from_last_user=True` (the default) nothing from the last user message
on is dropped — the model must still see what it is answering; with False
only the newest valid group is guaranteed. If even that does not fit, the
request fails with OpenAI's 400 `context_length_exceeded`.

Everything is O(n) in the number of items, one pass each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from responses_gateway.api.v1 import items_pb2
from responses_gateway.errors import ContextOverflow

MODES = ("auto", "disabled")


@dataclass(frozen=True)
class TruncationPlan:
    """Drop `items[:drop]`; `total_tokens` = fixed_tokens + the kept items' counts."""

    drop: int
    total_tokens: int


def _valid_cuts(items: Sequence[items_pb2.Item]) -> tuple[list[bool], int]:
    """Which prefix lengths may be dropped, and the index of the last user message (-1 if none)."""
    n = len(items)
    blocked = [0] * (n + 2)  # difference array over cut points 0..n
    reasoning_before = [False] * (n + 1)
    call_at: dict[str, int] = {}
    last_user = -1
    for i, item in enumerate(items):
        kind = item.WhichOneof("item")
        if kind == "message":
            if item.message.role == "user":
                last_user = i
        elif kind in ("function_call", "custom_tool_call"):
            call_at[getattr(item, kind).call_id] = i
        elif kind in ("function_call_output", "custom_tool_call_output"):
            j = call_at.get(getattr(item, kind).call_id)
            if j is not None:  # cuts j+1 .. i would orphan this output
                blocked[j + 1] += 1
                blocked[i + 1] -= 1
        elif kind == "reasoning":
            reasoning_before[i + 1] = True
    valid = [False] * n
    open_spans = 0
    for k in range(n):
        open_spans += blocked[k]
        valid[k] = open_spans == 0 and not reasoning_before[k]
    return valid, last_user


def _max_cut(n: int, last_user: int, keep_from_last_user: bool) -> int:
    return last_user if keep_from_last_user and last_user >= 0 else n - 1


def _check(items: Sequence[items_pb2.Item], counts: Sequence[int]) -> None:
    if len(items) != len(counts):
        raise ValueError(f"{len(items)} items but {len(counts)} counts")


def plan_truncation(
    items: Sequence[items_pb2.Item],
    counts: Sequence[int],
    *,
    fixed_tokens: int,
    budget: int,
    mode: str,
    keep_from_last_user: bool = True,
) -> TruncationPlan:
    """Fit the request into `budget` tokens: keep everything, drop the oldest units, or raise the 400.

    mode "disabled": over budget → `context_length_exceeded`. mode "auto": the
    smallest valid `drop` that fits; `context_length_exceeded` if none does.
    """
    _check(items, counts)
    if mode not in MODES:
        raise ValueError(f"unknown truncation mode {mode!r}")
    total = fixed_tokens + sum(counts)
    if total <= budget:
        return TruncationPlan(drop=0, total_tokens=total)
    if mode == "disabled" or not items:
        raise ContextOverflow()
    valid, last_user = _valid_cuts(items)
    remaining = total
    for k in range(_max_cut(len(items), last_user, keep_from_last_user) + 1):
        if k:
            remaining -= counts[k - 1]
        if valid[k] and remaining <= budget:
            return TruncationPlan(drop=k, total_tokens=remaining)
    raise ContextOverflow()


def trim_further(
    plan: TruncationPlan,
    items: Sequence[items_pb2.Item],
    counts: Sequence[int],
    fraction: float = 0.25,
    *,
    keep_from_last_user: bool = True,
) -> TruncationPlan:
    """A smaller plan after the upstream still reported an overflow (retry once with it).

    Drops, beyond `plan.drop`, the fewest further valid units whose tokens
    reach `fraction` of the kept items' tokens; if no cut reaches it, the
    largest cut allowed. Raises `context_length_exceeded` when nothing more may
    be dropped.
    """
    _check(items, counts)
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    kept = sum(counts[plan.drop :])
    fixed = plan.total_tokens - kept
    target = max(1, math.ceil(kept * fraction))
    valid, last_user = _valid_cuts(items)
    dropped = 0
    best: TruncationPlan | None = None
    for k in range(plan.drop + 1, _max_cut(len(items), last_user, keep_from_last_user) + 1):
        dropped += counts[k - 1]
        if valid[k]:
            best = TruncationPlan(drop=k, total_tokens=fixed + kept - dropped)
            if dropped >= target:
                return best
    if best is None:
        raise ContextOverflow()
    return best
