"""Deposit accounts in PostgreSQL: lock and read an account, append transactions, keep the
cached balance. Never commits (the command's unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from products.deposits import AccountStatus, TransactionKind
from products.deposits.balances import BALANCE_SIGN
from servicing.deposits.terms import REFERENCE_STATE_SQL
from servicing.errors import NotFound
from servicing.staff.scope import OfficeScope

TRANSACTIONS_PER_INSERT_MAX: Final = 5_000


class AccountRow(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    client_id: int
    product_id: int
    product_version: int
    currency: str
    office_id: int
    status: AccountStatus
    status_reason: str | None
    interest_rate_annual_percent: Decimal
    overdraft_limit: Decimal
    minimum_balance: Decimal
    balance: Decimal
    on_hold: Decimal
    opened_on: date
    activated_on: date | None
    closed_on: date | None
    created_at: datetime
    created_by: str
    last_client_movement_on: date | None = None
    """The client's last own movement (or the reactivation): dormancy counts from it."""


class NewTransaction(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    kind: TransactionKind
    amount: Decimal
    balance_after: Decimal
    value_date: date
    actor: str
    description: str = ""
    payment_type_id: int | None = None
    charge_id: int | None = None
    hold_id: int | None = None
    counterpart_account_id: int | None = None
    journal_entry_id: UUID | None = None
    reverses_id: int | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None


class TransactionRecord(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: int
    account_id: int
    kind: TransactionKind
    amount: Decimal
    balance_after: Decimal
    value_date: date
    payment_type_id: int | None
    charge_id: int | None
    hold_id: int | None
    counterpart_account_id: int | None
    journal_entry_id: UUID | None
    reverses_id: int | None
    description: str
    booked_at: datetime
    actor: str


ACCOUNT_COLUMNS: Final = """
    a.id AS account_id, a.client_id, a.product_id, a.product_version, a.currency, a.office_id, a.status,
    a.status_reason, a.interest_rate_annual_percent, a.overdraft_limit, a.minimum_balance, a.balance,
    (SELECT coalesce(sum(h.amount), 0) FROM deposit_hold h WHERE h.account_id = a.id AND h.released_on IS NULL)
        AS on_hold,
    a.opened_on, a.activated_on, a.closed_on, a.created_at, a.created_by, a.last_client_movement_on"""

TRANSACTION_COLUMNS: Final = """
    t.id AS transaction_id, t.account_id, t.kind, t.amount, t.balance_after, t.value_date, t.payment_type_id,
    t.charge_id, t.hold_id, t.counterpart_account_id, t.journal_entry_id, t.reverses_id, t.description,
    t.booked_at, t.actor"""


def _plain(value: Decimal) -> Decimal:
    """numeric(22, 4) without its trailing zeros: 1500.0000 -> 1500, 12.5000 -> 12.5."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def account_from(row: Any) -> AccountRow:
    values = dict(row._mapping)
    for name in ("interest_rate_annual_percent", "overdraft_limit", "minimum_balance", "balance", "on_hold"):
        values[name] = _plain(values[name])
    values["currency"] = values["currency"].strip()
    return msgspec.convert(values, AccountRow, strict=False)


def transaction_from(row: Any) -> TransactionRecord:
    values = dict(row._mapping)
    values["amount"] = _plain(values["amount"])
    values["balance_after"] = _plain(values["balance_after"])
    return msgspec.convert(values, TransactionRecord, strict=False)


async def load_account(session: AsyncSession, account_id: int, *, scope: OfficeScope | None = None,
                       for_update: bool = False) -> AccountRow:
    """The account, locked for the rest of the transaction when ``for_update``; an account
    outside the user's offices is as unknown as one that does not exist."""
    lock = " FOR UPDATE OF a" if for_update else ""
    row = (await session.execute(text(f"SELECT {ACCOUNT_COLUMNS} FROM deposit_account a WHERE a.id = :id{lock}"),
                                 {"id": account_id})).one_or_none()
    if row is None or (scope is not None and not scope.includes(row.office_id)):
        raise NotFound(f"unknown deposit account {account_id}", field="account_id")
    return account_from(row)


async def lock_accounts(session: AsyncSession, account_ids: Sequence[int]) -> dict[int, AccountRow]:
    """Lock several accounts in id order (two transfers in opposite directions never deadlock)."""
    rows = (await session.execute(text(
        f"SELECT {ACCOUNT_COLUMNS} FROM deposit_account a WHERE a.id = ANY(CAST(:ids AS bigint[]))"
        " ORDER BY a.id FOR UPDATE OF a"), {"ids": sorted(set(account_ids))})).all()
    return {row.account_id: account_from(row) for row in rows}


async def lock_accounts_reading_reference_state(session: AsyncSession, account_ids: Sequence[int]
                                                ) -> tuple[dict[int, AccountRow], int]:
    """`lock_accounts`, with the reference-data state (`terms.REFERENCE_STATE_SQL`) read in the
    same statement: a movement group checks its cached product terms without a round trip."""
    rows = (await session.execute(text(
        f"SELECT {ACCOUNT_COLUMNS}, ({REFERENCE_STATE_SQL}) AS reference_state FROM deposit_account a"
        " WHERE a.id = ANY(CAST(:ids AS bigint[])) ORDER BY a.id FOR UPDATE OF a"),
        {"ids": sorted(set(account_ids))})).all()
    state = rows[0].reference_state if rows else None
    if state is None:
        state = await session.scalar(text(REFERENCE_STATE_SQL))
    return {row.account_id: account_from(row) for row in rows}, int(state)


_INSERT_SQL = """
INSERT INTO deposit_transaction (account_id, kind, amount, signed_amount, balance_after, value_date, payment_type_id,
    charge_id, hold_id, counterpart_account_id, journal_entry_id, reverses_id, idempotency_key, request_fingerprint,
    description, actor)
SELECT * FROM unnest(CAST(:account_id AS bigint[]), CAST(:kind AS varchar[]), CAST(:amount AS numeric[]),
    CAST(:signed_amount AS numeric[]), CAST(:balance_after AS numeric[]), CAST(:value_date AS date[]),
    CAST(:payment_type_id AS int[]), CAST(:charge_id AS int[]), CAST(:hold_id AS bigint[]),
    CAST(:counterpart_account_id AS bigint[]), CAST(:journal_entry_id AS uuid[]), CAST(:reverses_id AS bigint[]),
    CAST(:idempotency_key AS varchar[]), CAST(:request_fingerprint AS varchar[]), CAST(:description AS varchar[]),
    CAST(:actor AS varchar[]))
RETURNING id AS transaction_id, account_id, kind, amount, balance_after, value_date, payment_type_id, charge_id,
    hold_id, counterpart_account_id, journal_entry_id, reverses_id, description, booked_at, actor
"""
_INSERT = text(_INSERT_SQL)
_INSERT_AND_SET_BALANCES = text("""
WITH moved AS (
    UPDATE deposit_account a SET balance = b.balance,
           last_client_movement_on = greatest(a.last_client_movement_on, b.client_movement_on)
      FROM unnest(CAST(:balance_ids AS bigint[]), CAST(:balances AS numeric[]),
                  CAST(:client_movement_on AS date[])) AS b (id, balance, client_movement_on)
     WHERE a.id = b.id AND a.id = ANY(CAST(:balance_ids AS bigint[]))  -- by the primary key, not a scan
)""" + _INSERT_SQL)


async def insert_transactions(session: AsyncSession, transactions: Sequence[NewTransaction],
                              balances: dict[int, Decimal] | None = None,
                              client_movements: dict[int, date] | None = None) -> list[TransactionRecord]:
    """Append transactions, and store the accounts' new cached balances when given (and the
    day of the client's own movement on the accounts in ``client_movements``), in one
    statement (one round trip); the transactions as recorded, in order."""
    assert 1 <= len(transactions) <= TRANSACTIONS_PER_INSERT_MAX, len(transactions)
    columns: dict[str, list[object]] = {name: [] for name in (
        "account_id", "kind", "amount", "signed_amount", "balance_after", "value_date", "payment_type_id",
        "charge_id", "hold_id", "counterpart_account_id", "journal_entry_id", "reverses_id", "idempotency_key",
        "request_fingerprint", "description", "actor")}
    for t in transactions:
        assert t.amount > 0, t
        columns["account_id"].append(t.account_id)
        columns["kind"].append(t.kind.value)
        columns["amount"].append(t.amount)
        columns["signed_amount"].append(BALANCE_SIGN[t.kind] * t.amount)
        columns["balance_after"].append(t.balance_after)
        columns["value_date"].append(t.value_date)
        columns["payment_type_id"].append(t.payment_type_id)
        columns["charge_id"].append(t.charge_id)
        columns["hold_id"].append(t.hold_id)
        columns["counterpart_account_id"].append(t.counterpart_account_id)
        columns["journal_entry_id"].append(t.journal_entry_id)
        columns["reverses_id"].append(t.reverses_id)
        columns["idempotency_key"].append(t.idempotency_key)
        columns["request_fingerprint"].append(t.request_fingerprint)
        columns["description"].append(t.description)
        columns["actor"].append(t.actor)
    if balances:
        moved_on = client_movements or {}
        parameters: dict[str, object] = {**columns, "balance_ids": list(balances), "balances": list(balances.values()),
                                         "client_movement_on": [moved_on.get(i) for i in balances]}
        rows = (await session.execute(_INSERT_AND_SET_BALANCES, parameters)).all()
    else:
        rows = (await session.execute(_INSERT, columns)).all()
    return sorted((transaction_from(row) for row in rows), key=lambda record: record.transaction_id)


async def transactions_by_key(session: AsyncSession, account_id: int, key: str) -> tuple[str | None, list[TransactionRecord]]:
    """The fingerprint recorded with an idempotency key on this account, and every transaction
    the original request wrote (its own rows, keyed `key` and `key#...`, on any account)."""
    rows = (await session.execute(text(
        f"SELECT {TRANSACTION_COLUMNS}, t.idempotency_key, t.request_fingerprint FROM deposit_transaction t"
        " WHERE t.account_id IN (:account_id, (SELECT counterpart_account_id FROM deposit_transaction"
        "                                       WHERE account_id = :account_id AND idempotency_key = :key))"
        "   AND (t.idempotency_key = :key OR left(t.idempotency_key, :prefix_length) = :prefix)"
        " ORDER BY t.id"), {"account_id": account_id, "key": key, "prefix": key + "#",
                            "prefix_length": len(key) + 1})).all()
    fingerprint = next((row.request_fingerprint for row in rows
                        if row.account_id == account_id and row.idempotency_key == key), None)
    return fingerprint, [transaction_from(row) for row in rows]
