"""Gateway API keys: random, shown once, kept only as a SHA-256.

A key carries 256 random bits, so a fast hash is the right one-way function
(a slow password hash guards low-entropy secrets; it would only add CPU to
every request here), and the hash is what the store's unique index is built
on: a lookup is one index probe, never a scan.
"""

from __future__ import annotations

import hashlib
import secrets

from responses_gateway.ids import new_id

# What a key looks like: a recognisable prefix (secret scanners, logs) and 43 url-safe characters.
KEY_PREFIX = "rg-"


def new_key() -> tuple[str, str]:
    """A new (key id, key): the id names it in listings and revocations, the key is shown once."""
    return new_id("key"), KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The hex SHA-256 the store keeps and looks keys up by."""
    return hashlib.sha256(key.encode()).hexdigest()
