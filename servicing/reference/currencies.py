"""The institution's currencies: which ISO 4217 currencies it works in, and the multiple its
amounts round to. Decimals are ISO's (the `currency` table, which the journal's exactness
check reads), so a currency's minor unit cannot drift from what the ledger enforces."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.db.tables import CurrencyRow
from products.reference.db.tables import ChargeRow, InstitutionCurrencyRow, ValidationLevelRow
from products.reference.model import CurrencySetting
from products.reference.validation import validate_currency_setting
from servicing.errors import Conflict, NotFound
from servicing.reference.catalogue import flush, plain
from servicing.unit_of_work import UnitOfWork


class CurrencyInfo(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    decimals: int
    in_multiples_of: Decimal | None
    enabled: bool
    configured: bool
    """False for an ISO currency the institution has never set up."""
    version: int


def _info(currency: CurrencyRow, setting: InstitutionCurrencyRow | None) -> CurrencyInfo:
    return CurrencyInfo(
        code=currency.code, name=currency.name, decimals=currency.decimals,
        in_multiples_of=None if setting is None else plain(setting.in_multiples_of),
        enabled=setting is not None and setting.enabled, configured=setting is not None,
        version=0 if setting is None else setting.version)


async def list_currencies(uow: UnitOfWork, *, include_unconfigured: bool = False) -> list[CurrencyInfo]:
    async with uow:
        query = (select(CurrencyRow, InstitutionCurrencyRow)
                 .join(InstitutionCurrencyRow, InstitutionCurrencyRow.code == CurrencyRow.code,
                       isouter=include_unconfigured)
                 .order_by(CurrencyRow.code))
        return [_info(currency, setting) for currency, setting in (await uow.session.execute(query)).all()]


async def get_currency(uow: UnitOfWork, code: str) -> CurrencyInfo:
    async with uow:
        return await _load(uow.session, code)


async def configure_currency(uow: UnitOfWork, setting: CurrencySetting, actor: str) -> CurrencyInfo:
    """Enable, disable or change one currency (create its setting the first time)."""
    async with uow:
        session = uow.session
        currency = await session.get(CurrencyRow, setting.code)
        if currency is None:
            raise NotFound(f"{setting.code} is not an ISO 4217 currency", field="code")
        validate_currency_setting(setting, currency.decimals)
        row = await session.get(InstitutionCurrencyRow, setting.code, with_for_update=True)
        if not setting.enabled and row is not None and row.enabled:
            await _refuse_disabling_a_currency_in_use(session, setting.code)
        if row is None:
            row = InstitutionCurrencyRow(code=setting.code, in_multiples_of=setting.in_multiples_of,
                                         enabled=setting.enabled, created_by=actor, updated_by=actor)
            session.add(row)
        else:
            row.in_multiples_of = setting.in_multiples_of
            row.enabled = setting.enabled
            row.version = row.version + 1
            row.updated_by = actor
            row.updated_at = func.now()
        await flush(session)
        info = await _load(session, setting.code)
        await uow.commit()
    return info


async def _refuse_disabling_a_currency_in_use(session: AsyncSession, code: str) -> None:
    for row_type, noun in ((ChargeRow, "charge"), (ValidationLevelRow, "validation level")):
        used_by = await session.scalar(select(row_type.id).where(row_type.currency == code,
                                                                 row_type.active.is_(True)).limit(1))
        if used_by is not None:
            raise Conflict(f"active {noun} {used_by} is in {code}; deactivate it first", field="enabled")


async def _load(session: AsyncSession, code: str) -> CurrencyInfo:
    found = (await session.execute(
        select(CurrencyRow, InstitutionCurrencyRow)
        .join(InstitutionCurrencyRow, InstitutionCurrencyRow.code == CurrencyRow.code, isouter=True)
        .where(CurrencyRow.code == code)
        .execution_options(populate_existing=True))).first()
    if found is None:
        raise NotFound(f"{code} is not an ISO 4217 currency", field="code")
    return _info(*found)
