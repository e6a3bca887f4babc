"""A large batch goes in pipelined chunks of one transaction (ledger.db.store.append_chunks):
the same answers as one statement, the chain continued chunk after chunk, each chunk checked
while the previous one is inserted, and all or nothing when PostgreSQL refuses a later chunk or
Python's checks refuse a later entry."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from sqlalchemy import text

import servicing.journal as journal_module
from ledger.db import store
from ledger.errors import AccountNotPostable, UnbalancedEntry
from ledger.model import Line, Side
from servicing.commands import PostJournalEntry
from servicing.verification import verify_journal
from tests.servicing.test_journal_service import deposit


async def _entries_of(uow_factory, office_id: int) -> int:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return int(await uow.session.scalar(
            text("SELECT count(*) FROM journal_entry WHERE office_id = :o"), {"o": office_id}))


def _unbalanced(command: PostJournalEntry) -> PostJournalEntry:
    """The command with its credit line one unit short of its debit: a fault Python's own checks catch."""
    debit, credit = command.lines
    return msgspec.structs.replace(command, lines=(
        debit, msgspec.structs.replace(credit, amount=credit.amount - 1)))


async def test_a_chunked_batch_answers_as_one_statement_would(journal, uow_factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await journal.post_batch([deposit(world, "1")])  # the balance rows exist: the batch can lock them all
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 3)
    monkeypatch.setattr(store, "PIPELINE_BATCH_ENTRIES_MIN", 6)
    calls: list[list[int]] = []
    events: list[str] = []
    append_chunks, sent, checked = store.append_chunks, store._sent, journal_module._checked

    async def counted(connection, chunks, accounts, locks, **options):  # type: ignore[no-untyped-def]
        sizes: list[int] = []
        calls.append(sizes)

        def seen():  # type: ignore[no-untyped-def]
            for chunk in chunks:
                sizes.append(len(chunk))
                yield chunk
        return await append_chunks(connection, seen(), accounts, locks, **options)

    async def logged_sent(driver):  # type: ignore[no-untyped-def]
        events.append("sent")
        await sent(driver)

    def logged_checked(command, entry_id, index):  # type: ignore[no-untyped-def]
        events.append(f"checked {index}")
        return checked(command, entry_id, index)

    monkeypatch.setattr(store, "append_chunks", counted)
    monkeypatch.setattr(store, "_sent", logged_sent)
    monkeypatch.setattr(journal_module, "_checked", logged_checked)
    amounts = [10 * (n + 1) for n in range(11)]  # 11 entries: chunks of 3, 3, 3 and 2
    booked = await journal.post_batch([deposit(world, str(a)) for a in amounts])
    assert calls == [[3, 3, 3, 2]]
    assert events.index("sent") < events.index("checked 3"), "the second chunk is checked once the first is sent"
    assert events.count("sent") == 4
    assert [b.entry.lines[0].amount for b in booked] == [Decimal(a) for a in amounts]
    cash = [next(m for m in b.movements if m.account_code == world.cash) for b in booked]
    running = Decimal(1)
    for movement, amount in zip(cash, amounts, strict=True):
        assert (movement.balance_before, movement.balance_after) == (running, running + amount)
        running += amount
    sequences = [b.sequence for b in booked]
    assert sequences == sorted(sequences) and len(set(sequences)) == len(sequences)
    positions = [b.chain_position for b in booked]
    assert positions == list(range(positions[0], positions[0] + len(amounts)))
    assert len({b.booked_at for b in booked}) == 1, "one transaction"
    async with uow_factory() as uow:
        stored = (await uow.session.execute(text(
            "SELECT seq, chain_position, entry_hash FROM journal_entry WHERE id = ANY(:ids) ORDER BY seq"),
            {"ids": [b.entry.entry_id for b in booked]})).all()
    assert [(row.seq, row.chain_position, bytes(row.entry_hash)) for row in stored] == \
        [(b.sequence, b.chain_position, b.entry_hash) for b in booked]
    report = await verify_journal(uow_factory)
    assert report.ok, report


async def test_a_refused_later_chunk_writes_nothing(journal, uow_factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await journal.post_batch([deposit(world, "1")])
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 2)
    monkeypatch.setattr(store, "PIPELINE_BATCH_ENTRIES_MIN", 4)
    arguments = store._Prepared.arguments
    chunks: list[int] = []

    def unbalanced_third_chunk(self, positions, hashes):  # type: ignore[no-untyped-def]
        values = arguments(self, positions, hashes)
        chunks.append(len(chunks))
        if len(chunks) == 3:  # what only PostgreSQL would now catch: the amounts changed after the checks
            index = store._APPEND_NAMES.index("line_amounts")
            values[index] = values[index].replace("{", "{7", 1)
        return values

    monkeypatch.setattr(store._Prepared, "arguments", unbalanced_third_chunk)
    before = await _entries_of(uow_factory, world.office_id)
    with pytest.raises(UnbalancedEntry):
        await journal.post_batch([deposit(world, str(100 + n)) for n in range(7)])
    assert len(chunks) >= 3
    assert await _entries_of(uow_factory, world.office_id) == before, "the chunks already inserted roll back"
    booked = await journal.post_batch([deposit(world, "5")] * 4)  # the connection and the chain are fine
    assert len(booked) == 4
    assert (await verify_journal(uow_factory)).ok


async def test_an_entry_refused_in_a_later_chunk_writes_nothing(journal, uow_factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await journal.post_batch([deposit(world, "1")])
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 2)
    monkeypatch.setattr(store, "PIPELINE_BATCH_ENTRIES_MIN", 4)
    sent: list[int] = []
    send = store._sent

    async def counted_sent(driver):  # type: ignore[no-untyped-def]
        sent.append(1)
        await send(driver)

    monkeypatch.setattr(store, "_sent", counted_sent)
    before = await _entries_of(uow_factory, world.office_id)
    commands = [deposit(world, str(100 + n)) for n in range(7)]
    commands[5] = _unbalanced(deposit(world, "100"))
    with pytest.raises(UnbalancedEntry) as refused:
        await journal.post_batch(commands)
    assert refused.value.field == "entries[5].lines"
    assert len(sent) == 2, "chunks 0 and 1 were sent before entry 5 was checked"
    assert await _entries_of(uow_factory, world.office_id) == before, "the chunks already inserted roll back"
    header = deposit(world, "100", lines=(
        Line(account_code=world.cash, side=Side.DEBIT, amount=Decimal(100), currency="XOF"),
        Line(account_code="NO-SUCH-ACCOUNT", side=Side.CREDIT, amount=Decimal(100), currency="XOF")))
    with pytest.raises(AccountNotPostable) as unknown:  # an account the chart lacks: checked whole, first
        await journal.post_batch([*commands[:5], header])
    assert unknown.value.field == "entries[5].lines[1].account_code"
    assert await _entries_of(uow_factory, world.office_id) == before
    assert len(await journal.post_batch(commands[:5])) == 5


def test_chunks_grow_from_a_small_first_one() -> None:
    assert store.pipeline_chunk_sizes(2_500) == [160, 256, 409, 654, 1_021]
    assert store.pipeline_chunk_sizes(5_000) == [160, 256, 409, 654, 1_046, 1_250, 1_225]
    assert store.pipeline_chunk_sizes(1_250) == [160, 256, 409, 425]
    assert store.pipeline_chunk_sizes(1_400) == [160, 256, 409, 575], "a remainder under half a chunk joins the last"
    assert store.pipeline_chunk_sizes(1_900) == [160, 256, 409, 654, 421], "half a chunk or more stays apart"
    for total in (1, 159, 160, 161, 481, 1_106, 1_250, 3_333, 5_000):
        sizes = store.pipeline_chunk_sizes(total)
        assert sum(sizes) == total and all(size > 0 for size in sizes)
        assert len(sizes) == 1 or sizes[0] == store.PIPELINE_FIRST_CHUNK_ENTRIES
        assert max(sizes) <= store.PIPELINE_CHUNK_ENTRIES * 3 // 2


async def test_the_first_fault_in_batch_order_is_named_though_the_first_chunk_is_checked_early(  # type: ignore[no-untyped-def]
        journal, uow_factory, world, monkeypatch) -> None:
    """The first chunk's own checks run while the context is read; an entry before the one they
    refuse that fails a context check (here a closed period) is still the one named."""
    from datetime import date

    from ledger.errors import PeriodClosed
    from servicing import closures
    from servicing.commands import CloseAccountingPeriod

    await journal.post_batch([deposit(world, "1")])
    await closures.close_period(uow_factory(), CloseAccountingPeriod(
        office_id=world.office_id, closing_date=date(2026, 9, 30), actor="accountant"))
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 4)
    monkeypatch.setattr(store, "PIPELINE_BATCH_ENTRIES_MIN", 8)
    commands = [deposit(world, str(100 + n)) for n in range(9)]
    commands[1] = deposit(world, "101", day=date(2026, 9, 30))
    commands[2] = _unbalanced(commands[2])
    before = await _entries_of(uow_factory, world.office_id)
    with pytest.raises(PeriodClosed) as closed:
        await journal.post_batch(commands)
    assert closed.value.field == "entries[1].value_date"
    commands[1] = deposit(world, "101")
    with pytest.raises(UnbalancedEntry) as refused:
        await journal.post_batch(commands)
    assert refused.value.field == "entries[2].lines"
    assert await _entries_of(uow_factory, world.office_id) == before


async def test_the_commit_leaves_while_the_last_chunk_is_built(journal, uow_factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Without keys to record, the batch's commit is sent as soon as the last chunk is answered;
    the batch is committed when post_batch returns."""
    from servicing.unit_of_work import UnitOfWork

    await journal.post_batch([deposit(world, "1")])
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 3)
    monkeypatch.setattr(store, "PIPELINE_BATCH_ENTRIES_MIN", 6)
    events: list[str] = []
    commit, booked_of = UnitOfWork.commit, store._Prepared.booked

    async def logged_commit(self):  # type: ignore[no-untyped-def]
        events.append("commit sent")
        await commit(self)
        events.append("committed")

    def logged_booked(self, *arguments):  # type: ignore[no-untyped-def]
        events.append(f"built {len(self.entries)}")
        return booked_of(self, *arguments)

    monkeypatch.setattr(UnitOfWork, "commit", logged_commit)
    monkeypatch.setattr(store._Prepared, "booked", logged_booked)
    before = await _entries_of(uow_factory, world.office_id)
    booked = await journal.post_batch([deposit(world, str(10 + n)) for n in range(8)])  # chunks of 3, 3, 2
    assert len(booked) == 8
    assert events == ["built 3", "built 3", "commit sent", "built 2", "committed"]
    assert await _entries_of(uow_factory, world.office_id) == before + 8


async def test_a_pipelined_batch_with_keys_records_them_before_its_commit(journal, uow_factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await journal.post_batch([deposit(world, "1")])
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 3)
    monkeypatch.setattr(store, "PIPELINE_BATCH_ENTRIES_MIN", 6)
    commands = [deposit(world, str(10 + n), key=f"{world.prefix}-pipelined-{n}") for n in range(8)]
    booked = await journal.post_batch(commands)
    replayed = await journal.post_batch(commands)
    assert [(b.entry.entry_id, b.sequence) for b in replayed] == [(b.entry.entry_id, b.sequence) for b in booked]
    assert await _entries_of(uow_factory, world.office_id) == 1 + 8


async def test_a_batch_checked_whole_names_its_first_fault_in_batch_order(journal, uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    """A small batch (or one that falls back to being checked whole): an entry that fails a
    context check (an account the chart lacks) before one that fails its own checks (unbalanced)
    is the one named."""
    commands = [deposit(world, str(10 + n)) for n in range(5)]
    commands[1] = deposit(world, "11", lines=(
        Line(account_code=world.cash, side=Side.DEBIT, amount=Decimal(11), currency="XOF"),
        Line(account_code="NO-SUCH-ACCOUNT", side=Side.CREDIT, amount=Decimal(11), currency="XOF")))
    commands[3] = _unbalanced(commands[3])
    before = await _entries_of(uow_factory, world.office_id)
    with pytest.raises(AccountNotPostable) as refused:
        await journal.post_batch(commands)
    assert refused.value.field == "entries[1].lines[1].account_code"
    commands[1] = deposit(world, "11")
    with pytest.raises(UnbalancedEntry) as unbalanced:
        await journal.post_batch(commands)
    assert unbalanced.value.field == "entries[3].lines"
    assert await _entries_of(uow_factory, world.office_id) == before
