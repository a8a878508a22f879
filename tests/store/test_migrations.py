"""Alembic revisions: they apply and revert cleanly, and match the models exactly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from responses_gateway.store import Base, Store
from responses_gateway.store.migrations import alembic_config, downgrade, upgrade

if TYPE_CHECKING:
    from conftest import Db

TABLES = {"responses", "response_items"}


def head() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def state(connection: Connection) -> tuple[set[str], str | None, list[Any]]:
    """(our tables present, current revision, differences between the models and the schema)."""
    context = MigrationContext.configure(connection)
    tables = set(inspect(connection).get_table_names()) & TABLES
    return tables, context.get_current_revision(), compare_metadata(context, Base.metadata)


async def test_upgrade_downgrade_upgrade_on_sqlite(tmp_path: Path) -> None:
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}")
    try:
        async with store.engine.connect() as connection:
            assert (await connection.run_sync(state))[:2] == (set(), None)
        await store.migrate()
        async with store.engine.begin() as connection:
            assert (await connection.run_sync(state))[:2] == (TABLES, head())
            await connection.run_sync(downgrade, "base")
            assert (await connection.run_sync(state))[:2] == (set(), None)
        await store.migrate()
        async with store.engine.connect() as connection:
            assert await connection.run_sync(state) == (TABLES, head(), [])
    finally:
        await store.close()


async def test_schema_matches_models_and_round_trips(db: Db) -> None:
    """On each backend: head has no autogenerate diff, and down-then-up restores it (rolled back on PostgreSQL)."""
    async with db.sessions() as session:
        connection = await session.connection()
        assert await connection.run_sync(state) == (TABLES, head(), [])
        await connection.run_sync(downgrade, "base")
        assert (await connection.run_sync(state))[:2] == (set(), None)
        await connection.run_sync(upgrade, "head")
        assert await connection.run_sync(state) == (TABLES, head(), [])
