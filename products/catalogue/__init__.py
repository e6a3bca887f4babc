"""The product catalogue's shared vocabulary: ranges with min/default/max, identification,
problems naming a field path. Loan, deposit and term-deposit products live beside their
calculators (`products.loans.product`, `products.deposits.product`,
`products.term_deposits.product`); this package holds what they share. Pure: no I/O."""

from products.catalogue.common import (
    AmountRange,
    CountRange,
    Problem,
    ProductIdentity,
    ProductRejected,
    raise_problems,
)

__all__ = ("AmountRange", "CountRange", "Problem", "ProductIdentity", "ProductRejected", "raise_problems")
