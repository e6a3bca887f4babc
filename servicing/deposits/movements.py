"""Money movements of deposit accounts: deposit, withdrawal (with its fees), transfer.

One unit of work per command: lock the account row (SELECT ... FOR UPDATE, so concurrent
withdrawals queue and each sees the balance the previous one left), ask the pure core
(`check_deposit`, `check_withdrawal`), build the journal entry from the product's posting
rules, book it with `book_entries` in the same transaction, append the account transactions
and store the new cached balance, commit once. A refusal raises before anything is written.

Idempotency: a key is unique per account. The same key with the same request replays the
original answer (the transactions it wrote); with another request it is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.errors import IdempotencyConflict
from ledger.model import JournalEntry
from products.deposits import (
    AccountBalances,
    AccountState,
    MovementRefused,
    RefusalReason,
    TransactionKind,
    WithdrawalFee,
    WithdrawalRules,
    check_deposit,
    check_withdrawal,
)
from products.posting_rules import EventKind
from servicing.deposits import posting
from servicing.deposits import repository as repo
from servicing.deposits.commands import (
    Deposit,
    MovementRefusedError,
    Transfer,
    Withdraw,
    fingerprint,
)
from servicing.deposits.terms import AccountRules, ProductTerms, product_terms, today
from servicing.errors import InvalidInput, NotFound, translate_database_error
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork


class MovementResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a movement wrote: its transactions (on one or two accounts) and the journal entry."""

    journal_entry_id: UUID | None
    transactions: tuple[repo.TransactionRecord, ...]
    replayed: bool = False


def _value_date(requested: date | None, account: repo.AccountRow) -> date:
    day = requested or today()
    if day > today():
        raise InvalidInput("a movement cannot be value-dated in the future", field="value_date")
    if account.activated_on is not None and day < account.activated_on:
        raise InvalidInput(f"the account was activated on {account.activated_on}", field="value_date")
    return day


async def _payment_type(uow: UnitOfWork, payment_type_id: int | None) -> None:
    if payment_type_id is None:
        return
    active = await uow.session.scalar(text("SELECT active FROM payment_type WHERE id = :id"), {"id": payment_type_id})
    if active is None:
        raise NotFound(f"unknown payment type {payment_type_id}", field="payment_type_id")
    if not active:
        raise InvalidInput(f"payment type {payment_type_id} is disabled", field="payment_type_id")


async def _replay(uow: UnitOfWork, account_id: int, key: str | None, request_fingerprint: str) -> MovementResult | None:
    if key is None:
        return None
    recorded, transactions = await repo.transactions_by_key(uow.session, account_id, key)
    if recorded is None:
        return None
    if recorded != request_fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body", field="idempotency_key")
    return MovementResult(journal_entry_id=transactions[0].journal_entry_id, transactions=tuple(transactions),
                          replayed=True)


def _state(account: repo.AccountRow) -> AccountState:
    return AccountState(status=account.status,
                        balances=AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold))


def _rules(account: repo.AccountRow) -> AccountRules:
    return AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=account.overdraft_limit)


async def _commit(uow: UnitOfWork) -> None:
    try:
        await uow.commit()
    except DBAPIError as error:
        raise translate_database_error(error) or error from error


async def _finish(uow: UnitOfWork, new: Sequence[repo.NewTransaction], balances: dict[int, Decimal], actor: str,
                  entry_id: UUID | None, entries: Sequence[JournalEntry]) -> MovementResult:
    """Append the transactions and the new balances, book the entry, commit: all or nothing.
    The key was checked under the account's lock, so no other request can hold it now. The
    entry is booked last: it locks the office's journal chain and the GL balances every
    movement shares, so they are held for the shortest time."""
    try:
        records = await repo.insert_transactions(uow.session, new)
        await repo.set_balances(uow.session, balances, actor)
    except DBAPIError as error:
        raise translate_database_error(error) or error from error
    await book_entries(uow, entries)
    await _commit(uow)
    return MovementResult(journal_entry_id=entry_id, transactions=tuple(records))


async def deposit(uow: UnitOfWork, command: Deposit, *, scope: OfficeScope | None = None) -> MovementResult:
    request_fingerprint = fingerprint(command)
    async with uow:
        account = await repo.load_account(uow.session, command.account_id, scope=scope, for_update=True)
        replayed = await _replay(uow, account.account_id, command.idempotency_key, request_fingerprint)
        if replayed is not None:
            return replayed
        terms = await product_terms(uow.session, account.product_id, account.product_version)
        value_date = _value_date(command.value_date, account)
        await _payment_type(uow, command.payment_type_id)
        checked = check_deposit(_state(account), command.amount, value_date, terms.rounder)
        if isinstance(checked, MovementRefused):
            raise MovementRefusedError(checked)
        funds, overdraft = posting.credit_split(account.balance, command.amount)
        entry_id = uuid7()
        description = command.description or f"Versement compte {account.account_id}"
        lines = posting.movement_lines([(terms, posting.money_event(
            EventKind.DEPOSIT, terms, funds, overdraft, command.payment_type_id))])
        entry = posting.movement_entry(lines, entry_id=entry_id, office_id=account.office_id, value_date=value_date,
                                       description=description, actor=command.actor, account_id=account.account_id)
        balance = account.balance + command.amount
        new = [repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.DEPOSIT, amount=command.amount, balance_after=balance,
            value_date=value_date, actor=command.actor, description=description,
            payment_type_id=command.payment_type_id, journal_entry_id=entry and entry_id,
            idempotency_key=command.idempotency_key, request_fingerprint=request_fingerprint)]
        return await _finish(uow, new, {account.account_id: balance}, command.actor, entry and entry_id,
                             [entry] if entry else [])


def _check_withdrawal(account: repo.AccountRow, terms: ProductTerms, amount: Decimal, value_date: date,
                      fees: list[tuple[int, Decimal]]) -> None:
    fee_total = sum((fee for _charge, fee in fees), Decimal(0))
    rules = WithdrawalRules(balance=_rules(account).balance_rules(),
                            fee=WithdrawalFee(flat_amount=fee_total) if fee_total else None)
    checked = check_withdrawal(_state(account), amount, value_date, rules, terms.rounder)
    if isinstance(checked, MovementRefused):
        raise MovementRefusedError(checked)


async def withdraw(uow: UnitOfWork, command: Withdraw, *, scope: OfficeScope | None = None) -> MovementResult:
    request_fingerprint = fingerprint(command)
    async with uow:
        account = await repo.load_account(uow.session, command.account_id, scope=scope, for_update=True)
        replayed = await _replay(uow, account.account_id, command.idempotency_key, request_fingerprint)
        if replayed is not None:
            return replayed
        terms = await product_terms(uow.session, account.product_id, account.product_version)
        value_date = _value_date(command.value_date, account)
        await _payment_type(uow, command.payment_type_id)
        fees = terms.fees_for(command.amount) if command.amount > 0 and command.amount.is_finite() else []
        _check_withdrawal(account, terms, command.amount, value_date, fees)
        # The fees are taken from the client's funds first (the rules post a fee to the deposit
        # control account only), then the withdrawal from what is left, then from the overdraft.
        fee_total = sum((fee for _charge, fee in fees), Decimal(0))
        funds, overdraft = posting.debit_split(account.balance - fee_total, command.amount)
        entry_id = uuid7()
        description = command.description or f"Retrait compte {account.account_id}"
        lines = posting.movement_lines([
            (terms, posting.money_event(EventKind.WITHDRAWAL, terms, funds, overdraft, command.payment_type_id)),
            (terms, posting.fee_event(terms, fees)),
        ])
        entry = posting.movement_entry(lines, entry_id=entry_id, office_id=account.office_id, value_date=value_date,
                                       description=description, actor=command.actor, account_id=account.account_id)
        posted_id = entry and entry_id
        balance = account.balance - command.amount
        new = [repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.WITHDRAWAL, amount=command.amount,
            balance_after=balance, value_date=value_date, actor=command.actor, description=description,
            payment_type_id=command.payment_type_id, journal_entry_id=posted_id,
            idempotency_key=command.idempotency_key, request_fingerprint=request_fingerprint)]
        for index, (charge_id, fee) in enumerate(fees):
            balance -= fee
            new.append(repo.NewTransaction(
                account_id=account.account_id, kind=TransactionKind.FEE, amount=fee, balance_after=balance,
                value_date=value_date, actor=command.actor, description=f"Frais de retrait (charge {charge_id})",
                charge_id=charge_id, journal_entry_id=posted_id,
                idempotency_key=f"{command.idempotency_key}#fee{index}" if command.idempotency_key else None))
        return await _finish(uow, new, {account.account_id: balance}, command.actor, posted_id,
                             [entry] if entry else [])


async def transfer(uow: UnitOfWork, command: Transfer, *, scope: OfficeScope | None = None) -> MovementResult:
    """One journal entry, a withdrawal on one account and a deposit on the other."""
    if command.from_account_id == command.to_account_id:
        raise InvalidInput("a transfer goes to another account", field="to_account_id")
    request_fingerprint = fingerprint(command)
    async with uow:
        locked = await repo.lock_accounts(uow.session, [command.from_account_id, command.to_account_id])
        source = locked.get(command.from_account_id)
        target = locked.get(command.to_account_id)
        for field, account in (("from_account_id", source), ("to_account_id", target)):
            if account is None or (scope is not None and field == "from_account_id"
                                   and not scope.includes(account.office_id)):
                raise NotFound(f"unknown deposit account {getattr(command, field)}", field=field)
        assert source is not None and target is not None
        replayed = await _replay(uow, source.account_id, command.idempotency_key, request_fingerprint)
        if replayed is not None:
            return replayed
        if target.currency != source.currency:
            raise InvalidInput(f"account {target.account_id} is in {target.currency}, not {source.currency}",
                               field="to_account_id")
        source_terms = await product_terms(uow.session, source.product_id, source.product_version)
        target_terms = await product_terms(uow.session, target.product_id, target.product_version)
        value_date = _value_date(command.value_date, source)
        value_date = max(value_date, _value_date(value_date, target))
        _check_withdrawal(source, source_terms, command.amount, value_date, [])
        credited = check_deposit(_state(target), command.amount, value_date, target_terms.rounder)
        if isinstance(credited, MovementRefused):
            raise MovementRefusedError(credited, field="to_account_id" if credited.field == "account" else None)
        entry_id = uuid7()
        description = command.description or f"Virement {source.account_id} -> {target.account_id}"
        out_funds, out_overdraft = posting.debit_split(source.balance, command.amount)
        in_funds, in_overdraft = posting.credit_split(target.balance, command.amount)
        lines = posting.movement_lines([
            (source_terms, posting.money_event(EventKind.WITHDRAWAL, source_terms, out_funds, out_overdraft, None)),
            (target_terms, posting.money_event(EventKind.DEPOSIT, target_terms, in_funds, in_overdraft, None)),
        ])
        entry = posting.movement_entry(lines, entry_id=entry_id, office_id=source.office_id, value_date=value_date,
                                       description=description, actor=command.actor, account_id=source.account_id)
        posted_id = entry and entry_id
        source_balance = source.balance - command.amount
        target_balance = target.balance + command.amount
        key = command.idempotency_key
        new = [
            repo.NewTransaction(
                account_id=source.account_id, kind=TransactionKind.WITHDRAWAL, amount=command.amount,
                balance_after=source_balance, value_date=value_date, actor=command.actor, description=description,
                counterpart_account_id=target.account_id, journal_entry_id=posted_id, idempotency_key=key,
                request_fingerprint=request_fingerprint),
            repo.NewTransaction(
                account_id=target.account_id, kind=TransactionKind.DEPOSIT, amount=command.amount,
                balance_after=target_balance, value_date=value_date, actor=command.actor, description=description,
                counterpart_account_id=source.account_id, journal_entry_id=posted_id,
                idempotency_key=f"{key}#in" if key else None),
        ]
        return await _finish(uow, new, {source.account_id: source_balance, target.account_id: target_balance},
                             command.actor, posted_id, [entry] if entry else [])


def refusal(reason: RefusalReason, field: str, message: str) -> MovementRefusedError:
    return MovementRefusedError(MovementRefused(reason=reason, field=field, message=message))


