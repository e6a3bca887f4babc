"""Errors of the service layer, and the translation of PostgreSQL's own refusals (the
ledger's triggers raise SQLSTATE GLxxx) into the same typed errors the Python checks raise,
so a rule caught late by the database still answers a clear 4xx."""

from __future__ import annotations

from ledger.errors import (
    AccountNotPostable,
    AlreadyReversed,
    ClosureError,
    InvalidAmount,
    InvalidEntry,
    LedgerError,
    PeriodClosed,
    UnbalancedEntry,
    UnknownOffice,
)


class NotFound(LedgerError):
    code = "not-found"
    status_hint = 404


class Conflict(LedgerError):
    code = "conflict"
    status_hint = 409


class ServiceUnavailable(LedgerError):
    code = "service-unavailable"
    status_hint = 503


class InvalidInput(LedgerError):
    code = "invalid-input"
    status_hint = 422


class ChartRejected(LedgerError):
    """A chart change breaks a chart rule; `problems` lists every one found."""

    code = "chart-rejected"
    status_hint = 422

    def __init__(self, message: str, *, problems: list[dict[str, str]], field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.problems = problems


_BY_SQLSTATE: dict[str, type[LedgerError]] = {
    "GL001": UnknownOffice,
    "GL002": Conflict,
    "GL010": Conflict,
    "GL011": InvalidEntry,
    "GL012": UnknownOffice,
    "GL013": PeriodClosed,
    "GL014": InvalidEntry,
    "GL020": UnbalancedEntry,
    "GL021": InvalidEntry,
    "GL022": InvalidAmount,
    "GL023": AccountNotPostable,
    "GL030": ClosureError,
    "23505": Conflict,
}
_FIELD_BY_SQLSTATE = {"GL013": "value_date", "GL020": "lines", "GL023": "lines", "GL030": "closing_date"}


def sqlstate_of(error: BaseException) -> str | None:
    """SQLSTATE of a database error, through SQLAlchemy's and asyncpg's wrappers."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str):
            return state
        current = getattr(current, "orig", None) or current.__cause__
    return None


def translate_database_error(error: BaseException) -> LedgerError | None:
    """The typed error for a refusal raised by our triggers or constraints, else None."""
    state = sqlstate_of(error)
    if state is None or state not in _BY_SQLSTATE:
        return None
    message = _message_of(error)
    return _BY_SQLSTATE[state](message, field=_FIELD_BY_SQLSTATE.get(state))


def _message_of(error: BaseException) -> str:
    current: BaseException | None = error
    while current is not None:
        orig = getattr(current, "orig", None)
        if orig is None:
            break
        current = orig
    text = str(current or error)
    first_line = text.splitlines()[0] if text else "refused by the database"
    return first_line.split(": ", 1)[-1] if first_line.startswith("<class") else first_line


__all__ = (
    "AccountNotPostable",
    "AlreadyReversed",
    "ChartRejected",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "translate_database_error",
)
