"""OpenAI-shaped object ids."""

from __future__ import annotations

import secrets


def new_id(prefix: str) -> str:
    """An id like OpenAI's: prefix, underscore, 48 hex digits."""
    return f"{prefix}_{secrets.token_hex(24)}"
