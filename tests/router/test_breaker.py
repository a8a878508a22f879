"""CircuitBreaker on an injected clock: closed → open → half-open probe → closed/open."""

from __future__ import annotations

import pytest

from responses_gateway.router import BreakerState, CircuitBreaker

THRESHOLD = 3
COOLDOWN = 10.0


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(THRESHOLD, COOLDOWN, clock=clock)


def state(breaker: CircuitBreaker) -> BreakerState:
    """The state, read through a call (so type checkers do not narrow it between reads)."""
    return breaker.state


def fail(breaker: CircuitBreaker, times: int) -> None:
    """`times` admitted calls that each failed."""
    for _ in range(times):
        assert breaker.allow()
        breaker.record_failure()


def open_breaker(breaker: CircuitBreaker) -> None:
    fail(breaker, THRESHOLD)
    assert state(breaker) is BreakerState.OPEN


def test_starts_closed_and_admits_everything(breaker: CircuitBreaker) -> None:
    assert state(breaker) is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(20))  # closed: no probe bookkeeping, no limit
    assert state(breaker) is BreakerState.CLOSED


def test_opens_after_threshold_consecutive_failures(breaker: CircuitBreaker) -> None:
    fail(breaker, THRESHOLD - 1)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.OPEN


def test_a_success_resets_the_failure_count(breaker: CircuitBreaker) -> None:
    fail(breaker, THRESHOLD - 1)
    assert breaker.allow()
    breaker.record_success()
    fail(breaker, THRESHOLD - 1)  # not consecutive with the first run
    assert state(breaker) is BreakerState.CLOSED
    fail(breaker, 1)
    assert state(breaker) is BreakerState.OPEN


def test_open_refuses_until_the_cooldown_ends(breaker: CircuitBreaker, clock: Clock) -> None:
    open_breaker(breaker)
    assert not breaker.allow()
    clock.advance(COOLDOWN - 0.01)
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    assert not breaker.allow()


def test_half_open_admits_exactly_one_probe(breaker: CircuitBreaker, clock: Clock) -> None:
    open_breaker(breaker)
    clock.advance(COOLDOWN)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # a second caller while the probe is in flight
    assert not breaker.allow()
    clock.advance(COOLDOWN * 5)  # time alone does not free the slot
    assert not breaker.allow()
    assert state(breaker) is BreakerState.HALF_OPEN


def test_probe_success_closes(breaker: CircuitBreaker, clock: Clock) -> None:
    open_breaker(breaker)
    clock.advance(COOLDOWN)
    assert breaker.allow()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED
    assert all(breaker.allow() for _ in range(5))
    # Closed afresh: it takes a whole new run of failures to open again.
    fail(breaker, THRESHOLD - 1)
    assert state(breaker) is BreakerState.CLOSED
    fail(breaker, 1)
    assert state(breaker) is BreakerState.OPEN


def test_probe_failure_reopens_for_a_new_cooldown(breaker: CircuitBreaker, clock: Clock) -> None:
    open_breaker(breaker)
    clock.advance(COOLDOWN + 3)
    assert breaker.allow()
    breaker.record_failure()  # one failed probe suffices, whatever the threshold
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    clock.advance(COOLDOWN - 0.01)  # the cooldown counts from the failed probe, not the first opening
    assert state(breaker) is BreakerState.OPEN
    assert not breaker.allow()
    clock.advance(0.01)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED


def test_release_frees_the_probe_slot(breaker: CircuitBreaker, clock: Clock) -> None:
    open_breaker(breaker)
    clock.advance(COOLDOWN)
    assert breaker.allow()
    assert not breaker.allow()
    breaker.release()  # the probe ended without a verdict (client went away)
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()  # the next probe
    assert not breaker.allow()
    breaker.record_success()
    assert state(breaker) is BreakerState.CLOSED


def test_release_while_closed_changes_nothing(breaker: CircuitBreaker) -> None:
    fail(breaker, THRESHOLD - 1)
    assert breaker.allow()
    breaker.release()
    assert state(breaker) is BreakerState.CLOSED
    fail(breaker, 1)  # the release neither counted as a success nor as a failure
    assert state(breaker) is BreakerState.OPEN


def test_zero_cooldown_goes_straight_to_half_open(clock: Clock) -> None:
    breaker = CircuitBreaker(1, 0.0, clock=clock)
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()
