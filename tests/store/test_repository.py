"""ResponseRepository against real databases (the `db` fixture: SQLite file, PostgreSQL), written through Store.write."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from responses_gateway.errors import ChainTooDeep
from responses_gateway.store import (
    ChainItem,
    ItemRecord,
    ResponseItemRow,
    ResponseRecord,
    ResponseRepository,
    writes,
)

if TYPE_CHECKING:
    from conftest import Db

TENANT = "default"


def response(response_id: str, previous: str | None = None, *, tenant: str = TENANT) -> ResponseRecord:
    return ResponseRecord(
        id=response_id,
        tenant_id=tenant,
        previous_response_id=previous,
        model="gpt-test",
        status="completed",
        created_at=1_760_000_000,
        data=f"proto:{response_id}".encode() + b"\x00\xff",  # bytes must survive untouched
    )


def items(prefix: str, count: int, item_type: str = "message") -> list[ItemRecord]:
    return [
        ItemRecord(item_id=f"{prefix}_{i}", item_type=item_type, data=f"{prefix}:{i}".encode(), token_count=i + 1)
        for i in range(count)
    ]


async def save(
    db: Db,
    record: ResponseRecord,
    inputs: Sequence[ItemRecord] = (),
    outputs: Sequence[ItemRecord] = (),
) -> None:
    await db.store.write(lambda c: writes.save_response(c, record, inputs, outputs))


async def save_turn(db: Db, response_id: str, previous: str | None = None) -> None:
    """A response with two inputs ("<id>in_0/1") and one output ("<id>out_0")."""
    await save(db, response(response_id, previous), items(f"{response_id}in", 2), items(f"{response_id}out", 1))


def expected_turn(response_id: str) -> list[tuple[str, str, str]]:
    return [
        (response_id, "input", f"{response_id}in_0"),
        (response_id, "input", f"{response_id}in_1"),
        (response_id, "output", f"{response_id}out_0"),
    ]


def flat(chain: list[ChainItem] | None) -> list[tuple[str, str, str]]:
    assert chain is not None
    return [(c.response_id, c.kind, c.item.item_id) for c in chain]


async def load(db: Db, response_id: str, *, tenant: str = TENANT) -> list[ChainItem] | None:
    async with db.sessions() as session:
        return await ResponseRepository(session).load_conversation(tenant, response_id)


async def test_save_and_get_round_trip(db: Db) -> None:
    record = response("resp_1")
    inputs, outputs = items("msg_in", 2), [ItemRecord("rs_1", "reasoning", b"\x01\x02"), *items("msg_out", 1)]
    await save(db, record, inputs, outputs)

    async with db.sessions() as session:
        repo = ResponseRepository(session)
        assert await repo.get_response(TENANT, "resp_1") == record
        chain = await repo.load_conversation(TENANT, "resp_1")
    assert chain == [
        *(ChainItem("resp_1", "input", item) for item in inputs),
        *(ChainItem("resp_1", "output", item) for item in outputs),
    ]


async def test_get_for_another_tenant_or_unknown_id_is_none(db: Db) -> None:
    await save_turn(db, "resp_1")
    async with db.sessions() as session:
        repo = ResponseRepository(session)
        assert await repo.get_response("other", "resp_1") is None
        assert await repo.get_response(TENANT, "resp_missing") is None


async def test_delete_removes_response_and_items(db: Db) -> None:
    await save_turn(db, "resp_1")
    deleted = await db.store.write(
        lambda c: [
            writes.delete_response(c, "other", "resp_1"),  # not theirs to delete
            writes.delete_response(c, TENANT, "resp_1"),
            writes.delete_response(c, TENANT, "resp_1"),
        ]
    )
    assert deleted == [False, True, False]  # in one transaction

    async with db.sessions() as session:
        assert await ResponseRepository(session).get_response(TENANT, "resp_1") is None
        remaining = await session.scalar(
            select(func.count()).select_from(ResponseItemRow).where(ResponseItemRow.response_id == "resp_1")
        )
    assert remaining == 0


async def test_duplicate_id_fails_and_keeps_the_first(db: Db) -> None:
    await save_turn(db, "resp_1")
    with pytest.raises(IntegrityError):
        await save(db, response("resp_1"), items("again", 1))
    assert flat(await load(db, "resp_1")) == expected_turn("resp_1")


async def test_chain_of_three_loads_oldest_first(db: Db) -> None:
    await save_turn(db, "r1")
    await save_turn(db, "r2", "r1")
    await save_turn(db, "r3", "r2")

    assert flat(await load(db, "r3")) == expected_turn("r1") + expected_turn("r2") + expected_turn("r3")
    assert flat(await load(db, "r2")) == expected_turn("r1") + expected_turn("r2")


async def test_chain_of_unknown_or_foreign_response_is_none(db: Db) -> None:
    await save_turn(db, "r1")
    assert await load(db, "r_missing") is None
    assert await load(db, "r1", tenant="other") is None


async def test_response_without_items_is_an_empty_chain_not_none(db: Db) -> None:
    await save(db, response("r1"))
    assert await load(db, "r1") == []


async def test_fork_sees_only_its_own_branch(db: Db) -> None:
    await save_turn(db, "root")
    await save_turn(db, "left", "root")
    await save_turn(db, "right", "root")

    assert flat(await load(db, "left")) == expected_turn("root") + expected_turn("left")
    assert flat(await load(db, "right")) == expected_turn("root") + expected_turn("right")


async def test_deleted_ancestor_ends_the_walk(db: Db) -> None:
    await save_turn(db, "r1")
    await save_turn(db, "r2", "r1")
    await save_turn(db, "r3", "r2")
    assert await db.store.write(lambda c: writes.delete_response(c, TENANT, "r2"))

    assert flat(await load(db, "r3")) == expected_turn("r3")


async def test_walk_never_enters_another_tenant(db: Db) -> None:
    await save(db, response("theirs", tenant="other"), items("y", 1))
    await save(db, response("theirs_child", "theirs", tenant="other"), items("x", 1))
    await save_turn(db, "mine", "theirs")  # names another tenant's response as its parent

    assert flat(await load(db, "mine")) == expected_turn("mine")
    assert flat(await load(db, "theirs_child", tenant="other")) == [
        ("theirs", "input", "y_0"),
        ("theirs_child", "input", "x_0"),
    ]


async def test_deep_chain_loads_in_one_ordered_query(db: Db) -> None:
    depth = 1000

    def save_chain(c: Connection) -> None:  # the whole chain in one transaction
        for i in range(depth):
            previous = f"r{i - 1}" if i else None
            writes.save_response(c, response(f"r{i}", previous), items(f"r{i}in", 1), items(f"r{i}out", 1))

    await db.store.write(save_chain)

    async with db.sessions() as session:
        await session.connection()  # begin first, so that only the query itself is counted
        with db.count_statements() as statements:
            chain = await ResponseRepository(session).load_conversation(TENANT, f"r{depth - 1}")

    assert len(statements) == 1
    assert "RECURSIVE" in statements[0].upper()
    assert flat(chain) == [
        (f"r{i}", kind, f"r{i}{suffix}_0")
        for i in range(depth)
        for kind, suffix in (("input", "in"), ("output", "out"))
    ]


async def test_chain_depth_is_capped(db: Db) -> None:
    for i in range(4):
        await save_turn(db, f"r{i}", f"r{i - 1}" if i else None)
    async with db.sessions() as session:
        capped = ResponseRepository(session, max_chain_depth=4)
        assert len(await capped.load_conversation(TENANT, "r3") or []) == 12
        with pytest.raises(ChainTooDeep) as raised:
            await ResponseRepository(session, max_chain_depth=3).load_conversation(TENANT, "r3")
    assert raised.value.http_status == 400  # a client error, not a 500
    assert raised.value.param == "previous_response_id"
    assert raised.value.code == "conversation_too_deep"


async def test_cycle_is_stopped_by_the_cap(db: Db) -> None:
    # previous_response_id is not a foreign key, so a loop can be written; the walk must end.
    await save_turn(db, "a", "b")
    await save_turn(db, "b", "a")
    async with db.sessions() as session:
        with pytest.raises(ChainTooDeep) as raised:
            await ResponseRepository(session, max_chain_depth=50).load_conversation(TENANT, "a")
    assert raised.value.http_status == 400
    assert raised.value.param == "previous_response_id"


class TestListInputItems:
    """Five inputs in_0..in_4 (plus outputs that must never show)."""

    @pytest.fixture(autouse=True)
    async def five_inputs(self, db: Db) -> None:
        await save(db, response("resp_1"), items("in", 5), items("out", 2))
        await save(db, response("resp_2", "resp_1"), items("next", 1))

    @staticmethod
    async def page(
        db: Db,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 2,
        order: str = "asc",
        response_id: str = "resp_1",
        tenant: str = TENANT,
    ) -> tuple[list[str], bool] | None:
        assert order in ("asc", "desc")
        async with db.sessions() as session:
            result = await ResponseRepository(session).list_input_items(
                tenant, response_id, after=after, before=before, limit=limit, order="asc" if order == "asc" else "desc"
            )
        return None if result is None else ([i.item_id for i in result[0]], result[1])

    @pytest.mark.parametrize(
        ("order", "after", "expected"),
        [
            ("asc", None, (["in_0", "in_1"], True)),
            ("asc", "in_1", (["in_2", "in_3"], True)),
            ("asc", "in_2", (["in_3", "in_4"], False)),
            ("asc", "in_3", (["in_4"], False)),
            ("asc", "in_4", ([], False)),
            ("desc", None, (["in_4", "in_3"], True)),
            ("desc", "in_3", (["in_2", "in_1"], True)),
            ("desc", "in_1", (["in_0"], False)),
        ],
    )
    async def test_forward_pages(
        self, db: Db, order: str, after: str | None, expected: tuple[list[str], bool]
    ) -> None:
        assert await self.page(db, order=order, after=after) == expected

    @pytest.mark.parametrize(
        ("order", "before", "expected"),
        [
            ("asc", "in_3", (["in_1", "in_2"], True)),
            ("asc", "in_2", (["in_0", "in_1"], False)),
            ("asc", "in_1", (["in_0"], False)),
            ("desc", "in_1", (["in_3", "in_2"], True)),
            ("desc", "in_2", (["in_4", "in_3"], False)),
        ],
    )
    async def test_before_returns_the_previous_page(
        self, db: Db, order: str, before: str, expected: tuple[list[str], bool]
    ) -> None:
        assert await self.page(db, order=order, before=before) == expected

    async def test_after_and_before_bound_a_range(self, db: Db) -> None:
        assert await self.page(db, after="in_0", before="in_4", limit=10) == (["in_1", "in_2", "in_3"], False)
        assert await self.page(db, after="in_0", before="in_4", limit=2) == (["in_1", "in_2"], True)
        assert await self.page(db, order="desc", after="in_4", before="in_0", limit=10) == (
            ["in_3", "in_2", "in_1"],
            False,
        )

    async def test_only_the_responses_own_inputs(self, db: Db) -> None:
        assert await self.page(db, response_id="resp_2", limit=10) == (["next_0"], False)

    async def test_unknown_cursor_gives_an_empty_page(self, db: Db) -> None:
        assert await self.page(db, after="out_0") == ([], False)  # an output id is no input cursor

    async def test_absent_or_foreign_response_is_none(self, db: Db) -> None:
        assert await self.page(db, response_id="resp_missing") is None
        assert await self.page(db, tenant="other") is None

    async def test_limit_must_be_positive(self, db: Db) -> None:
        with pytest.raises(ValueError, match="limit"):
            await self.page(db, limit=0)
