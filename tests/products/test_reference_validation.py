"""Pure rules of the reference data: delinquency grids, validity periods, charges, calendars."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from products.loans.terms import HolidayRule, Weekday
from products.reference.calendar import (
    OfficeCalendar,
    move_to_working_day,
    next_working_day,
    previous_working_day,
)
from products.reference.errors import ReferenceDataError
from products.reference.model import (
    ChargeAppliesTo,
    ChargeCalculation,
    ChargeDefinition,
    ChargeTime,
    CurrencySetting,
    DelinquencyBucket,
    HolidayDefinition,
    LoanState,
    PaymentKind,
    PaymentTypeDefinition,
    TaxedOperation,
    TaxKind,
    TaxRateDefinition,
    WorkingWeek,
)
from products.reference.validation import (
    CALCULATIONS_BY_TIME,
    bucket_for,
    first_overlap,
    in_force,
    periods_overlap,
    validate_bucket_grid,
    validate_charge,
    validate_currency_setting,
    validate_holiday,
    validate_payment_type,
    validate_tax_rate,
    validate_working_week,
)
from servicing.reference.defaults import BCEAO_GRID


def bucket(low: int, high: int | None, rate: str = "0", state: LoanState = LoanState.HEALTHY,
           label: str | None = None) -> DelinquencyBucket:
    return DelinquencyBucket(label=label or f"{low}-{high}", days_overdue_min=low, days_overdue_max=high,
                             loan_state=state, provision_rate_percent=Decimal(rate))


@st.composite
def grids(draw: st.DrawFn) -> list[DelinquencyBucket]:
    """Valid grids: contiguous widths from a start, rates and states non-decreasing."""
    start = draw(st.integers(0, 30))
    widths = draw(st.lists(st.integers(1, 400), min_size=1, max_size=19))
    open_ended = draw(st.booleans())
    rates = sorted(draw(st.lists(st.integers(0, 100), min_size=len(widths), max_size=len(widths))))
    doubtful_from = draw(st.integers(0, len(widths)))
    result = []
    low = start
    for index, width in enumerate(widths):
        high = None if open_ended and index == len(widths) - 1 else low + width - 1
        state = LoanState.DOUBTFUL if index >= doubtful_from else LoanState.HEALTHY
        result.append(bucket(low, high, str(rates[index]), state))
        low = low + width
    return result


def test_the_bceao_grid_is_valid_and_classifies_known_delays() -> None:
    grid = validate_bucket_grid(BCEAO_GRID)
    assert bucket_for(0, grid) is grid[0]
    assert bucket_for(90, grid).provision_rate_percent == 0  # type: ignore[union-attr]
    assert bucket_for(91, grid).provision_rate_percent == 40  # type: ignore[union-attr]
    assert bucket_for(200, grid).provision_rate_percent == 80  # type: ignore[union-attr]
    assert bucket_for(400, grid).provision_rate_percent == 100  # type: ignore[union-attr]
    assert bucket_for(5000, grid).label.startswith("Plus de 24 mois")  # type: ignore[union-attr]


@given(grids(), st.randoms(use_true_random=False))
def test_a_valid_grid_in_any_order_covers_each_day_exactly_once(grid: list[DelinquencyBucket], rng) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(grid)
    rng.shuffle(shuffled)
    ordered = validate_bucket_grid(shuffled)
    assert ordered == grid
    last = grid[-1].days_overdue_max if grid[-1].days_overdue_max is not None else grid[-1].days_overdue_min + 500
    for days in range(grid[0].days_overdue_min, last + 1):
        matching = [b for b in grid if b.days_overdue_min <= days and (b.days_overdue_max is None
                                                                        or days <= b.days_overdue_max)]
        assert len(matching) == 1
        assert bucket_for(days, ordered) is matching[0]


@given(grids(), st.data())
def test_moving_a_bound_of_a_valid_grid_leaves_a_gap_or_an_overlap_and_is_refused(
    grid: list[DelinquencyBucket], data: st.DataObject
) -> None:
    if len(grid) < 2:
        return
    index = data.draw(st.integers(1, len(grid) - 1))
    shift = data.draw(st.sampled_from([-1, 1, 2, -2]))
    moved = grid[index].days_overdue_min + shift
    if moved <= grid[index - 1].days_overdue_min or (
            grid[index].days_overdue_max is not None and moved > grid[index].days_overdue_max):
        return  # the order of the buckets would change: another property
    broken = list(grid)
    broken[index] = bucket(moved, grid[index].days_overdue_max, str(grid[index].provision_rate_percent),
                           grid[index].loan_state, label=grid[index].label)
    with pytest.raises(ReferenceDataError) as raised:
        validate_bucket_grid(broken)
    assert raised.value.field == f"buckets[{index}].days_overdue_min"


@pytest.mark.parametrize(("grid", "field", "words"), [
    ([bucket(0, 30), bucket(20, 60)], "buckets[1].days_overdue_min", "overlaps"),
    ([bucket(0, 30), bucket(40, 60)], "buckets[1].days_overdue_min", "uncovered"),
    ([bucket(0, None), bucket(31, 60)], "buckets[0].days_overdue_max", "open-ended"),
    ([bucket(0, 30, "10"), bucket(31, 60, "5")], "buckets[1].provision_rate_percent", "never provisioned less"),
    ([bucket(0, 30, state=LoanState.DOUBTFUL), bucket(31, 60)], "buckets[1].loan_state", "not healthy"),
    ([bucket(0, 30, label="x"), bucket(31, 60, label="x")], "buckets[1].label", "label"),
    ([bucket(0, 30, "101")], "buckets[0].provision_rate_percent", "100"),
    ([], "buckets", "at least one"),
    ([bucket(i * 10, i * 10 + 9) for i in range(21)], "buckets", "at most"),
])
def test_broken_grids_are_refused_naming_the_bucket(grid: list[DelinquencyBucket], field: str, words: str) -> None:
    with pytest.raises(ReferenceDataError, match=words) as raised:
        validate_bucket_grid(grid)
    assert raised.value.field == field


class Period:
    def __init__(self, valid_from: date, valid_to: date | None) -> None:
        self.valid_from = valid_from
        self.valid_to = valid_to


dates = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1))


@given(dates, st.integers(0, 4000) | st.none(), dates, st.integers(0, 4000) | st.none())
def test_periods_overlap_exactly_when_a_day_is_in_both(start_a, length_a, start_b, length_b) -> None:  # type: ignore[no-untyped-def]
    a = Period(start_a, None if length_a is None else start_a + timedelta(days=length_a))
    b = Period(start_b, None if length_b is None else start_b + timedelta(days=length_b))
    latest_start = max(a.valid_from, b.valid_from)
    ends = [p.valid_to for p in (a, b) if p.valid_to is not None]
    shares_a_day = not ends or latest_start <= min(ends)
    assert periods_overlap(a, b) is shares_a_day is periods_overlap(b, a)
    assert (first_overlap(a, [b]) is b) is shares_a_day


def test_in_force_picks_the_period_holding_the_day() -> None:
    old, new = Period(date(2014, 1, 1), date(2025, 12, 31)), Period(date(2026, 1, 1), None)
    assert in_force([old, new], date(2025, 12, 31)) is old
    assert in_force([old, new], date(2026, 1, 1)) is new
    assert in_force([old, new], date(2013, 12, 31)) is None


def charge(**changes: object) -> ChargeDefinition:
    values: dict[str, object] = {
        "name": "Frais de dossier", "applies_to": ChargeAppliesTo.LOAN, "charge_time": ChargeTime.DISBURSEMENT,
        "calculation": ChargeCalculation.PERCENT_OF_AMOUNT, "amount": Decimal(1), "currency": "XOF"}
    values.update(changes)
    return ChargeDefinition(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "field"), [
    ({"applies_to": ChargeAppliesTo.DEPOSIT, "charge_time": ChargeTime.INSTALMENT_FEE}, "charge_time"),
    ({"charge_time": ChargeTime.WITHDRAWAL}, "charge_time"),
    ({"applies_to": ChargeAppliesTo.DEPOSIT, "charge_time": ChargeTime.WITHDRAWAL,
      "calculation": ChargeCalculation.PERCENT_OF_INSTALMENT}, "calculation"),
    ({"amount": Decimal(101)}, "amount"),
    ({"amount": Decimal(0)}, "amount"),
    ({"calculation": ChargeCalculation.FLAT, "amount": Decimal("10.5")}, "amount"),
    ({"calculation": ChargeCalculation.FLAT, "amount": Decimal(500), "amount_min": Decimal(1)}, "amount_min"),
    ({"amount_min": Decimal(5000), "amount_max": Decimal(100)}, "amount_max"),
    ({"amount_min": Decimal("0.5")}, "amount_min"),
    ({"charge_time": ChargeTime.OVERDUE_INSTALMENT, "calculation": ChargeCalculation.PERCENT_OF_OVERDUE_AMOUNT},
     "is_penalty"),
    ({"is_penalty": True}, "is_penalty"),
    ({"due_day": 5}, "due_day"),
    ({"applies_to": ChargeAppliesTo.DEPOSIT, "charge_time": ChargeTime.ANNUAL, "calculation": ChargeCalculation.FLAT,
      "amount": Decimal(1000), "due_month": 2, "due_day": 30}, "due_day"),
    ({"applies_to": ChargeAppliesTo.DEPOSIT, "charge_time": ChargeTime.ANNUAL, "calculation": ChargeCalculation.FLAT,
      "amount": Decimal(1000), "due_day": 3}, "due_month"),
    ({"applies_to": ChargeAppliesTo.DEPOSIT, "charge_time": ChargeTime.MONTHLY, "calculation": ChargeCalculation.FLAT,
      "amount": Decimal(1000)}, "due_day"),
    ({"frequency_every": 1}, "frequency_unit"),
    ({"grace_days": 3}, "grace_days"),
])
def test_charges_that_do_not_fit_are_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ReferenceDataError) as raised:
        validate_charge(charge(**changes), currency_decimals=0)
    assert raised.value.field == field


@pytest.mark.parametrize("applies_to", list(ChargeAppliesTo))
def test_every_listed_time_and_calculation_pair_is_accepted(applies_to: ChargeAppliesTo) -> None:
    for time, calculations in CALCULATIONS_BY_TIME[applies_to].items():
        for calculation in calculations:
            flat = calculation is ChargeCalculation.FLAT
            extra: dict[str, object] = {}
            if time is ChargeTime.ANNUAL:
                extra = {"due_month": 2, "due_day": 29}
            elif time is ChargeTime.MONTHLY:
                extra = {"due_day": 31}
            if time in (ChargeTime.OVERDUE_INSTALMENT, ChargeTime.OVERDUE_MATURITY):
                extra = {"is_penalty": True, "frequency_every": 7, "frequency_unit": "days", "grace_days": 3}
            validate_charge(charge(applies_to=applies_to, charge_time=time, calculation=calculation,
                                   amount=Decimal(2500 if flat else "1.5"), **extra), currency_decimals=0)


def test_a_flat_euro_charge_may_have_cents_but_not_less() -> None:
    validate_charge(charge(calculation=ChargeCalculation.FLAT, amount=Decimal("12.50"), currency="EUR"), 2)
    with pytest.raises(ReferenceDataError, match="2 decimals"):
        validate_charge(charge(calculation=ChargeCalculation.FLAT, amount=Decimal("12.505"), currency="EUR"), 2)


def test_currency_multiples_are_exact_in_the_minor_unit() -> None:
    validate_currency_setting(CurrencySetting(code="XOF", in_multiples_of=Decimal(5)), 0)
    validate_currency_setting(CurrencySetting(code="EUR", in_multiples_of=Decimal("0.05")), 2)
    with pytest.raises(ReferenceDataError) as raised:
        validate_currency_setting(CurrencySetting(code="XOF", in_multiples_of=Decimal("2.5")), 0)
    assert raised.value.field == "in_multiples_of"


def test_payment_types_say_truthfully_whether_they_move_cash() -> None:
    validate_payment_type(PaymentTypeDefinition(name="Espèces", kind=PaymentKind.CASH, is_cash=True))
    for kind, is_cash in ((PaymentKind.CASH, False), (PaymentKind.MOBILE_MONEY, True)):
        with pytest.raises(ReferenceDataError) as raised:
            validate_payment_type(PaymentTypeDefinition(name="x", kind=kind, is_cash=is_cash))
        assert raised.value.field == "is_cash"


def tax(**changes: object) -> TaxRateDefinition:
    values: dict[str, object] = {
        "code": "SN-TAF", "name": "TAF", "tax_kind": TaxKind.TAF, "country": "SN",
        "operation_kind": TaxedOperation.LOAN_INTEREST, "rate_percent": Decimal(17), "valid_from": date(2020, 1, 1)}
    values.update(changes)
    return TaxRateDefinition(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "field"), [
    ({"valid_to": date(2019, 12, 31)}, "valid_to"),
    ({"rate_percent": Decimal("100.01")}, "rate_percent"),
    ({"rate_percent": Decimal("17.00001")}, "rate_percent"),
    ({"country": "sn"}, "country"),
    ({"institution_exempt": True}, "exemption_reference"),
])
def test_tax_rates_refuse_bad_values(changes: dict[str, object], field: str) -> None:
    validate_tax_rate(tax())
    with pytest.raises(ReferenceDataError) as raised:
        validate_tax_rate(tax(**changes))
    assert raised.value.field == field


@pytest.mark.parametrize(("changes", "field"), [
    ({"to_date": date(2026, 4, 3)}, "to_date"),
    ({"to_date": date(2027, 4, 5)}, "to_date"),
    ({"all_offices": False}, "office_ids"),
    ({"office_ids": (1,)}, "office_ids"),
    ({"all_offices": False, "office_ids": (1, 1)}, "office_ids"),
    ({"repayments_moved_to": date(2026, 4, 4)}, "repayments_moved_to"),
])
def test_holidays_refuse_bad_values(changes: dict[str, object], field: str) -> None:
    values: dict[str, object] = {"name": "Fête de l'indépendance", "from_date": date(2026, 4, 4),
                                 "to_date": date(2026, 4, 4), "all_offices": True}
    validate_holiday(HolidayDefinition(**values))  # type: ignore[arg-type]
    values.update(changes)
    with pytest.raises(ReferenceDataError) as raised:
        validate_holiday(HolidayDefinition(**values))  # type: ignore[arg-type]
    assert raised.value.field == field


def test_a_working_week_has_a_day_and_no_day_twice() -> None:
    for days in ((), (Weekday.MONDAY, Weekday.MONDAY)):
        with pytest.raises(ReferenceDataError):
            validate_working_week(WorkingWeek(office_id=None, working_weekdays=days))


SENEGAL_BRANCH = OfficeCalendar.build(
    (Weekday.MONDAY, Weekday.TUESDAY, Weekday.WEDNESDAY, Weekday.THURSDAY, Weekday.FRIDAY, Weekday.SATURDAY),
    [(date(2026, 4, 4), date(2026, 4, 4)), (date(2026, 4, 6), date(2026, 4, 6))])


def test_next_and_previous_working_day_skip_sundays_and_holidays() -> None:
    # Saturday 4 April 2026 (independence day), Sunday 5, Monday 6 (Easter Monday): next is Tuesday 7.
    assert next_working_day(SENEGAL_BRANCH, date(2026, 4, 4)) == date(2026, 4, 7)
    assert previous_working_day(SENEGAL_BRANCH, date(2026, 4, 6)) == date(2026, 4, 3)
    assert next_working_day(SENEGAL_BRANCH, date(2026, 4, 3)) == date(2026, 4, 3)
    assert move_to_working_day(SENEGAL_BRANCH, date(2026, 4, 5), HolidayRule.SAME_DAY) == date(2026, 4, 5)
    closed, holidays = SENEGAL_BRANCH.loan_terms_days()
    assert closed == (Weekday.SUNDAY,)
    assert holidays == (date(2026, 4, 4), date(2026, 4, 6))


@given(st.frozensets(st.sampled_from(list(Weekday)), min_size=1),
       st.lists(st.dates(min_value=date(2026, 1, 1), max_value=date(2026, 3, 31)), max_size=20), dates)
def test_working_days_are_working_and_nothing_between_is(weekdays, holidays, day) -> None:  # type: ignore[no-untyped-def]
    calendar = OfficeCalendar.build(weekdays, [(h, h) for h in holidays])
    try:
        after = next_working_day(calendar, day)
        before = previous_working_day(calendar, day)
    except ReferenceDataError:
        return
    assert calendar.is_working_day(after) and calendar.is_working_day(before)
    assert before <= day <= after
    assert not any(calendar.is_working_day(day + timedelta(days=n)) for n in range((after - day).days))
    assert not any(calendar.is_working_day(day - timedelta(days=n)) for n in range((day - before).days))
