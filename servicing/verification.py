"""`grandlivre verify`: recompute from the journal everything derived from it and report the
first mismatches. Every entry balances per currency and has exactly its lines; every reversal
nets its entry to zero; every office's hash chain is unbroken (each stored hash equals the hash
recomputed from the entry, its lines and its predecessor's hash, positions have no gap, and the
chain head names the last entry); every cached account balance and every year, month and day
total equals the sum of its lines. Read-only, in one snapshot; runs under the application role.

The chain heads are returned so an auditor can note them: a later verify whose chains do not
extend the noted heads shows that history was rewritten, even by someone who recomputed hashes."""

from __future__ import annotations

import asyncio
import re

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from servicing.deposits.verification import DEPOSIT_CHECKS
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
    SELECT e.id, e.office_id, e.chain_position, e.entry_hash, e.line_count, b.line_total,
           CASE WHEN b.several_currencies
                THEN (SELECT bool_and(x.net = 0) FROM (
                        SELECT sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) AS net
                          FROM journal_line l WHERE l.entry_id = e.id GROUP BY l.currency) x)
                ELSE b.net = 0 END AS balanced,
           lag(e.chain_position, 1, 0::bigint) OVER w AS previous_position,
           sha256(coalesce(lag(e.entry_hash) OVER w, '\x'::bytea)
                  || journal_entry_header_bytes(e) || coalesce(b.body, ''::bytea)) AS recomputed
      FROM journal_entry e LEFT JOIN bodies b ON b.entry_id = e.id
    WINDOW w AS (PARTITION BY e.office_id ORDER BY e.chain_position)
)
SELECT p.check_name, k.id::text AS entry_id, NULL AS account_code,
       'office ' || k.office_id || ', chain position ' || k.chain_position || ': ' || p.detail AS detail
  FROM links k
 CROSS JOIN LATERAL (VALUES
        ('chain', k.chain_position <> k.previous_position + 1, 'follows position ' || k.previous_position),
        ('chain', k.chain_position = k.previous_position + 1 AND k.recomputed <> k.entry_hash,
         'the stored hash is not the hash of this entry, its lines and its predecessor'),
        ('entry-lines', k.line_total IS DISTINCT FROM k.line_count,
         'entry declares ' || k.line_count || ' lines, journal holds ' || coalesce(k.line_total, 0)),
        ('entry-balances', NOT coalesce(k.balanced, true), 'debits and credits differ in some currency')
       ) AS p (check_name, failed, detail)
 WHERE p.failed
 ORDER BY k.office_id, k.chain_position
 LIMIT 10
"""

_ORPHANS = """
SELECT 'orphan-lines' AS check_name, l.entry_id::text AS entry_id, NULL AS account_code,
       'lines without an entry' AS detail
  FROM journal_line l WHERE NOT EXISTS (SELECT 1 FROM journal_entry e WHERE e.id = l.entry_id)
 GROUP BY l.entry_id ORDER BY 2 LIMIT 10
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

# Cached balances and period totals, both recomputed from one pass over the lines (by day).
_TOTALS = """
WITH days AS (
    SELECT account_id, value_date, office_id, currency,
           coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS debit_total,
           coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS credit_total,
           count(*) AS line_count
      FROM journal_line GROUP BY account_id, value_date, office_id, currency
), recomputed AS (
    SELECT 'D'::char(1) AS grain, account_id, value_date AS period_start, office_id, currency,
           debit_total, credit_total, line_count FROM days
    UNION ALL
    SELECT 'M'::char(1), account_id, date_trunc('month', value_date)::date, office_id, currency,
           sum(debit_total), sum(credit_total), sum(line_count)
      FROM days GROUP BY account_id, date_trunc('month', value_date)::date, office_id, currency
    UNION ALL
    SELECT 'Y'::char(1), account_id, date_trunc('year', value_date)::date, office_id, currency,
           sum(debit_total), sum(credit_total), sum(line_count)
      FROM days GROUP BY account_id, date_trunc('year', value_date)::date, office_id, currency
), period_problems AS (
    SELECT 'period-totals' AS check_name, NULL::text AS entry_id, coalesce(t.account_id, r.account_id) AS account_id,
           coalesce(t.grain, r.grain) || ' ' || coalesce(t.period_start, r.period_start) || ', office '
           || coalesce(t.office_id, r.office_id) || ', ' || coalesce(t.currency, r.currency) || ': stored '
           || coalesce(t.debit_total::text, 'none') || ' / ' || coalesce(t.credit_total::text, 'none')
           || ', lines give ' || coalesce(r.debit_total::text, 'none') || ' / '
           || coalesce(r.credit_total::text, 'none') AS detail
      FROM account_period_total t
      FULL JOIN recomputed r
        ON r.grain = t.grain AND r.account_id = t.account_id AND r.period_start = t.period_start
       AND r.office_id = t.office_id AND r.currency = t.currency
     WHERE t.account_id IS NULL OR r.account_id IS NULL OR t.debit_total <> r.debit_total
        OR t.credit_total <> r.credit_total OR t.line_count <> r.line_count
     LIMIT 10
), balance_problems AS (
    SELECT 'cached-balances' AS check_name, NULL::text AS entry_id, coalesce(b.account_id, t.account_id) AS account_id,
           coalesce(b.currency, t.currency) || ': cached ' || coalesce(b.debit_total::text, 'none') || ' / '
           || coalesce(b.credit_total::text, 'none') || ', lines give ' || coalesce(t.debit_total::text, 'none')
           || ' / ' || coalesce(t.credit_total::text, 'none') AS detail
      FROM account_balance b
      FULL JOIN (SELECT account_id, currency, sum(debit_total) AS debit_total, sum(credit_total) AS credit_total,
                        sum(line_count) AS line_count
                   FROM days GROUP BY account_id, currency) t
        ON t.account_id = b.account_id AND t.currency = b.currency
     WHERE b.account_id IS NULL OR t.account_id IS NULL OR b.debit_total <> t.debit_total
        OR b.credit_total <> t.credit_total OR b.line_count <> t.line_count
     LIMIT 10
)
SELECT p.check_name, p.entry_id, a.code AS account_code, p.detail
  FROM (SELECT * FROM balance_problems UNION ALL SELECT * FROM period_problems) p
  JOIN gl_account a ON a.id = p.account_id
 ORDER BY p.check_name, a.code, p.detail
"""

async def verify_journal(uow_factory: UnitOfWorkFactory) -> VerificationReport:
    """Every check in one snapshot, so concurrent postings cannot look like mismatches. The pass
    over the lines by entry and the pass by day run at once, on two connections sharing the
    snapshot (`pg_export_snapshot`), so each has a core of its own."""
    async with uow_factory() as first, uow_factory() as second:
        await first.session.execute(_SNAPSHOT)
        await first.session.execute(_MEMORY)
        snapshot = await first.session.scalar(text("SELECT pg_export_snapshot()"))
        await second.session.execute(_SNAPSHOT)
        await second.session.execute(text(f"SET TRANSACTION SNAPSHOT '{_snapshot_id(snapshot)}'"))
        await second.session.execute(_MEMORY)
        by_entry, by_day = await asyncio.gather(
            _run(first.session, (_ENTRIES, _ORPHANS, _REVERSALS, _CHAIN_HEADS, *DEPOSIT_CHECKS)), _run(second.session, (_TOTALS,)))
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


_SNAPSHOT = text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
_MEMORY = text("SET LOCAL work_mem = '256MB'")
"""The passes group millions of lines: let them hash in memory rather than spill."""


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
