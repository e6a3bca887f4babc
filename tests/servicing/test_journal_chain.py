"""The hash chain and the period totals against PostgreSQL: Python and SQL agree on every
entry's canonical bytes, totals read from periods equal the sums of the lines, and verify finds
a row altered, or an entry moved in its chain, behind the triggers' back (as a superuser can)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.chain import GENESIS, ChainedEntry, ChainedLine, canonical_bytes, chain_hash
from ledger.db.totals import account_totals
from ledger.model import Line, Reference, Side
from servicing.commands import PostJournalEntry
from servicing.verification import verify_journal

_TEXTS = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)
_DESCRIPTIONS = _TEXTS.filter(str.strip)
"""A journal entry's description is never blank (`check_entry`); hypothesis found " "."""
_DAYS = st.dates(min_value=date(2027, 1, 1), max_value=date(2029, 12, 31))


def _entry(world: Any, day: date, amount: Decimal, **fields: Any) -> PostJournalEntry:
    values: dict[str, Any] = dict(
        office_id=world.office_id, value_date=day, description="Versement", actor="teller-1",
        lines=(Line(account_code=world.cash, side=Side.DEBIT, amount=amount, currency="XOF"),
               Line(account_code=world.deposits, side=Side.CREDIT, amount=amount, currency="XOF")))
    values.update(fields)
    return PostJournalEntry(**values)


async def _stored(uow_factory: Any, entry_id: Any) -> tuple[bytes, bytes, bytes, bytes]:
    """The entry's canonical bytes as Python and as SQL build them from the stored rows, its stored
    hash and its predecessor's."""
    async with uow_factory() as uow:
        e = (await uow.session.execute(text("SELECT * FROM journal_entry WHERE id = :id"), {"id": entry_id})).one()
        lines = (await uow.session.execute(text(
            "SELECT * FROM journal_line WHERE entry_id = :id ORDER BY line_no"), {"id": entry_id})).all()
        sql_bytes = await uow.session.scalar(text(
            "SELECT journal_entry_header_bytes(e) || (SELECT string_agg(journal_line_bytes(l), ''::bytea"
            " ORDER BY l.line_no) FROM journal_line l WHERE l.entry_id = e.id) FROM journal_entry e WHERE e.id = :id"),
            {"id": entry_id})
        previous = await uow.session.scalar(text(
            "SELECT entry_hash FROM journal_entry WHERE office_id = :office AND chain_position = :position"),
            {"office": e.office_id, "position": e.chain_position - 1})
    python_bytes = canonical_bytes(
        ChainedEntry(e.id, e.office_id, e.chain_position, e.value_date, e.booked_at, e.description, e.source_type,
                     e.source_id, e.actor, e.idempotency_key, e.reverses_id, e.line_count),
        [ChainedLine(line.line_no, line.account_id, line.office_id, line.value_date, line.side, line.amount,
                     line.currency.strip()) for line in lines])
    return python_bytes, sql_bytes, e.entry_hash, previous or GENESIS


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(description=_DESCRIPTIONS, reference=st.none() | st.tuples(_TEXTS, _TEXTS), key=st.none() | _TEXTS,
       amount=st.integers(min_value=1, max_value=10**12), day=_DAYS)
async def test_python_and_sql_build_the_same_canonical_bytes(
    journal: Any, world: Any, uow_factory: Any, description: str, reference: tuple[str, str] | None,
    key: str | None, amount: int, day: date,
) -> None:
    booked = await journal.post(_entry(
        world, day, Decimal(amount), description=description, idempotency_key=key and f"{uuid4()}{key}",
        reference=Reference(source_type=reference[0], source_id=reference[1]) if reference else None))
    python_bytes, sql_bytes, stored_hash, previous = await _stored(uow_factory, booked.entry.entry_id)
    assert python_bytes == sql_bytes
    assert stored_hash == chain_hash(previous, python_bytes) == hashlib.sha256(previous + sql_bytes).digest()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(postings=st.lists(st.tuples(_DAYS, st.integers(min_value=1, max_value=10**9)), min_size=1, max_size=12),
       span=st.tuples(_DAYS, _DAYS), open_start=st.booleans())
async def test_totals_from_periods_equal_the_sums_of_the_lines(
    journal: Any, world: Any, uow_factory: Any, postings: list[tuple[date, int]], span: tuple[date, date],
    open_start: bool,
) -> None:
    await journal.post_batch([_entry(world, day, Decimal(amount)) for day, amount in postings])
    since, through = (None if open_start else min(span)), max(span)
    async with uow_factory() as uow:
        ids = list((await uow.session.execute(text(
            "SELECT id FROM gl_account WHERE code = ANY(:codes)"), {"codes": [world.cash, world.deposits]})).scalars())
        totals = await account_totals(uow.session, since=since, through=through, account_ids=ids, by_office=True)
        brute = (await uow.session.execute(text(
            "SELECT account_id, office_id, currency, coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS d,"
            " coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS c, count(*) AS n FROM journal_line"
            " WHERE account_id = ANY(:ids) AND value_date <= :through AND (CAST(:since AS date) IS NULL"
            " OR value_date >= :since) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"),
            {"ids": ids, "through": through, "since": since})).all()
    assert [(t.account_id, t.office_id, t.currency, t.debit_total, t.credit_total, t.line_count) for t in totals] == [
        (b.account_id, b.office_id, b.currency.strip(), b.d, b.c, b.n) for b in brute]


async def _as_superuser(admin_engine: Any, *statements: tuple[str, dict[str, Any]]) -> None:
    """Change rows with every trigger off, as a superuser can."""
    async with admin_engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        for sql, params in statements:
            await connection.execute(text(sql), params)


async def test_verify_finds_a_line_altered_behind_the_triggers(journal: Any, world: Any, uow_factory: Any,
                                                                admin_engine: Any) -> None:
    booked = await journal.post(_entry(world, date(2027, 3, 3), Decimal(5000)))
    await journal.post(_entry(world, date(2027, 3, 4), Decimal(700)))
    assert (await verify_journal(uow_factory)).ok
    entry_id = booked.entry.entry_id
    await _as_superuser(admin_engine, ("UPDATE journal_line SET amount = amount + 1000 WHERE entry_id = :id",
                                       {"id": entry_id}))
    try:
        report = await verify_journal(uow_factory)
        assert not report.ok
        by_check = {problem.check: problem for problem in report.problems}
        assert by_check["chain"].entry_id == str(entry_id)
        assert "stored hash" in by_check["chain"].detail
        # the day's stored total no longer matches its lines
        assert by_check["period-totals"].detail.startswith("D 2027-03-03")
    finally:
        await _as_superuser(admin_engine, ("UPDATE journal_line SET amount = amount - 1000 WHERE entry_id = :id",
                                           {"id": entry_id}))
    assert (await verify_journal(uow_factory)).ok


async def test_verify_finds_an_entry_whose_hash_was_recomputed_after_a_change(
    journal: Any, world: Any, uow_factory: Any, admin_engine: Any,
) -> None:
    """Rewriting one entry and its own hash still breaks the link to the next entry."""
    first = await journal.post(_entry(world, date(2027, 4, 1), Decimal(900)))
    second = await journal.post(_entry(world, date(2027, 4, 2), Decimal(800)))
    python_bytes, _, original_hash, previous = await _stored(uow_factory, first.entry.entry_id)
    forged_hash = chain_hash(previous, python_bytes.replace(b"\x00\x00\x00\x09Versement", b"\x00\x00\x00\x07Retrait"))
    rewrite = "UPDATE journal_entry SET description = :description, entry_hash = :hash WHERE id = :id"
    await _as_superuser(admin_engine, (rewrite, {"description": "Retrait", "hash": forged_hash,
                                                 "id": first.entry.entry_id}))
    try:
        report = await verify_journal(uow_factory)
        assert [p.entry_id for p in report.problems if p.check == "chain"] == [str(second.entry.entry_id)]
    finally:
        await _as_superuser(admin_engine, (rewrite, {"description": "Versement", "hash": original_hash,
                                                     "id": first.entry.entry_id}))
    assert (await verify_journal(uow_factory)).ok


async def test_verify_finds_a_gap_in_an_office_chain(journal: Any, world: Any, uow_factory: Any,
                                                      admin_engine: Any) -> None:
    await journal.post(_entry(world, date(2027, 5, 1), Decimal(100)))
    last = await journal.post(_entry(world, date(2027, 5, 1) + timedelta(days=1), Decimal(200)))
    move = "UPDATE journal_entry SET chain_position = chain_position + :by WHERE id = :id"
    await _as_superuser(admin_engine, (move, {"by": 5, "id": last.entry.entry_id}))
    try:
        report = await verify_journal(uow_factory)
        checks = {p.check: p for p in report.problems}
        assert checks["chain"].entry_id == str(last.entry.entry_id) and "no entry at position" in checks["chain"].detail
        assert "chain-heads" in checks
    finally:
        await _as_superuser(admin_engine, (move, {"by": -5, "id": last.entry.entry_id}))
    report = await verify_journal(uow_factory)
    assert report.ok
    assert any(h.office_id == world.office_id and h.entry_hash for h in report.chain_heads)


async def test_verify_finds_an_entry_removed_with_its_lines_left_behind(journal: Any, world: Any, uow_factory: Any,
                                                                        admin_engine: Any) -> None:
    await journal.post(_entry(world, date(2027, 6, 1), Decimal(300)))
    last = await journal.post(_entry(world, date(2027, 6, 2), Decimal(400)))
    async with admin_engine.connect() as connection:
        row = (await connection.execute(text("SELECT * FROM journal_entry WHERE id = :id"),
                                        {"id": last.entry.entry_id})).mappings().one()
    await _as_superuser(admin_engine, ("DELETE FROM journal_entry WHERE id = :id", {"id": last.entry.entry_id}))
    try:
        report = await verify_journal(uow_factory)
        checks = {p.check: p for p in report.problems}
        assert checks["orphan-lines"].entry_id == str(last.entry.entry_id)
        assert "chain-heads" in checks
    finally:
        columns = ", ".join(row)
        await _as_superuser(admin_engine, (
            f"INSERT INTO journal_entry ({columns}) OVERRIDING SYSTEM VALUE VALUES "
            f"({', '.join(':' + name for name in row)})", dict(row)))
    assert (await verify_journal(uow_factory)).ok


async def test_verify_finds_cached_totals_altered_behind_the_triggers(journal: Any, world: Any, uow_factory: Any,
                                                                      admin_engine: Any) -> None:
    """Each derived level is checked against the one below it: a month that is not the sum of its
    days, a cached balance that is not the sum of its years."""
    await journal.post(_entry(world, date(2027, 8, 9), Decimal(1200)))
    async with uow_factory() as uow:
        cash_id = await uow.session.scalar(text("SELECT id FROM gl_account WHERE code = :c"), {"c": world.cash})
    month = ("UPDATE account_period_total SET debit_total = debit_total + :by WHERE account_id = :a AND grain = 'M'"
             " AND period_start = '2027-08-01'")
    balance = "UPDATE account_balance SET credit_total = credit_total + :by WHERE account_id = :a"
    await _as_superuser(admin_engine, (month, {"by": 7, "a": cash_id}), (balance, {"by": 3, "a": cash_id}))
    try:
        report = await verify_journal(uow_factory)
        found = {(p.check, p.account_code, p.detail.split(",")[0]) for p in report.problems}
        assert ("period-totals", world.cash, "M 2027-08-01") in found
        assert any(check == "cached-balances" and code == world.cash for check, code, _ in found)
    finally:
        await _as_superuser(admin_engine, (month, {"by": -7, "a": cash_id}), (balance, {"by": -3, "a": cash_id}))
    assert (await verify_journal(uow_factory)).ok
