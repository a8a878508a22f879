"""Claims on responses in progress, so a crash never leaves one claiming to run.

Each replica owns the rows it is producing and renews their lease while it
lives. On start it fails what its own previous life left behind; while alive
it periodically fails rows whose owner stopped renewing (a dead replica).
A live replica's rows are never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import Connection

from responses_gateway.store import Store, writes

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews this replica's leases and sweeps expired ones, on a timer."""

    def __init__(self, store: Store, owner: str, lease_seconds: float) -> None:
        self._store = store
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._task: asyncio.Task[None] | None = None

    def lease_until(self) -> int:
        """The lease expiry to give a response starting now."""
        return int(time.time() + self.lease_seconds)

    async def reclaim(self) -> list[str]:
        """Fail what this owner left unfinished and any expired claims; run at start-up."""
        now = int(time.time())
        failed = await self._store.write(lambda c: writes.fail_orphans(c, now=now, owner=self.owner))
        if failed:
            log.warning("marked %d interrupted responses failed", len(failed))
        return failed

    async def _tick(self) -> None:
        owner, lease, now = self.owner, self.lease_until(), int(time.time())

        def renew_and_sweep(c: Connection) -> list[str]:
            writes.renew_leases(c, owner, lease)
            return writes.fail_orphans(c, now=now)

        failed = await self._store.write(renew_and_sweep)
        if failed:
            log.warning("marked %d responses of dead replicas failed", len(failed))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self._tick()
            except Exception:
                log.exception("lease renewal failed")

    def start(self) -> None:
        """Begin renewing in the background."""
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def stop(self) -> None:
        """Stop renewing (the rows still in progress fail at the next start or sweep)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
