"""Wire shapes of ``POST /api/v1/loans/simulations``: loan terms in, schedule and TEG out.

Requests refuse unknown fields; integers, strings and lists carry their bounds in the
schema (so the OpenAPI document states them); Decimals arrive as strings (numbers are
accepted too) and are checked finite and of sane size in ``__post_init__``, which msgspec
turns into a 400 on decode. The domain validation (`products.loans.validation`) then
checks the terms as a whole and answers a 422 naming the field.

Enumerations reuse the domain's: their values are the wire names.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from api.schemas.common import CurrencyCode
from products.loans import (
    AmortizationMethod,
    Apr,
    AprMethod,
    DaysInMonth,
    DaysInYear,
    FeeCalculation,
    FeeKind,
    FeeSpec,
    FeeTrigger,
    HolidayRule,
    InterestCalculationPeriod,
    InterestMethod,
    InterestRatePeriod,
    LoanSimulation,
    LoanTerms,
    RepaymentFrequencyUnit,
    TrancheSpec,
    Weekday,
)
from products.loans.limits import (
    DATE_MAX,
    DATE_MIN,
    DECIMAL_PLACES_MAX,
    FEE_NAME_LENGTH_MAX,
    FEES_MAX,
    FIRST_REPAYMENT_DAYS_MIN_MAX,
    HOLIDAYS_MAX,
    INTEREST_FREE_DAYS_MAX,
    REPAYMENT_EVERY_MAX,
    SCHEDULE_PERIODS_MAX,
    TRANCHES_MAX,
)
from products.rounding import CURRENCY_DECIMALS_MAX, Rounding, RoundingMode

DECIMAL_DIGITS_MAX = 30
"""Digits a Decimal on the wire may carry; 10^15 with 10 decimals needs 25."""

_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"

DecimalText = Annotated[Decimal, msgspec.Meta(description="Decimal as a string, e.g. '150000' or '12.5'")]
Count = Annotated[int, msgspec.Meta(ge=0, le=SCHEDULE_PERIODS_MAX)]


def check_decimal_shape(value: Decimal | None, field: str) -> None:
    """Finite, not too many digits, not too many places: rejects NaN, Infinity, 1E+999999."""
    if value is None:
        return
    if not value.is_finite():
        raise ValueError(f"{field} must be a finite number")
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > DECIMAL_DIGITS_MAX or exponent > DECIMAL_DIGITS_MAX:
        raise ValueError(f"{field} has too many digits")
    if exponent < -DECIMAL_PLACES_MAX:
        raise ValueError(f"{field} may have at most {DECIMAL_PLACES_MAX} decimal places")
    _ = sign


def check_date_range(value: date | None, field: str) -> None:
    if value is not None and not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"{field} must be between {DATE_MIN} and {DATE_MAX}")


class RoundingIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The product's rounding; ``decimals`` defaults to the currency's (0 for XOF, 2 for EUR)."""

    decimals: Annotated[int, msgspec.Meta(ge=0, le=CURRENCY_DECIMALS_MAX)] | None = None
    mode: RoundingMode = RoundingMode.HALF_EVEN
    in_multiples_of: DecimalText | None = None

    def __post_init__(self) -> None:
        check_decimal_shape(self.in_multiples_of, "rounding.in_multiples_of")


class FeeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A charge: flat (``flat_amount``) or a percentage (``rate_percent``) of a base."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=FEE_NAME_LENGTH_MAX, pattern=_NO_CONTROL)]
    trigger: FeeTrigger
    calculation: FeeCalculation = FeeCalculation.FLAT
    flat_amount: DecimalText | None = None
    rate_percent: DecimalText | None = None
    due_date: date | None = None
    vat_percent: DecimalText = Decimal(0)
    kind: FeeKind = FeeKind.FEE

    def __post_init__(self) -> None:
        check_decimal_shape(self.flat_amount, "flat_amount")
        check_decimal_shape(self.rate_percent, "rate_percent")
        check_decimal_shape(self.vat_percent, "vat_percent")
        check_date_range(self.due_date, "due_date")

    def to_spec(self) -> FeeSpec:
        return FeeSpec(
            name=self.name,
            trigger=self.trigger,
            calculation=self.calculation,
            flat_amount=self.flat_amount,
            rate_percent=self.rate_percent,
            due_date=self.due_date,
            vat_percent=self.vat_percent,
            kind=self.kind,
        )


class TrancheIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    expected_date: date
    amount: DecimalText

    def __post_init__(self) -> None:
        check_decimal_shape(self.amount, "amount")
        check_date_range(self.expected_date, "expected_date")


class LoanSimulationIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Loan terms to simulate, and the usury cap to compare the TEG with.

    Field names and meanings are those of `products.loans.LoanTerms`.
    """

    currency: CurrencyCode
    principal_amount: DecimalText
    disbursement_date: date
    repayment_count: Annotated[int, msgspec.Meta(ge=1, le=SCHEDULE_PERIODS_MAX)]
    interest_rate_percent: DecimalText
    repayment_every: Annotated[int, msgspec.Meta(ge=1, le=REPAYMENT_EVERY_MAX)] = 1
    repayment_frequency_unit: RepaymentFrequencyUnit = RepaymentFrequencyUnit.MONTHS
    interest_rate_period: InterestRatePeriod = InterestRatePeriod.PER_YEAR
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization_method: AmortizationMethod = AmortizationMethod.EQUAL_INSTALMENTS
    interest_calculation_period: InterestCalculationPeriod = (
        InterestCalculationPeriod.SAME_AS_REPAYMENT_PERIOD
    )
    days_in_year: DaysInYear = DaysInYear.ACTUAL
    days_in_month: DaysInMonth = DaysInMonth.ACTUAL
    weeks_in_year: Annotated[int, msgspec.Meta(ge=52, le=53)] = 52
    first_repayment_date: date | None = None
    first_repayment_days_min: Annotated[int, msgspec.Meta(ge=0, le=FIRST_REPAYMENT_DAYS_MIN_MAX)] = 0
    grace_on_principal_periods: Count = 0
    grace_on_interest_payment_periods: Count = 0
    grace_on_interest_charged_periods: Count = 0
    interest_free_days: Annotated[int, msgspec.Meta(ge=0, le=INTEREST_FREE_DAYS_MAX)] = 0
    rounding: RoundingIn | None = None
    instalment_in_multiples_of: DecimalText | None = None
    last_instalment_principal_threshold_percent: DecimalText = Decimal(0)
    fixed_instalment_amount: DecimalText | None = None
    level_instalment_adjustment: bool = False
    tranches: Annotated[list[TrancheIn], msgspec.Meta(max_length=TRANCHES_MAX)] = msgspec.field(
        default_factory=list
    )
    fees: Annotated[list[FeeIn], msgspec.Meta(max_length=FEES_MAX)] = msgspec.field(default_factory=list)
    vat_on_interest_percent: DecimalText = Decimal(0)
    non_working_weekdays: Annotated[list[Weekday], msgspec.Meta(max_length=7)] = msgspec.field(
        default_factory=list
    )
    holidays: Annotated[list[date], msgspec.Meta(max_length=HOLIDAYS_MAX)] = msgspec.field(
        default_factory=list
    )
    holiday_rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY
    usury_cap_annual_percent: DecimalText | None = None
    usury_apr_method: AprMethod = AprMethod.ACTUARIAL

    def __post_init__(self) -> None:
        for field in (
            "principal_amount",
            "interest_rate_percent",
            "instalment_in_multiples_of",
            "last_instalment_principal_threshold_percent",
            "fixed_instalment_amount",
            "vat_on_interest_percent",
            "usury_cap_annual_percent",
        ):
            check_decimal_shape(getattr(self, field), field)
        check_date_range(self.disbursement_date, "disbursement_date")
        check_date_range(self.first_repayment_date, "first_repayment_date")
        for index, holiday in enumerate(self.holidays):
            check_date_range(holiday, f"holidays[{index}]")
        cap = self.usury_cap_annual_percent
        if cap is not None and not Decimal(0) <= cap <= Decimal(1000):
            raise ValueError("usury_cap_annual_percent must be between 0 and 1000")

    def to_terms(self) -> LoanTerms:
        rounding = self.rounding or RoundingIn()
        return LoanTerms(
            currency_code=self.currency,
            principal_amount=self.principal_amount,
            disbursement_date=self.disbursement_date,
            repayment_count=self.repayment_count,
            interest_rate_percent=self.interest_rate_percent,
            repayment_every=self.repayment_every,
            repayment_frequency_unit=self.repayment_frequency_unit,
            interest_rate_period=self.interest_rate_period,
            interest_method=self.interest_method,
            amortization_method=self.amortization_method,
            interest_calculation_period=self.interest_calculation_period,
            days_in_year=self.days_in_year,
            days_in_month=self.days_in_month,
            weeks_in_year=self.weeks_in_year,
            first_repayment_date=self.first_repayment_date,
            first_repayment_days_min=self.first_repayment_days_min,
            grace_on_principal_periods=self.grace_on_principal_periods,
            grace_on_interest_payment_periods=self.grace_on_interest_payment_periods,
            grace_on_interest_charged_periods=self.grace_on_interest_charged_periods,
            interest_free_days=self.interest_free_days,
            rounding=Rounding(
                decimals=rounding.decimals, mode=rounding.mode, in_multiples_of=rounding.in_multiples_of
            ),
            instalment_in_multiples_of=self.instalment_in_multiples_of,
            last_instalment_principal_threshold_percent=self.last_instalment_principal_threshold_percent,
            fixed_instalment_amount=self.fixed_instalment_amount,
            level_instalment_adjustment=self.level_instalment_adjustment,
            tranches=tuple(
                TrancheSpec(expected_date=t.expected_date, amount=t.amount) for t in self.tranches
            ),
            fees=tuple(fee.to_spec() for fee in self.fees),
            vat_on_interest_percent=self.vat_on_interest_percent,
            non_working_weekdays=tuple(self.non_working_weekdays),
            holidays=tuple(self.holidays),
            holiday_rule=self.holiday_rule,
        )


class InstalmentOut(msgspec.Struct, kw_only=True):
    number: int
    from_date: date
    due_date: date
    days: int
    principal_amount: Decimal
    interest_amount: Decimal
    fee_amount: Decimal
    vat_amount: Decimal
    total_amount: Decimal
    balance_amount: Decimal


class DisbursementOut(msgspec.Struct, kw_only=True):
    disbursement_date: date
    amount: Decimal
    fee_amount: Decimal
    vat_amount: Decimal


class FeeChargeOut(msgspec.Struct, kw_only=True):
    name: str
    kind: FeeKind
    trigger: FeeTrigger
    instalment_number: int
    due_date: date
    amount: Decimal
    vat_amount: Decimal


class TotalsOut(msgspec.Struct, kw_only=True):
    principal_amount: Decimal
    interest_amount: Decimal
    fee_amount: Decimal
    vat_amount: Decimal
    repayment_amount: Decimal
    cost_of_credit_amount: Decimal


class AprComponentOut(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    amount: Decimal
    counted: bool


class AprOut(msgspec.Struct, kw_only=True):
    """TEG in percent: proportional (period rate x periods a year) and actuarial (compounded)."""

    proportional_annual_percent: Decimal
    actuarial_annual_percent: Decimal
    period_rate_percent: Decimal
    periods_per_year: Decimal
    counted_cost_amount: Decimal
    components: list[AprComponentOut]

    @classmethod
    def from_apr(cls, apr: Apr) -> AprOut:
        return cls(
            proportional_annual_percent=apr.proportional_annual_percent,
            actuarial_annual_percent=apr.actuarial_annual_percent,
            period_rate_percent=apr.period_rate_percent,
            periods_per_year=apr.periods_per_year,
            counted_cost_amount=apr.counted_cost_amount,
            components=[msgspec.convert(c, AprComponentOut, from_attributes=True) for c in apr.components],
        )


class UsuryOut(msgspec.Struct, kw_only=True):
    method: AprMethod
    cap_annual_percent: Decimal
    apr_annual_percent: Decimal
    exceeds_cap: bool


class LoanSimulationOut(msgspec.Struct, kw_only=True):
    """The schedule, its totals, the TEG with the costs it counts, and the usury check."""

    currency: str
    disbursements: list[DisbursementOut]
    instalments: list[InstalmentOut]
    fee_charges: list[FeeChargeOut]
    totals: TotalsOut
    apr: AprOut
    usury: UsuryOut

    @classmethod
    def from_simulation(cls, simulation: LoanSimulation) -> LoanSimulationOut:
        schedule = simulation.schedule
        return cls(
            currency=schedule.currency_code,
            disbursements=[
                msgspec.convert(d, DisbursementOut, from_attributes=True) for d in schedule.disbursements
            ],
            instalments=[
                msgspec.convert(i, InstalmentOut, from_attributes=True) for i in schedule.instalments
            ],
            fee_charges=[
                msgspec.convert(c, FeeChargeOut, from_attributes=True) for c in schedule.fee_charges
            ],
            totals=msgspec.convert(schedule.totals, TotalsOut, from_attributes=True),
            apr=AprOut.from_apr(simulation.apr),
            usury=msgspec.convert(simulation.usury, UsuryOut, from_attributes=True),
        )


CSV_COLUMNS = (
    "kind",
    "number",
    "from_date",
    "due_date",
    "days",
    "principal_amount",
    "interest_amount",
    "fee_amount",
    "vat_amount",
    "total_amount",
    "balance_amount",
)


def simulation_csv_rows(out: LoanSimulationOut) -> list[list[str]]:
    """The schedule as CSV rows: disbursements, instalments, then a totals row."""
    rows: list[list[str]] = [list(CSV_COLUMNS)]
    for item in out.disbursements:
        rows.append(
            [
                "disbursement",
                "0",
                "",
                item.disbursement_date.isoformat(),
                "0",
                f"-{item.amount}",
                "0",
                str(item.fee_amount),
                str(item.vat_amount),
                str(item.fee_amount + item.vat_amount),
                "",
            ]
        )
    for row in out.instalments:
        rows.append(
            [
                "instalment",
                str(row.number),
                row.from_date.isoformat(),
                row.due_date.isoformat(),
                str(row.days),
                str(row.principal_amount),
                str(row.interest_amount),
                str(row.fee_amount),
                str(row.vat_amount),
                str(row.total_amount),
                str(row.balance_amount),
            ]
        )
    totals = out.totals
    paid_in_total = totals.principal_amount + totals.interest_amount + totals.fee_amount + totals.vat_amount
    rows.append(
        [
            "total",
            "",
            "",
            "",
            "",
            str(totals.principal_amount),
            str(totals.interest_amount),
            str(totals.fee_amount),
            str(totals.vat_amount),
            str(paid_in_total),
            "",
        ]
    )
    return rows
