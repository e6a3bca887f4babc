"""Operator errors of the ledger: typed, carrying the field they concern, so that the API
can answer a 4xx naming it. Programmer errors are assertions, not these."""

from __future__ import annotations


class LedgerError(Exception):
    """An input or state the ledger refuses. `field` names the offending input (JSON path)."""

    code: str = "ledger-error"
    status_hint: int = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidEntry(LedgerError):
    code = "invalid-entry"


class UnbalancedEntry(InvalidEntry):
    code = "unbalanced-entry"


class InvalidAmount(InvalidEntry):
    code = "invalid-amount"


class UnknownCurrency(InvalidEntry):
    code = "unknown-currency"


class AccountNotPostable(InvalidEntry):
    """Unknown, header, disabled or currency-restricted account."""

    code = "account-not-postable"


class UnknownOffice(LedgerError):
    code = "unknown-office"


class PeriodClosed(LedgerError):
    code = "period-closed"
    status_hint = 409


class EntryNotFound(LedgerError):
    code = "entry-not-found"
    status_hint = 404


class AlreadyReversed(LedgerError):
    code = "already-reversed"
    status_hint = 409


class IdempotencyConflict(LedgerError):
    code = "idempotency-key-reused"
    status_hint = 409


class ClosureError(LedgerError):
    code = "closure-error"
    status_hint = 409
