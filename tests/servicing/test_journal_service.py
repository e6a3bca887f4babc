"""The journal service against PostgreSQL: postings, balances before and after, replays,
reversals, closures and concurrency."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.errors import (
    AccountNotPostable,
    AlreadyReversed,
    IdempotencyConflict,
    PeriodClosed,
    UnknownOffice,
)
from ledger.model import Line, Side
from servicing import closures
from servicing.commands import (
    CloseAccountingPeriod,
    PostJournalEntry,
    ReverseJournalEntry,
    UndoAccountingClosure,
)
from servicing.journal import JournalService
from servicing.verification import verify_journal

OCTOBER_5 = date(2026, 10, 5)


def deposit(world, amount: str, *, key: str | None = None, day: date = OCTOBER_5, **overrides) -> PostJournalEntry:  # type: ignore[no-untyped-def]
    fields = dict(
        office_id=world.office_id, value_date=day, description="Versement espèces", actor="teller-1",
        lines=(Line(account_code=world.cash, side=Side.DEBIT, amount=Decimal(amount), currency="XOF"),
               Line(account_code=world.deposits, side=Side.CREDIT, amount=Decimal(amount), currency="XOF")),
        idempotency_key=key,
    )
    fields.update(overrides)
    return PostJournalEntry(**fields)  # type: ignore[arg-type]


async def cached_balance(uow_factory, code: str, currency: str = "XOF") -> tuple[Decimal, Decimal, int]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        row = (await uow.session.execute(text(
            "SELECT b.debit_total, b.credit_total, b.line_count FROM account_balance b "
            "JOIN gl_account a ON a.id = b.account_id WHERE a.code = :code AND b.currency = :currency"),
            {"code": code, "currency": currency})).one()
    return row.debit_total, row.credit_total, row.line_count


async def test_posting_answers_each_accounts_balance_before_and_after(journal, world) -> None:  # type: ignore[no-untyped-def]
    first = await journal.post(deposit(world, "150000"))
    second = await journal.post(deposit(world, "25000"))
    moves = {m.account_code: (m.balance_before, m.balance_after) for m in second.movements}
    # Cash is an asset (debit-normal), deposits a liability (credit-normal): both grow.
    assert moves == {world.cash: (Decimal(150000), Decimal(175000)), world.deposits: (Decimal(150000), Decimal(175000))}
    assert second.sequence > first.sequence
    assert await cached_balance(journal._uow_factory, world.cash) == (Decimal(175000), Decimal(0), 2)


async def test_replaying_an_idempotency_key_returns_the_original_and_changes_nothing(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    original = await journal.post(deposit(world, "5000", key=f"{world.prefix}-k1"))
    replays = await asyncio.gather(*[journal.post(deposit(world, "5000", key=f"{world.prefix}-k1")) for _ in range(5)])
    assert {r.entry.entry_id for r in replays} == {original.entry.entry_id}
    assert {r.booked_at for r in replays} == {original.booked_at}
    assert replays[0].movements == original.movements
    assert await cached_balance(uow_factory, world.cash) == (Decimal(5000), Decimal(0), 1)
    with pytest.raises(IdempotencyConflict):
        await journal.post(deposit(world, "6000", key=f"{world.prefix}-k1"))


async def test_simultaneous_first_uses_of_a_key_post_once(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    other_service = JournalService(uow_factory, idempotency_retention_days=30)
    try:
        results = await asyncio.gather(
            *[service.post(deposit(world, "700", key=f"{world.prefix}-race"))
              for service in (journal, other_service) for _ in range(4)])
    finally:
        await other_service.aclose()
    assert len({r.entry.entry_id for r in results}) == 1
    assert await cached_balance(uow_factory, world.cash) == (Decimal(700), Decimal(0), 1)


async def test_a_bad_entry_in_a_group_fails_alone(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    good = [deposit(world, str(100 + i)) for i in range(10)]
    bad = deposit(world, "100", lines=(
        Line(account_code=world.header, side=Side.DEBIT, amount=Decimal(100), currency="XOF"),
        Line(account_code=world.deposits, side=Side.CREDIT, amount=Decimal(100), currency="XOF")))
    results = await asyncio.gather(*[journal.post(c) for c in [*good[:5], bad, *good[5:]]], return_exceptions=True)
    assert [type(r).__name__ for r in results].count("AccountNotPostable") == 1
    assert isinstance(results[5], AccountNotPostable) and results[5].field == "lines[0].account_code"
    assert await cached_balance(uow_factory, world.cash) == (Decimal(sum(100 + i for i in range(10))), Decimal(0), 10)


async def test_sixteen_concurrent_posters_on_two_accounts_lose_and_double_nothing(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    # Four services (as four server processes would be), four posters each, on the same two accounts.
    services = [JournalService(uow_factory, idempotency_retention_days=30) for _ in range(4)]
    postings_per_poster = 25

    async def poster(service: JournalService, number: int) -> None:
        for i in range(postings_per_poster):
            key = f"{world.prefix}-p{number}-{i}" if i % 2 else None
            await service.post(deposit(world, str(1000 + number), key=key))
            if key is not None:  # a client retrying after a timeout
                await service.post(deposit(world, str(1000 + number), key=key))

    try:
        await asyncio.gather(*[poster(services[n % 4], n) for n in range(16)])
    finally:
        for service in services:
            await service.aclose()
    expected = sum((1000 + n) * postings_per_poster for n in range(16))
    assert await cached_balance(uow_factory, world.cash) == (Decimal(expected), Decimal(0), 16 * postings_per_poster)
    assert await cached_balance(uow_factory, world.deposits) == (Decimal(0), Decimal(expected), 16 * postings_per_poster)
    assert (await verify_journal(uow_factory)).ok


async def test_reversal_mirrors_links_and_happens_once(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    original = await journal.post(deposit(world, "80000"))
    reversal = await journal.reverse(ReverseJournalEntry(entry_id=original.entry.entry_id, actor="chief"))
    assert reversal.entry.reverses == original.entry.entry_id
    assert [(ln.account_code, ln.side.opposite(), ln.amount) for ln in reversal.entry.lines] == [
        (ln.account_code, ln.side, ln.amount) for ln in original.entry.lines]
    assert await cached_balance(uow_factory, world.cash) == (Decimal(80000), Decimal(80000), 2)
    attempts = await asyncio.gather(
        *[journal.reverse(ReverseJournalEntry(entry_id=original.entry.entry_id, actor="chief")) for _ in range(3)],
        return_exceptions=True)
    assert all(isinstance(a, AlreadyReversed) for a in attempts)


async def test_closures_refuse_postings_and_undo_latest_first(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    office = world.office_id
    first = await closures.close_period(uow_factory(), CloseAccountingPeriod(
        office_id=office, closing_date=date(2026, 9, 30), actor="accountant"))
    second = await closures.close_period(uow_factory(), CloseAccountingPeriod(
        office_id=office, closing_date=date(2026, 10, 15), actor="accountant"))
    with pytest.raises(PeriodClosed):
        await journal.post(deposit(world, "100", day=date(2026, 10, 15)))
    await journal.post(deposit(world, "100", day=date(2026, 10, 16)))
    with pytest.raises(Exception, match="latest first"):
        await closures.undo_closure(uow_factory(), UndoAccountingClosure(closure_id=first.closure.closure_id, actor="x"))
    await closures.undo_closure(uow_factory(), UndoAccountingClosure(closure_id=second.closure.closure_id, actor="x"))
    await journal.post(deposit(world, "100", day=date(2026, 10, 15)))
    with pytest.raises(PeriodClosed):
        await journal.post(deposit(world, "100", day=date(2026, 9, 30)))


async def test_unknown_office_is_named(journal, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UnknownOffice) as raised:
        await journal.post(deposit(world, "100", office_id=999_999))
    assert raised.value.field == "office_id"


async def test_batch_is_all_or_nothing(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    bad = deposit(world, "100", lines=(
        Line(account_code=world.disabled, side=Side.DEBIT, amount=Decimal(100), currency="XOF"),
        Line(account_code=world.deposits, side=Side.CREDIT, amount=Decimal(100), currency="XOF")))
    with pytest.raises(AccountNotPostable) as raised:
        await journal.post_batch([deposit(world, "100"), deposit(world, "200"), bad])
    assert raised.value.field == "entries[2].lines[0].account_code"
    async with uow_factory() as uow:
        count = await uow.session.scalar(text("SELECT count(*) FROM journal_entry WHERE office_id = :o"),
                                         {"o": world.office_id})
    assert count == 0
    booked = await journal.post_batch([deposit(world, "100"), deposit(world, "200")])
    assert [b.movements[0].balance_after for b in booked] == [Decimal(100), Decimal(300)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
async def test_cached_balances_always_equal_the_sum_of_lines(journal, uow_factory, world, data) -> None:  # type: ignore[no-untyped-def]
    amounts = data.draw(st.lists(st.integers(min_value=1, max_value=10**9), min_size=1, max_size=8))
    booked = await asyncio.gather(*[journal.post(deposit(world, str(a))) for a in amounts])
    for entry in data.draw(st.lists(st.sampled_from(booked), unique_by=lambda b: b.entry.entry_id, max_size=3)):
        await journal.reverse(ReverseJournalEntry(entry_id=entry.entry.entry_id, actor="tests"))
    async with uow_factory() as uow:
        mismatches = (await uow.session.execute(text(
            """SELECT b.account_id FROM account_balance b
                 JOIN (SELECT account_id, currency, sum(amount) FILTER (WHERE side = 'D') AS d,
                              sum(amount) FILTER (WHERE side = 'C') AS c, count(*) AS n
                         FROM journal_line GROUP BY 1, 2) t USING (account_id, currency)
                WHERE b.debit_total <> coalesce(t.d, 0) OR b.credit_total <> coalesce(t.c, 0) OR b.line_count <> t.n"""
        ))).all()
    assert mismatches == []


async def test_book_entries_commits_with_the_callers_unit_of_work(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    from uuid import uuid4

    from ledger.model import JournalEntry
    from servicing.journal import book_entries

    entry = JournalEntry(entry_id=uuid4(), office_id=world.office_id, value_date=OCTOBER_5, description="Dépôt",
                         actor="teller-1", lines=deposit(world, "300").lines)
    assert not await _has_balance(uow_factory, world.cash)  # a fresh world
    async with uow_factory() as uow:
        await book_entries(uow, [entry])
        # not committed: rolled back with the unit of work
    assert not await _has_balance(uow_factory, world.cash)
    async with uow_factory() as uow:
        (booked,) = await book_entries(uow, [entry])
        await uow.commit()
    assert booked.chain_position is not None
    with pytest.raises(AccountNotPostable):
        async with uow_factory() as uow:
            await book_entries(uow, [JournalEntry(
                entry_id=uuid4(), office_id=world.office_id, value_date=OCTOBER_5, description="x", actor="t",
                lines=(Line(account_code=world.disabled, side=Side.DEBIT, amount=Decimal(5), currency="XOF"),
                       Line(account_code=world.deposits, side=Side.CREDIT, amount=Decimal(5), currency="XOF")))])


async def _has_balance(uow_factory, code: str) -> bool:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return bool(await uow.session.scalar(text(
            "SELECT count(*) FROM account_balance b JOIN gl_account a ON a.id = b.account_id WHERE a.code = :c"),
            {"c": code}))
