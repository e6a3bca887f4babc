"""Commands on deposit accounts (what a teller asks for), and the refusals they can meet."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from enum import StrEnum

import msgspec

from ledger.errors import LedgerError
from products.deposits import MovementRefused, RefusalReason


class HoldReason(StrEnum):
    GUARANTEE = "guarantee"
    CASH_COLLATERAL = "cash_collateral"
    LEGAL = "legal"


class StatusAction(StrEnum):
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    BLOCK = "block"
    UNBLOCK = "unblock"


class OpenDepositAccount(msgspec.Struct, frozen=True, kw_only=True):
    client_id: int
    product_id: int
    actor: str
    opened_on: date | None = None
    interest_rate_annual_percent: Decimal | None = None
    overdraft_limit: Decimal | None = None
    minimum_balance: Decimal | None = None


class Deposit(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    amount: Decimal
    actor: str
    value_date: date | None = None
    payment_type_id: int | None = None
    description: str = ""
    idempotency_key: str | None = None


class Withdraw(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    amount: Decimal
    actor: str
    value_date: date | None = None
    payment_type_id: int | None = None
    description: str = ""
    idempotency_key: str | None = None
    releases_hold_id: int | None = None
    """The hold that kept the funds while the withdrawal waited for approval, released with it."""


class Transfer(msgspec.Struct, frozen=True, kw_only=True):
    from_account_id: int
    to_account_id: int
    amount: Decimal
    actor: str
    value_date: date | None = None
    description: str = ""
    idempotency_key: str | None = None
    releases_hold_id: int | None = None
    """The hold that kept the funds while the transfer waited for approval, released with it."""


class ReverseMovement(msgspec.Struct, frozen=True, kw_only=True):
    """Reverse the movement a transaction of the account belongs to (all its transactions and
    its journal entry)."""

    account_id: int
    transaction_id: int
    reason: str
    actor: str
    idempotency_key: str | None = None


class PlaceHold(msgspec.Struct, frozen=True, kw_only=True):
    account_id: int
    amount: Decimal
    reason: HoldReason
    actor: str
    description: str = ""


def fingerprint(command: msgspec.Struct) -> str:
    """What makes two requests "the same" for an idempotency key: every field but the key
    and the actor, with amounts compared by value (150000 and 150000.00 are one request)."""
    values = msgspec.to_builtins(command)
    values.pop("idempotency_key", None)
    values.pop("actor", None)
    values.pop("releases_hold_id", None)  # set by the approval that runs it, not by the request
    if "amount" in values:
        values["amount"] = str(Decimal(values["amount"]).normalize())
    return hashlib.sha256(msgspec.json.encode(values, order="sorted")).hexdigest()


_STATUS_OF_REFUSAL = {
    RefusalReason.ACCOUNT_PENDING: 409, RefusalReason.ACCOUNT_FROZEN: 409, RefusalReason.ACCOUNT_BLOCKED: 409,
    RefusalReason.ACCOUNT_CLOSED: 409, RefusalReason.ACCOUNT_DORMANT: 409,
}


class MovementRefusedError(LedgerError):
    """A movement the account's rules refuse (money, status, precision); nothing is written."""

    code = "movement-refused"
    status_hint = 422

    def __init__(self, refusal: MovementRefused, *, field: str | None = None) -> None:
        super().__init__(refusal.message, field=field or refusal.field)
        self.code = refusal.reason.value.replace("_", "-")
        self.status_hint = _STATUS_OF_REFUSAL.get(refusal.reason, 422)
        self.extensions = {"reason": refusal.reason.value}


class AccountStateConflict(LedgerError):
    """The account's status or content does not allow the operation (close with money left...)."""

    code = "account-state"
    status_hint = 409
