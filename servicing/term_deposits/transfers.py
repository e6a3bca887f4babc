"""Money between a term deposit and its client's deposit (current/savings) account.

`DepositAccountLink.move` is the `DepositAccountTransfers` seam wired to `servicing.deposits`:
in the caller's unit of work it locks the deposit account, checks it belongs to the same client,
is in the same currency and open, and (money leaving it) that its balance allows the withdrawal
(minimum balance, overdraft limit, holds: the deposit product's own rules), then appends the
deposit account's transaction (naming the term deposit's journal entry) and stores its new
balance. It answers the deposit product's control account: the term deposit's entry uses it in
place of the fund source, so the transfer is ONE balanced entry (funding: debit the deposit
product's control, credit the term-deposit control; payout: the reverse). Refusals are 422
problems naming the field (``source.deposit_account_id`` / ``payout.deposit_account_id``).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID

from products.deposits import (
    AccountBalances,
    AccountState,
    MovementRefused,
    TransactionKind,
    WithdrawalRules,
    check_withdrawal,
)
from servicing.deposits import repository as repo
from servicing.deposits.terms import AccountRules, product_terms, today
from servicing.errors import InvalidInput
from servicing.unit_of_work import UnitOfWork

OPEN_STATUSES: Final = frozenset({"active"})


class DepositAccountLink:
    """Transfers between term deposits and deposit accounts, through `servicing.deposits`."""

    async def move(self, uow: UnitOfWork, *, deposit_account_id: int, client_id: int, amount: Decimal,
                   currency: str, value_date: date, into_deposit_account: bool, actor: str, field: str,
                   entry_id: UUID | None, description: str) -> str | None:
        session = uow.session
        locked = await repo.lock_accounts(session, [deposit_account_id])
        account = locked.get(deposit_account_id)
        if account is None:
            raise InvalidInput(f"unknown deposit account {deposit_account_id}", field=field)
        if account.client_id != client_id:
            raise InvalidInput(f"deposit account {deposit_account_id} belongs to another client", field=field)
        if account.currency != currency:
            raise InvalidInput(f"deposit account {deposit_account_id} is in {account.currency}, the term deposit"
                               f" in {currency}", field=field)
        if account.status not in OPEN_STATUSES:
            raise InvalidInput(f"deposit account {deposit_account_id} is {account.status}", field=field)
        if account.activated_on is not None and value_date < account.activated_on:
            raise InvalidInput(f"deposit account {deposit_account_id} was activated on "
                               f"{account.activated_on.isoformat()}", field=field)
        if value_date > today():
            raise InvalidInput("a transfer with a deposit account cannot be value-dated in the future", field=field)
        terms = await product_terms(session, account.product_id, account.product_version)
        if into_deposit_account:
            balance = account.balance + amount
            kind = TransactionKind.DEPOSIT
        else:
            limits = AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=account.overdraft_limit)
            state = AccountState(status=account.status, balances=AccountBalances(
                ledger_balance=account.balance, on_hold=account.on_hold))
            checked = check_withdrawal(state, amount, value_date, WithdrawalRules(balance=limits.balance_rules()),
                                       terms.rounder)
            if isinstance(checked, MovementRefused):
                raise InvalidInput(f"deposit account {deposit_account_id}: {checked.message}", field=field)
            available = account.balance - account.on_hold
            if amount > available:  # a term deposit is never funded by an overdraft
                raise InvalidInput(f"insufficient funds: deposit account {deposit_account_id} has {available} "
                                   f"{currency} available, {amount} needed", field=field)
            balance = account.balance - amount
            kind = TransactionKind.WITHDRAWAL
        await repo.insert_transactions(session, [repo.NewTransaction(
            account_id=deposit_account_id, kind=kind, amount=amount, balance_after=balance, value_date=value_date,
            actor=actor, description=description[:500], journal_entry_id=entry_id if terms.posts else None)],
            {deposit_account_id: balance})
        return terms.control_account() if terms.posts else None
