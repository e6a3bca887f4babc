"""Write-off (« passage en perte ») and later recoveries (« récupérations sur créances amorties »).

A written-off loan's principal is charged first against the provision booked for it, « pertes
couvertes par la provision », the rest to the loss account, « pertes non couvertes » (seed 002
keeps both). Under accrual rules the interest, fees and penalties recognised and never paid are
written off too (under cash accounting they were never income, so there is nothing to reverse).
Provision booked beyond the principal (it covered interest too) is released: it has nothing
left to cover.

A loan may be written off by hand, or by rule once it is overdue more days than the threshold
(the RCSFD: beyond 24 months a loan in souffrance is « irrécouvrable, classée en charges »).

Money recovered afterwards is income (recovery), VAT on recoveries included in what is paid
when the product charges it (seed 002 « taux TVA sur les recouvrements »).

Feeds ``WRITE_OFF`` (principal covered by provision: Dr provisions, Cr portfolio; principal not
covered: Dr losses, Cr portfolio; interest, fees, penalties: Dr losses, Cr their receivable),
``PROVISION_REVERSAL`` for the excess provision, and ``RECOVERY``. Pure.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

import msgspec

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import Component, EventKind
from products.rounding import Rounder

_HUNDRED: Final = Decimal(100)


def write_off_due(days_overdue: int, days_threshold: int | None) -> bool:
    """Whether the rule writes the loan off: overdue more days than the threshold, if any."""
    return days_threshold is not None and days_overdue > days_threshold


class WriteOff(msgspec.Struct, frozen=True, kw_only=True):
    """What a write-off moves. ``principal_covered + principal_not_covered`` is the principal
    outstanding; ``provision_released`` is the provision no principal is left to absorb."""

    principal_covered: Decimal
    principal_not_covered: Decimal
    interest: Decimal
    fees: Decimal
    penalties: Decimal
    provision_released: Decimal

    def event(self, currency: str, *, classification: LoanClassification, term: TermBucket) -> ProductEvent | None:
        """The ``WRITE_OFF`` event (parts the product's rule does not post are skipped by it)."""
        amounts = ((Component.PRINCIPAL_COVERED_BY_PROVISION, self.principal_covered),
                   (Component.PRINCIPAL, self.principal_not_covered), (Component.INTEREST, self.interest),
                   (Component.FEE, self.fees), (Component.PENALTY, self.penalties))
        parts = tuple(EventPart(component=c, amount=a) for c, a in amounts if a > 0)
        if not parts:
            return None
        return ProductEvent(kind=EventKind.WRITE_OFF, currency=currency, classification=classification, term=term,
                            parts=parts)

    def release_event(self, currency: str, *, classification: LoanClassification,
                      term: TermBucket) -> ProductEvent | None:
        """The ``PROVISION_REVERSAL`` of the excess provision, or None."""
        if self.provision_released <= 0:
            return None
        return ProductEvent(kind=EventKind.PROVISION_REVERSAL, currency=currency, classification=classification,
                            term=term, parts=(EventPart(component=Component.AMOUNT, amount=self.provision_released),))


def write_off(*, principal_outstanding: Decimal, provision_booked: Decimal, interest_receivable: Decimal = Decimal(0),
              fees_receivable: Decimal = Decimal(0), penalties_receivable: Decimal = Decimal(0)) -> WriteOff:
    """Split a write-off: principal against the provision first, the rest a loss."""
    for amount in (principal_outstanding, provision_booked, interest_receivable, fees_receivable, penalties_receivable):
        assert amount >= 0, amount
    covered = min(principal_outstanding, provision_booked)
    return WriteOff(principal_covered=covered, principal_not_covered=principal_outstanding - covered,
                    interest=interest_receivable, fees=fees_receivable, penalties=penalties_receivable,
                    provision_released=provision_booked - covered)


class Recovery(msgspec.Struct, frozen=True, kw_only=True):
    """Money received on a written-off loan: recovery income and the VAT it carries."""

    income: Decimal
    vat: Decimal

    def event(self, currency: str, *, payment_type_id: int | None = None) -> ProductEvent:
        """The ``RECOVERY`` event: Dr fund source, Cr recovery income (and VAT payable)."""
        parts = [EventPart(component=Component.AMOUNT, amount=self.income)]
        if self.vat > 0:
            parts.append(EventPart(component=Component.VAT, amount=self.vat))
        return ProductEvent(kind=EventKind.RECOVERY, currency=currency, payment_type_id=payment_type_id,
                            classification=LoanClassification.WRITTEN_OFF, parts=tuple(parts))


def recovery(amount_received: Decimal, vat_percent: Decimal, rounder: Rounder) -> Recovery:
    """Split money received: VAT is included in it (received = income x (1 + rate))."""
    assert amount_received > 0, amount_received
    vat = rounder.round(amount_received * vat_percent / (_HUNDRED + vat_percent)) if vat_percent else rounder.zero()
    return Recovery(income=amount_received - vat, vat=vat)
