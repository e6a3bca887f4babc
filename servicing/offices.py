"""Offices: head office and branches."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from ledger.db.tables import OfficeRow
from ledger.limits import OFFICE_DEPTH_MAX
from ledger.offices import Office
from servicing.commands import CreateOffice
from servicing.errors import Conflict, NotFound, translate_database_error
from servicing.unit_of_work import UnitOfWork


def _to_office(row: OfficeRow) -> Office:
    return Office(
        office_id=row.id, code=row.code, name=row.name, parent_id=row.parent_id,
        region=row.region, lineage=tuple(row.lineage),
    )


async def create_office(uow: UnitOfWork, command: CreateOffice) -> Office:
    async with uow:
        session = uow.session
        if await session.scalar(select(OfficeRow.id).where(OfficeRow.code == command.code)) is not None:
            raise Conflict(f"an office with code {command.code!r} exists", field="code")
        if command.parent_id is None:
            if await session.scalar(select(OfficeRow.id).where(OfficeRow.parent_id.is_(None))) is not None:
                raise Conflict("the head office exists; a new office needs a parent_id", field="parent_id")
        else:
            parent = await session.get(OfficeRow, command.parent_id)
            if parent is None:
                raise NotFound(f"unknown parent office {command.parent_id}", field="parent_id")
            if len(parent.lineage) >= OFFICE_DEPTH_MAX:
                raise Conflict(f"offices nest at most {OFFICE_DEPTH_MAX} levels deep", field="parent_id")
        row = OfficeRow(
            code=command.code, name=command.name, parent_id=command.parent_id, region=command.region,
            opened_on=command.opened_on, created_by=command.actor,
        )
        session.add(row)
        try:
            await session.flush()
        except DBAPIError as error:
            raise translate_database_error(error) or error from error
        await session.refresh(row)
        office = _to_office(row)
        await uow.commit()
    return office


async def list_offices(uow: UnitOfWork) -> list[Office]:
    async with uow:
        rows = (await uow.session.scalars(select(OfficeRow).order_by(OfficeRow.id))).all()
        return [_to_office(row) for row in rows]


async def get_office(uow: UnitOfWork, office_id: int) -> Office:
    async with uow:
        row = await uow.session.get(OfficeRow, office_id)
        if row is None:
            raise NotFound(f"unknown office {office_id}", field="office_id")
        return _to_office(row)
