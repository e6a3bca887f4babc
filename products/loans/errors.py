"""Operator errors raised by the loan calculators.

A `TermsError` is bad input (a rate too high, a first repayment date before the
disbursement). It is a `ledger.errors.LedgerError` (products depend on the ledger, never
the reverse), so the API's existing domain-error handler answers it with a 422 problem
that names ``field``. Programmer errors stay `assert`s and crash loudly.
"""

from ledger.errors import LedgerError


class TermsError(LedgerError):
    """Loan terms that cannot produce a schedule.

    Parameters
    ----------
    field
        Path of the offending term as the API spells it, e.g. ``fees[1].rate_percent``.
    message
        A sentence for the loan officer, without the field name.
    """

    code = "invalid-loan-terms"
    status_hint = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.message = message
