"""Term-deposit accounts: open (with a preview), fund, change the maturity instruction, post
interest, mature, close early, and the reconciliation of the control accounts.

Every movement of money is a transaction row and its journal entry, built by the product's
posting rules (`products.accounting.build_entry`) and booked with `servicing.journal.book_entries`
in the same unit of work: the account and the ledger change together or not at all. The
calculations are the pure core's (`products.deposits.term_deposit`, through
`products.term_deposits.account`). Runs over many accounts (interest, maturity) are set-based
and live in `servicing.term_deposits.runs` (which builds on this module, never the other way round):
one query loads a batch of due accounts (locked), the entries of the whole batch are booked in
one call and the transactions inserted in one statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.db.totals import account_totals
from ledger.model import JournalEntry, Reference
from products.accounting import ProductAccounting, build_entry
from products.deposits.ladder import MONTHS_MAX, WEEKS_MAX, MaturingDeposit, MaturityLadder, maturity_ladder
from products.deposits.term import maturity_date
from products.deposits.term_deposit import (
    MaturityInstruction,
    PrematureClosureQuote,
    TermDepositTerms,
    premature_closure,
    project_term_deposit,
)
from products.errors import ProductError
from products.events import EventPart, ProductEvent
from products.posting_rules import AccountingRole, AccountingRule, Component, EventKind, ProductKind
from products.rounding import compile_rounding
from products.term_deposits.account import account_terms, closure_penalty, lock_in
from products.term_deposits.product import (
    ClientAttribute,
    Incentive,
    RateQuote,
    TermDepositProduct,
    TermLength,
    TermUnit,
    check_deposit_terms,
    term_deposit_rate,
)
from products.term_deposits.product import (
    MaturityInstruction as ProductInstruction,
)
from servicing.errors import Conflict, InvalidInput, NotFound, translate_database_error
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.products.kinds import decode_settings
from servicing.products.service import product_for_new_account
from servicing.staff.scope import OfficeScope
from servicing.term_deposits.model import (
    BALANCE_SIGN,
    AccountStatus,
    AccountView,
    CloseEarly,
    ClosureQuote,
    DepositAccountTransfers,
    FundTermDeposit,
    IncentiveApplied,
    OpenTermDeposit,
    Preview,
    ProductDeposits,
    Reconciliation,
    ReconciliationRow,
    Settlement,
    Statement,
    StatementLine,
    TermView,
    TransactionKind,
    TransactionView,
)
from servicing.term_deposits.taxes import WithholdingTax
from servicing.term_deposits.transfers import DepositAccountLink
from servicing.term_deposits.verification import BALANCE_SQL
from servicing.unit_of_work import UnitOfWork

TRANSACTIONS_LISTED_MAX: Final = 1000
SOURCE_TYPE: Final = "term-deposit"
_ONE_DAY: Final = timedelta(days=1)
_ZERO: Final = Decimal(0)

# Which of the product's allowed instructions (seed 004) permits each instruction an account
# may carry. Hold needs none: the money simply waits on the account.
_ALLOWED_BY: Final = {
    MaturityInstruction.PAY_OUT: {ProductInstruction.WITHDRAW, ProductInstruction.TRANSFER_TO_SAVINGS},
    MaturityInstruction.RENEW_PRINCIPAL: {ProductInstruction.RENEW_PRINCIPAL},
    MaturityInstruction.RENEW_PRINCIPAL_AND_INTEREST: {ProductInstruction.RENEW_PRINCIPAL_AND_INTEREST},
}
_PAYS_OUT: Final = {MaturityInstruction.PAY_OUT, MaturityInstruction.RENEW_PRINCIPAL}


# --------------------------------------------------------------------------- preview and open

class _Priced(msgspec.Struct, frozen=True, kw_only=True):
    product_version: int
    product: TermDepositProduct
    quote: RateQuote
    client_office_id: int
    attributes: dict[str, str]


async def _client_attributes(session: AsyncSession, client_id: int, on: date) -> tuple[int, dict[str, str]]:
    """The client's office and the attributes incentives test (gender, age on ``on``, type, office)."""
    row = (await session.execute(text(
        "SELECT office_id, client_type, gender, birth_date, status FROM client WHERE id = :id"),
        {"id": client_id})).first()
    if row is None:
        raise NotFound(f"unknown client {client_id}", field="client_id")
    if row.status != "active":
        raise InvalidInput(f"client {client_id} is {row.status}: only an active client opens a deposit",
                           field="client_id")
    attributes = {ClientAttribute.CLIENT_TYPE.value: row.client_type, ClientAttribute.OFFICE.value: str(row.office_id)}
    if row.gender:
        attributes[ClientAttribute.GENDER.value] = row.gender
    if row.birth_date is not None:
        birthday_passed = (on.month, on.day) >= (row.birth_date.month, row.birth_date.day)
        attributes[ClientAttribute.AGE.value] = str(on.year - row.birth_date.year - (0 if birthday_passed else 1))
    return row.office_id, attributes


def _incentives(product: TermDepositProduct, quote: RateQuote) -> tuple[IncentiveApplied, ...]:
    slab = product.rate_charts[quote.chart_index].slabs[quote.slab_index]
    chosen: list[Incentive] = [slab.incentives[i] for i in quote.incentives_applied]
    return tuple(IncentiveApplied(attribute=i.attribute.value, operator=i.operator.value, value=i.value,
                                  kind=i.kind.value, rate_percent=i.rate_percent) for i in chosen)


def _check_amount(product: TermDepositProduct, amount: Decimal) -> None:
    rounder = compile_rounding(account_terms(product, principal=Decimal(1), activated_on=date(2000, 1, 1),
                                             term=product.term_min, rate_percent=_ZERO).rounding, product.currency)
    if not amount.is_finite() or amount != amount.quantize(rounder.quantum):
        raise ProductError("deposit_amount", f"must have at most {rounder.decimals} decimal(s) in {product.currency}")


async def _price(uow: UnitOfWork, command: OpenTermDeposit, scope: OfficeScope) -> _Priced:
    record = await product_for_new_account(uow, ProductKind.TERM_DEPOSIT, command.product_id, command.opened_on)
    product = record.settings
    assert isinstance(product, TermDepositProduct)
    async with uow:
        office_id, attributes = await _client_attributes(uow.session, command.client_id, command.opened_on)
    if not scope.includes(office_id):
        raise NotFound(f"unknown client {command.client_id}", field="client_id")
    _check_amount(product, command.deposit_amount)
    check_deposit_terms(product, term=command.term, amount=command.deposit_amount)
    quote = term_deposit_rate(product, on=command.opened_on, term=command.term, amount=command.deposit_amount,
                              client={ClientAttribute(k): v for k, v in attributes.items()})
    _check_instruction(product, command.maturity_instruction, command.payout)
    return _Priced(product_version=record.version, product=product, quote=quote, client_office_id=office_id,
                   attributes=attributes)


def _check_instruction(product: TermDepositProduct, instruction: MaturityInstruction,
                       payout: Settlement | None) -> None:
    allowed = _ALLOWED_BY.get(instruction)
    if allowed is not None and not allowed & set(product.maturity_instructions):
        names = ", ".join(i.value for i in product.maturity_instructions)
        raise InvalidInput(f"the product allows {names} at maturity, not {instruction.value}",
                           field="maturity_instruction")
    if instruction in _PAYS_OUT and (payout is None or (payout.payment_type_id is None
                                                         and payout.deposit_account_id is None)):
        raise InvalidInput(f"{instruction.value} pays money out: say how (payout.payment_type_id)",
                           field="payout.payment_type_id")
    if payout is not None and payout.deposit_account_id is not None and payout.payment_type_id is not None:
        raise InvalidInput("pay out either by a payment type or to a deposit account, not both",
                           field="payout.deposit_account_id")


async def _check_deposit_account(session: AsyncSession, deposit_account_id: int, client_id: int, currency: str,
                                 field: str) -> None:
    """A deposit account named for a later payout: the client's own, in the deposit's currency."""
    row = (await session.execute(text("SELECT client_id, currency, status FROM deposit_account WHERE id = :id"),
                                 {"id": deposit_account_id})).first()
    if row is None:
        raise InvalidInput(f"unknown deposit account {deposit_account_id}", field=field)
    if row.client_id != client_id:
        raise InvalidInput(f"deposit account {deposit_account_id} belongs to another client", field=field)
    if row.currency.strip() != currency:
        raise InvalidInput(f"deposit account {deposit_account_id} is in {row.currency}, the deposit in {currency}",
                           field=field)
    if row.status in ("closed", "rejected"):
        raise InvalidInput(f"deposit account {deposit_account_id} is {row.status}", field=field)


async def preview(uow: UnitOfWork, command: OpenTermDeposit, scope: OfficeScope) -> Preview:
    """Rate, incentives, projected interest and maturity of a deposit activated on the opening
    date, as it would be opened. Writes nothing."""
    priced = await _price(uow, command, scope)
    async with uow:
        tax = await WithholdingTax.load(uow.session)
    # The tax in force on the opening day, assumed to hold over the term (a projection).
    terms = account_terms(priced.product, principal=command.deposit_amount, activated_on=command.opened_on,
                          term=command.term, rate_percent=priced.quote.rate_percent,
                          withholding_tax_percent=tax.percent_on(command.opened_on))
    projection = project_term_deposit(terms)
    return Preview(
        product_id=command.product_id, product_version=priced.product_version, currency=priced.product.currency,
        deposit_amount=command.deposit_amount, term=command.term, activated_on=command.opened_on,
        maturity_date=projection.maturity_date, base_rate_percent=priced.quote.base_rate_percent,
        rate_percent=priced.quote.rate_percent, incentives_applied=_incentives(priced.product, priced.quote),
        projected_interest=projection.interest, withholding_tax=projection.withholding_tax,
        maturity_amount=projection.maturity_amount)


async def open_account(uow: UnitOfWork, command: OpenTermDeposit, actor: str, scope: OfficeScope) -> AccountView:
    """Open a pending deposit with the rate and terms frozen; funding activates it."""
    priced = await _price(uow, command, scope)
    payout_type = command.payout.payment_type_id if command.payout is not None else None
    payout_account = command.payout.deposit_account_id if command.payout is not None else None
    async with uow:
        if payout_type is not None:
            await _payment_type_account(uow.session, payout_type, "payout.payment_type_id")
        if payout_account is not None:
            await _check_deposit_account(uow.session, payout_account, command.client_id, priced.product.currency,
                                         "payout.deposit_account_id")
        account_id = await uow.session.scalar(text("""
            INSERT INTO term_deposit_account (office_id, client_id, product_id, product_version, currency, principal,
                term_count, term_unit, rate_percent, base_rate_percent, incentives_applied, status,
                maturity_instruction, payout_payment_type_id, payout_deposit_account_id, client_attributes, opened_on,
                created_by, updated_by)
            VALUES (:office_id, :client_id, :product_id, :version, :currency, :principal, :count, :unit, :rate,
                    :base_rate, CAST(:incentives AS jsonb), 'pending', :instruction, :payout, :payout_account,
                    CAST(:attributes AS jsonb), :opened_on, :actor, :actor)
            RETURNING id"""), {"payout_account": payout_account,
            "office_id": priced.client_office_id, "client_id": command.client_id, "product_id": command.product_id,
            "version": priced.product_version, "currency": priced.product.currency,
            "principal": command.deposit_amount, "count": command.term.count, "unit": command.term.unit.value,
            "rate": priced.quote.rate_percent, "base_rate": priced.quote.base_rate_percent,
            "incentives": msgspec.json.encode(_incentives(priced.product, priced.quote)).decode(),
            "instruction": command.maturity_instruction.value, "payout": payout_type,
            "attributes": msgspec.json.encode(priced.attributes).decode(), "opened_on": command.opened_on,
            "actor": actor})
        assert isinstance(account_id, int)
        view = await _view(uow.session, account_id)
        await _commit(uow)
    return view


# --------------------------------------------------------------------------- reads

_ACCOUNT_COLUMNS: Final = """
    a.id, a.office_id, a.client_id, a.product_id, a.product_version, a.currency, a.principal, a.term_count,
    a.term_unit, a.rate_percent, a.base_rate_percent, a.incentives_applied, a.status, a.current_term,
    a.maturity_instruction, a.payout_payment_type_id, a.payout_deposit_account_id, a.client_attributes, a.opened_on,
    a.closed_on, a.version"""

_BALANCE: Final = BALANCE_SQL


async def _load_account(session: AsyncSession, account_id: int, *, for_update: bool = False,
                        scope: OfficeScope | None = None) -> Any:
    row = (await session.execute(text(
        f"SELECT {_ACCOUNT_COLUMNS} FROM term_deposit_account a WHERE a.id = :id"
        + (" FOR UPDATE" if for_update else "")), {"id": account_id})).first()
    if row is None or (scope is not None and not scope.includes(row.office_id)):
        raise NotFound(f"unknown term deposit {account_id}", field="account_id")
    return row


def _term_view(row: Any) -> TermView:
    return TermView(term_no=row.term_no, product_version=row.product_version, principal=_plain(row.principal),
                    term=TermLength(count=row.term_count, unit=TermUnit(row.term_unit)),
                    rate_percent=_plain(row.rate_percent), base_rate_percent=_plain(row.base_rate_percent),
                    starts_on=row.starts_on, maturity_date=row.maturity_date)


def _plain(value: Decimal) -> Decimal:
    """A numeric column's value without trailing zeros (1000000.0000 -> 1000000)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


async def _view(session: AsyncSession, account_id: int) -> AccountView:
    row = await _load_account(session, account_id)
    terms = [_term_view(t) for t in (await session.execute(text(
        "SELECT * FROM term_deposit_term WHERE account_id = :id ORDER BY term_no"), {"id": account_id})).all()]
    sums = (await session.execute(text(f"""
        SELECT {_BALANCE} AS balance,
               coalesce(sum(CASE WHEN x.term_no = :term AND x.kind = 'interest' THEN x.amount
                                 WHEN x.term_no = :term AND x.kind = 'interest_clawback' THEN -x.amount
                                 ELSE 0 END), 0) AS interest
          FROM term_deposit_transaction x WHERE x.account_id = :id"""),
        {"id": account_id, "term": row.current_term})).one()
    return AccountView(
        account_id=row.id, office_id=row.office_id, client_id=row.client_id, product_id=row.product_id,
        product_version=row.product_version, currency=row.currency, status=AccountStatus(row.status),
        deposit_amount=_plain(row.principal), term=TermLength(count=row.term_count, unit=TermUnit(row.term_unit)),
        rate_percent=_plain(row.rate_percent), base_rate_percent=_plain(row.base_rate_percent),
        incentives_applied=msgspec.convert(row.incentives_applied, tuple[IncentiveApplied, ...], strict=False),
        maturity_instruction=MaturityInstruction(row.maturity_instruction),
        payout_payment_type_id=row.payout_payment_type_id, payout_deposit_account_id=row.payout_deposit_account_id,
        opened_on=row.opened_on, closed_on=row.closed_on,
        balance=_plain(sums.balance), interest_posted_this_term=_plain(sums.interest),
        current_term=terms[-1] if terms else None, terms=tuple(terms), version=row.version)


async def get_account(uow: UnitOfWork, account_id: int, scope: OfficeScope) -> AccountView:
    async with uow:
        await _load_account(uow.session, account_id, scope=scope)
        return await _view(uow.session, account_id)


async def list_accounts(uow: UnitOfWork, scope: OfficeScope, *, office_id: int | None = None,
                        client_id: int | None = None, status: AccountStatus | None = None, after_id: int = 0,
                        limit: int = 100) -> list[AccountView]:
    office = scope.narrow(office_id)
    conditions = ["a.id > :after", "a.office_id IN (SELECT o.id FROM office o WHERE CAST(:office AS int) = ANY(o.lineage))"]
    params: dict[str, Any] = {"after": after_id, "office": office, "limit": limit}
    if client_id is not None:
        conditions.append("a.client_id = :client")
        params["client"] = client_id
    if status is not None:
        conditions.append("a.status = :status")
        params["status"] = status.value
    async with uow:
        ids = (await uow.session.scalars(text(
            f"SELECT a.id FROM term_deposit_account a WHERE {' AND '.join(conditions)} ORDER BY a.id LIMIT :limit"),
            params)).all()
        return [await _view(uow.session, account_id) for account_id in ids]


async def transactions(uow: UnitOfWork, account_id: int, scope: OfficeScope) -> list[TransactionView]:
    async with uow:
        await _load_account(uow.session, account_id, scope=scope)
        rows = (await uow.session.execute(text(
            "SELECT * FROM term_deposit_transaction WHERE account_id = :id ORDER BY id LIMIT :limit"),
            {"id": account_id, "limit": TRANSACTIONS_LISTED_MAX})).all()
    return [TransactionView(transaction_id=r.id, term_no=r.term_no, kind=TransactionKind(r.kind),
                            amount=_plain(r.amount), value_date=r.value_date, period_end=r.period_end,
                            payment_type_id=r.payment_type_id, entry_id=str(r.entry_id) if r.entry_id else None,
                            created_by=r.created_by, withholding_tax=_plain(r.withholding_tax),
                            deposit_account_id=r.deposit_account_id) for r in rows]


# --------------------------------------------------------------------------- shared posting helpers

async def _products(session: AsyncSession, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], TermDepositProduct]:
    """Product versions by (product id, version), in one query."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    rows = (await session.execute(text(
        "SELECT product_id, version, settings FROM product_version"
        " WHERE (product_id, version) IN (SELECT * FROM unnest(CAST(:ids AS int[]), CAST(:versions AS int[])))"),
        {"ids": [k[0] for k in wanted], "versions": [k[1] for k in wanted]})).all()
    found: dict[tuple[int, int], TermDepositProduct] = {}
    for row in rows:
        settings = decode_settings(ProductKind.TERM_DEPOSIT, row.settings)
        assert isinstance(settings, TermDepositProduct)
        found[(row.product_id, row.version)] = settings
    return found


async def _current_product(session: AsyncSession, product_id: int) -> tuple[int, TermDepositProduct]:
    version = await session.scalar(text("SELECT current_version FROM product WHERE id = :id"), {"id": product_id})
    assert isinstance(version, int)
    return version, (await _products(session, [(product_id, version)]))[(product_id, version)]


async def _payment_type_account(session: AsyncSession, payment_type_id: int, field: str) -> str | None:
    """The payment type's own fund-source account code (reference data), if it has one."""
    row = (await session.execute(text(
        "SELECT p.active, g.code FROM payment_type p LEFT JOIN gl_account g ON g.id = p.gl_account_id"
        " WHERE p.id = :id"), {"id": payment_type_id})).first()
    if row is None:
        raise InvalidInput(f"unknown payment type {payment_type_id}", field=field)
    if not row.active:
        raise InvalidInput(f"payment type {payment_type_id} is inactive", field=field)
    code: str | None = row.code
    return code


def _with_payment_type(accounting: ProductAccounting, payment_type_id: int | None, code: str | None
                       ) -> ProductAccounting:
    """The product's mapping, with the payment type's reference-data account as the fund
    source when the product has no override of its own for that payment type."""
    if payment_type_id is None or code is None or payment_type_id in accounting.payment_type_accounts:
        return accounting
    return msgspec.structs.replace(accounting, payment_type_accounts={
        **accounting.payment_type_accounts, payment_type_id: code})


def _entries(product: TermDepositProduct, accounting: ProductAccounting, events: Sequence[ProductEvent], *,
             office_id: int, value_date: date, description: str, actor: str, account_id: int,
             entry_id: UUID | None = None) -> list[JournalEntry]:
    """The events' entries; ``entry_id`` (one event only) when the id was named beforehand."""
    assert entry_id is None or len(events) == 1, events
    built = [build_entry(ProductKind.TERM_DEPOSIT, accounting, event, entry_id=entry_id or uuid7(),
                         office_id=office_id,
                         value_date=value_date, description=description[:500], actor=actor,
                         reference=Reference(source_type=SOURCE_TYPE, source_id=str(account_id)))
             for event in events]
    return [entry for entry in built if entry is not None]


def _event(kind: EventKind, component: Component, amount: Decimal, currency: str,
           payment_type_id: int | None = None) -> ProductEvent:
    return ProductEvent(kind=kind, currency=currency, parts=(EventPart(component=component, amount=amount),),
                        payment_type_id=payment_type_id)


def _parts_event(kind: EventKind, currency: str, parts: Sequence[tuple[Component, Decimal]]) -> ProductEvent:
    """An event of several parts; parts of zero are left out (at least one is not zero)."""
    kept = tuple(EventPart(component=component, amount=amount) for component, amount in parts if amount > 0)
    assert kept, parts
    return ProductEvent(kind=kind, currency=currency, parts=kept)


class _Txn(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    term_no: int
    kind: TransactionKind
    amount: Decimal
    value_date: date
    period_end: date | None = None
    payment_type_id: int | None = None
    entry_id: UUID | None = None
    idempotency_key: str | None = None
    withholding_tax: Decimal = _ZERO
    interest_carry: Decimal | None = None
    interest_base_after: Decimal | None = None
    deposit_account_id: int | None = None


async def _insert_transactions(session: AsyncSession, rows: Sequence[_Txn], actor: str) -> None:
    """Every transaction of a command or batch in one statement."""
    if not rows:
        return
    await session.execute(text("""
        INSERT INTO term_deposit_transaction (account_id, term_no, kind, amount, value_date, period_end,
                                              payment_type_id, entry_id, idempotency_key, created_by,
                                              withholding_tax, interest_carry, deposit_account_id)
        SELECT a, t, k, am, d, p, pt, e, ik, :actor, w, c, da
          FROM unnest(CAST(:accounts AS int[]), CAST(:terms AS int[]), CAST(:kinds AS varchar[]),
                      CAST(:amounts AS numeric[]), CAST(:dates AS date[]), CAST(:periods AS date[]),
                      CAST(:payment_types AS int[]), CAST(:entries AS uuid[]), CAST(:keys AS varchar[]),
                      CAST(:taxes AS numeric[]), CAST(:carries AS numeric[]), CAST(:deposit_accounts AS bigint[]))
            AS x(a, t, k, am, d, p, pt, e, ik, w, c, da)"""), {
        "accounts": [r.account_id for r in rows], "terms": [r.term_no for r in rows],
        "kinds": [r.kind.value for r in rows], "amounts": [r.amount for r in rows],
        "dates": [r.value_date for r in rows], "periods": [r.period_end for r in rows],
        "payment_types": [r.payment_type_id for r in rows], "entries": [r.entry_id for r in rows],
        "keys": [r.idempotency_key for r in rows], "actor": actor,
        "taxes": [r.withholding_tax for r in rows], "carries": [r.interest_carry for r in rows],
        "deposit_accounts": [r.deposit_account_id for r in rows]})


async def _commit(uow: UnitOfWork) -> None:
    try:
        await uow.session.flush()
        await uow.commit()
    except DBAPIError as error:
        raise translate_database_error(error) or error from error


def _entry_of(entries: Sequence[JournalEntry], index: int) -> UUID | None:
    return entries[index].entry_id if index < len(entries) else None


async def _settle(session: AsyncSession, settlement: Settlement, field: str) -> tuple[int | None, str | None]:
    """The payment type and its fund-source account for a settlement by payment type."""
    if settlement.deposit_account_id is not None and settlement.payment_type_id is not None:
        raise InvalidInput("either a payment type or a deposit account, not both", field=f"{field}.deposit_account_id")
    if settlement.payment_type_id is None:
        raise InvalidInput("say how the money moves: payment_type_id or deposit_account_id",
                           field=f"{field}.payment_type_id")
    return settlement.payment_type_id, await _payment_type_account(session, settlement.payment_type_id,
                                                                   f"{field}.payment_type_id")


class _Counterpart(msgspec.Struct, frozen=True, kw_only=True):
    accounting: ProductAccounting
    payment_type_id: int | None
    deposit_account_id: int | None
    entry_id: UUID


async def _counterpart(uow: UnitOfWork, row: Any, product: TermDepositProduct, settlement: Settlement, field: str, *,
                       amount: Decimal, value_date: date, into_deposit_account: bool, actor: str, description: str,
                       transfers: DepositAccountTransfers | None) -> _Counterpart:
    """Where the money of a funding or a payout comes from or goes to, and the product's mapping
    for its entry: by payment type (its fund-source account), or a transfer with the client's
    deposit account (recorded there now; its product's control account stands in for the fund
    source, so the transfer is one balanced entry)."""
    entry_id = uuid7()
    if settlement.deposit_account_id is None:
        payment_type_id, code = await _settle(uow.session, settlement, field)
        return _Counterpart(accounting=_with_payment_type(product.accounting, payment_type_id, code),
                            payment_type_id=payment_type_id, deposit_account_id=None, entry_id=entry_id)
    if settlement.payment_type_id is not None:
        raise InvalidInput("either a payment type or a deposit account, not both", field=f"{field}.deposit_account_id")
    posts = product.accounting.rule is not AccountingRule.NONE
    code = await (transfers or DepositAccountLink()).move(
        uow, deposit_account_id=settlement.deposit_account_id, client_id=row.client_id, amount=amount,
        currency=row.currency, value_date=value_date, into_deposit_account=into_deposit_account, actor=actor,
        field=f"{field}.deposit_account_id", entry_id=entry_id if posts else None, description=description)
    if (code is not None) != posts:
        raise InvalidInput("the deposit account's product and the term-deposit product must both post to the "
                           "ledger or both not", field=f"{field}.deposit_account_id")
    accounting = product.accounting if code is None else msgspec.structs.replace(
        product.accounting, accounts={**product.accounting.accounts, AccountingRole.FUND_SOURCE: code})
    return _Counterpart(accounting=accounting, payment_type_id=None,
                        deposit_account_id=settlement.deposit_account_id, entry_id=entry_id)


async def _transfer_out(uow: UnitOfWork, row: Any, product: TermDepositProduct, amount: Decimal, value_date: date,
                        actor: str, transfers: DepositAccountTransfers | None) -> _Txn:
    """A maturity payout to the client's deposit account: its own entry, booked now."""
    description = f"DAT {row.id} : échéance, virement au compte {row.payout_deposit_account_id}"
    side = await _counterpart(uow, row, product, Settlement(deposit_account_id=row.payout_deposit_account_id),
                              "payout", amount=amount, value_date=value_date, into_deposit_account=True, actor=actor,
                              description=description, transfers=transfers)
    entries = _entries(product, side.accounting, [_event(EventKind.WITHDRAWAL, Component.AMOUNT, amount,
                                                         row.currency)],
                       office_id=row.office_id, value_date=value_date, actor=actor, account_id=row.id,
                       description=description, entry_id=side.entry_id)
    await book_entries(uow, entries)
    return _Txn(account_id=row.id, term_no=row.current_term, kind=TransactionKind.PAYOUT, amount=amount,
                value_date=value_date, entry_id=_entry_of(entries, 0), deposit_account_id=side.deposit_account_id)


async def _replayed(session: AsyncSession, account_id: int, key: str | None) -> bool:
    if key is None:
        return False
    found = await session.scalar(text(
        "SELECT 1 FROM term_deposit_transaction WHERE account_id = :id AND idempotency_key = :key"),
        {"id": account_id, "key": key})
    return found is not None


# --------------------------------------------------------------------------- fund

async def fund(uow: UnitOfWork, account_id: int, command: FundTermDeposit, actor: str, scope: OfficeScope,
               transfers: DepositAccountTransfers | None = None) -> AccountView:
    """Take the principal in by the payment type and activate: the term starts on ``activated_on``."""
    async with uow:
        session = uow.session
        row = await _load_account(session, account_id, for_update=True, scope=scope)
        if await _replayed(session, account_id, command.idempotency_key):
            return await _view(session, account_id)
        if row.status != AccountStatus.PENDING.value:
            raise Conflict(f"term deposit {account_id} is {row.status}: only a pending deposit is funded",
                           field="account_id")
        if command.activated_on < row.opened_on:
            raise InvalidInput(f"the deposit was opened on {row.opened_on.isoformat()}", field="activated_on")
        product = (await _products(session, [(row.product_id, row.product_version)]))[
            (row.product_id, row.product_version)]
        description = f"DAT {account_id} : dépôt initial"
        side = await _counterpart(uow, row, product, command.source, "source", amount=_plain(row.principal),
                                  value_date=command.activated_on, into_deposit_account=False, actor=actor,
                                  description=description, transfers=transfers)
        payment_type_id = side.payment_type_id
        term = TermLength(count=row.term_count, unit=TermUnit(row.term_unit))
        terms = account_terms(product, principal=_plain(row.principal), activated_on=command.activated_on,
                              term=term, rate_percent=_plain(row.rate_percent))
        maturity = maturity_date(terms.activated_on, terms.term, terms.month_end_rule)
        entries = _entries(product, side.accounting, [_event(EventKind.DEPOSIT, Component.AMOUNT, row.principal,
                                                             row.currency, payment_type_id)],
                           office_id=row.office_id, value_date=command.activated_on, actor=actor,
                           account_id=account_id, description=description, entry_id=side.entry_id)
        await book_entries(uow, entries)
        await _insert_term(session, account_id, 1, row.product_id, row.product_version, row.principal, term,
                           row.rate_percent, row.base_rate_percent, row.incentives_applied, command.activated_on,
                           maturity, actor)
        await _insert_transactions(session, [_Txn(
            account_id=account_id, term_no=1, kind=TransactionKind.DEPOSIT, amount=row.principal,
            value_date=command.activated_on, payment_type_id=payment_type_id, entry_id=_entry_of(entries, 0),
            idempotency_key=command.idempotency_key, deposit_account_id=side.deposit_account_id)], actor)
        await _set_status(session, account_id, AccountStatus.ACTIVE, actor, current_term=1)
        view = await _view(session, account_id)
        await _commit(uow)
    return view


async def _insert_term(session: AsyncSession, account_id: int, term_no: int, product_id: int, version: int,
                       principal: Decimal, term: TermLength, rate: Decimal, base_rate: Decimal, incentives: Any,
                       starts_on: date, maturity: date, actor: str) -> None:
    await session.execute(text("""
        INSERT INTO term_deposit_term (account_id, term_no, product_id, product_version, principal, term_count,
            term_unit, rate_percent, base_rate_percent, incentives_applied, starts_on, maturity_date, created_by)
        VALUES (:id, :no, :product, :version, :principal, :count, :unit, :rate, :base, CAST(:incentives AS jsonb),
                :starts, :maturity, :actor)"""), {
        "id": account_id, "no": term_no, "product": product_id, "version": version, "principal": principal,
        "count": term.count, "unit": term.unit.value, "rate": rate, "base": base_rate,
        "incentives": msgspec.json.encode(incentives).decode(), "starts": starts_on, "maturity": maturity,
        "actor": actor})


class _StatusChange(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    status: AccountStatus
    current_term: int | None = None
    closed_on: date | None = None


async def _set_statuses(session: AsyncSession, changes: Sequence[_StatusChange], actor: str) -> None:
    """The status changes of a command or a whole batch, in one statement."""
    if not changes:
        return
    await session.execute(text("""
        UPDATE term_deposit_account a SET status = c.status, current_term = coalesce(c.term, a.current_term),
               closed_on = coalesce(c.closed_on, a.closed_on), version = a.version + 1, updated_at = now(),
               updated_by = :actor
          FROM unnest(CAST(:ids AS int[]), CAST(:statuses AS varchar[]), CAST(:terms AS int[]),
                      CAST(:closed AS date[])) AS c(id, status, term, closed_on)
         WHERE a.id = c.id"""), {
        "ids": [c.account_id for c in changes], "statuses": [c.status.value for c in changes],
        "terms": [c.current_term for c in changes], "closed": [c.closed_on for c in changes], "actor": actor})


async def _set_status(session: AsyncSession, account_id: int, status: AccountStatus, actor: str, *,
                      current_term: int | None = None, closed_on: date | None = None) -> None:
    await _set_statuses(session, [_StatusChange(account_id=account_id, status=status, current_term=current_term,
                                                closed_on=closed_on)], actor)


# --------------------------------------------------------------------------- maturity instruction

async def change_instruction(uow: UnitOfWork, account_id: int, instruction: MaturityInstruction,
                             payout: Settlement | None, actor: str, scope: OfficeScope,
                             expected_version: int | None = None) -> AccountView:
    async with uow:
        session = uow.session
        row = await _load_account(session, account_id, for_update=True, scope=scope)
        if expected_version is not None and expected_version != row.version:
            raise Conflict(f"term deposit {account_id} is at version {row.version}, not {expected_version}",
                           field="expected_version")
        if row.status not in (AccountStatus.PENDING.value, AccountStatus.ACTIVE.value, AccountStatus.HELD.value):
            raise Conflict(f"term deposit {account_id} is {row.status}", field="account_id")
        _, product = await _current_product(session, row.product_id)
        _check_instruction(product, instruction, payout)
        payout_type = payout.payment_type_id if payout is not None else None
        payout_account = payout.deposit_account_id if payout is not None else None
        if payout_type is not None:
            await _payment_type_account(session, payout_type, "payout.payment_type_id")
        if payout_account is not None:
            await _check_deposit_account(session, payout_account, row.client_id, row.currency,
                                         "payout.deposit_account_id")
        # A new payout replaces the old one: a payment type or a deposit account, never both.
        await session.execute(text("""
            UPDATE term_deposit_account SET maturity_instruction = :instruction,
                   payout_payment_type_id = CASE WHEN :changed THEN :payout ELSE payout_payment_type_id END,
                   payout_deposit_account_id = CASE WHEN :changed THEN :payout_account
                                                    ELSE payout_deposit_account_id END,
                   version = version + 1, updated_at = now(), updated_by = :actor WHERE id = :id"""),
            {"instruction": instruction.value, "payout": payout_type, "payout_account": payout_account,
             "changed": payout is not None, "actor": actor, "id": account_id})
        view = await _view(session, account_id)
        await _commit(uow)
    return view


# --------------------------------------------------------------------------- runs (servicing.term_deposits.runs)

def _terms_of(row: Any, product: TermDepositProduct, *, starts_on: date | None = None) -> TermDepositTerms:
    return account_terms(product, principal=_plain(row.principal), activated_on=starts_on or row.starts_on,
                         term=TermLength(count=row.term_count, unit=TermUnit(row.term_unit)),
                         rate_percent=_plain(row.rate_percent))


# --------------------------------------------------------------------------- premature closure

async def _closure(session: AsyncSession, row: Any, closed_on: date) -> tuple[TermDepositProduct, PrematureClosureQuote]:
    if row.status != AccountStatus.ACTIVE.value:
        raise Conflict(f"term deposit {row.id} is {row.status}: only an active deposit is closed early",
                       field="account_id")
    term_row = (await session.execute(text(
        "SELECT * FROM term_deposit_term WHERE account_id = :id AND term_no = :no"),
        {"id": row.id, "no": row.current_term})).one()
    product = (await _products(session, [(row.product_id, term_row.product_version)]))[
        (row.product_id, term_row.product_version)]
    posted = (await session.execute(text("""
        SELECT coalesce(sum(CASE kind WHEN 'interest' THEN amount ELSE -amount END), 0) AS interest,
               coalesce(sum(CASE kind WHEN 'interest' THEN withholding_tax ELSE -withholding_tax END), 0) AS tax
          FROM term_deposit_transaction WHERE account_id = :id AND term_no = :no
           AND kind IN ('interest', 'interest_clawback')"""), {"id": row.id, "no": row.current_term})).one()
    tax = await WithholdingTax.load(session)
    terms = msgspec.structs.replace(_terms_of(term_row, product), withholding_tax_percent=tax.percent_on(closed_on))
    quote = premature_closure(terms, closed_on, lock_in=lock_in(product), penalty=closure_penalty(product),
                              interest_posted_to_date=_plain(posted.interest),
                              withholding_tax_to_date=_plain(posted.tax))
    return product, quote


async def closure_quote(uow: UnitOfWork, account_id: int, closed_on: date, scope: OfficeScope) -> ClosureQuote:
    """The working of a premature closure on ``closed_on``. Writes nothing."""
    async with uow:
        row = await _load_account(uow.session, account_id, scope=scope)
        _, quote = await _closure(uow.session, row, closed_on)
    return ClosureQuote(account_id=account_id, quote=quote)


async def close_early(uow: UnitOfWork, account_id: int, command: CloseEarly, actor: str, scope: OfficeScope,
                      transfers: DepositAccountTransfers | None = None) -> AccountView:
    """Close before maturity: refused in the lock-in; otherwise interest recalculated at the
    penalised rate, the difference with what was posted posted (more owed) or clawed back
    (posted too much: the claw-back is the product's premature-closure penalty), and the
    amount paid by the payment type."""
    async with uow:
        session = uow.session
        row = await _load_account(session, account_id, for_update=True, scope=scope)
        if await _replayed(session, account_id, command.idempotency_key):
            return await _view(session, account_id)
        product, quote = await _closure(session, row, command.closed_on)
        common: dict[str, Any] = {"office_id": row.office_id, "value_date": command.closed_on, "actor": actor,
                                  "account_id": account_id}
        entries: list[JournalEntry] = []
        moves: list[_Txn] = []
        # The tax settles with the interest: withheld on interest still owed, refunded with a claw-back.
        tax_delta = quote.withholding_tax_to_withhold - quote.withholding_tax_to_refund
        if quote.interest_to_post > 0:
            withheld = max(tax_delta, _ZERO)
            assert withheld <= quote.interest_to_post, quote
            posting = _entries(product, product.accounting, [
                _event(EventKind.DEPOSIT_INTEREST_ACCRUAL, Component.INTEREST, quote.interest_to_post, row.currency),
                _parts_event(EventKind.INTEREST_POSTING, row.currency, [
                    (Component.INTEREST, quote.interest_to_post - withheld), (Component.WITHHOLDING_TAX, withheld)])],
                description=f"DAT {account_id} : intérêts jusqu'au retrait anticipé", **common)
            entries += posting
            moves.append(_Txn(account_id=account_id, term_no=row.current_term, kind=TransactionKind.INTEREST,
                              amount=quote.interest_to_post, value_date=command.closed_on,
                              period_end=command.closed_on, withholding_tax=withheld,
                              entry_id=_entry_of(posting, len(posting) - 1)))
            tax_delta -= withheld
        refund = -tax_delta
        assert refund >= 0, quote
        if quote.interest_to_claw_back > 0 or refund > 0:
            clawback = _entries(product, product.accounting, [_parts_event(
                EventKind.PREMATURE_CLOSURE_PENALTY, row.currency,
                [(Component.PENALTY, quote.interest_to_claw_back), (Component.WITHHOLDING_TAX, refund)])],
                description=f"DAT {account_id} : reprise d'intérêts (pénalité de retrait anticipé)", **common)
            entries += clawback
            moves.append(_Txn(account_id=account_id, term_no=row.current_term, kind=TransactionKind.INTEREST_CLAWBACK,
                              amount=quote.interest_to_claw_back, value_date=command.closed_on,
                              withholding_tax=refund, entry_id=_entry_of(clawback, 0)))
        description = f"DAT {account_id} : retrait anticipé"
        side = await _counterpart(uow, row, product, command.payout, "payout", amount=quote.amount_paid,
                                  value_date=command.closed_on, into_deposit_account=True, actor=actor,
                                  description=description, transfers=transfers)
        payout = _entries(product, side.accounting, [_event(EventKind.WITHDRAWAL, Component.AMOUNT,
                                                            quote.amount_paid, row.currency, side.payment_type_id)],
                          description=description, entry_id=side.entry_id, **common)
        entries += payout
        moves.append(_Txn(account_id=account_id, term_no=row.current_term, kind=TransactionKind.PAYOUT,
                          amount=quote.amount_paid, value_date=command.closed_on, payment_type_id=side.payment_type_id,
                          idempotency_key=command.idempotency_key, entry_id=_entry_of(payout, 0),
                          deposit_account_id=side.deposit_account_id))
        await book_entries(uow, entries)
        await _insert_transactions(session, moves, actor)
        await _set_status(session, account_id, AccountStatus.CLOSED_EARLY, actor, closed_on=command.closed_on)
        view = await _view(session, account_id)
        assert view.balance == 0, view.balance
        await _commit(uow)
    return view


# --------------------------------------------------------------------------- reconciliation

_DEPOSITS_BY_PRODUCT: Final = f"""
WITH balances AS (
    SELECT a.id, a.product_id, a.currency, coalesce(t.product_version, a.product_version) AS version,
           (SELECT {_BALANCE} FROM term_deposit_transaction x
             WHERE x.account_id = a.id AND x.value_date <= :as_of) AS balance
      FROM term_deposit_account a
      LEFT JOIN term_deposit_term t ON t.account_id = a.id AND t.term_no = a.current_term
     WHERE a.opened_on <= :as_of AND {{scope}}
)
SELECT b.product_id, b.currency, g.id AS gl_account_id, g.code, count(*) AS accounts, sum(b.balance) AS total
  FROM balances b
  LEFT JOIN product_version_account pva ON pva.product_id = b.product_id AND pva.version = b.version
                                       AND pva.role = '{AccountingRole.DEPOSIT_CONTROL.value}'
  LEFT JOIN gl_account g ON g.id = pva.gl_account_id
 GROUP BY b.product_id, b.currency, g.id, g.code
 ORDER BY b.product_id, b.currency, g.code
"""


async def reconciliation(uow: UnitOfWork, as_of: date, scope: OfficeScope) -> Reconciliation:
    """Per product and currency, the sum of the deposits; per control account and currency, that
    sum against the account's GL balance (credit minus debit) as of the date. An account that
    other products also use (a shared control account) shows their movements as a difference."""
    params: dict[str, Any] = {"as_of": as_of}
    if scope.whole_institution:
        condition, office_ids = "true", None
    else:
        condition = scope.sql_condition("a.office_id")
        params["scope_office_id"] = scope.office_id
        office_ids = sorted(scope.office_ids)
    async with uow:
        rows = (await uow.session.execute(text(_DEPOSITS_BY_PRODUCT.format(scope=condition)), params)).all()
        account_ids = sorted({r.gl_account_id for r in rows if r.gl_account_id is not None})
        totals = await account_totals(uow.session, through=as_of, account_ids=account_ids,
                                      office_ids=office_ids) if account_ids else []
    gl: dict[tuple[int, str], Decimal] = {}
    for total in totals:
        key = (total.account_id, total.currency)
        gl[key] = gl.get(key, _ZERO) + total.credit_total - total.debit_total
    by_product = tuple(ProductDeposits(product_id=r.product_id, currency=r.currency, control_account_code=r.code,
                                       accounts=r.accounts, deposits_total=_plain(r.total)) for r in rows)
    grouped: dict[tuple[int | None, str | None, str], list[Any]] = {}
    for r in rows:
        grouped.setdefault((r.gl_account_id, r.code, r.currency), []).append(r)
    by_account = []
    for (gl_account_id, code, currency), members in sorted(grouped.items(), key=lambda i: (i[0][1] or "", i[0][2])):
        deposits = sum((m.total for m in members), _ZERO)
        balance = gl.get((gl_account_id, currency), _ZERO) if gl_account_id is not None else _ZERO
        by_account.append(ReconciliationRow(
            control_account_code=code, currency=currency, products=tuple(sorted({m.product_id for m in members})),
            accounts=sum(m.accounts for m in members), deposits_total=_plain(deposits), gl_balance=_plain(balance),
            difference=_plain(balance - deposits), reconciled=balance == deposits))
    return Reconciliation(as_of=as_of, reconciled=all(r.reconciled for r in by_account),
                          by_control_account=tuple(by_account), by_product=by_product)


# --------------------------------------------------------------------------- maturity ladder

async def maturity_ladder_report(uow: UnitOfWork, as_of: date, scope: OfficeScope, *, weeks: int = 13,
                                 months: int = 12) -> MaturityLadder:
    """What falls due, week by week and month by month (M10.2): each active deposit at its
    projected maturity amount on its maturity date; held deposits (matured, waiting) at their
    balance, as overdue."""
    if not 1 <= weeks <= WEEKS_MAX:
        raise InvalidInput(f"weeks must be between 1 and {WEEKS_MAX}", field="weeks")
    if not 1 <= months <= MONTHS_MAX:
        raise InvalidInput(f"months must be between 1 and {MONTHS_MAX}", field="months")
    params: dict[str, Any] = {}
    condition = "true"
    if not scope.whole_institution:
        condition = scope.sql_condition("a.office_id")
        params["scope_office_id"] = scope.office_id
    async with uow:
        rows = (await uow.session.execute(text(f"""
            SELECT a.id, a.status, a.currency, a.product_id, t.product_version, t.principal, t.term_count,
                   t.term_unit, t.rate_percent, t.starts_on, t.maturity_date,
                   (SELECT {_BALANCE} FROM term_deposit_transaction x WHERE x.account_id = a.id) AS balance
              FROM term_deposit_account a
              JOIN term_deposit_term t ON t.account_id = a.id AND t.term_no = a.current_term
             WHERE a.status IN ('active', 'held') AND {condition}"""), params)).all()
        products = await _products(uow.session, {(r.product_id, r.product_version) for r in rows})
    deposits = []
    for row in rows:
        if row.status == AccountStatus.HELD.value:
            due = _plain(row.balance)
        else:
            due = project_term_deposit(_terms_of(row, products[(row.product_id, row.product_version)])).maturity_amount
        deposits.append(MaturingDeposit(maturity_date=row.maturity_date, amount_due=due, currency=row.currency))
    return maturity_ladder(deposits, as_of, weeks=weeks, months=months)


# --------------------------------------------------------------------------- statement

async def statement(uow: UnitOfWork, account_id: int, scope: OfficeScope) -> Statement:
    """Every transaction in order with the running balance; a renewal shows as a line moving
    no money; the tax withheld on interest shows as its own debit line after the gross
    interest (a tax refunded with a premature-closure claw-back, as a credit line)."""
    moves = await transactions(uow, account_id, scope)
    account = await get_account(uow, account_id, scope)
    balance, lines = _ZERO, []
    for move in moves:
        signed_amounts = [(move.kind, BALANCE_SIGN[move.kind] * move.amount)]
        if move.withholding_tax:  # withheld with interest, refunded with a claw-back
            tax_sign = -1 if move.kind is TransactionKind.INTEREST else 1
            signed_amounts.append((TransactionKind.WITHHOLDING_TAX, tax_sign * move.withholding_tax))
        for kind, signed in signed_amounts:
            balance += signed
            lines.append(StatementLine(value_date=move.value_date, term_no=move.term_no, kind=kind,
                                       credit=signed if signed > 0 else _ZERO, debit=-signed if signed < 0 else _ZERO,
                                       balance=balance, entry_id=move.entry_id))
    return Statement(account=account, lines=tuple(lines))

