"""Properties that hold for every schedule, checked on generated terms (hypothesis)."""

import itertools
from datetime import date, timedelta
from decimal import Decimal

import msgspec
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from products.loans.apr import compute_apr
from products.loans.errors import TermsError
from products.loans.model import Schedule
from products.loans.schedule import generate_schedule as generate_or_raise
from products.loans.terms import (
    AmortizationMethod,
    DaysInMonth,
    DaysInYear,
    FeeCalculation,
    FeeSpec,
    FeeTrigger,
    HolidayRule,
    InterestCalculationPeriod,
    InterestMethod,
    LoanTerms,
    RepaymentFrequencyUnit,
    Weekday,
)
from products.rounding import Rounding, RoundingMode

REFUSED_BY_DESIGN = frozenset({"holiday_rule", "first_repayment_date"})
"""Fields whose refusal is a correct answer for some generated terms: a first due date moved
back onto the disbursement, or a first period so long its interest exceeds the instalment."""


def generate_schedule(terms: LoanTerms) -> Schedule:
    try:
        return generate_or_raise(terms)
    except TermsError as error:
        if error.field not in REFUSED_BY_DESIGN:
            raise
        assume(False)
        raise


CURRENCIES = st.sampled_from(["XOF", "XAF", "EUR", "KWD"])


@st.composite
def loan_terms(draw: st.DrawFn, *, with_grace: bool = True, daily: bool | None = None) -> LoanTerms:
    """Terms across every setting that shapes a schedule, within realistic bounds."""
    currency = draw(CURRENCIES)
    places = {"XOF": 0, "XAF": 0, "EUR": 2, "KWD": 3}[currency]
    principal = Decimal(draw(st.integers(min_value=1_000, max_value=10**10))).scaleb(-places)
    count = draw(st.integers(min_value=1, max_value=60))
    unit = draw(st.sampled_from(list(RepaymentFrequencyUnit)))
    every = draw(st.integers(min_value=1, max_value=3 if unit is not RepaymentFrequencyUnit.DAYS else 30))
    if unit is RepaymentFrequencyUnit.YEARS:
        count = min(count, 10)
    calculation = (
        draw(st.sampled_from(list(InterestCalculationPeriod)))
        if daily is None
        else (
            InterestCalculationPeriod.DAILY if daily else InterestCalculationPeriod.SAME_AS_REPAYMENT_PERIOD
        )
    )
    grace_principal = draw(st.integers(min_value=0, max_value=count - 1)) if with_grace else 0
    grace_payment = draw(st.integers(min_value=0, max_value=count - 1)) if with_grace else 0
    grace_charged = draw(st.integers(min_value=0, max_value=count)) if with_grace else 0
    return LoanTerms(
        currency_code=currency,
        principal_amount=principal,
        disbursement_date=draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))),
        repayment_count=count,
        repayment_every=every,
        repayment_frequency_unit=unit,
        interest_rate_percent=Decimal(draw(st.integers(min_value=0, max_value=6_000))).scaleb(-2),
        interest_method=draw(st.sampled_from(list(InterestMethod))),
        amortization_method=draw(st.sampled_from(list(AmortizationMethod))),
        interest_calculation_period=calculation,
        days_in_year=draw(st.sampled_from(list(DaysInYear))),
        days_in_month=draw(st.sampled_from(list(DaysInMonth))),
        first_repayment_days_min=draw(st.integers(min_value=0, max_value=20)),
        grace_on_principal_periods=grace_principal,
        grace_on_interest_payment_periods=grace_payment,
        grace_on_interest_charged_periods=grace_charged,
        interest_free_days=draw(st.integers(min_value=0, max_value=40)) if with_grace else 0,
        rounding=Rounding(mode=draw(st.sampled_from(list(RoundingMode)))),
        non_working_weekdays=tuple(draw(st.sets(st.sampled_from(list(Weekday)), max_size=2))),
        holiday_rule=draw(st.sampled_from(list(HolidayRule))),
    )


@settings(max_examples=300, deadline=None)
@given(terms=loan_terms())
def test_principal_parts_add_up_and_balances_end_at_zero(terms: LoanTerms) -> None:
    schedule = generate_schedule(terms)
    rows = schedule.instalments
    assert sum(row.principal_amount for row in rows) == terms.principal_amount
    assert all(row.balance_amount >= 0 for row in rows)
    assert rows[-1].balance_amount == 0
    balances = [
        terms.principal_amount - sum(r.principal_amount for r in rows[: i + 1]) for i in range(len(rows))
    ]
    assert balances == [row.balance_amount for row in rows]
    assert all(
        row.total_amount == row.principal_amount + row.interest_amount + row.fee_amount + row.vat_amount
        for row in rows
    )


@settings(max_examples=200, deadline=None)
@given(terms=loan_terms())
def test_declining_interest_never_exceeds_flat(terms: LoanTerms) -> None:
    """Same terms, two methods: interest on a declining balance is at most interest on the
    initial principal. Each method rounds every instalment's interest once, so the two
    totals may differ by rounding: at most one smallest unit per instalment."""
    declining = generate_schedule(
        msgspec.structs.replace(terms, interest_method=InterestMethod.DECLINING_BALANCE)
    )
    flat = generate_schedule(msgspec.structs.replace(terms, interest_method=InterestMethod.FLAT))
    unit = Decimal(1).scaleb(-{"XOF": 0, "XAF": 0, "EUR": 2, "KWD": 3}[terms.currency_code])
    tolerance = unit * terms.repayment_count
    assert declining.totals.interest_amount <= flat.totals.interest_amount + tolerance


@settings(max_examples=200, deadline=None)
@given(terms=loan_terms(with_grace=False, daily=False))
def test_equal_principal_instalments_decrease(terms: LoanTerms) -> None:
    """Declining, equal principal, per-period interest, no grace: each instalment is at most
    the previous one, apart from the first (a longer first period) and the last (remainder)."""
    terms = msgspec.structs.replace(
        terms,
        interest_method=InterestMethod.DECLINING_BALANCE,
        amortization_method=AmortizationMethod.EQUAL_PRINCIPAL,
        first_repayment_days_min=0,
    )
    totals = [row.total_amount for row in generate_schedule(terms).instalments]
    middle = totals[:-1]
    assert all(later <= earlier for earlier, later in itertools.pairwise(middle))


@settings(max_examples=200, deadline=None)
@given(terms=loan_terms(with_grace=False), multiple_units=st.sampled_from([5, 10, 100, 1_000]))
def test_instalments_are_multiples_except_the_last(terms: LoanTerms, multiple_units: int) -> None:
    """Declining balance, no grace: every instalment but the last is a multiple of the setting."""
    multiple = Decimal(multiple_units) * 1000  # large enough against each period's principal
    terms = msgspec.structs.replace(
        terms,
        interest_method=InterestMethod.DECLINING_BALANCE,
        principal_amount=max(terms.principal_amount, multiple * 50 * terms.repayment_count),
        instalment_in_multiples_of=multiple,
        interest_rate_percent=min(terms.interest_rate_percent, Decimal(30)),
    )
    try:
        rows = generate_schedule(terms).instalments
    except TermsError as error:
        # Periods of years at high rates: a multiple-rounded instalment may not cover the
        # period's interest, and the engine rightly refuses such terms.
        assume(error.field != "instalment_in_multiples_of")
        raise
    for row in rows[:-1]:
        assert (row.principal_amount + row.interest_amount) % multiple == 0, row


@settings(max_examples=100, deadline=None)
@given(terms=loan_terms(with_grace=False), fee_percent=st.integers(min_value=50, max_value=500))
def test_apr_at_least_nominal_when_fees_are_charged(terms: LoanTerms, fee_percent: int) -> None:
    """An upfront fee of 0.5 % to 5 % makes the proportional TEG at least the nominal rate, on
    declining balance with interest per period; the actuarial TEG is higher still whenever
    there is at least one period a year."""
    fee = FeeSpec(
        name="Frais de dossier",
        trigger=FeeTrigger.DISBURSEMENT,
        calculation=FeeCalculation.PERCENT_OF_AMOUNT,
        rate_percent=Decimal(fee_percent).scaleb(-2),
    )
    terms = msgspec.structs.replace(
        terms,
        fees=(fee,),
        interest_method=InterestMethod.DECLINING_BALANCE,
        interest_calculation_period=InterestCalculationPeriod.SAME_AS_REPAYMENT_PERIOD,
        principal_amount=max(terms.principal_amount, Decimal(1_000_000)),
        first_repayment_days_min=0,
        non_working_weekdays=(),
    )
    apr = compute_apr(terms, generate_schedule(terms))
    nominal = terms.interest_rate_annual_percent
    assert apr.proportional_annual_percent >= nominal
    if apr.periods_per_year >= 1:  # compounding only raises the rate for periods of a year or less
        assert apr.actuarial_annual_percent >= apr.proportional_annual_percent


@settings(max_examples=100, deadline=None)
@given(terms=loan_terms())
def test_due_dates_follow_the_disbursement_and_never_go_back(terms: LoanTerms) -> None:
    rows = generate_schedule(terms).instalments
    assert rows[0].due_date >= terms.disbursement_date + timedelta(days=terms.first_repayment_days_min) or (
        terms.holiday_rule is HolidayRule.PREVIOUS_WORKING_DAY
    )
    assert rows[0].due_date > terms.disbursement_date
    dates = [row.due_date for row in rows]
    assert all(later >= earlier for earlier, later in itertools.pairwise(dates))
