"""Bad terms are refused with a `TermsError` naming the field, never a crash or a hang."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from products.loans.errors import TermsError
from products.loans.schedule import generate_schedule
from products.loans.terms import (
    AmortizationMethod,
    FeeCalculation,
    FeeSpec,
    FeeTrigger,
    InterestMethod,
    InterestRatePeriod,
    RepaymentFrequencyUnit,
    TrancheSpec,
    Weekday,
)
from products.rounding import Rounding
from tests.products.factories import xof_terms

TRANCHE = TrancheSpec(expected_date=date(2025, 1, 1), amount=Decimal(1_200_000))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency_code": "xof"}, "currency_code"),
        ({"currency_code": "ZZZ"}, "currency_code"),
        ({"principal_amount": Decimal("NaN")}, "principal_amount"),
        ({"principal_amount": Decimal("Infinity")}, "principal_amount"),
        ({"principal_amount": Decimal("1E+999999")}, "principal_amount"),
        ({"principal_amount": Decimal("1E-999999")}, "principal_amount"),
        ({"principal_amount": Decimal("100.5")}, "principal_amount"),  # XOF has no decimals
        ({"principal_amount": Decimal(0)}, "principal_amount"),
        ({"principal_amount": Decimal(-5)}, "principal_amount"),
        ({"disbursement_date": date(1, 1, 1)}, "disbursement_date"),
        ({"disbursement_date": date(9999, 12, 31)}, "disbursement_date"),
        ({"repayment_count": 0}, "repayment_count"),
        ({"repayment_count": 601}, "repayment_count"),
        ({"repayment_count": 600, "repayment_every": 12}, "repayment_count"),  # 600 years
        ({"repayment_every": 0}, "repayment_every"),
        ({"repayment_every": 10**9}, "repayment_every"),
        ({"interest_rate_percent": Decimal(-1)}, "interest_rate_percent"),
        ({"interest_rate_percent": Decimal(1001)}, "interest_rate_percent"),
        (
            {"interest_rate_percent": Decimal(90), "interest_rate_period": InterestRatePeriod.PER_MONTH},
            "interest_rate_percent",
        ),
        ({"interest_rate_percent": Decimal("sNaN")}, "interest_rate_percent"),
        ({"weeks_in_year": 51}, "weeks_in_year"),
        ({"first_repayment_date": date(2024, 12, 1)}, "first_repayment_date"),
        ({"first_repayment_date": date(2025, 1, 5), "first_repayment_days_min": 10}, "first_repayment_date"),
        ({"first_repayment_date": date(2027, 1, 1)}, "first_repayment_date"),
        ({"first_repayment_days_min": -1}, "first_repayment_days_min"),
        ({"grace_on_principal_periods": 6}, "grace_on_principal_periods"),
        ({"grace_on_interest_payment_periods": -1}, "grace_on_interest_payment_periods"),
        ({"grace_on_interest_charged_periods": 7}, "grace_on_interest_charged_periods"),
        ({"interest_free_days": 10**6}, "interest_free_days"),
        ({"rounding": Rounding(decimals=2)}, "rounding.decimals"),
        ({"rounding": Rounding(in_multiples_of=Decimal("0.5"))}, "rounding.in_multiples_of"),
        (
            {"rounding": Rounding(in_multiples_of=Decimal(5)), "instalment_in_multiples_of": Decimal(12)},
            "instalment_in_multiples_of",
        ),
        (
            {"last_instalment_principal_threshold_percent": Decimal(101)},
            "last_instalment_principal_threshold_percent",
        ),
        ({"fixed_instalment_amount": Decimal(0)}, "fixed_instalment_amount"),
        (
            {"fixed_instalment_amount": Decimal(1000), "interest_method": InterestMethod.FLAT},
            "fixed_instalment_amount",
        ),
        (
            {
                "fixed_instalment_amount": Decimal(1000),
                "amortization_method": AmortizationMethod.EQUAL_PRINCIPAL,
            },
            "fixed_instalment_amount",
        ),
        ({"tranches": (TRANCHE,) * 21}, "tranches"),
        (
            {"tranches": (TrancheSpec(expected_date=date(2025, 1, 2), amount=Decimal(1_200_000)),)},
            "tranches[0].expected_date",
        ),
        ({"tranches": (TrancheSpec(expected_date=date(2025, 1, 1), amount=Decimal(1)),)}, "tranches"),
        ({"tranches": (TRANCHE,), "interest_method": InterestMethod.FLAT}, "tranches"),
        (
            {
                "tranches": (
                    TrancheSpec(expected_date=date(2025, 1, 1), amount=Decimal(600_000)),
                    TrancheSpec(expected_date=date(2026, 1, 1), amount=Decimal(600_000)),
                )
            },
            "tranches[1].expected_date",
        ),
        ({"vat_on_interest_percent": Decimal(101)}, "vat_on_interest_percent"),
        ({"non_working_weekdays": tuple(Weekday)}, "non_working_weekdays"),
        ({"holidays": (date(2025, 1, 1),) * 1001}, "holidays"),
        (
            {
                "holidays": tuple(date(2025, 2, day) for day in range(1, 29))
                + tuple(date(2025, 3, day) for day in range(1, 10))
            },
            "holidays",
        ),
    ],
)
def test_bad_terms_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(TermsError) as error:
        generate_schedule(xof_terms(**overrides))
    assert error.value.field == field


def fee(**fields: Any) -> FeeSpec:
    values: dict[str, Any] = {"name": "Frais", "trigger": FeeTrigger.INSTALMENT, "flat_amount": Decimal(100)}
    values.update(fields)
    return FeeSpec(**values)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (fee(name=""), "fees[0].name"),
        (fee(name="x" * 81), "fees[0].name"),
        (fee(flat_amount=None), "fees[0].flat_amount"),
        (fee(flat_amount=Decimal("NaN")), "fees[0].flat_amount"),
        (fee(calculation=FeeCalculation.PERCENT_OF_AMOUNT, flat_amount=None), "fees[0].rate_percent"),
        (
            fee(calculation=FeeCalculation.PERCENT_OF_AMOUNT, flat_amount=None, rate_percent=Decimal(101)),
            "fees[0].rate_percent",
        ),
        (
            fee(
                trigger=FeeTrigger.DISBURSEMENT,
                calculation=FeeCalculation.PERCENT_OF_INSTALMENT,
                flat_amount=None,
                rate_percent=Decimal(1),
            ),
            "fees[0].calculation",
        ),
        (fee(trigger=FeeTrigger.SPECIFIED_DUE_DATE), "fees[0].due_date"),
        (fee(trigger=FeeTrigger.SPECIFIED_DUE_DATE, due_date=date(2024, 1, 1)), "fees[0].due_date"),
        (fee(due_date=date(2025, 3, 1)), "fees[0].due_date"),
        (fee(vat_percent=Decimal(-1)), "fees[0].vat_percent"),
    ],
)
def test_bad_fees_name_the_field(spec: FeeSpec, field: str) -> None:
    with pytest.raises(TermsError) as error:
        generate_schedule(xof_terms(fees=(spec,)))
    assert error.value.field == field


def test_first_due_date_moved_onto_the_disbursement_is_refused() -> None:
    """Daily repayments from a Friday, Saturday closed, previous working day: the first due
    date would move back onto the disbursement day."""
    from products.loans.terms import HolidayRule

    terms = xof_terms(
        disbursement_date=date(2025, 1, 3),
        repayment_frequency_unit=RepaymentFrequencyUnit.DAYS,
        non_working_weekdays=(Weekday.SATURDAY,),
        holiday_rule=HolidayRule.PREVIOUS_WORKING_DAY,
    )
    with pytest.raises(TermsError) as error:
        generate_schedule(terms)
    assert error.value.field == "holiday_rule"


def test_largest_allowed_loan_still_computes() -> None:
    """600 monthly instalments (50 years) of 10^15 XOF at 1000 % a year: no overflow, exact principal."""
    terms = xof_terms(
        principal_amount=Decimal(10**15), repayment_count=600, interest_rate_percent=Decimal(1000)
    )
    schedule = generate_schedule(terms)
    assert schedule.totals.principal_amount == Decimal(10**15)
