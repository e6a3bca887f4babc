"""The tax (VAT, TAF) a charge carries, as every fee, charge and penalty applies it. Pure.

A charge names a tax rate of the reference data (`tax_rate`). The rate applies to a fee
falling due on a day only when

- the rate is active,
- the institution is not exempt from it (`institution_exempt`, with the exemption's
  reference: e.g. an SFD exempt from VAT on its credit operations), and
- the day lies within the rate's validity (`valid_from` to `valid_to`, both inclusive;
  no `valid_to`: still in force).

Deposit withdrawal fees, loan schedule fees (disbursement, tranche and instalment fees),
the close of business's automatic loan charges and overdue penalties, and charges added by
hand to a loan all read their tax through `charge_tax` and `ChargeTax.rate_on`, so the same
charge is taxed the same way whatever posts it. This module imports nothing of ours: the
loan terms (`products.loans.terms`) carry a `ChargeTax` on each schedule fee.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

_ZERO: Final = Decimal(0)


class ChargeTax(msgspec.Struct, frozen=True, kw_only=True):
    """A charge's tax rate with its validity; a charge without a tax that applies has none."""

    rate_percent: Decimal
    valid_from: date | None = None
    """None: in force since always (terms frozen before validity was recorded on them)."""
    valid_to: date | None = None

    def rate_on(self, day: date) -> Decimal:
        """The percentage in force on ``day``: zero outside the rate's validity."""
        if self.valid_from is not None and day < self.valid_from:
            return _ZERO
        if self.valid_to is not None and day > self.valid_to:
            return _ZERO
        return self.rate_percent


def charge_tax(rate_percent: Decimal | None, *, valid_from: date | None, valid_to: date | None, active: bool,
               institution_exempt: bool) -> ChargeTax | None:
    """The tax a charge carries from its tax rate's row (``rate_percent`` None: the charge names
    no rate), or None when no rate applies: none named, the rate inactive, or the institution
    exempt from it."""
    if rate_percent is None or not active or institution_exempt:
        return None
    return ChargeTax(rate_percent=_plain(Decimal(rate_percent)), valid_from=valid_from, valid_to=valid_to)


def tax_rate_on(tax: ChargeTax | None, day: date) -> Decimal:
    """The percentage of ``tax`` in force on ``day``; zero without a tax."""
    return _ZERO if tax is None else tax.rate_on(day)


def _plain(value: Decimal) -> Decimal:
    """A numeric column's value without trailing zeros: 18.0000 -> 18, 9.5000 -> 9.5."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
