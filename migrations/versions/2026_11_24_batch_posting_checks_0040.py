"""Cheaper batch postings in PostgreSQL, the same rules (issue 2's batch benchmark). Backend CPU
of a 2,500-entry statement, measured on the 2-core machine with each change applied in turn
(alternating, under load): about 54 ms, of which the lines' two triggers read the statement's
5,000 new lines four times and the sequence number kept a unique index of its own.

- Lines: one trigger instead of two. journal_line_period_totals (revision 0003) is folded into
  journal_line_checks: one aggregate of the new lines per (account, office, currency, day)
  feeds the exact-amount check (GL022), the postable-account check (GL023), the balances and
  the period totals, instead of three aggregates over every line. Same errors in the same
  order (GL022 before GL023); balances are still moved before period totals, in key order,
  and neither moves when a check refuses the statement. The function journal_line_period_totals
  stays (the downgrade's trigger runs it again).
- Entries: seq's own unique index (journal_entry_seq_key) is dropped and the commit-order
  index (xact_id, seq), which the journal listing's cursor walks, becomes unique. seq comes
  from an identity column GENERATED ALWAYS, so it is unique by construction; what the listing
  relies on, that (xact_id, seq) orders entries without ties, is now what PostgreSQL enforces.
  Nothing looks entries up by seq alone (verify orders by it after filtering).
- Chain: the chain trigger counts the statement's offices in the aggregate it already makes
  instead of a separate sort of every new entry.

Not changed, and why: journal_entry and journal_line have no row-level foreign keys left to
replace (revision 0001's statement triggers check entry, office and account existence once per
statement); every remaining index serves a query (listing by commit order, by office and date,
the chain, reversal once, sources; the general ledger by account and date).

tests/migrations/test_database_guards.py keeps proving each refusal; tests/migrations/
test_batch_posting_checks.py proves the folded trigger's period totals and refusals and the
commit order's uniqueness.

Revision ID: 0040
Revises: 0039
Create Date: 2026-11-24
"""

from migrations import run_script as _script

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

_THREE_AGGREGATES = """    -- Exact amounts: the digits the amounts of each currency need (min_scale), against the
    -- currency's; the per-line query only runs to name the offending line.
    SELECT d.currency INTO bad
      FROM (SELECT currency, max(min_scale(amount)) AS digits FROM new_lines GROUP BY currency) d
      LEFT JOIN currency c ON c.code = d.currency
     WHERE c.code IS NULL OR d.digits > c.decimals
     LIMIT 1;
    IF FOUND THEN
        SELECT l.entry_id, l.currency, l.amount INTO bad FROM new_lines l LEFT JOIN currency c ON c.code = l.currency
         WHERE l.currency = bad.currency AND (c.code IS NULL OR l.amount <> round(l.amount, c.decimals)) LIMIT 1;
        RAISE EXCEPTION 'entry %: % is not an exact % amount', bad.entry_id, bad.amount, bad.currency
            USING ERRCODE = 'GL022';
    END IF;
    -- Postable accounts, checked on the same (account, currency) groups the balances take.
    WITH per_account AS MATERIALIZED (
        SELECT account_id, currency,
               coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS debit_total,
               coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS credit_total,
               count(*) AS line_count
          FROM new_lines GROUP BY account_id, currency
    ), refusal AS MATERIALIZED (
        SELECT p.account_id FROM per_account p LEFT JOIN gl_account a ON a.id = p.account_id
         WHERE a.id IS NULL OR a.is_header OR NOT a.active OR (a.currency IS NOT NULL AND a.currency <> p.currency)
         LIMIT 1
    ), balances AS (
        INSERT INTO account_balance AS b (account_id, currency, debit_total, credit_total, line_count)
        SELECT account_id, currency, debit_total, credit_total, line_count
          FROM per_account WHERE NOT EXISTS (SELECT 1 FROM refusal) ORDER BY account_id, currency
        ON CONFLICT (account_id, currency) DO UPDATE
           SET debit_total = b.debit_total + EXCLUDED.debit_total,
               credit_total = b.credit_total + EXCLUDED.credit_total,
               line_count = b.line_count + EXCLUDED.line_count
    )
    SELECT account_id INTO refused FROM refusal;
    IF FOUND THEN
        SELECT l.entry_id, l.account_id INTO bad FROM new_lines l LEFT JOIN gl_account a ON a.id = l.account_id
         WHERE l.account_id = refused
           AND (a.id IS NULL OR a.is_header OR NOT a.active OR (a.currency IS NOT NULL AND a.currency <> l.currency))
         LIMIT 1;
        RAISE EXCEPTION 'entry %: account % does not take this posting', bad.entry_id, bad.account_id
            USING ERRCODE = 'GL023';
    END IF;"""
"""The lines' checks after the per-entry pass, as revision 0001 left them: exact amounts per
currency, then postable accounts with the balances (the period totals were a second trigger)."""
_ONE_AGGREGATE = """    -- One pass over the lines per (account, office, currency, day) feeds the rest: the digits
    -- the amounts of each currency need (min_scale) against the currency's, the postable
    -- accounts, the balances and the period totals (year, month, day). Balances are moved
    -- before period totals (the count below is read first), as when they were two triggers;
    -- neither moves when a check refuses the statement.
    WITH per_day AS MATERIALIZED (
        SELECT account_id, office_id, currency, value_date,
               coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS debit_total,
               coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS credit_total,
               count(*) AS line_count, max(min_scale(amount)) AS digits
          FROM new_lines GROUP BY account_id, office_id, currency, value_date
    ), inexact AS MATERIALIZED (
        SELECT d.currency FROM per_day d LEFT JOIN currency c ON c.code = d.currency
         WHERE c.code IS NULL OR d.digits > c.decimals
         LIMIT 1
    ), refusal AS MATERIALIZED (
        SELECT d.account_id FROM per_day d LEFT JOIN gl_account a ON a.id = d.account_id
         WHERE a.id IS NULL OR a.is_header OR NOT a.active OR (a.currency IS NOT NULL AND a.currency <> d.currency)
         LIMIT 1
    ), balances AS (
        INSERT INTO account_balance AS b (account_id, currency, debit_total, credit_total, line_count)
        SELECT account_id, currency, sum(debit_total), sum(credit_total), sum(line_count)
          FROM per_day WHERE NOT EXISTS (SELECT 1 FROM inexact) AND NOT EXISTS (SELECT 1 FROM refusal)
         GROUP BY account_id, currency ORDER BY account_id, currency
        ON CONFLICT (account_id, currency) DO UPDATE
           SET debit_total = b.debit_total + EXCLUDED.debit_total,
               credit_total = b.credit_total + EXCLUDED.credit_total,
               line_count = b.line_count + EXCLUDED.line_count
        RETURNING 1
    ), periods AS (
        INSERT INTO account_period_total AS t
               (grain, account_id, period_start, office_id, currency, debit_total, credit_total, line_count)
        SELECT p.grain, d.account_id, p.period_start, d.office_id, d.currency,
               sum(d.debit_total), sum(d.credit_total), CAST(sum(d.line_count) AS bigint)
          FROM per_day d
         CROSS JOIN LATERAL (VALUES ('Y', date_trunc('year', d.value_date)::date),
                                    ('M', date_trunc('month', d.value_date)::date),
                                    ('D', d.value_date)) AS p (grain, period_start)
         WHERE (SELECT count(*) FROM balances) > 0
         GROUP BY d.account_id, p.grain, p.period_start, d.office_id, d.currency
         ORDER BY d.account_id, p.grain, p.period_start, d.office_id, d.currency
        ON CONFLICT (account_id, grain, period_start, office_id, currency) DO UPDATE
           SET debit_total = t.debit_total + EXCLUDED.debit_total,
               credit_total = t.credit_total + EXCLUDED.credit_total,
               line_count = t.line_count + EXCLUDED.line_count
    )
    SELECT (SELECT currency FROM inexact) AS currency, (SELECT account_id FROM refusal) AS account_id INTO bad;
    IF bad.currency IS NOT NULL THEN
        SELECT l.entry_id, l.currency, l.amount INTO bad FROM new_lines l LEFT JOIN currency c ON c.code = l.currency
         WHERE l.currency = bad.currency AND (c.code IS NULL OR l.amount <> round(l.amount, c.decimals)) LIMIT 1;
        RAISE EXCEPTION 'entry %: % is not an exact % amount', bad.entry_id, bad.amount, bad.currency
            USING ERRCODE = 'GL022';
    END IF;
    IF bad.account_id IS NOT NULL THEN
        refused := bad.account_id;
        SELECT l.entry_id, l.account_id INTO bad FROM new_lines l LEFT JOIN gl_account a ON a.id = l.account_id
         WHERE l.account_id = refused
           AND (a.id IS NULL OR a.is_header OR NOT a.active OR (a.currency IS NOT NULL AND a.currency <> l.currency))
         LIMIT 1;
        RAISE EXCEPTION 'entry %: account % does not take this posting', bad.entry_id, bad.account_id
            USING ERRCODE = 'GL023';
    END IF;"""

_OFFICES_SORTED = """    SELECT count(DISTINCT office_id) INTO offices FROM new_entries;
    WITH batch AS ("""
_OFFICES_COUNTED = """    WITH batch AS ("""
_ADVANCED_COUNTED = """    SELECT count(*) INTO moved FROM advanced;"""
_ADVANCED_AND_OFFICES_COUNTED = """    SELECT (SELECT count(*) FROM advanced), (SELECT count(*) FROM batch) INTO moved, offices;"""

CHANGES = (
    ("journal_line_after_insert()", _THREE_AGGREGATES, _ONE_AGGREGATE),
    ("journal_chain_advance()", _OFFICES_SORTED, _OFFICES_COUNTED),
    ("journal_chain_advance()", _ADVANCED_COUNTED, _ADVANCED_AND_OFFICES_COUNTED),
)
"""Each trigger function, the part of its body replaced and what replaces it, rewritten from the
definition in the database as revision 0037 does (`_rewrite`)."""

_ONE_TRIGGER = "DROP TRIGGER journal_line_period_totals ON journal_line;"
_TWO_TRIGGERS = """CREATE TRIGGER journal_line_period_totals AFTER INSERT ON journal_line
    REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_line_period_totals();"""

_COMMIT_ORDER_UNIQUE = """
ALTER TABLE journal_entry DROP CONSTRAINT journal_entry_seq_key;
DROP INDEX journal_entry_commit_order;
CREATE UNIQUE INDEX journal_entry_commit_order ON journal_entry (xact_id, seq);
"""
_SEQ_UNIQUE = """
DROP INDEX journal_entry_commit_order;
CREATE INDEX journal_entry_commit_order ON journal_entry (xact_id, seq);
ALTER TABLE journal_entry ADD CONSTRAINT journal_entry_seq_key UNIQUE (seq);
"""


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
    _script(_ONE_TRIGGER + _COMMIT_ORDER_UNIQUE)


def downgrade(app_role: str) -> None:
    _script(_SEQ_UNIQUE + _TWO_TRIGGERS)
    for function, old, new in reversed(CHANGES):
        _rewrite(function, new, old)
