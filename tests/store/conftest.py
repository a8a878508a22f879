"""Store fixtures: each test runs on a fresh SQLite file and, when reachable, on PostgreSQL.

A test gets a migrated `Store` (in `Db`) and writes as production does, each write a
transaction of its own that commits: `db.store.write(lambda c: writes.save_response(c, ...))`
(on SQLite through the group-commit writer thread, on PostgreSQL on the async engine). It
reads through `db.sessions()` with `ResponseRepository`. PostgreSQL gets one throw-away
database per test session (created and migrated once), emptied after every test, so tests
and concurrent runs never see each other's rows. Test modules import `Db` only under
TYPE_CHECKING: a conftest is not a module to import at run time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import delete, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from responses_gateway.store import ResponseRow, Store

PG_URL = os.environ.get("RESPONSES_GATEWAY_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

T = TypeVar("T")


@dataclass(frozen=True)
class Db:
    """What a store test gets: a migrated Store to write through, and its engine and sessions to read with."""

    store: Store

    @property
    def engine(self) -> AsyncEngine:
        return self.store.engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.store.sessionmaker

    @contextmanager
    def count_statements(self) -> Iterator[list[str]]:
        """Collect every SQL statement sent to the database inside the block."""
        statements: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            statements.append(statement)

        event.listen(self.engine.sync_engine, "before_cursor_execute", record)
        try:
            yield statements
        finally:
            event.remove(self.engine.sync_engine, "before_cursor_execute", record)


def _run_in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run off the main thread, so pytest-asyncio's own loop is left untouched."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _admin(url: URL, sql: str) -> None:
    # CREATE/DROP DATABASE refuse to run inside a transaction block.
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql(sql)
    finally:
        await engine.dispose()


async def _migrate(url: URL) -> None:
    store = await Store.open(url)
    try:
        await store.migrate()
    finally:
        await store.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[URL]:
    """A migrated PostgreSQL database private to this test session; skipped if the server is unreachable."""
    if importlib.util.find_spec("asyncpg") is None:
        pytest.skip("asyncpg is not installed")
    admin = make_url(PG_URL)
    name = f"rg_store_test_{uuid.uuid4().hex[:12]}"
    try:
        _run_in_thread(_admin(admin, f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL at {admin.host}:{admin.port} cannot be reached: {exc}")
    url = admin.set(database=name)
    try:
        _run_in_thread(_migrate(url))
        yield url
    finally:
        _run_in_thread(_admin(admin, f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgresql"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Db]:
    """A migrated Store on each backend whose writes commit for real, as in production.

    Separate writes and sessions are separate transactions (on PostgreSQL separate pooled
    connections; on SQLite the writer thread's connection beside the readers'), so they
    really contend. On PostgreSQL the tables are emptied afterwards: the database outlives the test.
    """
    if request.param == "sqlite":
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
        try:
            await store.migrate()
        except BaseException:
            await store.close()
            raise
    else:
        store = await Store.open(request.getfixturevalue("pg_url"))
    try:
        yield Db(store)
    finally:
        try:
            if request.param == "postgresql":
                async with store.engine.begin() as connection:
                    await connection.execute(delete(ResponseRow))  # items go by ON DELETE CASCADE
        finally:
            await store.close()
