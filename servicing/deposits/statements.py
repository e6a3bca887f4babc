"""Read side of deposit accounts: statements with running balance, a client's operation
history across all accounts, and the reconciliation of account balances with the GL.

Every figure is derived from the append-only transactions (`signed_amount`), never from the
cached balance column, so a statement and the reconciliation check the cache too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Final
from uuid import UUID

import msgspec
from sqlalchemy import text

from ledger.db.totals import account_totals
from products.deposits.balances import BALANCE_SIGN
from servicing.deposits import repository as repo
from servicing.deposits.terms import product_terms, today
from servicing.errors import InvalidInput, NotFound
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork

STATEMENT_LINES_MAX: Final = 10_000
HISTORY_ITEMS_MAX: Final = 500
_ZERO: Final = Decimal(0)
_MONEY_KINDS: Final = "(" + ", ".join(f"'{kind.value}'" for kind, sign in BALANCE_SIGN.items() if sign) + ")"
"""Every kind that moves money (holds do not), reversals and the tax on fees included."""


class StatementLine(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: int
    value_date: date
    booked_at: datetime
    kind: str
    description: str
    debit: Decimal
    credit: Decimal
    balance: Decimal
    journal_entry_id: UUID | None
    counterpart_account_id: int | None


class Statement(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    client_id: int
    product_id: int
    currency: str
    date_from: date
    date_to: date
    opening_balance: Decimal
    total_debits: Decimal
    total_credits: Decimal
    closing_balance: Decimal
    lines: tuple[StatementLine, ...]


class HistoryItem(msgspec.Struct, frozen=True, kw_only=True):
    transaction_id: int
    account_id: int
    product_id: int
    currency: str
    value_date: date
    booked_at: datetime
    kind: str
    amount: Decimal
    signed_amount: Decimal
    balance_after: Decimal
    description: str
    journal_entry_id: UUID | None


class ReconciliationRow(msgspec.Struct, frozen=True, kw_only=True):
    """Accounts of the products posting to one deposit control account, in one currency,
    against the GL: balance (control, credit) minus overdrafts (overdraft portfolio, debit)."""

    product_ids: tuple[int, ...]
    currency: str
    account_count: int
    accounts_balance: Decimal
    deposit_control_account: str | None
    overdraft_account: str | None
    gl_deposit_control_balance: Decimal | None
    gl_overdraft_balance: Decimal | None
    gl_net_balance: Decimal | None
    difference: Decimal | None


@dataclass
class _Totals:
    products: set[int] = field(default_factory=set)
    accounts: int = 0
    balance: Decimal = _ZERO


def _plain(value: Decimal) -> Decimal:
    return repo._plain(Decimal(value))


def _check_span(date_from: date, date_to: date) -> None:
    if date_to < date_from:
        raise InvalidInput("to must not be before from", field="to")


async def statement(uow: UnitOfWork, account_id: int, *, date_from: date | None, date_to: date | None,
                    scope: OfficeScope | None = None) -> Statement:
    async with uow:
        session = uow.session
        account = await repo.load_account(session, account_id, scope=scope)
        first = date_from or account.opened_on
        last = date_to or today()
        _check_span(first, last)
        opening = await session.scalar(text(
            "SELECT coalesce(sum(signed_amount), 0) FROM deposit_transaction"
            " WHERE account_id = :id AND value_date < :first"), {"id": account_id, "first": first})
        rows = (await session.execute(text(
            f"SELECT t.id, t.value_date, t.booked_at, t.kind, t.description, t.signed_amount, t.journal_entry_id,"
            f" t.counterpart_account_id FROM deposit_transaction t WHERE t.account_id = :id AND t.kind IN {_MONEY_KINDS}"
            f" AND t.value_date BETWEEN :first AND :last ORDER BY t.value_date, t.id LIMIT :limit"),
            {"id": account_id, "first": first, "last": last, "limit": STATEMENT_LINES_MAX + 1})).all()
    if len(rows) > STATEMENT_LINES_MAX:
        raise InvalidInput(f"more than {STATEMENT_LINES_MAX} lines: ask for a shorter span", field="from")
    balance = _plain(opening or _ZERO)
    opening_balance = balance
    lines = []
    debits = credits = _ZERO
    for row in rows:
        signed = _plain(row.signed_amount)
        balance += signed
        debit, credit = (-signed, _ZERO) if signed < 0 else (_ZERO, signed)
        debits += debit
        credits += credit
        lines.append(StatementLine(
            transaction_id=row.id, value_date=row.value_date, booked_at=row.booked_at, kind=row.kind,
            description=row.description, debit=debit, credit=credit, balance=balance,
            journal_entry_id=row.journal_entry_id, counterpart_account_id=row.counterpart_account_id))
    assert opening_balance - debits + credits == balance
    return Statement(account_id=account.account_id, client_id=account.client_id, product_id=account.product_id,
                     currency=account.currency, date_from=first, date_to=last, opening_balance=opening_balance,
                     total_debits=debits, total_credits=credits, closing_balance=balance, lines=tuple(lines))


async def client_history(uow: UnitOfWork, client_id: int, *, date_from: date | None, date_to: date | None,
                         after_id: int = 0, limit: int = HISTORY_ITEMS_MAX,
                         scope: OfficeScope | None = None) -> list[HistoryItem]:
    """Every operation on every deposit account of the client, oldest first (cursor: after_id)."""
    assert 1 <= limit <= HISTORY_ITEMS_MAX, limit
    first, last = date_from or date(1900, 1, 1), date_to or date(2199, 12, 31)
    _check_span(first, last)
    async with uow:
        office_id = await uow.session.scalar(text("SELECT office_id FROM client WHERE id = :id"), {"id": client_id})
        if office_id is None or (scope is not None and not scope.includes(office_id)):
            raise NotFound(f"unknown client {client_id}", field="client_id")
        rows = (await uow.session.execute(text(
            "SELECT t.id AS transaction_id, t.account_id, a.product_id, a.currency, t.value_date, t.booked_at, t.kind,"
            " t.amount, t.signed_amount, t.balance_after, t.description, t.journal_entry_id"
            " FROM deposit_transaction t JOIN deposit_account a ON a.id = t.account_id"
            " WHERE a.client_id = :client_id AND t.id > :after_id AND t.value_date BETWEEN :first AND :last"
            " ORDER BY t.id LIMIT :limit"),
            {"client_id": client_id, "after_id": after_id, "first": first, "last": last, "limit": limit})).all()
    items = []
    for row in rows:
        values = dict(row._mapping)
        for name in ("amount", "signed_amount", "balance_after"):
            values[name] = _plain(values[name])
        values["currency"] = values["currency"].strip()
        items.append(msgspec.convert(values, HistoryItem, strict=False))
    return items


async def reconciliation(uow: UnitOfWork, *, on: date | None = None) -> list[ReconciliationRow]:
    """Per deposit control account and currency: the accounts' balances (summed from their
    transactions up to ``on``) next to the GL balance of the control account net of the
    overdraft portfolio, and the difference (zero when every movement went through the journal)."""
    day = on or today()
    async with uow:
        session = uow.session
        rows = (await session.execute(text(
            "SELECT a.product_id, a.product_version, a.currency, count(DISTINCT a.id) AS accounts,"
            " coalesce(sum(t.signed_amount), 0) AS balance"
            " FROM deposit_account a LEFT JOIN deposit_transaction t ON t.account_id = a.id AND t.value_date <= :day"
            " GROUP BY a.product_id, a.product_version, a.currency ORDER BY 1, 2, 3"), {"day": day})).all()
        groups: dict[tuple[str | None, str | None, str], _Totals] = {}
        for row in rows:
            terms = await product_terms(session, row.product_id, row.product_version)
            control = terms.control_account() if terms.posts else None
            overdraft = terms.overdraft_account() if terms.posts else None
            group = groups.setdefault((control, overdraft, row.currency.strip()), _Totals())
            group.products.add(row.product_id)
            group.accounts += row.accounts
            group.balance += row.balance
        codes = sorted({code for control, overdraft, _c in groups for code in (control, overdraft) if code})
        ids: dict[str, int] = dict((await session.execute(text(
            "SELECT code, id FROM gl_account WHERE code = ANY(:codes)"), {"codes": codes})).all()) if codes else {}
        gl: dict[tuple[int, str], Decimal] = {
            (t.account_id, t.currency.strip()): t.credit_total - t.debit_total
            for t in await account_totals(session, through=day, account_ids=list(ids.values()))} if ids else {}
    result = []
    for (control, overdraft, currency), group in sorted(groups.items(), key=lambda item: str(item[0])):
        balance = _plain(group.balance)
        control_balance = overdraft_balance = net = difference = None
        if control is not None:
            control_balance = _plain(gl.get((ids.get(control, 0), currency), _ZERO))
            overdraft_balance = _plain(-gl.get((ids.get(overdraft, 0), currency), _ZERO)) if overdraft else _ZERO
            net = control_balance - overdraft_balance
            difference = balance - net
        result.append(ReconciliationRow(
            product_ids=tuple(sorted(group.products)), currency=currency, account_count=group.accounts,
            accounts_balance=balance, deposit_control_account=control, overdraft_account=overdraft,
            gl_deposit_control_balance=control_balance, gl_overdraft_balance=overdraft_balance, gl_net_balance=net,
            difference=difference))
    return result
