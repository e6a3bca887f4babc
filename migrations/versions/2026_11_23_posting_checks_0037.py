"""Cheaper posting checks in PostgreSQL, the same rules: a 2,500-entry batch statement spent
about 6 ms in the entries' trigger and 12 ms in the lines' trigger (backend CPU on the 2-core
machine), most of it probing and aggregating per entry.

- Entries (GL011): each new entry's last line is looked up by key instead of its lines being
  counted. Counting read every line of every entry; the lines' trigger (GL021, same statement)
  already holds each entry's lines to exactly 1..line_count, and lines cannot be added to an
  entry by a later statement (they would repeat a number or exceed the count), so "line number
  line_count exists" and "line_count lines exist" agree whenever the statement can commit.
- Lines (GL020 + GL021): one aggregate per entry checks the count, numbers, office, date and,
  for single-currency entries, the balance; only a statement where it finds something (or an
  entry in several currencies) runs the two full checks, which raise the same errors in the
  same order as before.

tests/migrations/test_database_guards.py keeps proving each refusal (unbalanced, lines of an
unknown entry or another office or date, missing lines, extra lines in a later statement).

Revision ID: 0037
Revises: 0035
Create Date: 2026-11-23
"""

import textwrap

from migrations import run_script as _script

revision = "0037"
down_revision = "0035"
branch_labels = None
depends_on = None

_COUNTED_LINES = """    SELECT e.id INTO bad FROM new_entries e
     WHERE (SELECT count(*) FROM journal_line l WHERE l.entry_id = e.id) <> e.line_count LIMIT 1;"""
_LAST_LINE_PROBED = """    -- Its last line is there: the lines trigger (GL021) holds the lines of each entry of the
    -- statement to exactly 1..line_count, and an entry cannot get lines in a later statement
    -- (they would repeat a line number, or exceed the count), so one key probe per entry says
    -- what counting its lines said.
    SELECT e.id INTO bad FROM new_entries e
     WHERE NOT EXISTS (SELECT 1 FROM journal_line l WHERE l.entry_id = e.id AND l.line_no = e.line_count)
     LIMIT 1;"""

_DETAILED_LINE_CHECKS = """    SELECT l.entry_id, l.currency INTO bad FROM new_lines l
     GROUP BY l.entry_id, l.currency
    HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'entry % does not balance in %', bad.entry_id, bad.currency USING ERRCODE = 'GL020';
    END IF;
    SELECT x.entry_id INTO bad
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
    END IF;"""
"""GL020 (balance per currency), then GL021 (the lines against their entry), as revision 0001 wrote them."""
_ONE_PASS = """    -- One pass over the lines per entry (count, numbers, office, date, currencies and net
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
""" + textwrap.indent(_DETAILED_LINE_CHECKS, "    ") + """
    END IF;"""

CHANGES = (
    ("journal_entry_after_insert()", _COUNTED_LINES, _LAST_LINE_PROBED),
    ("journal_line_after_insert()", _DETAILED_LINE_CHECKS, _ONE_PASS),
)
"""Each trigger function, the part of its body replaced and what replaces it. The functions are
rewritten from their definitions in the database (`pg_get_functiondef`: body, owner, security and
settings as the earlier revisions left them), so only the changed part is written here, and the
downgrade puts the old part back."""


def _rewrite(function: str, old: str, new: str) -> None:
    from alembic import op
    from sqlalchemy.util import await_only

    driver = op.get_bind().connection.dbapi_connection.driver_connection  # type: ignore[union-attr]
    definition = await_only(driver.fetchval("SELECT pg_get_functiondef(CAST($1 AS regprocedure))", function))
    assert definition.count(old) == 1, f"{function} is not as the earlier revisions left it"
    _script(definition.replace(old, new))


def upgrade(app_role: str) -> None:
    for function, old, new in CHANGES:
        _rewrite(function, old, new)


def downgrade(app_role: str) -> None:
    for function, old, new in CHANGES:
        _rewrite(function, new, old)
