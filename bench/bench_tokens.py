"""Token counting throughput and the cost of a truncation decision.

    python bench/bench_tokens.py

Prints, per tokenizer: load time, tokens/s and MB/s of `count_text` on a
1 MB mixed corpus (one string, and as 1000 message-sized strings); then the
time of `plan_truncation` at conversation depth 1000 (p50/p99 over 200 runs,
counts given — they are stored per item), and for comparison the time of
re-counting those 1000 items.
"""

from __future__ import annotations

import random
import statistics
import time

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.context import TOKENIZERS, counter_for, plan_truncation

SAMPLES = [
    "The quick brown fox jumps over the lazy dog. Tokenization is the first step of every request. ",
    "def fib(n: int) -> int:\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    '{"type": "function", "name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n',
    "人工智能正在改变世界，我们需要负责任地发展它。東京の天気は今日は晴れです。",
    "Привет, мир! Это тестовое предложение. مرحبا بالعالم. नमस्ते दुनिया। ",
    "👨‍👩‍👧‍👦 🇯🇵🇫🇷 😀🎉 3141592653589793 0x7fffffff    \n\n",
]


def corpus(size: int = 1_000_000) -> str:
    rng = random.Random(0)
    parts: list[str] = []
    n = 0
    while n < size:
        s = rng.choice(SAMPLES)
        parts.append(s)
        n += len(s.encode())
    return "".join(parts)


def bench_counting(text: str) -> None:
    mb = len(text.encode()) / 1e6
    chunks = [text[i : i + len(text) // 1000] for i in range(0, len(text), len(text) // 1000)]
    print(f"count_text on {mb:.2f} MB mixed corpus (English, code, JSON, CJK, Cyrillic/Arabic/Hindi, emoji)")
    for name in TOKENIZERS:
        counter = counter_for(name)
        t0 = time.perf_counter()
        counter.count_text("load")
        load = time.perf_counter() - t0
        best_one = best_many = float("inf")
        tokens = 0
        for _ in range(3):
            t0 = time.perf_counter()
            tokens = counter.count_text(text)
            best_one = min(best_one, time.perf_counter() - t0)
            t0 = time.perf_counter()
            sum(counter.count_text(c) for c in chunks)
            best_many = min(best_many, time.perf_counter() - t0)
        print(
            f"  {name:<12} load {load * 1e3:7.1f} ms | {tokens:>8} tokens | one string: "
            f"{tokens / best_one / 1e6:6.2f} M tokens/s ({mb / best_one:6.1f} MB/s) | "
            f"1000 strings: {tokens / best_many / 1e6:6.2f} M tokens/s"
        )


def conversation(depth: int) -> list[ipb.Item]:
    items: list[ipb.Item] = []
    turn = 0
    while len(items) < depth:
        turn += 1
        items.append(ipb.Item(message=ipb.MessageItem(role="user", text=f"question {turn}: " + SAMPLES[turn % 6])))
        reasoning = ipb.ReasoningItem()
        reasoning.summary.add(text="Look it up with the tool.")
        items.append(ipb.Item(reasoning=reasoning))
        call_id = f"call_{turn}"
        items.append(
            ipb.Item(
                function_call=ipb.FunctionCallItem(call_id=call_id, name="lookup", arguments='{"q": "weather"}')
            )
        )
        items.append(
            ipb.Item(function_call_output=ipb.FunctionCallOutputItem(call_id=call_id, text=SAMPLES[2] * 3))
        )
        answer = ipb.MessageItem(role="assistant")
        answer.parts.parts.add(output_text=ipb.OutputText(text="Answer: " + SAMPLES[turn % 6] * 2))
        items.append(ipb.Item(message=answer))
    return items[:depth]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_truncation(depth: int = 1000, runs: int = 200) -> None:
    items = conversation(depth)
    counter = counter_for("o200k")
    counts = [counter.count_item(i) for i in items]
    total = sum(counts)
    print(f"truncation decision at depth {depth} ({total} tokens; counts given), {runs} runs")
    for label, budget in (("fits, nothing dropped", total + 100), ("auto, drop half", total // 2)):
        times = []
        plan = None
        for _ in range(runs):
            t0 = time.perf_counter()
            plan = plan_truncation(items, counts, fixed_tokens=100, budget=budget, mode="auto")
            times.append(time.perf_counter() - t0)
        assert plan is not None
        print(
            f"  {label:<22} p50 {percentile(times, 0.5) * 1e3:6.3f} ms  p99 {percentile(times, 0.99) * 1e3:6.3f} ms"
            f"  (drop={plan.drop})"
        )
    for name in TOKENIZERS:
        c = counter_for(name)
        times = []
        for _ in range(20):
            t0 = time.perf_counter()
            for item in items:
                c.count_item(item)
            times.append(time.perf_counter() - t0)
        print(f"  for comparison, re-counting all {depth} items with {name:<11}: p50 {statistics.median(times) * 1e3:7.2f} ms")


if __name__ == "__main__":
    bench_counting(corpus())
    bench_truncation()
