"""Entries written by one function, `journal_append`, whose rows agree with each other by
construction, so the posting triggers skip the checks that compared them.

Why: an entry and its lines are two tables. When any INSERT may write them, the triggers must
compare them row by row: the entries' trigger looks up each new entry's last line (GL011) and
the lines' trigger reads each new entry back to compare its lines' count, numbers, office and
date (GL021). Both lookups land on rows just written, so each costs a heap fetch: about a tenth
of a large batch's time in PostgreSQL.

`journal_append` takes the entries and their lines' data as arrays and builds each line from its
entry: entry id, office and value date are the entry's, numbers run 1..line_count, and exactly
line_count lines are written in the same statement (a line whose data is missing is refused:
its account is NULL). Nothing it writes can fail the skipped checks.

How the triggers know. The function is SECURITY DEFINER; while its statement runs, it sets the
transaction-local setting `grandlivre.journal_append` to a random key kept in
`journal_append_key`, which only the owner reads, and clears it after. The triggers compare the
setting with the key (`journal_append_in_progress`). The application's role cannot read the key
and cannot execute the comparison. Nothing of its own runs during the function's statement: it
owns no object, may not create any (no CREATE on a schema, no TEMPORARY) nor add triggers, and
every function involved has a fixed search_path; an outer statement that calls the function has
its own triggers fire after the function returned (tests/migrations/test_journal_append.py
tries these). So a setting it writes itself never matches: its direct INSERTs (it keeps the
privilege) are checked in full, as before. If the statement fails, the transaction (or
savepoint) rolls back and the setting with it. Every migration (`serve` and `demo` run one at
start) draws a new key (`Database.migrate_async`): the key is as sensitive as the owner's
password while it lasts, and one read from a dump or a backup stops working.

The skip leans on constraints that stay: an entry has 2 to 250 lines (CHECK), so an entry the
function gives no line is refused; entry ids and (entry, line number) are primary keys; a line
has an account (NOT NULL), so a line whose data is missing is refused.

Every other check still runs on the function's rows: balance per entry and currency (GL020,
on the lines' transition table), offices and closures, reversals, exact amounts, postable
accounts, the chain, the balances and period totals.

Revision ID: 0047
Revises: 0046
Create Date: 2026-11-24
"""

import textwrap

from migrations import rewrite_function as _rewrite
from migrations import run_script as _script

revision = "0047"
down_revision = "0046"
branch_labels = None
depends_on = None

_KEY_AND_FUNCTIONS = """
CREATE TABLE journal_append_key (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    key uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO journal_append_key DEFAULT VALUES;
REVOKE ALL ON journal_append_key FROM PUBLIC;

CREATE FUNCTION journal_append_in_progress() RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT coalesce(current_setting('grandlivre.journal_append', true) = (SELECT CAST(k.key AS text) FROM journal_append_key k),
                    false)
$$;
REVOKE EXECUTE ON FUNCTION journal_append_in_progress() FROM PUBLIC;

CREATE FUNCTION journal_append(
    hashes bytea, ids uuid[], office_ids integer[], value_days integer[], descriptions text[], source_types text[],
    source_ids text[], actors text[], idempotency_keys text[], reverses uuid[], line_counts smallint[],
    positions bigint[], line_firsts integer[], line_accounts integer[], line_sides text[], line_amounts numeric[],
    line_currencies text[])
RETURNS TABLE (first_booked_at timestamptz, last_booked_at timestamptz, entries bigint, first_sequence bigint,
               sequences text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
#variable_conflict use_column
DECLARE
    lowest bigint;
    highest bigint;
BEGIN
    -- Entry i's lines are lines line_firsts[i] .. line_firsts[i] + line_counts[i] - 1 of the line
    -- arrays; whatever line_firsts says, each entry gets exactly line_count lines, numbered from 1,
    -- with its own id, office and date. Dates travel as days since 2000-01-01.
    PERFORM set_config('grandlivre.journal_append', (SELECT CAST(k.key AS text) FROM journal_append_key k), true);
    WITH batch AS MATERIALIZED (
        SELECT * FROM unnest(ids, office_ids, value_days, descriptions, source_types, source_ids, actors,
                             idempotency_keys, reverses, line_counts, positions, line_firsts)
            WITH ORDINALITY AS i (id, office_id, value_day, description, source_type, source_id, actor,
                                  idempotency_key, reverses_id, line_count, chain_position, line_first, ord)
    ), entry_rows AS (
        INSERT INTO journal_entry (id, office_id, value_date, description, source_type, source_id, actor,
                                   idempotency_key, reverses_id, line_count, chain_position, entry_hash)
        SELECT b.id, b.office_id, DATE '2000-01-01' + b.value_day, b.description, b.source_type, b.source_id,
               b.actor, b.idempotency_key, b.reverses_id, b.line_count, b.chain_position,
               substring(hashes FROM CAST(b.ord AS integer) * 32 - 31 FOR 32)
          FROM batch b
         ORDER BY b.ord  -- the sequence numbers are taken in this order
        RETURNING journal_entry.office_id, journal_entry.chain_position, journal_entry.seq, journal_entry.booked_at
    ), line_data AS (
        SELECT * FROM unnest(line_accounts, line_sides, line_amounts, line_currencies)
            WITH ORDINALITY AS l (account_id, side, amount, currency, ord)
    ), line_rows AS (
        INSERT INTO journal_line (entry_id, line_no, account_id, office_id, value_date, side, amount, currency)
        SELECT b.id, n.line_no, l.account_id, b.office_id, DATE '2000-01-01' + b.value_day, l.side, l.amount,
               l.currency
          FROM batch b
         CROSS JOIN LATERAL generate_series(1, CAST(b.line_count AS integer)) AS n (line_no)
          LEFT JOIN line_data l ON l.ord = b.line_first + n.line_no - 1
    )
    SELECT min(r.booked_at), max(r.booked_at), count(*), min(r.seq), max(r.seq)
      INTO first_booked_at, last_booked_at, entries, lowest, highest
      FROM entry_rows r;
    PERFORM set_config('grandlivre.journal_append', '', true);
    -- The rows take their sequence numbers in the arrays' order: numbers with no gap between
    -- them are the first one plus each entry's position. A concurrent posting that took numbers
    -- in between leaves gaps; the numbers are then read back, in the arrays' order.
    first_sequence := lowest;
    IF highest - lowest + 1 <> entries THEN
        SELECT string_agg(CAST(e.seq AS text), ',' ORDER BY i.ord) INTO sequences
          FROM unnest(ids) WITH ORDINALITY AS i (id, ord) JOIN journal_entry e ON e.id = i.id;
    END IF;
    RETURN NEXT;
END $$;
REVOKE EXECUTE ON FUNCTION journal_append FROM PUBLIC;
"""

_APPENDED = "    appended boolean := journal_append_in_progress();\n"

_ENTRY_DECLARED = "    bad record;\nBEGIN\n"
_LINE_DECLARED = "    refused integer;\nBEGIN\n"

_LAST_LINE_PROBED = """    -- Its last line is there: the lines trigger (GL021) holds the lines of each entry of the
    -- statement to exactly 1..line_count, and an entry cannot get lines in a later statement
    -- (they would repeat a line number, or exceed the count), so one key probe per entry says
    -- what counting its lines said.
    SELECT e.id INTO bad FROM new_entries e
     WHERE NOT EXISTS (SELECT 1 FROM journal_line l WHERE l.entry_id = e.id AND l.line_no = e.line_count)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % is not posted with exactly its lines in one statement', bad.id USING ERRCODE = 'GL011';
    END IF;
"""
_LAST_LINE_PROBED_UNLESS_APPENDED = """    -- journal_append (revision 0047) writes each entry's lines with it, by construction.
    IF NOT appended THEN
""" + textwrap.indent(_LAST_LINE_PROBED, "    ") + "    END IF;\n"

_UNBALANCED_NAMED = """        SELECT l.entry_id, l.currency INTO bad FROM new_lines l
         GROUP BY l.entry_id, l.currency
        HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'entry % does not balance in %', bad.entry_id, bad.currency USING ERRCODE = 'GL020';
        END IF;
"""
"""The first entry and currency that do not balance, named (GL020), inside `IF FOUND`."""

_LINES_AGAINST_ENTRIES = """    -- One pass over the lines per entry (count, numbers, office, date, currencies and net
    -- amount) against its entry: the usual statement passes here. A net amount is only
    -- meaningful in one currency, so an entry in several goes to the full checks too, which
    -- then name the first fault in their usual order (balance per currency, then the entry).
    PERFORM 1
      FROM (SELECT entry_id, count(*) AS n, max(line_no) AS last_line,
                   min(office_id) AS office_low, max(office_id) AS office_high,
                   min(value_date) AS date_low, max(value_date) AS date_high,
                   min(currency) AS currency_low, max(currency) AS currency_high,
                   sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS net
              FROM new_lines GROUP BY entry_id) x
      LEFT JOIN journal_entry e ON e.id = x.entry_id
     WHERE x.currency_low <> x.currency_high OR x.net <> 0
        OR e.id IS NULL OR x.n <> e.line_count OR x.last_line > e.line_count
        OR x.office_low <> e.office_id OR x.office_high <> e.office_id
        OR x.date_low <> e.value_date OR x.date_high <> e.value_date
     LIMIT 1;
    IF FOUND THEN
""" + _UNBALANCED_NAMED + """        SELECT x.entry_id INTO bad
          FROM (SELECT entry_id, count(*) AS n, max(line_no) AS last_line,
                       min(office_id) AS office_low, max(office_id) AS office_high,
                       min(value_date) AS date_low, max(value_date) AS date_high
                  FROM new_lines GROUP BY entry_id) x
          LEFT JOIN journal_entry e ON e.id = x.entry_id
         WHERE e.id IS NULL OR x.n <> e.line_count OR x.last_line > e.line_count
            OR x.office_low <> e.office_id OR x.office_high <> e.office_id
            OR x.date_low <> e.value_date OR x.date_high <> e.value_date
         LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'lines of entry % do not match their entry', bad.entry_id USING ERRCODE = 'GL021';
        END IF;
    END IF;
"""
_BALANCED_PER_ENTRY = """    -- journal_append (revision 0047) builds each line from its entry (id, office, date, numbers
    -- 1..line_count): only the balance per entry and currency is left to check, in one pass for
    -- single-currency entries, per currency when it finds something.
    PERFORM 1
      FROM (SELECT entry_id, min(currency) AS currency_low, max(currency) AS currency_high,
                   sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS net
              FROM new_lines GROUP BY entry_id) x
     WHERE x.currency_low <> x.currency_high OR x.net <> 0
     LIMIT 1;
    IF FOUND THEN
""" + _UNBALANCED_NAMED + """    END IF;
"""
_LINES_CHECKED_AS_APPENDED = ("    IF appended THEN\n" + textwrap.indent(_BALANCED_PER_ENTRY, "    ") + "    ELSE\n"
                              + textwrap.indent(_LINES_AGAINST_ENTRIES, "    ") + "    END IF;\n")

CHANGES = (
    ("journal_entry_after_insert()", _ENTRY_DECLARED, _ENTRY_DECLARED.replace("BEGIN", _APPENDED + "BEGIN")),
    ("journal_entry_after_insert()", _LAST_LINE_PROBED, _LAST_LINE_PROBED_UNLESS_APPENDED),
    ("journal_line_after_insert()", _LINE_DECLARED, _LINE_DECLARED.replace("BEGIN", _APPENDED + "BEGIN")),
    ("journal_line_after_insert()", _LINES_AGAINST_ENTRIES, _LINES_CHECKED_AS_APPENDED),
)
"""Each trigger function, the part of its body replaced and what replaces it, rewritten from the
definition in the database as revisions 0037 and 0040 do (`migrations.rewrite_function`)."""


def upgrade(app_role: str) -> None:
    role = app_role.replace('"', "")
    _script(_KEY_AND_FUNCTIONS + f'REVOKE ALL ON journal_append_key FROM "{role}";\n'
            f'GRANT EXECUTE ON FUNCTION journal_append TO "{role}";\n')
    for function, old, new in CHANGES:
        _rewrite(function, old, new)


def downgrade(app_role: str) -> None:
    for function, old, new in reversed(CHANGES):
        _rewrite(function, new, old)
    _script("DROP FUNCTION journal_append; DROP FUNCTION journal_append_in_progress(); DROP TABLE journal_append_key;")
