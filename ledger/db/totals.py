"""Debit and credit totals per account, office and currency over a span of value dates: the one
primitive every report (trial balance, general ledger opening balance, balance sheet, balance as
of a date) is built from. Reports never sum journal lines themselves: totals come from the year,
month and day totals the posting trigger keeps (`account_period_total`, checked by `verify`), read
as a few whole periods (`ledger.period_blocks`), so a report costs the same at 10 million lines
as at a thousand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ledger.period_blocks import period_blocks, prefix_blocks


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
    # From the beginning: signed runs (the year minus its later months...) read half the rows.
    blocks = prefix_blocks(through) if since is None else period_blocks(since, through)
    if not blocks:
        return []
    params: dict[str, object] = {}
    filters = ""
    if office_ids is not None:
        filters += " AND t.office_id = ANY(CAST(:office_ids AS int[]))"
        params["office_ids"] = list(office_ids)
    if account_ids is not None:
        filters += " AND t.account_id = ANY(CAST(:account_ids AS int[]))"
        params["account_ids"] = list(account_ids)
    office = "t.office_id" if by_office else "NULL::int"
    # One index range per run (UNION ALL, not OR): each is read from the covering index alone.
    runs: list[str] = []
    for n, block in enumerate(blocks):
        params[f"grain_{n}"] = block.grain.value
        params[f"last_{n}"] = block.last_start
        span = f"t.period_start <= :last_{n}"
        if block.first_start is not None:
            params[f"first_{n}"] = block.first_start
            span = f"t.period_start BETWEEN :first_{n} AND :last_{n}"
        runs.append(
            f"SELECT t.account_id, {office} AS office_id, t.currency, {block.sign} * t.debit_total AS debit_total,"
            f" {block.sign} * t.credit_total AS credit_total, {block.sign} * t.line_count AS line_count"
            f" FROM account_period_total t WHERE t.grain = :grain_{n} AND {span}{filters}"
        )
    rows = (
        await connection.execute(
            text(
                f"""
                SELECT account_id, office_id, currency, sum(debit_total) AS debit_total,
                       sum(credit_total) AS credit_total, sum(line_count)::bigint AS line_count
                  FROM ({' UNION ALL '.join(runs)}) runs
                 GROUP BY 1, 2, 3
                HAVING sum(line_count) > 0
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
