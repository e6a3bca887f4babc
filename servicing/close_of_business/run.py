"""Closing business days: every day after the last closed one through the requested day, in
order, each through the fixed list of steps (`steps.STEPS`).

A step is recorded (`business_day_step`) only after it has finished and its postings have
committed; the day is recorded (`business_day`) once all its steps are. A run that dies
halfway therefore leaves the finished steps recorded, and the next run resumes at the first
unrecorded step; a step cut off in its middle runs again, which posts only what is missing
because every step is idempotent. One run at a time: a second one is refused (409) while the
first holds the institution's close-of-business lock (a PostgreSQL advisory lock, released
even if the process dies)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import msgspec
from sqlalchemy import text

from servicing.close_of_business.model import ClosedDay, CloseRun, StepOutcome, StepRecord
from servicing.close_of_business.steps import STEPS, Step
from servicing.errors import Conflict, InvalidInput
from servicing.unit_of_work import UnitOfWorkFactory

CATCH_UP_DAYS_MAX: Final = 366
"""A run closes at most a year of missed days; more is surely a wrong date."""

_LOCK_KEY: Final = 0x67_6C_63_6F_62  # "glcob": the institution's close-of-business advisory lock

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


async def last_closed_day(uow_factory: UnitOfWorkFactory) -> date | None:
    async with uow_factory() as uow:
        last: date | None = await uow.session.scalar(text("SELECT max(business_date) FROM business_day"))
        return last


def days_to_close(last_closed: date | None, through: date) -> list[date]:
    """The first run closes only the day asked; later runs every day after the last closed."""
    if last_closed is None:
        return [through]
    return [last_closed + timedelta(days=n) for n in range(1, (through - last_closed).days + 1)]


async def close_business_days(
    uow_factory: UnitOfWorkFactory, through: date, actor: str, *, today: date,
    progress: Progress = _quiet, steps: Sequence[Step] = STEPS,
) -> CloseRun:
    """Close every business day not yet closed through `through` (at most `today`)."""
    if through > today:
        raise InvalidInput(f"business day {through} has not begun; the latest day that can be closed is {today}",
                           field="business_date")
    async with uow_factory.engine.connect() as lock_connection:
        locked = await lock_connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY})
        await lock_connection.commit()  # the lock belongs to the session: no transaction left open
        if not locked:
            raise Conflict("a close of business is already running; wait for it to finish", field="business_date")
        try:
            last_closed = await last_closed_day(uow_factory)
            days = days_to_close(last_closed, through)
            if len(days) > CATCH_UP_DAYS_MAX:
                raise InvalidInput(f"{len(days)} days would be closed (after {last_closed}); close at most "
                                   f"{CATCH_UP_DAYS_MAX} days in one run", field="business_date")
            if not days:
                progress(f"business day {through} is already closed (last closed: {last_closed})")
            closed = [await _close_day(uow_factory, day, actor, steps, progress) for day in days]
        finally:
            await lock_connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
            await lock_connection.commit()
    return CloseRun(through=through, last_closed_before=last_closed, days=tuple(closed))


async def _close_day(uow_factory: UnitOfWorkFactory, day: date, actor: str, steps: Sequence[Step],
                     progress: Progress) -> ClosedDay:
    done = await _recorded_steps(uow_factory, day)
    started_at = min((record.started_at for record in done.values()), default=datetime.now(UTC))
    records: list[StepRecord] = []
    for position, step in enumerate(steps, start=1):
        if step.name in done:
            record = msgspec.structs.replace(done[step.name], resumed=True)
            progress(f"{day} {position}/{len(steps)} {step.label}: already done")
        else:
            progress(f"{day} {position}/{len(steps)} {step.label}...")
            record = await _run_step(uow_factory, day, actor, step, position)
            progress(f"{day} {position}/{len(steps)} {step.label}: {record.items} processed, "
                     f"{record.entries} entries in {record.seconds:.2f} s")
        records.append(record)
    async with uow_factory() as uow:
        closed_at = await uow.session.scalar(text(
            "INSERT INTO business_day (business_date, steps, started_at, actor) VALUES (:day, :steps, :started, :actor)"
            " RETURNING closed_at"), {"day": day, "steps": len(steps), "started": started_at, "actor": actor})
        await uow.commit()
    return ClosedDay(business_date=day, steps=tuple(records), started_at=started_at, closed_at=closed_at, actor=actor)


async def _run_step(uow_factory: UnitOfWorkFactory, day: date, actor: str, step: Step, position: int) -> StepRecord:
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    outcome: StepOutcome = await step.run(uow_factory, day, actor)
    finished_at = started_at + timedelta(seconds=time.perf_counter() - clock)
    async with uow_factory() as uow:
        await uow.session.execute(text(
            "INSERT INTO business_day_step (business_date, step, position, items, entries, detail, started_at,"
            " finished_at, actor) VALUES (:day, :step, :position, :items, :entries, CAST(:detail AS jsonb), :started,"
            " :finished, :actor)"),
            {"day": day, "step": step.name, "position": position, "items": outcome.items, "entries": outcome.entries,
             "detail": msgspec.json.encode(outcome.detail).decode(), "started": started_at, "finished": finished_at,
             "actor": actor})
        await uow.commit()
    return StepRecord(step=step.name, label=step.label, position=position, items=outcome.items,
                      entries=outcome.entries, detail=outcome.detail, started_at=started_at, finished_at=finished_at)


_LABELS: Final = {step.name: step.label for step in STEPS}


def _record(row: Any) -> StepRecord:
    return StepRecord(step=row.step, label=_LABELS.get(row.step, row.step), position=row.position, items=row.items,
                      entries=row.entries, detail=dict(row.detail), started_at=row.started_at,
                      finished_at=row.finished_at)


async def _recorded_steps(uow_factory: UnitOfWorkFactory, day: date) -> dict[str, StepRecord]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT step, position, items, entries, detail, started_at, finished_at FROM business_day_step"
            " WHERE business_date = :day ORDER BY position"), {"day": day})).all()
    return {row.step: _record(row) for row in rows}


async def closed_days(uow_factory: UnitOfWorkFactory, *, before: date | None = None, limit: int = 31) -> list[ClosedDay]:
    """The latest closed days (newest first), with what each step did."""
    async with uow_factory() as uow:
        days = (await uow.session.execute(text(
            "SELECT business_date, started_at, closed_at, actor FROM business_day"
            " WHERE CAST(:before AS date) IS NULL OR business_date < :before"
            " ORDER BY business_date DESC LIMIT :limit"), {"before": before, "limit": limit})).all()
        if not days:
            return []
        rows = (await uow.session.execute(text(
            "SELECT business_date, step, position, items, entries, detail, started_at, finished_at"
            " FROM business_day_step WHERE business_date = ANY(:days) ORDER BY business_date, position"),
            {"days": [d.business_date for d in days]})).all()
    per_day: dict[date, list[StepRecord]] = {}
    for row in rows:
        per_day.setdefault(row.business_date, []).append(_record(row))
    return [ClosedDay(business_date=d.business_date, steps=tuple(per_day.get(d.business_date, ())),
                      started_at=d.started_at, closed_at=d.closed_at, actor=d.actor) for d in days]
