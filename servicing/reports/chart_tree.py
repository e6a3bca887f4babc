"""The chart as a report sees it: accounts by id, their parents, and a depth-first order
(a header, then its children by code) in which reports list accounts. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import NamedTuple

import msgspec

from chart_of_accounts.model import AccountType

ACCOUNT_DEPTH_LIMIT = 64
"""Far above the chart's own nesting limit: a walk up the parents stops here even on a cycle."""


class ReportAccount(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    code: str
    name: str
    type: AccountType
    is_header: bool
    parent_id: int | None
    tags: tuple[str, ...] = ()


class Totals(NamedTuple):
    """Debit and credit sums of one detail account's lines in one currency over a span."""

    account_id: int
    currency: str
    debit_total: Decimal
    credit_total: Decimal


class ChartTree:
    """Accounts of the chart with parent links, for roll-ups and ordering."""

    def __init__(self, accounts: Iterable[ReportAccount]) -> None:
        self.by_id = {account.account_id: account for account in accounts}
        self._children: dict[int | None, list[ReportAccount]] = {}
        for account in sorted(self.by_id.values(), key=lambda a: a.code):
            parent = account.parent_id if account.parent_id in self.by_id else None
            self._children.setdefault(parent, []).append(account)

    def ancestors(self, account_id: int) -> list[int]:
        """Parents of an account, nearest first (not the account itself)."""
        found: list[int] = []
        current = self.by_id[account_id].parent_id
        while current is not None and current in self.by_id and len(found) < ACCOUNT_DEPTH_LIMIT:
            found.append(current)
            current = self.by_id[current].parent_id
        return found

    def depth(self, account_id: int) -> int:
        return len(self.ancestors(account_id))

    def descendants(self, account_id: int) -> list[ReportAccount]:
        """The account and every account below it, depth first."""
        return list(self._walk(self.by_id[account_id], 0))

    def in_order(self) -> list[ReportAccount]:
        """Every account, depth first from the roots, children by code."""
        return [account for root in self._children.get(None, []) for account in self._walk(root, 0)]

    def _walk(self, account: ReportAccount, depth: int) -> Iterator[ReportAccount]:
        yield account
        if depth < ACCOUNT_DEPTH_LIMIT:
            for child in self._children.get(account.account_id, []):
                yield from self._walk(child, depth + 1)
