"""Product rounding: currency decimals, rounding mode and "in multiples of".

A product rounds money in two steps, both with its own mode:

1. to its number of decimals (at most the currency's: 2 for EUR, 0 for XOF/XAF, 3 for KWD);
2. when set, to a multiple of ``in_multiples_of`` (e.g. 5 XOF, or 0.05 CHF).

Modes are the ones core-banking products offer: half up, half even (banker's rounding,
Fineract's default), half down, down (towards zero) and up (away from zero). Amounts in a
schedule are never negative, so ceiling/floor would add nothing.

`Rounder` is the compiled form: the quantum and the multiple are built once per schedule,
so rounding an amount costs one ``quantize`` (and one division when multiples are used).
"""

import decimal
from decimal import Decimal
from enum import StrEnum
from typing import Final

import moneyed
import msgspec

CURRENCY_DECIMALS_MAX: Final = 4


_SIGNIFICANT: Final = decimal.Context(prec=20, rounding=decimal.ROUND_HALF_EVEN)
"""Significant digits an amount keeps before the product's rounding (see `Rounder.round`)."""

class RoundingMode(StrEnum):
    """How a product rounds amounts; values are the wire names."""

    HALF_UP = "half_up"
    HALF_EVEN = "half_even"
    HALF_DOWN = "half_down"
    DOWN = "down"
    UP = "up"


_DECIMAL_MODE: Final = {
    RoundingMode.HALF_UP: decimal.ROUND_HALF_UP,
    RoundingMode.HALF_EVEN: decimal.ROUND_HALF_EVEN,
    RoundingMode.HALF_DOWN: decimal.ROUND_HALF_DOWN,
    RoundingMode.DOWN: decimal.ROUND_DOWN,
    RoundingMode.UP: decimal.ROUND_UP,
}
assert set(_DECIMAL_MODE) == set(RoundingMode)


class Rounding(msgspec.Struct, frozen=True, kw_only=True):
    """A product's rounding of amounts.

    Parameters
    ----------
    decimals
        Decimal places kept; ``None`` means the currency's own (ISO 4217 minor unit).
    mode
        Rounding mode for both steps.
    in_multiples_of
        When set, amounts are rounded to a multiple of this value (in major units, e.g.
        ``Decimal("5")`` XOF). It must itself be a whole number of the smallest unit.
    """

    decimals: int | None = None
    mode: RoundingMode = RoundingMode.HALF_EVEN
    in_multiples_of: Decimal | None = None


def currency_decimals(currency_code: str) -> int:
    """Decimal places of a currency from py-moneyed's minor unit (XOF 0, EUR 2, KWD 3).

    Raises ``KeyError`` for an unknown code: callers validate the code first.
    """
    sub_unit = moneyed.get_currency(currency_code).sub_unit
    assert isinstance(sub_unit, int), currency_code
    assert sub_unit >= 1, currency_code
    decimals = len(str(sub_unit)) - 1
    assert 10**decimals == sub_unit, f"{currency_code}: minor unit {sub_unit} is not a power of ten"
    assert decimals <= CURRENCY_DECIMALS_MAX, currency_code
    return decimals


class Rounder:
    """Compiled rounding: quantum, mode and multiple resolved once.

    Parameters
    ----------
    decimals
        Places kept (already resolved against the currency).
    mode
        Product rounding mode.
    multiple
        ``None``, or a positive multiple of ``10**-decimals``.
    """

    __slots__ = ("_decimal_mode", "decimals", "mode", "multiple", "quantum")

    def __init__(self, *, decimals: int, mode: RoundingMode, multiple: Decimal | None) -> None:
        assert 0 <= decimals <= CURRENCY_DECIMALS_MAX, decimals
        self.decimals = decimals
        self.mode = mode
        self.quantum = Decimal(1).scaleb(-decimals)
        self._decimal_mode = _DECIMAL_MODE[mode]
        if multiple is not None:
            assert multiple > 0, multiple
            assert is_multiple_of(multiple, self.quantum), multiple
            if multiple == self.quantum:
                multiple = None  # rounding to the quantum already does it
        self.multiple = multiple

    def round(self, value: Decimal) -> Decimal:
        """Round to decimals, then to the multiple, both with the product's mode. The value is
        first cut to 20 significant digits: two exact computations of one amount (a period's
        interest as one product of rates, or as a sum of rate differences) differ only in the
        last digits of the 28 the engines keep, and must not fall on opposite sides of a tie."""
        rounded = _SIGNIFICANT.plus(value).quantize(self.quantum, rounding=self._decimal_mode)
        if self.multiple is None:
            return rounded
        return self.round_to(rounded, self.multiple)

    def round_to(self, value: Decimal, multiple: Decimal) -> Decimal:
        """Round ``value`` to a multiple of ``multiple`` with the product's mode.

        The result keeps the product's decimals, so ``1230`` stays ``1230`` and never
        becomes ``1.23E+3``.
        """
        units = (value / multiple).quantize(_ONE, rounding=self._decimal_mode)
        return (units * multiple).quantize(self.quantum)

    def round_instalment(self, value: Decimal, instalment_multiple: Decimal | None) -> Decimal:
        """Round an instalment amount: to decimals, then to the instalment multiple if any."""
        rounded = value.quantize(self.quantum, rounding=self._decimal_mode)
        if instalment_multiple is None:
            return rounded
        return self.round_to(rounded, instalment_multiple)

    def zero(self) -> Decimal:
        """Zero with the product's exponent, so sums print as ``0.00`` for EUR and ``0`` for XOF."""
        return self.quantum * 0


_ONE: Final = Decimal(1)


def compile_rounding(rounding: Rounding, currency_code: str) -> Rounder:
    """Resolve a product's `Rounding` against its currency. Inputs are already validated."""
    decimals = currency_decimals(currency_code) if rounding.decimals is None else rounding.decimals
    return Rounder(decimals=decimals, mode=rounding.mode, multiple=rounding.in_multiples_of)


def round_amount(value: Decimal, rounding: Rounding, currency_code: str) -> Decimal:
    """Round one amount the product's way; a convenience over `compile_rounding`."""
    return compile_rounding(rounding, currency_code).round(value)


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` is an exact whole number of ``step`` (both positive or zero)."""
    assert step > 0, step
    return (value % step) == 0
