"""Context accounting: exact offline token counts and the truncation planner.

    counter = counter_for(model.tokenizer)            # "o200k" | "deepseek_v4" | "smollm2" | "estimate"
    counts = [counter.count_item(i) for i in items]   # store per item: never re-tokenize history
    fixed = counter.count_request_overhead(request)
    plan = plan_truncation(items, counts, fixed_tokens=fixed,
                           budget=model.context_window - reserved_output, mode=truncation)
    send items[plan.drop:]; on an upstream overflow: plan = trim_further(plan, items, counts), retry once.

Importing this package loads no tokenizer; the first count does (or `warm_up`).
Counting is CPU-bound (≈ tens of MB/s): large inputs belong off the event loop.
"""

from __future__ import annotations

from responses_gateway.context.counting import (
    TOKENIZERS,
    DeepSeekV4Counter,
    EstimateCounter,
    Framing,
    O200kCounter,
    SmolLM2Counter,
    TokenCounter,
    counter_for,
    warm_up,
)
from responses_gateway.context.truncation import (
    TruncationPlan,
    plan_truncation,
    trim_further,
)

__all__ = [
    "TOKENIZERS",
    "DeepSeekV4Counter",
    "EstimateCounter",
    "Framing",
    "O200kCounter",
    "SmolLM2Counter",
    "TokenCounter",
    "TruncationPlan",
    "counter_for",
    "plan_truncation",
    "trim_further",
    "warm_up",
]
