"""A per-deployment circuit breaker: closed → open after N failures → half-open probe."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class BreakerState(str, Enum):
    """The three states; the value is what metrics and logs show."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops sending to a failing deployment for `cooldown` seconds, then lets one probe through."""

    def __init__(
        self,
        failure_threshold: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        """`on_change` hears each transition: open, half-open (a probe let through), closed."""
        self._threshold = failure_threshold
        self._on_change = on_change
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker whose cooldown ran out is half-open)."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a request go to this deployment now? Half-open admits one probe at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probe_in_flight:
            self._probe_in_flight = True
            self._changed(BreakerState.HALF_OPEN)
            return True
        return False

    def record_success(self) -> None:
        """A call got through: close."""
        self._failures = 0
        self._probe_in_flight = False
        if self._opened_at is not None:
            self._opened_at = None
            self._changed(BreakerState.CLOSED)

    def record_failure(self) -> None:
        """A call failed: count it; open at the threshold, or re-open after a failed probe."""
        self._probe_in_flight = False
        if self._opened_at is not None:
            self._opened_at = self._clock()
            self._changed(BreakerState.OPEN)
            return
        self._failures += 1
        if self._failures >= self._threshold:
            self._opened_at = self._clock()
            self._changed(BreakerState.OPEN)

    def release(self) -> None:
        """A probe ended without a verdict (client went away): let the next one try."""
        self._probe_in_flight = False

    def _changed(self, state: BreakerState) -> None:
        if self._on_change is not None:
            self._on_change(state)
