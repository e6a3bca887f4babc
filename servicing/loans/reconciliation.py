"""The loan portfolio sub-ledger next to the general ledger.

Sub-ledger: for each loan, principal disbursed less principal repaid (plus repayments reversed),
from its transactions.
General ledger: the balance of the portfolio account its product version maps (the account
for healthy short-term loans when the product maps one, else its plain portfolio account,
exactly as `products.accounting.resolve_account` picks it for the loan's postings). Both are
summed per GL account and currency, since several products may share one account; a
difference means a posting that bypassed the loan service, or a loan movement without its
entry. Products without accounting are left out: they post nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text

from servicing.unit_of_work import UnitOfWork

_PORTFOLIO_ACCOUNTS: Final = """
WITH portfolio AS (
    SELECT pv.product_id, pv.version, COALESCE(
        (SELECT a.gl_account_id FROM product_version_account a
          WHERE a.product_id = pv.product_id AND a.version = pv.version AND a.role = 'loan_portfolio'
            AND a.classification = 'healthy' AND a.term = 'short'),
        (SELECT a.gl_account_id FROM product_version_account a
          WHERE a.product_id = pv.product_id AND a.version = pv.version AND a.role = 'loan_portfolio'
            AND a.classification IS NULL AND a.payment_type_id IS NULL AND a.charge_id IS NULL)) AS account_id
      FROM product_version pv JOIN product p ON p.id = pv.product_id
     WHERE p.kind = 'loan' AND pv.accounting_rule <> 'none'
), sub AS (
    SELECT pf.account_id, t.currency,
           sum(CASE WHEN t.kind IN ('repayment', 'disbursement_reversal') THEN -t.principal ELSE t.principal END) AS amount,
           array_agg(DISTINCT l.product_id ORDER BY l.product_id) AS product_ids,
           count(DISTINCT l.id) AS loans
      FROM loan_transaction t
      JOIN loan l ON l.id = t.loan_id
      JOIN portfolio pf ON pf.product_id = l.product_id AND pf.version = l.product_version
     GROUP BY pf.account_id, t.currency
), gl AS (
    SELECT b.account_id, b.currency, b.debit_total - b.credit_total AS amount
      FROM account_balance b
     WHERE b.account_id IN (SELECT account_id FROM portfolio)
)
SELECT a.code AS account_code, COALESCE(sub.currency, gl.currency) AS currency,
       COALESCE(sub.product_ids, '{}') AS product_ids, COALESCE(sub.loans, 0) AS loans,
       COALESCE(sub.amount, 0) AS subledger, COALESCE(gl.amount, 0) AS general_ledger,
       COALESCE(gl.amount, 0) - COALESCE(sub.amount, 0) AS difference
  FROM sub FULL JOIN gl ON gl.account_id = sub.account_id AND gl.currency = sub.currency
  JOIN gl_account a ON a.id = COALESCE(sub.account_id, gl.account_id)
"""

PORTFOLIO_RECONCILIATION_SQL: Final = _PORTFOLIO_ACCOUNTS + " ORDER BY a.code, 2"

VERIFY_QUERIES: Final[tuple[tuple[str, str], ...]] = (
    ("loan-portfolio-equals-gl",
     "SELECT 'portfolio account ' || account_code || ' (' || currency || '): loans ' || subledger::text "
     "|| ', general ledger ' || general_ledger::text AS detail, account_code FROM (" + _PORTFOLIO_ACCOUNTS
     + ") r WHERE difference <> 0"),
    ("loan-transaction-has-its-entry",
     "SELECT 'loan ' || t.loan_id || ' transaction ' || t.sequence_number || ' has no journal entry' AS detail, "
     "NULL::text AS account_code FROM loan_transaction t JOIN loan l ON l.id = t.loan_id "
     "JOIN product_version pv ON pv.product_id = l.product_id AND pv.version = l.product_version "
     "WHERE t.journal_entry_id IS NULL AND pv.accounting_rule <> 'none'"),
)
"""(check name, SQL answering one row per problem with `detail` and `account_code`), for
`grandlivre verify` (servicing/verification.py) to run in its snapshot."""


class PortfolioReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    account_code: str
    currency: str
    product_ids: tuple[int, ...]
    loans: int
    subledger: Decimal
    general_ledger: Decimal
    difference: Decimal


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


async def portfolio_reconciliation(uow: UnitOfWork) -> list[PortfolioReconciliationRow]:
    async with uow:
        rows = (await uow.session.execute(text(PORTFOLIO_RECONCILIATION_SQL))).all()
    return [PortfolioReconciliationRow(
        account_code=r.account_code, currency=r.currency.strip(), product_ids=tuple(r.product_ids), loans=r.loans,
        subledger=_plain(r.subledger), general_ledger=_plain(r.general_ledger), difference=_plain(r.difference))
        for r in rows]
