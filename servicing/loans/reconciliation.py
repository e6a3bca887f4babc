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

from products.accounting import resolve_account
from products.events import LoanClassification, ProductEvent
from products.posting_rules import AccountingRole, EventKind
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


_RECEIVABLES = """
SELECT l.product_id, l.product_version, t.currency,
       sum(CASE t.kind WHEN 'disbursement' THEN t.interest WHEN 'repayment_reversal' THEN t.interest
                       WHEN 'disbursement_reversal' THEN -t.interest WHEN 'repayment' THEN -t.interest
                       WHEN 'waiver' THEN -t.interest ELSE 0 END) AS interest,
       sum(CASE t.kind WHEN 'charge' THEN t.fee WHEN 'repayment_reversal' THEN t.fee
                       WHEN 'repayment' THEN -t.fee WHEN 'waiver' THEN -t.fee ELSE 0 END) AS fee,
       sum(CASE t.kind WHEN 'charge' THEN t.penalty WHEN 'repayment_reversal' THEN t.penalty
                       WHEN 'repayment' THEN -t.penalty WHEN 'waiver' THEN -t.penalty ELSE 0 END) AS penalty
  FROM loan_transaction t
  JOIN loan l ON l.id = t.loan_id
  JOIN product_version pv ON pv.product_id = l.product_id AND pv.version = l.product_version
 WHERE pv.accounting_rule IN ('accrual_periodic', 'accrual_upfront')
 GROUP BY l.product_id, l.product_version, t.currency
"""
_RECEIVABLE_ROLES: Final = (("interest", AccountingRole.INTEREST_RECEIVABLE), ("fee", AccountingRole.FEES_RECEIVABLE),
                            ("penalty", AccountingRole.PENALTIES_RECEIVABLE))


class ReceivableReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    role: AccountingRole
    account_code: str
    currency: str
    subledger: Decimal
    general_ledger: Decimal
    difference: Decimal


async def receivables_reconciliation(uow: UnitOfWork) -> list[ReceivableReconciliationRow]:
    """Under accrual rules: interest, fees and penalties receivable of the loans (recognised at
    disbursement under upfront accrual or when charged, less what was paid or waived) next to
    the GL accounts the products map for them. Accounts shared by products are summed."""
    from servicing.loans.applications import get_product_in

    totals: dict[tuple[AccountingRole, str, str], Decimal] = {}
    async with uow:
        rows = (await uow.session.execute(text(_RECEIVABLES))).all()
        for row in rows:
            product = await get_product_in(uow, row.product_id, row.product_version)
            currency = row.currency.strip()
            event = ProductEvent(kind=EventKind.REPAYMENT, currency=currency, parts=())
            for column, role in _RECEIVABLE_ROLES:
                code = resolve_account(product.accounting, role, event=event, charge_id=None,
                                       classification=LoanClassification.HEALTHY)
                key = (role, code, currency)
                totals[key] = totals.get(key, Decimal(0)) + getattr(row, column)
        found = (await uow.session.execute(text(
            "SELECT a.code, b.currency, b.debit_total, b.credit_total FROM account_balance b "
            "JOIN gl_account a ON a.id = b.account_id WHERE a.code = ANY(:codes)"),
            {"codes": sorted({code for _role, code, _c in totals})})).all()
    balances = {(code, currency.strip()): debit - credit for code, currency, debit, credit in found}
    return [ReceivableReconciliationRow(
        role=role, account_code=code, currency=currency, subledger=_plain(amount),
        general_ledger=_plain(balances.get((code, currency), Decimal(0))),
        difference=_plain(balances.get((code, currency), Decimal(0)) - amount))
        for (role, code, currency), amount in sorted(totals.items())]
