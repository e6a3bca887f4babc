"""Money movements of deposit accounts: deposit, withdrawal (with its fees), transfer.

Movements are applied in groups, each group one unit of work: lock every account it touches
(SELECT ... FOR UPDATE, in id order, so concurrent groups queue and never deadlock), then for
each movement in turn ask the pure core (`check_deposit`, `check_withdrawal`) against the
balance the previous movements left, build its journal entry from the product's posting
rules; then append every account transaction, store the new cached balances and book every
entry (`book_entries`, one statement) in that same transaction, and commit once. A refused
movement is answered with its own error and writes nothing; the others go on.

A single command is a group of one (`deposit`, `withdraw`, `transfer`); the HTTP API goes
through `MovementWriter`, which groups concurrent requests the way the journal service does
(TigerBeetle-style batching): the office's journal chain and the GL balances every movement
shares are then locked once per group instead of once per request.

Idempotency: a key is unique per account. The same key with the same request replays the
original answer (the transactions it wrote); with another request it is a 409.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.errors import IdempotencyConflict, LedgerError
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
from products.deposits.dormancy import is_dormant, last_activity
from products.posting_rules import EventKind
from servicing.deposits import posting
from servicing.deposits import repository as repo
from servicing.deposits.commands import Deposit, MovementRefusedError, Transfer, Withdraw, fingerprint
from servicing.deposits.terms import AccountRules, ProductTerms, product_terms, today
from servicing.errors import InvalidInput, NotFound, ServiceUnavailable, translate_database_error
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

_log = logging.getLogger(__name__)

Movement = Deposit | Withdraw | Transfer
GROUP_MOVEMENTS_MAX: Final = 500
QUEUE_MOVEMENTS_MAX: Final = 10_000
WRITERS: Final = 1
"""Measured: one writer forms larger groups; two only queue on the office's journal chain."""


class MovementResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a movement wrote: its transactions (on one or two accounts) and the journal entry."""

    journal_entry_id: UUID | None
    transactions: tuple[repo.TransactionRecord, ...]
    replayed: bool = False


class Submitted(msgspec.Struct, frozen=True, kw_only=True):
    """A movement and the office scope of whoever asks for it (None: the institution's own jobs)."""

    command: Movement
    scope: OfficeScope | None = None


class _Planned(msgspec.Struct, kw_only=True):
    new: list[repo.NewTransaction]
    entry: JournalEntry | None
    entry_id: UUID | None
    client_movement: tuple[int, date] | None = None
    """(account, value date) of the client's own movement: dormancy counts from it."""
    released_hold_id: int | None = None


def _account_ids(command: Movement) -> tuple[int, ...]:
    if isinstance(command, Transfer):
        return (command.from_account_id, command.to_account_id)
    return (command.account_id,)


def _keyed_account(command: Movement) -> int:
    return command.from_account_id if isinstance(command, Transfer) else command.account_id


def _value_date(requested: date | None, account: repo.AccountRow) -> date:
    day = requested or today()
    if day > today():
        raise InvalidInput("a movement cannot be value-dated in the future", field="value_date")
    if account.activated_on is not None and day < account.activated_on:
        raise InvalidInput(f"the account was activated on {account.activated_on}", field="value_date")
    return day


def _state(account: repo.AccountRow) -> AccountState:
    return AccountState(status=account.status,
                        balances=AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold))


def _check_withdrawal(account: repo.AccountRow, terms: ProductTerms, amount: Decimal, value_date: date,
                      fee_total: Decimal, field: str | None = None) -> None:
    limits = AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=account.overdraft_limit)
    rules = WithdrawalRules(
        balance=limits.balance_rules(), fee=WithdrawalFee(flat_amount=fee_total) if fee_total else None)
    checked = check_withdrawal(_state(account), amount, value_date, rules, terms.rounder)
    if isinstance(checked, MovementRefused):
        raise MovementRefusedError(checked, field=field)


def _dormant(account: repo.AccountRow, terms: ProductTerms, on: date) -> bool:
    return is_dormant(last_activity(account.last_client_movement_on, account.activated_on), on,
                      terms.product.dormancy_days)


def _refuse_if_dormant(account: repo.AccountRow, terms: ProductTerms, on: date, field: str = "account") -> None:
    if _dormant(account, terms, on):
        raise MovementRefusedError(MovementRefused(
            reason=RefusalReason.ACCOUNT_DORMANT, field=field,
            message=f"account {account.account_id} is dormant (no movement of the client for more than "
                    f"{terms.product.dormancy_days} days): reactivate it first"))


def value_date_of(requested: date | None, account: repo.AccountRow) -> date:
    """The movement's value date (today unless given), refused in the future or before activation."""
    return _value_date(requested, account)


refuse_if_dormant = _refuse_if_dormant


def state_of(account: repo.AccountRow) -> AccountState:
    """The account as the pure core's balance checks take it."""
    return _state(account)


def check_debit(account: repo.AccountRow, terms: ProductTerms, amount: Decimal, value_date: date,
                field: str | None = None) -> None:
    """Refuse (MovementRefusedError, naming ``field`` when given) a debit of ``amount`` the
    account's status or limits do not allow."""
    _check_withdrawal(account, terms, amount, value_date, Decimal(0), field)


class _Group:
    """One group's working state: the locked accounts (balances as the group moves them),
    their product terms, and the payment types the group names."""

    def __init__(self, accounts: dict[int, repo.AccountRow], terms: dict[tuple[int, int], ProductTerms],
                 payment_types: dict[int, bool], holds: dict[int, tuple[int, Decimal]] | None = None) -> None:
        self.accounts = accounts
        self.terms = terms
        self.payment_types = payment_types
        self.holds = holds or {}
        """Open holds the group's movements release: id -> (account, amount)."""

    def release(self, account: repo.AccountRow, hold_id: int, actor: str, value_date: date
                ) -> repo.NewTransaction:
        """Free a pending-approval hold on ``account`` for the movement it kept funds for."""
        found = self.holds.pop(hold_id, None)
        if found is None or found[0] != account.account_id:
            raise InvalidInput(f"hold {hold_id} is not an open hold of account {account.account_id}",
                               field="releases_hold_id")
        self.accounts[account.account_id] = msgspec.structs.replace(account, on_hold=account.on_hold - found[1])
        return repo.NewTransaction(account_id=account.account_id, kind=TransactionKind.HOLD_RELEASED, amount=found[1],
                                   balance_after=account.balance, value_date=value_date, actor=actor, hold_id=hold_id,
                                   description="Levée du blocage : opération approuvée")

    def account(self, account_id: int, field: str, scope: OfficeScope | None) -> repo.AccountRow:
        found = self.accounts.get(account_id)
        if found is None or (scope is not None and not scope.includes(found.office_id)):
            raise NotFound(f"unknown deposit account {account_id}", field=field)
        return found

    def terms_of(self, account: repo.AccountRow) -> ProductTerms:
        return self.terms[(account.product_id, account.product_version)]

    def payment_type(self, payment_type_id: int | None) -> None:
        if payment_type_id is None:
            return
        active = self.payment_types.get(payment_type_id)
        if active is None:
            raise NotFound(f"unknown payment type {payment_type_id}", field="payment_type_id")
        if not active:
            raise InvalidInput(f"payment type {payment_type_id} is disabled", field="payment_type_id")

    def move(self, account: repo.AccountRow, signed: Decimal, client_movement_on: date | None = None) -> Decimal:
        balance = account.balance + signed
        moved_on = account.last_client_movement_on
        if client_movement_on is not None and (moved_on is None or client_movement_on > moved_on):
            moved_on = client_movement_on
        self.accounts[account.account_id] = msgspec.structs.replace(account, balance=balance,
                                                                    last_client_movement_on=moved_on)
        return balance


def _plan(group: _Group, item: Submitted, request_fingerprint: str) -> _Planned:
    """Check one movement against the group's current balances and say what it writes."""
    command = item.command
    if isinstance(command, Transfer):
        return _plan_transfer(group, command, item.scope, request_fingerprint)
    account = group.account(command.account_id, "account_id", item.scope)
    terms = group.terms_of(account)
    value_date = _value_date(command.value_date, account)
    group.payment_type(command.payment_type_id)
    entry_id = uuid7()
    key = command.idempotency_key
    if isinstance(command, Deposit):
        checked = check_deposit(_state(account), command.amount, value_date, terms.rounder)
        if isinstance(checked, MovementRefused):
            raise MovementRefusedError(checked)
        funds, overdraft = posting.credit_split(account.balance, command.amount)
        description = command.description or f"Versement compte {account.account_id}"
        lines = posting.movement_lines([(terms, posting.money_event(
            EventKind.DEPOSIT, terms, funds, overdraft, command.payment_type_id))])
        entry = posting.movement_entry(lines, entry_id=entry_id, office_id=account.office_id, value_date=value_date,
                                       description=description, actor=command.actor, account_id=account.account_id)
        posted_id = entry_id if entry is not None else None
        # Money paid into a dormant account does not wake it up: staff reactivate it.
        woke = None if _dormant(account, terms, value_date) else value_date
        balance = group.move(account, command.amount, woke)
        return _Planned(entry=entry, entry_id=posted_id, client_movement=(account.account_id, woke) if woke else None,
                        new=[repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.DEPOSIT, amount=command.amount, balance_after=balance,
            value_date=value_date, actor=command.actor, description=description,
            payment_type_id=command.payment_type_id, journal_entry_id=posted_id, idempotency_key=key,
            request_fingerprint=request_fingerprint)])
    released = None
    if command.releases_hold_id is not None:
        released = group.release(account, command.releases_hold_id, command.actor, value_date)
        account = group.accounts[account.account_id]
    fees = terms.fees_for(command.amount) if command.amount.is_finite() and command.amount > 0 else []
    taxes = terms.taxes_on(fees, value_date)
    fee_total = sum((fee for _charge, fee in fees), Decimal(0)) + sum((tax for _charge, tax in taxes), Decimal(0))
    _refuse_if_dormant(account, terms, value_date)
    _check_withdrawal(account, terms, command.amount, value_date, fee_total)
    # The fees (and their tax) are taken from the client's funds first (the rules post them to
    # the deposit control account only), then the withdrawal from what is left, then from the overdraft.
    funds, overdraft = posting.debit_split(account.balance - fee_total, command.amount)
    description = command.description or f"Retrait compte {account.account_id}"
    lines = posting.movement_lines([
        (terms, posting.money_event(EventKind.WITHDRAWAL, terms, funds, overdraft, command.payment_type_id)),
        (terms, posting.fee_event(terms, fees, taxes)),
    ])
    entry = posting.movement_entry(lines, entry_id=entry_id, office_id=account.office_id, value_date=value_date,
                                   description=description, actor=command.actor, account_id=account.account_id)
    posted_id = entry_id if entry is not None else None
    balance = group.move(account, -command.amount, value_date)
    new = [repo.NewTransaction(
        account_id=account.account_id, kind=TransactionKind.WITHDRAWAL, amount=command.amount, balance_after=balance,
        value_date=value_date, actor=command.actor, description=description, payment_type_id=command.payment_type_id,
        journal_entry_id=posted_id, idempotency_key=key, request_fingerprint=request_fingerprint)]
    tax_of = dict(taxes)
    for index, (charge_id, fee) in enumerate(fees):
        balance = group.move(group.accounts[account.account_id], -fee)
        new.append(repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.FEE, amount=fee, balance_after=balance,
            value_date=value_date, actor=command.actor, description=f"Frais de retrait (charge {charge_id})",
            charge_id=charge_id, journal_entry_id=posted_id, idempotency_key=f"{key}#fee{index}" if key else None))
        tax = tax_of.get(charge_id)
        if tax:
            balance = group.move(group.accounts[account.account_id], -tax)
            new.append(repo.NewTransaction(
                account_id=account.account_id, kind=TransactionKind.FEE_TAX, amount=tax, balance_after=balance,
                value_date=value_date, actor=command.actor, description=f"Taxe sur frais de retrait (charge {charge_id})",
                charge_id=charge_id, journal_entry_id=posted_id, idempotency_key=f"{key}#tax{index}" if key else None))
    if released is not None:  # last: new[0] is the keyed transaction replays look for
        new.append(msgspec.structs.replace(released, balance_after=balance))
    return _Planned(entry=entry, entry_id=posted_id, new=new, client_movement=(account.account_id, value_date),
                    released_hold_id=command.releases_hold_id)


def _plan_transfer(group: _Group, command: Transfer, scope: OfficeScope | None, request_fingerprint: str) -> _Planned:
    """One journal entry, a withdrawal on one account and a deposit on the other (no fee)."""
    if command.from_account_id == command.to_account_id:
        raise InvalidInput("a transfer goes to another account", field="to_account_id")
    source = group.account(command.from_account_id, "from_account_id", scope)
    target = group.account(command.to_account_id, "to_account_id", None)
    if target.currency != source.currency:
        raise InvalidInput(f"account {target.account_id} is in {target.currency}, not {source.currency}",
                           field="to_account_id")
    source_terms, target_terms = group.terms_of(source), group.terms_of(target)
    value_date = _value_date(command.value_date, source)
    value_date = max(value_date, _value_date(value_date, target))
    released = None
    if command.releases_hold_id is not None:
        released = group.release(source, command.releases_hold_id, command.actor, value_date)
        source = group.accounts[source.account_id]
    _refuse_if_dormant(source, source_terms, value_date, "from_account_id")
    _check_withdrawal(source, source_terms, command.amount, value_date, Decimal(0))
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
    posted_id = entry_id if entry is not None else None
    key = command.idempotency_key
    source_balance = group.move(source, -command.amount, value_date)
    target_balance = group.move(target, command.amount)
    return _Planned(entry=entry, entry_id=posted_id, client_movement=(source.account_id, value_date),
                    released_hold_id=command.releases_hold_id, new=[
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
        *([msgspec.structs.replace(released, balance_after=source_balance)] if released is not None else []),
    ])


async def _open_group(uow: UnitOfWork, items: Sequence[Submitted]) -> _Group:
    session = uow.session
    accounts, reference_state = await repo.lock_accounts_reading_reference_state(
        session, [i for item in items for i in _account_ids(item.command)])
    terms = {}
    for account in accounts.values():
        version = (account.product_id, account.product_version)
        if version not in terms:
            terms[version] = await product_terms(session, *version, reference_state=reference_state)
    wanted = sorted({c.payment_type_id for c in (item.command for item in items)
                     if not isinstance(c, Transfer) and c.payment_type_id is not None})
    payment_types: dict[int, bool] = dict((await session.execute(text(
        "SELECT id, active FROM payment_type WHERE id = ANY(CAST(:ids AS int[]))"), {"ids": wanted})).all()) \
        if wanted else {}
    released = sorted({c.releases_hold_id for c in (item.command for item in items)
                       if not isinstance(c, Deposit) and c.releases_hold_id is not None})
    holds: dict[int, tuple[int, Decimal]] = {row.id: (row.account_id, row.amount) for row in (await session.execute(text(
        "SELECT id, account_id, amount FROM deposit_hold WHERE id = ANY(CAST(:ids AS bigint[])) AND released_on IS NULL"
        " FOR UPDATE"), {"ids": released})).all()} if released else {}
    return _Group(accounts, terms, payment_types, holds)


async def _recorded_keys(uow: UnitOfWork, items: Sequence[Submitted]) -> set[tuple[int, str]]:
    keyed = [(_keyed_account(item.command), item.command.idempotency_key) for item in items
             if item.command.idempotency_key is not None]
    if not keyed:
        return set()
    rows = (await uow.session.execute(text(
        "SELECT account_id, idempotency_key FROM deposit_transaction"
        " WHERE (account_id, idempotency_key) IN (SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:keys AS varchar[])))"),
        {"ids": [k[0] for k in keyed], "keys": [k[1] for k in keyed]})).all()
    return {(row.account_id, row.idempotency_key) for row in rows}


async def _replay(uow: UnitOfWork, account_id: int, key: str, request_fingerprint: str) -> MovementResult:
    recorded, transactions = await repo.transactions_by_key(uow.session, account_id, key)
    if recorded != request_fingerprint:
        raise IdempotencyConflict("this Idempotency-Key was used with another request body", field="idempotency_key")
    return MovementResult(journal_entry_id=transactions[0].journal_entry_id, transactions=tuple(transactions),
                          replayed=True)


class KeyUsedBefore(Exception):
    """A movement's Idempotency-Key is already recorded (found by its unique index when the keys
    were not looked up first): the group is to be applied again, looking them up."""


async def apply_movements(uow: UnitOfWork, items: Sequence[Submitted], *,
                          look_up_keys: bool = True) -> list[MovementResult | LedgerError]:
    """Apply a group of movements in one transaction; each answered with its result or its own
    refusal. A database error that is not one movement's own fails the group (raised).

    ``look_up_keys=False`` saves the round trip that finds keys already recorded (replays are
    rare): the unique index then refuses a replayed key and `KeyUsedBefore` is raised, nothing
    written, for the caller to apply the group again with the look-up."""
    assert 1 <= len(items) <= GROUP_MOVEMENTS_MAX, len(items)
    outcomes: list[MovementResult | LedgerError | None] = [None] * len(items)
    planned: dict[int, _Planned] = {}
    async with uow:
        group = await _open_group(uow, items)
        recorded = await _recorded_keys(uow, items) if look_up_keys else set()
        in_group: dict[tuple[int, str], int] = {}
        for index, item in enumerate(items):
            command = item.command
            request_fingerprint = fingerprint(command)
            key = command.idempotency_key
            try:
                if key is not None:
                    keyed = (_keyed_account(command), key)
                    group.account(keyed[0], "from_account_id" if isinstance(command, Transfer) else "account_id",
                                  item.scope)
                    if keyed in recorded:
                        outcomes[index] = await _replay(uow, keyed[0], key, request_fingerprint)
                        continue
                    if keyed in in_group:  # the same request twice in one group: answered like a replay
                        first = in_group[keyed]
                        if first not in planned:
                            outcomes[index] = outcomes[first]
                            continue
                        if planned[first].new[0].request_fingerprint != request_fingerprint:
                            raise IdempotencyConflict("this Idempotency-Key was used with another request body",
                                                      field="idempotency_key")
                        planned[index] = planned[first]
                        continue
                    in_group[keyed] = index
                planned[index] = _plan(group, item, request_fingerprint)
            except LedgerError as error:
                outcomes[index] = error
        firsts: dict[int, _Planned] = {}
        for index, plan in planned.items():
            if all(plan is not kept for kept in firsts.values()):
                firsts[index] = plan
        new = [t for plan in firsts.values() for t in plan.new]
        if new:
            try:
                balances = {t.account_id: t.balance_after for t in new}  # the last of each account
                client_movements: dict[int, date] = {}
                for plan in firsts.values():
                    if plan.client_movement is not None:
                        moved_id, moved_on = plan.client_movement
                        client_movements[moved_id] = max(moved_on, client_movements.get(moved_id, moved_on))
                records = await repo.insert_transactions(uow.session, new, balances, client_movements)
                released_holds = [(plan.released_hold_id, plan.new[0].actor) for plan in firsts.values()
                                  if plan.released_hold_id is not None]
                if released_holds:
                    await uow.session.execute(text(
                        "UPDATE deposit_hold h SET released_on = :day, released_by = r.actor, released_at = now()"
                        "  FROM unnest(CAST(:ids AS bigint[]), CAST(:actors AS varchar[])) AS r (id, actor)"
                        " WHERE h.id = r.id"),
                        {"day": today(), "ids": [h for h, _a in released_holds],
                         "actors": [a for _h, a in released_holds]})
            except DBAPIError as error:
                if not look_up_keys and "deposit_transaction_idempotency" in str(error):
                    raise KeyUsedBefore() from error
                raise translate_database_error(error) or error from error
            await book_entries(uow, [plan.entry for plan in firsts.values() if plan.entry is not None])
            try:
                await uow.commit()
            except DBAPIError as error:
                raise translate_database_error(error) or error from error
            position = 0
            results: dict[int, MovementResult] = {}
            for plan in firsts.values():
                written = tuple(records[position:position + len(plan.new)])
                assert [(t.account_id, t.kind, t.amount) for t in written] == [
                    (t.account_id, t.kind, t.amount) for t in plan.new], "rows come back in insertion order"
                position += len(plan.new)
                results[id(plan)] = MovementResult(journal_entry_id=plan.entry_id, transactions=written)
            for index, plan in planned.items():
                result = results[id(plan)]
                outcomes[index] = result if index in firsts else msgspec.structs.replace(result, replayed=True)
    assert all(outcome is not None for outcome in outcomes), outcomes
    return outcomes  # type: ignore[return-value]


async def apply_one(uow: UnitOfWork, command: Movement, scope: OfficeScope | None = None) -> MovementResult:
    (outcome,) = await apply_movements(uow, [Submitted(command=command, scope=scope)])
    if isinstance(outcome, LedgerError):
        raise outcome
    return outcome


async def deposit(uow: UnitOfWork, command: Deposit, *, scope: OfficeScope | None = None) -> MovementResult:
    return await apply_one(uow, command, scope)


async def withdraw(uow: UnitOfWork, command: Withdraw, *, scope: OfficeScope | None = None) -> MovementResult:
    return await apply_one(uow, command, scope)


async def transfer(uow: UnitOfWork, command: Transfer, *, scope: OfficeScope | None = None) -> MovementResult:
    return await apply_one(uow, command, scope)


class _Pending:
    __slots__ = ("future", "item")

    def __init__(self, item: Submitted, future: asyncio.Future[MovementResult]) -> None:
        self.item = item
        self.future = future


class MovementWriter:
    """Groups concurrent movement requests into shared transactions (see the module docstring).
    If the database refuses a whole group, each of its movements is retried alone, so only a
    faulty one fails."""

    def __init__(self, uow_factory: UnitOfWorkFactory, *, writers: int = WRITERS) -> None:
        assert 1 <= writers <= 8, writers
        self._uow_factory = uow_factory
        self._writer_count = writers
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []

    async def submit(self, command: Movement, scope: OfficeScope | None = None) -> MovementResult:
        if not self._writers:
            self._writers = [asyncio.create_task(self._loop()) for _ in range(self._writer_count)]
        if self._queue.qsize() >= QUEUE_MOVEMENTS_MAX:
            raise ServiceUnavailable("too many movements waiting; send the request again shortly")
        future: asyncio.Future[MovementResult] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(Submitted(command=command, scope=scope), future))
        return await future

    async def aclose(self) -> None:
        for task in self._writers:
            task.cancel()
        for task in self._writers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._writers = []
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(ServiceUnavailable("shutting down; send the request again"))

    async def _loop(self) -> None:
        while True:
            group = [await self._queue.get()]
            while not self._queue.empty() and len(group) < GROUP_MOVEMENTS_MAX:
                group.append(self._queue.get_nowait())
            await self._run(group)

    async def _run(self, group: list[_Pending], *, look_up_keys: bool = False) -> None:
        """Keys are not looked up first (one round trip less per group); a replayed key makes
        the group fail on the unique index, and it is applied again with the look-up."""
        try:
            outcomes = await apply_movements(self._uow_factory(), [p.item for p in group], look_up_keys=look_up_keys)
        except KeyUsedBefore:
            await self._run(group, look_up_keys=True)
            return
        except Exception as error:  # the group as a whole failed: each movement alone
            if len(group) == 1:
                _answer(group[0], error)
                return
            _log.info("deposit movement group of %d failed (%s); retrying one by one", len(group), error)
            for pending in group:
                await self._run([pending], look_up_keys=True)
            return
        for pending, outcome in zip(group, outcomes, strict=True):
            _answer(pending, outcome)


def _answer(pending: _Pending, outcome: MovementResult | BaseException) -> None:
    if pending.future.done():
        return
    if isinstance(outcome, BaseException):
        pending.future.set_exception(outcome)
    else:
        pending.future.set_result(outcome)
