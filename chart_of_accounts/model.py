"""General-ledger accounts. Only detail accounts take postings; header accounts group
their children and roll their balances up in reports."""

from __future__ import annotations

import enum

import msgspec

from ledger.model import Side


class AccountType(enum.Enum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"

    @property
    def normal_side(self) -> Side:
        """Assets and expenses grow by debits; liabilities, equity and income by credits.

        Contra accounts (provisions, accumulated depreciation) keep their class's type and
        simply show a negative balance on that side.
        """
        return Side.DEBIT if self in (AccountType.ASSET, AccountType.EXPENSE) else Side.CREDIT


class AccountUsage(enum.Enum):
    HEADER = "header"
    DETAIL = "detail"


class GLAccount(msgspec.Struct, frozen=True, kw_only=True):
    """One account of the chart, as an accountant defines it.

    `currency` restricts postings to one currency when set; `manual_entries_allowed`
    says whether staff may post manual journal entries on it (control accounts of
    sub-ledgers usually refuse them).
    """

    code: str
    name: str
    type: AccountType
    usage: AccountUsage
    parent_code: str | None = None
    currency: str | None = None
    manual_entries_allowed: bool = True
    active: bool = True
    tags: tuple[str, ...] = ()
    description: str = ""

    @property
    def is_header(self) -> bool:
        return self.usage is AccountUsage.HEADER

    @property
    def normal_side(self) -> Side:
        return self.type.normal_side
