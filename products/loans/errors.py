"""Operator errors raised by the loan calculators.

A `TermsError` is bad input (a rate too high, a first repayment date before the
disbursement): the API maps it to a 4xx problem that names `field`. Programmer errors
stay `assert`s and crash loudly.
"""


class TermsError(ValueError):
    """Loan terms that cannot produce a schedule.

    Parameters
    ----------
    field
        Dotted path of the offending term as the API spells it, e.g. ``fees[1].rate_percent``.
    message
        A sentence for the loan officer, without the field name.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
