"""What a loan holds for its borrower on the overpayment liability, derived from its
transactions: the overpayments of the repayments that stand (not reversed) less the refunds
made. Never negative while the books are right: a refund is refused beyond it, and so is the
reversal of a repayment whose overpayment was already refunded."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from servicing.loans.schedules import not_reversed

REFUND_KIND: Final = "overpayment_refund"


def overpayment_held(history: Sequence[Any]) -> Decimal:
    """``history``: the loan's transaction rows (kind, id, reverses_transaction_id, overpayment, amount)."""
    received = sum((t.overpayment for t in not_reversed(history, "repayment")), Decimal(0))
    refunded = sum((t.amount for t in history if t.kind == REFUND_KIND), Decimal(0))
    return received - refunded
