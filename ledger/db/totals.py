"""Debit and credit totals per account, office and currency over a span of value dates: the one
primitive every report (trial balance, general ledger opening balance, balance sheet, balance as
of a date) is built from. Reports never sum journal lines themselves, so the way totals are found
(straight from the lines, or from derived period totals that `verify` checks) can change here alone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


class AccountTotals(NamedTuple):
    """Sums of one account's lines in one currency (and one office when grouped by office)."""

    account_id: int
    office_id: int | None
    currency: str
    debit_total: Decimal
    credit_total: Decimal
    line_count: int


async def account_totals(
    connection: AsyncConnection | AsyncSession,
    *,
    through: date,
    since: date | None = None,
    office_ids: Sequence[int] | None = None,
    account_ids: Sequence[int] | None = None,
    by_office: bool = False,
) -> list[AccountTotals]:
    """Totals of the lines with `since <= value_date <= through` (from the first line when `since`
    is None), optionally only for some offices (pass an office and its branches) and accounts.
    One row per (account, currency), or per (account, office, currency) when `by_office`;
    accounts without lines in the span are absent. Rows come sorted by account, office, currency."""
    conditions = ["l.value_date <= :through"]
    params: dict[str, object] = {"through": through}
    if since is not None:
        conditions.append("l.value_date >= :since")
        params["since"] = since
    if office_ids is not None:
        conditions.append("l.office_id = ANY(CAST(:office_ids AS int[]))")
        params["office_ids"] = list(office_ids)
    if account_ids is not None:
        conditions.append("l.account_id = ANY(CAST(:account_ids AS int[]))")
        params["account_ids"] = list(account_ids)
    office = "l.office_id" if by_office else "NULL::int"
    rows = (
        await connection.execute(
            text(
                f"""
                SELECT l.account_id, {office} AS office_id, l.currency,
                       coalesce(sum(l.amount) FILTER (WHERE l.side = 'D'), 0) AS debit_total,
                       coalesce(sum(l.amount) FILTER (WHERE l.side = 'C'), 0) AS credit_total,
                       count(*) AS line_count
                  FROM journal_line l
                 WHERE {' AND '.join(conditions)}
                 GROUP BY 1, 2, 3
                 ORDER BY 1, 2, 3
                """
            ),
            params,
        )
    ).all()
    return [
        AccountTotals(row.account_id, row.office_id, row.currency.strip(), row.debit_total, row.credit_total,
                      row.line_count)
        for row in rows
    ]
