"""Constrained wire types shared by the schemas. Strings refuse NUL bytes (PostgreSQL
cannot store them) and have a length; ids fit PostgreSQL's integer."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from ledger.limits import ACCOUNT_NAME_LENGTH_MAX, DESCRIPTION_LENGTH_MAX, IDEMPOTENCY_KEY_LENGTH_MAX

_NO_CONTROL = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

INT32_MAX = 2_147_483_647
Id = Annotated[int, msgspec.Meta(ge=1, le=INT32_MAX, description="Identifier (positive integer)")]
Code = Annotated[str, msgspec.Meta(min_length=1, max_length=30, pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]*$")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=ACCOUNT_NAME_LENGTH_MAX, pattern=_NO_CONTROL)]
ShortText = Annotated[str, msgspec.Meta(max_length=100, pattern=_NO_CONTROL)]
Description = Annotated[str, msgspec.Meta(min_length=1, max_length=DESCRIPTION_LENGTH_MAX, pattern=_NO_CONTROL)]
LongText = Annotated[str, msgspec.Meta(max_length=1000, pattern=_NO_CONTROL)]
CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. XOF")]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=1, max_length=IDEMPOTENCY_KEY_LENGTH_MAX, pattern=r"^[\x21-\x7e]+$")]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f|]+$")]

DATE_MIN = date(1900, 1, 1)
DATE_MAX = date(2199, 12, 31)


def check_date(value: date | None, field: str) -> None:
    """Dates outside 1900-2199 are typing mistakes, not bookkeeping."""
    if value is not None and not DATE_MIN <= value <= DATE_MAX:
        raise ValueError(f"{field} must be between {DATE_MIN} and {DATE_MAX}")
