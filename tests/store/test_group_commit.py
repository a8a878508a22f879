"""SQLite's writer thread: finished responses share commits, and one bad write fails only its caller."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from responses_gateway.store import ItemRecord, ResponseRecord, ResponseRepository, Store, writes
from responses_gateway.store.group_commit import GroupCommitWriter


def record(response_id: str) -> ResponseRecord:
    return ResponseRecord(
        id=response_id, tenant_id="default", previous_response_id=None, model="gpt-5.4", status="completed", created_at=1, data=b"r"
    )


ITEMS = [ItemRecord("msg_1", "message", b"i", 3, "o200k")]


async def open_store(tmp_path: Path) -> Store:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'group_commit.db'}")
    await store.migrate()
    return store


async def stored(store: Store, response_id: str) -> bool:
    async with store.session() as session:
        return await ResponseRepository(session).get_response("default", response_id) is not None


async def test_a_burst_of_finished_responses_shares_commits_and_every_one_lands(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        writer = store._writer
        assert isinstance(writer, GroupCommitWriter)
        before = writer.groups
        ids = [f"resp_{i}" for i in range(200)]
        await asyncio.gather(*(store.write(lambda c, r=r: writes.save_response(c, record(r), ITEMS, ITEMS)) for r in ids))
        assert writer.groups - before < 100  # grouped, not one commit each
        assert all([await stored(store, r) for r in ids])
    finally:
        await store.close()


async def test_one_failing_write_fails_alone_and_its_group_still_commits(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        await store.write(lambda c: writes.save_response(c, record("resp_taken"), [], []))
        results = await asyncio.gather(
            store.write(lambda c: writes.save_response(c, record("resp_a"), ITEMS, [])),
            store.write(lambda c: writes.save_response(c, record("resp_taken"), [], [])),  # duplicate key
            store.write(lambda c: writes.save_response(c, record("resp_b"), ITEMS, [])),
            return_exceptions=True,
        )
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], IntegrityError)
        assert await stored(store, "resp_a") and await stored(store, "resp_b")
    finally:
        await store.close()


async def test_a_caller_that_goes_away_does_not_undo_its_queued_write(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        task = asyncio.create_task(store.write(lambda c: writes.save_response(c, record("resp_kept"), ITEMS, ITEMS)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.write(lambda c: None)  # the queue is in order: the cancelled caller's write came first
        assert await stored(store, "resp_kept")
    finally:
        await store.close()


async def test_writes_queued_at_close_are_committed(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    pending = [asyncio.ensure_future(store.write(lambda c, i=i: writes.save_response(c, record(f"resp_{i}"), [], []))) for i in range(20)]
    await asyncio.sleep(0)
    await store.close()
    await asyncio.gather(*pending)
    reopened = await open_store(tmp_path)
    try:
        assert all([await stored(reopened, f"resp_{i}") for i in range(20)])
    finally:
        await reopened.close()


async def test_checkpoints_happen_beside_the_writer_not_inside_commits(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    try:
        writer = store._writer
        assert isinstance(writer, GroupCommitWriter)
        for i in range(50):
            await store.write(lambda c, i=i: writes.save_response(c, record(f"resp_{i}"), ITEMS, ITEMS))
        for _ in range(60):  # the checkpointer runs at least once a second while there are commits
            if writer.checkpoints:
                break
            await asyncio.sleep(0.05)
        assert writer.checkpoints >= 1
        wal = tmp_path / "group_commit.db-wal"
        assert wal.exists()
    finally:
        await store.close()
    assert not (tmp_path / "group_commit.db-wal").exists() or (tmp_path / "group_commit.db-wal").stat().st_size == 0
