"""From a loan product to one account's terms: defaults, the borrower's cycle, the amount
band and the officer's allowed choices, checked against the product's bounds. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Final, TypeVar

from products.catalogue.common import AMOUNT_MAX
from products.errors import ProductError
from products.loans.product import (
    CYCLE_NUMBER_MAX,
    AmountBand,
    CycleComparison,
    CycleVariation,
    LoanProduct,
    LoanTermOverrides,
    OverridableTerm,
)
from products.loans.terms import (
    FeeSpec,
    InterestRatePeriod,
    LoanTerms,
    RepaymentFrequencyUnit,
    Weekday,
)
from products.loans.validation import validate_terms

T = TypeVar("T")
DAYS_PER_MONTH_APPROXIMATE: Final = Decimal(30)
"""Band durations are in months (seed 002); a weekly or daily loan's term is counted in 30-day months."""


def cycle_variation(product: LoanProduct, cycle: int) -> CycleVariation | None:
    """The variation for a borrower's cycle: the one "equal" to it, else the "greater than"
    one below it (seed 001: "toujours utilisé pour le dernier cycle"), else none."""
    assert cycle >= 1, cycle
    for variation in product.cycle_variations:
        if variation.comparison is CycleComparison.EQUAL and variation.cycle_number == cycle:
            return variation
    for variation in product.cycle_variations:
        if variation.comparison is CycleComparison.GREATER_THAN and cycle > variation.cycle_number:
            return variation
    return None


def amount_band(product: LoanProduct, principal: Decimal) -> AmountBand | None:
    """The band holding this principal; ``None`` when the product has no bands."""
    for band in product.amount_bands:
        if band.amount_min <= principal <= band.amount_max:
            return band
    if product.amount_bands:
        raise ProductError("overrides.principal_amount", f"{principal} falls in none of the product's amount bands")
    return None


def term_months(count: int, every: int, unit: RepaymentFrequencyUnit) -> Decimal:
    """A loan's duration in months (seed 002's band unit); days and weeks in 30-day months."""
    periods = count * every
    if unit is RepaymentFrequencyUnit.MONTHS:
        return Decimal(periods)
    if unit is RepaymentFrequencyUnit.YEARS:
        return Decimal(periods * 12)
    days = periods * (7 if unit is RepaymentFrequencyUnit.WEEKS else 1)
    return Decimal(days) / DAYS_PER_MONTH_APPROXIMATE


def _bounded(field: str, value: Decimal | int, low: Decimal | int | None, high: Decimal | int | None,
             why: str) -> None:
    if low is not None and value < low:
        raise ProductError(field, f"must be at least {low} ({why})")
    if high is not None and value > high:
        raise ProductError(field, f"must be at most {high} ({why})")


def derive_loan_terms(product: LoanProduct, overrides: LoanTermOverrides, cycle: int = 1, *,
                      charges: Mapping[int, FeeSpec] | None = None, holidays: tuple[date, ...] = (),
                      non_working_weekdays: tuple[Weekday, ...] = ()) -> LoanTerms:
    """The terms of one loan account: the product's defaults, refined by the borrower's cycle
    and the amount band, with what the officer chose where the product allows it.

    Pure. Raises `ProductError` naming ``overrides.<field>`` when a choice is out of bounds
    or not overridable, and `TermsError` when the resulting terms cannot make a schedule.
    ``charges`` resolves the product's charge ids to the schedule's fee specifications.
    """
    assert 1 <= cycle <= CYCLE_NUMBER_MAX, cycle
    for name in ("principal_amount", "interest_rate_percent", "fixed_instalment_amount"):
        chosen = getattr(overrides, name)
        if chosen is not None and not (chosen.is_finite() and abs(chosen) <= AMOUNT_MAX):
            raise ProductError(f"overrides.{name}", f"must be a finite number of at most {AMOUNT_MAX}")
    variation = cycle_variation(product, cycle) if product.track_loan_cycle else None
    principal_range = (variation.principal if variation and variation.principal else product.principal)
    count_range = (variation.repayment_count if variation and variation.repayment_count else product.repayment_count)
    rate_range = (variation.interest_rate_percent if variation and variation.interest_rate_percent
                  else product.interest_rate_percent)
    why_cycle = f"cycle {cycle}" if variation else "product"

    principal = overrides.principal_amount if overrides.principal_amount is not None else principal_range.default
    _bounded("overrides.principal_amount", principal, principal_range.minimum, principal_range.maximum, why_cycle)
    band = amount_band(product, principal)
    count = overrides.repayment_count if overrides.repayment_count is not None else count_range.default
    _bounded("overrides.repayment_count", count, count_range.minimum, count_range.maximum, why_cycle)
    rate = (overrides.interest_rate_percent if overrides.interest_rate_percent is not None
            else rate_range.default)
    _bounded("overrides.interest_rate_percent", rate, rate_range.minimum, rate_range.maximum, why_cycle)

    allowed = frozenset(product.overridable_terms) if product.allow_term_overrides else frozenset()

    def pick(name: OverridableTerm, chosen: T | None, default: T) -> T:
        if chosen is None or chosen == default:
            return default
        if name not in allowed:
            raise ProductError(f"overrides.{name.value}", "the product does not let accounts change this term")
        return chosen

    every = pick(OverridableTerm.REPAYMENT_EVERY, overrides.repayment_every, product.repayment_every)
    amortization = product.amortization_method
    interest_method = product.interest_method
    if band is not None:
        amortization = band.amortization_method or amortization
        interest_method = band.interest_method or interest_method
        why_band = f"amount band {band.amount_min}-{band.amount_max}"
        months = term_months(count, every, product.repayment_frequency_unit)
        _bounded("overrides.repayment_count", months, band.term_months_min, band.term_months_max,
                 f"term in months, {why_band}")
        annual_rate = rate * 12 if product.interest_rate_period is InterestRatePeriod.PER_MONTH else rate
        _bounded("overrides.interest_rate_percent", annual_rate, band.interest_rate_min_percent,
                 band.interest_rate_max_percent, f"annual rate, {why_band}")
    fixed = pick(OverridableTerm.FIXED_INSTALMENT_AMOUNT, overrides.fixed_instalment_amount, None)
    if fixed is not None and not product.allow_fixed_instalment_amount:
        raise ProductError("overrides.fixed_instalment_amount", "the product has no fixed instalment amounts")
    if overrides.tranches:
        if product.multi_disbursement is None:
            raise ProductError("overrides.tranches", "the product disburses in one go")
        if len(overrides.tranches) > product.multi_disbursement.tranches_max:
            raise ProductError("overrides.tranches",
                               f"at most {product.multi_disbursement.tranches_max} disbursements")
    fees: list[FeeSpec] = []
    charge_specs = charges or {}
    if band is None or band.charges_per_loan:
        for index, charge_id in enumerate(product.charge_ids):
            spec = charge_specs.get(charge_id)
            if spec is None:
                raise ProductError(f"charge_ids[{index}]", f"charge {charge_id} is not known")
            fees.append(spec)
    terms = LoanTerms(
        currency_code=product.currency,
        principal_amount=principal,
        disbursement_date=overrides.disbursement_date,
        repayment_count=count,
        interest_rate_percent=rate,
        repayment_every=every,
        repayment_frequency_unit=product.repayment_frequency_unit,
        interest_rate_period=product.interest_rate_period,
        interest_method=pick(OverridableTerm.INTEREST_METHOD, overrides.interest_method,
                             interest_method),
        amortization_method=pick(OverridableTerm.AMORTIZATION_METHOD,
                                 overrides.amortization_method, amortization),
        interest_calculation_period=pick(
            OverridableTerm.INTEREST_CALCULATION_PERIOD, overrides.interest_calculation_period,
            product.interest_calculation_period),
        days_in_year=product.days_in_year,
        days_in_month=product.days_in_month,
        weeks_in_year=product.weeks_in_year,
        first_repayment_date=pick(OverridableTerm.FIRST_REPAYMENT_DATE,
                                  overrides.first_repayment_date, None),
        first_repayment_days_min=product.first_repayment_days_min,
        grace_on_principal_periods=pick(OverridableTerm.GRACE_ON_PRINCIPAL,
                                        overrides.grace_on_principal_periods, product.grace_on_principal_periods),
        grace_on_interest_payment_periods=pick(
            OverridableTerm.GRACE_ON_INTEREST_PAYMENT, overrides.grace_on_interest_payment_periods,
            product.grace_on_interest_payment_periods),
        grace_on_interest_charged_periods=pick(
            OverridableTerm.GRACE_ON_INTEREST_CHARGED, overrides.grace_on_interest_charged_periods,
            product.grace_on_interest_charged_periods),
        interest_free_days=pick(OverridableTerm.INTEREST_FREE_DAYS,
                                overrides.interest_free_days, product.interest_free_days),
        rounding=product.rounding,
        instalment_in_multiples_of=product.instalment_in_multiples_of,
        last_instalment_principal_threshold_percent=product.last_instalment_principal_threshold_percent,
        level_instalment_adjustment=product.level_instalment_adjustment,
        fixed_instalment_amount=fixed,
        tranches=overrides.tranches,
        fees=tuple(fees),
        vat_on_interest_percent=product.vat_on_interest_percent,
        non_working_weekdays=non_working_weekdays,
        holidays=holidays,
        holiday_rule=product.holiday_rule,
    )
    validate_terms(terms)
    return terms
