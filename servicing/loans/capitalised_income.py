"""The cash rule's capitalised-income deferral, released as the borrower repays.

A rescheduling that capitalises overdue interest or penalties under the cash rule posts Dr
portfolio / Cr capitalised income deferred (2074 in the SFD chart): the amount is principal now,
never income before it is collected. Each later repayment's principal carries its share of what
is still deferred (`products.loans.rescheduling.capitalised_income_released`), released to
income in the repayment's own entry (``REPAYMENT`` with ``CAPITALISED_INTEREST`` /
``CAPITALISED_PENALTY`` parts); a write-off clears what remains against the principal it takes
out (``WRITE_OFF``), so it is not charged to losses. Posting rules decide: the accrual rules
capitalise receivables, defer nothing, and have no such rows.

What is still deferred is read from the journal: the loan's own entries' lines on the product's
deferral account (the rescheduling credits it, releases debit it, a repayment's reversal mirrors
its release), so nothing is kept that could drift from the books.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import text

from products.loans.product import LoanProduct
from products.loans.rescheduling import DeferralRelease, capitalised_income_released
from products.posting_rules import AccountingRole, Component, EventKind, ProductKind, rule_table
from products.rounding import compile_rounding
from servicing.loans.reconciliation import SUBLEDGER_SIGNS
from servicing.unit_of_work import UnitOfWork

_ZERO: Final = Decimal(0)

_DEFERRED = text("""
    SELECT t.loan_id, sum(CASE jl.side WHEN 'C' THEN jl.amount ELSE -jl.amount END) AS deferred
      FROM loan_transaction t
      JOIN journal_line jl ON jl.entry_id = t.journal_entry_id
      JOIN gl_account a ON a.id = jl.account_id
     WHERE t.loan_id = ANY(CAST(:loans AS int[])) AND a.code = :code
     GROUP BY t.loan_id
""")


def _capitalised(history: Sequence[Any]) -> tuple[Decimal, Decimal]:
    """Interest and penalties the loan's reschedulings capitalised."""
    rows = [t for t in history if t.kind == "rescheduling"]
    return sum((Decimal(t.interest) for t in rows), _ZERO), sum((Decimal(t.penalty) for t in rows), _ZERO)


def principal_outstanding(history: Sequence[Any]) -> Decimal:
    """The principal the loan's transactions leave outstanding (the sub-ledger's signs)."""
    signs = SUBLEDGER_SIGNS["principal"]
    return sum((signs.get(t.kind, 0) * Decimal(t.principal) for t in history), _ZERO)


def releases(product: LoanProduct, event: EventKind = EventKind.REPAYMENT) -> bool:
    """Whether the product's posting rules release the deferral on ``event`` (the cash rule's table)."""
    return (event, Component.CAPITALISED_INTEREST) in rule_table(ProductKind.LOAN, product.accounting.rule)


def capitalises(history: Sequence[Any]) -> bool:
    return any(t.kind == "rescheduling" and (t.interest > 0 or t.penalty > 0) for t in history)


async def deferred_of(uow: UnitOfWork, loan_ids: Sequence[int], code: str) -> dict[int, Decimal]:
    """What the loans' own entries leave on the deferral account ``code`` (credit balance)."""
    rows = (await uow.session.execute(_DEFERRED, {"loans": list(loan_ids), "code": code})).all()
    return {row.loan_id: Decimal(row.deferred) for row in rows}


def release_of(loan: Any, product: LoanProduct, history: Sequence[Any], deferred: Decimal, *,
               principal_paid: Decimal, event: EventKind = EventKind.REPAYMENT) -> DeferralRelease | None:
    """What ``event`` (a repayment of ``principal_paid`` of principal, or a write-off of all of
    it) releases of the ``deferred`` amount; None when nothing. ``history``: the loan's
    transactions before the event (they carry what its reschedulings capitalised)."""
    interest, penalties = _capitalised(history)
    before = principal_outstanding(history)
    release = capitalised_income_released(
        capitalised_interest=interest, capitalised_penalties=penalties, released=interest + penalties - deferred,
        principal_before=before, principal_repaid=before if event is EventKind.WRITE_OFF else principal_paid,
        rounder=compile_rounding(product.rounding, loan.currency.strip()))
    return release if release.total > 0 else None


async def deferral_release(uow: UnitOfWork, loan: Any, product: LoanProduct, history: Sequence[Any], *,
                           principal_paid: Decimal, event: EventKind = EventKind.REPAYMENT) -> DeferralRelease | None:
    """`release_of` with what is deferred read from the journal; None at once (no read) when the
    product's rules release nothing or the loan capitalised nothing."""
    code = product.accounting.accounts.get(AccountingRole.CAPITALISED_INCOME_DEFERRED)
    if code is None or not releases(product, event) or not capitalises(history):
        return None
    deferred = (await deferred_of(uow, [loan.id], code)).get(loan.id, _ZERO)
    return release_of(loan, product, history, deferred, principal_paid=principal_paid, event=event)
