"""Alembic migrations, run programmatically: no alembic.ini, the script directory is this package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

__all__ = ["SCRIPT_LOCATION", "alembic_config", "downgrade", "upgrade"]

SCRIPT_LOCATION = Path(__file__).parent


def alembic_config(connection: Connection | None = None, *, url: str | None = None) -> Config:
    """An Alembic Config for this package; env.py runs on `connection` when one is given."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.set_main_option("path_separator", "os")  # spares Alembic's legacy-splitting warning
    if url is not None:
        config.set_main_option("sqlalchemy.url", url)
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Upgrade on a synchronous connection (inside AsyncConnection.run_sync)."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: Connection, revision: str) -> None:
    """Downgrade on a synchronous connection (inside AsyncConnection.run_sync)."""
    command.downgrade(alembic_config(connection), revision)
