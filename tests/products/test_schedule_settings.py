"""Hand-checked schedules for grace, tranches, holidays, rounding, fixed and last instalments, fees.

Base case unless a test says otherwise (see `factories.xof_terms`): 1,200,000 XOF at 24 %
a year, i.e. 2 % a month, 6 monthly instalments from 1 January 2025, half-even rounding to
the franc. Useful figures: 2 % of 1,200,000 is 24,000; PMT(2 %, 4, 1,200,000) =
24,000 / (1 - 1.02^-4) = 24,000 / 0.0761546 = 315,148.55; PMT(2 %, 6, 600,000) = 107,115.48.
"""

from datetime import date
from decimal import Decimal

import pytest

from products.loans.errors import TermsError
from products.loans.schedule import generate_schedule
from products.loans.terms import (
    AmortizationMethod,
    FeeCalculation,
    FeeKind,
    FeeSpec,
    FeeTrigger,
    HolidayRule,
    InterestCalculationPeriod,
    InterestMethod,
    TrancheSpec,
    Weekday,
)
from products.rounding import Rounding, RoundingMode
from tests.products.factories import eur_terms, xof_terms


def amounts(*values: int) -> list[Decimal]:
    return [Decimal(value) for value in values]


# --- grace and interest-free periods -------------------------------------------------------


def test_grace_on_principal_and_on_interest_payment() -> None:
    """Two months without principal, the first also without interest payment.

    Month 1: interest 24,000 accrues but is deferred: instalment 0.
    Month 2: its own 24,000 plus the deferred 24,000 = 48,000, still no principal.
    Months 3-6: the level instalment over the 4 paying months, PMT(2 %, 4) = 315,149.
    """
    rows = generate_schedule(
        xof_terms(grace_on_principal_periods=2, grace_on_interest_payment_periods=1)
    ).instalments
    assert [row.principal_amount for row in rows[:2]] == amounts(0, 0)
    assert [row.interest_amount for row in rows[:3]] == amounts(0, 48_000, 24_000)
    assert [row.total_amount for row in rows[2:5]] == amounts(315_149, 315_149, 315_149)
    assert rows[1].balance_amount == Decimal(1_200_000)


def test_grace_on_interest_payment_alone_pays_principal_only() -> None:
    """Seed 001: "6 mois -> paiement du capital uniquement". With one month of grace the EMI
    stays PMT(2 %, 6) = 214,231; month 1 pays principal 214,231 - 24,000 = 190,231 only,
    and month 2 pays its interest 20,195 plus the deferred 24,000 = 44,195.
    """
    rows = generate_schedule(xof_terms(grace_on_interest_payment_periods=1)).instalments
    assert (rows[0].principal_amount, rows[0].interest_amount) == (Decimal(190_231), Decimal(0))
    assert rows[1].interest_amount == Decimal(44_195)
    assert rows[1].total_amount == Decimal(214_231 + 24_000)


def test_grace_on_interest_charged() -> None:
    """No interest computed for the first 2 months; the level instalment A solves
    (1,200,000 - 2A) x PMT factor = A, i.e. A = 315,148.55 / (1 + 2 x 0.2626237) = 206,621.4.
    """
    rows = generate_schedule(xof_terms(grace_on_interest_charged_periods=2)).instalments
    assert [row.interest_amount for row in rows[:3]] == amounts(0, 0, 15_735)
    assert [row.total_amount for row in rows] == amounts(*[206_621] * 6)
    # month 3: balance 1,200,000 - 2 x 206,621 = 786,758; 2 % = 15,735.16 -> 15,735


def test_flat_grace_on_interest_charged_spreads_the_rest() -> None:
    """Flat: 6 x 24,000 = 144,000 less 2 free months = 96,000, spread over the 4 others."""
    rows = generate_schedule(
        xof_terms(interest_method=InterestMethod.FLAT, grace_on_interest_charged_periods=2)
    ).instalments
    assert [row.interest_amount for row in rows] == amounts(0, 0, 24_000, 24_000, 24_000, 24_000)


def test_interest_free_days() -> None:
    """15 interest-free days: January earns 16 of its 31 days: 24,000 x 16 / 31 = 12,387.10."""
    rows = generate_schedule(xof_terms(interest_free_days=15)).instalments
    assert rows[0].interest_amount == Decimal(12_387)
    assert rows[1].interest_amount == (rows[0].balance_amount * Decimal("0.02")).quantize(Decimal(1))


def test_interest_free_days_with_daily_interest() -> None:
    """Daily 365: 31 free days cover January entirely: interest 0, then February is charged."""
    terms = xof_terms(interest_free_days=31, interest_calculation_period=InterestCalculationPeriod.DAILY)
    rows = generate_schedule(terms).instalments
    assert rows[0].interest_amount == 0
    assert rows[1].interest_amount > 0


# --- multi-disbursement --------------------------------------------------------------------


def test_tranche_on_a_due_date_recomputes_the_instalment() -> None:
    """600,000 on 1 January and 600,000 on 1 March.

    Months 1-2: PMT(2 %, 6, 600,000) = 107,115. After month 2 the balance is 407,868; with
    the new tranche 1,007,868 is amortised over 4 months: x 0.2626237 = 264,690.
    """
    tranches = (
        TrancheSpec(expected_date=date(2025, 1, 1), amount=Decimal(600_000)),
        TrancheSpec(expected_date=date(2025, 3, 1), amount=Decimal(600_000)),
    )
    schedule = generate_schedule(xof_terms(tranches=tranches))
    rows = schedule.instalments
    assert [row.total_amount for row in rows[:2]] == amounts(107_115, 107_115)
    assert rows[1].balance_amount == Decimal(407_868)
    assert [row.total_amount for row in rows[2:5]] == amounts(264_690, 264_690, 264_690)
    assert [d.amount for d in schedule.disbursements] == amounts(600_000, 600_000)


def test_tranche_mid_period_earns_interest_from_its_date() -> None:
    """Second tranche on 16 March, inside March's period (1 March - 1 April, 31 days).

    Interest for March: 407,868 x 2 % = 8,157.36 on the old balance, plus 600,000 x 2 % x
    16 / 31 = 6,193.55 on the tranche: 14,350.91 -> 14,351.
    """
    tranches = (
        TrancheSpec(expected_date=date(2025, 1, 1), amount=Decimal(600_000)),
        TrancheSpec(expected_date=date(2025, 3, 16), amount=Decimal(600_000)),
    )
    rows = generate_schedule(xof_terms(tranches=tranches)).instalments
    assert rows[2].interest_amount == Decimal(14_351)
    assert sum(row.principal_amount for row in rows) == Decimal(1_200_000)


# --- holidays and non-working days ---------------------------------------------------------


def test_weekend_due_dates_move_and_daily_interest_follows() -> None:
    """Disbursed Sunday 5 January 2025, daily interest, Saturday and Sunday closed.

    5 April 2025 is a Saturday: due on Monday 7 April, so March's period has 33 days and
    April's 28. Interest for that 33-day period: 814,726 x 24 % x 33 / 365 = 17,678.23.
    """
    terms = xof_terms(
        disbursement_date=date(2025, 1, 5),
        interest_calculation_period=InterestCalculationPeriod.DAILY,
        non_working_weekdays=(Weekday.SATURDAY, Weekday.SUNDAY),
    )
    rows = generate_schedule(terms).instalments
    assert rows[2].due_date == date(2025, 4, 7)
    assert [row.days for row in rows[2:4]] == [33, 28]
    assert rows[2].interest_amount == Decimal(17_678)
    assert rows[1].balance_amount == Decimal(814_726)


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (HolidayRule.NEXT_WORKING_DAY, date(2025, 4, 11)),
        (HolidayRule.PREVIOUS_WORKING_DAY, date(2025, 4, 9)),
        (HolidayRule.SAME_DAY, date(2025, 4, 10)),
    ],
)
def test_holiday_rule(rule: HolidayRule, expected: date) -> None:
    """Disbursed Monday 10 March; 10 April (Thursday) is a holiday."""
    terms = xof_terms(disbursement_date=date(2025, 3, 10), holidays=(date(2025, 4, 10),), holiday_rule=rule)
    assert generate_schedule(terms).instalments[0].due_date == expected


def test_holiday_move_keeps_per_period_interest() -> None:
    """Interest "same as repayment period" is one period's rate whatever the move (Fineract):
    the moved schedule has the same amounts as the unmoved one, only the date differs."""
    moved = generate_schedule(xof_terms(disbursement_date=date(2025, 3, 10), holidays=(date(2025, 4, 10),)))
    plain = generate_schedule(xof_terms(disbursement_date=date(2025, 3, 10)))
    assert [r.total_amount for r in moved.instalments] == [r.total_amount for r in plain.instalments]
    assert moved.instalments[0].due_date != plain.instalments[0].due_date


def test_holiday_run_next_working_day_skips_weekend_too() -> None:
    """Friday 11 April holiday and the weekend closed: moves to Monday 14 April."""
    terms = xof_terms(
        disbursement_date=date(2025, 3, 11),
        holidays=(date(2025, 4, 11),),
        non_working_weekdays=(Weekday.SATURDAY, Weekday.SUNDAY),
    )
    assert generate_schedule(terms).instalments[0].due_date == date(2025, 4, 14)


# --- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (RoundingMode.HALF_UP, 13),
        (RoundingMode.HALF_EVEN, 12),
        (RoundingMode.HALF_DOWN, 12),
        (RoundingMode.DOWN, 12),
        (RoundingMode.UP, 13),
    ],
)
def test_rounding_mode_on_an_exact_half(mode: RoundingMode, expected: int) -> None:
    """1,250 XOF at 1 % a month: interest 12.5 exactly, rounded per the product's mode."""
    terms = xof_terms(
        principal_amount=Decimal(1_250),
        interest_rate_percent=Decimal(12),
        repayment_count=1,
        rounding=Rounding(mode=mode),
    )
    assert generate_schedule(terms).instalments[0].interest_amount == Decimal(expected)


def test_rounding_down_leaves_more_for_the_last_instalment() -> None:
    """EMI 888.4879 rounded down is 888.48, a cent under half-even's 888.49, and each month's
    interest is rounded down too. Eleven instalments of 888.48 repay a cent less principal
    each than in the half-even schedule, so the last instalment is larger than 888.48.
    """
    schedule = generate_schedule(eur_terms(rounding=Rounding(mode=RoundingMode.DOWN)))
    rows = schedule.instalments
    assert {row.total_amount for row in rows[:-1]} == {Decimal("888.48")}
    assert rows[-1].total_amount > Decimal("888.48")
    assert schedule.totals.principal_amount == Decimal("10000.00")


def test_decimals_below_the_currency() -> None:
    """EUR with 0 decimals: EMI 888.4879 -> 888; interest 100, then 9,212 x 1 % = 92.12 -> 92."""
    rows = generate_schedule(eur_terms(rounding=Rounding(decimals=0))).instalments
    assert rows[0].total_amount == Decimal(888)
    assert rows[1].interest_amount == Decimal(92)


def test_amounts_in_multiples_of_five() -> None:
    """Multiples of 5 XOF: January's interest with 15 free days is 12,387.10 -> 12,385."""
    terms = xof_terms(interest_free_days=15, rounding=Rounding(in_multiples_of=Decimal(5)))
    rows = generate_schedule(terms).instalments
    assert rows[0].interest_amount == Decimal(12_385)
    assert all(row.interest_amount % 5 == 0 for row in rows)


def test_instalments_in_multiples_of_a_thousand() -> None:
    """EMI 214,231 rounded to a multiple of 1,000 is 214,000; the last takes the remainder.

    Month 1: principal 214,000 - 24,000 = 190,000. After five months the last instalment is
    the balance 211,232 plus 2 % interest 4,224.64 -> 4,225: 215,457.
    """
    rows = generate_schedule(xof_terms(instalment_in_multiples_of=Decimal(1_000))).instalments
    assert [row.total_amount for row in rows] == amounts(*[214_000] * 5, 215_457)
    assert rows[0].principal_amount == Decimal(190_000)


def test_equal_principal_instalments_in_multiples() -> None:
    """Equal principal 200,000 plus 2 % interest; multiple of 5,000 moves principal so that each
    instalment (but the last) is a multiple: 224,000 -> 225,000 means principal 201,000."""
    terms = xof_terms(
        amortization_method=AmortizationMethod.EQUAL_PRINCIPAL, instalment_in_multiples_of=Decimal(5_000)
    )
    rows = generate_schedule(terms).instalments
    assert rows[0].total_amount == Decimal(225_000)
    assert rows[0].principal_amount == Decimal(201_000)
    assert all(row.total_amount % 5_000 == 0 for row in rows[:-1])


# --- fixed instalment and last-instalment threshold ------------------------------------------


def test_fixed_instalment_amount_smaller_than_computed() -> None:
    """Fixed at 250,000: month 1 principal 226,000; month 5's principal 244,630 leaves 23,887,
    which the 6th instalment repays with 2 % = 477.74 -> 478 of interest: 24,365."""
    rows = generate_schedule(xof_terms(fixed_instalment_amount=Decimal(250_000))).instalments
    assert [row.total_amount for row in rows] == amounts(*[250_000] * 5, 24_365)


def test_last_instalment_threshold_merges_a_small_remainder() -> None:
    """With a 10 % threshold, 23,887 < 10 % of 244,630: merged into month 5 (273,887); 5 instalments."""
    terms = xof_terms(
        fixed_instalment_amount=Decimal(250_000), last_instalment_principal_threshold_percent=Decimal(10)
    )
    rows = generate_schedule(terms).instalments
    assert len(rows) == 5
    assert rows[-1].total_amount == Decimal(273_887)
    assert rows[-1].principal_amount == Decimal(268_517)


def test_last_instalment_threshold_below_the_remainder_changes_nothing() -> None:
    """A 9 % threshold: 23,887 is 9.76 % of 244,630, above it: six instalments as before."""
    terms = xof_terms(
        fixed_instalment_amount=Decimal(250_000), last_instalment_principal_threshold_percent=Decimal(9)
    )
    assert len(generate_schedule(terms).instalments) == 6


def test_fixed_instalment_larger_than_needed_ends_early() -> None:
    """Fixed at 700,000: month 1 principal 676,000; month 2 repays the 524,000 left + 10,480."""
    rows = generate_schedule(xof_terms(fixed_instalment_amount=Decimal(700_000))).instalments
    assert [row.total_amount for row in rows] == amounts(700_000, 534_480)


def test_fixed_instalment_below_interest_is_refused() -> None:
    with pytest.raises(TermsError) as error:
        generate_schedule(xof_terms(fixed_instalment_amount=Decimal(20_000)))
    assert error.value.field == "fixed_instalment_amount"


# --- fees and VAT ---------------------------------------------------------------------------


def test_fees_and_vat() -> None:
    """Equal principal (interest 24,000, 20,000, 16,000, ...), VAT 18 % on interest, and:

    * "Frais de dossier" 1.5 % of 1,200,000 = 18,000 at disbursement, VAT 18 % = 3,240;
    * insurance 1,000 per instalment; commission 10 % of each instalment's interest;
    * a 5,000 visit fee due 10 March, in the period 1 March - 1 April (instalment 3).

    Instalment 1: fees 1,000 + 2,400 = 3,400; VAT 18 % x 24,000 = 4,320;
    total 200,000 + 24,000 + 3,400 + 4,320 = 231,720.
    Instalment 3: fees 1,000 + 1,600 + 5,000 = 7,600.
    Fees in total: 18,000 + 6 x 1,000 + 10 % x 84,000 + 5,000 = 37,400.
    """
    fees = (
        FeeSpec(
            name="Frais de dossier",
            trigger=FeeTrigger.DISBURSEMENT,
            calculation=FeeCalculation.PERCENT_OF_AMOUNT,
            rate_percent=Decimal("1.5"),
            vat_percent=Decimal(18),
        ),
        FeeSpec(
            name="Assurance",
            trigger=FeeTrigger.INSTALMENT,
            flat_amount=Decimal(1_000),
            kind=FeeKind.INSURANCE,
        ),
        FeeSpec(
            name="Commission",
            trigger=FeeTrigger.INSTALMENT,
            calculation=FeeCalculation.PERCENT_OF_INTEREST,
            rate_percent=Decimal(10),
            kind=FeeKind.COMMISSION,
        ),
        FeeSpec(
            name="Frais de visite",
            trigger=FeeTrigger.SPECIFIED_DUE_DATE,
            flat_amount=Decimal(5_000),
            due_date=date(2025, 3, 10),
        ),
    )
    terms = xof_terms(
        amortization_method=AmortizationMethod.EQUAL_PRINCIPAL, vat_on_interest_percent=Decimal(18), fees=fees
    )
    schedule = generate_schedule(terms)
    rows = schedule.instalments
    assert [rows[0].fee_amount, rows[0].vat_amount, rows[0].total_amount] == amounts(3_400, 4_320, 231_720)
    assert rows[2].fee_amount == Decimal(7_600)
    first = schedule.disbursements[0]
    assert [first.fee_amount, first.vat_amount] == amounts(18_000, 3_240)
    assert schedule.totals.fee_amount == Decimal(37_400)
    assert schedule.totals.vat_amount == Decimal(3_240 + 84_000 * 18 // 100)
    assert schedule.totals.cost_of_credit_amount == Decimal(84_000 + 37_400 + 3_240 + 15_120)


def test_fee_percent_of_instalment() -> None:
    """1 % of each instalment's principal + interest: 1 % of 224,000 = 2,240 on the first."""
    fee = FeeSpec(
        name="Frais de gestion",
        trigger=FeeTrigger.INSTALMENT,
        calculation=FeeCalculation.PERCENT_OF_INSTALMENT,
        rate_percent=Decimal(1),
    )
    terms = xof_terms(amortization_method=AmortizationMethod.EQUAL_PRINCIPAL, fees=(fee,))
    assert generate_schedule(terms).instalments[0].fee_amount == Decimal(2_240)


def test_disbursement_fee_percent_of_interest() -> None:
    """5 % of the total interest 84,000 = 4,200, due at disbursement."""
    fee = FeeSpec(
        name="Commission",
        trigger=FeeTrigger.DISBURSEMENT,
        calculation=FeeCalculation.PERCENT_OF_INTEREST,
        rate_percent=Decimal(5),
    )
    schedule = generate_schedule(
        xof_terms(amortization_method=AmortizationMethod.EQUAL_PRINCIPAL, fees=(fee,))
    )
    assert schedule.disbursements[0].fee_amount == Decimal(4_200)
