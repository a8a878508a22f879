"""Alembic revisions: they apply and revert cleanly, and match the models exactly."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
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


def _seed_at_0001(connection: Connection) -> None:
    """One response with two items, written with the 0001 columns only."""
    connection.execute(
        text(
            "INSERT INTO responses (id, tenant_id, previous_response_id, model, status, created_at, updated_at, data)"
            " VALUES ('r1', 't', NULL, 'm', 'completed', 1, 2, :data)"
        ),
        {"data": b"proto"},
    )
    for position in range(2):
        connection.execute(
            text(
                "INSERT INTO response_items (tenant_id, response_id, kind, position, item_id, item_type, data)"
                " VALUES ('t', 'r1', 'input', :position, :item_id, 'message', :data)"
            ),
            {"position": position, "item_id": f"msg_{position}", "data": b"item"},
        )


def _contents(connection: Connection) -> tuple[list[Any], int]:
    responses = connection.execute(text("SELECT id, status, data FROM responses")).all()
    items = connection.execute(text("SELECT count(*) FROM response_items")).scalar_one()
    return [tuple(row) for row in responses], items


async def test_0002_keeps_existing_rows_both_ways(db: Db) -> None:
    """Leases are added to, and removed from, a populated table without touching its rows or items.

    On SQLite a batch rebuild of `responses` would drop the old table and, with foreign keys
    on, cascade the drop into every item: 0002 must alter in place.
    """
    async with db.sessions() as session:
        connection = await session.connection()
        await connection.run_sync(downgrade, "0001")
        await connection.run_sync(_seed_at_0001)
        before = await connection.run_sync(_contents)
        assert before == ([("r1", "completed", b"proto")], 2)

        await connection.run_sync(upgrade, "0002")
        assert await connection.run_sync(_contents) == before
        leases = (await connection.execute(text("SELECT owner, lease_expires_at FROM responses"))).all()
        assert [tuple(row) for row in leases] == [(None, None)]

        await connection.run_sync(downgrade, "0001")
        assert await connection.run_sync(_contents) == before
        columns = {c["name"] for c in await connection.run_sync(lambda c: inspect(c).get_columns("responses"))}
        assert not columns & {"owner", "lease_expires_at"}
        await connection.run_sync(upgrade, "head")
        await session.rollback()  # PostgreSQL: back to the fixture's savepoint
