"""Whatever an API client sends, product validation answers problems and never crashes:
hypothesis replaces values anywhere in the seed products with extreme ones (NaN, huge
exponents, negative and enormous integers, control characters, empty lists), and the
validators, the loan-terms derivation and the rate lookup only ever return or raise the
product's own errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from products.deposits.product import DepositProduct, validate_deposit_product
from products.loans.derivation import derive_loan_terms
from products.loans.product import LoanProduct, LoanTermOverrides
from products.loans.product_rules import validate_loan_product
from products.term_deposits.product import (
    ClientAttribute,
    TermDepositProduct,
    TermLength,
    term_deposit_rate,
    validate_term_deposit_product,
)
from tests.products.catalogue_factories import (
    savings_product,
    seed_001_cycles,
    seed_001_loan,
    seed_004_term_deposit,
)

EXTREMES = st.sampled_from([
    "NaN", "-Infinity", "1E+999999", "-1E+999999", "1E-999999", "0", "-1", "0.000000000001", "123456789012345678901",
    0, -1, 2**31, 2**63 - 1, -(2**63), 10**30, "", " ", "a\x00b", "ZZZ", "2199-12-31", "1900-01-01", [], {}, None,
    True,
])


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = msgspec.json.decode(msgspec.json.encode(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


SEEDS: list[tuple[type[Any], Any, Any]] = [
    (LoanProduct, validate_loan_product, msgspec.to_builtins(seed_001_loan(cycle_variations=seed_001_cycles()))),
    (DepositProduct, validate_deposit_product, msgspec.to_builtins(savings_product())),
    (TermDepositProduct, validate_term_deposit_product, msgspec.to_builtins(seed_004_term_deposit())),
]


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_validation_never_crashes(data: st.DataObject) -> None:
    settings_type, validate, seed = data.draw(st.sampled_from(SEEDS))
    document = seed
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from(paths(document)))
        document = mutate(document, path, data.draw(EXTREMES))
    try:
        product = msgspec.convert(document, type=settings_type, strict=False)
    except msgspec.ValidationError:
        return  # the API answers a 400 before validation
    problems = validate(product)
    if problems:
        return
    try:
        if isinstance(product, LoanProduct):
            derive_loan_terms(product, LoanTermOverrides(disbursement_date=date(2026, 3, 2)))
        elif isinstance(product, TermDepositProduct):
            term_deposit_rate(product, on=date(2026, 6, 1), term=TermLength(count=12), amount=Decimal(1000),
                              client={ClientAttribute.GENDER: "female"})
    except LedgerError:
        pass
