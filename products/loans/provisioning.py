"""Loan-loss provisions (« provisions pour créances en souffrance »): required, and the movement
from what is booked.

BCEAO rule for SFD (RCSFD, account 299, as transcribed in the reference): the provision is a
minimum rate of the **base** « solde restant dû = encours du prêt − dépôts constitués en
garantie auprès du SFD par le débiteur et/ou sa caution », the rate set by the age of the
arrears (40 % beyond 3 months, 80 % beyond 6, 100 % beyond 12). So: base = outstanding
principal (+ interest receivable when the product provisions it) − guarantee deposits held,
never below zero; required = base x the bucket's rate, rounded the product's way.

The run books the difference with what is already booked: an increase is an allowance
(« dotation »), a decrease a release (« reprise »). Provisions are booked per class (the
provisions account may differ for healthy and doubtful loans), so provisions still booked under
a class the loan has left are released there and required ones are booked under its class.
Seed 002's « reprise remb. » releases, at the repayment itself, the provision the repaid
principal no longer needs (`release_on_repayment`), so the evening run finds nothing to do.

Feeds ``PROVISION`` (Dr provision expense, Cr provisions) and ``PROVISION_REVERSAL``
(Dr provisions, Cr provision reversal income). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Final

import msgspec

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import Component, EventKind
from products.rounding import Rounder

_HUNDRED: Final = Decimal(100)


def provision_base(*, principal_outstanding: Decimal, interest_receivable: Decimal = Decimal(0),
                   include_interest: bool = False, guarantee_deposits: Decimal = Decimal(0)) -> Decimal:
    """What the rate applies to: outstanding (principal, and interest if configured) less the
    guarantee deposits the borrower or the guarantor holds with the institution, floored at 0."""
    assert principal_outstanding >= 0, principal_outstanding
    assert interest_receivable >= 0, interest_receivable
    assert guarantee_deposits >= 0, guarantee_deposits
    exposure = principal_outstanding + (interest_receivable if include_interest else 0)
    return max(exposure - guarantee_deposits, exposure * 0)


def required_provision(base: Decimal, rate_percent: Decimal, rounder: Rounder) -> Decimal:
    assert 0 <= rate_percent <= _HUNDRED, rate_percent
    return min(rounder.round(base * rate_percent / _HUNDRED), base)


class ProvisionMovement(msgspec.Struct, frozen=True, kw_only=True):
    """An allowance (``PROVISION``) or a release (``PROVISION_REVERSAL``) under one class."""

    kind: EventKind
    classification: LoanClassification
    amount: Decimal

    def event(self, currency: str, *, term: TermBucket) -> ProductEvent:
        return ProductEvent(kind=self.kind, currency=currency, classification=self.classification, term=term,
                            parts=(EventPart(component=Component.AMOUNT, amount=self.amount),))


def provision_movements(booked: Mapping[LoanClassification, Decimal], required: Decimal,
                        classification: LoanClassification) -> tuple[ProvisionMovement, ...]:
    """Releases of what is booked under other classes, then the allowance or release that
    brings the loan's class to ``required``. Booked + movements = required, per class."""
    assert required >= 0, required
    movements: list[ProvisionMovement] = []
    for other, amount in sorted(booked.items()):
        assert amount >= 0, (other, amount)
        if other is not classification and amount > 0:
            movements.append(ProvisionMovement(kind=EventKind.PROVISION_REVERSAL, classification=other, amount=amount))
    difference = required - booked.get(classification, Decimal(0))
    if difference > 0:
        movements.append(ProvisionMovement(kind=EventKind.PROVISION, classification=classification, amount=difference))
    elif difference < 0:
        movements.append(ProvisionMovement(kind=EventKind.PROVISION_REVERSAL, classification=classification,
                                           amount=-difference))
    return tuple(movements)


def release_on_repayment(booked: Decimal, *, base_after: Decimal, rate_percent: Decimal,
                         rounder: Rounder) -> Decimal:
    """The release seed 002's « reprise remb. » posts with a repayment: what is booked beyond
    the provision the base left after the repayment requires at the loan's current rate.
    Never an allowance: a repayment does not raise a provision."""
    return max(booked - required_provision(base_after, rate_percent, rounder), booked * 0)
