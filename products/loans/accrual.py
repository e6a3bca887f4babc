"""Accrual of a loan's interest and fees for the close of business (accrual periodic products).

Interest is earned straight-line inside each instalment period: by the close of day D, an
instalment running from ``from_date`` to ``due_date`` has earned its interest x elapsed days /
period days, elapsed = D - from_date (so its due date closes with the whole instalment's
interest earned, and its first day with nothing). The *accrued-to-date* figure is rounded, and
a day's accrual is the difference of two rounded figures: the rounding is carried from day to
day, so the days of a period add up to the period's interest to the unit, accrued-to-date never
passes the instalment's interest, and a catch-up of several days posts exactly what the days one
by one would have posted — for XOF (no minor unit) as for EUR.

Fees of the schedule are not spread: a fee is earned when it falls due, so it is recognised on
its due date in full. Penalties are recognised when charged (`products.loans.penalties`).

A non-performing loan earns nothing in the income statement until it pays: its interest is
withheld, either kept in suspense (tracked and reported: « intérêts réservés ») or simply not
recognised, as the product says, and recognised when collected (`recognised_on_collection`).
BCEAO texts do not settle which (reference §"Not confirmed", item 2): the choice is the caller's.

Feeds: ``INTEREST_ACCRUAL`` (Dr interest receivable, Cr interest income) and ``FEE_CHARGE``
(Dr fees receivable, Cr fee income). Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum

import msgspec

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.model import Schedule
from products.loans.product import AccrualFrequency
from products.loans.terms import AmortizationMethod, InterestMethod, LoanTerms
from products.posting_rules import Component, EventKind
from products.rounding import Rounder


class AccrualPeriod(msgspec.Struct, frozen=True, kw_only=True):
    """Interest an instalment earns between two dates: the schedule's figures, or recalculated
    ones (interest recalculation, a rescheduled plan) built by the caller."""

    number: int
    from_date: date
    due_date: date
    interest: Decimal


class NonPerformingInterest(StrEnum):
    """What the books do with the interest a non-performing loan earns and has not paid."""

    SUSPENSE = "suspense"
    """Kept aside as « intérêts réservés »: tracked and reported, recognised when collected."""
    NOT_RECOGNISED = "not_recognised"
    """Not recognised and not reported: income only when collected."""


class AccrualTreatment(StrEnum):
    RECOGNISED = "recognised"
    SUSPENDED = "suspended"
    NOT_RECOGNISED = "not_recognised"


def accrual_periods(schedule: Schedule, terms: LoanTerms | None = None) -> tuple[AccrualPeriod, ...]:
    """The schedule's instalments as accrual periods.

    With ``terms`` whose grace on interest *payment* defers interest (declining balance, or
    flat with equal principal), the first instalment after the grace carries interest earned
    since the first deferred period: it accrues from that period's start, so the deferred
    interest is recognised while it is earned, not all in the last period. Periods with no
    interest *charged* stay outside that window.
    """
    rows = schedule.instalments
    periods = [AccrualPeriod(number=row.number, from_date=row.from_date, due_date=row.due_date,
                             interest=row.interest_amount) for row in rows]
    if terms is None or not _defers_interest(terms):
        return tuple(periods)
    deferred = terms.grace_on_interest_payment_periods
    free = terms.grace_on_interest_charged_periods
    if free < deferred < len(periods):
        periods[deferred] = msgspec.structs.replace(periods[deferred], from_date=rows[free].from_date)
    return tuple(periods)


def _defers_interest(terms: LoanTerms) -> bool:
    """Flat equal instalments spread interest over the paying periods only: nothing is deferred."""
    flat_spread = (terms.interest_method is InterestMethod.FLAT
                   and terms.amortization_method is AmortizationMethod.EQUAL_INSTALMENTS)
    return terms.grace_on_interest_payment_periods > 0 and not flat_spread


def interest_earned_by(period: AccrualPeriod, on: date, rounder: Rounder,
                       frequency: AccrualFrequency = AccrualFrequency.DAILY) -> Decimal:
    """Interest of one period earned by the close of ``on``, rounded the product's way (per
    period: nothing before its due date, all of it on that day)."""
    return earned_by(period.interest, period.from_date, period.due_date, on, rounder, frequency)


def earned_by(interest: Decimal, from_date: date, due_date: date, on: date, rounder: Rounder,
              frequency: AccrualFrequency = AccrualFrequency.DAILY) -> Decimal:
    """`interest_earned_by` of a period given by its figures (the quiet night's fast path reads
    them as plain columns and makes no `AccrualPeriod` for each of 50,000 loans)."""
    if on >= due_date:
        return interest
    if on <= from_date or frequency is AccrualFrequency.PER_PERIOD:
        return rounder.zero()
    elapsed = (on - from_date).days
    length = (due_date - from_date).days
    # min(): recalculated figures off the rounding grid must not round past the period's interest.
    earned = min(rounder.round(interest * elapsed / length), interest)
    assert earned >= 0, (interest, from_date, due_date, on, earned)
    return earned


def interest_accrued_to(periods: Iterable[AccrualPeriod], on: date, rounder: Rounder,
                        frequency: AccrualFrequency = AccrualFrequency.DAILY) -> Decimal:
    """Interest of the whole loan earned by the close of ``on``."""
    return sum((interest_earned_by(period, on, rounder, frequency) for period in periods), rounder.zero())


class AccrualWindow(msgspec.Struct, frozen=True, kw_only=True):
    """What a loan's accrued-to-date interest and fees depend on, for every day strictly between
    two consecutive dates of its schedule (period starts, due dates, fee due dates): inside that
    window every period is over, running or not started the same way, and no fee falls due.

    The close of business keeps one per loan (recomputable from the schedule, never a source of
    truth) so a quiet night derives a loan's target from it without re-reading its schedule:
    ``interest_accrued_to(periods, on) == window.interest_on(on)`` for every ``on`` the window
    ``covers`` (a hypothesis property checks it). None of a schedule whose day lies on one of
    its dates or inside two overlapping periods: those days take the full derivation."""

    after: date
    """The last schedule date before the day the window was made for (exclusive bound)."""
    before: date
    """The next schedule date after it (exclusive bound)."""
    interest_done: Decimal
    """The interest of the periods over by then (their due date passed), rounder's zero included."""
    running: AccrualPeriod | None
    """The one period running through the window, if any."""
    fee: Decimal
    """The instalment fees fallen due by then."""

    def covers(self, on: date) -> bool:
        return self.after < on < self.before

    def interest_on(self, on: date, rounder: Rounder, frequency: AccrualFrequency = AccrualFrequency.DAILY) -> Decimal:
        """Accrued-to-date interest by the close of ``on`` (a day the window covers)."""
        assert self.covers(on), (self, on)
        if self.running is None:
            return self.interest_done
        return self.interest_done + interest_earned_by(self.running, on, rounder, frequency)


def accrual_window(periods: Sequence[AccrualPeriod], fees: Sequence[FeeRecognition], on: date,
                   rounder: Rounder) -> AccrualWindow | None:
    """The window of ``on`` (see `AccrualWindow`); ``fees`` are every instalment fee of the
    schedule (`fees_falling_due` over all dates)."""
    dates = {p.from_date for p in periods} | {p.due_date for p in periods} | {f.due_date for f in fees}
    if on in dates:
        return None
    running = [p for p in periods if p.from_date < on < p.due_date]
    if len(running) > 1:
        return None
    return AccrualWindow(
        after=max((d for d in dates if d < on), default=date.min),
        before=min((d for d in dates if d > on), default=date.max),
        interest_done=sum((p.interest for p in periods if p.due_date < on), rounder.zero()),
        running=running[0] if running else None,
        fee=sum((f.amount for f in fees if f.due_date < on), Decimal(0)))


class InterestAccrual(msgspec.Struct, frozen=True, kw_only=True):
    """Interest earned after the close of ``after`` up to the close of ``through``, and what the
    books do with it: ``recognised`` feeds ``INTEREST_ACCRUAL``; ``withheld`` stays off the
    income statement (in suspense or not recognised, as ``treatment`` says) until collected."""

    after: date
    through: date
    earned: Decimal
    recognised: Decimal
    treatment: AccrualTreatment

    @property
    def withheld(self) -> Decimal:
        return self.earned - self.recognised

    def event(self, currency: str, *, classification: LoanClassification, term: TermBucket) -> ProductEvent | None:
        """The ``INTEREST_ACCRUAL`` event, or None when nothing is recognised."""
        if self.recognised <= 0:
            return None
        return ProductEvent(kind=EventKind.INTEREST_ACCRUAL, currency=currency, classification=classification,
                            term=term, parts=(EventPart(component=Component.INTEREST, amount=self.recognised),))


def accrue_interest(periods: Sequence[AccrualPeriod], *, after: date, through: date, rounder: Rounder,
                    non_performing: bool = False, interest_prepaid: Decimal = Decimal(0),
                    non_performing_interest: NonPerformingInterest = NonPerformingInterest.SUSPENSE,
                    ) -> InterestAccrual:
    """Interest earned in (after, through]: one day when ``through`` is the day after ``after``,
    a catch-up otherwise. The difference of two accrued-to-date figures, so accruals chain
    exactly: accrue(a, b) + accrue(b, c) == accrue(a, c).

    A non-performing loan recognises only interest already paid for (``interest_prepaid``:
    interest collected ahead of its accrual, the receivable's credit balance): that is cash,
    not a doubtful claim. The rest is withheld.
    """
    assert after <= through, (after, through)
    assert interest_prepaid >= 0, interest_prepaid
    # Periods over before ``after`` or starting after ``through`` earn nothing in the window.
    running = [period for period in periods if period.from_date < through and period.due_date > after]
    earned = interest_accrued_to(running, through, rounder) - interest_accrued_to(running, after, rounder)
    assert earned >= 0, (after, through, earned)
    if not non_performing:
        return InterestAccrual(after=after, through=through, earned=earned, recognised=earned,
                               treatment=AccrualTreatment.RECOGNISED)
    treatment = (AccrualTreatment.SUSPENDED if non_performing_interest is NonPerformingInterest.SUSPENSE
                 else AccrualTreatment.NOT_RECOGNISED)
    return InterestAccrual(after=after, through=through, earned=earned, recognised=min(earned, interest_prepaid),
                           treatment=treatment)


class FeeRecognition(msgspec.Struct, frozen=True, kw_only=True):
    """A scheduled fee falling due in the accrual window, recognised in full on its due date.
    Feeds ``FEE_CHARGE`` (the service names the charge by ``name`` for its income account);
    its VAT is collected with the repayment, not accrued."""

    name: str
    instalment: int
    due_date: date
    amount: Decimal
    vat_amount: Decimal

    def event(self, currency: str, *, charge_id: int | None, classification: LoanClassification,
              term: TermBucket) -> ProductEvent | None:
        if self.amount <= 0:
            return None
        return ProductEvent(kind=EventKind.FEE_CHARGE, currency=currency, classification=classification, term=term,
                            parts=(EventPart(component=Component.FEE, amount=self.amount, charge_id=charge_id),))


def fees_falling_due(schedule: Schedule, *, after: date, through: date) -> tuple[FeeRecognition, ...]:
    """Instalment fees due in (after, through]. Disbursement fees (instalment 0) are collected
    at disbursement and never accrued."""
    assert after <= through, (after, through)
    return tuple(FeeRecognition(name=fee.name, instalment=fee.instalment_number, due_date=fee.due_date,
                                amount=fee.amount, vat_amount=fee.vat_amount)
                 for fee in schedule.fee_charges
                 if fee.instalment_number > 0 and after < fee.due_date <= through)


def recognised_on_collection(interest_collected: Decimal, *, receivable: Decimal, withheld: Decimal) -> Decimal:
    """Withheld interest (in suspense or not recognised) that a repayment collects, to recognise
    (``INTEREST_ACCRUAL``) just before the repayment is posted.

    A repayment's interest settles first what was recognised (the receivable, when positive);
    what it pays beyond is interest that was withheld, now income since it is cash.
    Posting it as an accrual first keeps the posting rules unchanged (a repayment's interest
    always credits the receivable) and the receivable from going negative for it.
    """
    assert interest_collected >= 0, interest_collected
    assert withheld >= 0, withheld
    beyond_receivable = interest_collected - max(receivable, receivable * 0)
    return min(withheld, max(beyond_receivable, beyond_receivable * 0))


class ReceivableTrueUp(msgspec.Struct, frozen=True, kw_only=True):
    """What a repayment (or a waiver) recognises on the loan's receivables in its own
    transaction, per component: positive accrues (``INTEREST_ACCRUAL`` / ``FEE_CHARGE``),
    negative takes back (the mirror entry, an ``accrual_adjustment``)."""

    interest: Decimal
    fee: Decimal


def true_up_on_settlement(*, receivable: tuple[Decimal, Decimal], settled: tuple[Decimal, Decimal],
                          closes: bool) -> ReceivableTrueUp:
    """The accrual true-up a settlement of ``settled`` (interest, fee: what a repayment pays or
    a waiver forgives) posts with it, given the loan's ``receivable`` (interest, fee) just before.

    * On a loan that stays open, what is settled beyond the receivable is interest (fee) not
      yet recognised — paid ahead of its accrual, or withheld on a non-performing loan — and
      is recognised now, being collected (`recognised_on_collection`): the receivable never
      goes negative. Interest recognised and not yet due is left alone.
    * When the settlement closes the loan (nothing left owed), every receivable of the loan is
      brought to exactly zero: recognised what was settled beyond it, or taken back what was
      recognised and will never be paid (a recalculated payoff that charged less interest).

    The close of business then finds nothing to add (its target is never below what the
    settlements took off the receivable), so the next night posts nothing more.
    """
    if closes:
        return ReceivableTrueUp(interest=settled[0] - receivable[0], fee=settled[1] - receivable[1])
    interest, fee = (recognised_on_collection(paid, receivable=owed, withheld=paid)
                     for paid, owed in zip(settled, receivable, strict=True))
    return ReceivableTrueUp(interest=interest, fee=fee)
