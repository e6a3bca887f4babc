"""What differs between loan, deposit and term-deposit products, as data: the settings
type, its validation, and what its charges must apply to. The service never branches on
the kind beyond looking it up here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final, Generic, TypeVar

import msgspec

from products.catalogue.common import Problem
from products.deposits.product import DepositProduct, validate_deposit_product
from products.loans.product import LoanProduct
from products.loans.product_rules import validate_loan_product
from products.posting_rules import ProductKind
from products.term_deposits.product import TermDepositProduct, validate_term_deposit_product

Settings = LoanProduct | DepositProduct | TermDepositProduct
S = TypeVar("S", LoanProduct, DepositProduct, TermDepositProduct)


class KindSpec(msgspec.Struct, Generic[S], frozen=True, kw_only=True):
    kind: ProductKind
    settings_type: type[S]
    validate: Callable[[S], list[Problem]]
    charges_apply_to: str
    """`charge.applies_to` of the charges such a product may name."""
    label: str


KINDS: Final[Mapping[ProductKind, KindSpec]] = MappingProxyType({  # type: ignore[type-arg]
    ProductKind.LOAN: KindSpec(kind=ProductKind.LOAN, settings_type=LoanProduct, validate=validate_loan_product,
                               charges_apply_to="loan", label="loan product"),
    ProductKind.DEPOSIT: KindSpec(kind=ProductKind.DEPOSIT, settings_type=DepositProduct,
                                  validate=validate_deposit_product, charges_apply_to="deposit",
                                  label="deposit product"),
    ProductKind.TERM_DEPOSIT: KindSpec(kind=ProductKind.TERM_DEPOSIT, settings_type=TermDepositProduct,
                                       validate=validate_term_deposit_product, charges_apply_to="deposit",
                                       label="term-deposit product"),
})
assert set(KINDS) == set(ProductKind)


def kind_of(settings: Settings) -> ProductKind:
    for kind, spec in KINDS.items():
        if type(settings) is spec.settings_type:
            return kind
    raise AssertionError(type(settings))


def decode_settings(kind: ProductKind, raw: object) -> Settings:
    """Settings stored as JSONB back to the pure core's value (shape fixed at write time)."""
    settings: Settings = msgspec.convert(raw, type=KINDS[kind].settings_type, strict=False)
    return settings
