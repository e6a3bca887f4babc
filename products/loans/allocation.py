"""Allocation of a repayment across instalments and components, in the product's order.

A loan in good standing pays its instalments oldest first and, inside each instalment, the
components in the product's healthy order (seed 002 "ordre de remboursement sain", by default
penalties, fees, interest, principal); a doubtful loan uses the doubtful order (by default
principal first, to shrink the exposure). VAT on interest and fees is paid together with the
interest it is levied on: it comes right after interest in either order, so the State's share
is never collected before the income it is a tax on, nor left behind it.

Pure and exact: the allocated amounts plus the overpayment equal the payment, no line
exceeds what is due, and money goes to a component only when everything before it in the
sequence is fully paid.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from products.loans.product import RepaymentComponent
from products.posting_rules import Component

ALLOCABLE: Final = (Component.PENALTY, Component.FEE, Component.INTEREST, Component.VAT, Component.PRINCIPAL)
"""Components a loan's dues are made of; the posting rules know each as a repayment part."""


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """What is still owed on one component of one instalment."""

    instalment: int
    due_date: date
    component: Component
    amount: Decimal


class AllocationLine(msgspec.Struct, frozen=True, kw_only=True):
    """Money of a payment applied to one component of one instalment."""

    instalment: int
    component: Component
    amount: Decimal


class Allocation(msgspec.Struct, frozen=True, kw_only=True):
    lines: tuple[AllocationLine, ...]
    overpayment: Decimal

    def total(self, component: Component) -> Decimal:
        return sum((line.amount for line in self.lines if line.component is component), Decimal(0))

    @property
    def allocated(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


def component_sequence(order: Sequence[RepaymentComponent]) -> tuple[Component, ...]:
    """The product's order as posting components, VAT right after interest."""
    assert len(set(order)) == len(order) == len(RepaymentComponent), order
    sequence: list[Component] = []
    for part in order:
        sequence.append(Component(part.value))
        if part is RepaymentComponent.INTEREST:
            sequence.append(Component.VAT)
    return tuple(sequence)


def allocate(payment: Decimal, dues: Sequence[Due], order: Sequence[RepaymentComponent]) -> Allocation:
    """Apply ``payment`` to ``dues``: instalments by due date (then number), components in
    ``order`` inside each instalment. What is left after every due is the overpayment."""
    assert payment.is_finite() and payment > 0, payment
    rank = {component: index for index, component in enumerate(component_sequence(order))}
    ordered = sorted((due for due in dues if due.amount > 0),
                     key=lambda due: (due.due_date, due.instalment, rank[due.component]))
    left = payment
    lines: list[AllocationLine] = []
    for due in ordered:
        if left == 0:
            break
        applied = min(left, due.amount)
        lines.append(AllocationLine(instalment=due.instalment, component=due.component, amount=applied))
        left -= applied
    allocation = Allocation(lines=tuple(lines), overpayment=left)
    assert allocation.allocated + allocation.overpayment == payment
    return allocation
