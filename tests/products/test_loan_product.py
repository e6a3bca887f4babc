"""Loan products: every validation rule names its field; derivation applies defaults, cycles,
bands and overrides; hand-checked examples from seeds 001 and 002."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from products.accounting import ProductAccounting
from products.catalogue.common import AmountRange, CountRange
from products.errors import ProductError
from products.loans.derivation import derive_loan_terms
from products.loans.errors import TermsError
from products.loans.product import (
    AmountBand,
    CashCollateral,
    CycleComparison,
    CycleVariation,
    FinancialAnalysis,
    Guarantees,
    GuarantorRule,
    LoanLimits,
    LoanTermOverrides,
    MandatorySavings,
    MultiDisbursement,
    OverduePenalty,
    OverridableTerm,
    ProductMix,
    RateOrFlat,
    RepaymentComponent,
    SocialShares,
)
from products.loans.product_rules import validate_loan_product
from products.loans.terms import AmortizationMethod, FeeSpec, FeeTrigger, InterestMethod
from products.posting_rules import AccountingRole, AccountingRule
from tests.products.catalogue_factories import seed_001_cycles, seed_001_loan

D = Decimal
ON = date(2026, 3, 2)


def fields(product: object) -> set[str]:
    return {p.field for p in validate_loan_product(product)}  # type: ignore[arg-type]


def test_seed_001_product_is_valid() -> None:
    assert validate_loan_product(seed_001_loan()) == []


@pytest.mark.parametrize(("changes", "field"), [
    ({"principal": AmountRange(minimum=D(10), default=D(5), maximum=D(20))}, "principal.default"),
    ({"principal": AmountRange(minimum=D(1), default=D(30), maximum=D(20))}, "principal.maximum"),
    ({"principal": AmountRange(default=D(0))}, "principal.default"),
    ({"principal": AmountRange(default=D("NaN"))}, "principal.default"),
    ({"principal": AmountRange(default=D("10.001"))}, "principal.default"),
    ({"repayment_count": CountRange(minimum=5, default=4)}, "repayment_count.default"),
    ({"repayment_count": CountRange(default=10, maximum=9)}, "repayment_count.maximum"),
    ({"interest_rate_percent": AmountRange(minimum=D(20), default=D(18))}, "interest_rate_percent.default"),
    ({"interest_rate_percent": AmountRange(default=D(2000))}, "interest_rate_percent.default"),
    ({"currency": "ZZZ"}, "currency"),
    ({"decimals": 3}, "decimals"),
    ({"in_multiples_of": D("0.001")}, "in_multiples_of"),
    ({"instalment_in_multiples_of": D(0)}, "instalment_in_multiples_of"),
    ({"repayment_every": 0}, "repayment_every"),
    ({"grace_on_principal_periods": 5}, "grace_on_principal_periods"),
    ({"weeks_in_year": 54}, "weeks_in_year"),
    ({"allocation_order_healthy": (RepaymentComponent.PRINCIPAL,)}, "allocation_order_healthy"),
    ({"allocation_order_doubtful": (RepaymentComponent.FEE,) * 4}, "allocation_order_doubtful"),
    ({"excluded_repayment_components": (RepaymentComponent.PRINCIPAL,)}, "excluded_repayment_components"),
    ({"days_to_arrears": 90, "days_to_npa": 30}, "days_to_npa"),
    ({"arrears_tolerance_amount": D(-1)}, "arrears_tolerance_amount"),
    ({"guarantees": Guarantees(mandatory_percent=D(20), own_funds_min_percent=D(15),
                               external_guarantor_min_percent=D(10))}, "guarantees.own_funds_min_percent"),
    ({"guarantees": Guarantees(mandatory_percent=D(120))}, "guarantees.mandatory_percent"),
    ({"guarantors": GuarantorRule(required=True, count_min=0)}, "guarantors.count_min"),
    ({"mandatory_savings": MandatorySavings(basis=RateOrFlat.RATE)}, "mandatory_savings.rate_percent"),
    ({"mandatory_savings": MandatorySavings(basis=RateOrFlat.FLAT, rate_percent=D(5))},
     "mandatory_savings.flat_amount"),
    ({"cash_collateral": CashCollateral(rate_min_percent=D(20), rate_max_percent=D(10))},
     "cash_collateral.rate_max_percent"),
    ({"overdue_penalty": OverduePenalty(basis=RateOrFlat.FLAT, flat_amount=D(-5))}, "overdue_penalty.flat_amount"),
    ({"multi_disbursement": MultiDisbursement(tranches_max=1)}, "multi_disbursement.tranches_max"),
    ({"multi_disbursement": MultiDisbursement(outstanding_max=D(10))}, "multi_disbursement.outstanding_max"),
    ({"overridable_terms": (OverridableTerm.INTEREST_METHOD,)}, "overridable_terms"),
    ({"charge_ids": (3, 3)}, "charge_ids"),
    ({"charge_ids": (0,)}, "charge_ids[0]"),
    ({"vat_on_interest_percent": D(101)}, "vat_on_interest_percent"),
    ({"fund_source_id": 0}, "fund_source_id"),
    ({"cycle_variations": seed_001_cycles(), "track_loan_cycle": False}, "cycle_variations"),
    ({"cycle_variations": seed_001_cycles()[:1] * 2}, "cycle_variations[1].cycle_number"),
    ({"cycle_variations": (CycleVariation(cycle_number=0),)}, "cycle_variations[0].cycle_number"),
    ({"cycle_variations": (CycleVariation(cycle_number=2, repayment_count=CountRange(minimum=3, default=2)),)},
     "cycle_variations[0].repayment_count.default"),
    ({"cycle_variations": (CycleVariation(cycle_number=2, interest_rate_percent=AmountRange(default=D(30),
                                                                                           maximum=D(20))),)},
     "cycle_variations[0].interest_rate_percent.maximum"),
    ({"cycle_variations": (CycleVariation(cycle_number=1, comparison=CycleComparison.GREATER_THAN),
                           CycleVariation(cycle_number=3, comparison=CycleComparison.GREATER_THAN))},
     "cycle_variations"),
    ({"first_repayment_days_min": 400}, "first_repayment_days_min"),
    ({"interest_free_days": -1}, "interest_free_days"),
    ({"grace_on_interest_payment_periods": 5}, "grace_on_interest_payment_periods"),
    ({"grace_on_interest_charged_periods": 601}, "grace_on_interest_charged_periods"),
    ({"last_instalment_principal_threshold_percent": D(101)}, "last_instalment_principal_threshold_percent"),
    ({"arrears_tolerance_days": 4000}, "arrears_tolerance_days"),
    ({"reminder_days_before_due": 91}, "reminder_days_before_due"),
    ({"reminder_days_before_due": -1}, "reminder_days_before_due"),
    ({"follow_up_days_overdue": 0}, "follow_up_days_overdue"),
    ({"follow_up_days_overdue": 3651}, "follow_up_days_overdue"),
    ({"days_to_npa": 0}, "days_to_npa"),
    ({"excluded_repayment_components": (RepaymentComponent.FEE, RepaymentComponent.FEE)},
     "excluded_repayment_components"),
    ({"co_signers": GuarantorRule(required=True)}, "co_signers.count_min"),
    ({"guarantors": GuarantorRule(count_min=21)}, "guarantors.count_min"),
    ({"guarantors": GuarantorRule(amount_threshold=D(-1))}, "guarantors.amount_threshold"),
    ({"social_shares": SocialShares(rate_percent=D(150))}, "social_shares.rate_percent"),
    ({"financial_analysis": FinancialAnalysis(debt_ratio_max_percent=D(-5))},
     "financial_analysis.debt_ratio_max_percent"),
    ({"cash_collateral": CashCollateral(remuneration_rate_percent=D(101))},
     "cash_collateral.remuneration_rate_percent"),
    ({"overdue_penalty": OverduePenalty(basis=RateOrFlat.RATE, rate_percent=D(5), grace_periods=-1)},
     "overdue_penalty.grace_periods"),
    ({"overdue_penalty": OverduePenalty(charge_id=2**31, rate_percent=D(5))}, "overdue_penalty.charge_id"),
    ({"limits": LoanLimits(loans_per_client_max=0)}, "limits.loans_per_client_max"),
    ({"limits": LoanLimits(loans_per_guarantor_max=101)}, "limits.loans_per_guarantor_max"),
    ({"product_mix": ProductMix(restricted_product_ids=(4, 4))}, "product_mix.restricted_product_ids"),
    ({"product_mix": ProductMix(restricted_product_ids=(0,))}, "product_mix.restricted_product_ids[0]"),
    ({"product_mix": ProductMix(concurrent_loans_max=0)}, "product_mix.concurrent_loans_max"),
    ({"category": "x" * 101}, "category"),
    ({"accounting": ProductAccounting(accounts={AccountingRole.FUND_SOURCE: "1011"})}, "accounting.accounts"),
    ({"accounting": ProductAccounting(rule=AccountingRule.CASH, payment_type_accounts={0: "1011"})},
     "accounting.payment_type_accounts.0"),
    ({"accounting": ProductAccounting(rule=AccountingRule.CASH, accounts={AccountingRole.FUND_SOURCE: ""})},
     "accounting.accounts.fund_source"),
])
def test_each_rule_names_its_field(changes: dict[str, object], field: str) -> None:
    assert field in fields(seed_001_loan(**changes))


def test_identity_rules() -> None:
    product = seed_001_loan()
    bad = msgspec.structs.replace(product.identity, name=" ", short_name="X" * 11, close_date=date(2025, 1, 1))
    assert {"identity.name", "identity.short_name", "identity.close_date"} <= fields(
        msgspec.structs.replace(product, identity=bad))


def test_band_rules() -> None:
    bands = (AmountBand(amount_min=D(5000), amount_max=D(9000)), AmountBand(amount_min=D(9000), amount_max=D(8000)),
             AmountBand(amount_min=D(1), amount_max=D(20000), term_months_min=12, term_months_max=6,
                        interest_rate_min_percent=D(20), interest_rate_max_percent=D(10),
                        mandatory_savings=MandatorySavings(basis=RateOrFlat.FLAT),
                        guarantors=GuarantorRule(required=True)))
    found = fields(seed_001_loan(amount_bands=bands))
    assert "amount_bands[2].interest_rate_max_percent" in found
    assert "amount_bands[2].mandatory_savings.flat_amount" in found
    assert "amount_bands[2].guarantors.count_min" in found
    assert "amount_bands" in fields(seed_001_loan(amount_bands=bands[:1] * 51))
    assert "amount_bands[1].amount_min" in found  # overlaps band 0
    assert "amount_bands[1].amount_max" in found  # max below min
    assert "amount_bands[2].term_months_max" in found
    assert "amount_bands[2].amount_min" in found  # below the product's minimum
    assert "amount_bands[2].amount_max" in found  # above the product's maximum


@st.composite
def bounds(draw: st.DrawFn) -> tuple[Decimal | None, Decimal, Decimal | None]:
    values = [D(draw(st.integers(1, 10**9))) for _ in range(3)]
    low = draw(st.one_of(st.none(), st.just(values[0])))
    high = draw(st.one_of(st.none(), st.just(values[2])))
    return low, values[1], high


@given(bounds())
def test_a_range_is_refused_exactly_when_unordered(bound: tuple[Decimal | None, Decimal, Decimal | None]) -> None:
    low, default, high = bound
    ordered = (low is None or low <= default) and (high is None or default <= high) and (
        low is None or high is None or low <= high)
    found = {f for f in fields(seed_001_loan(principal=AmountRange(minimum=low, default=default, maximum=high)))
             if f.startswith("principal")}
    assert (not found) == ordered


@given(st.lists(st.integers(1, 10**6), min_size=2, max_size=12, unique=True), st.randoms())
def test_bands_valid_exactly_when_sorted_and_disjoint(edges: list[int], rng: object) -> None:
    edges.sort()
    bands = [AmountBand(amount_min=D(edges[i]), amount_max=D(edges[i + 1] - 1 if edges[i + 1] - 1 >= edges[i]
                                                              else edges[i]))
             for i in range(len(edges) - 1)]
    product = seed_001_loan(principal=AmountRange(minimum=D(1), default=D(edges[0]), maximum=D(10**6)))
    assert not any(f.startswith("amount_bands") for f in fields(msgspec.structs.replace(
        product, amount_bands=tuple(bands))))
    if len(bands) >= 2:
        swapped = [bands[1], bands[0], *bands[2:]]
        assert "amount_bands[1].amount_min" in fields(msgspec.structs.replace(product, amount_bands=tuple(swapped)))


# --------------------------------------------------------------------------- derivation

def test_defaults_make_the_terms() -> None:
    terms = derive_loan_terms(seed_001_loan(), LoanTermOverrides(disbursement_date=ON))
    assert (terms.principal_amount, terms.repayment_count, terms.interest_rate_percent) == (D(10000), 10, D(22))
    assert terms.currency_code == "EUR"
    assert terms.disbursement_date == ON


def test_choices_within_bounds_are_taken_and_outside_refused() -> None:
    product = seed_001_loan()
    terms = derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, principal_amount=D(15000),
                                                         repayment_count=5, interest_rate_percent=D(18)))
    assert (terms.principal_amount, terms.repayment_count, terms.interest_rate_percent) == (D(15000), 5, D(18))
    for override, field in ((dict(principal_amount=D(15001)), "overrides.principal_amount"),
                            (dict(repayment_count=16), "overrides.repayment_count"),
                            (dict(interest_rate_percent=D("17.99")), "overrides.interest_rate_percent"),
                            (dict(principal_amount=D("NaN")), "overrides.principal_amount")):
        with pytest.raises(ProductError) as error:
            derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, **override))  # type: ignore[arg-type]
        assert error.value.field == field


def test_seed_001_cycles() -> None:
    product = seed_001_loan(cycle_variations=seed_001_cycles(),
                            principal=AmountRange(minimum=D(5000), default=D(10000), maximum=D(20000)))
    assert derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON), 1).principal_amount == D(10000)
    assert derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON), 2).principal_amount == D(20000)
    assert derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON), 7).principal_amount == D(20000)
    with pytest.raises(ProductError, match="cycle 1"):
        derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, principal_amount=D(15000)), 1)


def test_overrides_need_the_switch_and_the_term() -> None:
    request = LoanTermOverrides(disbursement_date=ON, interest_method=InterestMethod.FLAT)
    with pytest.raises(ProductError) as error:
        derive_loan_terms(seed_001_loan(), request)
    assert error.value.field == "overrides.interest_method"
    allowed = seed_001_loan(allow_term_overrides=True, overridable_terms=(OverridableTerm.INTEREST_METHOD,))
    assert derive_loan_terms(allowed, request).interest_method is InterestMethod.FLAT
    with pytest.raises(ProductError):
        derive_loan_terms(allowed, LoanTermOverrides(disbursement_date=ON, grace_on_principal_periods=2))
    # Choosing the product's own value is not an override.
    same = LoanTermOverrides(disbursement_date=ON, interest_method=InterestMethod.DECLINING_BALANCE)
    assert derive_loan_terms(seed_001_loan(), same).interest_method is InterestMethod.DECLINING_BALANCE


def test_seed_002_bands_carry_their_own_limits() -> None:
    """Band 5 000-9 999: 5 to 10 months, 18-20 %, flat constant principal; band 10 000-15 000:
    up to 15 months at 18-24 %."""
    bands = (AmountBand(amount_min=D(5000), amount_max=D(9999), term_months_min=5, term_months_max=10,
                        interest_rate_min_percent=D(18), interest_rate_max_percent=D(20),
                        interest_method=InterestMethod.FLAT, amortization_method=AmortizationMethod.EQUAL_PRINCIPAL),
             AmountBand(amount_min=D(10000), amount_max=D(15000), term_months_max=15))
    product = seed_001_loan(amount_bands=bands)
    assert validate_loan_product(product) == []
    small = derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, principal_amount=D(6000),
                                                         interest_rate_percent=D(19)))
    assert small.interest_method is InterestMethod.FLAT
    assert small.amortization_method is AmortizationMethod.EQUAL_PRINCIPAL
    with pytest.raises(ProductError, match="amount band"):
        derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, principal_amount=D(6000)))  # 22 % > 20 %
    with pytest.raises(ProductError, match="amount band"):
        derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, principal_amount=D(6000),
                                                     interest_rate_percent=D(19), repayment_count=12))
    large = derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, principal_amount=D(12000)))
    assert large.interest_method is InterestMethod.DECLINING_BALANCE


def test_charges_become_schedule_fees() -> None:
    fee = FeeSpec(name="Frais de dossier", trigger=FeeTrigger.DISBURSEMENT, flat_amount=D(50))
    product = seed_001_loan(charge_ids=(7,))
    assert derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON), charges={7: fee}).fees == (fee,)
    with pytest.raises(ProductError) as error:
        derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON))
    assert error.value.field == "charge_ids[0]"


def test_terms_the_engine_refuses_are_refused() -> None:
    product = seed_001_loan(grace_on_principal_periods=3, repayment_count=CountRange(default=3))
    with pytest.raises(TermsError):
        derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON))


@given(principal=st.integers(5000, 15000), count=st.integers(5, 15), rate=st.integers(18, 24),
       cycle=st.integers(1, 30))
def test_derived_terms_stay_within_the_products_bounds(principal: int, count: int, rate: int, cycle: int) -> None:
    product = seed_001_loan()
    terms = derive_loan_terms(product, LoanTermOverrides(
        disbursement_date=ON, principal_amount=D(principal), repayment_count=count,
        interest_rate_percent=D(rate)), cycle)
    assert product.principal.contains(terms.principal_amount)
    assert product.repayment_count.contains(terms.repayment_count)
    assert product.interest_rate_percent.contains(terms.interest_rate_percent)
    assert terms.amortization_method is product.amortization_method


@given(principal=st.integers(1, 10**6))
def test_out_of_bounds_principal_is_always_refused(principal: int) -> None:
    product = seed_001_loan()
    request = LoanTermOverrides(disbursement_date=ON, principal_amount=D(principal))
    if product.principal.contains(D(principal)):
        assert derive_loan_terms(product, request).principal_amount == D(principal)
    else:
        with pytest.raises(ProductError):
            derive_loan_terms(product, request)


def test_multi_disbursement_limits_tranches() -> None:
    from products.loans.terms import TrancheSpec
    tranches = (TrancheSpec(expected_date=ON, amount=D(5000)), TrancheSpec(expected_date=date(2026, 4, 2),
                                                                           amount=D(5000)))
    with pytest.raises(ProductError, match="one go"):
        derive_loan_terms(seed_001_loan(), LoanTermOverrides(disbursement_date=ON, tranches=tranches))
    product = seed_001_loan(multi_disbursement=MultiDisbursement(tranches_max=2))
    assert len(derive_loan_terms(product, LoanTermOverrides(disbursement_date=ON, tranches=tranches)).tranches) == 2
