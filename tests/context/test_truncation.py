"""The truncation planner: disabled → 400, auto drops oldest units, never splits pairs."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from responses_gateway.api.v1 import items_pb2 as ipb
from responses_gateway.context import (
    TruncationPlan,
    plan_truncation,
    trim_further,
)
from responses_gateway.errors import CONTEXT_LENGTH_EXCEEDED_MESSAGE, ContextOverflow, InvalidRequest
from tests.context.helpers import assistant, call, output, reasoning, user


def test_openai_error_text() -> None:
    assert CONTEXT_LENGTH_EXCEEDED_MESSAGE == (
        "Your input exceeds the context window of this model. Please adjust your input and try again."
    )


def assert_context_length_exceeded(excinfo: pytest.ExceptionInfo[InvalidRequest]) -> None:
    error = excinfo.value
    assert isinstance(error, ContextOverflow)
    assert error.code == "context_length_exceeded"
    assert error.param == "input"
    assert error.message == CONTEXT_LENGTH_EXCEEDED_MESSAGE
    assert error.http_status == 400
    assert error.type == "invalid_request_error"
    assert error.to_json()["error"] == {
        "message": CONTEXT_LENGTH_EXCEEDED_MESSAGE,
        "type": "invalid_request_error",
        "param": "input",
        "code": "context_length_exceeded",
    }


@pytest.mark.parametrize("mode", ["disabled", "auto"])
def test_fits_keeps_everything(mode: str) -> None:
    items = [user("a"), assistant("b"), user("c")]
    plan = plan_truncation(items, [10, 10, 10], fixed_tokens=5, budget=35, mode=mode)
    assert plan == TruncationPlan(drop=0, total_tokens=35)


def test_disabled_over_budget_is_400() -> None:
    items = [user("a"), assistant("b"), user("c")]
    with pytest.raises(InvalidRequest) as excinfo:
        plan_truncation(items, [10, 10, 10], fixed_tokens=5, budget=34, mode="disabled")
    assert_context_length_exceeded(excinfo)


def test_fixed_tokens_alone_over_budget() -> None:
    with pytest.raises(InvalidRequest) as excinfo:
        plan_truncation([], [], fixed_tokens=100, budget=99, mode="auto")
    assert_context_length_exceeded(excinfo)


def test_auto_drops_oldest_first() -> None:
    items = [user("1"), assistant("2"), user("3"), assistant("4"), user("5")]
    counts = [10, 20, 30, 40, 50]
    assert plan_truncation(items, counts, fixed_tokens=0, budget=140, mode="auto") == TruncationPlan(1, 140)
    assert plan_truncation(items, counts, fixed_tokens=0, budget=139, mode="auto") == TruncationPlan(2, 120)
    assert plan_truncation(items, counts, fixed_tokens=10, budget=60, mode="auto") == TruncationPlan(4, 60)


def test_auto_keeps_the_last_user_message() -> None:
    items = [user("task"), assistant("x"), call("c1"), output("c1")]
    counts = [10, 10, 10, 10]
    with pytest.raises(InvalidRequest) as excinfo:
        plan_truncation(items, counts, fixed_tokens=0, budget=39, mode="auto")
    assert_context_length_exceeded(excinfo)
    # Without that protection only the newest unit (the call and its output) must stay.
    plan = plan_truncation(items, counts, fixed_tokens=0, budget=39, mode="auto", keep_from_last_user=False)
    assert plan == TruncationPlan(1, 30)
    plan = plan_truncation(items, counts, fixed_tokens=0, budget=20, mode="auto", keep_from_last_user=False)
    assert plan == TruncationPlan(2, 20)
    with pytest.raises(InvalidRequest):
        plan_truncation(items, counts, fixed_tokens=0, budget=19, mode="auto", keep_from_last_user=False)


def test_newest_message_alone_too_big_is_400() -> None:
    items = [user("old"), assistant("old"), user("huge")]
    with pytest.raises(InvalidRequest) as excinfo:
        plan_truncation(items, [1, 1, 1000], fixed_tokens=0, budget=999, mode="auto")
    assert_context_length_exceeded(excinfo)


def test_function_call_and_output_are_never_split() -> None:
    items = [user("q"), call("c1"), output("c1"), assistant("a"), user("q2")]
    counts = [10, 10, 10, 10, 10]
    # Cut 1 keeps the call and its output together.
    assert plan_truncation(items, counts, fixed_tokens=0, budget=40, mode="auto").drop == 1
    # Cut 2 would orphan the output: the planner goes on to cut 3.
    assert plan_truncation(items, counts, fixed_tokens=0, budget=30, mode="auto") == TruncationPlan(3, 20)


def test_parallel_calls_move_as_one_block() -> None:
    items = [user("q"), call("a"), call("b"), output("a"), output("b"), user("q2")]
    counts = [10] * 6
    # Cuts 2, 3 and 4 each orphan an output; the next valid cut after 1 is 5.
    assert plan_truncation(items, counts, fixed_tokens=0, budget=45, mode="auto") == TruncationPlan(5, 10)


def test_interleaved_calls_and_outputs() -> None:
    items = [user("q"), call("a"), output("a"), call("b"), output("b"), user("q2")]
    counts = [10] * 6
    assert plan_truncation(items, counts, fixed_tokens=0, budget=55, mode="auto") == TruncationPlan(1, 50)
    # Cut 2 would orphan output("a"); cut 3 drops the whole first pair.
    assert plan_truncation(items, counts, fixed_tokens=0, budget=45, mode="auto") == TruncationPlan(3, 30)


def test_reasoning_is_dropped_with_the_item_after_it() -> None:
    items = [user("q"), reasoning(), assistant("a"), user("q2")]
    counts = [10, 10, 10, 10]
    # Cut 2 would drop the reasoning but keep its message: cut 3 instead.
    assert plan_truncation(items, counts, fixed_tokens=0, budget=25, mode="auto") == TruncationPlan(3, 10)
    # Cut 1 keeps reasoning + message together: fine.
    assert plan_truncation(items, counts, fixed_tokens=0, budget=30, mode="auto") == TruncationPlan(1, 30)


def test_reasoning_then_call_then_output_is_one_unit() -> None:
    items = [user("q"), reasoning(), call("c1"), output("c1"), reasoning(), assistant("a"), user("q2")]
    counts = [10] * 7
    for budget, drop in [(60, 1), (50, 4), (40, 4), (30, 4), (20, 6), (10, 6)]:
        assert plan_truncation(items, counts, fixed_tokens=0, budget=budget, mode="auto").drop == drop


def test_consecutive_reasoning_items() -> None:
    items = [user("q"), reasoning(), reasoning(), assistant("a"), user("q2")]
    counts = [10] * 5
    assert plan_truncation(items, counts, fixed_tokens=0, budget=35, mode="auto").drop == 4


def test_orphans_already_in_the_input_do_not_block() -> None:
    # An output whose call is not in the context (or comes after it), and a call without output.
    items = [output("gone"), user("q"), call("later"), assistant("a"), output("later"), user("q2")]
    counts = [10] * 6
    assert plan_truncation(items, counts, fixed_tokens=0, budget=50, mode="auto").drop == 1
    assert plan_truncation(items, counts, fixed_tokens=0, budget=40, mode="auto").drop == 2
    # Cuts 3 and 4 would orphan output("later").
    assert plan_truncation(items, counts, fixed_tokens=0, budget=30, mode="auto").drop == 5


def test_head_never_starts_with_an_orphan_output() -> None:
    items = [user("q"), call("c1"), output("c1"), user("q2")]
    for budget in range(10, 41):
        plan = plan_truncation(items, [10] * 4, fixed_tokens=0, budget=budget, mode="auto")
        assert plan.drop != 2


def test_trim_further_drops_at_least_the_fraction() -> None:
    items = [user(str(i)) if i % 2 == 0 else assistant(str(i)) for i in range(10)]
    counts = [10] * 10
    plan = plan_truncation(items, counts, fixed_tokens=5, budget=85, mode="auto")
    assert plan == TruncationPlan(2, 85)
    smaller = trim_further(plan, items, counts)
    assert smaller == TruncationPlan(4, 65)  # ≥ 25 % of the 80 kept item tokens
    assert trim_further(plan, items, counts, fraction=0.5) == TruncationPlan(6, 45)


def test_trim_further_respects_units() -> None:
    items = [user("q"), assistant("a"), call("c1"), call("c2"), output("c1"), output("c2"), user("q2")]
    counts = [10] * 7
    plan = TruncationPlan(drop=1, total_tokens=60)
    assert trim_further(plan, items, counts, fraction=0.1) == TruncationPlan(2, 50)
    # 25 % of 60 needs two items; cuts 3, 4 and 5 would split the parallel calls.
    assert trim_further(plan, items, counts) == TruncationPlan(6, 10)


def test_trim_further_takes_what_it_can_then_gives_up() -> None:
    items = [user("q1"), assistant("a"), user("q2")]
    counts = [10, 10, 100]
    # 25 % of 120 is 30, more than may be dropped: the largest allowed cut.
    assert trim_further(TruncationPlan(0, 120), items, counts) == TruncationPlan(2, 100)
    with pytest.raises(InvalidRequest) as excinfo:
        trim_further(TruncationPlan(2, 100), items, counts)
    assert_context_length_exceeded(excinfo)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mode"):
        plan_truncation([user("a")], [1], fixed_tokens=0, budget=10, mode="oldest")
    with pytest.raises(ValueError, match="counts"):
        plan_truncation([user("a")], [], fixed_tokens=0, budget=10, mode="auto")
    with pytest.raises(ValueError, match="fraction"):
        trim_further(TruncationPlan(0, 1), [user("a")], [1], fraction=0)


def _valid_cut(items: Sequence[ipb.Item], k: int) -> bool:
    """Brute-force definition of a valid cut, independent of the planner."""
    if k > 0 and items[k - 1].WhichOneof("item") == "reasoning":
        return False
    for m in range(k, len(items)):
        if items[m].WhichOneof("item") == "function_call_output":
            call_id = items[m].function_call_output.call_id
            calls = [j for j in range(m) if items[j].WhichOneof("item") == "function_call"]
            calls = [j for j in calls if items[j].function_call.call_id == call_id]
            if calls and calls[-1] < k:
                return False
    return True


def _random_conversation(rng: random.Random) -> list[ipb.Item]:
    items: list[ipb.Item] = []
    for turn in range(rng.randrange(1, 8)):
        items.append(user(f"q{turn}"))
        for step in range(rng.randrange(0, 3)):
            if rng.random() < 0.5:
                items.append(reasoning())
            ids = [f"c{turn}_{step}_{i}" for i in range(rng.randrange(1, 3))]
            items.extend(call(i) for i in ids)
            outputs = [output(i) for i in ids]
            rng.shuffle(outputs)
            items.extend(outputs)
        if rng.random() < 0.5:
            items.append(reasoning())
        items.append(assistant(f"a{turn}"))
    return items


def test_random_conversations_match_brute_force() -> None:
    rng = random.Random(1234)
    for _ in range(300):
        items = _random_conversation(rng)
        counts = [rng.randrange(1, 50) for _ in items]
        fixed = rng.randrange(0, 20)
        budget = rng.randrange(1, sum(counts) + fixed + 10)
        last_user = max(i for i, it in enumerate(items) if it.WhichOneof("item") == "message" and it.message.role == "user")
        fits = [
            k for k in range(last_user + 1) if _valid_cut(items, k) and fixed + sum(counts[k:]) <= budget
        ]
        if not fits:
            with pytest.raises(InvalidRequest):
                plan_truncation(items, counts, fixed_tokens=fixed, budget=budget, mode="auto")
            continue
        plan = plan_truncation(items, counts, fixed_tokens=fixed, budget=budget, mode="auto")
        assert plan == TruncationPlan(fits[0], fixed + sum(counts[fits[0] :]))
        candidates = [k for k in range(plan.drop + 1, last_user + 1) if _valid_cut(items, k)]
        if not candidates:
            with pytest.raises(InvalidRequest):
                trim_further(plan, items, counts)
            continue
        smaller = trim_further(plan, items, counts)
        assert smaller.drop in candidates
        kept = sum(counts[plan.drop :])
        reached = [k for k in candidates if sum(counts[plan.drop : k]) >= max(1, -(-kept // 4))]
        assert smaller.drop == (reached[0] if reached else candidates[-1])
        assert smaller.total_tokens == fixed + sum(counts[smaller.drop :])


def test_depth_1000_conversation() -> None:
    rng = random.Random(7)
    items: list[ipb.Item] = []
    while len(items) < 1000:
        items.extend([user("q"), reasoning(), call(f"c{len(items)}"), output(f"c{len(items)}"), assistant("a")])
    counts = [rng.randrange(10, 500) for _ in items]
    plan = plan_truncation(items, counts, fixed_tokens=1000, budget=sum(counts) // 2, mode="auto")
    assert 0 < plan.drop < len(items)
    assert plan.total_tokens <= sum(counts) // 2
    assert items[plan.drop].WhichOneof("item") in ("message", "reasoning")
