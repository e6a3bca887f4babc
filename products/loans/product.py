"""A loan product: every P1 setting of the mission (seeds 001 and 002) as one frozen value.

A product is a template. Its terms are ranges (min/default/max), refined by borrower cycle
(seed 001 section B) and by amount band (seed 002 "tranches", each with its own limits,
savings, collateral, guarantors, penalties and social shares). `derive_loan_terms` turns a
product, what a loan officer chose for one account and the borrower's cycle into the
`LoanTerms` the schedule engine consumes, refusing anything the product does not allow.

`validate_loan_product` returns every problem, each naming its field path; it never raises.
Account mapping (`accounting`) reuses `products.accounting.ProductAccounting`; checking it
against the chart needs the chart, so the service does that with `check_accounting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final, TypeVar

import msgspec

from products.accounting import ProductAccounting
from products.catalogue.common import (
    AMOUNT_MAX,
    PERCENT_MAX,
    SHARE_PERCENT_MAX,
    AmountRange,
    Checker,
    CountRange,
    Problem,
    ProductIdentity,
)
from products.errors import ProductError
from products.loans.limits import (
    FIRST_REPAYMENT_DAYS_MIN_MAX,
    GRACE_PERIODS_MAX,
    INTEREST_FREE_DAYS_MAX,
    REPAYMENT_EVERY_MAX,
    SCHEDULE_PERIODS_MAX,
    TRANCHES_MAX,
)
from products.loans.terms import (
    AmortizationMethod,
    DaysInMonth,
    DaysInYear,
    FeeSpec,
    HolidayRule,
    InterestCalculationPeriod,
    InterestMethod,
    InterestRatePeriod,
    LoanTerms,
    RepaymentFrequencyUnit,
    TrancheSpec,
    Weekday,
)
from products.loans.validation import validate_terms
from products.rounding import Rounding, RoundingMode

T = TypeVar("T")
AMOUNT_BANDS_MAX: Final = 50
CYCLE_VARIATIONS_MAX: Final = 50
CYCLE_NUMBER_MAX: Final = 1000
DAYS_THRESHOLD_MAX: Final = 3650
GUARANTORS_MAX: Final = 20
PRODUCT_MIX_MAX: Final = 200
LOANS_PER_CLIENT_MAX: Final = 100
DAYS_PER_MONTH_APPROXIMATE: Final = Decimal(30)
"""Band durations are in months (seed 002); a weekly or daily loan's term is counted in 30-day months."""


class RepaymentComponent(StrEnum):
    """Parts of a repayment, in the order a product allocates money to them."""

    PENALTY = "penalty"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class CycleComparison(StrEnum):
    """Seed 001: cycle 1 "égal à", cycle 2+ "supérieur à" (also used beyond the last cycle)."""

    EQUAL = "equal"
    GREATER_THAN = "greater_than"


class OverridableTerm(StrEnum):
    """Terms an account may set differently from the product when overrides are allowed.
    Principal, number of repayments and rate are always chosen within the product's bounds."""

    AMORTIZATION_METHOD = "amortization_method"
    INTEREST_METHOD = "interest_method"
    INTEREST_CALCULATION_PERIOD = "interest_calculation_period"
    REPAYMENT_EVERY = "repayment_every"
    GRACE_ON_PRINCIPAL = "grace_on_principal_periods"
    GRACE_ON_INTEREST_PAYMENT = "grace_on_interest_payment_periods"
    GRACE_ON_INTEREST_CHARGED = "grace_on_interest_charged_periods"
    INTEREST_FREE_DAYS = "interest_free_days"
    ARREARS_TOLERANCE = "arrears_tolerance_amount"
    FIRST_REPAYMENT_DATE = "first_repayment_date"
    FIXED_INSTALMENT_AMOUNT = "fixed_instalment_amount"


class GroupLending(StrEnum):
    """Seed 002 "crédit de groupe": individual loans only, one loan to the group, or one loan
    per member under the group (joint liability group)."""

    INDIVIDUAL_ONLY = "individual_only"
    GROUP = "group"
    JOINT_LIABILITY = "joint_liability"


class RateOrFlat(StrEnum):
    RATE = "rate"
    FLAT = "flat"


class CollectionStage(StrEnum):
    """When a deposit required by the product is taken (seed 002 "niveau paiement")."""

    APPLICATION = "application"
    APPROVAL = "approval"
    DISBURSEMENT = "disbursement"


class PenaltyBase(StrEnum):
    """What an overdue penalty's rate applies to (seed 002 "base")."""

    OVERDUE_PRINCIPAL = "overdue_principal"
    OVERDUE_PRINCIPAL_AND_INTEREST = "overdue_principal_and_interest"
    OVERDUE_INSTALMENT = "overdue_instalment"
    OUTSTANDING_PRINCIPAL = "outstanding_principal"


class Guarantees(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 001 "exigences de garantie": share of the principal to cover, of which a minimum
    from the borrower's own funds and from an external guarantor; funds held until closed."""

    mandatory_percent: Decimal = Decimal(0)
    own_funds_min_percent: Decimal = Decimal(0)
    external_guarantor_min_percent: Decimal = Decimal(0)
    hold_guarantee_funds: bool = False


class GuarantorRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Guarantors ("garants") or co-signers ("avalistes"): whether required, how many, and the
    loan amount from which the requirement applies (seed 002 "seuil montant")."""

    required: bool = False
    count_min: int = 0
    amount_threshold: Decimal | None = None


class MandatorySavings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 002 "épargne obligatoire": a rate (of the principal, or of each total instalment)
    or a flat amount, saved by the borrower."""

    basis: RateOrFlat = RateOrFlat.RATE
    rate_percent: Decimal | None = None
    flat_amount: Decimal | None = None
    on_total_instalment: bool = False


class CashCollateral(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 002 "caution financière": taken at a stage, between a minimum and maximum rate of
    the principal, remunerated at a rate."""

    collected_at: CollectionStage = CollectionStage.DISBURSEMENT
    rate_min_percent: Decimal = Decimal(0)
    rate_max_percent: Decimal = Decimal(0)
    remuneration_rate_percent: Decimal = Decimal(0)


class SocialShares(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 002 "part sociale": required, as a rate of the principal."""

    required: bool = True
    rate_percent: Decimal = Decimal(0)


class OverduePenalty(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 002 "pénalités": grace periods, a rate on a base or a flat amount; ``charge_id``
    names the penalty charge (reference data) whose income account it posts to."""

    charge_id: int | None = None
    basis: RateOrFlat = RateOrFlat.RATE
    rate_percent: Decimal | None = None
    flat_amount: Decimal | None = None
    base: PenaltyBase = PenaltyBase.OVERDUE_PRINCIPAL
    grace_periods: int = 0


class FinancialAnalysis(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 002 "analyse financière": required, TEG ceiling, debt ratio and margin allowed."""

    required: bool = True
    apr_max_percent: Decimal | None = None
    debt_ratio_max_percent: Decimal | None = None
    margin_allowed_percent: Decimal | None = None


class MultiDisbursement(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 001 "décaissements multiples": at most this many tranches and this outstanding."""

    tranches_max: int = 2
    outstanding_max: Decimal | None = None


class AmountBand(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 002 "tranche": an amount band with its own limits and requirements. A setting left
    ``None`` falls back to the product's."""

    amount_min: Decimal
    amount_max: Decimal
    term_months_min: int | None = None
    term_months_max: int | None = None
    interest_rate_min_percent: Decimal | None = None
    interest_rate_max_percent: Decimal | None = None
    amortization_method: AmortizationMethod | None = None
    interest_method: InterestMethod | None = None
    charges_per_loan: bool = True
    mandatory_savings: MandatorySavings | None = None
    cash_collateral: CashCollateral | None = None
    co_signers: GuarantorRule | None = None
    guarantors: GuarantorRule | None = None
    overdue_penalty: OverduePenalty | None = None
    social_shares: SocialShares | None = None
    financial_analysis: FinancialAnalysis | None = None


class CycleVariation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Terms for borrowers in a loan cycle (1 = first loan). A range left ``None`` keeps the
    product's."""

    cycle_number: int
    comparison: CycleComparison = CycleComparison.EQUAL
    principal: AmountRange | None = None
    repayment_count: CountRange | None = None
    interest_rate_percent: AmountRange | None = None


class ProductMix(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 001 "product mix": products a borrower may not hold at the same time as this one,
    and a cap on simultaneous loans of this product."""

    restricted_product_ids: tuple[int, ...] = ()
    concurrent_loans_max: int | None = None


class LoanLimits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Product-level caps that tighten the general credit parameters (seed 002 "paramètres
    généraux"); ``None`` leaves the institution-wide value."""

    loans_per_client_max: int | None = None
    loans_per_group_member_max: int | None = None
    loans_per_guarantor_max: int | None = None


class LoanProduct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A loan product's settings; see docs/seed-mapping.md for each field's seed origin."""

    identity: ProductIdentity
    currency: str
    fund_source_id: int | None = None
    track_loan_cycle: bool = True
    category: str | None = None
    group_lending: GroupLending = GroupLending.INDIVIDUAL_ONLY
    overdraft: bool = False
    # Currency and rounding
    decimals: int | None = None
    in_multiples_of: Decimal | None = None
    instalment_in_multiples_of: Decimal | None = None
    rounding_mode: RoundingMode = RoundingMode.HALF_EVEN
    # Terms
    principal: AmountRange
    repayment_count: CountRange
    interest_rate_percent: AmountRange
    interest_rate_period: InterestRatePeriod = InterestRatePeriod.PER_YEAR
    repayment_every: int = 1
    repayment_frequency_unit: RepaymentFrequencyUnit = RepaymentFrequencyUnit.MONTHS
    first_repayment_days_min: int = 0
    amortization_method: AmortizationMethod = AmortizationMethod.EQUAL_INSTALMENTS
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    interest_calculation_period: InterestCalculationPeriod = InterestCalculationPeriod.SAME_AS_REPAYMENT_PERIOD
    grace_on_principal_periods: int = 0
    grace_on_interest_payment_periods: int = 0
    grace_on_interest_charged_periods: int = 0
    interest_free_days: int = 0
    days_in_year: DaysInYear = DaysInYear.ACTUAL
    days_in_month: DaysInMonth = DaysInMonth.ACTUAL
    weeks_in_year: int = 52
    allow_fixed_instalment_amount: bool = False
    last_instalment_principal_threshold_percent: Decimal = Decimal(0)
    interest_recalculation: bool = False
    partial_instalment_payment_allowed: bool = True
    holiday_rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY
    # Repayment strategy
    allocation_order_healthy: tuple[RepaymentComponent, ...] = (
        RepaymentComponent.PENALTY, RepaymentComponent.FEE, RepaymentComponent.INTEREST, RepaymentComponent.PRINCIPAL)
    allocation_order_doubtful: tuple[RepaymentComponent, ...] = (
        RepaymentComponent.PRINCIPAL, RepaymentComponent.INTEREST, RepaymentComponent.FEE, RepaymentComponent.PENALTY)
    excluded_repayment_components: tuple[RepaymentComponent, ...] = ()
    # Arrears
    arrears_tolerance_amount: Decimal = Decimal(0)
    arrears_tolerance_days: int = 0
    days_to_arrears: int | None = None
    days_to_npa: int | None = None
    npa_exit_requires_arrears_paid: bool = True
    require_funds_available_for_repayment: bool = False
    # Requirements
    guarantees: Guarantees = Guarantees()
    guarantors: GuarantorRule = GuarantorRule()
    co_signers: GuarantorRule = GuarantorRule()
    mandatory_savings: MandatorySavings | None = None
    cash_collateral: CashCollateral | None = None
    social_shares: SocialShares | None = None
    financial_analysis: FinancialAnalysis | None = None
    multi_disbursement: MultiDisbursement | None = None
    # Variations
    amount_bands: tuple[AmountBand, ...] = ()
    cycle_variations: tuple[CycleVariation, ...] = ()
    allow_term_overrides: bool = False
    overridable_terms: tuple[OverridableTerm, ...] = ()
    # Charges, penalties, VAT
    charge_ids: tuple[int, ...] = ()
    overdue_penalty: OverduePenalty | None = None
    vat_on_interest_percent: Decimal = Decimal(0)
    vat_on_penalties_percent: Decimal = Decimal(0)
    vat_on_fees_percent: Decimal = Decimal(0)
    vat_on_cash_collateral_percent: Decimal = Decimal(0)
    vat_on_recoveries_percent: Decimal = Decimal(0)
    # Limits and mix
    limits: LoanLimits = LoanLimits()
    product_mix: ProductMix = ProductMix()
    # Accounting
    accounting: ProductAccounting = msgspec.field(default_factory=ProductAccounting)

    @property
    def rounding(self) -> Rounding:
        return Rounding(decimals=self.decimals, mode=self.rounding_mode, in_multiples_of=self.in_multiples_of)

    def referenced_charge_ids(self) -> frozenset[int]:
        """Every charge the product names: its fees and each penalty, at product or band level."""
        ids = set(self.charge_ids)
        penalties = [self.overdue_penalty] + [band.overdue_penalty for band in self.amount_bands]
        ids.update(p.charge_id for p in penalties if p is not None and p.charge_id is not None)
        return frozenset(ids)


class LoanTermOverrides(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a loan officer chose for one account; ``None`` takes the product's default."""

    disbursement_date: date
    principal_amount: Decimal | None = None
    repayment_count: int | None = None
    interest_rate_percent: Decimal | None = None
    repayment_every: int | None = None
    amortization_method: AmortizationMethod | None = None
    interest_method: InterestMethod | None = None
    interest_calculation_period: InterestCalculationPeriod | None = None
    grace_on_principal_periods: int | None = None
    grace_on_interest_payment_periods: int | None = None
    grace_on_interest_charged_periods: int | None = None
    interest_free_days: int | None = None
    first_repayment_date: date | None = None
    fixed_instalment_amount: Decimal | None = None
    tranches: tuple[TrancheSpec, ...] = ()


# --------------------------------------------------------------------------- validation

def validate_loan_product(product: LoanProduct) -> list[Problem]:
    """Every rule a loan product breaks, each naming its field; empty when it is sound."""
    check = Checker()
    check.identity(product.identity)
    places = check.currency("currency", product.currency, product.decimals, product.in_multiples_of)
    if product.instalment_in_multiples_of is not None:
        check.currency("currency", product.currency, product.decimals, product.instalment_in_multiples_of,
                       multiple_field="instalment_in_multiples_of")
    check.text("category", product.category, length_max=100, required=False)
    check.reference("fund_source_id", product.fund_source_id, "fund source")
    _check_terms(check, product, places)
    _check_allocation(check, "allocation_order_healthy", product.allocation_order_healthy)
    _check_allocation(check, "allocation_order_doubtful", product.allocation_order_doubtful)
    if len(set(product.excluded_repayment_components)) != len(product.excluded_repayment_components):
        check.add("excluded_repayment_components", "names a component twice")
    if RepaymentComponent.PRINCIPAL in product.excluded_repayment_components:
        check.add("excluded_repayment_components", "principal is always repaid")
    _check_arrears(check, product, places)
    _check_requirements(check, "", product.guarantees, product.guarantors, product.co_signers,
                        product.mandatory_savings, product.cash_collateral, product.social_shares,
                        product.financial_analysis, product.overdue_penalty, places)
    if product.multi_disbursement is not None:
        multi = product.multi_disbursement
        check.count("multi_disbursement.tranches_max", multi.tranches_max, minimum=2, maximum=TRANCHES_MAX)
        check.decimal("multi_disbursement.outstanding_max", multi.outstanding_max, positive=True, places=places)
        check.ordered("principal.maximum", product.principal.maximum, "multi_disbursement.outstanding_max",
                      multi.outstanding_max)
    _check_bands(check, product, places)
    _check_cycles(check, product, places)
    if product.overridable_terms and not product.allow_term_overrides:
        check.add("overridable_terms", "lists terms but allow_term_overrides is off")
    if len(set(product.overridable_terms)) != len(product.overridable_terms):
        check.add("overridable_terms", "names a term twice")
    check.charges("charge_ids", product.charge_ids)
    for name in ("interest", "penalties", "fees", "cash_collateral", "recoveries"):
        check.decimal(f"vat_on_{name}_percent", getattr(product, f"vat_on_{name}_percent"), maximum=SHARE_PERCENT_MAX)
    limits = product.limits
    for name in ("loans_per_client_max", "loans_per_group_member_max", "loans_per_guarantor_max"):
        check.count(f"limits.{name}", getattr(limits, name), minimum=1, maximum=LOANS_PER_CLIENT_MAX)
    mix = product.product_mix
    if len(mix.restricted_product_ids) > PRODUCT_MIX_MAX:
        check.add("product_mix.restricted_product_ids", f"at most {PRODUCT_MIX_MAX} products")
    if len(set(mix.restricted_product_ids)) != len(mix.restricted_product_ids):
        check.add("product_mix.restricted_product_ids", "names a product twice")
    check.count("product_mix.concurrent_loans_max", mix.concurrent_loans_max, minimum=1, maximum=LOANS_PER_CLIENT_MAX)
    for index, product_id in enumerate(mix.restricted_product_ids):
        check.reference(f"product_mix.restricted_product_ids[{index}]", product_id, "product")
    check.accounting(product.accounting)
    return check.problems


def _check_terms(check: Checker, product: LoanProduct, places: int) -> None:
    check.amount_range("principal", product.principal, places=places, positive=True)
    check.count_range("repayment_count", product.repayment_count, minimum=1, maximum=SCHEDULE_PERIODS_MAX)
    check.amount_range("interest_rate_percent", product.interest_rate_percent, maximum=PERCENT_MAX)
    check.count("repayment_every", product.repayment_every, minimum=1, maximum=REPAYMENT_EVERY_MAX)
    check.count("first_repayment_days_min", product.first_repayment_days_min, maximum=FIRST_REPAYMENT_DAYS_MIN_MAX)
    for name in ("grace_on_principal_periods", "grace_on_interest_payment_periods",
                 "grace_on_interest_charged_periods"):
        check.count(name, getattr(product, name), maximum=GRACE_PERIODS_MAX)
        if product.repayment_count.minimum is not None and getattr(product, name) >= product.repayment_count.minimum:
            check.add(name, "must leave at least one instalment after the grace (below repayment_count.minimum)")
    check.count("interest_free_days", product.interest_free_days, maximum=INTEREST_FREE_DAYS_MAX)
    check.count("weeks_in_year", product.weeks_in_year, minimum=52, maximum=53)
    check.decimal("last_instalment_principal_threshold_percent", product.last_instalment_principal_threshold_percent,
                  maximum=SHARE_PERCENT_MAX)


def _check_allocation(check: Checker, field: str, order: tuple[RepaymentComponent, ...]) -> None:
    if sorted(order) != sorted(RepaymentComponent):
        names = ", ".join(c.value for c in RepaymentComponent)
        check.add(field, f"must list each of {names} exactly once")


def _check_arrears(check: Checker, product: LoanProduct, places: int) -> None:
    check.decimal("arrears_tolerance_amount", product.arrears_tolerance_amount, places=places)
    check.count("arrears_tolerance_days", product.arrears_tolerance_days, maximum=DAYS_THRESHOLD_MAX)
    check.count("days_to_arrears", product.days_to_arrears, maximum=DAYS_THRESHOLD_MAX)
    check.count("days_to_npa", product.days_to_npa, minimum=1, maximum=DAYS_THRESHOLD_MAX)
    check.ordered("days_to_arrears", product.days_to_arrears, "days_to_npa", product.days_to_npa)


def _check_requirements(check: Checker, prefix: str, guarantees: Guarantees | None, guarantors: GuarantorRule | None,
                        co_signers: GuarantorRule | None, savings: MandatorySavings | None,
                        collateral: CashCollateral | None, shares: SocialShares | None,
                        analysis: FinancialAnalysis | None, penalty: OverduePenalty | None, places: int) -> None:
    if guarantees is not None:
        field = f"{prefix}guarantees"
        for name in ("mandatory_percent", "own_funds_min_percent", "external_guarantor_min_percent"):
            check.decimal(f"{field}.{name}", getattr(guarantees, name), maximum=SHARE_PERCENT_MAX)
        parts = (guarantees.own_funds_min_percent, guarantees.external_guarantor_min_percent,
                 guarantees.mandatory_percent)
        if all(v.is_finite() for v in parts) and parts[0] + parts[1] > parts[2]:
            check.add(f"{field}.own_funds_min_percent",
                      "own funds and external guarantor minimums together exceed mandatory_percent")
    for name, rule in (("guarantors", guarantors), ("co_signers", co_signers)):
        if rule is None:
            continue
        check.count(f"{prefix}{name}.count_min", rule.count_min, maximum=GUARANTORS_MAX)
        if rule.required and rule.count_min < 1:
            check.add(f"{prefix}{name}.count_min", "must be at least 1 when required")
        check.decimal(f"{prefix}{name}.amount_threshold", rule.amount_threshold, places=places)
    if savings is not None:
        _check_rate_or_flat(check, f"{prefix}mandatory_savings", savings.basis, savings.rate_percent,
                            savings.flat_amount, places)
    if collateral is not None:
        field = f"{prefix}cash_collateral"
        for name in ("rate_min_percent", "rate_max_percent", "remuneration_rate_percent"):
            check.decimal(f"{field}.{name}", getattr(collateral, name), maximum=SHARE_PERCENT_MAX)
        check.ordered(f"{field}.rate_min_percent", collateral.rate_min_percent, f"{field}.rate_max_percent",
                      collateral.rate_max_percent)
    if shares is not None:
        check.decimal(f"{prefix}social_shares.rate_percent", shares.rate_percent, maximum=SHARE_PERCENT_MAX)
    if analysis is not None:
        for name in ("apr_max_percent", "debt_ratio_max_percent", "margin_allowed_percent"):
            check.decimal(f"{prefix}financial_analysis.{name}", getattr(analysis, name), maximum=PERCENT_MAX)
    if penalty is not None:
        field = f"{prefix}overdue_penalty"
        _check_rate_or_flat(check, field, penalty.basis, penalty.rate_percent, penalty.flat_amount, places)
        check.count(f"{field}.grace_periods", penalty.grace_periods, maximum=GRACE_PERIODS_MAX)
        check.reference(f"{field}.charge_id", penalty.charge_id, "charge")


def _check_rate_or_flat(check: Checker, field: str, basis: RateOrFlat, rate: Decimal | None, flat: Decimal | None,
                        places: int) -> None:
    if basis is RateOrFlat.RATE:
        if rate is None:
            check.add(f"{field}.rate_percent", "is required when basis is rate")
        if flat is not None:
            check.add(f"{field}.flat_amount", "must be empty when basis is rate")
        check.decimal(f"{field}.rate_percent", rate, positive=True, maximum=SHARE_PERCENT_MAX)
    else:
        if flat is None:
            check.add(f"{field}.flat_amount", "is required when basis is flat")
        if rate is not None:
            check.add(f"{field}.rate_percent", "must be empty when basis is flat")
        check.decimal(f"{field}.flat_amount", flat, positive=True, places=places)


def _check_bands(check: Checker, product: LoanProduct, places: int) -> None:
    bands = product.amount_bands
    if len(bands) > AMOUNT_BANDS_MAX:
        check.add("amount_bands", f"at most {AMOUNT_BANDS_MAX} bands")
        return
    finite = True
    for index, band in enumerate(bands):
        field = f"amount_bands[{index}]"
        finite = check.decimal(f"{field}.amount_min", band.amount_min, positive=True, places=places) and finite
        finite = check.decimal(f"{field}.amount_max", band.amount_max, positive=True, places=places) and finite
        check.ordered(f"{field}.amount_min", band.amount_min, f"{field}.amount_max", band.amount_max)
        check.count(f"{field}.term_months_min", band.term_months_min, minimum=1, maximum=SCHEDULE_PERIODS_MAX)
        check.count(f"{field}.term_months_max", band.term_months_max, minimum=1, maximum=SCHEDULE_PERIODS_MAX)
        check.ordered(f"{field}.term_months_min", band.term_months_min, f"{field}.term_months_max",
                      band.term_months_max)
        check.decimal(f"{field}.interest_rate_min_percent", band.interest_rate_min_percent, maximum=PERCENT_MAX)
        check.decimal(f"{field}.interest_rate_max_percent", band.interest_rate_max_percent, maximum=PERCENT_MAX)
        check.ordered(f"{field}.interest_rate_min_percent", band.interest_rate_min_percent,
                      f"{field}.interest_rate_max_percent", band.interest_rate_max_percent)
        check.ordered("principal.minimum", product.principal.minimum, f"{field}.amount_min", band.amount_min)
        check.ordered(f"{field}.amount_max", band.amount_max, "principal.maximum", product.principal.maximum,
                      blame=f"{field}.amount_max")
        _check_requirements(check, f"{field}.", None, band.guarantors, band.co_signers, band.mandatory_savings,
                            band.cash_collateral, band.social_shares, band.financial_analysis, band.overdue_penalty,
                            places)
    if not finite:
        return
    for index in range(1, len(bands)):
        previous, band = bands[index - 1], bands[index]
        if band.amount_min <= previous.amount_max:
            check.add(f"amount_bands[{index}].amount_min",
                      f"bands are in increasing order and do not overlap: must be above "
                      f"amount_bands[{index - 1}].amount_max ({previous.amount_max})")


def _check_cycles(check: Checker, product: LoanProduct, places: int) -> None:
    cycles = product.cycle_variations
    if len(cycles) > CYCLE_VARIATIONS_MAX:
        check.add("cycle_variations", f"at most {CYCLE_VARIATIONS_MAX} variations")
        return
    if cycles and not product.track_loan_cycle:
        check.add("cycle_variations", "borrower-cycle variations need track_loan_cycle")
    seen: set[tuple[int, CycleComparison]] = set()
    for index, variation in enumerate(cycles):
        field = f"cycle_variations[{index}]"
        check.count(f"{field}.cycle_number", variation.cycle_number, minimum=1, maximum=CYCLE_NUMBER_MAX)
        key = (variation.cycle_number, variation.comparison)
        if key in seen:
            check.add(f"{field}.cycle_number", "this cycle and comparison are already defined")
        seen.add(key)
        if variation.principal is not None:
            check.amount_range(f"{field}.principal", variation.principal, places=places, positive=True)
        if variation.repayment_count is not None:
            check.count_range(f"{field}.repayment_count", variation.repayment_count, minimum=1,
                              maximum=SCHEDULE_PERIODS_MAX)
        if variation.interest_rate_percent is not None:
            check.amount_range(f"{field}.interest_rate_percent", variation.interest_rate_percent, maximum=PERCENT_MAX)
    greater = [v for v in cycles if v.comparison is CycleComparison.GREATER_THAN]
    if len(greater) > 1:
        check.add("cycle_variations", "at most one 'greater_than' variation (it covers every later cycle)")


# --------------------------------------------------------------------------- derivation

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

