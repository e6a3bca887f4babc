"""Offices, GL accounts and accounting closures on the wire."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from api.schemas.common import Code, CurrencyCode, Id, LongText, Name, ShortText, Tag, check_date
from chart_of_accounts.model import AccountType, AccountUsage, GLAccount
from ledger.offices import Office
from servicing.closures import ClosureRecord
from servicing.commands import GLAccountChanges

AccountTypeName = Literal["asset", "liability", "equity", "income", "expense"]
UsageName = Literal["header", "detail"]


class OfficeIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code
    name: Name
    opened_on: date
    parent_id: Id | None = None
    region: ShortText | None = None

    def __post_init__(self) -> None:
        check_date(self.opened_on, "opened_on")


class OfficeOut(msgspec.Struct, kw_only=True):
    id: int
    code: str
    name: str
    parent_id: int | None
    region: str | None
    hierarchy: list[int]
    """This office's id and its ancestors', from the office up to the head office."""

    @classmethod
    def from_office(cls, office: Office) -> OfficeOut:
        return cls(id=office.office_id, code=office.code, name=office.name, parent_id=office.parent_id,
                   region=office.region, hierarchy=list(office.lineage))


class GLAccountIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    code: Code
    name: Name
    type: AccountTypeName
    usage: UsageName
    parent_code: Code | None = None
    currency: CurrencyCode | None = None
    manual_entries_allowed: bool = True
    active: bool = True
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)] = []
    description: LongText = ""

    def to_account(self) -> GLAccount:
        return GLAccount(
            code=self.code, name=self.name, type=AccountType(self.type), usage=AccountUsage(self.usage),
            parent_code=self.parent_code, currency=self.currency,
            manual_entries_allowed=self.manual_entries_allowed, active=self.active,
            tags=tuple(self.tags), description=self.description,
        )


class GLAccountPatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Fields to change; absent fields keep their value, `null` clears the optional ones."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    type: AccountTypeName | msgspec.UnsetType = msgspec.UNSET
    usage: UsageName | msgspec.UnsetType = msgspec.UNSET
    parent_code: Code | msgspec.UnsetType | None = msgspec.UNSET
    currency: CurrencyCode | msgspec.UnsetType | None = msgspec.UNSET
    manual_entries_allowed: bool | msgspec.UnsetType = msgspec.UNSET
    active: bool | msgspec.UnsetType = msgspec.UNSET
    tags: Annotated[list[Tag], msgspec.Meta(max_length=20)] | msgspec.UnsetType = msgspec.UNSET
    description: LongText | msgspec.UnsetType = msgspec.UNSET

    def to_changes(self) -> GLAccountChanges:
        changes: dict[str, object] = {}
        for field in self.__struct_fields__:
            value = getattr(self, field)
            if value is msgspec.UNSET:
                continue
            if field == "type":
                value = AccountType(value)
            elif field == "usage":
                value = AccountUsage(value)
            elif field == "tags":
                value = tuple(value)
            changes[field] = value
        return GLAccountChanges(**changes)  # type: ignore[arg-type]


class GLAccountOut(msgspec.Struct, kw_only=True):
    id: int
    code: str
    name: str
    type: str
    usage: str
    parent_code: str | None
    currency: str | None
    manual_entries_allowed: bool
    active: bool
    tags: list[str]
    description: str

    @classmethod
    def from_stored(cls, account_id: int, account: GLAccount) -> GLAccountOut:
        return cls(
            id=account_id, code=account.code, name=account.name, type=account.type.value,
            usage=account.usage.value, parent_code=account.parent_code, currency=account.currency,
            manual_entries_allowed=account.manual_entries_allowed, active=account.active,
            tags=list(account.tags), description=account.description,
        )


class ChartTemplateOut(msgspec.Struct, kw_only=True):
    name: str
    label: str
    account_count: int


class ChartLoadOut(msgspec.Struct, kw_only=True):
    created: int
    accounts: list[GLAccountOut]


class ClosureIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    office_id: Id
    closing_date: date
    comments: LongText = ""

    def __post_init__(self) -> None:
        check_date(self.closing_date, "closing_date")


class ClosureOut(msgspec.Struct, kw_only=True):
    id: int
    office_id: int
    closing_date: date
    comments: str
    created_at: datetime
    created_by: str
    undone_at: datetime | None
    undone_by: str | None

    @classmethod
    def from_record(cls, record: ClosureRecord) -> ClosureOut:
        return cls(
            id=record.closure.closure_id, office_id=record.closure.office_id,
            closing_date=record.closure.closing_date, comments=record.comments,
            created_at=record.created_at, created_by=record.created_by,
            undone_at=record.undone_at, undone_by=record.undone_by,
        )
