"""Checks of the term deposits against the journal, in the shape `servicing.verification` runs
(`check_name`, `entry_id`, `account_code`, `detail`; at most 10 rows each). The lead appends
`TERM_DEPOSIT_CHECKS` to the queries `verify_journal` runs; `run_term_deposit_checks` runs
them alone (tests, and a verify that has not merged them yet).

1. every term-deposit transaction that moved money names a journal entry that exists;
2. every control account used only by term-deposit products has a GL balance (credit minus
   debit, all offices) equal to the sum of the deposits booked on it (a control account shared
   with other products is reconciled by the report, not here);
3. no deposit balance is negative, and a closed deposit's balance is zero.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import text

from servicing.unit_of_work import UnitOfWorkFactory

BALANCE_SQL: Final = """
    coalesce(sum(CASE x.kind WHEN 'deposit' THEN x.amount WHEN 'interest' THEN x.amount - x.withholding_tax
                             WHEN 'payout' THEN -x.amount WHEN 'interest_clawback' THEN x.withholding_tax - x.amount
                             ELSE 0 END), 0)"""
"""A deposit's balance over its transactions ``x``: deposits and net interest (gross less the
tax withheld) add; payouts and claw-backs (less the tax they refund) subtract."""
_BALANCE: Final = BALANCE_SQL

TD_ENTRIES: Final = """
SELECT 'term-deposit-entries' AS check_name, x.entry_id::text AS entry_id, NULL AS account_code,
       'term deposit ' || x.account_id || ' transaction ' || x.id || ' names a missing journal entry' AS detail
  FROM term_deposit_transaction x
 WHERE x.entry_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM journal_entry e WHERE e.id = x.entry_id)
 ORDER BY x.id LIMIT 10
"""

TD_CONTROL_ACCOUNTS: Final = f"""
WITH deposit_accounts AS (
    SELECT a.id AS account_id, coalesce(t.product_id, a.product_id) AS product_id,
           coalesce(t.product_version, a.product_version) AS version, a.currency
      FROM term_deposit_account a
      LEFT JOIN term_deposit_term t ON t.account_id = a.id AND t.term_no = a.current_term
), control AS (
    SELECT d.account_id, d.currency, pva.gl_account_id
      FROM deposit_accounts d
      JOIN product_version_account pva ON pva.product_id = d.product_id AND pva.version = d.version
                                      AND pva.role = 'deposit_control'
), deposits AS (
    SELECT c.gl_account_id, c.currency, sum((SELECT {_BALANCE} FROM term_deposit_transaction x
                                             WHERE x.account_id = c.account_id)) AS total
      FROM control c GROUP BY c.gl_account_id, c.currency
)
SELECT 'term-deposit-control' AS check_name, NULL AS entry_id, g.code AS account_code,
       'GL balance ' || coalesce(b.credit_total - b.debit_total, 0) || ' ' || d.currency
       || ' but term deposits total ' || d.total AS detail
  FROM deposits d
  JOIN gl_account g ON g.id = d.gl_account_id
  LEFT JOIN account_balance b ON b.account_id = d.gl_account_id AND b.currency = d.currency
 WHERE coalesce(b.credit_total - b.debit_total, 0) <> d.total
   AND NOT EXISTS (SELECT 1 FROM product_version_account other JOIN product p ON p.id = other.product_id
                    WHERE other.gl_account_id = d.gl_account_id AND p.kind <> 'term_deposit')
 ORDER BY g.code LIMIT 10
"""

TD_BALANCES: Final = f"""
SELECT 'term-deposit-balances' AS check_name, NULL AS entry_id, NULL AS account_code,
       'term deposit ' || a.id || ' (' || a.status || ') has balance ' || s.balance AS detail
  FROM term_deposit_account a
  CROSS JOIN LATERAL (SELECT {_BALANCE} AS balance FROM term_deposit_transaction x WHERE x.account_id = a.id) s
 WHERE s.balance < 0 OR (a.status IN ('closed', 'closed_early') AND s.balance <> 0)
 ORDER BY a.id LIMIT 10
"""

TERM_DEPOSIT_CHECKS: Final = (TD_ENTRIES, TD_CONTROL_ACCOUNTS, TD_BALANCES)


async def run_term_deposit_checks(uow_factory: UnitOfWorkFactory) -> list[tuple[str, str]]:
    """(check, detail) of every mismatch found, in one read-only snapshot."""
    found: list[tuple[str, str]] = []
    async with uow_factory() as uow:
        await uow.session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"))
        for sql in TERM_DEPOSIT_CHECKS:
            found += [(row.check_name, row.detail) for row in (await uow.session.execute(text(sql))).all()]
    return found
