"""Closing business days: every day after the last closed one through the requested day, in
order, each through the fixed list of steps (`steps.STEPS`), for the institution or for one
office and its branches. Business days are recorded per office: an institution close records
every office; an office closing alone records itself and its branches, and its steps process
only their accounts and loans.

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
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWorkFactory

CATCH_UP_DAYS_MAX: Final = 366
"""A run closes at most a year of missed days; more is surely a wrong date."""

_LOCK_KEY: Final = 0x67_6C_63_6F_62  # "glcob": the institution's close-of-business advisory lock

Progress = Callable[[str], None]


def _quiet(_message: str) -> None:
    return None


class _Scope(msgspec.Struct, frozen=True, kw_only=True):
    """What a run closes: an office and its branches, or the institution (every office)."""

    office: OfficeScope | None
    """None for the institution: steps then run over everything."""
    offices: tuple[int, ...]


async def _scope(uow_factory: UnitOfWorkFactory, office_id: int | None) -> _Scope:
    async with uow_factory() as uow:
        if office_id is None:
            ids = (await uow.session.scalars(text("SELECT id FROM office ORDER BY id"))).all()
            return _Scope(office=None, offices=tuple(ids))
        ids = (await uow.session.scalars(text(
            "SELECT id FROM office WHERE CAST(:office AS int) = ANY(lineage) ORDER BY id"), {"office": office_id})).all()
    if not ids:
        raise InvalidInput(f"office {office_id} does not exist", field="office_id")
    return _Scope(office=OfficeScope(office_id=office_id, office_ids=frozenset(ids)), offices=tuple(ids))


async def last_closed_day(uow_factory: UnitOfWorkFactory, office_id: int | None = None) -> date | None:
    """The latest day closed by an office of the scope (the office and its branches; None: any office)."""
    async with uow_factory() as uow:
        last: date | None = await uow.session.scalar(text(
            "SELECT max(business_date) FROM business_day WHERE CAST(:office AS int) IS NULL"
            " OR office_id IN (SELECT id FROM office WHERE CAST(:office AS int) = ANY(lineage))"),
            {"office": office_id})
        return last


def days_to_close(last_closed: date | None, through: date) -> list[date]:
    """The first run closes only the day asked; later runs every day after the last closed."""
    if last_closed is None:
        return [through]
    return [last_closed + timedelta(days=n) for n in range(1, (through - last_closed).days + 1)]


def _not_by_office(steps: Sequence[Step]) -> list[str]:
    return [step.name for step in steps if not step.by_office]


async def close_business_days(
    uow_factory: UnitOfWorkFactory, through: date, actor: str, *, today: date, office_id: int | None = None,
    progress: Progress = _quiet, steps: Sequence[Step] = STEPS,
) -> CloseRun:
    """Close every business day not yet closed through `through` (at most `today`), for the
    institution (every office) or for one office and its branches (`office_id`).

    Each office keeps its own calendar: the days after its last closed one are closed for it, in
    order (a new office starts at `through`). A day some offices of the scope had already closed
    runs its steps over exactly the offices that still need it (`Step.run` with the scope) and is
    recorded for them only: an office closed ahead is not touched by the others' catch-up (run
    over it, an accrual of an earlier day would take back and re-post its later accruals, and
    the ageing would take its arrears back to that day)."""
    if through > today:
        raise InvalidInput(f"business day {through} has not begun; the latest day that can be closed is {today}",
                           field="business_date")
    scope = await _scope(uow_factory, office_id)
    if scope.office is not None and (refused := _not_by_office(steps)):
        raise InvalidInput(f"the steps {', '.join(refused)} cannot yet close one office alone: close the institution",
                           field="office_id")
    async with uow_factory.engine.connect() as lock_connection:
        locked = await lock_connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": _LOCK_KEY})
        await lock_connection.commit()  # the lock belongs to the session: no transaction left open
        if not locked:
            raise Conflict("a close of business is already running; wait for it to finish", field="business_date")
        try:
            last_closed = await _last_closed_per_office(uow_factory, scope.offices)
            due = {office: days_to_close(last_closed.get(office), through) for office in scope.offices}
            days = sorted({day for office_days in due.values() for day in office_days})
            if len(days) > CATCH_UP_DAYS_MAX:
                raise InvalidInput(f"{len(days)} days would be closed (after {days[0] - timedelta(days=1)}); close "
                                   f"at most {CATCH_UP_DAYS_MAX} days in one run", field="business_date")
            if not days:
                progress(f"business day {through} is already closed (last closed: {max(last_closed.values(), default=None)})")
            closed = []
            for day in days:
                offices = tuple(office for office in scope.offices if day in due[office])
                closed.append(await _close_day(uow_factory, day, actor, steps, progress, scope, offices))
        finally:
            await lock_connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
            await lock_connection.commit()
    before = None if not last_closed or len(last_closed) < len(scope.offices) else min(last_closed.values())
    return CloseRun(through=through, last_closed_before=before, office_id=office_id, days=tuple(closed))


async def _last_closed_per_office(uow_factory: UnitOfWorkFactory, offices: Sequence[int]) -> dict[int, date]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT office_id, max(business_date) AS last FROM business_day WHERE office_id = ANY(:offices)"
            " GROUP BY office_id"), {"offices": list(offices)})).all()
    return {row.office_id: row.last for row in rows}


async def _close_day(uow_factory: UnitOfWorkFactory, day: date, actor: str, steps: Sequence[Step],
                     progress: Progress, scope: _Scope, offices: tuple[int, ...]) -> ClosedDay:
    done = await _recorded_steps(uow_factory, day, offices)
    started_at = min((record.started_at for record in done.values()), default=datetime.now(UTC))
    records: list[StepRecord] = []
    for position, step in enumerate(steps, start=1):
        if step.name in done:
            record = msgspec.structs.replace(done[step.name], resumed=True)
            progress(f"{day} {position}/{len(steps)} {step.label}: already done")
        else:
            progress(f"{day} {position}/{len(steps)} {step.label}...")
            record = await _run_step(uow_factory, day, actor, step, position, scope, offices)
            progress(f"{day} {position}/{len(steps)} {step.label}: {record.items} processed, "
                     f"{record.entries} entries in {record.seconds:.2f} s")
        records.append(record)
    async with uow_factory() as uow:
        closed_at = await uow.session.scalar(text(
            "INSERT INTO business_day (office_id, business_date, steps, started_at, actor)"
            " SELECT office, :day, :steps, :started, :actor FROM unnest(CAST(:offices AS int[])) AS office"
            " RETURNING closed_at"),
            {"day": day, "steps": len(steps), "started": started_at, "actor": actor, "offices": list(offices)})
        await uow.commit()
    return ClosedDay(business_date=day, offices=offices, steps=tuple(records), started_at=started_at,
                     closed_at=closed_at, actor=actor)


def _exact_offices(scope: _Scope, offices: tuple[int, ...]) -> OfficeScope | None:
    """What a step runs over for a day: None for every office of the institution (an
    institution close where every office needs the day), else exactly the offices that need it
    (an office and its branches closing alone, or the offices catching up a day others closed)."""
    if scope.office is None and set(offices) == set(scope.offices):
        return None
    return OfficeScope(office_id=scope.office.office_id if scope.office is not None else offices[0],
                       office_ids=frozenset(offices))


async def _run_step(uow_factory: UnitOfWorkFactory, day: date, actor: str, step: Step, position: int,
                    office: _Scope, offices: tuple[int, ...]) -> StepRecord:
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    exact = _exact_offices(office, offices)
    # Every office for a step that cannot run over some only (idempotent anyway).
    outcome: StepOutcome = await step.run(uow_factory, day, actor, exact if step.by_office else None)
    finished_at = started_at + timedelta(seconds=time.perf_counter() - clock)
    async with uow_factory() as uow:
        await uow.session.execute(text(
            "INSERT INTO business_day_step (office_id, business_date, step, position, items, entries, detail,"
            " started_at, finished_at, actor) SELECT office, :day, :step, :position, :items, :entries,"
            " CAST(:detail AS jsonb), :started, :finished, :actor FROM unnest(CAST(:offices AS int[])) AS office"),
            {"day": day, "step": step.name, "position": position, "items": outcome.items, "entries": outcome.entries,
             "detail": msgspec.json.encode(outcome.detail).decode(), "started": started_at, "finished": finished_at,
             "actor": actor, "offices": list(offices)})
        await uow.commit()
    return StepRecord(step=step.name, label=step.label, position=position, items=outcome.items,
                      entries=outcome.entries, detail=outcome.detail, started_at=started_at, finished_at=finished_at)


_LABELS: Final = {step.name: step.label for step in STEPS}


def _record(row: Any) -> StepRecord:
    return StepRecord(step=row.step, label=_LABELS.get(row.step, row.step), position=row.position, items=row.items,
                      entries=row.entries, detail=dict(row.detail), started_at=row.started_at,
                      finished_at=row.finished_at)


async def _recorded_steps(uow_factory: UnitOfWorkFactory, day: date, offices: tuple[int, ...]) -> dict[str, StepRecord]:
    """The steps of the day every one of these offices has recorded (a step some of them lack
    runs again: it posts only what is missing)."""
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT DISTINCT ON (step) step, position, items, entries, detail, started_at, finished_at"
            "  FROM business_day_step WHERE business_date = :day AND office_id = ANY(:offices)"
            " AND step IN (SELECT step FROM business_day_step WHERE business_date = :day"
            "               AND office_id = ANY(:offices) GROUP BY step HAVING count(*) = :count)"
            " ORDER BY step, office_id"), {"day": day, "offices": list(offices), "count": len(offices)})).all()
    return {row.step: _record(row) for row in rows}


async def closed_days(uow_factory: UnitOfWorkFactory, *, before: date | None = None, limit: int = 31,
                      office_id: int | None = None) -> list[ClosedDay]:
    """The latest closed days (newest first), with the offices that closed each and what each
    step did (as recorded for the first of those offices; `office_id` narrows to one office)."""
    async with uow_factory() as uow:
        days = (await uow.session.execute(text(
            "SELECT business_date, array_agg(office_id ORDER BY office_id) AS offices, min(started_at) AS started_at,"
            "       max(closed_at) AS closed_at, min(actor) AS actor"
            "  FROM business_day WHERE (CAST(:before AS date) IS NULL OR business_date < :before)"
            "   AND (CAST(:office AS int) IS NULL OR office_id = :office)"
            " GROUP BY business_date ORDER BY business_date DESC LIMIT :limit"),
            {"before": before, "limit": limit, "office": office_id})).all()
        if not days:
            return []
        rows = (await uow.session.execute(text(
            "SELECT DISTINCT ON (business_date, step) business_date, step, position, items, entries, detail,"
            "       started_at, finished_at"
            "  FROM business_day_step WHERE business_date = ANY(:days)"
            "   AND (CAST(:office AS int) IS NULL OR office_id = :office)"
            " ORDER BY business_date, step, office_id"),
            {"days": [d.business_date for d in days], "office": office_id})).all()
    per_day: dict[date, list[StepRecord]] = {}
    for row in sorted(rows, key=lambda r: (r.business_date, r.position)):
        per_day.setdefault(row.business_date, []).append(_record(row))
    return [ClosedDay(business_date=d.business_date, offices=tuple(d.offices),
                      steps=tuple(per_day.get(d.business_date, ())), started_at=d.started_at,
                      closed_at=d.closed_at, actor=d.actor) for d in days]
