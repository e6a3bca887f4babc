"""Deposit account lifecycle: open, activate, freeze/unfreeze, block/unblock, close, and
holds (guarantee, cash collateral, legal). None of these moves money; each is one unit of
work on the locked account row.

Opening takes the product's current version (kept for the account's life), its defaults,
and the overrides the product allows: a rate of its own, an overdraft up to the product's
limit, a minimum balance at least the product's. The client must be active and its KYC file
complete (`servicing.clients.kyc`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.limits import PAGE_SIZE_MAX
from products.deposits import AccountBalances, AccountStatus, TransactionKind, available_balance
from products.deposits.dormancy import is_dormant, last_activity
from products.posting_rules import ProductKind
from servicing.clients.kyc import require_kyc_complete
from servicing.deposits import repository as repo
from servicing.deposits.commands import AccountStateConflict, OpenDepositAccount, PlaceHold, StatusAction
from servicing.deposits.terms import AccountRules, product_terms, today
from servicing.errors import Conflict, InvalidInput, NotFound, translate_database_error
from servicing.products.service import product_for_new_account
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

TRANSACTIONS_LISTED_MAX: Final = PAGE_SIZE_MAX
RATE_PERCENT_MAX: Final = Decimal(100)
"""An account's own rate: a deposit earning more than 100 % a year is a typing mistake."""

_TRANSITIONS: Final[dict[StatusAction, tuple[frozenset[AccountStatus], AccountStatus]]] = {
    StatusAction.FREEZE: (frozenset({AccountStatus.ACTIVE}), AccountStatus.FROZEN),
    StatusAction.UNFREEZE: (frozenset({AccountStatus.FROZEN}), AccountStatus.ACTIVE),
    StatusAction.BLOCK: (frozenset({AccountStatus.ACTIVE, AccountStatus.FROZEN}), AccountStatus.BLOCKED),
    StatusAction.UNBLOCK: (frozenset({AccountStatus.BLOCKED}), AccountStatus.ACTIVE),
}
"""Frozen: debits refused, credits accepted (a dispute, a court order). Blocked: nothing moves."""


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    """An account with its derived figures."""

    account: repo.AccountRow
    available_balance: Decimal
    dormant: bool = False
    """No movement of the client for longer than the product's dormancy days (withdrawals refused)."""


class HoldRecord(msgspec.Struct, frozen=True, kw_only=True):
    hold_id: int
    account_id: int
    amount: Decimal
    reason: str
    description: str
    placed_on: date
    placed_by: str
    released_on: date | None
    released_by: str | None


def view(account: repo.AccountRow, dormancy_days: int | None = None) -> AccountView:
    balances = AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold)
    rules = AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=account.overdraft_limit)
    available = available_balance(balances, rules.balance_rules()) if account.status is AccountStatus.ACTIVE else \
        Decimal(0)
    dormant = account.status is not AccountStatus.CLOSED and is_dormant(
        last_activity(account.last_client_movement_on, account.activated_on), today(), dormancy_days)
    return AccountView(account=account, available_balance=max(available, Decimal(0)), dormant=dormant)


async def _view(session: AsyncSession, account: repo.AccountRow) -> AccountView:
    terms = await product_terms(session, account.product_id, account.product_version)
    return view(account, terms.product.dormancy_days)


async def _commit(uow: UnitOfWork) -> None:
    try:
        await uow.commit()
    except DBAPIError as error:
        raise translate_database_error(error) or error from error


def _check_override(field: str, value: Decimal, decimals: int) -> None:
    if not value.is_finite() or value < 0:
        raise InvalidInput(f"{field} must not be negative", field=field)
    if value != value.quantize(Decimal(1).scaleb(-decimals)):
        raise InvalidInput(f"{field} has at most {decimals} decimals", field=field)


async def open_account(uow_factory: UnitOfWorkFactory, command: OpenDepositAccount, *,
                       scope: OfficeScope | None = None) -> AccountView:
    opened_on = command.opened_on or today()
    if opened_on > today():
        raise InvalidInput("an account cannot be opened in the future", field="opened_on")
    record = await product_for_new_account(uow_factory(), ProductKind.DEPOSIT, command.product_id, opened_on)
    async with uow_factory() as uow:
        session = uow.session
        client = (await session.execute(text("SELECT office_id, status FROM client WHERE id = :id"),
                                        {"id": command.client_id})).one_or_none()
        if client is None or (scope is not None and not scope.includes(client.office_id)):
            raise NotFound(f"unknown client {command.client_id}", field="client_id")
        if client.status != "active":
            raise Conflict(f"client {command.client_id} is {client.status}: only an active client opens an account",
                           field="client_id")
        await require_kyc_complete(uow, command.client_id, on=opened_on)
        terms = await product_terms(session, record.product_id, record.version)
        product = terms.product
        decimals = terms.rounder.decimals
        rate = product.interest_rate_annual_percent
        if command.interest_rate_annual_percent is not None:
            rate = command.interest_rate_annual_percent
            if not rate.is_finite() or not Decimal(0) <= rate <= RATE_PERCENT_MAX:
                raise InvalidInput(f"interest_rate_annual_percent must be between 0 and {RATE_PERCENT_MAX}",
                                   field="interest_rate_annual_percent")
        product_limit = product.overdraft.limit_amount if product.overdraft else Decimal(0)
        overdraft = product_limit if command.overdraft_limit is None else command.overdraft_limit
        _check_override("overdraft_limit", overdraft, decimals)
        if overdraft > product_limit:
            raise InvalidInput(f"the product allows an overdraft of at most {product_limit}", field="overdraft_limit")
        minimum = product.minimum_balance if command.minimum_balance is None else command.minimum_balance
        _check_override("minimum_balance", minimum, decimals)
        if minimum < product.minimum_balance:
            raise InvalidInput(f"the product's minimum balance is {product.minimum_balance}", field="minimum_balance")
        if minimum > 0 and overdraft > 0:
            raise InvalidInput("an account with a minimum balance cannot be overdrawn", field="overdraft_limit")
        account_id = await session.scalar(text(
            "INSERT INTO deposit_account (client_id, product_id, product_version, currency, office_id,"
            " interest_rate_annual_percent, overdraft_limit, minimum_balance, opened_on, created_by, updated_by)"
            " VALUES (:client_id, :product_id, :version, :currency, :office_id, :rate, :overdraft, :minimum,"
            " :opened_on, :actor, :actor) RETURNING id"),
            {"client_id": command.client_id, "product_id": record.product_id, "version": record.version,
             "currency": product.currency, "office_id": client.office_id, "rate": rate, "overdraft": overdraft,
             "minimum": minimum, "opened_on": opened_on, "actor": command.actor})
        assert account_id is not None
        opened = await _view(session, await repo.load_account(session, account_id))
        await _commit(uow)
    return opened


async def activate(uow: UnitOfWork, account_id: int, actor: str, *, activated_on: date | None = None,
                   scope: OfficeScope | None = None) -> AccountView:
    async with uow:
        account = await repo.load_account(uow.session, account_id, scope=scope, for_update=True)
        if account.status is not AccountStatus.PENDING:
            raise AccountStateConflict(f"account {account_id} is {account.status.value}, not pending", field="status")
        day = activated_on or today()
        if day > today() or day < account.opened_on:
            raise InvalidInput(f"activated_on must be between {account.opened_on} and today", field="activated_on")
        await uow.session.execute(text(
            "UPDATE deposit_account SET status = 'active', activated_on = :day, updated_at = now(), updated_by = :actor"
            " WHERE id = :id"), {"id": account_id, "day": day, "actor": actor})
        updated = await _view(uow.session, await repo.load_account(uow.session, account_id))
        await _commit(uow)
    return updated


async def change_status(uow: UnitOfWork, account_id: int, action: StatusAction, actor: str, reason: str | None, *,
                        scope: OfficeScope | None = None) -> AccountView:
    allowed_from, target = _TRANSITIONS[action]
    if action in (StatusAction.FREEZE, StatusAction.BLOCK) and not (reason and reason.strip()):
        raise InvalidInput(f"to {action.value} an account, say why", field="reason")
    async with uow:
        account = await repo.load_account(uow.session, account_id, scope=scope, for_update=True)
        if account.status not in allowed_from:
            raise AccountStateConflict(
                f"account {account_id} is {account.status.value}: it cannot {action.value}", field="status")
        await uow.session.execute(text(
            "UPDATE deposit_account SET status = :status, status_reason = :reason, updated_at = now(),"
            " updated_by = :actor WHERE id = :id"),
            {"id": account_id, "status": target.value, "reason": reason, "actor": actor})
        updated = await _view(uow.session, await repo.load_account(uow.session, account_id))
        await _commit(uow)
    return updated


async def reactivate(uow: UnitOfWork, account_id: int, actor: str, *,
                     scope: OfficeScope | None = None) -> AccountView:
    """Wake a dormant account (after checking the client's identity): dormancy counts again from
    today, so withdrawals are accepted. An account that is not dormant is refused (409). The
    reason given with the request is kept in the audit log."""
    async with uow:
        account = await repo.load_account(uow.session, account_id, scope=scope, for_update=True)
        if not (await _view(uow.session, account)).dormant:
            raise AccountStateConflict(f"account {account_id} is not dormant", field="status")
        await uow.session.execute(text(
            "UPDATE deposit_account SET last_client_movement_on = :day, updated_at = now(), updated_by = :actor"
            " WHERE id = :id"), {"id": account_id, "day": today(), "actor": actor})
        updated = await _view(uow.session, await repo.load_account(uow.session, account_id))
        await _commit(uow)
    return updated


async def close(uow: UnitOfWork, account_id: int, actor: str, reason: str | None, *,
                scope: OfficeScope | None = None) -> AccountView:
    """Close an account with nothing left on it: zero balance, no hold. A pending account
    (never activated) is simply closed."""
    async with uow:
        account = await repo.load_account(uow.session, account_id, scope=scope, for_update=True)
        if account.status in (AccountStatus.CLOSED, AccountStatus.BLOCKED):
            raise AccountStateConflict(f"account {account_id} is {account.status.value}: it cannot be closed",
                                       field="status")
        if account.balance != 0:
            raise AccountStateConflict(f"the balance is {account.balance}: withdraw or transfer it first",
                                       field="balance")
        if account.on_hold:
            raise AccountStateConflict(f"{account.on_hold} is on hold: release the holds first", field="holds")
        await uow.session.execute(text(
            "UPDATE deposit_account SET status = 'closed', closed_on = :day, status_reason = :reason,"
            " updated_at = now(), updated_by = :actor WHERE id = :id"),
            {"id": account_id, "day": today(), "reason": reason, "actor": actor})
        updated = await _view(uow.session, await repo.load_account(uow.session, account_id))
        await _commit(uow)
    return updated


# --------------------------------------------------------------------------- holds

_HOLD_COLUMNS: Final = ("id AS hold_id, account_id, amount, reason, description, placed_on, placed_by, released_on,"
                        " released_by")


def _hold(row: object) -> HoldRecord:
    values = dict(row._mapping)  # type: ignore[attr-defined]
    values["amount"] = repo._plain(values["amount"])
    return msgspec.convert(values, HoldRecord, strict=False)


async def place_hold(uow: UnitOfWork, command: PlaceHold, *, scope: OfficeScope | None = None) -> HoldRecord:
    """Set an amount aside (guarantee of a loan, cash collateral, court order): it stays in the
    balance but leaves the available balance. It must be covered by the available balance."""
    async with uow:
        account = await repo.load_account(uow.session, command.account_id, scope=scope, for_update=True)
        if account.status not in (AccountStatus.ACTIVE, AccountStatus.FROZEN):
            raise AccountStateConflict(f"account {account.account_id} is {account.status.value}", field="status")
        terms = await product_terms(uow.session, account.product_id, account.product_version)
        amount = command.amount
        if not amount.is_finite() or amount <= 0:
            raise InvalidInput("amount must be greater than zero", field="amount")
        if amount != amount.quantize(terms.rounder.quantum):
            raise InvalidInput(f"amounts have {terms.rounder.decimals} decimal(s)", field="amount")
        balances = AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold)
        rules = AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=Decimal(0))
        available = available_balance(balances, rules.balance_rules())
        if amount > available:
            raise InvalidInput(f"only {max(available, Decimal(0))} can be held", field="amount")
        day = today()
        row = (await uow.session.execute(text(
            f"INSERT INTO deposit_hold (account_id, amount, reason, description, placed_on, placed_by)"
            f" VALUES (:account_id, :amount, :reason, :description, :day, :actor) RETURNING {_HOLD_COLUMNS}"),
            {"account_id": account.account_id, "amount": amount, "reason": command.reason.value,
             "description": command.description, "day": day, "actor": command.actor})).one()
        hold = _hold(row)
        await repo.insert_transactions(uow.session, [repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.HOLD_PLACED, amount=amount,
            balance_after=account.balance, value_date=day, actor=command.actor, hold_id=hold.hold_id,
            description=f"Blocage ({command.reason.value}) {command.description}".strip())])
        await _commit(uow)
    return hold


async def release_hold(uow: UnitOfWork, account_id: int, hold_id: int, actor: str, *,
                       scope: OfficeScope | None = None) -> HoldRecord:
    async with uow:
        account = await repo.load_account(uow.session, account_id, scope=scope, for_update=True)
        row = (await uow.session.execute(text(
            f"UPDATE deposit_hold SET released_on = :day, released_by = :actor, released_at = now()"
            f" WHERE id = :hold_id AND account_id = :account_id AND released_on IS NULL AND approval_id IS NULL"
            f" RETURNING {_HOLD_COLUMNS}"),
            {"day": today(), "actor": actor, "hold_id": hold_id, "account_id": account_id})).one_or_none()
        if row is None:
            known = (await uow.session.execute(text(
                "SELECT released_on, approval_id FROM deposit_hold WHERE id = :hold_id AND account_id = :account_id"),
                {"hold_id": hold_id, "account_id": account_id})).one_or_none()
            if known is None:
                raise NotFound(f"account {account_id} has no hold {hold_id}", field="hold_id")
            if known.released_on is None:  # funds kept for a movement waiting for approval
                raise AccountStateConflict(f"hold {hold_id} keeps the funds of command {known.approval_id} waiting for "
                                           "approval: approve or reject it (/api/v1/approvals)", field="hold_id")
            raise AccountStateConflict(f"hold {hold_id} was released on {known.released_on}", field="hold_id")
        hold = _hold(row)
        await repo.insert_transactions(uow.session, [repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.HOLD_RELEASED, amount=hold.amount,
            balance_after=account.balance, value_date=today(), actor=actor, hold_id=hold_id,
            description="Levée de blocage")])
        await _commit(uow)
    return hold


# --------------------------------------------------------------------------- queries

async def get_account(uow: UnitOfWork, account_id: int, *, scope: OfficeScope | None = None) -> AccountView:
    async with uow:
        return await _view(uow.session, await repo.load_account(uow.session, account_id, scope=scope))


async def list_accounts(uow: UnitOfWork, *, scope: OfficeScope, client_id: int | None = None,
                        status: AccountStatus | None = None, after_id: int = 0,
                        limit: int = PAGE_SIZE_MAX) -> list[AccountView]:
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    conditions = ["a.id > :after_id"]
    params: dict[str, object] = {"after_id": after_id, "limit": limit, "scope_office_id": scope.office_id}
    if not scope.whole_institution:
        conditions.append(scope.sql_condition("a.office_id"))
    if client_id is not None:
        conditions.append("a.client_id = :client_id")
        params["client_id"] = client_id
    if status is not None:
        conditions.append("a.status = :status")
        params["status"] = status.value
    async with uow:
        rows = (await uow.session.execute(text(
            f"SELECT {repo.ACCOUNT_COLUMNS} FROM deposit_account a WHERE {' AND '.join(conditions)}"
            " ORDER BY a.id LIMIT :limit"), params)).all()
        return [await _view(uow.session, repo.account_from(row)) for row in rows]


async def list_holds(uow: UnitOfWork, account_id: int, *, scope: OfficeScope | None = None) -> list[HoldRecord]:
    async with uow:
        await repo.load_account(uow.session, account_id, scope=scope)
        rows = (await uow.session.execute(text(
            f"SELECT {_HOLD_COLUMNS} FROM deposit_hold WHERE account_id = :id ORDER BY id"), {"id": account_id})).all()
    return [_hold(row) for row in rows]


async def list_transactions(uow: UnitOfWork, account_id: int, *, scope: OfficeScope | None = None, after_id: int = 0,
                            limit: int = TRANSACTIONS_LISTED_MAX) -> list[repo.TransactionRecord]:
    assert 1 <= limit <= TRANSACTIONS_LISTED_MAX, limit
    async with uow:
        await repo.load_account(uow.session, account_id, scope=scope)
        rows = (await uow.session.execute(text(
            f"SELECT {repo.TRANSACTION_COLUMNS} FROM deposit_transaction t WHERE t.account_id = :id AND t.id > :after"
            " ORDER BY t.id LIMIT :limit"), {"id": account_id, "after": after_id, "limit": limit})).all()
    return [repo.transaction_from(row) for row in rows]
