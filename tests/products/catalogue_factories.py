"""Products as the seeds describe them, for the catalogue tests."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec

from products.catalogue.common import AmountRange, CountRange, ProductIdentity
from products.deposits.product import DepositProduct
from products.loans.product import CycleComparison, CycleVariation, LoanProduct
from products.term_deposits.product import (
    ClientAttribute,
    Incentive,
    IncentiveKind,
    Operator,
    RateChart,
    RateSlab,
    TermDepositProduct,
    TermLength,
)

D = Decimal


def seed_001_loan(**changes: Any) -> LoanProduct:
    """Seed 001's example: 5 000 / 10 000 / 15 000 EUR, 5 / 10 / 15 repayments, 18 / 22 / 24 % a year."""
    product = LoanProduct(
        identity=ProductIdentity(name="Prêt Agricole", short_name="PAG", open_date=date(2026, 1, 1)),
        currency="EUR",
        principal=AmountRange(minimum=D(5000), default=D(10000), maximum=D(15000)),
        repayment_count=CountRange(minimum=5, default=10, maximum=15),
        interest_rate_percent=AmountRange(minimum=D(18), default=D(22), maximum=D(24)),
    )
    return msgspec.structs.replace(product, **changes)


def seed_001_cycles() -> tuple[CycleVariation, ...]:
    """Cycle 1 "égal à" 10 000; cycle 2+ "supérieur à" 20 000 (ranges widened to hold them)."""
    return (
        CycleVariation(cycle_number=1, comparison=CycleComparison.EQUAL,
                       principal=AmountRange(minimum=D(5000), default=D(10000), maximum=D(10000))),
        CycleVariation(cycle_number=1, comparison=CycleComparison.GREATER_THAN,
                       principal=AmountRange(minimum=D(5000), default=D(20000), maximum=D(20000))),
    )


def seed_004_term_deposit(**changes: Any) -> TermDepositProduct:
    """Seed 004: 100 / 1 000 / 50 000 EUR, 12 to 36 months by 3, chart 1-12 months 8 %,
    13-18 months 8.5 %; women get 2 points more on the first slab."""
    product = TermDepositProduct(
        identity=ProductIdentity(name="Épargne Plus", short_name="EPAR+"),
        currency="EUR",
        deposit_amount=AmountRange(minimum=D(100), default=D(1000), maximum=D(50000)),
        term_min=TermLength(count=12), term_max=TermLength(count=36), term_multiple=TermLength(count=3),
        lock_in=TermLength(count=12),
        rate_charts=(RateChart(valid_from=date(2026, 1, 1), slabs=(
            RateSlab(term_from=1, term_to=12, rate_percent=D(8), description="1-12 mois : 8%", incentives=(
                Incentive(attribute=ClientAttribute.GENDER, operator=Operator.EQUAL, value="female",
                          kind=IncentiveKind.INCENTIVE, rate_percent=D(2)),
            )),
            RateSlab(term_from=13, term_to=18, rate_percent=D("8.5"), description="13-18 mois : 8,5%"),
        )),),
    )
    return msgspec.structs.replace(product, **changes)


def savings_product(**changes: Any) -> DepositProduct:
    product = DepositProduct(identity=ProductIdentity(name="Épargne à vue", short_name="EAV"), currency="XOF")
    return msgspec.structs.replace(product, **changes)
