"""Operator errors of the reference data. A `ReferenceDataError` is a `LedgerError`, so the
API answers it with a 422 problem naming the field (e.g. ``buckets[2].days_overdue_min``)."""

from __future__ import annotations

from ledger.errors import LedgerError


class ReferenceDataError(LedgerError):
    """A reference setting that breaks a rule; `field` is its path as the API spells it."""

    code = "invalid-reference-data"
    status_hint = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.message = message
