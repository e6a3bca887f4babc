"""Late-payment penalties: hand-checked calendars and amounts, journal lines, and idempotency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from products.events import LoanClassification, TermBucket
from products.loans.allocation import AllocationLine, allocate
from products.loans.penalties import PenaltyPolicy, penalties_due, penalty_date
from products.loans.position import remaining_dues, scheduled_dues
from products.loans.product import OverduePenalty, PenaltyBase, RateOrFlat, RepaymentComponent
from products.loans.schedule import generate_schedule
from products.posting_rules import AccountingRule, Component
from products.reference.model import (
    ChargeAppliesTo,
    ChargeCalculation,
    ChargeDefinition,
    ChargeTime,
    FrequencyUnit,
)
from products.reference.taxes import ChargeTax
from products.rounding import Rounding, compile_rounding
from tests.products.cob_support import PENALTY_CHARGE_ID, journal
from tests.products.factories import xof_terms

D = Decimal
XOF = compile_rounding(Rounding(), "XOF")
ORDER = tuple(RepaymentComponent)
SCHEDULE = generate_schedule(xof_terms())  # 6 x 214,231 XOF (principal 190,231 + interest 24,000 first) from 1 Feb
# The demo's « Pénalité de retard »: 2 % of the overdue principal and interest, monthly, after 3 days of grace.
DEMO_CHARGE = ChargeDefinition(name="Pénalité de retard", applies_to=ChargeAppliesTo.LOAN,
                               charge_time=ChargeTime.OVERDUE_INSTALMENT,
                               calculation=ChargeCalculation.PERCENT_OF_OVERDUE_AMOUNT, amount=D(2), currency="XOF",
                               is_penalty=True, frequency_every=1, frequency_unit=FrequencyUnit.MONTHS, grace_days=3)
MONTHLY = PenaltyPolicy.of(OverduePenalty(charge_id=PENALTY_CHARGE_ID, rate_percent=D(2),
                                          base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST),
                           DEMO_CHARGE, vat_percent=D(18))


def dues_after(paid: int, charged: tuple[AllocationLine, ...] = (), order=ORDER):  # type: ignore[no-untyped-def]
    lines = allocate(D(paid), scheduled_dues(SCHEDULE, charged), order).lines if paid else ()
    return remaining_dues(SCHEDULE, lines, charged)


def keyed(charges):  # type: ignore[no-untyped-def]
    return [(c.instalment, c.period, c.charged_on, c.base, c.amount, c.vat_amount) for c in charges]


def test_the_demo_penalty_falls_after_three_days_then_monthly() -> None:
    # Instalment 1 due 1 Feb: nothing on 4 Feb (3 days of grace); on 5 Feb 2 % of 214,231 = 4,284.62 -> 4,285,
    # TAF 18 % = 771.30 -> 771.
    assert penalties_due(dues_after(0), date(2025, 2, 4), MONTHLY, XOF, already_charged=()) == ()
    feb = penalties_due(dues_after(0), date(2025, 2, 5), MONTHLY, XOF, already_charged=())
    assert keyed(feb) == [(1, 1, date(2025, 2, 5), D(214_231), D(4285), D(771))]
    # Run again the same day: it is already charged, nothing more.
    assert penalties_due(dues_after(0), date(2025, 2, 5), MONTHLY, XOF, already_charged={(1, 1)}) == ()
    # 5 March: the second month of instalment 1, and the first of instalment 2 (due 1 March).
    march = penalties_due(dues_after(0), date(2025, 3, 5), MONTHLY, XOF, already_charged={(1, 1)})
    assert keyed(march) == [(1, 2, date(2025, 3, 5), D(214_231), D(4285), D(771)),
                            (2, 1, date(2025, 3, 5), D(214_231), D(4285), D(771))]


def test_the_penalty_posts_receivable_against_its_charges_income_account() -> None:
    (charge,) = penalties_due(dues_after(0), date(2025, 2, 5), MONTHLY, XOF, already_charged=())
    event = charge.event("XOF", classification=LoanClassification.HEALTHY, term=TermBucket.SHORT)
    # Dr 2073 pénalités à recevoir / Cr 70231 (the penalty charge's own income account).
    assert journal(event) == [("D", "2073", "4285"), ("C", "70231", "4285")]
    # Cash accounting recognises it when paid: nothing now, but the due is added to the instalment.
    assert journal(event, AccountingRule.CASH) == []
    assert charge.charged_lines() == (AllocationLine(instalment=1, component=Component.PENALTY, amount=D(4285)),
                                      AllocationLine(instalment=1, component=Component.VAT, amount=D(771)))
    # A penalty is never a base for the next one: with it added to the dues, March's amount is unchanged.
    march = penalties_due(dues_after(0, charge.charged_lines()), date(2025, 3, 5), MONTHLY, XOF,
                          already_charged={(1, 1)})
    assert march[0].base == D(214_231)


def test_the_base_is_what_is_unpaid_on_the_day() -> None:
    # 100,000 paid on instalment 1 (interest 24,000 first, then 76,000 of principal): 114,231 principal unpaid.
    on_principal = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(2), base=PenaltyBase.OVERDUE_PRINCIPAL),
                                 grace_days=3)
    (charge,) = penalties_due(dues_after(100_000), date(2025, 2, 5), on_principal, XOF, already_charged=())
    assert (charge.base, charge.amount) == (D(114_231), D(2285))  # 2,284.62 -> 2,285
    # Interest-only arrears (a doubtful loan pays principal first) with a penalty on principal: nothing.
    interest_only = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(2), base=PenaltyBase.OVERDUE_PRINCIPAL))
    assert penalties_due(dues_after(190_231, order=tuple(reversed(ORDER))), date(2025, 2, 5), interest_only, XOF, already_charged=()) == ()
    # On the whole instalment (with its VAT) or on the loan's outstanding principal (oldest instalment only).
    whole = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(1), base=PenaltyBase.OVERDUE_INSTALMENT))
    assert keyed(penalties_due(dues_after(0), date(2025, 3, 2), whole, XOF, already_charged=())) == [
        (1, 1, date(2025, 2, 2), D(214_231), D(2142), D(0)), (2, 1, date(2025, 3, 2), D(214_231), D(2142), D(0))]
    outstanding = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(1), base=PenaltyBase.OUTSTANDING_PRINCIPAL))
    assert keyed(penalties_due(dues_after(0), date(2025, 3, 2), outstanding, XOF, already_charged=())) == [
        (1, 1, date(2025, 2, 2), D(1_200_000), D(12_000), D(0))]


def test_flat_once_grace_periods_and_limits() -> None:
    once = PenaltyPolicy(penalty=OverduePenalty(basis=RateOrFlat.FLAT, flat_amount=D(2500)))
    assert keyed(penalties_due(dues_after(0), date(2025, 4, 30), once, XOF, already_charged=())) == [
        (1, 1, date(2025, 2, 2), D(190_231), D(2500), D(0)), (2, 1, date(2025, 3, 2), D(194_036), D(2500), D(0)),
        (3, 1, date(2025, 4, 2), D(197_916), D(2500), D(0))]  # base shown: overdue principal, the default
    # The demo product's one grace period: the first month of each instalment costs nothing.
    graced = PenaltyPolicy.of(OverduePenalty(rate_percent=D(2), base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST,
                                             grace_periods=1), DEMO_CHARGE, vat_percent=D(0))
    assert penalties_due(dues_after(0), date(2025, 2, 5), graced, XOF, already_charged=()) == ()
    assert [c.key for c in penalties_due(dues_after(0), date(2025, 3, 5), graced, XOF, already_charged=())] == [(1, 2)]
    capped = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(2), base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST),
                           amount_max=D(3000))
    floored = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D("0.1"), base=PenaltyBase.OVERDUE_PRINCIPAL),
                            amount_min=D(1000))
    assert penalties_due(dues_after(0), date(2025, 2, 2), capped, XOF, already_charged=())[0].amount == D(3000)
    assert penalties_due(dues_after(0), date(2025, 2, 2), floored, XOF, already_charged=())[0].amount == D(1000)


def test_a_penalty_on_the_overdue_interest_only() -> None:
    """Fineract's overdue charge calculation types: flat, "% Amount" (overdue principal),
    "% Amount + Interest", "% Interest". The last is `overdue_interest`: 2 % of instalment 1's
    24,000 of interest = 480; once the interest is paid and only principal is late, nothing."""
    on_interest = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(2), base=PenaltyBase.OVERDUE_INTEREST))
    assert keyed(penalties_due(dues_after(0), date(2025, 2, 2), on_interest, XOF, already_charged=())) == [
        (1, 1, date(2025, 2, 2), D(24_000), D(480), D(0))]
    assert penalties_due(dues_after(24_000), date(2025, 2, 2), on_interest, XOF, already_charged=()) == ()


def test_lateness_the_product_tolerates_is_not_penalised() -> None:
    """Mambu "Loan Penalties Setup": penalties apply once both the arrears tolerance and the penalty
    tolerance have passed (arrears 32 / penalty 40 days: none at 34 days late, one at 41; arrears
    40 / penalty 32: none at 34). And a loan whose whole overdue is within the tolerated amount is
    not late (`arrears.age_arrears`): no penalty on a 231 XOF remainder tolerated up to 500."""
    daily = ChargeDefinition(name="Pénalité journalière", applies_to=ChargeAppliesTo.LOAN,
                             charge_time=ChargeTime.OVERDUE_INSTALMENT, calculation=ChargeCalculation.FLAT,
                             amount=D(100), currency="XOF", is_penalty=True, grace_days=40)
    flat = OverduePenalty(basis=RateOrFlat.FLAT, flat_amount=D(100))
    due = date(2025, 2, 1)
    for arrears_days, penalty_days, late, charged in ((32, 40, 34, False), (32, 40, 41, True), (40, 32, 34, False),
                                                      (40, 32, 41, True)):
        policy = PenaltyPolicy.of(flat, msgspec.structs.replace(daily, grace_days=penalty_days), vat_percent=D(0),
                                  tolerated_days=arrears_days)
        found = penalties_due(dues_after(0), due + timedelta(days=late), policy, XOF, already_charged=())
        assert bool([c for c in found if c.instalment == 1]) is charged, (arrears_days, penalty_days, late)
    tolerant = PenaltyPolicy.of(flat, None, vat_percent=D(0), tolerated_amount=D(500))
    assert penalties_due(dues_after(214_000), date(2025, 2, 20), tolerant, XOF, already_charged=()) == ()
    assert keyed(penalties_due(dues_after(213_000), date(2025, 2, 20), tolerant, XOF, already_charged=())) == [
        (1, 1, date(2025, 2, 2), D(1231), D(100), D(0))]  # 1,231 overdue: beyond the tolerance, penalised


def test_monthly_penalty_dates_keep_the_day_of_month() -> None:
    # Due 31 Jan, penalty the next day each month, anchored on the first date (no drift after February).
    policy = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(1)), every=1, unit=FrequencyUnit.MONTHS, grace_days=0)
    assert [penalty_date(date(2025, 1, 30), n, policy) for n in (1, 2, 3)] == [
        date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31)]
    weekly = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(1)), every=2, unit=FrequencyUnit.WEEKS, grace_days=6)
    assert [penalty_date(date(2025, 1, 1), n, weekly) for n in (1, 2)] == [date(2025, 1, 8), date(2025, 1, 22)]


penalties = st.builds(
    OverduePenalty, basis=st.sampled_from(list(RateOrFlat)), rate_percent=st.integers(1, 500).map(lambda n: D(n) / 100),
    flat_amount=st.integers(1, 10_000).map(D), base=st.sampled_from(list(PenaltyBase)),
    grace_periods=st.integers(0, 2))
policies = st.builds(
    PenaltyPolicy, penalty=penalties, grace_days=st.integers(0, 10), every=st.none() | st.integers(1, 3),
    unit=st.sampled_from(list(FrequencyUnit)), vat_percent=st.sampled_from([D(0), D(18), D(17)]))


@settings(max_examples=60, deadline=None)
@given(policy=policies, days=st.integers(0, 120), paid=st.integers(0, 400_000))
def test_closing_day_by_day_charges_what_one_run_would_and_never_twice(policy, days, paid) -> None:  # type: ignore[no-untyped-def]
    # Nothing is paid during the window, so the bases do not move: one run at the end and a run every day
    # charge the same penalties; every day run twice charges nothing the second time.
    start = date(2025, 1, 31)
    dues = dues_after(paid)
    end = start + timedelta(days=days)
    at_once = penalties_due(dues, end, policy, XOF, already_charged=())
    charged: dict[tuple[int, int], object] = {}
    for n in range(days + 1):
        today = start + timedelta(days=n)
        new = penalties_due(dues, today, policy, XOF, already_charged=charged.keys())
        assert penalties_due(dues, today, policy, XOF, already_charged={*charged, *(c.key for c in new)}) == ()
        for charge in new:
            assert charge.charged_on == today
            assert charge.key not in charged
            charged[charge.key] = charge
    assert {c.key: c for c in at_once} == charged
    for charge in at_once:
        assert charge.amount > 0 and charge.amount == charge.amount.quantize(XOF.quantum)
        assert charge.period > policy.penalty.grace_periods
        assert charge.period == 1 or policy.every is not None


def test_each_penalty_is_taxed_at_the_rate_in_force_on_its_own_day() -> None:
    """A catch-up on 5 March charging two months at once, the charge's TAF of 18 % having ended
    on 28 February: instalment 1's first penalty (fallen 5 Feb) carries 18 % x 4,285 = 771.30 ->
    771, the penalties fallen on 5 March none, though all are charged by the same run. The
    product's own rate, when it sets one, applies whatever the day."""
    ended = ChargeTax(rate_percent=D(18), valid_from=date(2020, 1, 1), valid_to=date(2025, 2, 28))
    policy = msgspec.structs.replace(MONTHLY, vat_percent=D(0), tax=ended)
    both = penalties_due(dues_after(0), date(2025, 3, 5), policy, XOF, already_charged=())
    assert [(c.instalment, c.period, c.charged_on, c.amount, c.vat_amount) for c in both] == [
        (1, 1, date(2025, 2, 5), D(4285), D(771)), (1, 2, date(2025, 3, 5), D(4285), D(0)),
        (2, 1, date(2025, 3, 5), D(4285), D(0))]
    own = msgspec.structs.replace(policy, vat_percent=D("19.25"))
    assert [c.vat_amount for c in penalties_due(dues_after(0), date(2025, 3, 5), own, XOF, already_charged=())] == [
        D(825)] * 3  # 19.25 % x 4,285 = 824.86 -> 825
