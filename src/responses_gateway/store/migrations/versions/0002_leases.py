"""Crash safety: the owner and lease of in_progress responses.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-02

Plain ALTERs, no batch mode: SQLite (>= 3.35) adds and drops these columns in place.
A batch rebuild of `responses` would DROP the old table, which with foreign keys on
cascades into response_items and deletes every item.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("responses", sa.Column("owner", sa.String(128), nullable=True))
    op.add_column("responses", sa.Column("lease_expires_at", sa.BigInteger(), nullable=True))
    op.create_index("ix_responses_status_lease_expires_at", "responses", ["status", "lease_expires_at"])


def downgrade() -> None:
    # SQLite refuses to drop an indexed column: the index goes first.
    op.drop_index("ix_responses_status_lease_expires_at", table_name="responses")
    op.drop_column("responses", "lease_expires_at")
    op.drop_column("responses", "owner")
