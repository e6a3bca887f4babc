"""A loan product: every P1 setting of the mission (seeds 001 and 002) as one frozen value.

A product is a template. Its terms are ranges (min/default/max), refined by borrower cycle
(seed 001 section B) and by amount band (seed 002 "tranches", each with its own limits,
savings, collateral, guarantors, penalties and social shares). `derive_loan_terms` turns a
product, what a loan officer chose for one account and the borrower's cycle into the
`LoanTerms` the schedule engine consumes, refusing anything the product does not allow.

Validation: `products.loans.product_rules.validate_loan_product` (every problem, each naming
its field path). Derivation: `products.loans.derivation.derive_loan_terms`. Requirements of
one loan: `products.loans.requirements.loan_requirements`. Account mapping (`accounting`)
reuses `products.accounting.ProductAccounting`; checking it against the chart needs the
chart, so the service does that with `check_accounting`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.accounting import ProductAccounting
from products.catalogue.common import (
    AmountRange,
    CountRange,
    ProductIdentity,
)
from products.loans.booking import TermBuckets
from products.loans.terms import (
    AmortizationMethod,
    DaysInMonth,
    DaysInYear,
    HolidayRule,
    InterestCalculationPeriod,
    InterestMethod,
    InterestRatePeriod,
    RepaymentFrequencyUnit,
    TrancheSpec,
)
from products.rounding import Rounding, RoundingMode

AMOUNT_BANDS_MAX: Final = 50
CYCLE_VARIATIONS_MAX: Final = 50
CYCLE_NUMBER_MAX: Final = 1000
DAYS_THRESHOLD_MAX: Final = 3650
REMINDER_DAYS_MAX: Final = 90
GUARANTORS_MAX: Final = 20
PRODUCT_MIX_MAX: Final = 200
LOANS_PER_CLIENT_MAX: Final = 100


class RepaymentComponent(StrEnum):
    """Parts of a repayment, in the order a product allocates money to them."""

    PENALTY = "penalty"
    FEE = "fee"
    INTEREST = "interest"
    PRINCIPAL = "principal"


class AllocationScope(StrEnum):
    """How the allocation order runs across instalments.

    ``horizontal``: instalment by instalment, oldest first, each in the order (Fineract's
    strategies, Mambu's horizontal payments). ``vertical``: what is due by the payment date is
    paid component by component across those instalments (every overdue penalty, then every
    fee, every interest, then principal, oldest first within a component: Mambu's vertical
    payments, Fineract's "Overdue/Due Fee/Int, Principal"); instalments not yet due are then
    paid horizontally.
    """

    HORIZONTAL = "horizontal"
    VERTICAL = "vertical"


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
    OVERDUE_INTEREST = "overdue_interest"
    """The instalment's unpaid interest only (Fineract's overdue charge "% Interest")."""
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


class AccrualFrequency(StrEnum):
    """When the close of business recognises an accrual-periodic loan's interest (issue 9: « day by
    day or per period as the product says»)."""

    DAILY = "daily"
    """Straight-line inside each instalment period, a little every day (the default)."""
    PER_PERIOD = "per_period"
    """The period's whole interest on its due date, nothing on the days before."""


class RecalculationFrequency(StrEnum):
    """How often a principal repayment starts lowering the balance that earns interest
    (Fineract's "rest frequency"): from the day it is paid, or from the next week or month
    boundary counted from the disbursement date (a due date is always a boundary)."""

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class PreClosureInterest(StrEnum):
    """Interest owed when a loan with interest recalculation is paid off early: to the payoff
    date, or to the next rest boundary (Fineract's "till pre-closure date" / "till rest
    frequency date")."""

    TO_DATE = "to_date"
    TO_REST_DATE = "to_rest_date"


class InterestRecalculation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Seed 001 "recalcul des intérêts": how declining-balance interest follows the actual
    principal outstanding when payments are early or late (used when
    ``interest_recalculation`` is on)."""

    frequency: RecalculationFrequency = RecalculationFrequency.DAILY
    pre_closure_interest: PreClosureInterest = PreClosureInterest.TO_DATE


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
    level_instalment_adjustment: bool = False
    """Fineract's EMI adjustment (see `LoanTerms.level_instalment_adjustment`)."""
    interest_recalculation: bool = False
    interest_recalculation_settings: InterestRecalculation = InterestRecalculation()
    partial_instalment_payment_allowed: bool = True
    holiday_rule: HolidayRule = HolidayRule.NEXT_WORKING_DAY
    # Repayment strategy
    allocation_order_healthy: tuple[RepaymentComponent, ...] = (
        RepaymentComponent.PENALTY, RepaymentComponent.FEE, RepaymentComponent.INTEREST, RepaymentComponent.PRINCIPAL)
    allocation_order_doubtful: tuple[RepaymentComponent, ...] = (
        RepaymentComponent.PRINCIPAL, RepaymentComponent.INTEREST, RepaymentComponent.FEE, RepaymentComponent.PENALTY)
    allocation_scope: AllocationScope = AllocationScope.HORIZONTAL
    excluded_repayment_components: tuple[RepaymentComponent, ...] = ()
    # Arrears
    arrears_tolerance_amount: Decimal = Decimal(0)
    arrears_tolerance_days: int = 0
    days_to_arrears: int | None = None
    days_to_npa: int | None = None
    npa_exit_requires_arrears_paid: bool = True
    require_funds_available_for_repayment: bool = False
    reminder_days_before_due: int | None = None
    """Days of notice the close of business gives before an instalment falls due (the
    `instalment.due_soon` reminder, 0 to REMINDER_DAYS_MAX; 0: no due-date reminder for this
    product); None: the institution's default (GRANDLIVRE_REMINDER_DAYS, 3)."""
    follow_up_days_overdue: int | None = None
    """Days overdue after which a loan of this product goes on its loan officer's follow-up list
    (the `loan.follow_up` task, 1 to DAYS_THRESHOLD_MAX); None: the institution's default
    (GRANDLIVRE_FOLLOW_UP_DAYS, 30)."""
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
    accrual_frequency: AccrualFrequency = AccrualFrequency.DAILY
    """Accrual-periodic rule only: interest recognised day by day or per period (on the due date)."""
    term_buckets: TermBuckets = TermBuckets()
    """Seed 002's durations: which classified accounts (short, medium, long term) a loan posts to."""
    # Provisioning and write-off
    provision_includes_interest: bool = False
    """The provision base counts the interest receivable too (accrual rules), not the principal alone."""
    write_off_after_days_overdue: int | None = None
    """The close of business writes off a loan overdue more days than this (None: never by rule)."""
    apply_guarantees_on_write_off: bool = True
    """Before a write-off books the loss, the deposits held for the loan on the borrower's account
    (mandatory savings, cash collateral, guarantee on own funds) are taken as a repayment from
    that account (« réalisation des garanties »); False: they are only released."""

    @property
    def rounding(self) -> Rounding:
        return Rounding(decimals=self.decimals, mode=self.rounding_mode, in_multiples_of=self.in_multiples_of)

    @property
    def may_charge_penalties(self) -> bool:
        """Whether some loan of the product can owe a penalty (the product's, or an amount band's)."""
        return self.overdue_penalty is not None or any(band.overdue_penalty is not None for band in self.amount_bands)

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
