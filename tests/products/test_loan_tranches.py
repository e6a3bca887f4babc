"""Tranches, pure: the terms of the schedule of a loan paid out so far, the fees each tranche
withholds, and the property that makes a regenerated schedule safe for repayments already
made (instalments due by the tranche's date do not change)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from products.loans.allocation import AllocationLine
from products.loans.schedule import generate_schedule
from products.loans.terms import (
    AmortizationMethod,
    FeeCalculation,
    FeeSpec,
    FeeTrigger,
    InterestCalculationPeriod,
    LoanTerms,
    RepaymentFrequencyUnit,
    TrancheSpec,
)
from products.loans.tranches import (
    DisbursedTranche,
    misfits,
    tranche_fee_charges,
    tranche_terms,
    trimmed_plan,
    with_tranche_fees,
)
from products.posting_rules import Component

D = Decimal
DAY = date(2025, 1, 1)
FILE_FEE = FeeSpec(name="Frais de dossier", trigger=FeeTrigger.DISBURSEMENT,
                   calculation=FeeCalculation.PERCENT_OF_AMOUNT, rate_percent=D(1), vat_percent=D(18))
STAMP = FeeSpec(name="Timbre", trigger=FeeTrigger.DISBURSEMENT, flat_amount=D(2_000))
TRANCHE_FEE = FeeSpec(name="Frais de tranche", trigger=FeeTrigger.DISBURSEMENT, each_tranche=True,
                      calculation=FeeCalculation.PERCENT_OF_AMOUNT, rate_percent=D("0.5"), vat_percent=D(17))
APPROVED = LoanTerms(currency_code="XOF", principal_amount=D(1_200_000), disbursement_date=DAY, repayment_count=6,
                     interest_rate_percent=D(24), fees=(FILE_FEE, STAMP, TRANCHE_FEE))


def test_terms_of_what_was_paid_out() -> None:
    one = tranche_terms(APPROVED, [DisbursedTranche(value_date=date(2025, 1, 5), amount=D(600_000))])
    assert (one.principal_amount, one.disbursement_date, one.tranches) == (D(600_000), date(2025, 1, 5), ())
    two = tranche_terms(APPROVED, [DisbursedTranche(value_date=DAY, amount=D(600_000)),
                                   DisbursedTranche(value_date=date(2025, 3, 1), amount=D(400_000)),
                                   DisbursedTranche(value_date=date(2025, 3, 1), amount=D(200_000))])
    assert two.tranches == (TrancheSpec(expected_date=DAY, amount=D(600_000)),
                            TrancheSpec(expected_date=date(2025, 3, 1), amount=D(600_000)))
    # The docs' example (loan-schedules.md): 600,000 on 1 January and 600,000 on 1 March: 107,115 x 2,
    # then the 1,007,868 owed amortised over 4 months: 264,690.
    schedule = generate_schedule(two)
    assert [row.total_amount for row in schedule.instalments[:3]] == [D(107_115), D(107_115), D(264_690)]


def test_a_lower_approval_trims_the_planned_tranches() -> None:
    plan = (TrancheSpec(expected_date=DAY, amount=D(600_000)), TrancheSpec(expected_date=date(2025, 3, 1),
                                                                           amount=D(400_000)),
            TrancheSpec(expected_date=date(2025, 4, 1), amount=D(200_000)))
    assert trimmed_plan(plan, D(800_000)) == (plan[0], TrancheSpec(expected_date=date(2025, 3, 1),
                                                                   amount=D(200_000)))
    assert trimmed_plan(plan, D(1_200_000)) == plan
    assert trimmed_plan((), D(800_000)) == ()


def test_each_tranche_withholds_its_fees() -> None:
    # The file fee (1 % of the loan's 1,200,000, VAT 18 %) and the stamp duty once, with the first tranche;
    # the tranche fee (0.5 % of the tranche, VAT 17 %) on every tranche.
    first = tranche_fee_charges(APPROVED, tranche_date=DAY, amount=D(600_000), loan_amount=D(1_200_000), first=True,
                                interest_added=D(0))
    assert [(c.name, c.amount, c.vat_amount) for c in first] == [
        ("Frais de dossier", D(12_000), D(2_160)), ("Timbre", D(2_000), D(0)), ("Frais de tranche", D(3_000), D(510))]
    second = tranche_fee_charges(APPROVED, tranche_date=date(2025, 3, 1), amount=D(600_000),
                                 loan_amount=D(1_200_000), first=False, interest_added=D(40_000))
    assert [(c.name, c.amount, c.vat_amount, c.due_date) for c in second] == [
        ("Frais de tranche", D(3_000), D(510), date(2025, 3, 1))]
    terms = tranche_terms(APPROVED, [DisbursedTranche(value_date=DAY, amount=D(600_000)),
                                     DisbursedTranche(value_date=date(2025, 3, 1), amount=D(600_000))])
    shown = with_tranche_fees(generate_schedule(terms), [*first, *second])
    assert [(d.amount, d.fee_amount, d.vat_amount) for d in shown.disbursements] == [
        (D(600_000), D(17_000), D(2_670)), (D(600_000), D(3_000), D(510))]
    assert (shown.totals.fee_amount, shown.totals.vat_amount) == (D(20_000), D(3_180))


def test_misfits_name_what_was_paid_beyond_the_schedule() -> None:
    schedule = generate_schedule(tranche_terms(APPROVED, [DisbursedTranche(value_date=DAY, amount=D(600_000))]))
    first = schedule.instalments[0]
    fits = [AllocationLine(instalment=1, component=Component.PRINCIPAL, amount=first.principal_amount)]
    assert misfits(schedule, fits) == []
    beyond = [AllocationLine(instalment=1, component=Component.INTEREST, amount=first.interest_amount + 1)]
    assert misfits(schedule, beyond) == [(1, Component.INTEREST)]


@settings(max_examples=150, deadline=None)
@given(principal=st.integers(10_000, 5_000_000), share=st.integers(1, 99), count=st.integers(2, 18),
       rate=st.integers(0, 36), days=st.integers(1, 400),
       unit=st.sampled_from([RepaymentFrequencyUnit.MONTHS, RepaymentFrequencyUnit.WEEKS]),
       amortization=st.sampled_from(list(AmortizationMethod)),
       period=st.sampled_from(list(InterestCalculationPeriod)))
def test_property_a_tranche_keeps_the_instalments_due_by_its_date(
        principal: int, share: int, count: int, rate: int, days: int, unit: RepaymentFrequencyUnit,
        amortization: AmortizationMethod, period: InterestCalculationPeriod) -> None:
    frozen = LoanTerms(currency_code="XOF", principal_amount=D(principal), disbursement_date=DAY,
                       repayment_count=count, interest_rate_percent=D(rate), repayment_frequency_unit=unit,
                       amortization_method=amortization, interest_calculation_period=period)
    first = D(principal * share // 100)
    assume(first > 0)
    later = DAY + timedelta(days=days)
    before = generate_schedule(tranche_terms(frozen, [DisbursedTranche(value_date=DAY, amount=first)]))
    assume(later < before.instalments[-1].due_date)
    after = generate_schedule(tranche_terms(frozen, [DisbursedTranche(value_date=DAY, amount=first),
                                                     DisbursedTranche(value_date=later, amount=D(principal) - first)]))
    due_by_then = [row for row in before.instalments if row.due_date <= later]
    assert list(after.instalments[:len(due_by_then)]) == due_by_then
    assert after.totals.principal_amount == principal
