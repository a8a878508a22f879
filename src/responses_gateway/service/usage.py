"""Usage per key, tenant, model and day: summed in memory as responses finish, written in batches.

One write per `flush_seconds` (not one per response) keeps accounting off the
request path; a crash loses at most that long of usage. A key's monthly
total is the stored sum (re-read at most every `refresh_seconds`) plus what
this process has not written yet, so across replicas a monthly quota may be
overrun by what the others used within those seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from responses_gateway.api.v1 import responses_pb2 as pb
from responses_gateway.service.call import CallContext
from responses_gateway.store import Store, usage
from responses_gateway.store.usage import UsageRecord

log = logging.getLogger(__name__)

_Key = tuple[str, str, str, str]  # tenant, key id ("" without one), model, day


class UsageLedger:
    """Records finished responses' usage; answers how much of its month a key has spent."""

    def __init__(
        self,
        store: Store,
        *,
        flush_seconds: float = 1.0,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._flush_seconds = flush_seconds
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._pending: dict[_Key, list[int]] = {}
        self._months: dict[str, tuple[str, int, float]] = {}  # key id -> (month, stored total, read at)
        self._task: asyncio.Task[None] | None = None
        self._day = ""
        self._day_ends = 0.0

    def _today(self) -> str:
        """The UTC day, formatted once per day rather than per response."""
        now = self._clock()
        if now >= self._day_ends:
            self._day = time.strftime("%Y-%m-%d", time.gmtime(now))
            self._day_ends = (now // 86400 + 1) * 86400
        return self._day

    def record(self, ctx: CallContext, model: str, used: pb.Usage) -> None:
        """Add one finished response's usage (a request and its tokens)."""
        totals = self._pending.setdefault((ctx.tenant_id, ctx.key_id or "", model, self._today()), [0, 0, 0, 0, 0])
        totals[0] += 1
        totals[1] += used.input_tokens
        totals[2] += used.input_tokens_details.cached_tokens
        totals[3] += used.output_tokens
        totals[4] += used.output_tokens_details.reasoning_tokens

    async def month_spent(self, key_id: str) -> int:
        """Input plus output tokens the key used this month (UTC), here and as stored."""
        month = time.strftime("%Y-%m", time.gmtime(self._clock()))
        known = self._months.get(key_id)
        now = time.monotonic()
        if known is None or known[0] != month or now - known[2] > self._refresh_seconds:
            async with self._store.session() as session:
                stored = await usage.month_tokens(session, key_id, month)
            known = self._months[key_id] = (month, stored, now)
        unwritten = sum(t[1] + t[3] for (_, key, _, day), t in self._pending.items() if key == key_id and day.startswith(month))
        return known[1] + unwritten

    def start(self) -> None:
        """Write what accumulates every `flush_seconds`, until `stop`."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop the timer and write what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()

    async def flush(self) -> None:
        """Write the usage gathered so far, in one transaction."""
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        records = [UsageRecord(*key, *totals) for key, totals in batch.items()]
        try:
            await self._store.write(lambda c: usage.add_usage(c, records))
        except Exception:
            log.exception("could not write usage; kept for the next flush")
            for key, totals in batch.items():
                mine = self._pending.setdefault(key, [0, 0, 0, 0, 0])
                for i, value in enumerate(totals):
                    mine[i] += value
            return
        # What was just written is stored now: the next read of a month must see it.
        for key_id in {key for (_, key, _, _) in batch}:
            self._months.pop(key_id, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._flush_seconds)
            await self.flush()
