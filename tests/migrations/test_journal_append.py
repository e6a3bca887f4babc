"""`journal_append` (revision 0047): the function builds each line from its entry, and only
while its own statement runs do the posting triggers skip the checks that compare lines with
their entries. The application's role can neither learn the key that marks that statement nor
make its own INSERTs pass for it."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.db.store import append_entries
from ledger.model import Side
from servicing.errors import sqlstate_of
from tests.migrations.test_database_guards import _entry, _insert_raw, _line, _refs

_CALL = text("""
    SELECT entries, first_sequence, sequences FROM journal_append(
        sha256('a') || sha256('b'), CAST(:ids AS uuid[]), ARRAY[CAST(:o AS integer), CAST(:o AS integer)], ARRAY[9774, 9774], ARRAY['x', 'x'],
        CAST('{}' AS text[]), CAST('{}' AS text[]), ARRAY['t', 't'], CAST('{}' AS text[]), CAST('{}' AS uuid[]),
        CAST(ARRAY[2, 2] AS smallint[]),
        ARRAY[(SELECT position + 1 FROM journal_chain_head WHERE office_id = CAST(:o AS integer)),
              (SELECT position + 2 FROM journal_chain_head WHERE office_id = CAST(:o AS integer))],
        CAST(:firsts AS integer[]), ARRAY[CAST(:a AS integer), CAST(:b AS integer)], ARRAY['D', 'C'], CAST(:amounts AS numeric[]), ARRAY['XOF', 'XOF'])
""")
"""Two two-line entries dated 2026-10-05 (day 9774 after 2000-01-01) whose lines are taken from
the line arrays at `firsts`."""


def _call_parameters(world, refs, firsts: list[int], amounts: list[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {"ids": [str(uuid4()), str(uuid4())], "o": world.office_id, "firsts": firsts,
            "a": refs[world.cash].account_id, "b": refs[world.deposits].account_id, "amounts": amounts}


async def test_the_application_role_cannot_read_the_key_or_compare_with_it(engine, world) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        for statement in ("SELECT key FROM journal_append_key", "SELECT journal_append_in_progress()"):
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(statement))
            await connection.rollback()


async def test_only_the_application_role_may_call_journal_append(admin_engine) -> None:  # type: ignore[no-untyped-def]
    async with admin_engine.connect() as connection:
        public_grants = (await connection.execute(text(
            "SELECT count(*) FROM pg_proc p, aclexplode(p.proacl) a"
            " WHERE p.proname IN ('journal_append', 'journal_append_in_progress') AND a.grantee = 0"))).scalar_one()
        unrestricted = (await connection.execute(text(
            "SELECT count(*) FROM pg_proc WHERE proname IN ('journal_append', 'journal_append_in_progress')"
            " AND proacl IS NULL"))).scalar_one()
    assert public_grants == 0 and unrestricted == 0  # a NULL acl would mean PostgreSQL's default: PUBLIC executes


async def test_a_forged_setting_does_not_spare_a_direct_insert_its_checks(engine, world) -> None:  # type: ignore[no-untyped-def]
    """The lines below do not match their entry's count: refused as ever, whatever the setting."""
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        for forged in (str(uuid4()), "", "true"):
            await connection.execute(text("SELECT set_config('grandlivre.journal_append', :v, true)"), {"v": forged})
            with pytest.raises(DBAPIError) as raised:
                await _insert_raw(connection, world, refs, 3, [(1, world.cash, "D", "10", "XOF"),
                                                               (2, world.deposits, "C", "10", "XOF")])
            assert sqlstate_of(raised.value) in ("GL011", "GL021")
            await connection.rollback()


async def test_the_mark_is_gone_once_the_function_returns(engine, world) -> None:  # type: ignore[no-untyped-def]
    refs = await _refs(engine, world.cash, world.deposits)
    lines = (_line(world.cash, Side.DEBIT, "100"), _line(world.deposits, Side.CREDIT, "100"))
    setting = text("SELECT current_setting('grandlivre.journal_append', true)")
    async with engine.connect() as connection:
        await append_entries(connection, [_entry(world, lines)], refs)
        assert (await connection.execute(setting)).scalar_one() in ("", None)
        savepoint = await connection.begin_nested()
        with pytest.raises(DBAPIError) as raised:  # refused inside the function's statement
            await connection.execute(_CALL, _call_parameters(world, refs, [1, 1], ["100", "99"]))
        assert sqlstate_of(raised.value) == "GL020"
        await savepoint.rollback()
        assert (await connection.execute(setting)).scalar_one() in ("", None)
        await connection.rollback()


async def test_each_line_is_built_from_its_entry_whatever_the_arrays_say(engine, world) -> None:  # type: ignore[no-untyped-def]
    """Both entries take the same two line values (firsts 1 and 1): each still gets its own lines
    1 and 2, with its own id, office and date. Line data past the arrays is refused."""
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        parameters = _call_parameters(world, refs, [1, 1], ["100", "100"])
        assert (await connection.execute(_CALL, parameters)).one().entries == 2
        rows = (await connection.execute(text(
            "SELECT l.entry_id, l.line_no, l.office_id, l.value_date, e.office_id AS entry_office,"
            " e.value_date AS entry_date FROM journal_line l JOIN journal_entry e ON e.id = l.entry_id"
            " WHERE l.entry_id = ANY(CAST(:ids AS uuid[])) ORDER BY l.entry_id, l.line_no"),
            {"ids": parameters["ids"]})).all()
        assert sorted((str(row.entry_id), row.line_no) for row in rows) == sorted(
            (entry_id, number) for entry_id in parameters["ids"] for number in (1, 2))
        assert all(row.office_id == row.entry_office and row.value_date == row.entry_date for row in rows)
        await connection.rollback()
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(_CALL, _call_parameters(world, refs, [1, 2], ["100", "100"]))
        assert sqlstate_of(raised.value) == "23502"  # entry 2's second line has no data: no account
        await connection.rollback()


@pytest.mark.parametrize("increment", [1, 3])
async def test_sequence_numbers_come_back_in_the_entries_order(admin_engine, world, increment: int) -> None:  # type: ignore[no-untyped-def]
    """Without gaps, the first number (entry i has first + i); with gaps (here an increment of 3,
    as when a concurrent posting takes numbers in between), each entry's number."""
    refs = await _refs(admin_engine, world.cash, world.deposits)
    async with admin_engine.connect() as connection:
        await connection.execute(text(
            f"ALTER SEQUENCE {await _sequence(connection)} INCREMENT BY {increment}"))  # rolled back below
        parameters = _call_parameters(world, refs, [1, 1], ["100", "100"])
        answer = (await connection.execute(_CALL, parameters)).one()
        stored = (await connection.execute(text(
            "SELECT id, seq FROM journal_entry WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": parameters["ids"]})).all()
        await connection.rollback()
    by_id = {str(row.id): row.seq for row in stored}
    expected = [by_id[entry_id] for entry_id in parameters["ids"]]
    if increment == 1:
        assert answer.sequences is None and [answer.first_sequence, answer.first_sequence + 1] == expected
    else:
        assert [int(value) for value in answer.sequences.split(",")] == expected


async def _sequence(connection) -> str:  # type: ignore[no-untyped-def]
    return (await connection.execute(text("SELECT pg_get_serial_sequence('journal_entry', 'seq')"))).scalar_one()
