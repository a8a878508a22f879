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
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind
from sqlalchemy import Connection, Engine

from responses_gateway.telemetry.tracing import untraced

log = logging.getLogger(__name__)

T = TypeVar("T")

# Bounds one transaction: a long queue drains in several commits rather than one huge one.
MAX_GROUP = 256
# A checkpoint after this many commits, or this often when there were any.
CHECKPOINT_COMMITS = 500
CHECKPOINT_SECONDS = 1.0

# A write, where its result goes, and the trace context it was asked for in (None when not tracing).
_Job = tuple[Callable[[Connection], Any], asyncio.Future[Any], asyncio.AbstractEventLoop, Context | None]
_Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class GroupCommitWriter:
    """Runs write functions on one connection in one thread, committing what is queued together."""

    def __init__(self, engine: Engine, tracer: trace.Tracer | None = None) -> None:
        """`tracer`: each write becomes a span in the trace of the request that asked for it, and each
        commit one span linked to every write it carried."""
        self._engine = engine
        self._tracer = tracer  # needs two connections: the writer's and the checkpointer's
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
        # The asking request's context travels with the job: the writer thread has none of its own.
        self._jobs.put((fn, future, loop, _traced_context() if self._tracer is not None else None))
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
            with self._commit_span(group), conn.begin():
                results = [self._apply(conn, fn, ctx) for fn, _, _, ctx in group]
            outcomes = [(future, result, None) for (_, future, _, _), result in zip(group, results, strict=True)]
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
        for (_, _, loop, _), outcome in zip(group, outcomes, strict=True):
            by_loop.setdefault(loop, []).append(outcome)
        for loop, done in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, done)
            except RuntimeError:  # that loop has closed: nobody is waiting any more
                pass

    def _apply(self, conn: Connection, fn: Callable[[Connection], T], ctx: Context | None) -> T:
        """One write, as a span of the request that asked for it (its statements sit under it)."""
        if self._tracer is None:
            return fn(conn)
        if ctx is None:
            with untraced():  # a write no request asked for (usage, leases)
                return fn(conn)
        with self._tracer.start_as_current_span("store.write", context=ctx, kind=SpanKind.INTERNAL):
            return fn(conn)

    def _commit_span(self, group: list[_Job]) -> contextlib.AbstractContextManager[object]:
        """One span for a transaction: in the first write's trace, linked to every write it carries."""
        contexts = [ctx for _, _, _, ctx in group if ctx is not None]
        if self._tracer is None or not contexts:
            return contextlib.nullcontext()
        links = [trace.Link(trace.get_current_span(ctx).get_span_context()) for ctx in contexts]
        return self._tracer.start_as_current_span(
            "store.commit",
            context=contexts[0],
            kind=SpanKind.INTERNAL,
            links=links,
            attributes={"db.system": "sqlite", "responses_gateway.writes": len(group)},
        )

    def _checkpoints(self) -> None:
        with untraced(), self._engine.connect() as conn:
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
        fn, future, _, ctx = job
        try:
            with self._commit_span([job]), conn.begin():
                result = self._apply(conn, fn, ctx)
            self.groups += 1
            return future, result, None
        except Exception as exc:
            return future, None, exc


def _traced_context() -> Context | None:
    """The current context when a span is in it (a background write, such as usage, belongs to no trace)."""
    ctx = otel_context.get_current()
    return ctx if trace.get_current_span(ctx).get_span_context().is_valid else None


def _deliver(outcomes: list[_Outcome]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
