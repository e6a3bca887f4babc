"""Operator errors of the deposit calculators.

A `DepositError` is bad input or a refused operation (a compounding period longer than the
posting period, a premature closure inside the lock-in, a rate chart with no row for the
term). It is a `ledger.errors.LedgerError`, so the API's domain-error handler answers it with
a problem naming ``field``. Programmer errors stay `assert`s.

A refused withdrawal is *not* an exception: `balances.check_withdrawal` returns a
`WithdrawalRefused` value, because refusing is an ordinary answer the teller shows.
"""

from ledger.errors import LedgerError


class DepositError(LedgerError):
    """Deposit settings or an operation the calculators refuse.

    Parameters
    ----------
    field
        Path of the offending input as the API spells it, e.g. ``interest.compounding``.
    message
        A sentence for the teller or the product manager, without the field name.
    """

    code = "invalid-deposit-operation"
    status_hint = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.message = message


class PrematureClosureRefused(DepositError):
    """A term deposit closed before its lock-in ends, or a closure date outside the term."""

    code = "premature-closure-refused"
    status_hint = 409


class RateNotFound(DepositError):
    """No rate chart valid on the date has a row for this term and amount."""

    code = "rate-not-found"
