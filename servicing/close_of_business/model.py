"""What a close-of-business run did: per day, per step, what it processed and posted."""

from __future__ import annotations

from datetime import date, datetime

import msgspec


class StepOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What one step did for one day: the accounts or loans it processed, the journal entries it
    posted, and a few figures in words (amounts per currency, held deposits...)."""

    items: int
    entries: int
    detail: dict[str, str] = msgspec.field(default_factory=dict)


class StepRecord(msgspec.Struct, frozen=True, kw_only=True):
    step: str
    label: str
    position: int
    items: int
    entries: int
    detail: dict[str, str]
    started_at: datetime
    finished_at: datetime
    resumed: bool = False
    """True when this run found the step already done (a run interrupted after it) and did not
    run it again."""

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


class ClosedDay(msgspec.Struct, frozen=True, kw_only=True):
    business_date: date
    offices: tuple[int, ...]
    """The offices this day was closed for (recorded per office)."""
    steps: tuple[StepRecord, ...]
    started_at: datetime
    closed_at: datetime
    actor: str


class CloseRun(msgspec.Struct, frozen=True, kw_only=True):
    """A run closes every day from the one after the last closed day through `through`, in
    order. `days` is empty when `through` was already closed (`last_closed` says which)."""

    through: date
    last_closed_before: date | None
    """The day every office of the scope had closed before this run (None if one never had)."""
    office_id: int | None = None
    """The office closed with its branches; None: the institution."""
    days: tuple[ClosedDay, ...]
