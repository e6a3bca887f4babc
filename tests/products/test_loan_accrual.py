"""Interest accrual for the close of business: hand-checked days and journal lines, and the
properties an accountant relies on (days add up to the period to the unit, accrual chains,
never beyond the instalment's interest)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from products.events import LoanClassification, TermBucket
from products.loans.accrual import (
    AccrualPeriod,
    AccrualTreatment,
    NonPerformingInterest,
    accrual_periods,
    accrue_interest,
    fees_falling_due,
    interest_accrued_to,
    interest_earned_by,
    recognised_on_collection,
)
from products.loans.schedule import generate_schedule
from products.loans.terms import FeeCalculation, FeeSpec, FeeTrigger, InterestMethod, RepaymentFrequencyUnit
from products.posting_rules import AccountingRule
from products.rounding import Rounding, RoundingMode, compile_rounding
from tests.products.cob_support import journal
from tests.products.factories import eur_terms, xof_terms

D = Decimal
XOF = compile_rounding(Rounding(), "XOF")
EUR = compile_rounding(Rounding(), "EUR")
HEALTHY, SHORT = LoanClassification.HEALTHY, TermBucket.SHORT


def day(after: date, rounder=XOF, periods=None):  # type: ignore[no-untyped-def]
    periods = periods if periods is not None else accrual_periods(generate_schedule(xof_terms()))
    return accrue_interest(periods, after=after, through=after + timedelta(days=1), rounder=rounder).earned


def test_first_days_of_the_xof_example_carry_the_rounding() -> None:
    # 1,200,000 XOF at 24 % a year: instalment 1 runs 1 Jan -> 1 Feb 2025 (31 days), interest 24,000.
    # Accrued to date = 24,000 x elapsed / 31, rounded to the franc:
    #   2 Jan: 774.19 -> 774      3 Jan: 1,548.39 -> 1,548     4 Jan: 2,322.58 -> 2,323
    # so the days post 774, 774, 775: the half-franc carried from the first two days lands on the third.
    assert [day(date(2025, 1, 1)), day(date(2025, 1, 2)), day(date(2025, 1, 3))] == [D(774), D(774), D(775)]
    # 31 Jan: 24,000 x 30 / 31 = 23,225.81 -> 23,226; the due date 1 Feb closes the period at 24,000: 774.
    assert day(date(2025, 1, 31)) == D(774)
    # Disbursement day itself earns nothing: interest runs from the next close.
    assert day(date(2024, 12, 31)) == D(0)


def test_a_day_posts_receivable_against_income() -> None:
    schedule = generate_schedule(xof_terms())
    accrual = accrue_interest(accrual_periods(schedule), after=date(2025, 1, 3), through=date(2025, 1, 4), rounder=XOF)
    event = accrual.event("XOF", classification=HEALTHY, term=SHORT)
    # Intérêts courus: Dr 2071 créances rattachées 775 / Cr 7021 intérêts sur crédits 775.
    assert journal(event) == [("D", "2071", "775"), ("C", "7021", "775")]
    # Cash accounting has no accrual: the same event posts nothing.
    assert journal(event, AccountingRule.CASH) == []


def test_a_catch_up_posts_what_the_days_would_have() -> None:
    # Missed closes of 2 and 3 January, run on the 4th: 774 + 774 + 775 = 2,323 = accrued to 4 Jan.
    periods = accrual_periods(generate_schedule(xof_terms()))
    catch_up = accrue_interest(periods, after=date(2025, 1, 1), through=date(2025, 1, 4), rounder=XOF)
    assert catch_up.earned == D(2323)
    # Across a due date: 31 Jan -> 3 Feb = 774 (last day of instalment 1)
    # + instalment 2 (1 -> 28 Feb... due 1 Mar, 28 days, 20,195): 2 days = 20,195 x 2 / 28 = 1,442.5 -> 1,442 (half even).
    across = accrue_interest(periods, after=date(2025, 1, 31), through=date(2025, 2, 3), rounder=XOF)
    assert across.earned == D(774 + 1442)


def test_eur_accrues_in_cents() -> None:
    # 10,000 EUR at 12 %: instalment 1 from 15 Jan to 15 Feb 2025 (31 days), interest 100.00 (1 % a month).
    schedule = generate_schedule(eur_terms())
    first = schedule.instalments[0]
    assert (first.from_date, first.due_date, first.interest_amount) == (date(2025, 1, 15), date(2025, 2, 15), D("100.00"))
    # One day: 100 / 31 = 3.2258 -> 3.23; two days 6.4516 -> 6.45 (second day 3.22).
    periods = accrual_periods(schedule)
    assert day(date(2025, 1, 15), EUR, periods) == D("3.23")
    assert day(date(2025, 1, 16), EUR, periods) == D("3.22")


def test_non_performing_interest_is_withheld_unless_already_paid() -> None:
    periods = accrual_periods(generate_schedule(xof_terms()))
    suspense = accrue_interest(periods, after=date(2025, 1, 3), through=date(2025, 1, 4), rounder=XOF,
                               non_performing=True)
    assert (suspense.treatment, suspense.earned, suspense.withheld, suspense.recognised) == (
        AccrualTreatment.SUSPENDED, D(775), D(775), D(0))
    assert suspense.event("XOF", classification=LoanClassification.DOUBTFUL, term=SHORT) is None
    ignored = accrue_interest(periods, after=date(2025, 1, 3), through=date(2025, 1, 4), rounder=XOF,
                              non_performing=True, non_performing_interest=NonPerformingInterest.NOT_RECOGNISED)
    assert (ignored.treatment, ignored.withheld, ignored.recognised) == (AccrualTreatment.NOT_RECOGNISED, D(775), 0)
    # 500 of interest was paid ahead (the receivable stands at -500): that much is cash, so it is recognised.
    prepaid = accrue_interest(periods, after=date(2025, 1, 3), through=date(2025, 1, 4), rounder=XOF,
                              non_performing=True, interest_prepaid=D(500))
    assert (prepaid.recognised, prepaid.withheld) == (D(500), D(275))
    assert journal(prepaid.event("XOF", classification=HEALTHY, term=SHORT)) == [
        ("D", "2071", "500"), ("C", "7021", "500")]


def test_instalment_fees_are_recognised_on_their_due_date() -> None:
    fees = (FeeSpec(name="Frais de dossier", trigger=FeeTrigger.DISBURSEMENT, calculation=FeeCalculation.FLAT,
                    flat_amount=D(5000)),
            FeeSpec(name="Frais de suivi", trigger=FeeTrigger.INSTALMENT, calculation=FeeCalculation.FLAT,
                    flat_amount=D(1000), vat_percent=D(18)))
    schedule = generate_schedule(xof_terms(fees=fees))
    # Nothing falls due on 31 Jan; on 1 Feb the instalment fee of 1,000 (VAT 180 collected with the repayment).
    assert fees_falling_due(schedule, after=date(2025, 1, 30), through=date(2025, 1, 31)) == ()
    (fee,) = fees_falling_due(schedule, after=date(2025, 1, 31), through=date(2025, 2, 1))
    assert (fee.name, fee.instalment, fee.amount, fee.vat_amount) == ("Frais de suivi", 1, D(1000), D(180))
    # Frais à recevoir: Dr 2072 1,000 / Cr 7022 1,000. The upfront fee was collected at disbursement.
    assert journal(fee.event("XOF", charge_id=None, classification=HEALTHY, term=SHORT)) == [
        ("D", "2072", "1000"), ("C", "7022", "1000")]
    assert len(fees_falling_due(schedule, after=date(2024, 12, 1), through=date(2025, 12, 31))) == 6


terms_strategy = st.builds(
    lambda currency, principal, count, rate, unit, method, start: (xof_terms if currency == "XOF" else eur_terms)(
        principal_amount=D(principal), repayment_count=count, interest_rate_percent=D(rate),
        repayment_frequency_unit=unit, interest_method=method, disbursement_date=start),
    st.sampled_from(["XOF", "EUR"]), st.integers(10_000, 50_000_000), st.integers(1, 24),
    st.integers(1, 36), st.sampled_from([RepaymentFrequencyUnit.MONTHS, RepaymentFrequencyUnit.WEEKS]),
    st.sampled_from(list(InterestMethod)), st.dates(date(2020, 1, 1), date(2030, 12, 31)))


@settings(max_examples=60, deadline=None)
@given(terms=terms_strategy, cuts=st.lists(st.integers(0, 800), max_size=6),
       mode=st.sampled_from(list(RoundingMode)))
def test_accruals_chain_and_add_up_to_the_schedules_interest(terms, cuts, mode) -> None:  # type: ignore[no-untyped-def]
    schedule = generate_schedule(terms)
    rounder = compile_rounding(Rounding(mode=mode), terms.currency_code)
    periods = accrual_periods(schedule)
    start = terms.disbursement_date
    end = schedule.instalments[-1].due_date
    dates = sorted({start, end, *(start + timedelta(days=c) for c in cuts if start + timedelta(days=c) <= end)})
    windows = [accrue_interest(periods, after=a, through=b, rounder=rounder) for a, b in itertools.pairwise(dates)]
    assert sum((w.earned for w in windows), D(0)) == schedule.totals.interest_amount
    for window in windows:
        assert window.earned >= 0
        assert window.earned == window.earned.quantize(rounder.quantum)


@settings(max_examples=40, deadline=None)
@given(terms=terms_strategy, offset=st.integers(0, 400))
def test_every_day_of_a_period_sums_to_its_interest_and_never_passes_it(terms, offset) -> None:  # type: ignore[no-untyped-def]
    schedule = generate_schedule(terms)
    periods = accrual_periods(schedule)
    rounder = compile_rounding(Rounding(), terms.currency_code)
    row = schedule.instalments[offset % len(schedule.instalments)]
    period = AccrualPeriod(number=row.number, from_date=row.from_date, due_date=row.due_date,
                           interest=row.interest_amount)
    days = [period.from_date + timedelta(days=n) for n in range((period.due_date - period.from_date).days + 1)]
    earned = [interest_earned_by(period, d, rounder) for d in days]
    assert earned[0] == 0 and earned[-1] == row.interest_amount
    assert all(a <= b <= row.interest_amount for a, b in itertools.pairwise(earned))
    daily = [b - a for a, b in itertools.pairwise(earned)]
    assert sum(daily, D(0)) == row.interest_amount
    # Straight line: no day differs from the exact daily interest by more than one unit.
    if daily:
        exact = row.interest_amount / len(daily)
        assert all(abs(d - exact) <= rounder.quantum for d in daily)
    assert interest_accrued_to(periods, schedule.instalments[-1].due_date, rounder) == schedule.totals.interest_amount


def test_interest_deferred_by_a_grace_is_accrued_while_it_is_earned() -> None:
    # Two periods of grace on interest payment: instalments 1 and 2 pay no interest, instalment 3 (due 1 April)
    # pays the three periods' interest. It is earned from 1 January: by 1 Feb (31 of 90 days) a share is accrued.
    terms = xof_terms(grace_on_interest_payment_periods=2)
    schedule = generate_schedule(terms)
    third = schedule.instalments[2]
    assert [row.interest_amount for row in schedule.instalments[:2]] == [0, 0]
    periods = accrual_periods(schedule, terms)
    assert periods[2].from_date == date(2025, 1, 1)
    # 31 / 90 of instalment 3's interest, rounded to the franc.
    expected = XOF.round(third.interest_amount * 31 / 90)
    assert interest_accrued_to(periods, date(2025, 2, 1), XOF) == expected > 0
    # Without the terms the whole of it would wait for March: nothing accrued by 1 February.
    assert interest_accrued_to(accrual_periods(schedule), date(2025, 2, 1), XOF) == 0
    assert interest_accrued_to(periods, date(2025, 4, 1), XOF) == third.interest_amount


@settings(max_examples=40, deadline=None)
@given(terms=terms_strategy, payment_grace=st.integers(0, 3), charged_grace=st.integers(0, 3),
       cuts=st.lists(st.integers(0, 800), max_size=4))
def test_grace_aware_periods_still_add_up(terms, payment_grace, charged_grace, cuts) -> None:  # type: ignore[no-untyped-def]
    terms = msgspec.structs.replace(terms, repayment_count=max(terms.repayment_count, 4),
                                    grace_on_interest_payment_periods=payment_grace,
                                    grace_on_interest_charged_periods=charged_grace)
    schedule = generate_schedule(terms)
    periods = accrual_periods(schedule, terms)
    rounder = compile_rounding(Rounding(), terms.currency_code)
    start, end = terms.disbursement_date, schedule.instalments[-1].due_date
    dates = sorted({start, end, *(start + timedelta(days=c) for c in cuts if start + timedelta(days=c) <= end)})
    earned = [accrue_interest(periods, after=a, through=b, rounder=rounder).earned for a, b in itertools.pairwise(dates)]
    assert all(e >= 0 for e in earned)
    assert sum(earned, D(0)) == schedule.totals.interest_amount


def test_suspended_interest_is_recognised_when_collected() -> None:
    # An NPA loan: 3,000 recognised before it turned NPA (receivable), 5,000 kept in suspense since.
    # The client pays 4,500 of interest: 3,000 settles the receivable, 1,500 comes out of suspense and is
    # recognised just before the repayment posts (Dr 2071 1,500 / Cr 7021 1,500), so 2071 ends at zero.
    assert recognised_on_collection(D(4500), receivable=D(3000), withheld=D(5000)) == D(1500)
    # Paying within the receivable, or with nothing in suspense (interest paid ahead), recognises nothing.
    assert recognised_on_collection(D(2000), receivable=D(3000), withheld=D(5000)) == 0
    assert recognised_on_collection(D(2000), receivable=D(-500), withheld=D(0)) == 0
    # Never more than is in suspense.
    assert recognised_on_collection(D(9000), receivable=D(0), withheld=D(5000)) == D(5000)
