"""Seed 002's « reprise remb. »: the provision release posted with a repayment itself.

Separate from `servicing.loans.provisions` because it reads the sub-ledger
(`servicing.loans.reconciliation`), which itself names the provisions check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from ledger.model import Reference
from ledger.money import normalize_amount
from products.accounting import build_entry
from products.events import LoanClassification, TermBucket
from products.loans.product import LoanProduct
from products.loans.provisioning import ProvisionMovement, provision_base, release_on_repayment
from products.posting_rules import LOAN_RECEIVABLE_RULES, EventKind, ProductKind
from products.rounding import compile_rounding
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.loans.provisions import (
    ProvisionMovementRow,
    booked_provisions,
    guarantee_deposits,
    record_movements,
)
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.unit_of_work import UnitOfWork


def provisions_interest(product: LoanProduct) -> bool:
    """The product provisions the interest receivable too (only accrual rules book one)."""
    return product.provision_includes_interest and product.accounting.rule in LOAN_RECEIVABLE_RULES


async def release_with_repayment(uow: UnitOfWork, loan: Any, product: LoanProduct, *,
                                 principal_repaid: Decimal, value_date: date, sequence: int, actor: str) -> None:
    """Seed 002's « reprise remb. » (credit parameters `recovery_entries_on_repayment`): with
    the repayment, in its transaction, release the provision the principal left no longer
    requires at the loan's current rate (`products.loans.provisioning.release_on_repayment`).
    Nothing when no provision is booked for the loan under its class, which is most repayments:
    one indexed read. Under the switch off, the evening's `loan_provisioning` releases it.
    Called once the repayment's loan transaction is written (the sub-ledger read includes it)."""
    if principal_repaid <= 0:
        return
    classification = LoanClassification(loan.booked_classification)
    booked = (await booked_provisions(uow, [loan.id])).get(loan.id, {}).get(classification, Decimal(0))
    if booked <= 0 or not await _release_on_repayment_enabled(uow):
        return
    currency = loan.currency.strip()
    state = (await uow.session.execute(text(
        "SELECT provision_rate_percent, bucket_label FROM loan_arrears_state WHERE loan_id = :id"),
        {"id": loan.id})).one_or_none()
    if state is None:
        return
    outstanding = (await uow.session.execute(text(SUBLEDGER_BY_LOAN_SQL), {"ids": [loan.id]})).one()
    held = (await guarantee_deposits(uow, [loan.id])).get(loan.id, Decimal(0))
    # The same base as the evening's provisioning step, or each repayment would release what it books again.
    base_after = provision_base(principal_outstanding=max(Decimal(outstanding.principal), Decimal(0)),
                                interest_receivable=max(Decimal(outstanding.interest), Decimal(0)),
                                include_interest=provisions_interest(product), guarantee_deposits=held)
    released = release_on_repayment(normalize_amount(booked, currency), base_after=base_after,
                                    rate_percent=Decimal(state.provision_rate_percent),
                                    rounder=compile_rounding(product.rounding, currency))
    if released <= 0:
        return
    term = TermBucket(loan.term_bucket or TermBucket.SHORT.value)
    event = ProvisionMovement(kind=EventKind.PROVISION_REVERSAL, classification=classification,
                              amount=released).event(currency, term=term)
    entry = build_entry(ProductKind.LOAN, product.accounting, event, entry_id=uuid7(), office_id=loan.office_id,
                        value_date=value_date, actor=actor, description=f"Reprise de provision au remboursement, "
                        f"prêt n° {loan.id}", reference=Reference(source_type="loan-provisioning",
                                                                   source_id=f"repayment/{loan.id}/{sequence}"))
    if entry is not None:
        await book_entries(uow, [entry])
    await record_movements(uow, [ProvisionMovementRow(
        loan_id=loan.id, business_date=value_date, office_id=loan.office_id, product_id=loan.product_id,
        product_version=loan.product_version, currency=currency, classification=classification.value,
        term=term.value, kind="release", amount=released, required=normalize_amount(booked - released, currency),
        rate_percent=Decimal(state.provision_rate_percent), bucket_label=state.bucket_label,
        journal_entry_id=entry.entry_id if entry is not None else None)], actor)


async def _release_on_repayment_enabled(uow: UnitOfWork) -> bool:
    enabled = await uow.session.scalar(text(
        "SELECT recovery_entries_on_repayment FROM credit_parameters ORDER BY version DESC LIMIT 1"))
    return bool(enabled)
