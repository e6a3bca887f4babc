"""Currency facts for the journal: minor units come from ISO 4217 (via py-moneyed), so
XOF and XAF have none, EUR two, KWD three. Journal amounts are exact in that unit."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from functools import cache

from moneyed import CURRENCIES

from ledger.errors import InvalidAmount, UnknownCurrency
from ledger.limits import AMOUNT_DECIMALS_MAX, AMOUNT_MAX


@cache
def minor_unit_digits(currency_code: str) -> int:
    """Digits after the decimal point of the currency's minor unit (XOF 0, EUR 2, KWD 3)."""
    currency = CURRENCIES.get(currency_code)
    if currency is None or currency_code in ("XXX", "XTS"):
        raise UnknownCurrency(f"unknown currency {currency_code!r}", field="currency")
    sub_unit = int(currency.sub_unit)
    digits = len(str(sub_unit)) - 1
    assert sub_unit == 10**digits, currency_code
    assert 0 <= digits <= AMOUNT_DECIMALS_MAX, currency_code
    return digits


def is_known_currency(currency_code: str) -> bool:
    try:
        minor_unit_digits(currency_code)
    except UnknownCurrency:
        return False
    return True


def check_amount(amount: Decimal, currency_code: str, *, field: str) -> None:
    """Refuse an amount that is not a finite positive number exact in the currency's minor unit."""
    if not amount.is_finite():
        raise InvalidAmount("amount must be a finite number", field=field)
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero", field=field)
    if amount >= AMOUNT_MAX:
        raise InvalidAmount(f"amount must be below {AMOUNT_MAX:,.0f}", field=field)
    digits = minor_unit_digits(currency_code)
    KNOWN_QUANTA[currency_code] = _quantum(digits)
    if amount.same_quantum(_quantum(digits)):
        return  # written with exactly the minor unit's digits: exact
    exponent = amount.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > digits and not _is_exact(amount, digits):
        raise InvalidAmount(
            f"{currency_code} amounts have {digits} decimal(s); {amount} is not exact in that unit",
            field=field,
        )


KNOWN_QUANTA: dict[str, Decimal] = {}
"""The minor unit (as a Decimal exponent: XOF 1, EUR 0.01) of every currency `check_amount` has met:
the hot paths test an amount against it without a function call."""


def normalize_amount(amount: Decimal, currency_code: str) -> Decimal:
    """The amount written with exactly the currency's minor-unit digits (for storage and output)."""
    quantum = _quantum(minor_unit_digits(currency_code))
    return amount if amount.same_quantum(quantum) else amount.quantize(quantum)


@cache
def _quantum(digits: int) -> Decimal:
    return Decimal(1).scaleb(-digits)


def _is_exact(amount: Decimal, digits: int) -> bool:
    try:
        return amount == amount.quantize(_quantum(digits))
    except InvalidOperation:
        return False
