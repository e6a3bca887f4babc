"""PostgreSQL itself keeps the journal honest, whatever Python does: the application role
may only read and append; even the owner cannot update or delete journal rows; an entry that
slips past the Python checks is still refused by the posting triggers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.db.store import AccountRef, append_entries
from ledger.model import JournalEntry, Line, Side
from servicing.errors import sqlstate_of
from tests.servicing.test_journal_service import deposit

STATEMENTS = [
    "UPDATE journal_line SET amount = amount + 1",
    "DELETE FROM journal_line",
    "UPDATE journal_entry SET description = 'changed'",
    "DELETE FROM journal_entry",
    "TRUNCATE journal_line",
    "TRUNCATE journal_entry CASCADE",
    "UPDATE account_balance SET debit_total = 0",
]


@pytest.mark.parametrize("statement", STATEMENTS)
async def test_application_role_cannot_change_the_journal(engine, journal, world, statement: str) -> None:  # type: ignore[no-untyped-def]
    await journal.post(deposit(world, "100"))
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(statement))


@pytest.mark.parametrize("statement", STATEMENTS[:6])
async def test_even_the_owner_is_refused_by_the_append_only_triggers(admin_engine, journal, world, statement: str) -> None:  # type: ignore[no-untyped-def]
    await journal.post(deposit(world, "100"))
    async with admin_engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only") as raised:
            await connection.execute(text(statement))
        assert sqlstate_of(raised.value) == "GL010"


async def _refs(engine, *codes: str) -> dict[str, AccountRef]:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        rows = (await connection.execute(text("SELECT code, id FROM gl_account WHERE code = ANY(:codes)"),
                                         {"codes": list(codes)})).all()
    return {row.code: AccountRef(row.id, Side.DEBIT) for row in rows}


def _entry(world, lines: tuple[Line, ...], day: date = date(2026, 10, 5)) -> JournalEntry:  # type: ignore[no-untyped-def]
    return JournalEntry(entry_id=uuid4(), office_id=world.office_id, value_date=day, description="x",
                        lines=lines, actor="intruder")


def _line(code: str, side: Side, amount: str, currency: str = "XOF") -> Line:
    return Line(account_code=code, side=side, amount=Decimal(amount), currency=currency)


@pytest.mark.parametrize(
    ("case", "state"),
    [("unbalanced", "GL020"), ("header", "GL023"), ("disabled", "GL023"), ("currency", "GL023"),
     ("precision", "GL022"), ("closed", "GL013")],
)
async def test_database_refuses_what_python_would_have_refused(engine, world, case: str, state: str) -> None:  # type: ignore[no-untyped-def]
    refs = await _refs(engine, world.cash, world.deposits, world.header, world.disabled, world.euro_only)
    lines = {
        "unbalanced": (_line(world.cash, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "99")),
        "header": (_line(world.header, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "100")),
        "disabled": (_line(world.disabled, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "100")),
        "currency": (_line(world.euro_only, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "100")),
        "precision": (_line(world.cash, Side.DEBIT, "100.5"), _line(world.deposits, Side.CREDIT, "100.5")),
        "closed": (_line(world.cash, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "100")),
    }[case]
    async with engine.connect() as connection:
        if case == "closed":
            await connection.execute(text(
                "INSERT INTO accounting_closure (office_id, closing_date, created_by) VALUES (:o, '2026-10-31', 't')"),
                {"o": world.office_id})
        with pytest.raises(DBAPIError) as raised:
            await append_entries(connection, [_entry(world, lines)], refs)
        assert sqlstate_of(raised.value) == state
        await connection.rollback()


async def test_an_entry_without_its_lines_is_refused(engine, world) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                "INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count,"
                " chain_position, entry_hash) VALUES (gen_random_uuid(), :o, '2026-10-05', 'x', 'x', 2,"
                " (SELECT position + 1 FROM journal_chain_head WHERE office_id = :o), sha256('x'))"),
                {"o": world.office_id})
        assert sqlstate_of(raised.value) == "GL011"


async def test_an_entry_must_take_the_next_position_of_its_office_chain(engine, journal, world) -> None:  # type: ignore[no-untyped-def]
    await journal.post(deposit(world, "100"))
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        for skip in (0, 2):  # the head's own position, or a gap
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text(
                    "WITH e AS (INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count,"
                    " chain_position, entry_hash) VALUES (CAST(:e AS uuid), :o, '2026-10-05', 'x', 'x', 2,"
                    " (SELECT position + :skip FROM journal_chain_head WHERE office_id = :o), sha256('x')))"
                    " INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount,"
                    " currency) VALUES (CAST(:e AS uuid), 1, :a, :o, '2026-10-05', 'D', 5, 'XOF'),"
                    " (CAST(:e AS uuid), 2, :b, :o, '2026-10-05', 'C', 5, 'XOF')"),
                    {"e": str(uuid4()), "o": world.office_id, "skip": skip, "a": refs[world.cash].account_id,
                     "b": refs[world.deposits].account_id})
            assert sqlstate_of(raised.value) in ("GL015", "23505")
            await connection.rollback()


async def test_lines_cannot_be_added_to_a_posted_entry(engine, journal, world) -> None:  # type: ignore[no-untyped-def]
    booked = await journal.post(deposit(world, "100"))
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                "INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount, currency) "
                "VALUES (:e, 3, :a, :o, '2026-10-05', 'D', 5, 'XOF'), (:e, 4, :b, :o, '2026-10-05', 'C', 5, 'XOF')"),
                {"e": booked.entry.entry_id, "a": refs[world.cash].account_id, "b": refs[world.deposits].account_id,
                 "o": world.office_id})
        assert sqlstate_of(raised.value) == "GL021"


async def test_an_account_with_postings_keeps_its_type_and_cannot_be_deleted(admin_engine, journal, world) -> None:  # type: ignore[no-untyped-def]
    await journal.post(deposit(world, "100"))
    async with admin_engine.connect() as connection:
        for statement in (f"UPDATE gl_account SET type = 'expense' WHERE code = '{world.cash}'",
                          f"UPDATE gl_account SET is_header = true WHERE code = '{world.cash}'",
                          f"DELETE FROM gl_account WHERE code = '{world.cash}'"):
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text(statement))
            assert sqlstate_of(raised.value) == "GL002"
            await connection.rollback()
        await connection.execute(text(f"UPDATE gl_account SET active = false WHERE code = '{world.cash}'"))
        await connection.rollback()


async def test_application_role_cannot_shadow_tables_with_temporary_ones(engine, journal, world) -> None:  # type: ignore[no-untyped-def]
    # A temporary account_balance would make the account guard believe nothing was posted.
    await journal.post(deposit(world, "100"))
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text("CREATE TEMP TABLE account_balance (account_id int, line_count bigint)"))


async def test_application_role_cannot_forge_booking_columns(engine, world) -> None:  # type: ignore[no-untyped-def]
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        for columns, values in (("seq", "-5"), ("booked_at", "'2001-01-01'"), ("xact_id", "'1'")):
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(
                    f"INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count, {columns}) "
                    f"OVERRIDING SYSTEM VALUE VALUES (gen_random_uuid(), :o, '2026-10-05', 'x', 'x', 2, {values})"),
                    {"o": world.office_id})
            await connection.rollback()
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text(
                "INSERT INTO accounting_closure (office_id, closing_date, created_by, created_at) "
                "VALUES (:o, '2026-01-31', 'x', '2001-01-01')"), {"o": world.office_id})
    assert refs


async def test_closures_cannot_be_in_the_future(engine, world) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                "INSERT INTO accounting_closure (office_id, closing_date, created_by) "
                "VALUES (:o, current_date + 1, 'x')"), {"o": world.office_id})
        assert sqlstate_of(raised.value) == "GL030"


async def test_the_database_names_what_it_refuses(engine, world) -> None:  # type: ignore[no-untyped-def]
    """The line checks run on grouped lines; a refusal still names the entry, amount and account."""
    refs = await _refs(engine, world.cash, world.deposits, world.header)
    good = _entry(world, (_line(world.cash, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "100")))
    cases = [
        (_entry(world, (_line(world.cash, Side.DEBIT, "7.25"), _line(world.deposits, Side.CREDIT, "7.25"))),
         "GL022", "7.2500 is not an exact XOF amount"),
        (_entry(world, (_line(world.header, Side.DEBIT, "5"), _line(world.deposits, Side.CREDIT, "5"))),
         "GL023", f"account {refs[world.header].account_id} does not take this posting"),
    ]
    for bad, state, message in cases:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await append_entries(connection, [good, bad], refs)
            assert sqlstate_of(raised.value) == state
            assert f"entry {bad.entry_id}: {message}" in str(raised.value)
            await connection.rollback()


async def test_an_entry_of_an_unknown_office_is_refused(engine, world) -> None:  # type: ignore[no-untyped-def]
    refs = await _refs(engine, world.cash, world.deposits)
    entry = JournalEntry(entry_id=uuid4(), office_id=2_000_000_000, value_date=date(2026, 10, 5), description="x",
                         lines=(_line(world.cash, Side.DEBIT, "9"), _line(world.deposits, Side.CREDIT, "9")),
                         actor="intruder")
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await append_entries(connection, [entry], refs)
        assert sqlstate_of(raised.value) == "GL012"
        assert f"entry {entry.entry_id} names unknown office 2000000000" in str(raised.value)


@pytest.mark.parametrize("line_column", ["office_id", "value_date"])
async def test_lines_must_carry_their_entry_office_and_date(engine, world, line_column: str) -> None:  # type: ignore[no-untyped-def]
    refs = await _refs(engine, world.cash, world.deposits)
    other = {"office_id": str(world.head_office_id), "value_date": "'2026-10-06'"}[line_column]
    second_line = {"office_id": ":o", "value_date": "'2026-10-05'"} | {line_column: other}
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                "WITH e AS (INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count,"
                " chain_position, entry_hash) VALUES (CAST(:e AS uuid), :o, '2026-10-05', 'x', 'x', 2,"
                " (SELECT position + 1 FROM journal_chain_head WHERE office_id = :o), sha256('x')))"
                " INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount,"
                " currency) VALUES (CAST(:e AS uuid), 1, :a, :o, '2026-10-05', 'D', 5, 'XOF'),"
                f" (CAST(:e AS uuid), 2, :b, {second_line['office_id']}, {second_line['value_date']}, 'C', 5, 'XOF')"),
                {"e": str(uuid4()), "o": world.office_id, "a": refs[world.cash].account_id,
                 "b": refs[world.deposits].account_id})
        assert sqlstate_of(raised.value) == "GL021"


@pytest.mark.parametrize("planner_settings", ["kept", "reset"])
async def test_posting_checks_probe_the_journal_by_key_even_on_a_young_database(  # type: ignore[no-untyped-def]
        admin_engine, world, planner_settings: str) -> None:
    """Before its first analyse the journal looks tiny; the posting triggers must still probe
    it by key rather than read it whole (revision 0021), or every posting reads every entry.
    With the settings reset (the situation before 0021) the same postings do scan it, which
    shows the check can fail."""
    refs = await _refs(admin_engine, world.cash, world.deposits)
    async with admin_engine.connect() as connection:
        if planner_settings == "reset":
            await connection.execute(text(
                "ALTER FUNCTION journal_line_after_insert() RESET enable_hashjoin RESET enable_mergejoin"
                " RESET enable_seqscan"))
        await connection.execute(text(  # what a never-analysed table looks like to the planner
            "UPDATE pg_class SET relpages = 1, reltuples = 1 WHERE oid = 'journal_entry'::regclass"))
        plan = (await connection.execute(text("EXPLAIN (FORMAT JSON) SELECT * FROM journal_entry"))).scalar_one()
        if planner_settings == "reset" and plan[0]["Plan"]["Plan Rows"] > 10:
            await connection.rollback()  # the planner scales the density to the table's real pages
            pytest.skip("the journal already fills many pages: the planner no longer sees it as tiny")
        scans = text("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'journal_entry'::regclass")
        before = (await connection.execute(scans)).scalar_one()
        for _ in range(3):  # a hand-written INSERT: what journal_append writes needs no probe (0047)
            await _insert_raw(connection, world, refs, 2, [(1, world.cash, "D", "100", "XOF"),
                                                           (2, world.deposits, "C", "100", "XOF")])
        full_reads = (await connection.execute(scans)).scalar_one() - before
        await connection.rollback()
    assert full_reads == (0 if planner_settings == "kept" else 3)


async def _insert_raw(connection, world, refs, line_count: int, lines: list[tuple[int, str, str, str, str]]) -> None:  # type: ignore[no-untyped-def]
    """One statement: an entry of `line_count` lines and the given (line_no, account code, side,
    amount, currency) lines, as a hand-written INSERT would, past every Python check."""
    values = ", ".join(f"(CAST(:e AS uuid), {number}, {refs[code].account_id}, :o, '2026-10-05', '{side}', {amount},"
                       f" '{currency}')" for number, code, side, amount, currency in lines)
    await connection.execute(text(
        "WITH e AS (INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count,"
        " chain_position, entry_hash) VALUES (CAST(:e AS uuid), :o, '2026-10-05', 'x', 'x', :n,"
        " (SELECT position + 1 FROM journal_chain_head WHERE office_id = :o), sha256('x')))"
        " INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount, currency)"
        f" VALUES {values}"), {"e": str(uuid4()), "o": world.office_id, "n": line_count})


@pytest.mark.parametrize(
    ("line_count", "numbers", "states"),
    [(2, (1, 3), ("GL021",)),  # a number past the count
     (3, (1, 2), ("GL011", "GL021")),  # fewer lines than the count (its last line is missing)
     (2, (1, 2, 3), ("GL021",)),  # more
     (2, (2, 2), ("23505",))],  # a number twice
)
async def test_an_entry_has_exactly_lines_one_to_its_count(  # type: ignore[no-untyped-def]
        engine, world, line_count: int, numbers: tuple[int, ...], states: tuple[str, ...]) -> None:
    refs = await _refs(engine, world.cash, world.deposits)
    sides = ["D", "C"] + ["D"] * (len(numbers) - 2)
    amounts = ["10"] * len(numbers)
    if len(numbers) == 3:  # still balanced: the count is what is wrong
        sides, amounts = ["D", "C", "C"], ["20", "10", "10"]
    lines = [(number, world.cash if side == "D" else world.deposits, side, amount, "XOF")
             for number, side, amount in zip(numbers, sides, amounts, strict=True)]
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await _insert_raw(connection, world, refs, line_count, lines)
        assert sqlstate_of(raised.value) in states


async def test_an_entry_balances_in_each_of_its_currencies(engine, world) -> None:  # type: ignore[no-untyped-def]
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        # Zero net over the two currencies, unbalanced in each: refused.
        with pytest.raises(DBAPIError) as raised:
            await _insert_raw(connection, world, refs, 2, [(1, world.cash, "D", "100", "XOF"),
                                                           (2, world.deposits, "C", "100", "EUR")])
        assert sqlstate_of(raised.value) == "GL020"
        await connection.rollback()
        # Balanced in each currency: booked.
        await _insert_raw(connection, world, refs, 4, [
            (1, world.cash, "D", "100", "XOF"), (2, world.deposits, "C", "100", "XOF"),
            (3, world.cash, "D", "2.50", "EUR"), (4, world.deposits, "C", "2.50", "EUR")])
        await connection.rollback()


CHAIN_HEAD_REWRITES = [
    "DELETE FROM journal_chain_head WHERE office_id = :o",
    "TRUNCATE journal_chain_head CASCADE",
    "UPDATE journal_chain_head SET position = position - 1 WHERE office_id = :o",
    "UPDATE journal_chain_head SET position = position, entry_hash = sha256('x') WHERE office_id = :o",
    "UPDATE journal_chain_head SET office_id = office_id + 1000000, position = position + 1 WHERE office_id = :o",
]


@pytest.mark.parametrize("statement", CHAIN_HEAD_REWRITES)
async def test_even_the_owner_cannot_delete_rewind_or_move_a_chain_head(admin_engine, journal, world,  # type: ignore[no-untyped-def]
                                                                         statement: str) -> None:
    await journal.post(deposit(world, "100"))
    async with admin_engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement), {"o": world.office_id} if ":o" in statement else {})
        assert sqlstate_of(raised.value) == "GL010"


async def test_a_chain_head_moves_forward_and_the_application_cannot_touch_it(  # type: ignore[no-untyped-def]
        admin_engine, engine, journal, world) -> None:
    await journal.post(deposit(world, "100"))
    async with admin_engine.connect() as connection:  # rolled back when it closes: the chain stays whole
        moved = await connection.execute(text(
            "UPDATE journal_chain_head SET position = position + 1 WHERE office_id = :o"), {"o": world.office_id})
        assert moved.rowcount == 1  # type: ignore[attr-defined]
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match="permission denied"):
            await connection.execute(text("DELETE FROM journal_chain_head WHERE office_id = :o"), {"o": world.office_id})
    await journal.post(deposit(world, "100"))  # posting still moves the head by UPDATE
