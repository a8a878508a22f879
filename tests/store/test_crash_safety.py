"""Crash safety: begin/finish, leases, the orphan sweep, and concurrent writers on both backends.

Rows are written as production writes them, `store.write(lambda c: writes.xxx(c, ...))`,
each write a transaction of its own that commits; so the concurrency tests really contend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, TypeVar

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from responses_gateway.store import (
    ChainItem,
    ItemRecord,
    ResponseItemRow,
    ResponseRecord,
    ResponseRepository,
    ResponseRow,
    writes,
)

if TYPE_CHECKING:
    from conftest import Db

T = TypeVar("T")
U = TypeVar("U")

TENANT = "default"
NOW = 1_760_000_000
ME, OTHER = "replica-me", "replica-other"
LIVE, EXPIRED = NOW + 30, NOW - 1


def started(
    response_id: str,
    *,
    owner: str | None = ME,
    lease: int | None = LIVE,
    previous: str | None = None,
    tenant: str = TENANT,
) -> ResponseRecord:
    return ResponseRecord(
        id=response_id,
        tenant_id=tenant,
        previous_response_id=previous,
        model="gpt-test",
        status="in_progress",
        created_at=NOW,
        data=f"started:{response_id}".encode(),
        owner=owner,
        lease_expires_at=lease,
    )


def finished(record: ResponseRecord, status: str = "completed") -> ResponseRecord:
    return replace(record, status=status, data=f"{status}:{record.id}".encode() + b"\x00\xff")


def items(prefix: str, count: int) -> list[ItemRecord]:
    return [ItemRecord(f"{prefix}_{i}", "message", f"{prefix}:{i}".encode(), i + 1) for i in range(count)]


def flat(chain: list[ChainItem] | None) -> list[tuple[str, str, str]]:
    assert chain is not None
    return [(c.response_id, c.kind, c.item.item_id) for c in chain]


async def read(db: Db, work: Callable[[ResponseRepository], Awaitable[T]]) -> T:
    async with db.sessions() as session:
        return await work(ResponseRepository(session))


async def begin(db: Db, record: ResponseRecord, inputs: Sequence[ItemRecord] = ()) -> None:
    await db.store.write(lambda c: writes.begin_response(c, record, inputs))


async def finish(
    db: Db,
    record: ResponseRecord,
    outputs: Sequence[ItemRecord] = (),
    inputs: Sequence[ItemRecord] | None = None,
) -> bool:
    return await db.store.write(lambda c: writes.finish_response(c, record, outputs, inputs))


async def get(db: Db, response_id: str) -> ResponseRecord | None:
    return await read(db, lambda repo: repo.get_response(TENANT, response_id))


async def load(db: Db, response_id: str) -> list[tuple[str, str, str]]:
    return flat(await read(db, lambda repo: repo.load_conversation(TENANT, response_id)))


async def sweep(db: Db, *, now: int = NOW, owner: str | None = None) -> list[str]:
    return await db.store.write(lambda c: writes.fail_orphans(c, now=now, owner=owner))


async def overlapping(
    db: Db,
    first: Callable[[Connection], T],
    second: Callable[[Connection], U],
) -> tuple[T, U]:
    """`first` runs and holds its transaction open while `second` starts in another; then both commit.

    `second` is a `Store.write` contending with the open transaction: on PostgreSQL it waits
    for a row lock (or skips the row), on SQLite (in the writer thread) for the write lock.
    `first` commits while it is held up. A `Store.write` runs its function whole, so the held
    transaction is opened by hand, on the Store's engine, as `Store.write` does without a writer thread.
    """
    async with db.engine.begin() as connection:
        first_result = await connection.run_sync(first)
        contender = asyncio.create_task(db.store.write(second))
        await asyncio.sleep(0.3)  # let it reach the lock
    return first_result, await contender


def turn(response_id: str, inputs: int = 2, outputs: int = 1) -> list[tuple[str, str, str]]:
    return [(response_id, "input", f"{response_id}in_{i}") for i in range(inputs)] + [
        (response_id, "output", f"{response_id}out_{i}") for i in range(outputs)
    ]


class TestBeginAndFinish:
    async def test_begin_then_finish(self, db: Db) -> None:
        record = started("r1")
        await begin(db, record, items("r1in", 2))

        assert await get(db, "r1") == record  # status column, owner and lease as begun
        assert await load(db, "r1") == turn("r1", outputs=0)  # the inputs are there at once
        assert await read(db, lambda repo: repo.response_status(TENANT, "r1")) == "in_progress"

        done = finished(record)
        assert await finish(db, done, items("r1out", 1)) is True

        assert await get(db, "r1") == replace(done, owner=None, lease_expires_at=None)
        assert await load(db, "r1") == turn("r1")
        assert await read(db, lambda repo: repo.response_status(TENANT, "r1")) == "completed"

    async def test_begin_and_finish_in_one_transaction(self, db: Db) -> None:
        record = started("r1")

        def both(c: Connection) -> bool:
            writes.begin_response(c, record, items("r1in", 2))
            return writes.finish_response(c, finished(record, "incomplete"), items("r1out", 2))

        assert await db.store.write(both) is True
        stored = await get(db, "r1")
        assert stored is not None
        assert (stored.status, stored.owner, stored.lease_expires_at) == ("incomplete", None, None)
        assert await load(db, "r1") == turn("r1", outputs=2)

    async def test_finish_without_begin_inserts_the_whole_response(self, db: Db) -> None:
        done = finished(started("r1"))
        assert await finish(db, done, items("r1out", 1), items("r1in", 2)) is True

        assert await get(db, "r1") == replace(done, owner=None, lease_expires_at=None)
        assert await load(db, "r1") == turn("r1")

    async def test_finish_without_begin_needs_the_inputs(self, db: Db) -> None:
        with pytest.raises(ValueError, match="input_items"):
            await finish(db, finished(started("r1")), items("r1out", 1))
        assert await get(db, "r1") is None

    async def test_finish_needs_a_final_status(self, db: Db) -> None:
        record = started("r1")
        await begin(db, record)
        with pytest.raises(ValueError, match="final status"):
            await finish(db, record, items("r1out", 1))
        assert await get(db, "r1") == record

    async def test_finish_after_a_sweep_returns_false_and_writes_nothing(self, db: Db) -> None:
        record = started("r1", lease=EXPIRED)
        await begin(db, record, items("r1in", 2))
        assert await sweep(db) == ["r1"]

        # Inputs given too: the row exists, so they must not trigger an insert either.
        assert await finish(db, finished(record), items("r1out", 1), items("r1in", 2)) is False

        stored = await get(db, "r1")
        assert stored == replace(record, status="failed", owner=None, lease_expires_at=None)
        assert stored.data == record.data  # the column says failed; the data is as begun
        assert await load(db, "r1") == turn("r1", outputs=0)

    async def test_second_finish_returns_false(self, db: Db) -> None:
        record = started("r1")
        await begin(db, record, items("r1in", 1))
        assert await finish(db, finished(record), items("r1out", 1)) is True
        assert await finish(db, finished(record, "failed"), items("other", 3)) is False

        assert (await get(db, "r1")) == replace(finished(record), owner=None, lease_expires_at=None)
        assert await load(db, "r1") == turn("r1", inputs=1)

    async def test_finish_of_another_tenants_id_changes_nothing(self, db: Db) -> None:
        record = started("r1")
        await begin(db, record, items("r1in", 1))
        with pytest.raises(IntegrityError):  # not theirs to finish; ids are global, so no insert either
            await finish(db, finished(replace(record, tenant_id="other")), items("x", 1), [])
        assert await get(db, "r1") == record
        assert await load(db, "r1") == turn("r1", inputs=1, outputs=0)

    async def test_response_status_of_absent_or_foreign_is_none(self, db: Db) -> None:
        await begin(db, started("r1"))
        assert await read(db, lambda repo: repo.response_status(TENANT, "missing")) is None
        assert await read(db, lambda repo: repo.response_status("other", "r1")) is None


class TestLeases:
    async def test_renew_extends_only_the_owners_in_progress_rows(self, db: Db) -> None:
        await begin(db, started("mine_1", lease=EXPIRED))
        await begin(db, started("mine_2"))
        await begin(db, started("theirs", owner=OTHER))
        await begin(db, started("mine_done"))
        assert await finish(db, finished(started("mine_done")))

        assert await db.store.write(lambda c: writes.renew_leases(c, ME, NOW + 90)) == 2

        leases = {}
        for rid in ("mine_1", "mine_2", "theirs", "mine_done"):
            stored = await get(db, rid)
            assert stored is not None
            leases[rid] = (stored.owner, stored.lease_expires_at)
        assert leases == {
            "mine_1": (ME, NOW + 90),
            "mine_2": (ME, NOW + 90),
            "theirs": (OTHER, LIVE),
            "mine_done": (None, None),
        }
        assert await db.store.write(lambda c: writes.renew_leases(c, "nobody", NOW + 90)) == 0

    async def test_a_renewed_lease_escapes_the_sweep(self, db: Db) -> None:
        await begin(db, started("r1", lease=NOW + 5))
        await db.store.write(lambda c: writes.renew_leases(c, ME, NOW + 60))
        assert await sweep(db, now=NOW + 10) == []
        assert await read(db, lambda repo: repo.response_status(TENANT, "r1")) == "in_progress"


class TestFailOrphans:
    @pytest.fixture(autouse=True)
    async def rows(self, db: Db) -> None:
        await begin(db, started("mine_live", lease=LIVE))
        await begin(db, started("mine_expired", lease=EXPIRED), items("in", 2))
        await begin(db, started("theirs_live", owner=OTHER, lease=LIVE))
        await begin(db, started("theirs_expired", owner=OTHER, lease=EXPIRED, tenant="t2"))
        await begin(db, started("theirs_at_now", owner=OTHER, lease=NOW))  # expires only after now
        await begin(db, started("unleased", owner=None, lease=None))
        # Final rows are never swept, whatever stale owner or lease they might carry.
        await db.store.write(
            lambda c: writes.save_response(c, finished(started("done", lease=EXPIRED)), items("in", 1), [])
        )

    async def statuses(self, db: Db) -> dict[str, tuple[str, str | None, int | None]]:
        ids = ("mine_live", "mine_expired", "theirs_live", "theirs_at_now", "unleased", "done")
        out: dict[str, tuple[str, str | None, int | None]] = {}
        for rid in ids:
            r = await get(db, rid)
            assert r is not None
            out[rid] = (r.status, r.owner, r.lease_expires_at)
        async with db.sessions() as session:
            r = await ResponseRepository(session).get_response("t2", "theirs_expired")
        assert r is not None
        out["theirs_expired"] = (r.status, r.owner, r.lease_expires_at)
        return out

    async def test_expired_leases_only(self, db: Db) -> None:
        assert sorted(await sweep(db)) == ["mine_expired", "theirs_expired"]  # every tenant
        assert await self.statuses(db) == {
            "mine_live": ("in_progress", ME, LIVE),
            "mine_expired": ("failed", None, None),
            "theirs_live": ("in_progress", OTHER, LIVE),
            "theirs_expired": ("failed", None, None),
            "theirs_at_now": ("in_progress", OTHER, NOW),
            "unleased": ("in_progress", None, None),
            "done": ("completed", ME, EXPIRED),
        }
        assert await sweep(db) == []  # nothing left to do

    async def test_own_rows_whatever_their_lease(self, db: Db) -> None:
        assert sorted(await sweep(db, owner=ME)) == ["mine_expired", "mine_live", "theirs_expired"]
        statuses = await self.statuses(db)
        assert statuses["mine_live"] == ("failed", None, None)
        assert statuses["theirs_live"] == ("in_progress", OTHER, LIVE)  # never another's live row
        assert statuses["theirs_at_now"] == ("in_progress", OTHER, NOW)
        assert statuses["done"][0] == "completed"

    async def test_later_clock_reaches_more_leases(self, db: Db) -> None:
        assert sorted(await sweep(db, now=NOW + 1)) == ["mine_expired", "theirs_at_now", "theirs_expired"]
        assert sorted(await sweep(db, now=LIVE + 1)) == ["mine_live", "theirs_live"]

    async def test_failed_sets_updated_at_and_keeps_items(self, db: Db) -> None:
        await sweep(db)
        async with db.sessions() as session:
            updated_at = await session.scalar(select(ResponseRow.updated_at).where(ResponseRow.id == "mine_expired"))
            kept = await session.scalar(
                select(func.count()).select_from(ResponseItemRow).where(ResponseItemRow.response_id == "mine_expired")
            )
        assert updated_at == NOW
        assert kept == 2  # a failed response keeps the inputs it began with


class TestConcurrency:
    async def test_concurrent_sweeps_mark_each_orphan_once(self, db: Db) -> None:
        orphans = [f"orphan_{i}" for i in range(30)]
        for rid in orphans:
            await begin(db, started(rid, owner=OTHER, lease=EXPIRED), items(f"{rid}in", 1))
        await begin(db, started("live", owner=OTHER))

        first, second = await asyncio.gather(sweep(db), sweep(db))

        assert sorted(first + second) == sorted(orphans)  # each exactly once, none twice
        assert await read(db, lambda repo: repo.response_status(TENANT, "live")) == "in_progress"

    async def test_a_sweep_beside_an_open_sweep_finds_nothing(self, db: Db) -> None:
        for rid in ("a", "b", "c"):
            await begin(db, started(rid, owner=OTHER, lease=EXPIRED))

        first, second = await overlapping(
            db, lambda c: writes.fail_orphans(c, now=NOW), lambda c: writes.fail_orphans(c, now=NOW)
        )
        assert (sorted(first), second) == (["a", "b", "c"], [])

    async def test_finish_after_a_concurrent_sweep_returns_false(self, db: Db) -> None:
        record = started("r1", lease=EXPIRED)
        await begin(db, record, items("r1in", 1))

        swept, saved = await overlapping(
            db,
            lambda c: writes.fail_orphans(c, now=NOW),
            lambda c: writes.finish_response(c, finished(record), items("r1out", 1)),
        )
        assert (swept, saved) == (["r1"], False)
        assert await read(db, lambda repo: repo.response_status(TENANT, "r1")) == "failed"
        assert await load(db, "r1") == turn("r1", inputs=1, outputs=0)

    async def test_a_sweep_never_overwrites_a_concurrent_finish(self, db: Db) -> None:
        record = started("r1", lease=EXPIRED)  # expired, but its owner is finishing it right now
        await begin(db, record, items("r1in", 1))

        saved, swept = await overlapping(
            db,
            lambda c: writes.finish_response(c, finished(record), items("r1out", 1)),
            lambda c: writes.fail_orphans(c, now=NOW),
        )
        assert (saved, swept) == (True, [])
        assert await read(db, lambda repo: repo.response_status(TENANT, "r1")) == "completed"
        assert await load(db, "r1") == turn("r1", inputs=1)

    async def test_concurrent_deletes(self, db: Db) -> None:
        for rid in ("r1", "r2"):
            await finish(db, finished(started(rid)), [], items("in", 2))

        results = await asyncio.gather(
            *(db.store.write(lambda c: writes.delete_response(c, TENANT, "r1")) for _ in range(2))
        )
        assert sorted(results) == [False, True]

        held = await overlapping(
            db,
            lambda c: writes.delete_response(c, TENANT, "r2"),
            lambda c: writes.delete_response(c, TENANT, "r2"),
        )
        assert held == (True, False)
        assert await get(db, "r1") is None and await get(db, "r2") is None

    async def test_concurrent_forks_of_one_parent(self, db: Db) -> None:
        await finish(db, finished(started("root")), items("rootout", 1), items("rootin", 2))

        async def fork(rid: str) -> bool:
            record = started(rid, previous="root")
            await begin(db, record, items(f"{rid}in", 2))
            return await finish(db, finished(record), items(f"{rid}out", 1))

        async def saved_whole(rid: str) -> None:
            await db.store.write(
                lambda c: writes.save_response(
                    c, finished(started(rid, previous="root")), items(f"{rid}in", 2), items(f"{rid}out", 1)
                )
            )

        assert list(await asyncio.gather(fork("left"), fork("right"))) == [True, True]
        await asyncio.gather(saved_whole("up"), saved_whole("down"))

        for rid in ("left", "right", "up", "down"):
            assert await load(db, rid) == turn("root") + turn(rid)
