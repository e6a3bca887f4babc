"""Term-deposit and deposit products: validation rules name their fields; the rate lookup
follows seed 004's chart and incentives (replace or add, =, ≠, >, <)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from products.accounting import ProductAccounting
from products.catalogue.common import AmountRange
from products.deposits.interest_settings import CompoundingPeriod, InterestSettings, PostingPeriod
from products.deposits.product import Overdraft, validate_deposit_product
from products.errors import ProductError
from products.posting_rules import AccountingRule
from products.term_deposits.product import (
    ClientAttribute,
    Incentive,
    IncentiveKind,
    MaturityInstruction,
    Operator,
    PrematureClosurePenalty,
    RateChart,
    RateSlab,
    TermLength,
    TermUnit,
    check_deposit_terms,
    term_deposit_rate,
    validate_term_deposit_product,
)
from tests.products.catalogue_factories import savings_product, seed_004_term_deposit

D = Decimal
ON = date(2026, 6, 1)
WOMAN = {ClientAttribute.GENDER: "female", ClientAttribute.AGE: "34"}
MAN = {ClientAttribute.GENDER: "male", ClientAttribute.AGE: "67"}


def fields(product: object) -> set[str]:
    return {p.field for p in validate_term_deposit_product(product)}  # type: ignore[arg-type]


def test_seed_004_product_is_valid() -> None:
    assert validate_term_deposit_product(seed_004_term_deposit()) == []


def test_seed_004_rates() -> None:
    product = seed_004_term_deposit()
    quote = term_deposit_rate(product, on=ON, term=TermLength(count=12), amount=D(1000), client=MAN)
    assert (quote.rate_percent, quote.slab_index, quote.incentives_applied) == (D(8), 0, ())
    quote = term_deposit_rate(product, on=ON, term=TermLength(count=12), amount=D(1000), client=WOMAN)
    assert (quote.rate_percent, quote.base_rate_percent, quote.incentives_applied) == (D(10), D(8), (0,))
    assert term_deposit_rate(product, on=ON, term=TermLength(count=15), amount=D(1000),
                             client=WOMAN).rate_percent == D("8.5")
    # One year is twelve months.
    assert term_deposit_rate(product, on=ON, term=TermLength(count=1, unit=TermUnit.YEARS), amount=D(1000),
                             client=MAN).rate_percent == D(8)


def incentive(attribute: ClientAttribute, operator: Operator, value: str, kind: IncentiveKind,
              rate: str) -> Incentive:
    return Incentive(attribute=attribute, operator=operator, value=value, kind=kind, rate_percent=D(rate))


@pytest.mark.parametrize(("rule", "client", "rate"), [
    (incentive(ClientAttribute.GENDER, Operator.EQUAL, "female", IncentiveKind.FIXED, "9"), WOMAN, "9"),
    (incentive(ClientAttribute.GENDER, Operator.EQUAL, "female", IncentiveKind.FIXED, "9"), MAN, "8"),
    (incentive(ClientAttribute.GENDER, Operator.NOT_EQUAL, "female", IncentiveKind.INCENTIVE, "1"), MAN, "9"),
    (incentive(ClientAttribute.AGE, Operator.GREATER_THAN, "60", IncentiveKind.INCENTIVE, "1.5"), MAN, "9.5"),
    (incentive(ClientAttribute.AGE, Operator.GREATER_THAN, "60", IncentiveKind.INCENTIVE, "1.5"), WOMAN, "8"),
    (incentive(ClientAttribute.AGE, Operator.LESS_THAN, "35", IncentiveKind.INCENTIVE, "-0.5"), WOMAN, "7.5"),
    (incentive(ClientAttribute.CLIENT_TYPE, Operator.EQUAL, "business", IncentiveKind.INCENTIVE, "1"), WOMAN, "8"),
])
def test_incentive_operators_and_kinds(rule: Incentive, client: dict[ClientAttribute, str], rate: str) -> None:
    chart = RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=1, term_to=12, rate_percent=D(8), incentives=(rule,)),))
    product = seed_004_term_deposit(rate_charts=(chart,))
    assert validate_term_deposit_product(product) == []
    assert term_deposit_rate(product, on=ON, term=TermLength(count=6), amount=D(500), client=client
                             ).rate_percent == D(rate)


@given(base=st.integers(0, 2000), adds=st.lists(st.integers(-300, 300), max_size=5))
def test_incentives_add_in_order_and_never_go_below_zero(base: int, adds: list[int]) -> None:
    rules = tuple(incentive(ClientAttribute.GENDER, Operator.EQUAL, "female", IncentiveKind.INCENTIVE,
                            str(D(a) / 100)) for a in adds)
    chart = RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=1, rate_percent=D(base) / 100, incentives=rules),))
    product = seed_004_term_deposit(rate_charts=(chart,))
    quote = term_deposit_rate(product, on=ON, term=TermLength(count=3), amount=D(500), client=WOMAN)
    assert quote.rate_percent == max(D(0), (D(base) + sum(D(a) for a in adds)) / 100)
    assert term_deposit_rate(product, on=ON, term=TermLength(count=3), amount=D(500), client=MAN
                             ).rate_percent == D(base) / 100


def test_chart_validity_and_amount_ranges() -> None:
    old = RateChart(valid_from=date(2025, 1, 1), valid_to=date(2025, 12, 31), slabs=(
        RateSlab(term_from=1, rate_percent=D(6)),))
    new = RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=1, amount_to=D(9999), rate_percent=D(7)),
        RateSlab(term_from=1, amount_from=D(10000), rate_percent=D("7.5")),))
    product = seed_004_term_deposit(rate_charts=(old, new))
    assert validate_term_deposit_product(product) == []
    quote = term_deposit_rate(product, on=date(2025, 6, 1), term=TermLength(count=12), amount=D(500), client=MAN)
    assert (quote.chart_index, quote.rate_percent) == (0, D(6))
    assert term_deposit_rate(product, on=ON, term=TermLength(count=12), amount=D(20000), client=MAN
                             ).rate_percent == D("7.5")
    with pytest.raises(ProductError) as error:
        term_deposit_rate(product, on=date(2024, 1, 1), term=TermLength(count=12), amount=D(500), client=MAN)
    assert error.value.field == "opened_on"
    with pytest.raises(ProductError) as error:
        term_deposit_rate(seed_004_term_deposit(), on=ON, term=TermLength(count=24), amount=D(500), client=MAN)
    assert error.value.field == "term"


@pytest.mark.parametrize(("changes", "field"), [
    ({"deposit_amount": AmountRange(minimum=D(100), default=D(50))}, "deposit_amount.default"),
    ({"deposit_amount": AmountRange(default=D(1000), maximum=D(999))}, "deposit_amount.maximum"),
    ({"term_max": TermLength(count=6)}, "term_max"),
    ({"term_multiple": TermLength(count=5)}, "term_multiple"),
    ({"lock_in": TermLength(count=4, unit=TermUnit.YEARS)}, "lock_in"),
    ({"term_min": TermLength(count=0)}, "term_min.count"),
    ({"premature_closure_penalty": PrematureClosurePenalty(rate_percent=D(0))},
     "premature_closure_penalty.rate_percent"),
    ({"maturity_instructions": ()}, "maturity_instructions"),
    ({"maturity_instructions": (MaturityInstruction.WITHDRAW,) * 2}, "maturity_instructions"),
    ({"rate_charts": ()}, "rate_charts"),
    ({"interest": InterestSettings(compounding_period=CompoundingPeriod.ANNUAL, posting_period=PostingPeriod.MONTHLY)},
     "interest.compounding_period"),
    ({"accounting": ProductAccounting(rule=AccountingRule.ACCRUAL_UPFRONT)}, "accounting.rule"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=()),)}, "rate_charts[0].slabs"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 2, 1), valid_to=date(2026, 1, 1),
                                slabs=(RateSlab(term_from=1, rate_percent=D(1)),)),)}, "rate_charts[0].valid_to"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(RateSlab(term_from=1, rate_percent=D(1)),)),
                      RateChart(valid_from=date(2026, 6, 1), slabs=(RateSlab(term_from=1, rate_percent=D(1)),)))},
     "rate_charts[1].valid_from"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=1, term_to=12, rate_percent=D(1)),
        RateSlab(term_from=12, term_to=18, rate_percent=D(2)))),)}, "rate_charts[0].slabs[1]"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=12, term_to=6, rate_percent=D(1)),)),)}, "rate_charts[0].slabs[0].term_to"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=1, amount_from=D(10), amount_to=D(5), rate_percent=D(1)),)),)},
     "rate_charts[0].slabs[0].amount_to"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(RateSlab(term_from=1, rate_percent=D(1), incentives=(
        incentive(ClientAttribute.GENDER, Operator.GREATER_THAN, "female", IncentiveKind.FIXED, "2"),)),)),)},
     "rate_charts[0].slabs[0].incentives[0].operator"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(RateSlab(term_from=1, rate_percent=D(1), incentives=(
        incentive(ClientAttribute.AGE, Operator.GREATER_THAN, "soixante", IncentiveKind.FIXED, "2"),)),)),)},
     "rate_charts[0].slabs[0].incentives[0].value"),
    ({"rate_charts": (RateChart(valid_from=date(2026, 1, 1), slabs=(RateSlab(term_from=1, rate_percent=D(1), incentives=(
        incentive(ClientAttribute.AGE, Operator.GREATER_THAN, "60", IncentiveKind.FIXED, "-2"),)),)),)},
     "rate_charts[0].slabs[0].incentives[0].rate_percent"),
])
def test_each_term_deposit_rule_names_its_field(changes: dict[str, object], field: str) -> None:
    assert field in fields(seed_004_term_deposit(**changes))


def test_deposit_terms_within_bounds_and_multiples() -> None:
    product = seed_004_term_deposit(in_multiples_of=D(100))
    check_deposit_terms(product, term=TermLength(count=15), amount=D(1000))
    check_deposit_terms(product, term=TermLength(count=3, unit=TermUnit.YEARS), amount=D(50000))
    for term, amount, field in ((TermLength(count=14), D(1000), "term"), (TermLength(count=9), D(1000), "term"),
                                (TermLength(count=39), D(1000), "term"), (TermLength(count=12), D(1050), "deposit_amount"),
                                (TermLength(count=12), D(60000), "deposit_amount")):
        with pytest.raises(ProductError) as error:
            check_deposit_terms(product, term=term, amount=amount)
        assert error.value.field == field


def test_deposit_product_rules() -> None:
    assert validate_deposit_product(savings_product()) == []
    bad = savings_product(minimum_balance=D(5000), minimum_opening_balance=D(1000), dormancy_days=0,
                          overdraft=Overdraft(limit_amount=D(0)), interest_rate_annual_percent=D(-1),
                          withdrawal_fee_charge_ids=(4, 4), decimals=2,
                          accounting=ProductAccounting(rule=AccountingRule.ACCRUAL_UPFRONT),
                          interest=InterestSettings(compounding_period=CompoundingPeriod.QUARTERLY))
    found = {p.field for p in validate_deposit_product(bad)}
    assert {"minimum_opening_balance", "dormancy_days", "overdraft.limit_amount", "overdraft",
            "interest_rate_annual_percent", "withdrawal_fee_charge_ids", "decimals", "accounting.rule",
            "interest.compounding_period"} <= found
    assert msgspec.json.decode(msgspec.json.encode(bad), type=type(bad)) == bad
