"""Commands: what a caller asks the service layer to do, with the actor who asks.
Typed values in, never dictionaries keyed by strings."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec

from chart_of_accounts.model import AccountType, AccountUsage, GLAccount
from ledger.model import Line, Reference


class PostJournalEntry(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    office_id: int
    value_date: date
    description: str
    lines: tuple[Line, ...]
    actor: str
    reference: Reference | None = None
    idempotency_key: str | None = None
    manual: bool = True
    """Manual entries are refused on accounts that do not allow them (sub-ledger controls)."""


class ReverseJournalEntry(msgspec.Struct, frozen=True, kw_only=True):
    entry_id: UUID
    actor: str
    value_date: date | None = None
    """Defaults to the original's value date; give an open date when that period is closed."""
    description: str | None = None
    idempotency_key: str | None = None
    manual: bool = True
    """Staff reversals are manual: refused on accounts that do not allow manual entries."""


class CreateOffice(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    name: str
    opened_on: date
    actor: str
    parent_id: int | None = None
    region: str | None = None


class CreateGLAccounts(msgspec.Struct, frozen=True, kw_only=True):
    accounts: tuple[GLAccount, ...]
    actor: str
    skip_existing: bool = False
    """Template loads skip codes already present, so loading twice changes nothing."""


class GLAccountChanges(msgspec.Struct, frozen=True, kw_only=True):
    """Fields to change on an account; UNSET keeps the current value."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    type: AccountType | msgspec.UnsetType = msgspec.UNSET
    usage: AccountUsage | msgspec.UnsetType = msgspec.UNSET
    parent_code: str | msgspec.UnsetType | None = msgspec.UNSET
    currency: str | msgspec.UnsetType | None = msgspec.UNSET
    manual_entries_allowed: bool | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    tags: tuple[str, ...] | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET

    def apply_to(self, account: GLAccount) -> GLAccount:
        changes = {f: getattr(self, f) for f in self.__struct_fields__ if getattr(self, f) is not msgspec.UNSET}
        return msgspec.structs.replace(account, **changes)


class UpdateGLAccount(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    changes: GLAccountChanges
    actor: str


class DeleteGLAccount(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    actor: str


class CloseAccountingPeriod(msgspec.Struct, frozen=True, kw_only=True):
    office_id: int
    closing_date: date
    actor: str
    comments: str = ""


class UndoAccountingClosure(msgspec.Struct, frozen=True, kw_only=True):
    closure_id: int
    actor: str
