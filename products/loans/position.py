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


def scheduled_dues(schedule: Schedule, charged: Iterable[AllocationLine] = ()) -> list[Due]:
    """What each instalment asks for, component by component: the schedule's amounts plus the
    charges added to the loan since (a one-off fee, later a penalty), each on its instalment."""
    amounts: dict[tuple[int, Component], Decimal] = {}
    for row in schedule.instalments:
        for component, amount in ((Component.PRINCIPAL, row.principal_amount), (Component.INTEREST, row.interest_amount),
                                  (Component.FEE, row.fee_amount), (Component.VAT, row.vat_amount)):
            if amount > 0:
                amounts[(row.number, component)] = amount
    for line in charged:
        key = (line.instalment, line.component)
        amounts[key] = amounts.get(key, _ZERO) + line.amount
    due_dates = {row.number: row.due_date for row in schedule.instalments}
    # Components are StrEnums: the keys sort by instalment, then by the component's value.
    return [Due(instalment=number, due_date=due_dates[number], component=component, amount=amount)
            for (number, component), amount in sorted(amounts.items(), key=_instalment_then_component)]


def _instalment_then_component(item: tuple[tuple[int, Component], Decimal]) -> tuple[int, Component]:
    return item[0]


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
        left = due.amount - totals.get((due.instalment, due.component), _ZERO)
        assert left >= 0, (due, left)
        if left > 0:
            remaining.append(msgspec.structs.replace(due, amount=left))
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
