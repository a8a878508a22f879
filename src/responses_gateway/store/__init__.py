"""Conversation storage: responses and their items, over SQLAlchemy async (SQLite or PostgreSQL).

`Store` owns the engine; `ResponseRepository` works on one session the caller owns and
never commits. Items and responses are opaque serialized bytes plus the columns queried on.
"""

from . import keys, usage, writes
from .database import Store
from .models import Base, ResponseItemRow, ResponseRow
from .records import ChainItem, ItemKind, ItemRecord, ResponseRecord
from .repository import DEFAULT_MAX_CHAIN_DEPTH, ResponseRepository

__all__ = [
    "DEFAULT_MAX_CHAIN_DEPTH",
    "Base",
    "ChainItem",
    "ItemKind",
    "ItemRecord",
    "ResponseItemRow",
    "ResponseRecord",
    "ResponseRepository",
    "ResponseRow",
    "Store",
    "keys",
    "usage",
    "writes",
]
