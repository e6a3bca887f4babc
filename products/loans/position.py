"""A loan's live position, derived from its schedule and the allocations of its repayments.

Nothing here is a counter: what is expected comes from the schedule the loan was disbursed
with, what is paid is the sum of the allocation lines its repayment transactions recorded,
and outstanding and overdue are the difference, per component and per instalment. The same
function answers for any date, so a position "as of" last month is the same computation.
Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from products.loans.allocation import ALLOCABLE, AllocationLine, Due
from products.loans.model import Schedule
from products.posting_rules import Component

_ZERO = Decimal(0)


class ComponentPosition(msgspec.Struct, frozen=True, kw_only=True):
    component: Component
    expected: Decimal
    paid: Decimal
    waived: Decimal
    outstanding: Decimal
    overdue: Decimal


class InstalmentPosition(msgspec.Struct, frozen=True, kw_only=True):
    number: int
    due_date: date
    expected: Decimal
    paid: Decimal
    outstanding: Decimal


class LoanPosition(msgspec.Struct, frozen=True, kw_only=True):
    as_of: date
    components: tuple[ComponentPosition, ...]
    outstanding: Decimal
    overdue: Decimal
    days_overdue: int
    next_instalment: InstalmentPosition | None
    instalments: tuple[InstalmentPosition, ...]

    def component(self, component: Component) -> ComponentPosition:
        return next(c for c in self.components if c.component is component)


_SCHEDULED: Final = tuple(sorted((Component.PRINCIPAL, Component.INTEREST, Component.FEE, Component.VAT),
                                  key=lambda component: component.value))
"""The components a schedule row asks for, in the order dues list them (by name)."""
_NAME: Final = {component: component.value for component in Component}


def scheduled_dues(schedule: Schedule, charged: Iterable[AllocationLine] = ()) -> list[Due]:
    """What each instalment asks for, component by component: the schedule's amounts plus the
    charges added to the loan since (a one-off fee, later a penalty), each on its instalment.
    Listed by instalment number, then component name."""
    extra: dict[tuple[int, Component], Decimal] = {}
    for line in charged:
        key = (line.instalment, line.component)
        extra[key] = extra.get(key, _ZERO) + line.amount
    rows = schedule.instalments
    if any(rows[n].number >= rows[n + 1].number for n in range(len(rows) - 1)):
        rows = tuple(sorted(rows, key=lambda row: row.number))
    numbers = {row.number for row in rows}
    assert all(number in numbers for number, _component in extra), extra
    dues: list[Due] = []
    for row in rows:
        number = row.number
        amounts = {Component.FEE: row.fee_amount, Component.INTEREST: row.interest_amount,
                   Component.PRINCIPAL: row.principal_amount, Component.VAT: row.vat_amount}
        components: Iterable[Component] = _SCHEDULED
        if extra:
            charged_here = [component for (n, component) in extra if n == number]
            if charged_here:
                components = sorted({*_SCHEDULED, *charged_here}, key=_NAME.__getitem__)
        for component in components:
            amount = amounts.get(component, _ZERO)
            added = extra.get((number, component)) if extra else None
            if added is not None:
                amount = amount + added if amount > 0 else added
            elif amount <= 0:
                continue
            dues.append(Due(instalment=number, due_date=row.due_date, component=component, amount=amount))
    return dues


def _paid_by_key(paid: Iterable[AllocationLine]) -> dict[tuple[int, Component], Decimal]:
    totals: dict[tuple[int, Component], Decimal] = {}
    for line in paid:
        key = (line.instalment, line.component)
        totals[key] = totals.get(key, _ZERO) + line.amount
    return totals


def _left(dues: list[Due], settled: Iterable[AllocationLine]) -> list[Due]:
    totals = _paid_by_key(settled)
    remaining: list[Due] = []
    for due in dues:
        paid = totals.get((due.instalment, due.component))
        if paid is None:
            if due.amount > 0:
                remaining.append(due)
            continue
        left = due.amount - paid
        assert left >= 0, (due, left)
        if left > 0:
            remaining.append(Due(instalment=due.instalment, due_date=due.due_date, component=due.component,
                                 amount=left))
    return remaining


def remaining_dues(schedule: Schedule, settled: Iterable[AllocationLine],
                   charged: Iterable[AllocationLine] = ()) -> list[Due]:
    """Dues (schedule and charges) less what repayments paid and waivers forgave."""
    return _left(scheduled_dues(schedule, charged), settled)


def loan_position(schedule: Schedule, paid: Iterable[AllocationLine], as_of: date, *,
                  charged: Iterable[AllocationLine] = (), waived: Iterable[AllocationLine] = ()) -> LoanPosition:
    """Expected, paid, waived, outstanding and overdue (due before ``as_of`` and unpaid) per
    component; days overdue from the oldest unpaid instalment; the next instalment not yet due.
    One pass over the dues and one over what is left (the close of business ages every loan
    with it)."""
    paid_lines = tuple(paid)
    waived_lines = tuple(waived)
    dues = scheduled_dues(schedule, charged)
    left = _left(dues, (*paid_lines, *waived_lines))
    expected_by: dict[Component, Decimal] = {}
    expected_by_instalment: dict[int, Decimal] = {}
    for due in dues:
        expected_by[due.component] = expected_by.get(due.component, _ZERO) + due.amount
        expected_by_instalment[due.instalment] = expected_by_instalment.get(due.instalment, _ZERO) + due.amount
    outstanding_by: dict[Component, Decimal] = {}
    overdue_by: dict[Component, Decimal] = {}
    left_by_instalment: dict[int, Decimal] = {}
    for due in left:
        outstanding_by[due.component] = outstanding_by.get(due.component, _ZERO) + due.amount
        if due.due_date < as_of:
            overdue_by[due.component] = overdue_by.get(due.component, _ZERO) + due.amount
        left_by_instalment[due.instalment] = left_by_instalment.get(due.instalment, _ZERO) + due.amount
    forgiven_by: dict[Component, Decimal] = {}
    for line in waived_lines:
        forgiven_by[line.component] = forgiven_by.get(line.component, _ZERO) + line.amount
    components = []
    for component in ALLOCABLE:
        expected = expected_by.get(component, _ZERO)
        forgiven = forgiven_by.get(component, _ZERO)
        outstanding = outstanding_by.get(component, _ZERO)
        components.append(ComponentPosition(component=component, expected=expected,
                                            paid=expected - forgiven - outstanding, waived=forgiven,
                                            outstanding=outstanding, overdue=overdue_by.get(component, _ZERO)))
    instalments = []
    for row in schedule.instalments:
        expected = expected_by_instalment.get(row.number, _ZERO)
        outstanding = left_by_instalment.get(row.number, _ZERO)
        instalments.append(InstalmentPosition(number=row.number, due_date=row.due_date, expected=expected,
                                              paid=expected - outstanding, outstanding=outstanding))
    late = [i for i in instalments if i.outstanding > 0 and i.due_date < as_of]
    upcoming = [i for i in instalments if i.outstanding > 0 and i.due_date >= as_of]
    return LoanPosition(
        as_of=as_of, components=tuple(components),
        outstanding=sum((c.outstanding for c in components), _ZERO),
        overdue=sum((c.overdue for c in components), _ZERO),
        days_overdue=(as_of - late[0].due_date).days if late else 0,
        next_instalment=upcoming[0] if upcoming else None,
        instalments=tuple(instalments),
    )
