"""Accounting closures per office. PostgreSQL's closure trigger waits for postings in flight
and keeps new ones out until the closure commits; the checks here give the clear error."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import msgspec
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.db.tables import AccountingClosureRow, OfficeRow
from ledger.periods import Closure, check_new_closure, check_undo
from servicing.commands import CloseAccountingPeriod, UndoAccountingClosure
from servicing.errors import NotFound, translate_database_error
from servicing.unit_of_work import UnitOfWork


class ClosureRecord(msgspec.Struct, frozen=True, kw_only=True):
    closure: Closure
    comments: str
    created_at: datetime
    created_by: str
    undone_at: datetime | None
    undone_by: str | None


def _record(row: AccountingClosureRow) -> ClosureRecord:
    return ClosureRecord(
        closure=Closure(closure_id=row.id, office_id=row.office_id, closing_date=row.closing_date),
        comments=row.comments, created_at=row.created_at, created_by=row.created_by,
        undone_at=row.undone_at, undone_by=row.undone_by,
    )


async def active_closures(session: AsyncSession, office_ids: Iterable[int]) -> list[Closure]:
    """Closures in force on any of the given offices."""
    rows = await session.scalars(
        select(AccountingClosureRow).where(
            AccountingClosureRow.office_id.in_(sorted(set(office_ids))), AccountingClosureRow.undone_at.is_(None)
        )
    )
    return [_record(row).closure for row in rows]


async def close_period(uow: UnitOfWork, command: CloseAccountingPeriod) -> ClosureRecord:
    async with uow:
        session = uow.session
        if await session.get(OfficeRow, command.office_id) is None:
            raise NotFound(f"unknown office {command.office_id}", field="office_id")
        check_new_closure(command.closing_date, await active_closures(session, [command.office_id]))
        # Only the columns the application role may write: the database stamps the rest.
        statement = insert(AccountingClosureRow).values(
            office_id=command.office_id, closing_date=command.closing_date,
            comments=command.comments, created_by=command.actor,
        ).returning(AccountingClosureRow.id)
        try:
            closure_id = (await session.execute(statement)).scalar_one()
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
        row = await session.get(AccountingClosureRow, closure_id)
        assert row is not None
        record = _record(row)
        await uow.commit()
    return record


async def undo_closure(uow: UnitOfWork, command: UndoAccountingClosure) -> ClosureRecord:
    async with uow:
        session = uow.session
        row = await session.get(AccountingClosureRow, command.closure_id, with_for_update=True)
        if row is None or row.undone_at is not None:
            raise NotFound(f"no closure {command.closure_id} in force", field="closure_id")
        before = _record(row)
        check_undo(before.closure, await active_closures(session, [row.office_id]))
        statement = (
            update(AccountingClosureRow)
            .where(AccountingClosureRow.id == row.id)
            .values(undone_by=command.actor, undone_at=func.now())  # the trigger stamps now() again
            .returning(AccountingClosureRow.undone_at)
        )
        try:
            undone_at = (await session.execute(statement)).scalar_one()
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
        record = msgspec.structs.replace(before, undone_at=undone_at, undone_by=command.actor)
        await uow.commit()
    return record


async def list_closures(uow: UnitOfWork, office_id: int | None = None, include_undone: bool = False) -> list[ClosureRecord]:
    async with uow:
        query = select(AccountingClosureRow).order_by(AccountingClosureRow.office_id, AccountingClosureRow.closing_date)
        if office_id is not None:
            query = query.where(AccountingClosureRow.office_id == office_id)
        if not include_undone:
            query = query.where(AccountingClosureRow.undone_at.is_(None))
        return [_record(row) for row in await uow.session.scalars(query)]

