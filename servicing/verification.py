"""`grandlivre verify`: recompute from the journal lines everything derived from them and
report the first mismatch. Today: every entry balances per currency and has exactly its
lines, every reversal nets its entry to zero, and every cached account balance equals the
sum of its lines. Read-only; runs under the application role."""

from __future__ import annotations

import msgspec
from sqlalchemy import text

from servicing.unit_of_work import UnitOfWork


class VerificationProblem(msgspec.Struct, frozen=True, kw_only=True):
    check: str
    detail: str
    entry_id: str | None = None
    account_code: str | None = None


class VerificationReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    entries_checked: int
    lines_checked: int
    balances_checked: int
    problems: list[VerificationProblem]


_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "entry-balances",
        """SELECT l.entry_id::text AS entry_id, NULL AS account_code,
                  'debits and credits differ by ' || sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END)
                  || ' ' || l.currency AS detail
             FROM journal_line l GROUP BY l.entry_id, l.currency
           HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0
            ORDER BY 1 LIMIT 10""",
    ),
    (
        "entry-lines",
        """SELECT e.id::text AS entry_id, NULL AS account_code,
                  'entry declares ' || e.line_count || ' lines, journal holds ' || count(l.entry_id) AS detail
             FROM journal_entry e LEFT JOIN journal_line l ON l.entry_id = e.id
            GROUP BY e.id, e.seq, e.line_count HAVING count(l.entry_id) <> e.line_count
            ORDER BY e.seq LIMIT 10""",
    ),
    (
        "orphan-lines",
        """SELECT l.entry_id::text AS entry_id, NULL AS account_code, 'lines without an entry' AS detail
             FROM journal_line l LEFT JOIN journal_entry e ON e.id = l.entry_id
            WHERE e.id IS NULL GROUP BY l.entry_id ORDER BY 1 LIMIT 10""",
    ),
    (
        "reversals",
        """SELECT e.id::text AS entry_id, NULL AS account_code,
                  'reversal does not mirror entry ' || e.reverses_id AS detail
             FROM journal_entry e
            WHERE e.reverses_id IS NOT NULL AND EXISTS (
                  SELECT 1 FROM journal_line l WHERE l.entry_id IN (e.id, e.reverses_id)
                   GROUP BY l.account_id, l.currency
                  HAVING sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) <> 0)
            ORDER BY e.seq LIMIT 10""",
    ),
    (
        "cached-balances",
        """SELECT NULL AS entry_id, a.code AS account_code,
                  coalesce(b.currency, t.currency) || ': cached ' || coalesce(b.debit_total::text, 'none') || ' / '
                  || coalesce(b.credit_total::text, 'none') || ', lines give ' || coalesce(t.debit_total::text, 'none')
                  || ' / ' || coalesce(t.credit_total::text, 'none') AS detail
             FROM account_balance b
             FULL JOIN (SELECT account_id, currency,
                               coalesce(sum(amount) FILTER (WHERE side = 'D'), 0) AS debit_total,
                               coalesce(sum(amount) FILTER (WHERE side = 'C'), 0) AS credit_total,
                               count(*) AS line_count
                          FROM journal_line GROUP BY account_id, currency) t
               ON t.account_id = b.account_id AND t.currency = b.currency
             JOIN gl_account a ON a.id = coalesce(b.account_id, t.account_id)
            WHERE b.account_id IS NULL OR t.account_id IS NULL OR b.debit_total <> t.debit_total
               OR b.credit_total <> t.credit_total OR b.line_count <> t.line_count
            ORDER BY a.code LIMIT 10""",
    ),
)


async def verify_journal(uow: UnitOfWork) -> VerificationReport:
    async with uow:
        session = uow.session
        # One snapshot for every check, so concurrent postings cannot look like mismatches.
        await session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        problems: list[VerificationProblem] = []
        for check, sql in _CHECKS:
            for row in (await session.execute(text(sql))).all():
                problems.append(VerificationProblem(
                    check=check, detail=row.detail, entry_id=row.entry_id, account_code=row.account_code))
        entries = int(await session.scalar(text("SELECT count(*) FROM journal_entry")) or 0)
        lines = int(await session.scalar(text("SELECT count(*) FROM journal_line")) or 0)
        balances = int(await session.scalar(text("SELECT count(*) FROM account_balance")) or 0)
    return VerificationReport(ok=not problems, entries_checked=entries, lines_checked=lines,
                              balances_checked=balances, problems=problems)
