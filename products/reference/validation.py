"""Rules on reference data, as pure functions that raise `ReferenceDataError` naming the field.

What can be decided from the values alone is here: bounds, dates in order, which charge
times and calculations fit loans or deposits, a delinquency grid that is contiguous and
never lowers a provision as arrears grow. Whether a GL account, a currency or a role exists
is the service's question (it needs the database).
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Final, Protocol, TypeVar

from products.reference.errors import ReferenceDataError
from products.reference.limits import (
    AMOUNT_MAX,
    BUCKETS_PER_KIND_MAX,
    DAYS_LATE_TOLERATED_MAX,
    DAYS_OVERDUE_MAX,
    HOLIDAY_DAYS_MAX,
    HOLIDAY_OFFICES_MAX,
    LOANS_PER_PERSON_MAX,
    PERCENT_MAX,
    RATE_DECIMALS_MAX,
    VALIDATION_LEVELS_MAX,
)
from products.reference.model import (
    ChargeAppliesTo,
    ChargeCalculation,
    ChargeDefinition,
    ChargeTime,
    CreditParameters,
    CurrencySetting,
    DelinquencyBucket,
    HolidayDefinition,
    LoanState,
    PaymentKind,
    PaymentTypeDefinition,
    TaxRateDefinition,
    UsuryCapDefinition,
    ValidationLevelDefinition,
    WorkingWeek,
)

_C = ChargeCalculation
_T = ChargeTime

CALCULATIONS_BY_TIME: Final[dict[ChargeAppliesTo, dict[ChargeTime, frozenset[ChargeCalculation]]]] = {
    ChargeAppliesTo.LOAN: {
        _T.APPLICATION: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT}),
        _T.DISBURSEMENT: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT, _C.PERCENT_OF_AMOUNT_AND_INTEREST,
                                    _C.PERCENT_OF_INTEREST}),
        _T.TRANCHE_DISBURSEMENT: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT}),
        _T.SPECIFIED_DUE_DATE: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT, _C.PERCENT_OF_AMOUNT_AND_INTEREST,
                                          _C.PERCENT_OF_INTEREST}),
        _T.INSTALMENT_FEE: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT, _C.PERCENT_OF_AMOUNT_AND_INTEREST,
                                      _C.PERCENT_OF_INSTALMENT, _C.PERCENT_OF_INTEREST,
                                      _C.PERCENT_OF_OUTSTANDING_PRINCIPAL}),
        _T.OVERDUE_INSTALMENT: frozenset({_C.FLAT, _C.PERCENT_OF_OVERDUE_AMOUNT, _C.PERCENT_OF_INSTALMENT,
                                          _C.PERCENT_OF_INTEREST, _C.PERCENT_OF_OUTSTANDING_PRINCIPAL}),
        _T.OVERDUE_MATURITY: frozenset({_C.FLAT, _C.PERCENT_OF_OVERDUE_AMOUNT,
                                        _C.PERCENT_OF_OUTSTANDING_PRINCIPAL}),
        # A loan's account-keeping fee, charged by the close of business while the loan runs.
        _T.ANNUAL: frozenset({_C.FLAT, _C.PERCENT_OF_OUTSTANDING_PRINCIPAL}),
        _T.MONTHLY: frozenset({_C.FLAT, _C.PERCENT_OF_OUTSTANDING_PRINCIPAL}),
    },
    ChargeAppliesTo.DEPOSIT: {
        _T.ACCOUNT_OPENING: frozenset({_C.FLAT}),
        _T.WITHDRAWAL: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT}),
        _T.ANNUAL: frozenset({_C.FLAT, _C.PERCENT_OF_BALANCE}),
        _T.MONTHLY: frozenset({_C.FLAT, _C.PERCENT_OF_BALANCE}),
        _T.SPECIFIED_DUE_DATE: frozenset({_C.FLAT}),
        _T.PREMATURE_CLOSURE: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT, _C.PERCENT_OF_BALANCE}),
        _T.OVERDRAFT: frozenset({_C.FLAT, _C.PERCENT_OF_AMOUNT}),
        _T.DORMANCY: frozenset({_C.FLAT}),
        _T.ACCOUNT_CLOSURE: frozenset({_C.FLAT}),
    },
}
"""Which calculations each charge time allows, for loans and for deposits. A time absent
from a side's table does not apply to it (a withdrawal fee on a loan, an instalment fee on a
deposit)."""

OVERDUE_TIMES: Final = frozenset({ChargeTime.OVERDUE_INSTALMENT, ChargeTime.OVERDUE_MATURITY})
PENALTY_TIMES: Final = OVERDUE_TIMES | {ChargeTime.SPECIFIED_DUE_DATE, ChargeTime.PREMATURE_CLOSURE,
                                        ChargeTime.OVERDRAFT, ChargeTime.DORMANCY}
"""Times at which a charge may be a penalty; at the overdue times it must be one."""


def _fail(field: str, message: str) -> ReferenceDataError:
    return ReferenceDataError(field, message)


def check_exact(value: Decimal, decimals: int, field: str, currency: str) -> None:
    """An amount must be exact in the currency's minor unit (no half franc CFA)."""
    if not value.is_finite():
        raise _fail(field, "must be a finite number")
    if value != value.quantize(Decimal(1).scaleb(-decimals)):
        raise _fail(field, f"{currency} amounts have {decimals} decimals")


def check_percent(value: Decimal, field: str, *, allow_zero: bool = True) -> None:
    if not value.is_finite():
        raise _fail(field, "must be a finite number")
    if value < 0 or (value == 0 and not allow_zero):
        raise _fail(field, "must be positive" if not allow_zero else "must not be negative")
    if value > PERCENT_MAX:
        raise _fail(field, f"must be at most {PERCENT_MAX} %")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > RATE_DECIMALS_MAX and value != value.quantize(Decimal(1).scaleb(-RATE_DECIMALS_MAX)):
        raise _fail(field, f"at most {RATE_DECIMALS_MAX} decimals")


def check_period(valid_from: date, valid_to: date | None, field: str = "valid_to") -> None:
    if valid_to is not None and valid_to < valid_from:
        raise _fail(field, "must not be before valid_from")


def check_country(country: str, field: str = "country") -> None:
    if len(country) != 2 or not country.isascii() or not country.isupper() or not country.isalpha():
        raise _fail(field, "must be an ISO 3166 alpha-2 code, e.g. SN")


def validate_currency_setting(setting: CurrencySetting, decimals: int) -> None:
    if setting.in_multiples_of is None:
        return
    if setting.in_multiples_of <= 0 or setting.in_multiples_of > AMOUNT_MAX:
        raise _fail("in_multiples_of", f"must be positive and at most {AMOUNT_MAX}")
    check_exact(setting.in_multiples_of, decimals, "in_multiples_of", setting.code)


def validate_payment_type(payment_type: PaymentTypeDefinition) -> None:
    if payment_type.kind is PaymentKind.CASH and not payment_type.is_cash:
        raise _fail("is_cash", "a cash payment type moves cash")
    if payment_type.kind is not PaymentKind.CASH and payment_type.is_cash:
        raise _fail("is_cash", f"a {payment_type.kind.value} payment does not move cash")


def validate_tax_rate(tax_rate: TaxRateDefinition) -> None:
    check_country(tax_rate.country)
    check_percent(tax_rate.rate_percent, "rate_percent")
    check_period(tax_rate.valid_from, tax_rate.valid_to)
    if tax_rate.institution_exempt and not tax_rate.exemption_reference:
        raise _fail("exemption_reference", "an exemption needs its legal basis (text and article)")


def validate_usury_cap(cap: UsuryCapDefinition) -> None:
    check_percent(cap.rate_annual_percent, "rate_annual_percent", allow_zero=False)
    check_period(cap.valid_from, cap.valid_to)
    if not cap.legal_reference.strip():
        raise _fail("legal_reference", "cite the decision that sets the cap")


def validate_charge(charge: ChargeDefinition, currency_decimals: int) -> None:
    """Check a charge on its own: time and calculation fit what it applies to, amounts fit."""
    allowed_times = CALCULATIONS_BY_TIME[charge.applies_to]
    if charge.charge_time not in allowed_times:
        raise _fail("charge_time", f"{charge.charge_time.value} does not apply to {charge.applies_to.value}s; "
                    f"choose one of {', '.join(sorted(allowed_times))}")
    allowed_calculations = allowed_times[charge.charge_time]
    if charge.calculation not in allowed_calculations:
        raise _fail("calculation", f"a {charge.charge_time.value} charge is computed as one of "
                    f"{', '.join(sorted(allowed_calculations))}")
    if charge.calculation is ChargeCalculation.FLAT:
        if not charge.amount.is_finite() or charge.amount <= 0 or charge.amount > AMOUNT_MAX:
            raise _fail("amount", f"a flat charge is a positive amount up to {AMOUNT_MAX}")
        check_exact(charge.amount, currency_decimals, "amount", charge.currency)
        if charge.amount_min is not None or charge.amount_max is not None:
            raise _fail("amount_min" if charge.amount_min is not None else "amount_max",
                        "only a percentage charge has a minimum or maximum")
    else:
        check_percent(charge.amount, "amount", allow_zero=False)
    for field, bound in (("amount_min", charge.amount_min), ("amount_max", charge.amount_max)):
        if bound is not None:
            if not bound.is_finite() or bound < 0 or bound > AMOUNT_MAX:
                raise _fail(field, f"must be between 0 and {AMOUNT_MAX}")
            check_exact(bound, currency_decimals, field, charge.currency)
    if charge.amount_min is not None and charge.amount_max is not None and charge.amount_min > charge.amount_max:
        raise _fail("amount_max", "must not be below amount_min")
    _check_penalty(charge)
    _check_due_date(charge)
    _check_frequency(charge)


def _check_penalty(charge: ChargeDefinition) -> None:
    if charge.charge_time in OVERDUE_TIMES and not charge.is_penalty:
        raise _fail("is_penalty", "a charge on an overdue instalment or maturity is a penalty")
    if charge.is_penalty and charge.charge_time not in PENALTY_TIMES:
        raise _fail("is_penalty", f"a {charge.charge_time.value} charge is a fee, not a penalty")


def _check_due_date(charge: ChargeDefinition) -> None:
    if charge.charge_time is ChargeTime.ANNUAL:
        if charge.due_month is None or charge.due_day is None:
            raise _fail("due_month" if charge.due_month is None else "due_day",
                        "an annual charge falls due on a day of a month")
        if not 1 <= charge.due_month <= 12:
            raise _fail("due_month", "must be 1 to 12")
        longest = calendar.monthrange(2024, charge.due_month)[1]  # a leap year: 29 February is allowed
        if not 1 <= charge.due_day <= longest:
            raise _fail("due_day", f"month {charge.due_month} has {longest} days")
    elif charge.charge_time is ChargeTime.MONTHLY:
        if charge.due_day is None or not 1 <= charge.due_day <= 31:
            raise _fail("due_day", "a monthly charge falls due on a day 1 to 31 (clamped to the month's end)")
        if charge.due_month is not None:
            raise _fail("due_month", "a monthly charge falls due every month")
    elif charge.due_month is not None or charge.due_day is not None:
        raise _fail("due_month" if charge.due_month is not None else "due_day",
                    "only annual and monthly charges have a due day")


def _check_frequency(charge: ChargeDefinition) -> None:
    overdue = charge.charge_time in OVERDUE_TIMES
    if (charge.frequency_every is None) != (charge.frequency_unit is None):
        raise _fail("frequency_unit" if charge.frequency_unit is None else "frequency_every",
                    "frequency_every and frequency_unit go together")
    if charge.frequency_every is not None and not overdue:
        raise _fail("frequency_every", "only an overdue penalty repeats")
    if charge.frequency_every is not None and not 1 <= charge.frequency_every <= 366:
        raise _fail("frequency_every", "must be 1 to 366")
    if charge.grace_days and not overdue:
        raise _fail("grace_days", "only an overdue penalty has grace days")
    if not 0 <= charge.grace_days <= 3650:
        raise _fail("grace_days", "must be 0 to 3650")


def validate_holiday(holiday: HolidayDefinition) -> None:
    if holiday.to_date < holiday.from_date:
        raise _fail("to_date", "must not be before from_date")
    if (holiday.to_date - holiday.from_date).days >= HOLIDAY_DAYS_MAX:
        raise _fail("to_date", f"a holiday spans at most {HOLIDAY_DAYS_MAX} days")
    if holiday.all_offices and holiday.office_ids:
        raise _fail("office_ids", "a holiday of all offices lists no office")
    if not holiday.all_offices and not holiday.office_ids:
        raise _fail("office_ids", "name the offices, or set all_offices")
    if len(holiday.office_ids) > HOLIDAY_OFFICES_MAX:
        raise _fail("office_ids", f"at most {HOLIDAY_OFFICES_MAX} offices")
    if len(set(holiday.office_ids)) != len(holiday.office_ids):
        raise _fail("office_ids", "an office is listed twice")
    moved = holiday.repayments_moved_to
    if moved is not None and holiday.from_date <= moved <= holiday.to_date:
        raise _fail("repayments_moved_to", "must be outside the holiday")


def validate_working_week(week: WorkingWeek) -> None:
    if not week.working_weekdays:
        raise _fail("working_weekdays", "an office works at least one day a week")
    if len(set(week.working_weekdays)) != len(week.working_weekdays):
        raise _fail("working_weekdays", "a weekday is listed twice")


def validate_validation_level(level: ValidationLevelDefinition, currency_decimals: int) -> None:
    if not 1 <= level.level_order <= VALIDATION_LEVELS_MAX:
        raise _fail("level_order", f"must be 1 to {VALIDATION_LEVELS_MAX}")
    for field, bound in (("amount_min", level.amount_min), ("amount_max", level.amount_max)):
        if bound is not None:
            if not bound.is_finite() or bound < 0 or bound > AMOUNT_MAX:
                raise _fail(field, f"must be between 0 and {AMOUNT_MAX}")
            check_exact(bound, currency_decimals, field, level.currency)
    if level.amount_max is not None and level.amount_max < level.amount_min:
        raise _fail("amount_max", "must not be below amount_min")


def validate_credit_parameters(parameters: CreditParameters) -> None:
    check_country(parameters.country)
    for field in ("loans_per_client_max", "loans_per_group_member_max"):
        value = getattr(parameters, field)
        if not 1 <= value <= LOANS_PER_PERSON_MAX:
            raise _fail(field, f"must be 1 to {LOANS_PER_PERSON_MAX}")
    if not 0 <= parameters.loans_per_guarantor_max <= LOANS_PER_PERSON_MAX:
        raise _fail("loans_per_guarantor_max", f"must be 0 to {LOANS_PER_PERSON_MAX}")
    if not 0 <= parameters.days_late_tolerated <= DAYS_LATE_TOLERATED_MAX:
        raise _fail("days_late_tolerated", f"must be 0 to {DAYS_LATE_TOLERATED_MAX}")


def validate_bucket_grid(buckets: Sequence[DelinquencyBucket], field: str = "buckets") -> list[DelinquencyBucket]:
    """Check one grid (loans, overdrafts or rescheduled loans) and return it sorted by days.

    A grid is what provisioning reads: every number of days late from its first bound on
    falls in exactly one bucket. So the buckets are contiguous and do not overlap, only the
    last may be open-ended, a longer delay is never healthier and never provisioned less.
    """
    if not buckets:
        raise _fail(field, "a grid has at least one bucket")
    if len(buckets) > BUCKETS_PER_KIND_MAX:
        raise _fail(field, f"a grid has at most {BUCKETS_PER_KIND_MAX} buckets")
    order = sorted(range(len(buckets)), key=lambda index: buckets[index].days_overdue_min)
    labels: set[str] = set()
    for index in order:
        bucket = buckets[index]
        where = f"{field}[{index}]"
        if not 0 <= bucket.days_overdue_min <= DAYS_OVERDUE_MAX:
            raise _fail(f"{where}.days_overdue_min", f"must be 0 to {DAYS_OVERDUE_MAX}")
        if bucket.days_overdue_max is not None and not (
            bucket.days_overdue_min <= bucket.days_overdue_max <= DAYS_OVERDUE_MAX
        ):
            raise _fail(f"{where}.days_overdue_max", f"must be between days_overdue_min and {DAYS_OVERDUE_MAX}")
        check_percent(bucket.provision_rate_percent, f"{where}.provision_rate_percent")
        if bucket.label in labels:
            raise _fail(f"{where}.label", "two buckets have this label")
        labels.add(bucket.label)
    for previous_index, index in itertools.pairwise(order):
        previous, bucket = buckets[previous_index], buckets[index]
        where = f"{field}[{index}]"
        if previous.days_overdue_max is None:
            raise _fail(f"{field}[{previous_index}].days_overdue_max", "only the last bucket is open-ended")
        if bucket.days_overdue_min <= previous.days_overdue_max:
            raise _fail(f"{where}.days_overdue_min", f"overlaps the bucket ending at {previous.days_overdue_max}")
        if bucket.days_overdue_min != previous.days_overdue_max + 1:
            raise _fail(f"{where}.days_overdue_min",
                        f"leaves days {previous.days_overdue_max + 1}..{bucket.days_overdue_min - 1} uncovered")
        if previous.loan_state is LoanState.DOUBTFUL and bucket.loan_state is LoanState.HEALTHY:
            raise _fail(f"{where}.loan_state", "a loan later than a doubtful one is not healthy")
        if bucket.provision_rate_percent < previous.provision_rate_percent:
            raise _fail(f"{where}.provision_rate_percent", "a longer delay is never provisioned less")
    return [buckets[index] for index in order]


def bucket_for(days_overdue: int, grid: Sequence[DelinquencyBucket]) -> DelinquencyBucket | None:
    """The bucket of a loan `days_overdue` days late, or None before the grid's first bound."""
    assert days_overdue >= 0, days_overdue
    for bucket in grid:
        upper = bucket.days_overdue_max
        if bucket.days_overdue_min <= days_overdue and (upper is None or days_overdue <= upper):
            return bucket
    return None


class Dated(Protocol):
    @property
    def valid_from(self) -> date: ...

    @property
    def valid_to(self) -> date | None: ...


DatedT = TypeVar("DatedT", bound=Dated)


def periods_overlap(first: Dated, second: Dated) -> bool:
    """Whether two validity periods (inclusive, open-ended when valid_to is None) share a day."""
    first_ends_before = first.valid_to is not None and first.valid_to < second.valid_from
    second_ends_before = second.valid_to is not None and second.valid_to < first.valid_from
    return not (first_ends_before or second_ends_before)


def first_overlap(candidate: Dated, others: Iterable[DatedT]) -> DatedT | None:
    """The first of `others` whose validity shares a day with `candidate`'s."""
    return next((other for other in others if periods_overlap(candidate, other)), None)


def in_force(rows: Iterable[DatedT], on: date) -> DatedT | None:
    """The row valid on `on` (periods do not overlap, so there is at most one)."""
    return next((row for row in rows if row.valid_from <= on and (row.valid_to is None or on <= row.valid_to)),
                None)
