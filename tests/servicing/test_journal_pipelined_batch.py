"""A large batch goes in pipelined chunks of one transaction (ledger.db.store._append_pipelined):
the same answers as one statement, the chain continued chunk after chunk, and all or nothing
when PostgreSQL refuses a later chunk."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from ledger.db import store
from ledger.errors import UnbalancedEntry
from servicing.verification import verify_journal
from tests.servicing.test_journal_service import deposit


async def _entries_of(uow_factory, office_id: int) -> int:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return int(await uow.session.scalar(
            text("SELECT count(*) FROM journal_entry WHERE office_id = :o"), {"o": office_id}))


async def test_a_chunked_batch_answers_as_one_statement_would(journal, uow_factory, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    await journal.post_batch([deposit(world, "1")])  # the balance rows exist: the batch can lock them all
    monkeypatch.setattr(store, "PIPELINE_CHUNK_ENTRIES", 3)
    calls: list[int] = []
    pipelined = store._append_pipelined

    async def counted(connection, entries, accounts, locks):  # type: ignore[no-untyped-def]
        calls.append(len(entries))
        return await pipelined(connection, entries, accounts, locks)

    monkeypatch.setattr(store, "_append_pipelined", counted)
    amounts = [10 * (n + 1) for n in range(11)]  # 11 entries: chunks of 3, 3, 3 and 2
    booked = await journal.post_batch([deposit(world, str(a)) for a in amounts])
    assert calls == [11]
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
