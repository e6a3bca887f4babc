"""The loan portfolio sub-ledger next to the general ledger.

Sub-ledger: per loan and component, what its transactions leave outstanding: principal
(disbursed less repaid), and under accrual rules interest, fees and penalties receivable
(recognised — interest at disbursement under upfront accrual, charges when added — less
what was paid or waived). Signs per transaction kind are data (`SUBLEDGER_SIGNS`), so a new
kind (accrual, write-off...) is one line.

Each component sits on the account the loan's product version maps for its role, its
**booked classification and term bucket** (the classified account when the product maps
one, else the plain mapped account: exactly `products.accounting.resolve_account`'s order).

The close of business posts one entry for many loans (accruals, penalties); each loan
transaction then keeps its share of that entry per account (`loan_entry_share`), and stands
for "the loan's own lines" below; the shared entry itself must equal the sum of its shares
(check ``loan-shared-entry-equals-shares``).

Two comparisons, each meaningful even when the account also receives other postings:

* per loan (and so per product, currency and classification): the sub-ledger against the
  lines of **the loan's own entries** on that account. Only a loan transaction or a loan
  entry changed behind the service's back makes them differ;
* per account used by loans alone (mapped only in these roles, only by loan products, and
  not the GL account of a payment type): the account's balance against the sum of the loans
  on it. A manual entry on a loan control account shows here. An account shared with other
  uses (a deposit product, a payment type...) is listed with its balance, flagged shared,
  and not counted as a difference.

Products without accounting post nothing and are left out.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import text

from servicing.loans.provisions import PROVISION_CHECK_SQL
from servicing.unit_of_work import UnitOfWork

RECONCILED_ROLES: Final = (("principal", "loan_portfolio"), ("interest", "interest_receivable"),
                           ("fee", "fees_receivable"), ("penalty", "penalties_receivable"))
"""Component of a loan transaction -> the accounting role whose account holds it."""

SUBLEDGER_SIGNS: Final[dict[str, dict[str, int]]] = {
    "principal": {"disbursement": 1, "repayment_reversal": 1, "repayment": -1, "disbursement_reversal": -1,
                  "rescheduling": 1, "reclassification": 0, "write_off": -1, "recovery": 0,
                  "write_off_reversal": 1, "recovery_reversal": 0},
    "interest": {"disbursement": 1, "repayment_reversal": 1, "repayment": -1, "disbursement_reversal": -1,
                 "waiver": -1, "rescheduling": -1, "reclassification": 0, "write_off": -1, "recovery": 0,
                 "accrual": 1, "accrual_adjustment": -1, "write_off_reversal": 1, "waiver_reversal": 1},
    "fee": {"charge": 1, "repayment_reversal": 1, "repayment": -1, "waiver": -1, "write_off": -1, "accrual": 1,
            "accrual_adjustment": -1, "write_off_reversal": 1, "waiver_reversal": 1, "charge_reversal": -1},
    "penalty": {"charge": 1, "repayment_reversal": 1, "repayment": -1, "waiver": -1, "rescheduling": -1,
                "write_off": -1, "write_off_reversal": 1, "penalty_reversal": -1, "waiver_reversal": 1,
                "charge_reversal": -1},
}
"""How each transaction kind moves a component's outstanding. A disbursement's ``interest`` is
what it recognised (upfront accrual only); its ``fee`` is withheld income, never receivable. A
rescheduling's ``principal`` is what it capitalised, its ``interest`` and ``penalty`` what that
took off the receivables. A reclassification moves the outstanding between classified accounts
without changing it (the loan's booked classification says which account holds it); a write-off
takes every component out (its reversal puts them back); a recovery is income on a loan that
owes nothing more in the books (and so is its reversal); a penalty reversal takes back a penalty
that a backdated event showed was not owed (`servicing.loans.restatement`)."""


def _signed(component: str) -> str:
    cases = " ".join(f"WHEN '{kind}' THEN {sign} * t.{component}"
                     for kind, sign in SUBLEDGER_SIGNS[component].items())
    return f"sum(CASE t.kind {cases} ELSE 0 END)"


SUBLEDGER_BY_LOAN_SQL: Final = f"""
SELECT t.loan_id, {_signed("principal")} AS principal, {_signed("interest")} AS interest, {_signed("fee")} AS fee,
       {_signed("penalty")} AS penalty, max(t.sequence_number) AS last_sequence
  FROM loan_transaction t WHERE t.loan_id = ANY(CAST(:ids AS int[])) GROUP BY t.loan_id
"""
"""Each loan's sub-ledger (what its transactions leave outstanding per component) and its last
transaction's sequence number: what a reclassification moves and a write-off takes out."""

_ROLES_VALUES: Final = ", ".join(f"('{component}', '{role}')" for component, role in RECONCILED_ROLES)
_ROLE_NAMES: Final = ", ".join(f"'{role}'" for _component, role in RECONCILED_ROLES)

PER_LOAN_SQL: Final = f"""
WITH booked AS MATERIALIZED (
    SELECT l.id AS loan_id, l.product_id, l.product_version, l.booked_classification AS classification,
           coalesce(l.term_bucket, 'short') AS term, pv.accounting_rule
      FROM loan l
      JOIN product_version pv ON pv.product_id = l.product_id AND pv.version = l.product_version
     WHERE pv.accounting_rule <> 'none' AND EXISTS (SELECT 1 FROM loan_transaction x WHERE x.loan_id = l.id)
), roles (component, role) AS (VALUES {_ROLES_VALUES}
), accounts AS MATERIALIZED (
    SELECT k.product_id, k.product_version, k.classification, k.term, r.component, coalesce(
        (SELECT a.gl_account_id FROM product_version_account a
          WHERE a.product_id = k.product_id AND a.version = k.product_version AND a.role = r.role
            AND a.classification = k.classification AND a.term = k.term),
        (SELECT a.gl_account_id FROM product_version_account a
          WHERE a.product_id = k.product_id AND a.version = k.product_version AND a.role = r.role
            AND a.classification IS NULL AND a.payment_type_id IS NULL AND a.charge_id IS NULL)) AS account_id
      FROM (SELECT DISTINCT product_id, product_version, classification, term, accounting_rule FROM booked) k
     CROSS JOIN roles r
     WHERE r.component = 'principal' OR k.accounting_rule IN ('accrual_periodic', 'accrual_upfront')
), sub AS (
    SELECT t.loan_id, t.currency, {_signed("principal")} AS principal, {_signed("interest")} AS interest,
           {_signed("fee")} AS fee, {_signed("penalty")} AS penalty
      FROM loan_transaction t
     WHERE t.loan_id IN (SELECT loan_id FROM booked)
     GROUP BY t.loan_id, t.currency
), expected AS (
    SELECT b.loan_id, b.product_id, b.classification, b.term, a.account_id, s.currency,
           string_agg(a.component, '+' ORDER BY a.component) AS components,
           sum(CASE a.component WHEN 'principal' THEN s.principal WHEN 'interest' THEN s.interest
                                WHEN 'fee' THEN s.fee ELSE s.penalty END) AS subledger
      FROM booked b
      JOIN accounts a ON a.product_id = b.product_id AND a.product_version = b.product_version
                     AND a.classification = b.classification AND a.term = b.term
      JOIN sub s ON s.loan_id = b.loan_id
     WHERE a.account_id IS NOT NULL
     GROUP BY b.loan_id, b.product_id, b.classification, b.term, a.account_id, s.currency
), posted AS (
    SELECT loan_id, account_id, currency, sum(amount) AS amount FROM (
        SELECT t.loan_id, jl.account_id, jl.currency,
               CASE jl.side WHEN 'D' THEN jl.amount ELSE -jl.amount END AS amount
          FROM loan_transaction t
          JOIN journal_line jl ON jl.entry_id = t.journal_entry_id
         WHERE jl.account_id IN (SELECT account_id FROM accounts WHERE account_id IS NOT NULL)
           AND t.loan_id IN (SELECT loan_id FROM booked)
           AND NOT EXISTS (SELECT 1 FROM loan_entry_share sh WHERE sh.loan_transaction_id = t.id)
        UNION ALL
        SELECT t.loan_id, sh.account_id, t.currency, CASE sh.side WHEN 'D' THEN sh.amount ELSE -sh.amount END
          FROM loan_transaction t
          JOIN loan_entry_share sh ON sh.loan_transaction_id = t.id
         WHERE sh.account_id IN (SELECT account_id FROM accounts WHERE account_id IS NOT NULL)
           AND t.loan_id IN (SELECT loan_id FROM booked)
    ) lines GROUP BY loan_id, account_id, currency
), per_loan AS (
    SELECT coalesce(e.loan_id, p.loan_id) AS loan_id, coalesce(e.account_id, p.account_id) AS account_id,
           coalesce(e.currency, p.currency) AS currency, e.product_id, e.classification, e.term, e.components,
           coalesce(e.subledger, 0) AS subledger, coalesce(p.amount, 0) AS general_ledger
      FROM expected e
      FULL JOIN posted p ON p.loan_id = e.loan_id AND p.account_id = e.account_id AND p.currency = e.currency
)
"""
"""One row per loan, GL account and currency: the loan's sub-ledger on the account (components
it holds, e.g. ``principal``) next to the lines of the loan's own entries on it, and its shares
of the entries the close of business shares between loans (`loan_entry_share`; each shared
entry is checked against the sum of its shares by ``loan-shared-entry-equals-shares``). A row without
components is an account of the loans' mappings that this loan's entries touched although
its booking does not put anything there (it must net to zero)."""

_EXCLUSIVE = f"""
NOT EXISTS (SELECT 1 FROM product_version_account m JOIN product p ON p.id = m.product_id
             WHERE m.gl_account_id = {{account}} AND (p.kind <> 'loan' OR m.role NOT IN ({_ROLE_NAMES})))
AND NOT EXISTS (SELECT 1 FROM payment_type pt WHERE pt.gl_account_id = {{account}})
"""

ACCOUNTS_SQL: Final = PER_LOAN_SQL + f""", on_accounts AS (
    SELECT account_id, currency, sum(subledger) AS subledger, sum(general_ledger) AS loan_entries,
           count(DISTINCT loan_id) FILTER (WHERE components IS NOT NULL) AS loans
      FROM per_loan GROUP BY account_id, currency
)
SELECT a.code AS account_code, o.currency, o.loans, o.subledger, o.loan_entries,
       coalesce(b.debit_total - b.credit_total, 0) AS general_ledger,
       ({_EXCLUSIVE.format(account="o.account_id")}) AS exclusive
  FROM on_accounts o
  JOIN gl_account a ON a.id = o.account_id
  LEFT JOIN account_balance b ON b.account_id = o.account_id AND b.currency = o.currency
 ORDER BY a.code, o.currency
"""

PRODUCTS_SQL: Final = PER_LOAN_SQL + """
SELECT r.product_id, p.name AS product_name, r.currency, r.classification, r.term, r.components,
       a.code AS account_code, count(*) AS loans, sum(r.subledger) AS subledger,
       sum(r.general_ledger) AS general_ledger
  FROM per_loan r
  JOIN loan l ON l.id = r.loan_id
  JOIN product p ON p.id = l.product_id
  JOIN gl_account a ON a.id = r.account_id
 GROUP BY r.product_id, p.name, r.currency, r.classification, r.term, r.components, a.code
 ORDER BY p.name, r.product_id, r.currency, r.classification, r.term, r.components NULLS LAST, a.code
"""

VERIFY_QUERIES: Final[tuple[tuple[str, str], ...]] = (
    ("loan-transaction-has-its-entry", """
SELECT 'loan ' || t.loan_id || ' transaction ' || t.sequence_number || ' (' || t.kind || ') '
       || CASE WHEN t.journal_entry_id IS NULL THEN 'has no journal entry'
               WHEN e.id IS NULL THEN 'names entry ' || t.journal_entry_id || ', which is not in the journal'
               ELSE 'names entry ' || t.journal_entry_id || ', recorded for ' || coalesce(e.source_type, '?') || ' '
                    || coalesce(e.source_id, '?') END AS detail,
       t.journal_entry_id::text AS entry_id, NULL::text AS account_code
  FROM loan_transaction t
  JOIN loan l ON l.id = t.loan_id
  JOIN product_version pv ON pv.product_id = l.product_id AND pv.version = l.product_version
  LEFT JOIN loan_transaction o ON o.id = t.reverses_transaction_id
  LEFT JOIN journal_entry e ON e.id = t.journal_entry_id
 WHERE pv.accounting_rule <> 'none' AND (
       (t.journal_entry_id IS NULL AND (t.kind IN ('disbursement', 'repayment', 'accrual', 'accrual_adjustment')
                                        OR o.journal_entry_id IS NOT NULL
                                        OR (t.kind IN ('charge', 'waiver') AND pv.accounting_rule <> 'cash')))
       OR (t.journal_entry_id IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM loan_entry_share sh WHERE sh.loan_transaction_id = t.id)
           AND (e.id IS NULL OR e.source_type IS DISTINCT FROM 'loan-transaction'
                OR e.source_id IS DISTINCT FROM t.loan_id || '/' || coalesce(o.sequence_number, t.sequence_number)))
       OR (t.journal_entry_id IS NOT NULL AND EXISTS (
               SELECT 1 FROM loan_entry_share sh WHERE sh.loan_transaction_id = t.id)
           AND (e.id IS NULL OR e.source_type IS DISTINCT FROM 'loan-close-of-business'
                OR EXISTS (SELECT 1 FROM loan_entry_share sh WHERE sh.loan_transaction_id = t.id
                                                              AND sh.entry_id <> t.journal_entry_id))))
 ORDER BY t.loan_id, t.sequence_number LIMIT 10
"""),
    ("loan-entry-used-once", """
SELECT 'entry ' || t.journal_entry_id || ' is named by ' || count(*) || ' loan transactions' AS detail,
       t.journal_entry_id::text AS entry_id, NULL::text AS account_code
  FROM loan_transaction t WHERE t.journal_entry_id IS NOT NULL
   AND NOT EXISTS (SELECT 1 FROM loan_entry_share sh WHERE sh.loan_transaction_id = t.id)
 GROUP BY t.journal_entry_id HAVING count(*) > 1 LIMIT 10
"""),
    ("loan-accrual-total-equals-transactions", """
WITH sums AS (
    SELECT loan_id, sum(CASE kind WHEN 'accrual' THEN interest ELSE -interest END) AS interest,
           sum(CASE kind WHEN 'accrual' THEN fee ELSE -fee END) AS fee
      FROM loan_transaction WHERE kind IN ('accrual', 'accrual_adjustment') GROUP BY loan_id
)
SELECT 'loan ' || coalesce(a.loan_id, s.loan_id) || ': accrual total ' || coalesce(a.interest, 0)::text || ' interest, '
       || coalesce(a.fee, 0)::text || ' fees; its accrual transactions ' || coalesce(s.interest, 0)::text
       || ' interest, ' || coalesce(s.fee, 0)::text || ' fees' AS detail,
       NULL::text AS entry_id, NULL::text AS account_code
  FROM loan_accrual_total a
  FULL JOIN sums s ON s.loan_id = a.loan_id
 WHERE coalesce(a.interest, 0) <> coalesce(s.interest, 0) OR coalesce(a.fee, 0) <> coalesce(s.fee, 0)
 ORDER BY coalesce(a.loan_id, s.loan_id) LIMIT 10
"""),
    ("loan-shared-entry-equals-shares", """
WITH shares AS (
    SELECT entry_id, account_id, sum(CASE side WHEN 'D' THEN amount ELSE -amount END) AS amount
      FROM loan_entry_share GROUP BY entry_id, account_id
), lines AS (
    SELECT jl.entry_id, jl.account_id, sum(CASE jl.side WHEN 'D' THEN jl.amount ELSE -jl.amount END) AS amount
      FROM journal_line jl WHERE jl.entry_id IN (SELECT entry_id FROM shares)
     GROUP BY jl.entry_id, jl.account_id
)
SELECT 'shared entry ' || coalesce(s.entry_id, l.entry_id) || ' on ' || a.code || ': shares of its loans '
       || coalesce(s.amount, 0)::text || ', lines ' || coalesce(l.amount, 0)::text AS detail,
       coalesce(s.entry_id, l.entry_id)::text AS entry_id, a.code AS account_code
  FROM shares s
  FULL JOIN lines l ON l.entry_id = s.entry_id AND l.account_id = s.account_id
  JOIN gl_account a ON a.id = coalesce(s.account_id, l.account_id)
 WHERE coalesce(s.amount, 0) <> coalesce(l.amount, 0)
 ORDER BY 3 LIMIT 10
"""),
    ("loan-subledger-equals-journal", PER_LOAN_SQL + """
SELECT 'loan ' || r.loan_id || ' on ' || a.code || ' (' || r.currency || ', ' || coalesce(r.components, 'nothing booked')
       || '): transactions ' || r.subledger::text || ', lines of its entries ' || r.general_ledger::text AS detail,
       NULL::text AS entry_id, a.code AS account_code
  FROM per_loan r JOIN gl_account a ON a.id = r.account_id
 WHERE r.subledger <> r.general_ledger
 ORDER BY r.loan_id, a.code LIMIT 10
"""),
    ("loan-portfolio-equals-gl", "SELECT 'loan account ' || account_code || ' (' || currency || '): loans ' "
     "|| subledger::text || ', general ledger ' || general_ledger::text AS detail, NULL::text AS entry_id, "
     "account_code FROM (" + ACCOUNTS_SQL + ") r WHERE exclusive AND subledger <> general_ledger LIMIT 10"),
    ("loan-provisions-equal-gl", PROVISION_CHECK_SQL),
)
"""(check name, SQL answering one row per problem with `detail`, `entry_id` and `account_code`),
run by `grandlivre verify` (servicing/verification.py) in its snapshot."""


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


class LoanReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    """Loans of one product, currency, booked classification and term bucket, on one account."""

    product_id: int
    product_name: str
    currency: str
    classification: str | None
    term: str | None
    component: str
    """principal, interest, fee or penalty (joined by + when a product maps two on one account);
    ``unbooked`` for lines the loans' entries left on an account where nothing of theirs is booked."""
    account_code: str
    loans: int
    subledger: Decimal
    general_ledger: Decimal
    """The lines of these loans' own entries on the account."""
    difference: Decimal


class LoanAccountRow(msgspec.Struct, frozen=True, kw_only=True):
    """One GL account holding loan balances: the loans on it next to its balance."""

    account_code: str
    currency: str
    loans: int
    subledger: Decimal
    general_ledger: Decimal
    """The account's balance (every posting on it)."""
    exclusive: bool
    """Used by loans alone; when false, other postings belong there and no difference is computed."""
    difference: Decimal | None


class LoanReconciliation(msgspec.Struct, frozen=True, kw_only=True):
    balanced: bool
    """No difference in any row or on any account used by loans alone."""
    rows: tuple[LoanReconciliationRow, ...]
    accounts: tuple[LoanAccountRow, ...]


async def loan_reconciliation(uow: UnitOfWork) -> LoanReconciliation:
    async with uow:
        products = (await uow.session.execute(text(PRODUCTS_SQL))).all()
        accounts = (await uow.session.execute(text(ACCOUNTS_SQL))).all()
    rows = tuple(LoanReconciliationRow(
        product_id=r.product_id, product_name=r.product_name, currency=r.currency.strip(),
        classification=r.classification, term=r.term, component=r.components or "unbooked",
        account_code=r.account_code, loans=r.loans, subledger=_plain(r.subledger),
        general_ledger=_plain(r.general_ledger), difference=_plain(r.general_ledger - r.subledger))
        for r in products if r.product_id is not None or r.general_ledger != 0)
    orphans = [r for r in products if r.product_id is None and r.general_ledger != 0]
    account_rows = tuple(LoanAccountRow(
        account_code=r.account_code, currency=r.currency.strip(), loans=r.loans, subledger=_plain(r.subledger),
        general_ledger=_plain(r.general_ledger), exclusive=r.exclusive,
        difference=_plain(r.general_ledger - r.subledger) if r.exclusive else None) for r in accounts)
    balanced = (not orphans and all(row.difference == 0 for row in rows)
                and all(not a.difference for a in account_rows))
    return LoanReconciliation(balanced=balanced, rows=rows, accounts=account_rows)


RECONCILIATION_CSV: Final = ("section", "product_id", "product_name", "currency", "classification", "term",
                             "component", "account_code", "loans", "subledger", "general_ledger", "difference",
                             "exclusive")


def reconciliation_rows(report: LoanReconciliation) -> list[tuple[Any, ...]]:
    """The CSV rows: one per product row, then one per account."""
    out: list[tuple[Any, ...]] = [
        ("product", r.product_id, r.product_name, r.currency, r.classification, r.term, r.component, r.account_code,
         r.loans, r.subledger, r.general_ledger, r.difference, None) for r in report.rows]
    out += [("account", None, None, a.currency, None, None, None, a.account_code, a.loans, a.subledger,
             a.general_ledger, a.difference, a.exclusive) for a in report.accounts]
    return out


# --------------------------------------------------------------------------- the earlier, narrower reports

class PortfolioReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    account_code: str
    currency: str
    product_ids: tuple[int, ...]
    loans: int
    subledger: Decimal
    general_ledger: Decimal
    difference: Decimal


async def portfolio_reconciliation(uow: UnitOfWork) -> list[PortfolioReconciliationRow]:
    """Per portfolio account and currency: the loans' principal outstanding next to the
    account's balance (the principal rows of `loan_reconciliation`, by account)."""
    sql = PER_LOAN_SQL + """
SELECT a.code AS account_code, r.currency, array_agg(DISTINCT r.product_id ORDER BY r.product_id) AS product_ids,
       count(DISTINCT r.loan_id) AS loans, sum(r.subledger) AS subledger,
       coalesce((SELECT b.debit_total - b.credit_total FROM account_balance b
                  WHERE b.account_id = r.account_id AND b.currency = r.currency), 0) AS general_ledger
  FROM per_loan r JOIN gl_account a ON a.id = r.account_id
 WHERE r.components LIKE '%principal%'
 GROUP BY a.code, r.account_id, r.currency ORDER BY a.code, r.currency"""
    async with uow:
        found = (await uow.session.execute(text(sql))).all()
    return [PortfolioReconciliationRow(
        account_code=r.account_code, currency=r.currency.strip(), product_ids=tuple(r.product_ids), loans=r.loans,
        subledger=_plain(r.subledger), general_ledger=_plain(r.general_ledger),
        difference=_plain(r.general_ledger - r.subledger)) for r in found]


class ReceivableReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    role: str
    account_code: str
    currency: str
    subledger: Decimal
    general_ledger: Decimal
    difference: Decimal


async def receivables_reconciliation(uow: UnitOfWork) -> list[ReceivableReconciliationRow]:
    """Under accrual rules: interest, fees and penalties receivable of the loans next to the
    balances of the accounts the products map for them (accounts shared by products summed)."""
    roles = dict(RECONCILED_ROLES)
    sql = PER_LOAN_SQL + """
SELECT a.code AS account_code, r.currency, r.components, sum(r.subledger) AS subledger,
       coalesce((SELECT b.debit_total - b.credit_total FROM account_balance b
                  WHERE b.account_id = r.account_id AND b.currency = r.currency), 0) AS general_ledger
  FROM per_loan r JOIN gl_account a ON a.id = r.account_id
 WHERE r.components IS NOT NULL AND r.components NOT LIKE '%principal%'
 GROUP BY a.code, r.account_id, r.currency, r.components ORDER BY a.code, r.currency"""
    async with uow:
        found = (await uow.session.execute(text(sql))).all()
    return [ReceivableReconciliationRow(
        role="+".join(roles[c] for c in r.components.split("+")), account_code=r.account_code,
        currency=r.currency.strip(), subledger=_plain(r.subledger), general_ledger=_plain(r.general_ledger),
        difference=_plain(r.general_ledger - r.subledger)) for r in found]
