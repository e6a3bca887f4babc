"""Restatement after a backdated event: post only the difference.

A repayment, a reversal or a charge dated before the last closed business day changes what
the close of business should have posted since that day: accruals, penalties, class, provisions
(and the split of later repayments). The service replays the loan from the event's date with the
corrected history, through the pure steps of this package, then compares what the replay posts
with what was posted since that date. The difference is posted as new entries: an event for each
amount the replay adds, its mirror (sides swapped) for each amount it removes. Nothing already
posted is edited, and posted + corrections equals the replay on every account, which is what a
from-scratch replay of the loan gives.

Amounts are compared per posting key (event kind, component, classification, previous
classification, term, charge, payment type): the same key always posts to the same accounts, so
equal totals per key mean equal balances per account. Pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from ledger.model import Line
from products.accounting import ProductAccounting, posting_lines
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import Component, EventKind, ProductKind


class PostingKey(msgspec.Struct, frozen=True, kw_only=True, order=True):
    """Everything about an event part that decides its accounts."""

    kind: EventKind
    component: Component
    currency: str
    classification: LoanClassification
    previous_classification: LoanClassification | None
    term: TermBucket
    charge_id: int | None
    payment_type_id: int | None


def posting_totals(events: Iterable[ProductEvent]) -> dict[PostingKey, Decimal]:
    """The amounts events post, summed per posting key."""
    totals: dict[PostingKey, Decimal] = {}
    for event in events:
        for part in event.parts:
            key = PostingKey(kind=event.kind, component=part.component, currency=event.currency,
                             classification=event.classification,
                             previous_classification=event.previous_classification, term=event.term,
                             charge_id=part.charge_id, payment_type_id=event.payment_type_id)
            totals[key] = totals.get(key, Decimal(0)) + part.amount
    return totals


class Correction(msgspec.Struct, frozen=True, kw_only=True):
    """One event to post; ``mirror`` posts its lines with the sides swapped (an amount the
    replay removes)."""

    event: ProductEvent
    mirror: bool

    def lines(self, kind: ProductKind, accounting: ProductAccounting) -> tuple[Line, ...]:
        lines = posting_lines(kind, accounting, self.event)
        if not self.mirror:
            return lines
        return tuple(msgspec.structs.replace(line, side=line.side.opposite()) for line in lines)


def _event(key: PostingKey, amount: Decimal) -> ProductEvent:
    return ProductEvent(kind=key.kind, currency=key.currency, classification=key.classification,
                        previous_classification=key.previous_classification, term=key.term,
                        payment_type_id=key.payment_type_id,
                        parts=(EventPart(component=key.component, amount=amount, charge_id=key.charge_id),))


def corrections(posted: Mapping[PostingKey, Decimal], replayed: Mapping[PostingKey, Decimal]) -> tuple[Correction, ...]:
    """What to post so that ``posted`` becomes ``replayed``, key by key, in key order."""
    result: list[Correction] = []
    for key in sorted(set(posted) | set(replayed)):
        difference = replayed.get(key, Decimal(0)) - posted.get(key, Decimal(0))
        if difference:
            result.append(Correction(event=_event(key, abs(difference)), mirror=difference < 0))
    return tuple(result)
