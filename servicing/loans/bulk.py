"""Loan transactions written set-based by the close of business: one multi-row INSERT for a
chunk of loans (each row's entry is booked in the same transaction by the caller), and the
booked classification changed for many loans in one UPDATE.

The rows are the same `loan_transaction` rows a counter operation writes (kind, amounts per
component, the classification it was booked under, the entry), so the loan's statement, the
sub-ledger and `grandlivre verify` read them like any other."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text

from servicing.unit_of_work import UnitOfWork


class NewLoanTransaction(msgspec.Struct, frozen=True, kw_only=True):
    loan_id: int
    sequence_number: int
    kind: str
    value_date: date
    currency: str
    amount: Decimal
    classification: str
    journal_entry_id: UUID | None
    principal: Decimal = Decimal(0)
    interest: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    penalty: Decimal = Decimal(0)
    vat: Decimal = Decimal(0)
    payment_type_id: int | None = None
    receipt_number: str | None = None
    idempotency_key: str | None = None
    request_fingerprint: str | None = None


_COLUMNS: Final = (("loan_id", "int"), ("sequence_number", "int"), ("kind", "varchar"), ("value_date", "date"),
                   ("currency", "char(3)"), ("amount", "numeric"), ("principal", "numeric"), ("interest", "numeric"),
                   ("fee", "numeric"), ("penalty", "numeric"), ("vat", "numeric"), ("classification", "varchar"),
                   ("payment_type_id", "int"), ("receipt_number", "varchar"), ("journal_entry_id", "uuid"),
                   ("idempotency_key", "varchar"), ("request_fingerprint", "varchar"))

_INSERT = text(f"""
INSERT INTO loan_transaction ({", ".join(name for name, _t in _COLUMNS)}, allocation, created_by)
SELECT {", ".join(f"t.{name}" for name, _t in _COLUMNS)}, CAST('[]' AS jsonb), :actor
  FROM unnest({", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _COLUMNS)})
       AS t ({", ".join(name for name, _t in _COLUMNS)})
RETURNING id, loan_id
""")


async def insert_transactions(uow: UnitOfWork, rows: Sequence[NewLoanTransaction], actor: str) -> dict[int, int]:
    """Insert the rows in one statement; answers each loan's new transaction id."""
    if not rows:
        return {}
    columns: dict[str, list[Any]] = {name: [getattr(row, name) for row in rows] for name, _t in _COLUMNS}
    inserted = (await uow.session.execute(_INSERT, {**columns, "actor": actor})).all()
    return {loan_id: transaction_id for transaction_id, loan_id in inserted}


_SET_CLASSIFICATION = text("""
UPDATE loan l SET booked_classification = c.classification, updated_at = now(), updated_by = :actor
  FROM unnest(CAST(:ids AS int[]), CAST(:classes AS varchar[])) AS c (loan_id, classification)
 WHERE l.id = c.loan_id
""")


async def set_classifications(uow: UnitOfWork, classes: dict[int, str], actor: str) -> None:
    """Book each loan under its new classification (the caller holds the loans' locks)."""
    if classes:
        await uow.session.execute(_SET_CLASSIFICATION, {"ids": list(classes), "classes": list(classes.values()),
                                                        "actor": actor})
