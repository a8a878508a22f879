"""Initial schema: responses and response_items.

Revision ID: 0001
Revises:
Create Date: 2026-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("previous_response_id", sa.String(64), nullable=True),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_responses"),
    )
    op.create_index("ix_responses_tenant_id_id", "responses", ["tenant_id", "id"])
    op.create_index("ix_responses_previous_response_id", "responses", ["previous_response_id"])
    op.create_table(
        "response_items",
        # INTEGER on SQLite: only an INTEGER PRIMARY KEY auto-increments there.
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("response_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(64), nullable=False),
        sa.Column("item_type", sa.String(48), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("pk", name="pk_response_items"),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name="fk_response_items_response_id_responses",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("response_id", "kind", "position", name="uq_response_items_response_id_kind_position"),
    )


def downgrade() -> None:
    op.drop_table("response_items")
    op.drop_index("ix_responses_previous_response_id", table_name="responses")
    op.drop_index("ix_responses_tenant_id_id", table_name="responses")
    op.drop_table("responses")
