"""SQLite's single writer as one thread that commits writes in groups.

SQLite takes one writer at a time, so every write of the process goes to one
thread that owns one connection. Whatever writes are waiting when it comes
round run in a single transaction (group commit): one commit, whose cost is
most of a small write's, serves them all, and a burst of finished responses
costs little more than one. A write's caller resumes only once its
transaction has committed. If any write of a group fails, the group is rolled
back and each of its writes is run again alone, so one bad write fails only
its own caller.

Checkpoints (copying the WAL back into the database file, with its fsync) are
taken by a second thread on its own connection, PASSIVE, so no commit ever
waits for one: the writer's connection has automatic checkpoints turned off.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bounds one transaction: a long queue drains in several commits rather than one huge one.
MAX_GROUP = 256
# A checkpoint after this many commits, or this often when there were any.
CHECKPOINT_COMMITS = 500
CHECKPOINT_SECONDS = 1.0

_Job = tuple[Callable[[Connection], Any], asyncio.Future[Any], asyncio.AbstractEventLoop]
_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class GroupCommitWriter:
    """Runs write functions on one connection in one thread, committing what is queued together."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # needs two connections: the writer's and the checkpointer's
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._checkpoint_due = threading.Event()
        self._stopping = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoints, name="sqlite-checkpoint", daemon=True)
        self.groups = 0  # transactions committed (tests and benchmarks read it)
        self.checkpoints = 0
        self._since_checkpoint = 0
        self._thread.start()
        self._checkpointer.start()

    async def write(self, fn: Callable[[Connection], T]) -> T:
        """`fn(connection)` inside a transaction; returns its result once that transaction committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((fn, future, loop))
        # Shielded: a caller that goes away must not cancel a write already queued.
        return await asyncio.shield(future)

    def close(self) -> None:
        """Finish what is queued, then stop the thread and close the connection."""
        self._jobs.put(None)
        self._thread.join()
        self._stopping.set()
        self._checkpoint_due.set()
        self._checkpointer.join()
        self._engine.dispose()

    def _run(self) -> None:
        with self._engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
            conn.commit()
            while True:
                first = self._jobs.get()
                if first is None:
                    return
                group = [first]
                stop = False
                while len(group) < MAX_GROUP:
                    try:
                        job = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    group.append(job)
                self._commit(conn, group)
                if stop:
                    return

    def _commit(self, conn: Connection, group: list[_Job]) -> None:
        outcomes: list[_Outcome] = []
        try:
            with conn.begin():
                results = [fn(conn) for fn, _, _ in group]
            outcomes = [(future, result, None) for (_, future, _), result in zip(group, results, strict=True)]
            self.groups += 1
        except Exception as exc:
            if len(group) == 1:
                outcomes = [(group[0][1], None, exc)]
            else:
                outcomes = [self._alone(conn, job) for job in group]
        self._since_checkpoint += 1
        if self._since_checkpoint >= CHECKPOINT_COMMITS:
            self._checkpoint_due.set()
        by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
        for (_, _, loop), outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(loop, []).append(outcome)
        for loop, done in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, done)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass

    def _checkpoints(self) -> None:
        with self._engine.connect() as conn:
            while not self._stopping.is_set():
                self._checkpoint_due.wait(CHECKPOINT_SECONDS)
                self._checkpoint_due.clear()
                if self._since_checkpoint == 0:
                    continue
                self._since_checkpoint = 0
                try:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
                    conn.commit()
                    self.checkpoints += 1
                except Exception:
                    log.exception("SQLite checkpoint failed; retrying later")
            # Leave the database file whole on a clean stop.
            try:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.commit()
            except Exception:
                log.exception("final SQLite checkpoint failed")

    def _alone(self, conn: Connection, job: _Job) -> _Outcome:
        fn, future, _ = job
        try:
            with conn.begin():
                result = fn(conn)
            self.groups += 1
            return future, result, None
        except Exception as exc:
            return future, None, exc


def _deliver(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
