"""Allocation of a repayment across instalments and components, in the product's order.

A loan in good standing pays its instalments oldest first and, inside each instalment, the
components in the product's healthy order (seed 002 "ordre de remboursement sain", by default
penalties, fees, interest, principal); a doubtful loan uses the doubtful order (by default
principal first, to shrink the exposure). A product with the vertical scope pays what is due
by the payment date component by component across instalments first. VAT on interest and fees is paid together with the
interest it is levied on: it comes right after interest in either order, so the State's share
is never collected before the income it is a tax on, nor left behind it.

`plan_repayment` is the one planner every repayment goes through (at the counter, from a
deposit account, by automatic collection, and when later repayments are taken again after a
reversal): the product's order for the loan's standing, the split, the posting parts and what
is left due. The dues it allocates come from the caller, who knows the loan's schedule as it
stands (recalculated for products with interest recalculation).

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

from products.events import EventPart
from products.loans.product import AllocationScope, LoanProduct, RepaymentComponent
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
    key = tuple(order)
    known = _SEQUENCES.get(key)
    if known is not None:
        return known
    assert len(set(order)) == len(order) == len(RepaymentComponent), order
    sequence: list[Component] = []
    for part in order:
        sequence.append(Component(part.value))
        if part is RepaymentComponent.INTEREST:
            sequence.append(Component.VAT)
    _SEQUENCES[key] = tuple(sequence)
    return _SEQUENCES[key]


_SEQUENCES: dict[tuple[RepaymentComponent, ...], tuple[Component, ...]] = {}
"""Orders seen so far (a handful: the products' healthy and doubtful orders)."""
_RANKS: dict[tuple[Component, ...], dict[Component, int]] = {}


def allocate(payment: Decimal, dues: Sequence[Due], order: Sequence[RepaymentComponent], *,
             vertical_until: date | None = None) -> Allocation:
    """Apply ``payment`` to ``dues``: instalments by due date (then number), components in
    ``order`` inside each instalment. With ``vertical_until``, the dues falling due by that
    date go first, component by component in ``order`` (oldest first within a component), and
    the later ones follow instalment by instalment. What is left is the overpayment."""
    assert payment.is_finite() and payment > 0, payment
    sequence = component_sequence(order)
    rank = _RANKS.get(sequence)
    if rank is None:
        rank = _RANKS[sequence] = {component: index for index, component in enumerate(sequence)}

    def key(due: Due) -> tuple[int, int, date, int, int]:
        if vertical_until is not None and due.due_date <= vertical_until:
            return (0, rank[due.component], due.due_date, due.instalment, 0)
        return (1, 0, due.due_date, due.instalment, rank[due.component])

    ordered = sorted((due for due in dues if due.amount > 0), key=key)
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


class RepaymentPlan(msgspec.Struct, frozen=True, kw_only=True):
    """How one repayment is split on a loan."""

    allocation: Allocation
    doubtful: bool
    """The doubtful order applied (the transaction is classified doubtful)."""
    parts: tuple[EventPart, ...]
    """The event's parts, as the posting rules take them (overpayment last)."""
    left: tuple[Due, ...]
    """What the dues allocated on still ask once this repayment is applied."""
    splits_instalment: bool
    """The repayment leaves part of an instalment unpaid on a product that takes whole
    instalments only (the caller refuses it)."""


def plan_repayment(product: LoanProduct, amount: Decimal, dues: Sequence[Due], *, doubtful: bool,
                   on: date | None = None) -> RepaymentPlan:
    """Allocate ``amount`` on ``dues`` (what the loan still owes, as its schedule stands on the
    payment date ``on``), oldest instalment first, in the product's doubtful order when
    ``doubtful`` (the loan's standing) and its healthy order otherwise; a product with the
    vertical scope pays what is due by ``on`` component by component first."""
    order = product.allocation_order_doubtful if doubtful else product.allocation_order_healthy
    vertical = on if product.allocation_scope is AllocationScope.VERTICAL else None
    allocation = allocate(amount, dues, order, vertical_until=vertical)
    paid: dict[tuple[int, Component], Decimal] = {}
    for line in allocation.lines:
        key = (line.instalment, line.component)
        paid[key] = paid.get(key, Decimal(0)) + line.amount
    left: list[Due] = []
    for due in dues:
        remaining = due.amount - paid.pop((due.instalment, due.component), Decimal(0))
        if remaining > 0:
            left.append(due if remaining == due.amount else msgspec.structs.replace(due, amount=remaining))
    assert not paid, paid  # allocate only pays what the dues ask
    last = allocation.lines[-1].instalment if allocation.lines else None
    splits = (not product.partial_instalment_payment_allowed and last is not None
              and any(due.instalment == last for due in left))
    totals: dict[Component, Decimal] = {}
    for line in allocation.lines:
        totals[line.component] = totals.get(line.component, Decimal(0)) + line.amount
    parts = [EventPart(component=c, amount=totals[c]) for c in ALLOCABLE if totals.get(c, 0) > 0]
    if allocation.overpayment > 0:
        parts.append(EventPart(component=Component.OVERPAYMENT, amount=allocation.overpayment))
    return RepaymentPlan(allocation=allocation, doubtful=doubtful, parts=tuple(parts), left=tuple(left),
                         splits_instalment=splits)
