"""Helpers shared by the pure product tests: a terse way to state loan terms."""

from datetime import date
from decimal import Decimal
from typing import Any

from products.loans.terms import LoanTerms


def xof_terms(**overrides: Any) -> LoanTerms:
    """1,200,000 XOF at 24 % a year (2 % a month), 6 monthly instalments from 1 January 2025.

    Round numbers on purpose: 2 % of 1,200,000 is 24,000, so most working fits in a comment.
    """
    fields: dict[str, Any] = {
        "currency_code": "XOF",
        "principal_amount": Decimal(1_200_000),
        "disbursement_date": date(2025, 1, 1),
        "repayment_count": 6,
        "interest_rate_percent": Decimal(24),
    }
    fields.update(overrides)
    return LoanTerms(**fields)


def eur_terms(**overrides: Any) -> LoanTerms:
    """The issue's example: 10,000 EUR at 12 % a year, 12 monthly instalments."""
    fields: dict[str, Any] = {
        "currency_code": "EUR",
        "principal_amount": Decimal(10_000),
        "disbursement_date": date(2025, 1, 15),
        "repayment_count": 12,
        "interest_rate_percent": Decimal(12),
    }
    fields.update(overrides)
    return LoanTerms(**fields)
