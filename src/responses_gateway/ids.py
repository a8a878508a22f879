"""OpenAI-shaped object ids."""

from __future__ import annotations

import secrets
import time


def new_id(prefix: str) -> str:
    """An id like OpenAI's: prefix, underscore, 48 hex digits, the first 8 the creation time in seconds.

    OpenAI's own ids start with the unix time in hex as well; for the store it
    means new rows land beside each other in every index keyed by id, not at
    random pages of an ever larger B-tree.
    """
    return f"{prefix}_{int(time.time()):08x}{secrets.token_hex(20)}"
