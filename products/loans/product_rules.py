"""Rules of a loan product: every one it breaks, each naming its field path. Pure and
total: it returns problems, never raises, whatever the settings hold."""

from __future__ import annotations

from decimal import Decimal

from products.catalogue.common import PERCENT_MAX, SHARE_PERCENT_MAX, Checker, Problem
from products.loans.limits import (
    FIRST_REPAYMENT_DAYS_MIN_MAX,
    GRACE_PERIODS_MAX,
    INTEREST_FREE_DAYS_MAX,
    REPAYMENT_EVERY_MAX,
    SCHEDULE_PERIODS_MAX,
    TRANCHES_MAX,
)
from products.loans.product import (
    AMOUNT_BANDS_MAX,
    CYCLE_NUMBER_MAX,
    CYCLE_VARIATIONS_MAX,
    DAYS_THRESHOLD_MAX,
    GUARANTORS_MAX,
    LOANS_PER_CLIENT_MAX,
    PRODUCT_MIX_MAX,
    REMINDER_DAYS_MAX,
    AccrualFrequency,
    CashCollateral,
    CycleComparison,
    FinancialAnalysis,
    Guarantees,
    GuarantorRule,
    LoanProduct,
    MandatorySavings,
    OverduePenalty,
    RateOrFlat,
    RepaymentComponent,
    SocialShares,
)
from products.loans.terms import InterestMethod
from products.posting_rules import AccountingRule


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
    if product.interest_recalculation:
        if product.interest_method is not InterestMethod.DECLINING_BALANCE:
            check.add("interest_recalculation", "needs the declining-balance interest method")
        if product.accounting.rule is AccountingRule.ACCRUAL_UPFRONT:
            check.add("interest_recalculation", "cannot go with accrual upfront: the interest recognised at "
                      "disbursement would no longer be the interest owed")
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
    if (product.accrual_frequency is AccrualFrequency.PER_PERIOD
            and product.accounting.rule is not AccountingRule.ACCRUAL_PERIODIC):
        check.add("accrual_frequency", "per_period needs the accrual_periodic accounting rule (the others accrue "
                  "no interest day by day)")
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
    check.count("reminder_days_before_due", product.reminder_days_before_due, maximum=REMINDER_DAYS_MAX)
    check.count("follow_up_days_overdue", product.follow_up_days_overdue, minimum=1, maximum=DAYS_THRESHOLD_MAX)
    check.count("write_off_after_days_overdue", product.write_off_after_days_overdue, minimum=1,
                maximum=DAYS_THRESHOLD_MAX)


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
        if savings.on_total_instalment and savings.basis is not RateOrFlat.RATE:
            check.add(f"{prefix}mandatory_savings.on_total_instalment",
                      "savings on each instalment are a rate of it: set basis to rate")
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
