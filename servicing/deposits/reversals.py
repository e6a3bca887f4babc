"""Reversal of a movement booked by mistake (a teller's error): deposit, withdrawal (with its
fees and their tax) or transfer.

A movement is one journal entry and the account transactions naming it. Its reversal is the
mirror entry (`ledger.reversal.reverse`, linked to the original: PostgreSQL checks it is the
exact mirror and that an entry is reversed once) and, for each original transaction, a
reversal transaction of the opposite effect naming it (`reverses_id`, unique). It is
value-dated like the original, so the account's history reads as if the mistake had not
been made; a period closed since refuses it (the correction then goes through a new entry).

Refused, with nothing written: a transaction that is not a movement (interest, holds, a
reversal), one already reversed, a reversal that would take an account beyond its limits
(reversing a deposit already withdrawn), an account closed or blocked. Interest already
posted on the mistaken balance is not recomputed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ledger.errors import AlreadyReversed, IdempotencyConflict, LedgerError
from ledger.reversal import reverse
from products.deposits import MovementRefused, check_deposit
from products.deposits.balances import BALANCE_SIGN, REVERSAL_OF
from servicing.deposits import repository as repo
from servicing.deposits.commands import MovementRefusedError, ReverseMovement, fingerprint
from servicing.deposits.movements import MovementResult, check_debit, state_of
from servicing.deposits.terms import product_terms
from servicing.errors import InvalidInput, NotFound, translate_database_error
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.queries import load_entry
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork

TRANSACTIONS_PER_MOVEMENT_MAX: Final = 16
"""A movement writes a handful of transactions (withdrawal, fees and their tax; a transfer's two legs)."""


async def _movement_rows(uow: UnitOfWork, account_id: int, transaction_id: int) -> list[repo.TransactionRecord]:
    """The named transaction and the others of its movement (same journal entry), in id order."""
    session = uow.session
    rows = (await session.execute(text(
        f"SELECT {repo.TRANSACTION_COLUMNS} FROM deposit_transaction t"
        " WHERE t.id = :id AND t.account_id = :account_id"
        " UNION"
        f" SELECT {repo.TRANSACTION_COLUMNS} FROM deposit_transaction t JOIN deposit_transaction o"
        "   ON o.journal_entry_id = t.journal_entry_id"
        " WHERE o.id = :id AND o.account_id = :account_id AND o.journal_entry_id IS NOT NULL"
        " ORDER BY transaction_id LIMIT :limit"),
        {"id": transaction_id, "account_id": account_id, "limit": TRANSACTIONS_PER_MOVEMENT_MAX + 1})).all()
    return [repo.transaction_from(row) for row in rows]


async def reverse_movement(uow: UnitOfWork, command: ReverseMovement, *,
                           scope: OfficeScope | None = None) -> MovementResult:
    request_fingerprint = fingerprint(command)
    async with uow:
        session = uow.session
        account = await repo.load_account(session, command.account_id, scope=scope)
        if command.idempotency_key is not None:
            recorded, written = await repo.transactions_by_key(session, account.account_id, command.idempotency_key)
            if written:
                if recorded != request_fingerprint:
                    raise IdempotencyConflict("this Idempotency-Key was used with another request body",
                                              field="idempotency_key")
                return MovementResult(journal_entry_id=written[0].journal_entry_id, transactions=tuple(written),
                                      replayed=True)
        originals = await _movement_rows(uow, account.account_id, command.transaction_id)
        named = next((t for t in originals if t.transaction_id == command.transaction_id), None)
        if named is None:
            raise NotFound(f"no transaction {command.transaction_id} on account {account.account_id}",
                           field="transaction_id")
        if named.kind not in REVERSAL_OF or len(originals) > TRANSACTIONS_PER_MOVEMENT_MAX:
            # An interest posting shares the run's entry with every account of the batch.
            raise InvalidInput(f"only deposits, withdrawals, fees and transfers are reversed, not "
                               f"{named.kind.value}", field="transaction_id")
        not_movements = sorted({t.kind.value for t in originals if t.kind not in REVERSAL_OF})
        if not_movements:
            raise InvalidInput(f"only deposits, withdrawals, fees and transfers are reversed, not "
                               f"{', '.join(not_movements)}", field="transaction_id")
        reversed_already = (await session.execute(text(
            "SELECT min(reverses_id) FROM deposit_transaction WHERE reverses_id = ANY(CAST(:ids AS bigint[]))"),
            {"ids": [t.transaction_id for t in originals]})).scalar()
        if reversed_already is not None:
            raise AlreadyReversed(f"transaction {reversed_already} is already reversed", field="transaction_id")
        locked = await repo.lock_accounts(session, [t.account_id for t in originals])
        balances = {account_id: row.balance for account_id, row in locked.items()}
        # What the reversal does to each account (a transfer's reversal debits one, credits the other).
        nets: dict[int, Decimal] = {}
        for original in originals:
            nets[original.account_id] = nets.get(original.account_id, Decimal(0)) - BALANCE_SIGN[original.kind] \
                * original.amount
        for account_id, net in nets.items():
            row = locked[account_id]
            if scope is not None and not scope.includes(row.office_id):
                raise NotFound(f"unknown deposit account {account_id}", field="transaction_id")
            terms = await product_terms(session, row.product_id, row.product_version)
            if net < 0:
                check_debit(row, terms, -net, _value_date(originals), field="transaction_id")
            elif net > 0:
                credited = check_deposit(state_of(row), net, _value_date(originals), terms.rounder)
                if isinstance(credited, MovementRefused):
                    raise MovementRefusedError(credited, field="transaction_id")
        entry_id = originals[0].journal_entry_id
        entry = None
        if entry_id is not None:
            original_entry = await load_entry(session, entry_id)
            assert original_entry is not None, entry_id
            description = f"Annulation : {original_entry.entry.description}"
            if command.reason:
                description = f"{description} ({command.reason})"
            entry = reverse(original_entry.entry, reversal_id=uuid7(), value_date=original_entry.entry.value_date,
                            description=description[:500], actor=command.actor)
        new: list[repo.NewTransaction] = []
        for index, original in enumerate(originals):
            kind = REVERSAL_OF[original.kind]
            balances[original.account_id] += BALANCE_SIGN[kind] * original.amount
            keyed = command.idempotency_key is not None and original.account_id == account.account_id
            key = None
            if keyed:
                key = command.idempotency_key if not any(t.account_id == account.account_id for t in new) \
                    else f"{command.idempotency_key}#r{index}"
            new.append(repo.NewTransaction(
                account_id=original.account_id, kind=kind, amount=original.amount,
                balance_after=balances[original.account_id], value_date=original.value_date, actor=command.actor,
                description=(f"Annulation de l'opération {original.transaction_id}"
                             + (f" : {command.reason}" if command.reason else ""))[:500],
                counterpart_account_id=original.counterpart_account_id, charge_id=original.charge_id,
                payment_type_id=original.payment_type_id,
                journal_entry_id=entry.entry_id if entry is not None else None, reverses_id=original.transaction_id,
                idempotency_key=key,
                request_fingerprint=request_fingerprint if key == command.idempotency_key and keyed else None))
        try:
            records = await repo.insert_transactions(session, new, {t.account_id: t.balance_after for t in new})
            if entry is not None:
                await book_entries(uow, [entry])
            await uow.commit()
        except DBAPIError as error:
            if "reversed_once" in str(error):
                raise AlreadyReversed(f"transaction {command.transaction_id} is already reversed",
                                      field="transaction_id") from error
            raise translate_database_error(error) or error from error
        except LedgerError as error:
            if error.field == "value_date" or error.code == "period-closed":
                raise type(error)(error.message, field="transaction_id") from error
            raise
    return MovementResult(journal_entry_id=entry.entry_id if entry is not None else None,
                          transactions=tuple(records))


def _value_date(originals: list[repo.TransactionRecord]) -> date:
    return max(t.value_date for t in originals)


__all__ = ("reverse_movement",)
