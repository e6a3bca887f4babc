"""Accounting closures per office. A closure on an office also closes its branches: the
institution closes its books from the head office down, and an office's books include its
branches'. Closures are undone latest-first, so the closed-through date only moves back
one step at a time."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import msgspec

from ledger.errors import ClosureError, PeriodClosed


class Closure(msgspec.Struct, frozen=True, kw_only=True):
    closure_id: int
    office_id: int
    closing_date: date


def closed_through(closures: Iterable[Closure], office_lineage: tuple[int, ...]) -> date | None:
    """Last closed date that applies to an office whose lineage (self and ancestors) is given."""
    dates = [c.closing_date for c in closures if c.office_id in office_lineage]
    return max(dates, default=None)


def check_open(value_date: date, closed_date: date | None, *, field: str = "value_date") -> None:
    if closed_date is not None and value_date <= closed_date:
        raise PeriodClosed(
            f"the books are closed through {closed_date.isoformat()}; "
            f"value date {value_date.isoformat()} is not open",
            field=field,
        )


def check_new_closure(closing_date: date, office_closures: Iterable[Closure]) -> None:
    """A new closure on an office moves forward in time from that office's latest one."""
    latest = max((c.closing_date for c in office_closures), default=None)
    if latest is not None and closing_date <= latest:
        raise ClosureError(
            f"the office is already closed through {latest.isoformat()}", field="closing_date"
        )


def check_undo(closure: Closure, office_closures: Iterable[Closure]) -> None:
    """Only the office's latest closure may be undone."""
    latest = max(office_closures, key=lambda c: c.closing_date, default=None)
    if latest is None or latest.closure_id != closure.closure_id:
        raise ClosureError("closures are undone latest first", field="closure_id")
