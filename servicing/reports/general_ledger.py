"""General ledger (grand livre) of one account, or of a header and every account below it,
over a period: the opening balance, each line with its entry and the running balance, and
the closing balance, per currency.

Balances are on the asked account's normal side (positive: a debit balance for an asset or
expense account, a credit balance for the others). Opening and closing balances come from
`account_totals`; the lines are read a page at a time in (value date, entry id, line number)
order with a keyset condition that the (account, value date) index serves, and the cursor
carries the running balance reached at the end of the page, so no page recomputes the ones
before it. A cursor is bound to the query that issued it."""

from __future__ import annotations

import base64
import hashlib
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated
from uuid import UUID

import msgspec
from sqlalchemy import text

from ledger.db.totals import account_totals
from ledger.limits import AMOUNT_MAX, PAGE_SIZE_MAX
from ledger.model import Side
from ledger.money import normalize_amount
from servicing.errors import InvalidInput, NotFound
from servicing.reports.chart_tree import ReportAccount
from servicing.reports.service import check_period, load_chart, office_subtree
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

BALANCE_ABS_MAX = AMOUNT_MAX * 10**9
"""A running balance in a cursor beyond this was not written by us."""


class LedgerQuery(msgspec.Struct, frozen=True, kw_only=True):
    account_code: str
    office_id: int
    date_from: date
    date_to: date
    currency: str | None = None


class LedgerLine(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: UUID
    line_no: int
    value_date: date
    account_code: str
    office_id: int
    description: str
    source_type: str | None
    source_id: str | None
    currency: str
    debit: Decimal
    credit: Decimal
    balance: Decimal
    """Running balance of the currency after this line, on the account's normal side."""


class CurrencyBalance(msgspec.Struct, frozen=True, kw_only=True):
    currency: str
    balance: Decimal


class LedgerPage(msgspec.Struct, frozen=True, kw_only=True):
    query: LedgerQuery
    account: ReportAccount
    opening: list[CurrencyBalance]
    closing: list[CurrencyBalance]
    lines: list[LedgerLine]
    next_cursor: str | None


class _Position(msgspec.Struct, frozen=True):
    query: str
    value_date: date
    entry_id: UUID
    line_no: Annotated[int, msgspec.Meta(ge=0, le=32_767)]
    balances: Annotated[dict[Annotated[str, msgspec.Meta(pattern="^[A-Z]{3}$")], Decimal], msgspec.Meta(max_length=200)]


_LINES = """
    SELECT l.entry_id, l.line_no, l.value_date, l.office_id, l.side, l.amount, l.currency, a.code,
           e.description, e.source_type, e.source_id
      FROM journal_line l
      JOIN journal_entry e ON e.id = l.entry_id
      JOIN gl_account a ON a.id = l.account_id
     WHERE l.account_id = ANY(CAST(:accounts AS int[])) AND l.office_id = ANY(CAST(:offices AS int[]))
       AND l.value_date BETWEEN :date_from AND :date_to
       AND (l.value_date, l.entry_id, l.line_no) > (:after_date, CAST(:after_entry AS uuid), :after_line)
       {currency}
     ORDER BY l.value_date, l.entry_id, l.line_no
     LIMIT :limit
"""


async def general_ledger(uow: UnitOfWork, query: LedgerQuery, *, limit: int, cursor: str | None) -> LedgerPage:
    assert 1 <= limit <= PAGE_SIZE_MAX, limit
    check_period(query.date_from, query.date_to)
    position = _decode(cursor, query) if cursor else None
    async with uow:
        session = uow.session
        offices = await office_subtree(session, query.office_id)
        tree = await load_chart(session)
        account = next((a for a in tree.by_id.values() if a.code == query.account_code), None)
        if account is None:
            raise NotFound(f"unknown account {query.account_code}", field="account_code")
        accounts = [a.account_id for a in tree.descendants(account.account_id) if not a.is_header]
        sign = Decimal(1) if account.type.normal_side is Side.DEBIT else Decimal(-1)

        async def balances(through: date) -> dict[str, Decimal]:
            found: dict[str, Decimal] = {}
            for row in await account_totals(session, through=through, office_ids=offices, account_ids=accounts):
                if query.currency in (None, row.currency):
                    found[row.currency] = found.get(row.currency, Decimal(0)) + row.debit_total - row.credit_total
            return {currency: sign * amount for currency, amount in found.items()}

        opening = await balances(query.date_from - timedelta(days=1))
        closing = await balances(query.date_to)
        for currency in closing.keys() - opening.keys():
            opening[currency] = Decimal(0)  # a currency first used within the period opens at zero
        rows = (await session.execute(
            text(_LINES.format(currency="AND l.currency = :currency" if query.currency else "")),
            {"accounts": accounts, "offices": offices, "date_from": query.date_from, "date_to": query.date_to,
             "after_date": position.value_date if position else date.min,
             "after_entry": str(position.entry_id if position else UUID(int=0)),
             "after_line": position.line_no if position else 0, "currency": query.currency, "limit": limit + 1},
        )).all()
    running = dict(position.balances) if position else dict(opening)
    lines: list[LedgerLine] = []
    for row in rows[:limit]:
        currency = row.currency.strip()
        amount = normalize_amount(row.amount, currency)
        is_debit = row.side == "D"
        zero = normalize_amount(Decimal(0), currency)
        running[currency] = running.get(currency, Decimal(0)) + sign * (amount if is_debit else -amount)
        lines.append(LedgerLine(
            entry_id=row.entry_id, line_no=row.line_no, value_date=row.value_date, account_code=row.code,
            office_id=row.office_id, description=row.description, source_type=row.source_type,
            source_id=row.source_id, currency=currency, debit=amount if is_debit else zero, credit=zero if is_debit else amount,
            balance=normalize_amount(running[currency], currency) + 0,
        ))
    next_cursor = None
    if len(rows) > limit:
        last = lines[-1]
        next_cursor = _encode(_Position(_fingerprint(query), last.value_date, last.entry_id, last.line_no, running))
    return LedgerPage(query=query, account=account, opening=_presented(opening), closing=_presented(closing),
                      lines=lines, next_cursor=next_cursor)


def _presented(balances: dict[str, Decimal]) -> list[CurrencyBalance]:
    return [CurrencyBalance(currency=c, balance=normalize_amount(b, c) + 0) for c, b in sorted(balances.items())]


def _fingerprint(query: LedgerQuery) -> str:
    return hashlib.sha256(msgspec.json.encode(query)).hexdigest()[:16]


def _encode(position: _Position) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def _decode(cursor: str, query: LedgerQuery) -> _Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=_Position)
        if not all(amount.is_finite() and abs(amount) < BALANCE_ABS_MAX for amount in position.balances.values()):
            raise ValueError("balance is not a number in range")
    except (ValueError, msgspec.DecodeError, InvalidOperation) as error:
        raise InvalidInput("malformed cursor", field="cursor") from error
    if position.query != _fingerprint(query):
        raise InvalidInput("this cursor belongs to another general-ledger query", field="cursor")
    return position


async def whole_general_ledger(uow_factory: UnitOfWorkFactory, query: LedgerQuery, *, lines_max: int) -> LedgerPage:
    """Every line of the period in one page (for exports), refused past `lines_max` lines."""
    page = await general_ledger(uow_factory(), query, limit=PAGE_SIZE_MAX, cursor=None)
    lines = list(page.lines)
    while page.next_cursor is not None:
        if len(lines) >= lines_max:
            raise InvalidInput(f"more than {lines_max} lines: export a shorter period", field="to")
        page = await general_ledger(uow_factory(), query, limit=PAGE_SIZE_MAX, cursor=page.next_cursor)
        lines += page.lines
    return msgspec.structs.replace(page, lines=lines, next_cursor=None)
