"""Product events as values: what happened to a loan or a deposit, split into the parts
the posting rules know (principal, interest, fees, penalties, VAT, overpayment...).

An event carries amounts and the context that selects accounts (payment type, charge,
loan classification and term); it carries no account codes. The product's posting rules
decide those (`products.accounting`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.posting_rules import Component, EventKind

EVENT_PARTS_MAX: Final = 64
"""A repayment split over many charges still fits; the entry stays far below LINES_PER_ENTRY_MAX."""


class LoanClassification(StrEnum):
    """Healthy (sain), doubtful (souffrant / en souffrance) and written off (immobilisé)."""

    HEALTHY = "healthy"
    DOUBTFUL = "doubtful"
    WRITTEN_OFF = "written_off"


class TermBucket(StrEnum):
    """Short, medium or long term, from the loan's duration and the product's limits."""

    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"


class EventPart(msgspec.Struct, frozen=True, kw_only=True):
    """One part of an event's amount; `charge_id` names the charge a fee or penalty is for."""

    component: Component
    amount: Decimal
    charge_id: int | None = None


class ProductEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A loan or deposit event, ready for the posting rules.

    Parameters
    ----------
    kind
        Disbursement, repayment, accrual...
    currency
        ISO 4217 code of every part.
    parts
        The amounts, by component (a repayment as allocated: principal, interest...).
    payment_type_id
        How the money moved (cash, cheque...); selects the fund-source account override.
    classification, term
        The loan's classification and term bucket; select classified account overrides.
    previous_classification
        For a reclassification: the classification the amounts leave.
    """

    kind: EventKind
    currency: str
    parts: tuple[EventPart, ...]
    payment_type_id: int | None = None
    classification: LoanClassification = LoanClassification.HEALTHY
    previous_classification: LoanClassification | None = None
    term: TermBucket = TermBucket.SHORT
