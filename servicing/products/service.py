"""Product commands and queries. Every change of settings writes a new, immutable version
row; the product row only points at the current one (plus name, dates and the active flag),
so an account opened on version 3 keeps version 3's terms whatever happens later.

Validation runs in two layers: the pure rules of the product kind (`servicing.products.kinds`),
then the references that need the database (currency, fund source, charges, GL accounts of
the mapping, payment types, products of the mix). All problems are answered at once, each
naming its field path; nothing is written when there is one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

import msgspec
from sqlalchemy import func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from chart_of_accounts.db.tables import GLAccountRow
from ledger.limits import PAGE_SIZE_MAX
from ledger.model import Line
from products.accounting import AccountFacts, ProductAccounting, check_accounting, posting_lines
from products.catalogue.common import Problem, ProductRejected
from products.catalogue.db.tables import (
    ProductRow,
    ProductVersionAccountRow,
    ProductVersionChargeRow,
    ProductVersionRow,
)
from products.errors import ProductError
from products.events import ProductEvent
from products.loans.product import LoanProduct
from products.posting_rules import AccountingRole, ProductKind
from products.reference.db.tables import ChargeRow, FundSourceRow, InstitutionCurrencyRow, PaymentTypeRow
from products.term_deposits.product import (
    ClientAttribute,
    RateQuote,
    TermDepositProduct,
    TermLength,
    check_deposit_terms,
    term_deposit_rate,
)
from servicing.errors import Conflict, NotFound, translate_database_error
from servicing.products.kinds import KINDS, Settings, decode_settings, kind_of
from servicing.unit_of_work import UnitOfWork

VERSIONS_LISTED_MAX: Final = 1000
CHARGE_INCOME_ROLE: Final = "charge_income"
"""Role stored for a charge's own income account (fee or penalty income, per charge)."""


class ProductRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A product with the settings of one of its versions (the current one unless asked)."""

    product_id: int
    kind: ProductKind
    active: bool
    current_version: int
    version: int
    settings: Settings
    version_created_at: datetime
    version_created_by: str
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str


class VersionSummary(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    accounting_rule: str
    created_at: datetime
    created_by: str
    current: bool


class PostingPreview(msgspec.Struct, frozen=True, kw_only=True):
    product_id: int
    version: int
    kind: ProductKind
    accounting_rule: str
    currency: str
    lines: tuple[Line, ...]


# --------------------------------------------------------------------------- commands

async def create_product(uow: UnitOfWork, settings: Settings, actor: str) -> ProductRecord:
    kind = kind_of(settings)
    async with uow:
        session = uow.session
        await _check(session, kind, settings, product_id=None)
        identity = settings.identity
        row = ProductRow(kind=kind.value, name=identity.name.strip(), short_name=identity.short_name.strip(),
                         code=_code(identity.code), currency=settings.currency, active=True,
                         open_date=identity.open_date, close_date=identity.close_date, current_version=1,
                         created_by=actor, updated_by=actor)
        session.add(row)
        await _flush(session)
        await _add_version(session, row.id, 1, settings, actor)
        return await _commit_and_load(uow, row.id)


async def update_product(uow: UnitOfWork, kind: ProductKind, product_id: int, settings: Settings, actor: str,
                         expected_version: int | None = None) -> ProductRecord:
    """Record new settings as the next version; earlier versions (and the accounts opened on
    them) are untouched. Unchanged settings make no new version."""
    if kind_of(settings) is not kind:
        raise AssertionError((kind, settings))
    async with uow:
        session = uow.session
        row = await _load_row(session, kind, product_id, for_update=True)
        if expected_version is not None and expected_version != row.current_version:
            raise Conflict(f"product {product_id} is at version {row.current_version}, not {expected_version}",
                           field="expected_version")
        current = await _load_version(session, row, row.current_version)
        if decode_settings(kind, current.settings) == settings:
            return await _record(session, row, current)
        await _check(session, kind, settings, product_id=product_id)
        identity = settings.identity
        version = row.current_version + 1
        await _add_version(session, row.id, version, settings, actor)
        await session.execute(update(ProductRow).where(ProductRow.id == row.id).values(
            name=identity.name.strip(), short_name=identity.short_name.strip(), code=_code(identity.code),
            currency=settings.currency, open_date=identity.open_date, close_date=identity.close_date,
            current_version=version, updated_at=func.now(), updated_by=actor))
        return await _commit_and_load(uow, row.id)


async def set_product_active(uow: UnitOfWork, kind: ProductKind, product_id: int, active: bool,
                             actor: str) -> ProductRecord:
    """Deactivate (no new accounts; existing ones go on) or reactivate a product."""
    async with uow:
        session = uow.session
        row = await _load_row(session, kind, product_id, for_update=True)
        if row.active != active:
            await session.execute(update(ProductRow).where(ProductRow.id == row.id).values(
                active=active, updated_at=func.now(), updated_by=actor))
        return await _commit_and_load(uow, row.id)


# --------------------------------------------------------------------------- queries

async def get_product(uow: UnitOfWork, kind: ProductKind | None, product_id: int,
                      version: int | None = None) -> ProductRecord:
    async with uow:
        row = await _load_row(uow.session, kind, product_id)
        stored = await _load_version(uow.session, row, version or row.current_version)
        return await _record(uow.session, row, stored)


async def product_for_new_account(uow: UnitOfWork, kind: ProductKind, product_id: int,
                                  opened_on: date) -> ProductRecord:
    """The product version a new account opened on ``opened_on`` gets: the current one, if
    the product is active and open that day. The account stores ``record.version``."""
    record = await get_product(uow, kind, product_id)
    identity = record.settings.identity
    if not record.active:
        raise ProductError("product_id", f"{KINDS[kind].label} {product_id} is inactive")
    if identity.open_date is not None and opened_on < identity.open_date:
        raise ProductError("product_id", f"{KINDS[kind].label} {product_id} opens on {identity.open_date.isoformat()}")
    if identity.close_date is not None and opened_on >= identity.close_date:
        raise ProductError("product_id", f"{KINDS[kind].label} {product_id} closed on {identity.close_date.isoformat()}")
    return record


async def list_products(uow: UnitOfWork, kind: ProductKind, *, active: bool | None = None, after_id: int = 0,
                        limit: int = PAGE_SIZE_MAX) -> list[ProductRecord]:
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    async with uow:
        query = select(ProductRow, ProductVersionRow).join(ProductVersionRow, (
            ProductVersionRow.product_id == ProductRow.id) & (ProductVersionRow.version == ProductRow.current_version)
        ).where(ProductRow.kind == kind.value, ProductRow.id > after_id).order_by(ProductRow.id).limit(limit)
        if active is not None:
            query = query.where(ProductRow.active == active)
        rows = (await uow.session.execute(query)).all()
        return [await _record(uow.session, row, stored) for row, stored in rows]


async def list_versions(uow: UnitOfWork, kind: ProductKind, product_id: int) -> list[VersionSummary]:
    async with uow:
        row = await _load_row(uow.session, kind, product_id)
        versions = (await uow.session.scalars(select(ProductVersionRow).where(
            ProductVersionRow.product_id == product_id).order_by(ProductVersionRow.version.desc())
            .limit(VERSIONS_LISTED_MAX))).all()
        return [VersionSummary(version=v.version, accounting_rule=v.accounting_rule, created_at=v.created_at,
                               created_by=v.created_by, current=v.version == row.current_version) for v in versions]


async def preview_posting(uow: UnitOfWork, product_id: int, event_in: Callable[[str], ProductEvent],
                          version: int | None = None) -> PostingPreview:
    """The lines the product's posting rules would post for an event. Writes nothing.

    ``event_in`` builds the event in the product's currency (amounts are in that currency)."""
    record = await get_product(uow, None, product_id, version)
    settings = record.settings
    event = event_in(settings.currency)
    lines = posting_lines(record.kind, settings.accounting, event)
    return PostingPreview(product_id=product_id, version=record.version, kind=record.kind,
                          accounting_rule=settings.accounting.rule.value, currency=settings.currency, lines=lines)


# --------------------------------------------------------------------------- internals

def _code(code: str | None) -> str | None:
    return (code or "").strip() or None


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except DBAPIError as error:
        raise translate_database_error(error) or error from error


async def _commit_and_load(uow: UnitOfWork, product_id: int) -> ProductRecord:
    await _flush(uow.session)
    row = await _load_row(uow.session, None, product_id)
    await uow.session.refresh(row)
    stored = await _load_version(uow.session, row, row.current_version)
    record = await _record(uow.session, row, stored)
    try:
        await uow.commit()
    except DBAPIError as error:
        raise translate_database_error(error) or error from error
    return record


async def _load_row(session: AsyncSession, kind: ProductKind | None, product_id: int, *,
                    for_update: bool = False) -> ProductRow:
    query = select(ProductRow).where(ProductRow.id == product_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    if row is None or (kind is not None and row.kind != kind.value):
        label = KINDS[kind].label if kind is not None else "product"
        raise NotFound(f"unknown {label} {product_id}", field="product_id")
    return row


async def _load_version(session: AsyncSession, row: ProductRow, version: int) -> ProductVersionRow:
    stored = await session.get(ProductVersionRow, (row.id, version))
    if stored is None:
        raise NotFound(f"product {row.id} has no version {version} (current: {row.current_version})",
                       field="version")
    return stored


async def _record(session: AsyncSession, row: ProductRow, stored: ProductVersionRow) -> ProductRecord:
    kind = ProductKind(row.kind)
    return ProductRecord(
        product_id=row.id, kind=kind, active=row.active, current_version=row.current_version,
        version=stored.version, settings=decode_settings(kind, stored.settings),
        version_created_at=stored.created_at, version_created_by=stored.created_by,
        created_at=row.created_at, created_by=row.created_by, updated_at=row.updated_at, updated_by=row.updated_by)


async def _add_version(session: AsyncSession, product_id: int, version: int, settings: Settings, actor: str) -> None:
    accounting = settings.accounting
    account_ids = await _account_ids(session, _mapped_codes(accounting))
    session.add(ProductVersionRow(
        product_id=product_id, version=version, settings=msgspec.to_builtins(settings),
        accounting_rule=accounting.rule.value, fund_source_id=getattr(settings, "fund_source_id", None),
        created_by=actor))
    await _flush(session)
    position = 0

    def account(role: str, code: str, **selector: Any) -> ProductVersionAccountRow:
        nonlocal position
        position += 1
        return ProductVersionAccountRow(product_id=product_id, version=version, position=position - 1, role=role,
                                        gl_account_id=account_ids[code], **selector)

    rows = [account(role.value, code) for role, code in sorted(accounting.accounts.items())]
    rows += [account(AccountingRole.FUND_SOURCE.value, code, payment_type_id=payment_type_id)
             for payment_type_id, code in sorted(accounting.payment_type_accounts.items())]
    rows += [account(CHARGE_INCOME_ROLE, code, charge_id=charge_id)
             for charge_id, code in sorted(accounting.charge_accounts.items())]
    rows += [account(c.role.value, c.account_code, classification=c.classification.value, term=c.term.value)
             for c in accounting.classified_accounts]
    session.add_all(rows)
    session.add_all(ProductVersionChargeRow(product_id=product_id, version=version, charge_id=charge_id)
                    for charge_id in sorted(settings.referenced_charge_ids()))
    await _flush(session)


def _mapped_codes(accounting: ProductAccounting) -> set[str]:
    return (set(accounting.accounts.values()) | set(accounting.payment_type_accounts.values())
            | set(accounting.charge_accounts.values()) | {c.account_code for c in accounting.classified_accounts})


async def _account_ids(session: AsyncSession, codes: set[str]) -> dict[str, int]:
    if not codes:
        return {}
    rows = (await session.execute(select(GLAccountRow.code, GLAccountRow.id).where(GLAccountRow.code.in_(codes)))).all()
    return {code: account_id for code, account_id in rows}


async def _check(session: AsyncSession, kind: ProductKind, settings: Settings, *, product_id: int | None) -> None:
    problems = list(KINDS[kind].validate(settings))
    if not problems:  # ids and codes are in range: the database may look them up
        problems = await _check_references(session, kind, settings)
    if problems:
        raise ProductRejected(problems)
    await _check_unique(session, kind, settings, product_id)


async def _check_unique(session: AsyncSession, kind: ProductKind, settings: Settings, product_id: int | None) -> None:
    identity = settings.identity
    checks = (("identity.name", func.lower(ProductRow.name), identity.name.strip().lower(), True),
              ("identity.short_name", func.lower(ProductRow.short_name), identity.short_name.strip().lower(), True),
              ("identity.code", func.lower(ProductRow.code), (_code(identity.code) or "").lower(), False))
    for field, column, value, per_kind in checks:
        if not value:
            continue
        query = select(ProductRow.id).where(column == value, ProductRow.id != (product_id or 0))
        if per_kind:
            query = query.where(ProductRow.kind == kind.value)
        taken = await session.scalar(query.limit(1))
        if taken is not None:
            raise Conflict(f"product {taken} already uses this {field.split('.')[-1].replace('_', ' ')}", field=field)


OVERDUE_TIMES: Final = frozenset({"overdue_instalment", "overdue_maturity"})
WITHDRAWAL_TIMES: Final = frozenset({"withdrawal"})


class ChargeReference(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    charge_id: int
    penalty: bool | None = None
    """True: must be a penalty; False: must be a fee; None: either."""
    charge_times: frozenset[str] | None = None
    """When set, the charge times that fit the reference."""


def _charge_references(settings: Settings) -> list[ChargeReference]:
    """Every charge the settings name, with what it must be."""
    found = [ChargeReference(field=f"charge_ids[{i}]", charge_id=charge_id)
             for i, charge_id in enumerate(settings.charge_ids)]
    withdrawal_fees: tuple[int, ...] = getattr(settings, "withdrawal_fee_charge_ids", ())
    found += [ChargeReference(field=f"withdrawal_fee_charge_ids[{i}]", charge_id=charge_id, penalty=False,
                              charge_times=WITHDRAWAL_TIMES) for i, charge_id in enumerate(withdrawal_fees)]
    if isinstance(settings, LoanProduct):
        penalties = [("overdue_penalty", settings.overdue_penalty)] + [
            (f"amount_bands[{i}].overdue_penalty", band.overdue_penalty) for i, band in enumerate(settings.amount_bands)]
        found += [ChargeReference(field=f"{field}.charge_id", charge_id=penalty.charge_id, penalty=True,
                                  charge_times=OVERDUE_TIMES)
                  for field, penalty in penalties if penalty is not None and penalty.charge_id is not None]
    return found


async def _check_references(session: AsyncSession, kind: ProductKind, settings: Settings) -> list[Problem]:
    problems: list[Problem] = []
    # Seed 001: "la devise doit être configurée au préalable" (PUT /api/v1/currencies/{code}).
    configured = await session.get(InstitutionCurrencyRow, settings.currency)
    if configured is None or not configured.enabled:
        problems.append(Problem(field="currency", message=f"currency {settings.currency} is not enabled for the "
                                                          f"institution (PUT /api/v1/currencies/{settings.currency})"))
    fund_source_id = getattr(settings, "fund_source_id", None)
    if fund_source_id is not None:
        fund = await session.get(FundSourceRow, fund_source_id)
        if fund is None:
            problems.append(Problem(field="fund_source_id", message=f"unknown fund source {fund_source_id}"))
        elif not fund.active:
            problems.append(Problem(field="fund_source_id", message=f"fund source {fund_source_id} is inactive"))
    references = _charge_references(settings)
    charges = {c.id: c for c in (await session.scalars(select(ChargeRow).where(
        ChargeRow.id.in_({r.charge_id for r in references})))).all()} if references else {}
    applies_to = KINDS[kind].charges_apply_to
    for reference in references:
        field, charge_id, must_be_penalty = reference.field, reference.charge_id, reference.penalty
        charge = charges.get(charge_id)
        if charge is None:
            problems.append(Problem(field=field, message=f"unknown charge {charge_id}"))
            continue
        if not charge.active:
            problems.append(Problem(field=field, message=f"charge {charge_id} is inactive"))
        if charge.applies_to != applies_to:
            problems.append(Problem(field=field, message=f"charge {charge_id} applies to {charge.applies_to} "
                                                         f"products, not {applies_to} ones"))
        if charge.currency != settings.currency:
            problems.append(Problem(field=field, message=f"charge {charge_id} is in {charge.currency}, "
                                                         f"the product in {settings.currency}"))
        if must_be_penalty is not None and charge.is_penalty != must_be_penalty:
            expected = "a penalty" if must_be_penalty else "a fee, not a penalty"
            problems.append(Problem(field=field, message=f"charge {charge_id} must be {expected}"))
        if reference.charge_times is not None and charge.charge_time not in reference.charge_times:
            times = " or ".join(sorted(reference.charge_times))
            problems.append(Problem(field=field, message=f"charge {charge_id} is charged at {charge.charge_time}, "
                                                         f"this needs {times}"))
    if isinstance(settings, LoanProduct):
        restricted = settings.product_mix.restricted_product_ids
        if restricted:
            loans = set((await session.scalars(select(ProductRow.id).where(
                ProductRow.id.in_(restricted), ProductRow.kind == ProductKind.LOAN.value))).all())
            problems += [Problem(field=f"product_mix.restricted_product_ids[{i}]",
                                 message=f"unknown loan product {pid}")
                         for i, pid in enumerate(restricted) if pid not in loans]
    problems += await _check_mapping(session, kind, settings)
    return problems


async def _check_mapping(session: AsyncSession, kind: ProductKind, settings: Settings) -> list[Problem]:
    accounting = settings.accounting
    codes = _mapped_codes(accounting)
    chart: dict[str, AccountFacts] = {}
    if codes:
        rows = (await session.scalars(select(GLAccountRow).where(GLAccountRow.code.in_(codes)))).all()
        chart = {r.code: AccountFacts(code=r.code, type=r.type, is_header=r.is_header, active=r.active,
                                      currency=r.currency) for r in rows}
    payment_type_ids: frozenset[int] = frozenset()
    if accounting.payment_type_accounts:
        payment_type_ids = frozenset((await session.scalars(select(PaymentTypeRow.id).where(
            PaymentTypeRow.id.in_(set(accounting.payment_type_accounts)), PaymentTypeRow.active))).all())
    try:
        check_accounting(kind, settings.currency, accounting, chart, payment_type_ids=payment_type_ids,
                         charge_ids=settings.referenced_charge_ids())
    except ProductError as error:
        return [Problem(field=error.field or "accounting", message=error.message)]
    return []


async def quote_term_deposit_rate(uow: UnitOfWork, product_id: int, *, opened_on: date, term: TermLength,
                                  amount: Decimal, client: Mapping[ClientAttribute, str],
                                  version: int | None = None) -> tuple[int, RateQuote]:
    """The rate a term deposit of ``amount`` for ``term`` opened ``opened_on`` earns for this
    client, after checking the amount and term against the product. Writes nothing."""
    record = await get_product(uow, ProductKind.TERM_DEPOSIT, product_id, version)
    product = record.settings
    assert isinstance(product, TermDepositProduct)
    check_deposit_terms(product, term=term, amount=amount)
    return record.version, term_deposit_rate(product, on=opened_on, term=term, amount=amount, client=client)
