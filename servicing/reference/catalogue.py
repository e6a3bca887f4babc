"""Create, change, read and list the simple reference lists, one unit of work per command.

Each list is described once by a `Catalogue`: its table, its definition Struct, which fields
are unique, which fields name GL accounts (by code on the wire, by id in the table) and the
checks that need the database. The rows' columns carry the definitions' field names, so a
definition converts to a row and back without a mapping per field.

A change loads the row FOR UPDATE, merges the changes into the stored definition, checks
the whole result again and bumps the version: two administrators editing the same charge
are serialised, and neither edit is lost. Checks across rows (validity periods that must
not overlap) take a transaction-scoped advisory lock per list, so two concurrent creations
cannot both pass the check.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import msgspec
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from chart_of_accounts.db.tables import GLAccountRow
from ledger.db.tables import CurrencyRow
from products.reference.db.tables import InstitutionCurrencyRow
from products.reference.limits import PAGE_SIZE_MAX
from servicing.errors import Conflict, InvalidInput, NotFound, translate_database_error
from servicing.unit_of_work import UnitOfWork

D = TypeVar("D", bound=msgspec.Struct)
Check = Callable[[AsyncSession, D, int | None], Awaitable[None]]
"""Checks a definition against the database; the int is the row's id on a change."""
SaveChildren = Callable[[AsyncSession, int, D], Awaitable[None]]
"""Writes the rows a definition owns in other tables (a holiday's offices), after its own row."""
LoadChildren = Callable[[AsyncSession, Sequence[int]], Awaitable[dict[int, dict[str, Any]]]]
"""Reads those rows back as definition fields, per row id."""


class Stored(msgspec.Struct, Generic[D], frozen=True, kw_only=True):
    """A stored reference row: its id, its definition and who last changed it."""

    id: int
    item: D
    version: int
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Catalogue(Generic[D]):
    noun: str
    row_type: type[Any]
    definition: type[D]
    unique: tuple[tuple[str, ...], ...] = ()
    accounts: Mapping[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    """Definition field naming a GL account code -> (row column of its id, allowed account types)."""
    check: Check[D] | None = None
    lock: bool = False
    save_children: SaveChildren[D] | None = None
    load_children: LoadChildren | None = None


async def create(uow: UnitOfWork, catalogue: Catalogue[D], definition: D, actor: str) -> Stored[D]:
    async with uow:
        session = uow.session
        await _prepare(session, catalogue, definition, None)
        row = catalogue.row_type(**await _row_values(session, catalogue, definition),
                                 created_by=actor, updated_by=actor)
        session.add(row)
        await flush(session)
        await _save_children(session, catalogue, row.id, definition)
        await session.refresh(row)
        stored = await stored_row(session, catalogue, row)
        await uow.commit()
    return stored


async def update(uow: UnitOfWork, catalogue: Catalogue[D], row_id: int, changes: Mapping[str, Any],
                 actor: str) -> Stored[D]:
    async with uow:
        session = uow.session
        row = await _load(session, catalogue, row_id, for_update=True)
        current = (await stored_row(session, catalogue, row)).item
        changed = msgspec.structs.replace(current, **changes)
        await _prepare(session, catalogue, changed, row_id)
        for column, value in (await _row_values(session, catalogue, changed)).items():
            setattr(row, column, value)
        row.version = row.version + 1
        row.updated_by = actor
        row.updated_at = func.now()
        await flush(session)
        await _save_children(session, catalogue, row.id, changed)
        await session.refresh(row)
        stored = await stored_row(session, catalogue, row)
        await uow.commit()
    return stored


async def get(uow: UnitOfWork, catalogue: Catalogue[D], row_id: int) -> Stored[D]:
    async with uow:
        row = await _load(uow.session, catalogue, row_id)
        return await stored_row(uow.session, catalogue, row)


async def list_all(uow: UnitOfWork, catalogue: Catalogue[D], *, active: bool | None = None,
                   limit: int = PAGE_SIZE_MAX, offset: int = 0,
                   filters: Sequence[ColumnElement[bool]] = ()) -> list[Stored[D]]:
    """One page of the list in id order, optionally only the active (or inactive) rows."""
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    async with uow:
        query = (select(catalogue.row_type).where(*filters).order_by(catalogue.row_type.id)
                 .limit(limit).offset(offset))
        if active is not None:
            query = query.where(catalogue.row_type.active.is_(active))
        rows = (await uow.session.scalars(query)).all()
        codes = await _account_codes(uow.session, catalogue, rows)
        children = await _load_children(uow.session, catalogue, [row.id for row in rows])
        return [_stored(catalogue, row, codes, children.get(row.id, {})) for row in rows]


async def flush(session: AsyncSession) -> None:
    """Flush, answering the database's own refusals (unique, check) as typed errors."""
    try:
        await session.flush()
    except DBAPIError as error:
        raise translate_database_error(error) or error from error


async def lock(session: AsyncSession, name: str) -> None:
    """Serialise the commands that check a rule across the rows of one list."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(name.encode())})


async def _prepare(session: AsyncSession, catalogue: Catalogue[D], definition: D, row_id: int | None) -> None:
    if catalogue.lock:
        await lock(session, catalogue.row_type.__tablename__)
    for fields in catalogue.unique:
        query = select(catalogue.row_type.id).where(
            *(getattr(catalogue.row_type, name) == getattr(definition, name) for name in fields))
        if row_id is not None:
            query = query.where(catalogue.row_type.id != row_id)
        if await session.scalar(query.limit(1)) is not None:
            shown = ", ".join(f"{name} {getattr(definition, name)!r}" for name in fields)
            raise Conflict(f"a {catalogue.noun} with {shown} exists", field=fields[-1])
    if catalogue.check is not None:
        await catalogue.check(session, definition, row_id)


async def _load(session: AsyncSession, catalogue: Catalogue[D], row_id: int, *, for_update: bool = False) -> Any:
    row = await session.get(catalogue.row_type, row_id, with_for_update=for_update)
    if row is None:
        raise NotFound(f"unknown {catalogue.noun} {row_id}", field="id")
    return row


async def _row_values(session: AsyncSession, catalogue: Catalogue[D], definition: D) -> dict[str, Any]:
    values = {name: getattr(definition, name) for name in definition.__struct_fields__
              if hasattr(catalogue.row_type, name)}
    for name, (column, types) in catalogue.accounts.items():
        code = getattr(definition, name)
        values[column] = None if code is None else await detail_account_id(session, code, types, name)
    return values


async def _account_codes(session: AsyncSession, catalogue: Catalogue[D], rows: Sequence[Any]) -> dict[int, str]:
    """GL account codes of the accounts the rows name, in one query."""
    ids = {getattr(row, column) for row in rows for column, _ in catalogue.accounts.values()} - {None}
    if not ids:
        return {}
    found = await session.execute(select(GLAccountRow.id, GLAccountRow.code).where(GLAccountRow.id.in_(ids)))
    return {account_id: code for account_id, code in found.all()}


async def stored_row(session: AsyncSession, catalogue: Catalogue[D], row: Any) -> Stored[D]:
    children = await _load_children(session, catalogue, [row.id])
    return _stored(catalogue, row, await _account_codes(session, catalogue, [row]), children.get(row.id, {}))


async def _save_children(session: AsyncSession, catalogue: Catalogue[D], row_id: int, definition: D) -> None:
    if catalogue.save_children is not None:
        await catalogue.save_children(session, row_id, definition)
        await flush(session)


async def _load_children(session: AsyncSession, catalogue: Catalogue[D], row_ids: Sequence[int],
                         ) -> dict[int, dict[str, Any]]:
    return {} if catalogue.load_children is None or not row_ids else await catalogue.load_children(session, row_ids)


def plain(value: Any) -> Any:
    """A stored numeric without the zeros of its column's scale: 5.0000 reads back as 5, 17.5000 as 17.5."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return value
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _stored(catalogue: Catalogue[D], row: Any, codes: Mapping[int, str], children: Mapping[str, Any]) -> Stored[D]:
    values = {name: plain(getattr(row, name)) for name in catalogue.definition.__struct_fields__
              if hasattr(row, name)}
    values.update(children)
    for name, (column, _) in catalogue.accounts.items():
        account_id = getattr(row, column)
        values[name] = None if account_id is None else codes[account_id]
    item = msgspec.convert(values, catalogue.definition, from_attributes=True)
    return Stored(id=row.id, item=item, version=row.version, created_at=row.created_at, created_by=row.created_by,
                  updated_at=row.updated_at, updated_by=row.updated_by)


async def detail_account_id(session: AsyncSession, code: str, types: frozenset[str], field: str) -> int:
    """The id of an active detail GL account of one of `types`, or a 422 naming `field`."""
    account = await session.scalar(select(GLAccountRow).where(GLAccountRow.code == code))
    if account is None:
        raise NotFound(f"no GL account has code {code!r}", field=field)
    if account.is_header:
        raise InvalidInput(f"GL account {code} is a header; choose one of its detail accounts", field=field)
    if not account.active:
        raise InvalidInput(f"GL account {code} is inactive", field=field)
    if account.type not in types:
        raise InvalidInput(f"GL account {code} is an {account.type} account; expected "
                           f"{' or '.join(sorted(types))}", field=field)
    return int(account.id)


async def enabled_currency_decimals(session: AsyncSession, code: str, field: str = "currency") -> int:
    """Decimals of a currency the institution has enabled, or a 422 naming `field`."""
    row = (await session.execute(
        select(CurrencyRow.decimals, InstitutionCurrencyRow.enabled)
        .join(InstitutionCurrencyRow, InstitutionCurrencyRow.code == CurrencyRow.code, isouter=True)
        .where(CurrencyRow.code == code))).first()
    if row is None:
        raise NotFound(f"{code} is not an ISO 4217 currency", field=field)
    if not row.enabled:
        raise InvalidInput(f"{code} is not enabled for the institution (PUT /api/v1/currencies/{code})", field=field)
    return int(row.decimals)


async def exists(session: AsyncSession, row_type: type[Any], row_id: int | None, field: str, noun: str,
                 *, active_only: bool = True) -> None:
    """A 404 naming `field` unless the referenced row exists (and is active)."""
    if row_id is None:
        return
    row = await session.get(row_type, row_id)
    if row is None:
        raise NotFound(f"unknown {noun} {row_id}", field=field)
    if active_only and not row.active:
        raise InvalidInput(f"{noun} {row_id} is inactive", field=field)


__all__ = ("Catalogue", "Stored", "create", "get", "list_all", "stored_row", "update")
