"""A loan simulation: schedule, totals, TEG and usury check for one set of terms.

Pure, like the rest of `products.loans`: the API (through a servicing call when one
exists) passes terms and the institution's usury settings, and gets a value back.
"""

from decimal import Decimal
from typing import Final

import msgspec

from products.loans.apr import Apr, AprMethod, UsuryCheck, check_usury, compute_apr
from products.loans.model import Schedule
from products.loans.schedule import generate_schedule
from products.loans.terms import LoanTerms

USURY_CAP_SFD_ANNUAL_PERCENT: Final = Decimal(24)
"""UEMOA usury rate for decentralised financial systems (24 % since 2014, maintained in
December 2025); banks have 15 % (14 % from 2026). A dated institution setting in time."""


class LoanSimulation(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a loan officer is shown for a set of terms."""

    terms: LoanTerms
    schedule: Schedule
    apr: Apr
    usury: UsuryCheck


def simulate_loan(
    terms: LoanTerms,
    *,
    usury_cap_annual_percent: Decimal = USURY_CAP_SFD_ANNUAL_PERCENT,
    usury_method: AprMethod = AprMethod.ACTUARIAL,
) -> LoanSimulation:
    """Schedule, TEG and usury check; raises `TermsError` naming the field on bad terms."""
    schedule = generate_schedule(terms)
    apr = compute_apr(terms, schedule)
    usury = check_usury(apr, cap_annual_percent=usury_cap_annual_percent, method=usury_method)
    return LoanSimulation(terms=terms, schedule=schedule, apr=apr, usury=usury)
