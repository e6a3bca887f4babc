"""Loan simulation (M2.2): terms in, schedule, totals, TEG and usury check out. No I/O
today; the usury cap will come from the institution's dated settings (product catalogue
issue), and the API reaches the calculators through here, never directly."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from products.loans import simulate_loan
from products.loans.apr import AprMethod
from products.loans.simulation import LoanSimulation
from products.loans.terms import LoanTerms


class SimulateLoan(msgspec.Struct, frozen=True, kw_only=True):
    terms: LoanTerms
    usury_method: AprMethod
    usury_cap_annual_percent: Decimal | None = None


def simulate(command: SimulateLoan) -> LoanSimulation:
    if command.usury_cap_annual_percent is None:
        return simulate_loan(command.terms, usury_method=command.usury_method)
    return simulate_loan(command.terms, usury_method=command.usury_method,
                         usury_cap_annual_percent=command.usury_cap_annual_percent)
