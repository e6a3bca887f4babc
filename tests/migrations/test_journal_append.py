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
        CAST(:counts AS smallint[]),
        ARRAY[(SELECT position + 1 FROM journal_chain_head WHERE office_id = CAST(:o AS integer)),
              (SELECT position + 2 FROM journal_chain_head WHERE office_id = CAST(:o AS integer))],
        CAST(:firsts AS integer[]), ARRAY[CAST(:a AS integer), CAST(:b AS integer)], ARRAY['D', 'C'], CAST(:amounts AS numeric[]), ARRAY['XOF', 'XOF'])
""")
"""Two entries dated 2026-10-05 (day 9774 after 2000-01-01), of `counts` lines (two each
unless said) taken from the two line values at `firsts`."""


def _call_parameters(world, refs, firsts: list[int | None], amounts: list[str], *,  # type: ignore[no-untyped-def]
                     counts: tuple[int | None, ...] = (2, 2), ids: list[str] | None = None) -> dict[str, object]:
    return {"ids": ids or [str(uuid4()), str(uuid4())], "o": world.office_id, "firsts": firsts,
            "counts": list(counts), "a": refs[world.cash].account_id, "b": refs[world.deposits].account_id,
            "amounts": amounts}


async def test_the_application_role_cannot_read_the_key_or_compare_with_it(engine, world) -> None:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        for statement in ("SELECT key FROM journal_append_key", "SELECT journal_append_in_progress()"):
            with pytest.raises(DBAPIError, match="permission denied"):
                await connection.execute(text(statement))
            await connection.rollback()


async def test_only_the_owner_and_the_application_role_may_call_journal_append(admin_engine, database) -> None:  # type: ignore[no-untyped-def]
    async with admin_engine.connect() as connection:
        rows = (await connection.execute(text(
            "SELECT p.proname, array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END"
            " ORDER BY a.grantee) AS grantees, pg_get_userbyid(p.proowner) AS owner"
            " FROM pg_proc p LEFT JOIN LATERAL aclexplode(p.proacl) a ON true"
            " WHERE p.proname IN ('journal_append', 'journal_append_in_progress') GROUP BY p.proname, p.proowner"))).all()
    grantees = {row.proname: (set(row.grantees), row.owner) for row in rows}
    # A NULL acl (no grantee) would be PostgreSQL's default: PUBLIC may execute.
    assert grantees["journal_append"] == ({grantees["journal_append"][1], database.settings.app_role},
                                          grantees["journal_append"][1])
    assert grantees["journal_append_in_progress"][0] == {grantees["journal_append_in_progress"][1]}


async def test_the_application_role_owns_nothing_and_may_create_nothing(admin_engine, database) -> None:  # type: ignore[no-untyped-def]
    """What keeps its code out of the function's statement (and so the key out of its reach):
    no object of its own, no schema to create one in, no temporary schema, no trigger."""
    async with admin_engine.connect() as connection:
        counts = (await connection.execute(text("""
            SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid)
                   + (SELECT count(*) FROM pg_proc WHERE proowner = r.oid)
                   + (SELECT count(*) FROM pg_namespace WHERE nspowner = r.oid) AS owned,
                   (SELECT count(*) FROM pg_namespace n WHERE has_schema_privilege(r.oid, n.oid, 'CREATE')) AS schemas,
                   has_database_privilege(r.oid, current_database(), 'TEMPORARY') AS temporary,
                   (SELECT count(*) FROM pg_class c WHERE c.relkind IN ('r', 'p')
                       AND has_table_privilege(r.oid, c.oid, 'TRIGGER')) AS triggers
              FROM pg_roles r WHERE r.rolname = :role"""), {"role": database.settings.app_role})).one()
    assert (counts.owned, counts.schemas, counts.temporary, counts.triggers) == (0, 0, False, 0)


async def test_a_forged_setting_does_not_spare_a_direct_insert_its_checks(engine, admin_engine, world) -> None:  # type: ignore[no-untyped-def]
    """The lines below do not match their entry's count: refused as ever, whatever the setting.
    The control: with the real key (which the application cannot read) the same insert would
    pass, so the triggers do take the skip, and the key is all that opens it."""
    refs = await _refs(engine, world.cash, world.deposits)
    lines = [(1, world.cash, "D", "10", "XOF"), (2, world.deposits, "C", "10", "XOF")]
    async with admin_engine.connect() as connection:
        key = str((await connection.execute(text("SELECT key FROM journal_append_key"))).scalar_one())
    async with engine.connect() as connection:
        for forged in (str(uuid4()), "", "true"):
            await connection.execute(text("SELECT set_config('grandlivre.journal_append', :v, true)"), {"v": forged})
            with pytest.raises(DBAPIError) as raised:
                await _insert_raw(connection, world, refs, 3, lines)
            assert sqlstate_of(raised.value) in ("GL011", "GL021")
            await connection.rollback()
        await connection.execute(text("SELECT set_config('grandlivre.journal_append', :v, true)"), {"v": key})
        await _insert_raw(connection, world, refs, 3, lines)  # control, rolled back
        await connection.rollback()


async def test_an_outer_statement_around_journal_append_gets_its_own_checks(engine, world) -> None:  # type: ignore[no-untyped-def]
    """Lines of no entry, inserted by the statement that calls the function: their triggers
    fire once the function has returned and cleared its mark."""
    refs = await _refs(engine, world.cash, world.deposits)
    parameters = _call_parameters(world, refs, [1, 1], ["100", "100"])
    orphan = "(CAST(:orphan AS uuid), {}, CAST(:a AS integer), CAST(:o AS integer), '2026-10-05', '{}', 7, 'XOF')"
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                "WITH orphans AS (INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date,"
                f" side, amount, currency) VALUES {orphan.format(1, 'D')}, {orphan.format(2, 'C')} RETURNING 1)"
                + _CALL.text.replace("SELECT entries,", "SELECT (SELECT count(*) FROM orphans), entries,")),
                parameters | {"orphan": str(uuid4())})
        assert sqlstate_of(raised.value) == "GL021"


async def test_a_caught_failure_leaves_no_mark(engine, world) -> None:  # type: ignore[no-untyped-def]
    """A DO block catches the function's refusal (unbalanced), then inserts an entry short of a
    line itself: refused, the mark went with the failed call."""
    refs = await _refs(engine, world.cash, world.deposits)
    call = _CALL.text.replace("SELECT entries, first_sequence, sequences FROM", "PERFORM * FROM")
    literal = {"ids": f"ARRAY['{uuid4()}', '{uuid4()}']", "o": str(world.office_id), "firsts": "ARRAY[1, 1]",
               "counts": "ARRAY[2, 2]", "a": str(refs[world.cash].account_id), "b": str(refs[world.deposits].account_id),
               "amounts": "ARRAY[100, 99]"}
    for name in sorted(literal, key=len, reverse=True):
        call = call.replace(f":{name}", literal[name])
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(
                f"DO $$ BEGIN BEGIN {call}; EXCEPTION WHEN OTHERS THEN NULL; END;"
                " INSERT INTO journal_entry (id, office_id, value_date, description, actor, line_count, chain_position,"
                f" entry_hash) VALUES (gen_random_uuid(), {world.office_id}, '2026-10-05', 'x', 'x', 2,"
                f" (SELECT position + 1 FROM journal_chain_head WHERE office_id = {world.office_id}), sha256('x'));"
                " END $$"))
        assert sqlstate_of(raised.value) == "GL011"


@pytest.mark.parametrize(("counts", "firsts", "state"), [
    ((0, 2), [1, 1], "23514"),  # no line: the entry's CHECK (2..250 lines)
    ((1, 2), [1, 1], "23514"),
    ((None, 2), [1, 1], "23502"),
    ((2, 2), [None, 1], "23502"),  # no line data: no account
    ((2, 2), [-1, 1], "23502"),
])
async def test_journal_append_refuses_what_would_break_its_construction(  # type: ignore[no-untyped-def]
        engine, world, counts: tuple[int | None, ...], firsts: list[int | None], state: str) -> None:
    refs = await _refs(engine, world.cash, world.deposits)
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(_CALL, _call_parameters(world, refs, firsts, ["100", "100"], counts=counts))
        assert sqlstate_of(raised.value) == state
        await connection.rollback()
        same = str(uuid4())
        with pytest.raises(DBAPIError) as raised:  # one id twice
            await connection.execute(_CALL, _call_parameters(world, refs, [1, 1], ["100", "100"], ids=[same, same]))
        assert sqlstate_of(raised.value) == "23505"


async def test_every_migration_draws_a_new_key(admin_engine, database) -> None:  # type: ignore[no-untyped-def]
    read = text("SELECT key FROM journal_append_key")
    async with admin_engine.connect() as connection:
        before = (await connection.execute(read)).scalar_one()
    await database.migrate_async()
    async with admin_engine.connect() as connection:
        assert (await connection.execute(read)).scalar_one() != before


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
