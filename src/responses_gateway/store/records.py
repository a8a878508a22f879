"""Plain values crossing the store boundary; the store never sees protobuf, only serialized bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ChainItem", "ItemKind", "ItemRecord", "ResponseRecord"]

ItemKind = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class ItemRecord:
    """One input or output item of a response."""

    item_id: str  # "msg_…", "fc_…", "rs_…": unique within a response, not globally
    item_type: str  # "message" | "function_call" | "function_call_output" | "reasoning" | …
    data: bytes  # serialized proto item, opaque to the store
    token_count: int | None = None
    token_counter: str | None = None  # the tokenizer that produced token_count ("o200k", …)


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """One stored response, without its items."""

    id: str
    tenant_id: str
    previous_response_id: str | None
    model: str
    status: str  # in_progress | completed | incomplete | failed | cancelled (the column is the truth)
    created_at: int  # unix seconds
    data: bytes  # serialized proto Response, opaque to the store
    owner: str | None = None  # the replica producing an in_progress response; None once it ends
    lease_expires_at: int | None = None  # unix seconds; past it, any replica may mark the row failed


@dataclass(frozen=True, slots=True)
class ChainItem:
    """An item of a conversation chain, tagged with the response it belongs to."""

    response_id: str
    kind: ItemKind
    item: ItemRecord
