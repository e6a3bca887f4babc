"""The withholding tax on deposit interest in force on a day (UEMOA: IRC / IRCM).

Reference data (`tax_rate`, revision 0008; kind `withholding` since 0019): operation
`deposit_interest`, else `all_financial_services`, for the institution's country (the latest
credit parameters), with validity periods. No rate recorded: no tax. An exempt institution
(`institution_exempt`) withholds nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

_ZERO: Final = Decimal(0)

_WITHHOLDING_RATES: Final = text("""
SELECT r.valid_from, r.valid_to, r.operation_kind, r.rate_percent, r.institution_exempt
  FROM tax_rate r
 WHERE r.active AND r.tax_kind = 'withholding' AND r.operation_kind IN ('deposit_interest', 'all_financial_services')
   AND r.country = (SELECT p.country FROM credit_parameters p ORDER BY p.version DESC LIMIT 1)""")


class WithholdingTax:
    """The withholding tax on deposit interest in force on a day (reference data: tax kind
    `withholding`, operation `deposit_interest`, else `all_financial_services`, for the
    institution's country in the credit parameters). No rate recorded: no tax. Loaded once
    per run: the table holds a handful of rows."""

    def __init__(self, rows: Sequence[Any]) -> None:
        self._rows = list(rows)
        self._by_day: dict[date, Decimal] = {}  # a run asks for a few distinct period ends

    @classmethod
    async def load(cls, session: AsyncSession) -> WithholdingTax:
        return cls((await session.execute(_WITHHOLDING_RATES)).all())

    def percent_on(self, day: date) -> Decimal:
        found = self._by_day.get(day)
        if found is None:
            found = self._by_day[day] = self._in_force(day)
        return found

    def _in_force(self, day: date) -> Decimal:
        """The operation's own rate if one is in force, else the rate for all financial services."""
        for specific in (True, False):
            found = [r for r in self._rows if (r.operation_kind == "deposit_interest") is specific
                     and r.valid_from <= day and (r.valid_to is None or day <= r.valid_to)]
            if found:
                latest = max(found, key=lambda r: r.valid_from)
                return _ZERO if latest.institution_exempt else _plain(latest.rate_percent)
        return _ZERO


async def withholding_tax(session: AsyncSession) -> WithholdingTax:
    return await WithholdingTax.load(session)



def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
