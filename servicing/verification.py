"""`grandlivre verify`: recompute from the journal everything derived from it and report the
first mismatches. Every entry balances per currency and has exactly its lines; every reversal
nets its entry to zero; every office's hash chain is unbroken (each stored hash equals the hash
recomputed from the entry, its lines and its predecessor's hash, positions have no gap, and the
chain head names the last entry); every cached account balance and every year, month and day
total equals the sum of its lines; and the products' sub-ledgers agree with the journal (term
deposits: `servicing.term_deposits.verification`; loans: `servicing.loans.reconciliation`). Read-only, in one snapshot; runs under the
application role.

The chain heads are returned so an auditor can note them: a later verify whose chains do not
extend the noted heads shows that history was rewritten, even by someone who recomputed hashes."""

from __future__ import annotations

import asyncio
import re

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicing.deposits.verification import DEPOSIT_CHECKS
from servicing.loans.reconciliation import VERIFY_QUERIES as LOAN_QUERIES
from servicing.term_deposits.verification import TERM_DEPOSIT_CHECKS
from servicing.unit_of_work import UnitOfWorkFactory


class VerificationProblem(msgspec.Struct, frozen=True, kw_only=True):
    check: str
    detail: str
    entry_id: str | None = None
    account_code: str | None = None


class ChainHead(msgspec.Struct, frozen=True, kw_only=True):
    """Where an office's chain ends: its last position and that entry's hash (hex)."""

    office_id: int
    position: int
    entry_hash: str


class VerificationReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    entries_checked: int
    lines_checked: int
    balances_checked: int
    period_totals_checked: int
    problems: list[VerificationProblem]
    chain_heads: list[ChainHead] = []


_ENTRIES = r"""
WITH bodies AS (
    SELECT l.entry_id,
           string_agg(journal_line_bytes(l), ''::bytea ORDER BY l.line_no) AS body,
           count(*) AS line_total,
           sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) AS net,
           min(l.currency) <> max(l.currency) AS several_currencies
      FROM journal_line l GROUP BY l.entry_id
), links AS (
    SELECT coalesce(e.id, b.entry_id) AS id, e.id IS NULL AS orphan, e.office_id, e.chain_position, e.entry_hash,
           e.line_count, b.line_total,
           CASE WHEN b.several_currencies
                THEN (SELECT bool_and(x.net = 0) FROM (
                        SELECT sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) AS net
                          FROM journal_line l WHERE l.entry_id = e.id GROUP BY l.currency) x)
                ELSE b.net = 0 END AS balanced,
           e.chain_position = 1 OR p.chain_position IS NOT NULL AS linked,
           sha256(coalesce(p.entry_hash, '\x'::bytea) || journal_entry_header_bytes(e) || coalesce(b.body, ''::bytea))
               AS recomputed
      FROM journal_entry e
      FULL JOIN bodies b ON b.entry_id = e.id
      LEFT JOIN journal_entry p ON p.office_id = e.office_id AND p.chain_position = e.chain_position - 1
)
SELECT p.check_name, k.id::text AS entry_id, NULL AS account_code,
       coalesce('office ' || k.office_id || ', chain position ' || k.chain_position || ': ', '') || p.detail AS detail
  FROM (SELECT * FROM links
         WHERE orphan OR NOT linked OR recomputed <> entry_hash OR line_total IS DISTINCT FROM line_count
            OR NOT coalesce(balanced, true)
         ORDER BY office_id NULLS LAST, chain_position, id
         LIMIT 10) k
 CROSS JOIN LATERAL (VALUES
        ('orphan-lines', k.orphan, 'lines without an entry'),
        ('chain', NOT k.orphan AND NOT k.linked, 'no entry at position ' || (k.chain_position - 1) || ' before it'),
        ('chain', NOT k.orphan AND k.linked AND k.recomputed <> k.entry_hash,
         'the stored hash is not the hash of this entry, its lines and its predecessor'),
        ('entry-lines', NOT k.orphan AND k.line_total IS DISTINCT FROM k.line_count,
         'entry declares ' || k.line_count || ' lines, journal holds ' || coalesce(k.line_total, 0)),
        ('entry-balances', NOT coalesce(k.balanced, true), 'debits and credits differ in some currency')
       ) AS p (check_name, failed, detail)
 WHERE p.failed
 ORDER BY k.office_id NULLS LAST, k.chain_position, k.id
"""

_REVERSALS = """
SELECT 'reversals' AS check_name, e.id::text AS entry_id, NULL AS account_code,
       'reversal does not mirror entry ' || e.reverses_id AS detail
  FROM journal_entry e
 WHERE e.reverses_id IS NOT NULL AND EXISTS (
       SELECT 1 FROM journal_line l WHERE l.entry_id IN (e.id, e.reverses_id)
        GROUP BY l.account_id, l.currency
       HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0)
 ORDER BY e.seq LIMIT 10
"""

_CHAIN_HEADS = r"""
SELECT 'chain-heads' AS check_name, last.id::text AS entry_id, NULL AS account_code,
       'office ' || o.id || ': chain head at position ' || coalesce(h.position::text, 'none')
       || ', journal ends at position ' || coalesce(last.chain_position, 0) AS detail
  FROM office o
  LEFT JOIN journal_chain_head h ON h.office_id = o.id
  LEFT JOIN LATERAL (SELECT e.id, e.chain_position, e.entry_hash FROM journal_entry e
                      WHERE e.office_id = o.id ORDER BY e.chain_position DESC LIMIT 1) last ON true
 WHERE h.office_id IS NULL OR h.position <> coalesce(last.chain_position, 0)
    OR h.entry_hash <> coalesce(last.entry_hash, '\x'::bytea)
 ORDER BY o.id LIMIT 10
"""

# Year, month and day totals and cached balances. The lines are read once, against the stored
# day totals; each stored month is then checked against its stored days, each year against its
# months, each cached balance against its years: equal to the lines by transitivity, without
# grouping the lines three times. Each comparison sums both sides with opposite signs in one
# aggregate, so no large join is needed.
_DAY_TOTALS = """
SELECT 'period-totals' AS check_name, NULL::text AS entry_id, a.code AS account_code,
       'D ' || x.period_start || ', office ' || x.office_id || ', ' || x.currency || ': stored totals differ from'
       || ' the lines by ' || x.debit_difference || ' / ' || x.credit_difference || ' (' || x.line_difference
       || ' lines)' || CASE WHEN x.stored_rows = 0 THEN ', no stored row' ELSE '' END AS detail
  FROM (SELECT account_id, period_start, office_id, currency,
               sum(debit_total) AS debit_difference, sum(credit_total) AS credit_difference,
               sum(line_count) AS line_difference, count(*) FILTER (WHERE stored) AS stored_rows
          FROM (SELECT account_id, value_date AS period_start, office_id, currency,
                       CASE side WHEN 'D' THEN amount ELSE 0 END AS debit_total,
                       CASE side WHEN 'C' THEN amount ELSE 0 END AS credit_total, 1 AS line_count, false AS stored
                  FROM journal_line
                UNION ALL
                SELECT account_id, period_start, office_id, currency, -debit_total, -credit_total, -line_count, true
                  FROM account_period_total WHERE grain = 'D') both_sides
         GROUP BY account_id, period_start, office_id, currency
        HAVING sum(debit_total) <> 0 OR sum(credit_total) <> 0 OR sum(line_count) <> 0
         LIMIT 10) x
  JOIN gl_account a ON a.id = x.account_id
 ORDER BY a.code, x.period_start
"""

_ROLLED_UP_TOTALS = """
WITH stored AS NOT MATERIALIZED (
    SELECT grain, account_id, period_start, office_id, currency, debit_total, credit_total, line_count
      FROM account_period_total
), levels AS (
    SELECT 'M' AS grain, account_id, date_trunc('month', period_start::timestamp)::date AS period_start, office_id,
           currency, debit_total, credit_total, line_count
      FROM stored WHERE grain = 'D'
    UNION ALL
    SELECT 'Y', account_id, date_trunc('year', period_start::timestamp)::date, office_id, currency,
           debit_total, credit_total, line_count
      FROM stored WHERE grain = 'M'
    UNION ALL
    SELECT grain, account_id, period_start, office_id, currency, -debit_total, -credit_total, -line_count
      FROM stored WHERE grain IN ('M', 'Y')
), periods AS (
    SELECT 'period-totals' AS check_name, account_id,
           grain || ' ' || period_start || ', office ' || office_id || ', ' || currency
           || ': differs from the sum of its ' || CASE grain WHEN 'M' THEN 'days' ELSE 'months' END || ' by '
           || sum(debit_total) || ' / ' || sum(credit_total) AS detail
      FROM levels
     GROUP BY grain, account_id, period_start, office_id, currency
    HAVING sum(debit_total) <> 0 OR sum(credit_total) <> 0 OR sum(line_count) <> 0
     LIMIT 10
), balances AS (
    SELECT 'cached-balances' AS check_name, account_id,
           currency || ': cached balance differs from the lines by ' || sum(debit_total) || ' / '
           || sum(credit_total) AS detail
      FROM (SELECT account_id, currency, debit_total, credit_total, line_count FROM stored WHERE grain = 'Y'
            UNION ALL
            SELECT account_id, currency, -debit_total, -credit_total, -line_count FROM account_balance) both_sides
     GROUP BY account_id, currency
    HAVING sum(debit_total) <> 0 OR sum(credit_total) <> 0 OR sum(line_count) <> 0
     LIMIT 10
)
SELECT p.check_name, NULL::text AS entry_id, a.code AS account_code, p.detail
  FROM (SELECT * FROM balances UNION ALL SELECT * FROM periods) p
  JOIN gl_account a ON a.id = p.account_id
 ORDER BY p.check_name, a.code, p.detail
"""


async def verify_journal(uow_factory: UnitOfWorkFactory) -> VerificationReport:
    """Every check in one snapshot, so concurrent postings cannot look like mismatches. The pass
    over the lines by entry and the pass by day run at once, on two connections sharing the
    snapshot (`pg_export_snapshot`), so each has a core of its own; the roll-up checks of the
    stored totals follow the pass by entry, which is the shorter of the two."""
    async with uow_factory() as first, uow_factory() as second:
        await first.session.execute(_SNAPSHOT)
        for setting in _PLANNING:
            await first.session.execute(setting)
        snapshot = await first.session.scalar(text("SELECT pg_export_snapshot()"))
        await second.session.execute(_SNAPSHOT)
        await second.session.execute(text(f"SET TRANSACTION SNAPSHOT '{_snapshot_id(snapshot)}'"))
        for setting in _PLANNING:
            await second.session.execute(setting)
        by_entry, by_day = await asyncio.gather(
            _run(first.session, (_ENTRIES, _ROLLED_UP_TOTALS, _REVERSALS, _CHAIN_HEADS, *DEPOSIT_CHECKS,
                                  *TERM_DEPOSIT_CHECKS, *LOAN_CHECKS)),
            _run(second.session, (_DAY_TOTALS,)))
        problems = by_entry + by_day
        counts = (await first.session.execute(text(
            "SELECT (SELECT count(*) FROM journal_entry) AS entries,"
            " (SELECT coalesce(sum(line_count), 0) FROM journal_entry) AS lines,"
            " (SELECT count(*) FROM account_balance) AS balances,"
            " (SELECT count(*) FROM account_period_total) AS periods"))).one()
        heads = [
            ChainHead(office_id=row.office_id, position=row.position, entry_hash=row.entry_hash.hex())
            for row in await first.session.execute(
                text("SELECT office_id, position, entry_hash FROM journal_chain_head ORDER BY office_id"))
        ]
    return VerificationReport(ok=not problems, entries_checked=counts.entries, lines_checked=int(counts.lines),
                              balances_checked=counts.balances, period_totals_checked=counts.periods,
                              problems=problems, chain_heads=heads)


LOAN_CHECKS = tuple(
    f"SELECT '{name}' AS check_name, q.entry_id, q.account_code, q.detail FROM ({sql}) q" for name, sql in LOAN_QUERIES)
"""The loan sub-ledger (servicing.loans.reconciliation): every loan transaction has its own entry,
each loan's transactions equal the lines of its entries on its accounts, and each account used
by loans alone equals the loans on it."""

_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
_PLANNING = (text("SET LOCAL work_mem = '1GB'"), text("SET LOCAL enable_nestloop = off"))
"""The passes group millions of lines: let them hash in memory rather than spill. No nested
loops: a row estimate gone wrong after an analyze once turned the pass by entry into a
nested loop over every entry's lines (minutes instead of seconds); the passes are joins of
whole tables, which hash or merge joins do in one go."""


def _snapshot_id(snapshot: object) -> str:
    """A snapshot id is PostgreSQL's own text (hex digits and dashes); checked, then inlined,
    since SET TRANSACTION SNAPSHOT takes no parameters."""
    value = str(snapshot)
    if not re.fullmatch(r"[0-9A-F-]+", value):
        raise ValueError(f"unexpected snapshot id {value!r}")
    return value


async def _run(session: AsyncSession, queries: tuple[str, ...]) -> list[VerificationProblem]:
    problems: list[VerificationProblem] = []
    for sql in queries:
        for row in (await session.execute(text(sql))).all():
            problems.append(VerificationProblem(
                check=row.check_name, detail=row.detail, entry_id=row.entry_id, account_code=row.account_code))
    return problems
