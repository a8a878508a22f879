"""Store: engine options per backend, sessions, fail-fast opening."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from responses_gateway.store import ItemRecord, ResponseRecord, ResponseRepository, Store, writes

RECORD = ResponseRecord("resp_1", "default", None, "gpt-test", "completed", 1_760_000_000, b"proto")


async def test_sqlite_file_pragmas(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    try:
        async with store.engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar_one()
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            }
    finally:
        await store.close()
    assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 5000}


async def test_sqlite_memory_is_one_shared_database() -> None:
    store = await Store.open("sqlite+aiosqlite:///:memory:")
    try:
        await store.migrate()
        await store.write(lambda c: writes.save_response(c, RECORD, [ItemRecord("msg_1", "message", b"hi")], []))
        async with store.session() as session:  # a later session sees the same in-memory database
            assert await ResponseRepository(session).get_response("default", "resp_1") == RECORD
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
    finally:
        await store.close()


async def test_open_fails_fast_when_the_server_is_unreachable() -> None:
    pytest.importorskip("asyncpg")
    with pytest.raises(OSError):
        await Store.open("postgresql+asyncpg://postgres@127.0.0.1:1/none")
