"""Refund of an overpayment: money a borrower paid beyond everything owed sits on the
overpayment liability; it goes back to them by a payment type (cash, mobile money...) or to
their deposit account, as one `overpayment_refund` transaction and one journal entry
(event `overpayment_refund`: debit the overpayment liability, credit the fund source or, to a
deposit account, its deposit-control account).

What can be refunded is derived, never stored (`servicing.loans.overpayments`). Same lock, idempotency and value-date rules as
every loan movement (`servicing.loans.movements`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec
from sqlalchemy import func

from ledger.money import check_amount
from products.events import EventPart, LoanClassification, ProductEvent
from products.posting_rules import Component, EventKind
from servicing.errors import Conflict, InvalidInput
from servicing.loans.applications import get_product_in
from servicing.loans.db.tables import LoanTransactionRow
from servicing.loans.model import FundsChannel, LoanStatus, LoanTransaction
from servicing.loans.movements import (
    _book,
    _check_value_date,
    _fingerprint,
    _fund_source,
    _history,
    _locked,
    _plain,
    _replayed,
    to_transaction,
)
from servicing.loans.overpayments import REFUND_KIND, overpayment_held
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

KIND = REFUND_KIND


class RefundOverpayment(msgspec.Struct, frozen=True, kw_only=True):
    value_date: date
    amount: Decimal
    channel: FundsChannel
    note: str = ""


async def refund_overpayment(uow_factory: UnitOfWorkFactory, loan_id: int, command: RefundOverpayment, *,
                             actor: str, scope: OfficeScope, idempotency_key: str | None = None,
                             today: date | None = None) -> LoanTransaction:
    """Pay back (part of) the overpayment held for the loan."""
    fingerprint = _fingerprint(command)
    async with uow_factory() as uow:
        row = await _locked(uow, loan_id, scope)
        replay = await _replayed(uow, loan_id, KIND, idempotency_key, fingerprint)
        if replay is not None:
            return replay
        if row.status not in (LoanStatus.ACTIVE.value, LoanStatus.CLOSED.value):
            raise Conflict(f"loan {loan_id} is {row.status}; it holds no overpayment", field="loan_id")
        currency = row.currency.strip()
        check_amount(command.amount, currency, field="amount")
        history = await _history(uow, loan_id)
        _check_value_date(command.value_date, today=today or date.today(),
                          not_before=max(t.value_date for t in history), what="refund")
        held = _plain(overpayment_held(history))
        if command.amount > held:
            raise InvalidInput(f"the loan holds {held} {currency} of overpayment", field="amount")
        product = await get_product_in(uow, row.product_id, row.product_version)
        accounting, payment_type_id, leg = await _fund_source(
            uow, product.accounting, command.channel, deposits=None, loan=row, amount=command.amount, credit=True,
            value_date=command.value_date, actor=actor)
        sequence = history[-1].sequence_number + 1
        event = ProductEvent(kind=EventKind.OVERPAYMENT_REFUND, currency=currency, payment_type_id=payment_type_id,
                             parts=(EventPart(component=Component.AMOUNT, amount=command.amount),))
        entry_id = await _book(uow, accounting, event, loan=row, value_date=command.value_date,
                               description=f"Remboursement trop-perçu prêt n° {loan_id}", actor=actor,
                               sequence=sequence, leg=leg)
        transaction = LoanTransactionRow(
            loan_id=loan_id, sequence_number=sequence, kind=KIND, value_date=command.value_date, currency=currency,
            amount=command.amount, classification=LoanClassification.HEALTHY.value, payment_type_id=payment_type_id,
            receipt_number=command.channel.receipt_number, allocation=[], journal_entry_id=entry_id,
            idempotency_key=idempotency_key, request_fingerprint=fingerprint, created_by=actor)
        uow.session.add(transaction)
        row.updated_at = func.now()
        row.updated_by = actor
        await uow.session.flush()
        await uow.session.refresh(transaction)
        answer = to_transaction(transaction)
        await uow.commit()
    return answer
