"""Loan terms: the one structure that loan products, loan accounts and simulations carry.

A loan product (issue 5) holds default `LoanTerms` plus min/max bounds; a loan account
holds the `LoanTerms` it was approved with; a simulation takes `LoanTerms` in and returns
a schedule. Each setting of P1 that shapes a repayment schedule is one field here, named
with its unit, and each enumeration value is the wire name used by the API.

The structure is plain data: `validation.validate_terms` checks it, `schedule.generate_schedule`
turns it into a schedule. Nothing here rounds or computes.
"""

from datetime import date
from decimal import Decimal
from enum import StrEnum

import msgspec

from products.reference.taxes import ChargeTax
from products.rounding import Rounding


class AmortizationMethod(StrEnum):
    """How principal is spread: equal total instalments (annuity) or equal principal parts."""

    EQUAL_INSTALMENTS = "equal_instalments"
    EQUAL_PRINCIPAL = "equal_principal"


class InterestMethod(StrEnum):
    """Flat: interest on the initial principal. Declining balance: on the principal still owed."""

    FLAT = "flat"
    DECLINING_BALANCE = "declining_balance"


class InterestCalculationPeriod(StrEnum):
    """Daily: rate x actual days / days in year. Same as repayment period: one period's rate."""

    DAILY = "daily"
    SAME_AS_REPAYMENT_PERIOD = "same_as_repayment_period"


class DaysInYear(StrEnum):
    """Denominator of daily interest; ``actual`` is 365 or 366 by calendar year."""

    ACTUAL = "actual"
    DAYS_360 = "360"
    DAYS_364 = "364"
    DAYS_365 = "365"


class DaysInMonth(StrEnum):
    """Day count: ``actual`` calendar days, or ``30`` (commercial month, 30E/360 day count)."""

    ACTUAL = "actual"
    DAYS_30 = "30"


class RepaymentFrequencyUnit(StrEnum):
    """Unit of "repay every N units"."""

    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


class InterestRatePeriod(StrEnum):
    """Whether the nominal rate is stated per month or per year (per month x 12 = per year)."""

    PER_MONTH = "per_month"
    PER_YEAR = "per_year"


class HolidayRule(StrEnum):
    """Where a due date falling on a non-working day or holiday goes."""

    NEXT_WORKING_DAY = "next_working_day"
    PREVIOUS_WORKING_DAY = "previous_working_day"
    SAME_DAY = "same_day"


class Weekday(StrEnum):
    """ISO weekdays, for the institution's non-working days."""

    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def iso_number(self) -> int:
        """1 for Monday ... 7 for Sunday, as `date.isoweekday` returns."""
        return _WEEKDAY_ORDER.index(self) + 1


_WEEKDAY_ORDER = tuple(Weekday)


class FeeTrigger(StrEnum):
    """When a fee falls due."""

    DISBURSEMENT = "disbursement"
    INSTALMENT = "instalment"
    SPECIFIED_DUE_DATE = "specified_due_date"


class FeeCalculation(StrEnum):
    """How a fee amount is found.

    ``percent_of_amount`` is of the loan principal for disbursement and dated fees, and of
    the instalment's principal for instalment fees (Fineract's convention);
    ``percent_of_instalment`` is of the instalment's principal plus interest;
    ``percent_of_interest`` is of the instalment's interest, or of the total interest for a
    disbursement fee.
    """

    FLAT = "flat"
    PERCENT_OF_AMOUNT = "percent_of_amount"
    PERCENT_OF_INSTALMENT = "percent_of_instalment"
    PERCENT_OF_INTEREST = "percent_of_interest"


class FeeKind(StrEnum):
    """What a charge pays for; decides whether the TEG counts it.

    The UEMOA usury law counts interest, every fee and commission, insurance, guarantee and
    intermediary costs in the TEG, and excludes taxes: only ``tax`` is left out.
    """

    FEE = "fee"
    COMMISSION = "commission"
    INSURANCE = "insurance"
    GUARANTEE = "guarantee"
    INTERMEDIARY = "intermediary"
    TAX = "tax"


class FeeSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One charge of the product, as the schedule applies it.

    Parameters
    ----------
    name
        Label shown on the schedule ("Frais de dossier").
    trigger
        When it falls due.
    calculation
        Flat amount or a percentage of a base (see `FeeCalculation`).
    flat_amount
        The amount for ``flat``; must be ``None`` otherwise.
    rate_percent
        The percentage for the ``percent_of_*`` calculations; ``None`` for ``flat``.
    due_date
        For ``specified_due_date`` only: the fee joins the instalment whose period holds it.
    vat_percent
        VAT charged on the fee (seed 002: each fee type carries its VAT rate); 0 for none.
    vat_valid_from, vat_valid_to
        The VAT rate's validity (reference data `tax_rate`): a fee falling due outside it
        carries no VAT (`vat_percent_on`). None: no bound.
    kind
        What the charge pays for; ``tax`` charges are excluded from the TEG.
    each_tranche
        For a disbursement fee of a loan paid out in tranches: taken on every tranche, on the
        tranche's amount (charge time « tranche_disbursement »); otherwise taken once, with the
        first tranche, on the loan's amount. A simulation charges disbursement fees once.
    """

    name: str
    trigger: FeeTrigger
    calculation: FeeCalculation = FeeCalculation.FLAT
    flat_amount: Decimal | None = None
    rate_percent: Decimal | None = None
    due_date: date | None = None
    vat_percent: Decimal = Decimal(0)
    kind: FeeKind = FeeKind.FEE
    each_tranche: bool = False
    vat_valid_from: date | None = None
    vat_valid_to: date | None = None

    def vat_percent_on(self, day: date) -> Decimal:
        """The VAT percentage on the fee falling due on ``day`` (zero outside the rate's validity)."""
        return ChargeTax(rate_percent=self.vat_percent, valid_from=self.vat_valid_from,
                         valid_to=self.vat_valid_to).rate_on(day)


class TrancheSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One expected disbursement of a multi-disbursement loan."""

    expected_date: date
    amount: Decimal


class LoanTerms(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that shapes a repayment schedule.

    Parameters
    ----------
    currency_code
        ISO 4217 code; its minor unit bounds the product's decimals.
    principal_amount
        Loan amount. With tranches, the sum of the tranche amounts.
    disbursement_date
        Expected (first) disbursement date; interest runs from here.
    repayment_count
        Number of instalments.
    repayment_every, repayment_frequency_unit
        "Repay every 2 weeks": ``2`` and ``weeks``.
    interest_rate_percent, interest_rate_period
        Nominal rate and whether it is per month or per year.
    interest_method, amortization_method, interest_calculation_period
        Flat or declining balance; equal instalments or equal principal; daily or per period.
    days_in_year, days_in_month
        Day-count conventions for daily interest and for broken periods.
    weeks_in_year
        Periods per year for weekly repayments with per-period interest (seed 002: 52 or 53).
    first_repayment_date
        When set, the first due date; the following ones step from it.
    first_repayment_days_min
        Minimum days between disbursement and first due date; a computed first date that
        comes too early is pushed to disbursement + this many days (seed 001's example).
    grace_on_principal_periods
        First instalments that pay no principal (interest only).
    grace_on_interest_payment_periods
        First instalments that pay no interest; the interest still accrues and is paid with
        the first instalment after the grace.
    grace_on_interest_charged_periods
        First periods on which no interest is computed at all.
    interest_free_days
        Days from disbursement on which no interest runs (seed 001's "période sans intérêts").
    rounding
        The product's decimals, rounding mode and "in multiples of" for amounts.
    instalment_in_multiples_of
        When set, every instalment but the last is a multiple of this amount.
    last_instalment_principal_threshold_percent
        A last instalment whose principal is below this share of the previous instalment's
        principal is merged into the previous one (declining balance only). 0 disables it.
    fixed_instalment_amount
        Equal instalment set by hand instead of the computed one (declining balance, equal
        instalments); the last instalment takes the remainder.
    level_instalment_adjustment
        Fineract's EMI adjustment: when rounded interest leaves the last instalment more than
        half a minor unit per instalment away from the level one, move the level instalment by
        (difference / instalments), rounded, and keep it if the last instalment comes closer
        (declining balance, equal instalments, one disbursement, no grace, no multiples).
    tranches
        Expected disbursements of a multi-disbursement loan, in date order; the first is on
        ``disbursement_date``. Empty for a single disbursement.
    fees
        Charges applied in the schedule.
    vat_on_interest_percent
        VAT on interest (seed 002: "taux TVA sur les intérêts"); 0 for none.
    non_working_weekdays, holidays, holiday_rule
        Non-working days and holidays, and where a due date on one of them moves.
    """

    currency_code: str
    principal_amount: Decimal
    disbursement_date: date
    repayment_count: int
    interest_rate_percent: Decimal
    repayment_every: int = 1
    repayment_frequency_unit: RepaymentFrequencyUnit = RepaymentFrequencyUnit.MONTHS
    interest_rate_period: InterestRatePeriod = InterestRatePeriod.PER_YEAR
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    amortization_method: AmortizationMethod = AmortizationMethod.EQUAL_INSTALMENTS
    interest_calculation_period: InterestCalculationPeriod = (
        InterestCalculationPeriod.SAME_AS_REPAYMENT_PERIOD
    )
    days_in_year: DaysInYear = DaysInYear.ACTUAL
    days_in_month: DaysInMonth = DaysInMonth.ACTUAL
    weeks_in_year: int = 52
    first_repayment_date: date | None = None
    first_repayment_days_min: int = 0
    grace_on_principal_periods: int = 0
    grace_on_interest_payment_periods: int = 0
    grace_on_interest_charged_periods: int = 0
    interest_free_days: int = 0
    rounding: Rounding = Rounding()
    instalment_in_multiples_of: Decimal | None = None
    last_instalment_principal_threshold_percent: Decimal = Decimal(0)
    fixed_instalment_amount: Decimal | None = None
    level_instalment_adjustment: bool = False
    tranches: tuple[TrancheSpec, ...] = ()
    fees: tuple[FeeSpec, ...] = ()
    vat_on_interest_percent: Decimal = Decimal(0)
    non_working_weekdays: tuple[Weekday, ...] = ()
    holidays: tuple[date, ...] = ()
    holiday_rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY

    @property
    def interest_rate_annual_percent(self) -> Decimal:
        """Nominal annual rate: a monthly rate times 12, as Fineract annualises it."""
        if self.interest_rate_period is InterestRatePeriod.PER_MONTH:
            return self.interest_rate_percent * 12
        return self.interest_rate_percent
