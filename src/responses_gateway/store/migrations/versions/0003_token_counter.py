"""Which tokenizer produced each stored item's token count.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-03

A conversation may change models (and tokenizers) mid-way, through a fallback
or the client's choice; a count is reused only when it came from the same
tokenizer. Plain ALTERs, no batch mode (see 0002).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("response_items", sa.Column("token_counter", sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column("response_items", "token_counter")
