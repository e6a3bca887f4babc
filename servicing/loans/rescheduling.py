"""Rescheduling a loan (« rééchelonnement »): one unit of work per plan.

The loan is locked, the switches of the credit parameters in force and the product's ranges
decide whether the plan is allowed (`products.loans.rescheduling.rescheduling_refusals`, every
refusal naming its field), the new terms come from `rescheduled_terms` and the new plan from the
schedule engine the loan used at disbursement (`generate_schedule`). The loan's schedule becomes
the old one cut on the date followed by the new plan (`rescheduled_schedule`): repayments,
charges and waivers already recorded keep their instalments, and every later position, arrears
ageing, payoff quote and statement reads that schedule. What the plan capitalises is one loan
transaction of kind ``rescheduling`` (its amount: the principal the new plan schedules; its
allocation settles the old interest and penalties, its principal is what they became) with ONE journal entry through the product's posting rules
(``RESCHEDULING``). The plan itself, with the terms and schedule it replaced, is kept in
`loan_rescheduling`; the loan is flagged (``rescheduled_on``) so the close of business ages it on
the rescheduled-loans grid from then on; a ``loan.rescheduled`` outbox event announces it, all in
the same transaction. A preview runs the same checks and computations and writes nothing.

Not handled (refused with a 409 naming the loan): products with interest recalculation (their
schedule is re-derived from the contract terms on every movement) and upfront accrual (the
interest recognised at disbursement would need restating), and loans with tranches still to pay
out.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Final
from uuid import UUID

import msgspec
from sqlalchemy import func, select, text

from ledger.periods import check_open
from products.accounting import posting_lines
from products.errors import PostingError
from products.events import LoanClassification, ProductEvent
from products.loans.derivation import cycle_variation
from products.loans.errors import TermsError
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.loans.rescheduling import (
    ReschedulingPlan,
    ReschedulingRequest,
    ReschedulingSwitches,
    capitalisation_event,
    capitalisation_lines,
    cut_schedule,
    loan_standing,
    rescheduled_schedule,
    rescheduled_terms,
    rescheduling_refusals,
)
from products.loans.schedule import generate_schedule
from products.loans.terms import LoanTerms
from products.loans.validation import validate_terms
from products.posting_rules import AccountingRule, Component, ProductKind
from products.rounding import Rounder
from servicing.errors import Conflict, InvalidInput
from servicing.loans.applications import get_product_in, load_row
from servicing.loans.db.tables import LoanReschedulingRow, LoanRow, LoanTransactionRow
from servicing.loans.model import LoanStatus, LoanTransaction
from servicing.loans.movements import (
    IdempotencyMismatch,
    _book,
    _booked,
    _fingerprint,
    _history,
    _lines,
    _position,
    _settled,
    is_doubtful,
    to_transaction,
)
from servicing.loans.restatement import last_closed_day
from servicing.loans.schedules import plain, standing
from servicing.outbox import OutboxEvent, record_events
from servicing.reference.queries import credit_parameters_in_force
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

KIND: Final = "rescheduling"
RESCHEDULINGS_LISTED_MAX: Final = 1_000

_REQUEST_FIELDS: Final = {"repayment_count", "interest_rate_percent", "grace_on_principal_periods",
                          "first_repayment_date"}
"""Terms a request sets: a schedule engine refusal on them names the request's field."""


class Reschedule(msgspec.Struct, frozen=True, kw_only=True):
    """A rescheduling plan as the loan officer asks it (see `ReschedulingRequest`)."""

    rescheduled_on: date
    repayment_count: int | None = None
    interest_rate_percent: Decimal | None = None
    grace_on_principal_periods: int = 0
    first_repayment_date: date | None = None
    capitalise_interest: bool = False
    capitalise_penalties: bool = False
    note: str = ""

    def request(self) -> ReschedulingRequest:
        return ReschedulingRequest(
            rescheduled_on=self.rescheduled_on, repayment_count=self.repayment_count,
            interest_rate_percent=self.interest_rate_percent,
            grace_on_principal_periods=self.grace_on_principal_periods,
            first_repayment_date=self.first_repayment_date, capitalise_interest=self.capitalise_interest,
            capitalise_penalties=self.capitalise_penalties)


class Rescheduling(msgspec.Struct, frozen=True, kw_only=True):
    """A plan: previewed (``rescheduling_id`` None, nothing written) or recorded."""

    rescheduling_id: int | None
    loan_id: int
    rescheduled_on: date
    currency: str
    principal_outstanding: Decimal
    """Principal still unpaid on the date, before capitalisation."""
    capitalised_interest: Decimal
    capitalised_penalties: Decimal
    interest_carried: Decimal
    """Interest due by the date and not capitalised: still owed on the old instalments, collected first."""
    penalties_carried: Decimal
    new_principal: Decimal
    previous_terms: LoanTerms
    new_terms: LoanTerms
    new_plan: Schedule
    """The new plan alone, as the schedule engine gives it (its instalments numbered from 1)."""
    schedule: Schedule
    """The loan's schedule from the date on: the old one cut on the date, then the new plan."""
    note: str = ""
    transaction: LoanTransaction | None = None
    journal_entry_id: UUID | None = None
    """The capitalisation's entry (None when nothing was capitalised, or the product posts nothing)."""
    created_at: datetime | None = None
    created_by: str | None = None


class ReschedulingSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One plan of the history, with the schedule it replaced."""

    rescheduling: Rescheduling
    previous_schedule: Schedule


class ReschedulingRefused(InvalidInput):
    """The institution's switches or the product refuse the plan: every reason, each naming its field."""

    code = "rescheduling-refused"

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(p["message"] for p in problems), field=problems[0]["field"])
        self.problems = problems


def _rounder(terms: LoanTerms) -> Rounder:
    """The product's rounding of amounts (decimals and mode), as the schedule rounds each period's interest."""
    return Rounder(decimals=validate_terms(terms), mode=terms.rounding.mode, multiple=terms.rounding.in_multiples_of)


async def _classification(uow: UnitOfWork, row: LoanRow, doubtful_by_days: bool) -> LoanClassification:
    """Doubtful when booked so, graded so by the last close of business, or overdue past the
    product's days to NPA today; else healthy."""
    graded = await uow.session.scalar(text("SELECT classification FROM loan_arrears_state WHERE loan_id = :id"),
                                      {"id": row.id})
    if LoanClassification.DOUBTFUL.value in (row.booked_classification, graded) or doubtful_by_days:
        return LoanClassification.DOUBTFUL
    return LoanClassification(row.booked_classification)


async def _check_dates(uow: UnitOfWork, row: LoanRow, on: date, *, today: date, last_value_date: date | None) -> None:
    if on > today:
        raise InvalidInput(f"a rescheduling cannot be dated in the future (today is {today})", field="rescheduled_on")
    if last_value_date is not None and on < last_value_date:
        raise InvalidInput(f"a rescheduling cannot be dated before {last_value_date}, the loan's last transaction",
                           field="rescheduled_on")
    # The loan's office's closed days (as repayments and restatements read them): another office
    # closing ahead does not freeze this one's loans.
    closed_day = await last_closed_day(uow, row.office_id)
    if closed_day is not None and on <= closed_day:
        raise InvalidInput(f"the office's business days are closed through {closed_day}: a rescheduling is dated "
                           "after it",
                           field="rescheduled_on")
    closed = await uow.session.scalar(text(
        "SELECT max(c.closing_date) FROM accounting_closure c JOIN office o ON c.office_id = ANY(o.lineage) "
        "WHERE o.id = :office AND c.undone_at IS NULL"), {"office": row.office_id})
    check_open(on, closed, field="rescheduled_on")


def _product_ranges(product: LoanProduct, cycle: int, command: Reschedule) -> list[dict[str, str]]:
    """The product's (or the borrower's cycle's) ranges of instalments and rate."""
    variation = cycle_variation(product, cycle) if product.track_loan_cycle else None
    count_range = variation.repayment_count if variation and variation.repayment_count else product.repayment_count
    rate_range = (variation.interest_rate_percent if variation and variation.interest_rate_percent
                  else product.interest_rate_percent)
    problems = []
    for field, value, low, high in (("repayment_count", command.repayment_count, count_range.minimum,
                                     count_range.maximum),
                                    ("interest_rate_percent", command.interest_rate_percent, rate_range.minimum,
                                     rate_range.maximum)):
        if value is not None and low is not None and value < low:
            problems.append({"field": field, "message": f"must be at least {low} (product)"})
        if value is not None and high is not None and value > high:
            problems.append({"field": field, "message": f"must be at most {high} (product)"})
    return problems


def _refuse_unsupported(loan_id: int, product: LoanProduct, row: LoanRow, history: list[LoanTransactionRow]) -> None:
    if product.interest_recalculation:
        raise Conflict(f"loan {loan_id}'s product recalculates interest on the actual principal: its loans are "
                       "not rescheduled here", field="loan_id")
    if product.accounting.rule is AccountingRule.ACCRUAL_UPFRONT:
        raise Conflict(f"loan {loan_id}'s product recognises the whole interest at disbursement (upfront accrual): "
                       "its loans are not rescheduled here", field="loan_id")
    disbursed = sum((t.amount for t in standing(history).tranches), Decimal(0))
    if row.principal_approved is not None and disbursed < plain(row.principal_approved):
        raise Conflict(f"loan {loan_id} has tranches still to pay out ({disbursed} of {plain(row.principal_approved)}"
                       "): pay them out first", field="loan_id")


def _record(row: LoanReschedulingRow, currency: str, transaction: LoanTransactionRow | None) -> Rescheduling:
    new_terms = msgspec.convert(row.new_terms, LoanTerms)
    return Rescheduling(
        rescheduling_id=row.id, loan_id=row.loan_id, rescheduled_on=row.rescheduled_on, currency=currency,
        principal_outstanding=plain(row.principal_outstanding), capitalised_interest=plain(row.capitalised_interest),
        capitalised_penalties=plain(row.capitalised_penalties), interest_carried=plain(row.interest_carried),
        penalties_carried=plain(row.penalties_carried), new_principal=new_terms.principal_amount,
        previous_terms=msgspec.convert(row.previous_terms, LoanTerms), new_terms=new_terms,
        new_plan=generate_schedule(new_terms), schedule=msgspec.convert(row.new_schedule, Schedule),
        note=str(row.request.get("note", "")),
        transaction=to_transaction(transaction) if transaction is not None else None,
        journal_entry_id=transaction.journal_entry_id if transaction is not None else None,
        created_at=row.created_at, created_by=row.created_by)


async def _replayed(uow: UnitOfWork, row: LoanRow, history: list[LoanTransactionRow], key: str | None,
                    fingerprint: str) -> Rescheduling | None:
    if key is None:
        return None
    found = next((t for t in history if t.kind == KIND and t.idempotency_key == key), None)
    if found is None:
        return None
    if found.request_fingerprint != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was used for another request body", field="Idempotency-Key")
    plan = await uow.session.scalar(select(LoanReschedulingRow).where(LoanReschedulingRow.transaction_id == found.id))
    assert plan is not None, found.id
    return _record(plan, row.currency.strip(), found)


async def reschedule(uow_factory: UnitOfWorkFactory, loan_id: int, command: Reschedule, *, actor: str,
                     scope: OfficeScope, idempotency_key: str | None = None, preview: bool = False,
                     today: date | None = None) -> Rescheduling:
    """Check, compute and (unless ``preview``) record a rescheduling plan of an active loan."""
    fingerprint = _fingerprint(command)
    async with uow_factory() as uow:
        row = await load_row(uow, loan_id, scope=scope, for_update=not preview)
        history = await _history(uow, loan_id)
        if not preview:
            replay = await _replayed(uow, row, history, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        if row.status != LoanStatus.ACTIVE.value or row.schedule is None:
            raise Conflict(f"loan {loan_id} is {row.status}; only an active loan is rescheduled", field="loan_id")
        product = await get_product_in(uow, row.product_id, row.product_version)
        _refuse_unsupported(loan_id, product, row, history)
        on = command.rescheduled_on
        await _check_dates(uow, row, on, today=today or date.today(),
                           last_value_date=max((t.value_date for t in history), default=None))
        current_terms = msgspec.convert(row.terms, LoanTerms)
        old = msgspec.convert(row.schedule, Schedule)
        settled, charged = _settled(history), _lines(history, "charge")
        rounder = _rounder(current_terms)
        doubtful = is_doubtful(product, _position(old, history, on))
        classification = await _classification(uow, row, doubtful)
        request = command.request()
        standing_on = loan_standing(old, settled, charged, on, rounder, classification)
        parameters = await credit_parameters_in_force(uow.session)
        switches = ReschedulingSwitches.of(parameters[1]) if parameters is not None else ReschedulingSwitches()
        problems = [msgspec.structs.asdict(refusal)
                    for refusal in rescheduling_refusals(request, standing_on, switches)]
        problems += _product_ranges(product, row.loan_cycle, command)
        if problems:
            raise ReschedulingRefused(problems)
        plan = rescheduled_terms(current_terms, request, standing_on)
        try:
            new_plan = generate_schedule(plan.terms)
        except TermsError as error:
            field = error.field if error.field in _REQUEST_FIELDS else f"new_terms.{error.field}"
            raise InvalidInput(error.message, field=field) from error
        cut = cut_schedule(old, settled, charged, on, rounder)
        schedule = rescheduled_schedule(cut, new_plan)
        currency = row.currency.strip()
        event = capitalisation_event(plan, currency, **_booked(row))
        _check_postable(product, event)
        answer = Rescheduling(
            rescheduling_id=None, loan_id=loan_id, rescheduled_on=on, currency=currency,
            principal_outstanding=standing_on.principal_outstanding, capitalised_interest=plan.capitalised_interest,
            capitalised_penalties=plan.capitalised_penalties, interest_carried=plan.interest_carried,
            penalties_carried=plan.penalties_carried, new_principal=plan.terms.principal_amount,
            previous_terms=current_terms, new_terms=plan.terms, new_plan=new_plan, schedule=schedule,
            note=command.note)
        if preview:
            return answer
        answer = await _write(uow, row, history, command, plan, event, old=old, cut=cut, schedule=schedule,
                              answer=answer, actor=actor, key=idempotency_key, fingerprint=fingerprint)
        await uow.commit()
    return answer


def _check_postable(product: LoanProduct, event: ProductEvent | None) -> None:
    """Refuse before writing (and in a preview) when the product cannot post the capitalisation,
    e.g. a cash product without its capitalised-income account: the request's switch is named."""
    if event is None:
        return
    try:
        posting_lines(ProductKind.LOAN, product.accounting, event)
    except PostingError as error:
        field = ("capitalise_interest" if any(p.component is Component.INTEREST for p in event.parts)
                 else "capitalise_penalties")
        raise InvalidInput(f"the product cannot post the capitalisation ({error.field}: {error.message}): map the "
                           "account or do not capitalise", field=field) from error


async def _write(uow: UnitOfWork, row: LoanRow, history: list[LoanTransactionRow], command: Reschedule,
                 plan: ReschedulingPlan, event: ProductEvent | None, *, old: Schedule, cut: Schedule, schedule: Schedule,
                 answer: Rescheduling, actor: str, key: str | None, fingerprint: str) -> Rescheduling:
    """The loan transaction with its entry, the plan kept for history, the loan's new schedule,
    terms and flag, and the outbox event: one transaction, the caller commits."""
    sequence = max(t.sequence_number for t in history) + 1
    on = command.rescheduled_on
    capitalised = plan.capitalised_interest + plan.capitalised_penalties
    lines = capitalisation_lines(cut, _settled(history), _lines(history, "charge"), on, plan)
    entry_id = None
    if event is not None:
        product = await get_product_in(uow, row.product_id, row.product_version)
        entry_id = await _book(uow, product.accounting, event, loan=row, value_date=on,
                               description=f"Rééchelonnement prêt n° {row.id} : capitalisation", actor=actor,
                               sequence=sequence)
    transaction = LoanTransactionRow(
        loan_id=row.id, sequence_number=sequence, kind=KIND, value_date=on, currency=answer.currency,
        amount=plan.terms.principal_amount, principal=capitalised, interest=plan.capitalised_interest,
        penalty=plan.capitalised_penalties, classification=row.booked_classification,
        allocation=msgspec.to_builtins(lines), journal_entry_id=entry_id, idempotency_key=key,
        request_fingerprint=fingerprint, created_by=actor)
    uow.session.add(transaction)
    await uow.session.flush()
    record = LoanReschedulingRow(
        loan_id=row.id, transaction_id=transaction.id, rescheduled_on=on, request=msgspec.to_builtins(command),
        previous_terms=row.terms, previous_schedule=msgspec.to_builtins(old),
        new_terms=msgspec.to_builtins(plan.terms), new_schedule=msgspec.to_builtins(schedule),
        principal_outstanding=answer.principal_outstanding, capitalised_interest=plan.capitalised_interest,
        capitalised_penalties=plan.capitalised_penalties, interest_carried=plan.interest_carried,
        penalties_carried=plan.penalties_carried, created_by=actor)
    uow.session.add(record)
    row.terms = msgspec.to_builtins(plan.terms)
    row.schedule = msgspec.to_builtins(schedule)
    row.rescheduled_on = on
    row.updated_at = func.now()
    row.updated_by = actor
    await uow.session.flush()
    await uow.session.refresh(record)
    await record_events(uow, [OutboxEvent(
        event_type="loan.rescheduled", subject_type="loan", subject_id=row.id, occurred_on=on,
        dedup_key=f"loan_rescheduled:loan-{row.id}:{record.id}", office_id=row.office_id, payload={
            "loan_id": row.id, "rescheduling_id": record.id, "rescheduled_on": on.isoformat(),
            "currency": answer.currency, "principal_outstanding": str(answer.principal_outstanding),
            "capitalised_interest": str(plan.capitalised_interest),
            "capitalised_penalties": str(plan.capitalised_penalties),
            "new_principal": str(plan.terms.principal_amount), "repayment_count": plan.terms.repayment_count,
            "interest_rate_percent": str(plan.terms.interest_rate_percent), "actor": actor})])
    return msgspec.structs.replace(answer, rescheduling_id=record.id, transaction=to_transaction(transaction),
                                   journal_entry_id=entry_id, created_at=record.created_at, created_by=actor)


async def reschedulings(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope) -> list[ReschedulingSummary]:
    """The loan's plans, oldest first, each with the schedule it replaced."""
    async with uow:
        row = await load_row(uow, loan_id, scope=scope)
        plans = (await uow.session.scalars(select(LoanReschedulingRow).where(
            LoanReschedulingRow.loan_id == loan_id).order_by(LoanReschedulingRow.id)
            .limit(RESCHEDULINGS_LISTED_MAX))).all()
        transactions = {t.id: t for t in (await uow.session.scalars(select(LoanTransactionRow).where(
            LoanTransactionRow.id.in_([p.transaction_id for p in plans])))).all()}
        return [ReschedulingSummary(rescheduling=_record(p, row.currency.strip(), transactions.get(p.transaction_id)),
                                    previous_schedule=msgspec.convert(p.previous_schedule, Schedule))
                for p in plans]
