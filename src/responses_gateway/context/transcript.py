"""A finished conversation as providers receive it: items, their token counts, and upstream JSON kept per wire format.

A continuation resends the whole conversation every turn. A `Transcript` is
immutable and extends its predecessor, so what a turn costs does not grow with
the conversation's length: the token total is a running sum, and a wire
format's JSON of all items is the predecessor's bytes plus the new items'
(encoded once, on first use), with the byte offset of every item so that a
truncated view (the newest items only) is one slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from responses_gateway.api.v1 import items_pb2 as ipb


class ItemFormat(Protocol):
    """How one upstream protocol writes an input item."""

    @property
    def name(self) -> str:
        """Identifies the format (one encoding is kept per name)."""
        ...

    def encode(self, item: ipb.Item) -> bytes | None:
        """The item's JSON, or None to leave it out of the upstream request."""
        ...


@dataclass(frozen=True, slots=True)
class EncodedItems:
    """`blob` holds each item's JSON followed by a comma; item i starts at `offsets[i]`."""

    blob: bytes
    offsets: tuple[int, ...]

    def from_item(self, start: int) -> bytes:
        """The JSON of items[start:], comma-terminated (empty when none)."""
        if start >= len(self.offsets):
            return b""
        return self.blob[self.offsets[start] :] if start else self.blob


def _encode(fmt: ItemFormat, items: Iterable[ipb.Item], base: int) -> tuple[bytes, list[int]]:
    parts: list[bytes] = []
    offsets: list[int] = []
    size = base
    for item in items:
        offsets.append(size)
        encoded = fmt.encode(item)
        if encoded is not None:
            parts.append(encoded)
            parts.append(b",")
            size += len(encoded) + 1
    return b"".join(parts), offsets


def uses_images(items: Iterable[ipb.Item]) -> bool:
    """Whether any message among `items` carries an image."""
    return any(
        item.WhichOneof("item") == "message"
        and any(part.WhichOneof("part") == "input_image" for part in item.message.parts.parts)
        for item in items
    )


class Transcript:
    """Items oldest first, with token counts made by one tokenizer (`counter`); never mutated."""

    __slots__ = ("items", "counts", "counter", "total_tokens", "item_bytes", "uses_images", "_encodings", "_base")

    def __init__(
        self,
        items: Sequence[ipb.Item] = (),
        counts: Sequence[int] = (),
        counter: str = "",
        *,
        _base: Transcript | None = None,
        _images: bool | None = None,
    ) -> None:
        if len(items) != len(counts):
            raise ValueError(f"{len(items)} items but {len(counts)} counts")
        self.items: tuple[ipb.Item, ...] = tuple(items)
        self.counts: tuple[int, ...] = tuple(counts)
        self.counter = counter
        self.total_tokens = sum(self.counts)
        self.item_bytes = sum(item.ByteSize() for item in self.items)
        self.uses_images = uses_images(self.items) if _images is None else _images
        self._encodings: dict[str, EncodedItems] = {}
        # Kept only until this transcript is first encoded from it.
        self._base = _base

    def __len__(self) -> int:
        return len(self.items)

    def extend(self, items: Sequence[ipb.Item], counts: Sequence[int]) -> Transcript:
        """This conversation followed by `items` (same tokenizer)."""
        if not self.items:
            return Transcript(items, counts, self.counter)
        out = Transcript.__new__(Transcript)
        if len(items) != len(counts):
            raise ValueError(f"{len(items)} items but {len(counts)} counts")
        out.items = (*self.items, *items)
        out.counts = (*self.counts, *counts)
        out.counter = self.counter
        out.total_tokens = self.total_tokens + sum(counts)
        out.item_bytes = self.item_bytes + sum(item.ByteSize() for item in items)
        out.uses_images = self.uses_images or uses_images(items)
        out._encodings = {}
        out._base = self
        return out

    def encoded(self, fmt: ItemFormat) -> EncodedItems:
        """Every item in `fmt`, computed once; from the predecessor's encoding when it has one."""
        done = self._encodings.get(fmt.name)
        if done is not None:
            return done
        base = self._base
        known = base._encodings.get(fmt.name) if base is not None else None
        if base is not None and known is not None:
            tail, offsets = _encode(fmt, self.items[len(base.items) :], len(known.blob))
            done = EncodedItems(known.blob + tail, (*known.offsets, *offsets))
        else:
            blob, offsets = _encode(fmt, self.items, 0)
            done = EncodedItems(blob, tuple(offsets))
        self._encodings[fmt.name] = done
        self._base = None
        return done

    def memory_bytes(self) -> int:
        """About what this transcript holds: its items (serialized size), references, and encodings.

        Items shared with other transcripts are counted in each, so a cache
        bounded by this errs on the side of holding less.
        """
        encodings = sum(len(e.blob) + 8 * len(e.offsets) for e in self._encodings.values())
        return self.item_bytes + 16 * len(self.items) + encodings


EMPTY = Transcript()
