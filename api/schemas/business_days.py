"""Wire shapes of the close of business."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from api.schemas.common import Id
from servicing.close_of_business.model import ClosedDay, CloseRun


class CloseDayIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    business_date: date
    """Close this business day, and first every missed day since the last closed one."""
    office_id: Id | None = None
    """Close it for this office and its branches only (its own calendar); absent: the institution."""


class StepOut(msgspec.Struct, kw_only=True):
    step: str
    label: str
    position: int
    items: int
    """Accounts or loans processed."""
    entries: int
    """Journal entries posted."""
    detail: dict[str, str]
    started_at: datetime
    finished_at: datetime
    seconds: float
    resumed: bool
    """Done by an earlier, interrupted run: not run again."""


class ClosedDayOut(msgspec.Struct, kw_only=True):
    business_date: date
    offices: list[int]
    """The offices the day was closed for."""
    started_at: datetime
    closed_at: datetime
    actor: str
    steps: list[StepOut]

    @classmethod
    def from_day(cls, day: ClosedDay) -> ClosedDayOut:
        return cls(business_date=day.business_date, offices=list(day.offices), started_at=day.started_at, closed_at=day.closed_at,
                   actor=day.actor, steps=[StepOut(
                       step=s.step, label=s.label, position=s.position, items=s.items, entries=s.entries,
                       detail=s.detail, started_at=s.started_at, finished_at=s.finished_at,
                       seconds=round(s.seconds, 3), resumed=s.resumed) for s in day.steps])


class CloseRunOut(msgspec.Struct, kw_only=True):
    through: date
    office_id: int | None
    """The office closed with its branches; null: the institution."""
    last_closed_before: date | None
    days: list[ClosedDayOut]
    """Empty when the day was already closed: nothing was posted."""

    @classmethod
    def from_run(cls, run: CloseRun) -> CloseRunOut:
        return cls(through=run.through, office_id=run.office_id, last_closed_before=run.last_closed_before,
                   days=[ClosedDayOut.from_day(day) for day in run.days])


Limit = Annotated[int, msgspec.Meta(ge=1, le=366)]
