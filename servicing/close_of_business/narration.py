"""Narration of the entries a restatement posts through the close-of-business steps.

A backdated loan event re-runs the loan's steps inside its own unit of work
(`servicing.close_of_business.per_loan`); the entries those steps post then say so, in French
and English, and name the loan, so an accountant reading the journal knows a correction from a
night's posting. A context variable, set only for the duration of the restatement, keeps the
steps' signatures as they are."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_RESTATING: ContextVar[int | None] = ContextVar("restating_loan", default=None)


def narrated(description: str) -> str:
    """The entry's description, prefixed while a loan is being restated."""
    loan_id = _RESTATING.get()
    if loan_id is None:
        return description
    return f"Retraitement (restatement) prêt n° {loan_id} : {description}"


@contextmanager
def restating(loan_id: int) -> Iterator[None]:
    token = _RESTATING.set(loan_id)
    try:
        yield
    finally:
        _RESTATING.reset(token)
