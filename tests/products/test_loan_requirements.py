"""Loan requirements: seed 001's guarantee example and seed 002's band-level requirements."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.catalogue.common import AmountRange
from products.loans.product import (
    AmountBand,
    CashCollateral,
    Guarantees,
    GuarantorRule,
    MandatorySavings,
    RateOrFlat,
    SocialShares,
)
from products.loans.requirements import loan_requirements
from tests.products.catalogue_factories import seed_001_loan

D = Decimal


def test_seed_001_guarantee_example() -> None:
    """20 % of 10 000 EUR = 2 000 to guarantee, of which 1 000 own funds and up to 1 000 by a guarantor."""
    product = seed_001_loan(guarantees=Guarantees(mandatory_percent=D(20), own_funds_min_percent=D(10),
                                                  external_guarantor_min_percent=D(10), hold_guarantee_funds=True))
    needs = loan_requirements(product, D(10000))
    assert (needs.guarantee_amount, needs.guarantee_own_funds_min_amount, needs.guarantee_external_min_amount) == (
        D("2000.00"), D("1000.00"), D("1000.00"))
    assert needs.hold_guarantee_funds


def test_band_requirements_replace_the_products() -> None:
    """Seed 002: from 10 000, two guarantors, 10 % savings, 5-15 % collateral and 2 % social shares."""
    product = seed_001_loan(
        guarantors=GuarantorRule(required=True, count_min=1, amount_threshold=D(8000)),
        amount_bands=(
            AmountBand(amount_min=D(5000), amount_max=D(9999)),
            AmountBand(amount_min=D(10000), amount_max=D(15000),
                       guarantors=GuarantorRule(required=True, count_min=2),
                       mandatory_savings=MandatorySavings(basis=RateOrFlat.RATE, rate_percent=D(10)),
                       cash_collateral=CashCollateral(rate_min_percent=D(5), rate_max_percent=D(15)),
                       social_shares=SocialShares(rate_percent=D(2)))))
    small = loan_requirements(product, D(6000))
    assert (small.guarantors_required, small.mandatory_savings_amount, small.cash_collateral) == (0, None, None)
    assert loan_requirements(product, D(9000)).guarantors_required == 1  # above the product's threshold
    large = loan_requirements(product, D(12000))
    assert large.guarantors_required == 2
    assert (large.mandatory_savings_amount, large.cash_collateral_min_amount, large.cash_collateral_max_amount,
            large.social_shares_amount) == (D("1200.00"), D("600.00"), D("1800.00"), D("240.00"))


@given(principal=st.integers(5000, 15000), percent=st.integers(0, 100))
def test_required_shares_never_exceed_the_principal(principal: int, percent: int) -> None:
    product = seed_001_loan(guarantees=Guarantees(mandatory_percent=D(percent)),
                            principal=AmountRange(minimum=D(5000), default=D(10000), maximum=D(15000)),
                            in_multiples_of=D(5))
    needs = loan_requirements(product, D(principal))
    assert 0 <= needs.guarantee_amount <= D(principal) + 5
    assert needs.guarantee_amount % 5 == 0


def test_product_mix() -> None:
    import pytest

    from products.errors import ProductError
    from products.loans.product import ProductMix
    from products.loans.requirements import check_product_mix

    product = seed_001_loan(product_mix=ProductMix(restricted_product_ids=(7,), concurrent_loans_max=2))
    check_product_mix(product, 3, [3, 5])
    with pytest.raises(ProductError, match="product 7"):
        check_product_mix(product, 3, [5, 7])
    with pytest.raises(ProductError, match="at most 2"):
        check_product_mix(product, 3, [3, 3])
