"""Disbursement by tranches (M5.1): pay out an approved loan in several parts, each a
disbursement transaction with its own journal entry through the product's rules, and undo
the last one.

Each tranche regenerates the loan's schedule with the schedule engine, from the frozen terms
and the tranches actually paid out (`products.loans.tranches.tranche_terms`), and keeps it on
the loan: the position, the allocation of repayments and the payoff quote use it. Repayments
already made stay allocated: a tranche that would leave one of them paying more than the
regenerated schedule asks is refused (reverse the repayment first). The frozen terms keep the
approved amount and the tranches planned on the application; the sum of the tranches never
exceeds the approved amount, their number the product's maximum, and the principal
outstanding the product's maximum outstanding.

Under accrual upfront, each tranche recognises the interest it adds to the schedule (the
regenerated schedule's interest less what the standing tranches recognised), so the
disbursements' recognised interest always sums to the schedule's; undoing a tranche
reverses its entry, that interest included.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec
from sqlalchemy import func

from ledger.money import check_amount
from products.events import EventPart, ProductEvent
from products.loans.booking import term_bucket, term_months
from products.loans.errors import TermsError
from products.loans.model import Schedule
from products.loans.requirements import LoanRequirements
from products.loans.schedule import generate_schedule
from products.loans.terms import LoanTerms
from products.loans.tranches import (
    DisbursedTranche,
    misfits,
    tranche_fee_charges,
    tranche_terms,
    with_tranche_fees,
)
from products.posting_rules import AccountingRule, Component, EventKind
from servicing.errors import Conflict, InvalidInput
from servicing.loans import deposit_link
from servicing.loans.applications import get_product_in
from servicing.loans.db.tables import LoanRow, LoanTransactionRow
from servicing.loans.model import FundsChannel, LoanStatus, LoanTransaction
from servicing.loans.movements import (
    DepositAccounts,
    _book,
    _booked,
    _check_value_date,
    _fee_charge_ids,
    _fingerprint,
    _fund_source,
    _history,
    _locked,
    _replayed,
    _reverse_transaction,
    to_transaction,
)
from servicing.loans.schedules import Standing, plain, schedule_on, standing
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory


class DisburseTranche(msgspec.Struct, frozen=True, kw_only=True):
    value_date: date
    amount: Decimal
    channel: FundsChannel
    note: str = ""


def _stored(row: LoanRow) -> Schedule | None:
    return msgspec.convert(row.schedule, Schedule) if row.schedule is not None else None


def _regenerated(frozen: LoanTerms, facts: Standing, *, field: str) -> Schedule:
    try:
        return generate_schedule(tranche_terms(frozen, facts.tranches))
    except TermsError as error:
        raise InvalidInput(f"the tranches do not fit the loan's terms: {error.message}", field=field) from error


def _refuse_misfits(schedule: Schedule, facts: Standing) -> None:
    wrong = misfits(schedule, facts.settled, facts.charged)
    if wrong:
        number, component = wrong[0]
        raise Conflict(f"a repayment already paid more {component.value} on instalment {number} than the schedule "
                       "after this tranche asks; reverse it first", field="loan_id")


async def disburse_tranche(uow_factory: UnitOfWorkFactory, loan_id: int, command: DisburseTranche, *, actor: str,
                           scope: OfficeScope, idempotency_key: str | None = None,
                           deposits: DepositAccounts | None = None, today: date | None = None) -> LoanTransaction:
    """Pay out one tranche of an approved (first tranche) or active loan."""
    return await pay_out(uow_factory, loan_id, value_date=command.value_date, amount=command.amount,
                         channel=command.channel, fingerprint=_fingerprint(command), actor=actor, scope=scope,
                         idempotency_key=idempotency_key, deposits=deposits, today=today)


async def pay_out(uow_factory: UnitOfWorkFactory, loan_id: int, *, value_date: date, amount: Decimal | None,
                  channel: FundsChannel, fingerprint: str, actor: str, scope: OfficeScope,
                  idempotency_key: str | None, deposits: DepositAccounts | None, today: date | None
                  ) -> LoanTransaction:
    """One disbursement: a tranche of ``amount``, or (``None``) the whole approved amount in one
    go, on an approved loan only, the tranches planned on the application no longer applying."""
    whole = amount is None
    async with uow_factory() as uow:
        row = await _locked(uow, loan_id, scope)
        replay = await _replayed(uow, loan_id, "disbursement", idempotency_key, fingerprint)
        if replay is not None:
            return replay
        if whole and row.status != LoanStatus.APPROVED.value:
            raise Conflict(f"loan {loan_id} is {row.status}; only an approved loan is disbursed", field="loan_id")
        if row.status not in (LoanStatus.APPROVED.value, LoanStatus.ACTIVE.value):
            raise Conflict(f"loan {loan_id} is {row.status}; tranches are paid out on approved or active loans",
                           field="loan_id")
        currency = row.currency.strip()
        history = await _history(uow, loan_id)
        before = standing(history)
        product = await get_product_in(uow, row.product_id, row.product_version)
        frozen = msgspec.convert(row.terms, LoanTerms)
        approved = plain(row.principal_approved) if row.principal_approved is not None else frozen.principal_amount
        disbursed = sum((t.amount for t in before.tranches), Decimal(0))
        if amount is None:
            amount = approved - disbursed
            frozen = msgspec.structs.replace(frozen, tranches=())
        check_amount(amount, currency, field="amount")
        if disbursed + amount > approved:
            raise InvalidInput(f"{disbursed} of the {approved} approved is paid out; at most {approved - disbursed} "
                               "more", field="amount")
        multi = product.multi_disbursement
        if multi is None and amount != approved:
            raise InvalidInput(f"the product disburses in one go: the approved {approved}", field="amount")
        if multi is not None and len(before.tranches) + 1 > multi.tranches_max:
            raise InvalidInput(f"the product allows at most {multi.tranches_max} tranches", field="amount")
        repaid = sum((p.amount for p in before.repaid), Decimal(0))
        if multi is not None and multi.outstanding_max is not None \
                and disbursed - repaid + amount > multi.outstanding_max:
            raise InvalidInput(f"principal outstanding would exceed the product's maximum {multi.outstanding_max}",
                               field="amount")
        _check_value_date(value_date, today=today or date.today(), not_before=before.last_value_date,
                          what="disbursement" if whole else "tranche")
        close = product.identity.close_date
        if close is not None and value_date >= close:
            raise InvalidInput(f"the product closed on {close}; no disbursement after it", field="value_date")
        if not before.tranches:
            frozen = msgspec.structs.replace(frozen, disbursement_date=value_date)
        after = msgspec.structs.replace(before, tranches=(
            *before.tranches, DisbursedTranche(value_date=value_date, amount=amount)))
        schedule = _regenerated(frozen, after, field="value_date")
        previous = _regenerated(frozen, before, field="value_date") if before.tranches else None
        upfront = product.accounting.rule is AccountingRule.ACCRUAL_UPFRONT
        recognised = sum((t.interest for t in history if t.kind == "disbursement"), Decimal(0)) - sum(
            (t.interest for t in history if t.kind == "disbursement_reversal"), Decimal(0))
        interest_added = schedule.totals.interest_amount - (previous.totals.interest_amount if previous else 0)
        to_recognise = schedule.totals.interest_amount - recognised if upfront else Decimal(0)
        if to_recognise < 0:
            raise InvalidInput("this tranche would lower the interest already recognised", field="amount")
        fees = tranche_fee_charges(frozen, tranche_date=value_date, amount=amount, loan_amount=approved,
                                   first=not before.tranches, interest_added=interest_added)
        stored = _stored(row)
        earlier_fees = tuple(c for c in (stored.fee_charges if stored else ()) if c.instalment_number == 0)
        schedule = with_tranche_fees(schedule, (*earlier_fees, *fees))
        charge_ids = await _fee_charge_ids(uow, product)
        parts = [EventPart(component=Component.PRINCIPAL, amount=amount)]
        parts += [EventPart(component=Component.FEE, amount=fee.amount, charge_id=charge_ids.get(fee.name))
                  for fee in fees if fee.amount > 0]
        fee_total = sum((fee.amount for fee in fees), Decimal(0))
        vat_total = sum((fee.vat_amount for fee in fees), Decimal(0))
        if vat_total > 0:
            parts.append(EventPart(component=Component.VAT, amount=vat_total))
        if to_recognise > 0:
            parts.append(EventPart(component=Component.INTEREST, amount=to_recognise))
        accounting, payment_type_id, leg = await _fund_source(
            uow, product.accounting, channel, deposits=deposits, loan=row,
            amount=amount - fee_total - vat_total, credit=True, value_date=value_date, actor=actor)
        if not before.tranches:  # the term bucket is the loan's, fixed at its first disbursement
            row.term_bucket = term_bucket(term_months(value_date, schedule.instalments[-1].due_date),
                                          product.term_buckets).value
        sequence = max((t.sequence_number for t in history), default=0) + 1
        event = ProductEvent(kind=EventKind.DISBURSEMENT, currency=currency, parts=tuple(parts),
                             payment_type_id=payment_type_id, **_booked(row))
        what = "Décaissement" if whole else f"Décaissement tranche {len(before.tranches) + 1}"
        entry_id = await _book(uow, accounting, event, loan=row, value_date=value_date,
                               description=f"{what} prêt n° {loan_id}", actor=actor, sequence=sequence, leg=leg)
        if not before.tranches:
            await deposit_link.loan_disbursed(uow, row, msgspec.convert(row.requirements, LoanRequirements), leg,
                                              on=value_date, actor=actor)
        elif leg is not None:
            await deposit_link.link(uow, row.id, leg.account_id, on=value_date, actor=actor)
        transaction = LoanTransactionRow(
            loan_id=loan_id, sequence_number=sequence, kind="disbursement", value_date=value_date,
            currency=currency, amount=amount, principal=amount, interest=to_recognise,
            fee=fee_total, vat=vat_total, classification=row.booked_classification,
            payment_type_id=payment_type_id, receipt_number=channel.receipt_number, allocation=[],
            journal_entry_id=entry_id, idempotency_key=idempotency_key, request_fingerprint=fingerprint,
            created_by=actor)
        uow.session.add(transaction)
        await uow.session.flush()
        schedule = schedule_on(frozen, schedule, product, [*history, transaction], value_date)
        _refuse_misfits(schedule, after)
        row.terms = msgspec.to_builtins(frozen)
        row.schedule = msgspec.to_builtins(schedule)
        row.status = LoanStatus.ACTIVE.value
        row.disbursed_on = row.disbursed_on or value_date
        row.updated_at = func.now()
        row.updated_by = actor
        await uow.session.flush()
        await uow.session.refresh(transaction)
        answer = to_transaction(transaction)
        await uow.commit()
    return answer


async def undo_last_tranche(uow_factory: UnitOfWorkFactory, loan_id: int, *, actor: str,
                            scope: OfficeScope, whole: bool = False) -> LoanTransaction:
    """Reverse the last tranche (its entry: principal, fees, VAT and, under upfront accrual,
    the interest it recognised) while no repayment, charge or waiver stands after it; the
    schedule is regenerated from the tranches left (none left: the loan is approved again).
    ``whole``: undo of a disbursement in one go, refused on a loan paid out in tranches."""
    async with uow_factory() as uow:
        row = await _locked(uow, loan_id, scope)
        if row.status != LoanStatus.ACTIVE.value:
            raise Conflict(f"loan {loan_id} is {row.status}; only an active loan's tranche is undone", field="loan_id")
        history = await _history(uow, loan_id)
        reversed_ids = {t.reverses_transaction_id for t in history if t.reverses_transaction_id is not None}
        kept = [t for t in history if t.id not in reversed_ids and t.reverses_transaction_id is None]
        paid_out = [t for t in kept if t.kind == "disbursement"]
        if whole and len(paid_out) > 1:
            raise Conflict("the loan was paid out in tranches: undo the last one (POST .../tranches/undo)",
                           field="loan_id")
        last = paid_out[-1]
        if any(t.sequence_number > last.sequence_number for t in kept):
            raise Conflict("repayments, charges or waivers stand after the last tranche; reverse them first",
                           field="loan_id")
        reversal = await _reverse_transaction(uow, last, kind="disbursement_reversal",
                                              sequence=history[-1].sequence_number + 1, actor=actor,
                                              description=f"Annulation {'décaissement' if whole else 'tranche'} "
                                                          f"prêt n° {loan_id}")
        rest = [*history, reversal]
        facts = standing(rest)
        if not facts.tranches:
            await deposit_link.release_loan_holds(uow, loan_id, on=last.value_date, actor=actor)
            row.status = LoanStatus.APPROVED.value
            row.schedule = None
            row.disbursed_on = None
        else:
            frozen = msgspec.convert(row.terms, LoanTerms)
            product = await get_product_in(uow, row.product_id, row.product_version)
            stored = _stored(row)
            assert stored is not None
            kept_fees = [c for c in stored.fee_charges if c.instalment_number == 0
                         and not (c.due_date == last.value_date and not any(
                             t.value_date == last.value_date for t in facts.tranches))]
            schedule = with_tranche_fees(_regenerated(frozen, facts, field="loan_id"), kept_fees)
            schedule = schedule_on(frozen, schedule, product, rest, last.value_date)
            _refuse_misfits(schedule, facts)
            row.schedule = msgspec.to_builtins(schedule)
        row.updated_at = func.now()
        row.updated_by = actor
        await uow.session.flush()
        await uow.session.refresh(reversal)
        answer = to_transaction(reversal)
        await uow.commit()
    return answer
