"""The product charges the calendar brings (products.loans.product_charges): when each falls
due and for how much, worked out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.loans.product_charges import (
    CATCH_UP_DAYS_MAX,
    ProductCharge,
    charge_amount,
    due_dates,
    is_automatic,
    occurrences_due,
)
from products.reference.model import ChargeCalculation, ChargeTime
from products.rounding import Rounding, RoundingMode

D = Decimal
XOF = Rounding(decimals=0, mode=RoundingMode.HALF_EVEN, in_multiples_of=None)
MONTHLY = ProductCharge(charge_id=1, name="Frais de gestion", charge_time=ChargeTime.MONTHLY,
                        calculation=ChargeCalculation.FLAT, amount=D(500), vat_percent=D(17), due_day=31)
ANNUAL = ProductCharge(charge_id=2, name="Frais annuels", charge_time=ChargeTime.ANNUAL,
                       calculation=ChargeCalculation.PERCENT_OF_OUTSTANDING_PRINCIPAL, amount=D("0.5"),
                       amount_min=D(1_000), amount_max=D(5_000), due_month=2, due_day=29)
ON_OUTSTANDING = ProductCharge(charge_id=3, name="Commission sur encours", charge_time=ChargeTime.INSTALMENT_FEE,
                               calculation=ChargeCalculation.PERCENT_OF_OUTSTANDING_PRINCIPAL, amount=D(1))


def test_only_calendar_charges_are_automatic() -> None:
    assert is_automatic(MONTHLY) and is_automatic(ANNUAL) and is_automatic(ON_OUTSTANDING)
    scheduled = ProductCharge(charge_id=4, name="Frais par échéance", charge_time=ChargeTime.INSTALMENT_FEE,
                              calculation=ChargeCalculation.FLAT, amount=D(250))
    at_disbursement = ProductCharge(charge_id=5, name="Frais de dossier", charge_time=ChargeTime.DISBURSEMENT,
                                    calculation=ChargeCalculation.PERCENT_OF_AMOUNT, amount=D(1))
    assert not is_automatic(scheduled) and not is_automatic(at_disbursement)


def test_a_monthly_fee_on_the_31st_falls_on_each_months_last_day() -> None:
    assert due_dates(MONTHLY, after=date(2027, 1, 31), through=date(2027, 5, 1), instalment_due_dates=()) == [
        date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]


def test_an_annual_fee_on_29_february_falls_on_the_28th_in_common_years() -> None:
    assert due_dates(ANNUAL, after=date(2027, 1, 1), through=date(2029, 3, 1), instalment_due_dates=()) == [
        date(2027, 2, 28), date(2028, 2, 29), date(2029, 2, 28)]


def test_percentages_of_the_outstanding_principal_are_rounded_and_bounded() -> None:
    # 1 % of 251 842 = 2 518.42 -> 2 518; no VAT.
    assert charge_amount(ON_OUTSTANDING, outstanding_principal=D(251_842), rounding=XOF, currency="XOF") == (
        D(2518), D(0))
    # 0.5 % of 100 000 = 500, below the minimum 1 000; of 2 000 000 = 10 000, above the maximum 5 000.
    assert charge_amount(ANNUAL, outstanding_principal=D(100_000), rounding=XOF, currency="XOF")[0] == D(1000)
    assert charge_amount(ANNUAL, outstanding_principal=D(2_000_000), rounding=XOF, currency="XOF")[0] == D(5000)
    # Flat 500 with 17 % TAF: 85.
    assert charge_amount(MONTHLY, outstanding_principal=D(0), rounding=XOF, currency="XOF") == (D(500), D(85))


def test_occurrences_after_the_disbursement_up_to_the_last_due_date_in_order() -> None:
    found = occurrences_due([MONTHLY, ON_OUTSTANDING], disbursed_on=date(2027, 3, 15), last_due_date=date(2027, 5, 15),
                            on=date(2027, 4, 15), instalment_due_dates=[date(2027, 4, 15), date(2027, 5, 15)],
                            outstanding_principal=D(300_000), rounding=XOF, currency="XOF")
    assert [(o.charge_id, o.due_on, o.amount, o.vat_amount, o.key) for o in found] == [
        (1, date(2027, 3, 31), D(500), D(85), "product-charge:1:2027-03-31"),
        (3, date(2027, 4, 15), D(3000), D(0), "product-charge:3:2027-04-15")]
    # After the last due date nothing more falls due, and nothing with nothing left outstanding.
    assert occurrences_due([MONTHLY, ON_OUTSTANDING], disbursed_on=date(2027, 3, 15), last_due_date=date(2027, 5, 15),
                           on=date(2027, 6, 30), instalment_due_dates=[date(2027, 4, 15), date(2027, 5, 15)],
                           outstanding_principal=D(0), rounding=XOF, currency="XOF") == []


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 1, 1)), st.integers(min_value=1, max_value=31))
def test_a_monthly_fee_falls_once_in_any_month_long_window(on: date, due_day: int) -> None:
    charge = ProductCharge(charge_id=1, name="m", charge_time=ChargeTime.MONTHLY, calculation=ChargeCalculation.FLAT,
                           amount=D(1), due_day=due_day)
    found = occurrences_due([charge], disbursed_on=date(2019, 1, 1), last_due_date=date(2041, 1, 1), on=on,
                            instalment_due_dates=(), outstanding_principal=D(0), rounding=XOF, currency="XOF")
    assert 1 <= len(found) <= 2
    assert all((on - o.due_on).days < CATCH_UP_DAYS_MAX for o in found)
    assert len({o.key for o in found}) == len(found)
