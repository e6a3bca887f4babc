"""Posting triggers join the journal by index, whatever the statistics say.

Why: PL/pgSQL plans each trigger query once per connection and keeps the plan until the
tables' statistics change. On a young database (a new installation, the demo, a benchmark)
`journal_entry` has never been analysed, so the planner sees a tiny table and hashes the
whole of it to check a batch's lines against their entries (GL021). The plan outlives the
table's growth until autovacuum's next analyse: each posting then read every entry already
booked (13.6 million rows read for 20,800 postings in a 30-second benchmark), and throughput
fell as the journal grew. A batch is always small next to the journal, so the right plan is
always a nested loop probing the primary key: the three posting trigger functions now say so
with their own planner settings (they apply to their queries only, per call).

Revision ID: 0021
Revises: 0015
Create Date: 2026-11-23
"""

from migrations import run_script as _script

revision = "0021"
down_revision = "0015"
branch_labels = None
depends_on = None

FUNCTIONS = ("journal_entry_after_insert()", "journal_line_after_insert()", "journal_chain_advance()")

_SETTINGS = "SET enable_hashjoin = off SET enable_mergejoin = off SET enable_seqscan = off"


def upgrade(app_role: str) -> None:
    _script("".join(f"ALTER FUNCTION {function} {_SETTINGS};\n" for function in FUNCTIONS))


def downgrade(app_role: str) -> None:
    _script("".join(
        f"ALTER FUNCTION {function} RESET enable_hashjoin RESET enable_mergejoin RESET enable_seqscan;\n"
        for function in FUNCTIONS))
