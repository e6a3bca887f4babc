"""Deposit accounts on the wire: amounts are decimal strings, never floats."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Final
from uuid import UUID

import msgspec

from api.schemas.common import DATE_MAX, DATE_MIN, Id, LongText, ShortText, check_date
from servicing.deposits import commands
from servicing.deposits.accounts import AccountView, HoldRecord
from servicing.deposits.movements import MovementResult
from servicing.deposits.repository import TransactionRecord
from servicing.deposits.statements import HistoryItem, ReconciliationRow, Statement, StatementLine

Amount = Annotated[str, msgspec.Meta(
    pattern=r"^[0-9]{1,18}(\.[0-9]{1,4})?$",
    description="Decimal string, exact in the account currency's minor unit (XOF: whole francs, e.g. '150000')")]
Rate = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,3}(\.[0-9]{1,4})?$", description="Annual percent, e.g. '3.5'")]
AccountId = Annotated[int, msgspec.Meta(ge=1, le=9_007_199_254_740_991, description="Deposit account id")]


def _dates(*values: tuple[date | None, str]) -> None:
    for value, field in values:
        check_date(value, field)


class OpenAccountIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    client_id: Id
    product_id: Id
    opened_on: date | None = None
    interest_rate_annual_percent: Rate | None = None
    overdraft_limit: Amount | None = None
    minimum_balance: Amount | None = None

    def __post_init__(self) -> None:
        _dates((self.opened_on, "opened_on"))

    def to_command(self, actor: str) -> commands.OpenDepositAccount:
        def number(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        return commands.OpenDepositAccount(
            client_id=self.client_id, product_id=self.product_id, actor=actor, opened_on=self.opened_on,
            interest_rate_annual_percent=number(self.interest_rate_annual_percent),
            overdraft_limit=number(self.overdraft_limit), minimum_balance=number(self.minimum_balance))


class ActivateIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    activated_on: date | None = None

    def __post_init__(self) -> None:
        _dates((self.activated_on, "activated_on"))


class ReasonIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: ShortText | None = None


class MovementIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A deposit or a withdrawal at the counter, by mobile money, cheque..."""

    amount: Amount
    value_date: date | None = None
    payment_type_id: Id | None = None
    description: ShortText = ""

    def __post_init__(self) -> None:
        _dates((self.value_date, "value_date"))

    def deposit(self, account_id: int, actor: str, key: str | None) -> commands.Deposit:
        return commands.Deposit(account_id=account_id, amount=Decimal(self.amount), actor=actor,
                                value_date=self.value_date, payment_type_id=self.payment_type_id,
                                description=self.description, idempotency_key=key)

    def withdrawal(self, account_id: int, actor: str, key: str | None) -> commands.Withdraw:
        return commands.Withdraw(account_id=account_id, amount=Decimal(self.amount), actor=actor,
                                 value_date=self.value_date, payment_type_id=self.payment_type_id,
                                 description=self.description, idempotency_key=key)


class TransferIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    to_account_id: AccountId
    amount: Amount
    value_date: date | None = None
    description: ShortText = ""

    def __post_init__(self) -> None:
        _dates((self.value_date, "value_date"))

    def to_command(self, account_id: int, actor: str, key: str | None) -> commands.Transfer:
        return commands.Transfer(from_account_id=account_id, to_account_id=self.to_account_id,
                                 amount=Decimal(self.amount), actor=actor, value_date=self.value_date,
                                 description=self.description, idempotency_key=key)


class ReversalIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Why the movement is reversed (kept in the transactions' description and the entry's)."""

    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("reason must not be blank")

    def to_command(self, account_id: int, transaction_id: int, actor: str,
                   key: str | None) -> commands.ReverseMovement:
        return commands.ReverseMovement(account_id=account_id, transaction_id=transaction_id,
                                        reason=self.reason.strip(), actor=actor, idempotency_key=key)


class HoldIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    amount: Amount
    reason: commands.HoldReason
    description: LongText = ""

    def to_command(self, account_id: int, actor: str) -> commands.PlaceHold:
        return commands.PlaceHold(account_id=account_id, amount=Decimal(self.amount), reason=self.reason,
                                  actor=actor, description=self.description)


class InterestRunIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    posting_date: date

    def __post_init__(self) -> None:
        if not DATE_MIN <= self.posting_date <= DATE_MAX:
            raise ValueError(f"posting_date must be between {DATE_MIN} and {DATE_MAX}")


class AccountOut(msgspec.Struct, kw_only=True):
    account_id: int
    client_id: int
    product_id: int
    product_version: int
    currency: str
    office_id: int
    status: str
    status_reason: str | None
    interest_rate_annual_percent: Decimal
    overdraft_limit: Decimal
    minimum_balance: Decimal
    balance: Decimal
    on_hold: Decimal
    available_balance: Decimal
    opened_on: date
    activated_on: date | None
    closed_on: date | None
    created_at: datetime
    created_by: str
    last_client_movement_on: date | None
    """The client's last own movement (or the reactivation): dormancy counts from it."""
    dormant: bool
    """No movement of the client for longer than the product's dormancy days: withdrawals are refused."""

    @classmethod
    def from_view(cls, view: AccountView) -> AccountOut:
        values = msgspec.structs.asdict(view.account)
        return cls(**values, available_balance=view.available_balance, dormant=view.dormant)


class TransactionOut(msgspec.Struct, kw_only=True):
    transaction_id: int
    account_id: int
    kind: str
    amount: Decimal
    balance_after: Decimal
    value_date: date
    payment_type_id: int | None
    charge_id: int | None
    hold_id: int | None
    counterpart_account_id: int | None
    journal_entry_id: UUID | None
    description: str
    booked_at: datetime
    actor: str
    reverses_id: int | None = None
    """The transaction a reversal cancels."""

    @classmethod
    def from_record(cls, record: TransactionRecord) -> TransactionOut:
        return cls(**msgspec.structs.asdict(record))


class MovementOut(msgspec.Struct, kw_only=True):
    journal_entry_id: UUID | None
    transactions: list[TransactionOut]

    @classmethod
    def from_result(cls, result: MovementResult) -> MovementOut:
        return cls(journal_entry_id=result.journal_entry_id,
                   transactions=[TransactionOut.from_record(t) for t in result.transactions])


class HoldOut(msgspec.Struct, kw_only=True):
    hold_id: int
    account_id: int
    amount: Decimal
    reason: str
    description: str
    placed_on: date
    placed_by: str
    released_on: date | None
    released_by: str | None

    @classmethod
    def from_record(cls, record: HoldRecord) -> HoldOut:
        return cls(**msgspec.structs.asdict(record))


class StatementLineOut(msgspec.Struct, kw_only=True):
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


class StatementOut(msgspec.Struct, kw_only=True):
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
    lines: list[StatementLineOut]

    @classmethod
    def from_statement(cls, statement: Statement) -> StatementOut:
        values = msgspec.structs.asdict(statement)
        values["lines"] = [StatementLineOut(**msgspec.structs.asdict(line)) for line in statement.lines]
        return cls(**values)


STATEMENT_CSV: Final = ("Date de valeur", "Opération", "Libellé", "Débit", "Crédit", "Solde", "Écriture")


def statement_rows(statement: Statement) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = [(statement.date_from, "", "Solde d'ouverture", None, None,
                                       statement.opening_balance, None)]
    rows += [_line_row(line) for line in statement.lines]
    rows.append((statement.date_to, "", "Solde de clôture", statement.total_debits, statement.total_credits,
                 statement.closing_balance, None))
    return rows


def _line_row(line: StatementLine) -> tuple[object, ...]:
    return (line.value_date, line.kind, line.description, line.debit or None, line.credit or None, line.balance,
            str(line.journal_entry_id) if line.journal_entry_id else None)


class HistoryItemOut(msgspec.Struct, kw_only=True):
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

    @classmethod
    def from_item(cls, item: HistoryItem) -> HistoryItemOut:
        return cls(**msgspec.structs.asdict(item))


class ReconciliationRowOut(msgspec.Struct, kw_only=True):
    product_ids: list[int]
    currency: str
    account_count: int
    accounts_balance: Decimal
    deposit_control_account: str | None
    overdraft_account: str | None
    gl_deposit_control_balance: Decimal | None
    gl_overdraft_balance: Decimal | None
    gl_net_balance: Decimal | None
    difference: Decimal | None

    @classmethod
    def from_row(cls, row: ReconciliationRow) -> ReconciliationRowOut:
        values = msgspec.structs.asdict(row)
        values["product_ids"] = list(row.product_ids)
        return cls(**values)


class ReconciliationOut(msgspec.Struct, kw_only=True):
    on: date
    balanced: bool
    rows: list[ReconciliationRowOut]


class InterestRunOut(msgspec.Struct, kw_only=True):
    posting_date: date
    accounts_considered: int
    accounts_posted: int
    already_posted: int
    interest_posted: Decimal
    overdraft_interest_charged: Decimal
    entries_booked: int
