"""The balances before and after each entry come from the balance rows locked with the chain
heads before the insert (revision 0030), not read back after it. Two offices' writers (two
chains, so nothing but the balance rows orders them) post on the same accounts at once: in
booking order, every entry's balance before is the previous entry's balance after, from zero
(the accounts' first lines race too: no balance row to lock yet) to the cached balance."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import event

from ledger.db.store import PostingLocks
from ledger.model import BookedEntry
from servicing.ids import uuid7
from servicing.journal import JournalService, book_entries, entry_from_command
from servicing.verification import verify_journal
from tests.servicing.test_journal_service import cached_balance, deposit

POSTERS = 12
POSTINGS_PER_POSTER = 10


def assert_chained(booked: list[BookedEntry]) -> dict[str, Decimal]:
    """Per account, in booking order: each balance before is the previous balance after."""
    last: dict[str, Decimal] = defaultdict(Decimal)
    for entry in sorted(booked, key=lambda b: b.sequence):
        for movement in entry.movements:
            assert movement.balance_before == last[movement.account_code], (entry.sequence, movement)
            last[movement.account_code] = movement.balance_after
    return dict(last)


async def test_two_offices_on_the_same_accounts_answer_chained_balances(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    services = [JournalService(uow_factory, idempotency_retention_days=30) for _ in range(3)]
    offices = (world.office_id, world.head_office_id)

    async def poster(number: int) -> list[BookedEntry]:
        service = services[number % len(services)]
        return [await service.post(deposit(world, str(100 + number), office_id=offices[(number + i) % 2]))
                for i in range(POSTINGS_PER_POSTER)]

    try:
        booked = [b for answers in await asyncio.gather(*[poster(n) for n in range(POSTERS)]) for b in answers]
    finally:
        for service in services:
            await service.aclose()
    assert len({b.entry.office_id for b in booked}) == 2
    expected = Decimal(sum((100 + n) * POSTINGS_PER_POSTER for n in range(POSTERS)))
    assert assert_chained(booked) == {world.cash: expected, world.deposits: expected}
    assert await cached_balance(uow_factory, world.cash) == (expected, Decimal(0), POSTERS * POSTINGS_PER_POSTER)
    assert (await verify_journal(uow_factory)).ok


async def test_book_entries_twice_in_one_unit_of_work_sees_its_own_first_entry(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    """The second call locks rows the first already moved (and holds): it starts from them."""
    async with uow_factory() as uow:
        (first,) = await book_entries(uow, [entry_from_command(deposit(world, "300"), uuid7())])
        (second,) = await book_entries(uow, [entry_from_command(deposit(world, "200"), uuid7())])
        await uow.commit()
    assert assert_chained([first, second]) == {world.cash: Decimal(500), world.deposits: Decimal(500)}


async def test_booking_on_accounts_with_balances_takes_two_statements(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    """Checks, locks and balances before in one statement, the insert in another: no lock of
    its own and no read-back. An account's first line still reads its new balance back."""
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sync_engine = uow_factory.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        async with uow_factory() as uow:
            await book_entries(uow, [entry_from_command(deposit(world, "300"), uuid7())])
            await uow.commit()
        first = len(statements)
        statements.clear()
        async with uow_factory() as uow:
            (booked,) = await book_entries(uow, [entry_from_command(deposit(world, "200"), uuid7())])
            await uow.commit()
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert first == 3, "context and locks, insert, read-back of the new balance rows"
    assert len(statements) == 2, statements
    assert {m.account_code: (m.balance_before, m.balance_after) for m in booked.movements} == {
        world.cash: (Decimal(300), Decimal(500)), world.deposits: (Decimal(300), Decimal(500))}


def test_locks_add_heads_and_balances() -> None:
    class Row:
        def __init__(self, **fields: object) -> None:
            self.__dict__.update(fields)

    locks = PostingLocks()
    locks.add(Row(office_id=3, chain_position=7, entry_hash=b"h", booked_at="t", account_id=None, currency=None,
                  debit_balance=None))
    locks.add(Row(office_id=None, chain_position=None, entry_hash=None, booked_at=None, account_id=11, currency="XOF",
                  debit_balance=Decimal("-250.0000")))
    assert locks.heads == {3: (7, b"h")} and locks.booked_at == "t"
    assert locks.balances == {(11, "XOF"): Decimal("-250.0000")}
