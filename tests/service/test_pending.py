"""PendingWrites: writes that run after their answer, and the reads that wait for them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from responses_gateway.service.pending import PendingWrites


async def test_a_reader_waits_for_the_pending_write_of_its_response_only() -> None:
    pending = PendingWrites(limit=8)
    committed = asyncio.Event()
    order: list[str] = []

    async def write() -> None:
        await committed.wait()
        order.append("written")

    assert pending.try_start("t1", "resp_a", write())
    await pending.settled("t1", "resp_b")  # another response: nothing to wait for
    await pending.settled("t2", "resp_a")  # the same id of another tenant neither
    reader = asyncio.create_task(pending.settled("t1", "resp_a"))
    await asyncio.sleep(0.01)
    assert not reader.done()
    committed.set()
    await reader
    order.append("read")
    assert order == ["written", "read"]
    assert len(pending) == 0


async def test_a_reader_that_goes_away_does_not_cancel_the_write() -> None:
    pending = PendingWrites(limit=8)
    release = asyncio.Event()
    written = asyncio.Event()

    async def write() -> None:
        await release.wait()
        written.set()

    pending.try_start("t", "resp_a", write())
    reader = asyncio.create_task(pending.settled("t", "resp_a"))
    await asyncio.sleep(0)
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    release.set()
    await pending.drain()
    assert written.is_set()


async def test_past_the_limit_a_write_is_refused_and_left_to_its_caller() -> None:
    pending = PendingWrites(limit=1)
    release = asyncio.Event()

    async def write() -> None:
        await release.wait()

    assert pending.try_start("t", "resp_a", write())
    second = write()
    assert not pending.try_start("t", "resp_b", second)
    release.set()
    await second  # the caller runs it itself, as before write-behind
    await pending.drain()
    assert pending.try_start("t", "resp_c", write())
    await pending.drain()


async def test_a_failed_write_is_counted_and_logged_and_readers_go_on(caplog: pytest.LogCaptureFixture) -> None:
    pending = PendingWrites(limit=8)

    async def write() -> None:
        raise RuntimeError("disk full")

    pending.try_start("t", "resp_a", write())
    with caplog.at_level(logging.ERROR):
        await pending.settled("t", "resp_a")
        await asyncio.sleep(0)
    assert pending.failed == 1
    assert "could not store response resp_a" in caplog.text
    assert len(pending) == 0
