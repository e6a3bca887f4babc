"""Holidays and working weeks per office, and the office's next or previous working day.

An office works the weekdays of its own working week, else of its nearest ancestor that has
one, else of the institution's default week, else Monday to Friday. Its holidays are the
active holidays of all offices plus those that name it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

import msgspec
from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.db.tables import OfficeRow
from products.loans.limits import HOLIDAY_SHIFT_DAYS_MAX
from products.loans.terms import HolidayRule, Weekday
from products.reference.calendar import DEFAULT_WORKING_WEEKDAYS, OfficeCalendar, move_to_working_day
from products.reference.db.tables import HolidayOfficeRow, HolidayRow, WorkingWeekRow
from products.reference.model import HolidayDefinition, WorkingWeek
from products.reference.validation import validate_holiday, validate_working_week
from servicing.errors import InvalidInput, NotFound
from servicing.reference.catalogue import Catalogue, flush
from servicing.unit_of_work import UnitOfWork

_WEEKDAYS: Final = tuple(Weekday)
_WINDOW: Final = timedelta(days=HOLIDAY_SHIFT_DAYS_MAX + 1)


async def _check_holiday(session: AsyncSession, holiday: HolidayDefinition, row_id: int | None) -> None:
    validate_holiday(holiday)
    if holiday.office_ids:
        found = set((await session.scalars(select(OfficeRow.id).where(OfficeRow.id.in_(holiday.office_ids)))).all())
        for index, office_id in enumerate(holiday.office_ids):
            if office_id not in found:
                raise NotFound(f"unknown office {office_id}", field=f"office_ids[{index}]")


async def _save_offices(session: AsyncSession, holiday_id: int, holiday: HolidayDefinition) -> None:
    await session.execute(delete(HolidayOfficeRow).where(HolidayOfficeRow.holiday_id == holiday_id))
    session.add_all(HolidayOfficeRow(holiday_id=holiday_id, office_id=office_id) for office_id in holiday.office_ids)


async def _load_offices(session: AsyncSession, holiday_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    rows = (await session.execute(select(HolidayOfficeRow.holiday_id, HolidayOfficeRow.office_id)
                                  .where(HolidayOfficeRow.holiday_id.in_(holiday_ids))
                                  .order_by(HolidayOfficeRow.holiday_id, HolidayOfficeRow.office_id))).all()
    offices: dict[int, list[int]] = {}
    for holiday_id, office_id in rows:
        offices.setdefault(holiday_id, []).append(office_id)
    return {holiday_id: {"office_ids": tuple(ids)} for holiday_id, ids in offices.items()}


HOLIDAYS: Final = Catalogue(
    noun="holiday", row_type=HolidayRow, definition=HolidayDefinition, check=_check_holiday,
    save_children=_save_offices, load_children=_load_offices)


def holidays_of_office(office_id: int) -> list[Any]:
    """Filters for `catalogue.list_all`: the holidays of all offices and those naming this one."""
    return [or_(HolidayRow.all_offices.is_(True),
                HolidayRow.id.in_(select(HolidayOfficeRow.holiday_id).where(HolidayOfficeRow.office_id == office_id)))]


class StoredWorkingWeek(msgspec.Struct, frozen=True, kw_only=True):
    week: WorkingWeek
    version: int
    updated_at: datetime
    updated_by: str


def _week(row: WorkingWeekRow) -> StoredWorkingWeek:
    return StoredWorkingWeek(
        week=WorkingWeek(office_id=row.office_id, working_weekdays=tuple(_WEEKDAYS[day - 1] for day in
                                                                            sorted(row.working_weekdays))),
        version=row.version, updated_at=row.updated_at, updated_by=row.updated_by)


async def set_working_week(uow: UnitOfWork, week: WorkingWeek, actor: str) -> StoredWorkingWeek:
    """Set an office's week (or the default week when office_id is None), replacing the old one."""
    validate_working_week(week)
    iso_days = sorted(day.iso_number for day in week.working_weekdays)
    async with uow:
        session = uow.session
        if week.office_id is not None and await session.get(OfficeRow, week.office_id) is None:
            raise NotFound(f"unknown office {week.office_id}", field="office_id")
        owner = (WorkingWeekRow.office_id.is_(None) if week.office_id is None
                 else WorkingWeekRow.office_id == week.office_id)
        row = await session.scalar(select(WorkingWeekRow).where(owner).with_for_update())
        if row is None:
            row = WorkingWeekRow(office_id=week.office_id, working_weekdays=iso_days, created_by=actor,
                                 updated_by=actor)
            session.add(row)
        else:
            row.working_weekdays = iso_days
            row.version = row.version + 1
            row.updated_by = actor
            row.updated_at = func.now()
        await flush(session)
        await session.refresh(row)
        stored = _week(row)
        await uow.commit()
    return stored


async def list_working_weeks(uow: UnitOfWork) -> list[StoredWorkingWeek]:
    async with uow:
        rows = (await uow.session.scalars(select(WorkingWeekRow).order_by(WorkingWeekRow.id))).all()
        return [_week(row) for row in rows]


async def office_calendar(session: AsyncSession, office_id: int, first: date, last: date) -> OfficeCalendar:
    """The office's working weekdays and its holidays between `first` and `last`."""
    office = await session.get(OfficeRow, office_id)
    if office is None:
        raise NotFound(f"unknown office {office_id}", field="office_id")
    lineage = list(office.lineage) or [office_id]
    weeks = {row.office_id: row for row in (await session.scalars(select(WorkingWeekRow).where(
        or_(WorkingWeekRow.office_id.in_(lineage), WorkingWeekRow.office_id.is_(None))))).all()}
    chosen = next((weeks[ancestor] for ancestor in lineage if ancestor in weeks), weeks.get(None))
    weekdays = (DEFAULT_WORKING_WEEKDAYS if chosen is None
                else tuple(_WEEKDAYS[day - 1] for day in chosen.working_weekdays))
    ranges = (await session.execute(select(HolidayRow.from_date, HolidayRow.to_date).where(
        HolidayRow.active.is_(True), HolidayRow.from_date <= last, HolidayRow.to_date >= first,
        *holidays_of_office(office_id)))).all()
    return OfficeCalendar.build(weekdays, [(max(start, first), min(end, last)) for start, end in ranges])


class WorkingDayAnswer(msgspec.Struct, frozen=True, kw_only=True):
    office_id: int
    requested: date
    working_day: date
    is_working_day: bool
    """Whether the requested date itself is a working day of the office."""


async def working_day(uow: UnitOfWork, office_id: int, on: date, rule: HolidayRule) -> WorkingDayAnswer:
    """Where a date lands for this office under `rule` (next, previous or same day)."""
    async with uow:
        calendar = await office_calendar(uow.session, office_id, on - _WINDOW, on + _WINDOW)
    return WorkingDayAnswer(office_id=office_id, requested=on, working_day=move_to_working_day(calendar, on, rule),
                            is_working_day=calendar.is_working_day(on))


CALENDAR_DAYS_MAX: Final = 366


async def calendar_between(uow: UnitOfWork, office_id: int, first: date, last: date) -> OfficeCalendar:
    """The office's working weekdays and holidays from `first` to `last` (at most a year)."""
    if last < first:
        raise InvalidInput("must not be before from", field="to")
    if (last - first).days >= CALENDAR_DAYS_MAX:
        raise InvalidInput(f"a calendar spans at most {CALENDAR_DAYS_MAX} days", field="to")
    async with uow:
        return await office_calendar(uow.session, office_id, first, last)
