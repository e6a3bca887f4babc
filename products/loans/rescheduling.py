"""Rescheduling (« rééchelonnement »): whether a loan may be rescheduled, and its new terms.

Seed 002's general credit parameters govern it with four switches: « crédit souffrant » (a
doubtful loan may be rescheduled), « dossiers sains » (a healthy one may), « durée crédit » (the
number of instalments may change) and « échéance non soldée » (a loan with an instalment past due
and unpaid may be rescheduled). `rescheduling_refusals` lists every switch a request breaks,
each naming its field.

The new plan starts on the rescheduling date with the outstanding principal, plus the overdue
interest and penalties when the plan capitalises them (« capitalisation »); what is not
capitalised stays owed and is collected first. The new rate, the number of instalments (kept
when the term may not change: the instalments still unpaid) and a grace on principal come from
the request; every other term is the loan's. Upfront fees are not charged again. The schedule
engine (`generate_schedule`) turns the terms into the new schedule; the old one is kept for
history by the service. From then on the loan ages on the rescheduled-loans grid
(`classification.grid_kind`).

The loan's schedule after the rescheduling (`rescheduled_schedule`) is the old one cut on the
rescheduling date (`cut_schedule`: the instalments already started keep what fell due and what
was paid, the running one ends on the date with the interest earned so far, the principal not
yet paid leaves them) followed by the new plan's instalments, numbered after the last old one kept. The
repayments, waivers and charges already recorded keep pointing at the old instalments, so the
position, the arrears and the statement read one schedule; what the plan capitalises is settled
on the old instalments by the rescheduling's own allocation lines (`capitalisation_lines`).

Feeds ``RESCHEDULING``: the capitalised amounts become principal (Dr portfolio; Cr interest or
penalties receivable under accrual rules, Cr capitalised income deferred under cash). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import msgspec

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.accrual import AccrualPeriod, interest_earned_by
from products.loans.allocation import AllocationLine
from products.loans.model import FeeCharge, Instalment, Schedule, ScheduleTotals
from products.loans.position import remaining_dues
from products.loans.terms import FeeTrigger, LoanTerms
from products.posting_rules import Component, EventKind
from products.reference.model import CreditParameters
from products.rounding import Rounder


class ReschedulingSwitches(msgspec.Struct, frozen=True, kw_only=True):
    doubtful_allowed: bool = False
    healthy_allowed: bool = False
    term_editable: bool = False
    unpaid_instalment_allowed: bool = False

    @classmethod
    def of(cls, parameters: CreditParameters) -> ReschedulingSwitches:
        """Seed 002, 3.7.1: « crédit souffrant », « dossiers sains », « durée crédit »,
        « échéance non soldée »."""
        return cls(doubtful_allowed=parameters.doubtful_loan_arrears_editable,
                   healthy_allowed=parameters.healthy_loan_rescheduling_allowed,
                   term_editable=parameters.rescheduling_term_editable,
                   unpaid_instalment_allowed=parameters.unpaid_instalment_rescheduling_allowed)


class LoanStanding(msgspec.Struct, frozen=True, kw_only=True):
    """What the loan owes on the rescheduling date. ``interest_overdue`` and
    ``penalties_overdue`` are due and unpaid; ``instalments_remaining`` are not fully paid."""

    classification: LoanClassification
    principal_outstanding: Decimal
    interest_overdue: Decimal
    penalties_overdue: Decimal
    overdue_amount: Decimal
    instalments_remaining: int


class ReschedulingRequest(msgspec.Struct, frozen=True, kw_only=True):
    rescheduled_on: date
    repayment_count: int | None = None
    interest_rate_percent: Decimal | None = None
    grace_on_principal_periods: int = 0
    first_repayment_date: date | None = None
    capitalise_interest: bool = False
    capitalise_penalties: bool = False


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str


def rescheduling_refusals(request: ReschedulingRequest, standing: LoanStanding,
                          switches: ReschedulingSwitches) -> tuple[Refusal, ...]:
    """Every reason the institution's switches refuse this rescheduling (empty: allowed)."""
    refusals: list[Refusal] = []
    if standing.classification is LoanClassification.WRITTEN_OFF:
        refusals.append(Refusal(field="loan", message="a written-off loan is not rescheduled"))
    elif standing.classification is LoanClassification.DOUBTFUL and not switches.doubtful_allowed:
        refusals.append(Refusal(field="loan", message="doubtful loans may not be rescheduled (« crédit souffrant »)"))
    elif standing.classification is LoanClassification.HEALTHY and not switches.healthy_allowed:
        refusals.append(Refusal(field="loan", message="healthy loans may not be rescheduled (« dossiers sains »)"))
    if standing.principal_outstanding <= 0:
        refusals.append(Refusal(field="loan", message="no principal is outstanding"))
    if standing.overdue_amount > 0 and not switches.unpaid_instalment_allowed:
        refusals.append(Refusal(field="loan", message="a loan with an unpaid instalment may not be rescheduled "
                                                      "(« échéance non soldée »)"))
    if (request.repayment_count is not None and request.repayment_count != standing.instalments_remaining
            and not switches.term_editable):
        refusals.append(Refusal(field="repayment_count",
                                message=f"the term may not change (« durée crédit »): "
                                        f"{standing.instalments_remaining} instalments remain"))
    if request.repayment_count is not None and request.repayment_count < 1:
        refusals.append(Refusal(field="repayment_count", message="at least one instalment"))
    return tuple(refusals)


class ReschedulingPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The new terms and what they capitalise; ``interest_carried`` and ``penalties_carried``
    stay owed outside the new schedule."""

    terms: LoanTerms
    capitalised_interest: Decimal
    capitalised_penalties: Decimal
    interest_carried: Decimal
    penalties_carried: Decimal


def rescheduled_terms(current: LoanTerms, request: ReschedulingRequest, standing: LoanStanding) -> ReschedulingPlan:
    """The plan for an allowed request (check `rescheduling_refusals` first)."""
    interest = standing.interest_overdue if request.capitalise_interest else standing.interest_overdue * 0
    penalties = standing.penalties_overdue if request.capitalise_penalties else standing.penalties_overdue * 0
    fees = tuple(fee for fee in current.fees if fee.trigger is FeeTrigger.INSTALMENT or (
        fee.trigger is FeeTrigger.SPECIFIED_DUE_DATE and fee.due_date is not None
        and fee.due_date > request.rescheduled_on))
    terms = msgspec.structs.replace(
        current, principal_amount=standing.principal_outstanding + interest + penalties,
        disbursement_date=request.rescheduled_on,
        repayment_count=request.repayment_count or standing.instalments_remaining,
        interest_rate_percent=(request.interest_rate_percent if request.interest_rate_percent is not None
                               else current.interest_rate_percent),
        grace_on_principal_periods=request.grace_on_principal_periods, grace_on_interest_payment_periods=0,
        grace_on_interest_charged_periods=0, interest_free_days=0, first_repayment_date=request.first_repayment_date,
        fixed_instalment_amount=None, tranches=(), fees=fees)
    return ReschedulingPlan(terms=terms, capitalised_interest=interest, capitalised_penalties=penalties,
                            interest_carried=standing.interest_overdue - interest,
                            penalties_carried=standing.penalties_overdue - penalties)


# --------------------------------------------------------------------------- the schedule after the plan

_ZERO = Decimal(0)


def _settled_by(lines: Sequence[AllocationLine]) -> dict[tuple[int, Component], Decimal]:
    totals: dict[tuple[int, Component], Decimal] = {}
    for line in lines:
        key = (line.instalment, line.component)
        totals[key] = totals.get(key, _ZERO) + line.amount
    return totals


def cut_schedule(schedule: Schedule, settled: Sequence[AllocationLine], charged: Sequence[AllocationLine],
                 on: date, rounder: Rounder) -> Schedule:
    """The old schedule as it stays after a rescheduling on ``on``.

    * an instalment due on or before ``on`` keeps its interest, fees and VAT (due, paid or not)
      and only the principal paid on it: the principal left moves to the new plan;
    * the running instalment (started before ``on``, due after) ends on ``on`` with the interest
      earned by then (`accrual.interest_earned_by`, or what was already paid on it if more) and
      the fees and principal paid on it;
    * an instalment not started keeps only what was paid on it, and stays only when a payment,
      waiver or charge points at it (their lines must keep their instalment).

    ``settled`` are the lines of repayments, waivers and earlier capitalisations; ``charged``
    those of charges. Totals keep the original disbursements (fees withheld then).
    """
    paid = _settled_by(settled)
    pointed = {line.instalment for line in (*settled, *charged)}

    def kept(number: int, component: Component) -> Decimal:
        return paid.get((number, component), _ZERO)

    rows: list[Instalment] = []
    for row in schedule.instalments:
        principal = kept(row.number, Component.PRINCIPAL)
        if row.due_date <= on:
            interest, fee, vat, due_date = row.interest_amount, row.fee_amount, row.vat_amount, row.due_date
        elif row.from_date < on:
            earned = interest_earned_by(AccrualPeriod(number=row.number, from_date=row.from_date,
                                                      due_date=row.due_date, interest=row.interest_amount),
                                        on, rounder)
            interest = max(earned, kept(row.number, Component.INTEREST))
            fee, vat, due_date = kept(row.number, Component.FEE), kept(row.number, Component.VAT), on
        elif row.number in pointed:
            interest, fee, vat = kept(row.number, Component.INTEREST), kept(row.number, Component.FEE), \
                kept(row.number, Component.VAT)
            due_date = row.due_date
        else:
            continue
        assert principal <= row.principal_amount, (row, principal)
        rows.append(Instalment(number=row.number, from_date=row.from_date, due_date=due_date,
                               days=(due_date - row.from_date).days, principal_amount=principal,
                               interest_amount=interest, fee_amount=fee, vat_amount=vat,
                               total_amount=principal + interest + fee + vat, balance_amount=_ZERO))
    numbers = {row.number for row in rows}
    fee_charges = tuple(fee for fee in schedule.fee_charges
                        if fee.instalment_number == 0 or (fee.instalment_number in numbers and fee.due_date <= on))
    return _with_totals(schedule, tuple(rows), fee_charges)


def _with_totals(base: Schedule, instalments: tuple[Instalment, ...], fee_charges: tuple[FeeCharge, ...]) -> Schedule:
    """``base`` with these instalments and fee charges, totals summed as the schedule engine does."""
    upfront_fee = sum((d.fee_amount for d in base.disbursements), _ZERO)
    upfront_vat = sum((d.vat_amount for d in base.disbursements), _ZERO)
    interest = sum((row.interest_amount for row in instalments), _ZERO)
    fee = sum((row.fee_amount for row in instalments), _ZERO) + upfront_fee
    vat = sum((row.vat_amount for row in instalments), _ZERO) + upfront_vat
    totals = ScheduleTotals(principal_amount=sum((row.principal_amount for row in instalments), _ZERO),
                            interest_amount=interest, fee_amount=fee, vat_amount=vat,
                            repayment_amount=sum((row.total_amount for row in instalments), _ZERO),
                            cost_of_credit_amount=interest + fee + vat)
    return msgspec.structs.replace(base, instalments=instalments, fee_charges=fee_charges, totals=totals)


def loan_standing(schedule: Schedule, settled: Sequence[AllocationLine], charged: Sequence[AllocationLine],
                  on: date, rounder: Rounder, classification: LoanClassification) -> LoanStanding:
    """What the loan owes on ``on``, for the switches and the plan: principal still unpaid on the
    whole schedule; interest and penalties due by ``on`` (the running period's interest earned
    so far included) and unpaid, on the cut schedule; the amount past due (due before ``on``);
    the instalments not fully paid."""
    left = remaining_dues(schedule, settled, charged)
    cut_left = remaining_dues(cut_schedule(schedule, settled, charged, on, rounder), settled, charged)

    def due_by(component: Component) -> Decimal:
        return sum((d.amount for d in cut_left if d.component is component and d.due_date <= on), _ZERO)

    return LoanStanding(
        classification=classification,
        principal_outstanding=sum((d.amount for d in left if d.component is Component.PRINCIPAL), _ZERO),
        interest_overdue=due_by(Component.INTEREST), penalties_overdue=due_by(Component.PENALTY),
        overdue_amount=sum((d.amount for d in left if d.due_date < on), _ZERO),
        instalments_remaining=len({d.instalment for d in left}))


def capitalisation_lines(cut: Schedule, settled: Sequence[AllocationLine], charged: Sequence[AllocationLine],
                         on: date, plan: ReschedulingPlan) -> tuple[AllocationLine, ...]:
    """The lines that settle, on the old instalments, the interest and penalties the plan turns
    into principal: every due of the component falling due by ``on`` and still unpaid."""
    capitalised = {Component.INTEREST: plan.capitalised_interest, Component.PENALTY: plan.capitalised_penalties}
    lines = tuple(AllocationLine(instalment=d.instalment, component=d.component, amount=d.amount)
                  for d in remaining_dues(cut, settled, charged)
                  if d.component in capitalised and capitalised[d.component] > 0 and d.due_date <= on)
    for component, amount in capitalised.items():
        assert sum((line.amount for line in lines if line.component is component), _ZERO) == amount, component
    return lines


def rescheduled_schedule(cut: Schedule, new: Schedule) -> Schedule:
    """The loan's schedule from now on: the cut old instalments, then the new plan's, numbered
    after the last one kept (every recorded line points at a kept instalment, see `cut_schedule`,
    so none points at a new one). The new plan's
    own disbursement is not money paid out: the loan keeps its real disbursements."""
    offset = max((row.number for row in cut.instalments), default=0)
    moved = tuple(msgspec.structs.replace(row, number=row.number + offset) for row in new.instalments)
    fees = tuple(msgspec.structs.replace(fee, instalment_number=fee.instalment_number + offset)
                 for fee in new.fee_charges if fee.instalment_number > 0)
    return _with_totals(cut, (*cut.instalments, *moved), (*cut.fee_charges, *fees))


def capitalisation_event(plan: ReschedulingPlan, currency: str, *, classification: LoanClassification,
                         term: TermBucket) -> ProductEvent | None:
    """The ``RESCHEDULING`` event: what the plan capitalises, by component (None: nothing)."""
    parts = tuple(EventPart(component=component, amount=amount)
                  for component, amount in ((Component.INTEREST, plan.capitalised_interest),
                                            (Component.PENALTY, plan.capitalised_penalties)) if amount > 0)
    if not parts:
        return None
    return ProductEvent(kind=EventKind.RESCHEDULING, currency=currency, classification=classification, term=term,
                        parts=parts)


class DeferralRelease(msgspec.Struct, frozen=True, kw_only=True):
    """What a repayment (or a write-off) takes off the cash rule's capitalised-income deferral:
    feeds ``REPAYMENT`` (``CAPITALISED_INTEREST``: Dr capitalised income deferred / Cr interest
    income; ``CAPITALISED_PENALTY``: / Cr penalty income) or ``WRITE_OFF`` (/ Cr portfolio)."""

    interest: Decimal
    penalty: Decimal

    @property
    def total(self) -> Decimal:
        return self.interest + self.penalty

    def parts(self) -> tuple[EventPart, ...]:
        return tuple(EventPart(component=component, amount=amount) for component, amount in (
            (Component.CAPITALISED_INTEREST, self.interest), (Component.CAPITALISED_PENALTY, self.penalty))
            if amount > 0)


def capitalised_income_released(*, capitalised_interest: Decimal, capitalised_penalties: Decimal, released: Decimal,
                                principal_before: Decimal, principal_repaid: Decimal,
                                rounder: Rounder) -> DeferralRelease:
    """The share of the capitalised interest and penalties still deferred (cash rule) that a
    repayment of ``principal_repaid`` collects: the capitalised amounts are part of the principal,
    so each franc of principal repaid carries the same share of them, ``remaining x repaid /
    principal before`` (rounded the product's way); the payment that clears the principal
    releases all that remains, so the deferral ends at exactly zero. Interest is released before
    penalties. A write-off asks with ``principal_repaid = principal_before``: all that remains."""
    remaining = capitalised_interest + capitalised_penalties - released
    assert remaining >= 0 and principal_repaid >= 0, (remaining, principal_repaid)
    if remaining == 0 or principal_repaid == 0:
        return DeferralRelease(interest=rounder.zero(), penalty=rounder.zero())
    share = (remaining if principal_repaid >= principal_before
             else min(remaining, rounder.round(remaining * principal_repaid / principal_before)))
    interest = min(share, max(capitalised_interest - released, rounder.zero()))
    return DeferralRelease(interest=interest, penalty=share - interest)
