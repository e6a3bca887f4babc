"""Classification of a loan: its delinquency bucket, healthy (sain) or doubtful (en souffrance),
and the entry that moves its outstanding when the class changes.

The bucket comes from the grid of the loan's kind (seed 002 keeps three: loans, overdrafts,
rescheduled loans) by days overdue; the bucket says healthy or doubtful and the provision rate.
A loan the arrears rules hold non-performing is doubtful whatever its bucket (the NPA exit rule
keeps it there until its arrears are paid). BCEAO: an unpaid instalment moves the *whole*
outstanding to « créances en souffrance », so a reclassification moves all the principal (and,
under accrual rules, the interest receivable), not just the overdue part.

Seed 002's « activer threads déclas. » (automatic declassification) off means the run only
proposes a change of class; a person decides, and no entry is posted until then.

The term bucket (court / moyen / long terme) picks the portfolio account per classification
(seed 002 « attributs durée »). The default limits (short up to 2 years, medium up to 10) are
the UMOA banking chart's convention; the SFD reference does not state them, so they are
parameters.

Feeds ``RECLASSIFICATION`` (Dr portfolio of the new class, Cr portfolio of the old; same for
interest receivable). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import Component, EventKind
from products.reference.model import BucketKind, DelinquencyBucket, LoanState
from products.reference.validation import bucket_for


def grid_kind(*, overdraft: bool, rescheduled: bool) -> BucketKind:
    """Which grid ages the loan: a rescheduled loan stays on the rescheduled grid for life."""
    if rescheduled:
        return BucketKind.RESCHEDULED_LOAN
    return BucketKind.OVERDRAFT if overdraft else BucketKind.LOAN


class LoanGrade(msgspec.Struct, frozen=True, kw_only=True):
    """Where the loan sits on its grid. ``bucket_label`` is None before the grid's first bound."""

    days_overdue: int
    bucket_label: str | None
    classification: LoanClassification
    provision_rate_percent: Decimal


def grade(days_overdue: int, grid: Sequence[DelinquencyBucket], *, non_performing: bool = False) -> LoanGrade:
    """The bucket, class and provision rate of a loan ``days_overdue`` days late. An empty grid
    is a caller's error (no rescheduled-loans grid configured, say: fall back to the loans grid),
    never a reason to call a loan healthy."""
    assert grid, "a loan is graded on a grid with at least one bucket"
    bucket = bucket_for(days_overdue, grid)
    doubtful = non_performing or (bucket is not None and bucket.loan_state is LoanState.DOUBTFUL)
    return LoanGrade(days_overdue=days_overdue, bucket_label=bucket.label if bucket is not None else None,
                     classification=LoanClassification.DOUBTFUL if doubtful else LoanClassification.HEALTHY,
                     provision_rate_percent=bucket.provision_rate_percent if bucket is not None else Decimal(0))


class Reclassification(msgspec.Struct, frozen=True, kw_only=True):
    """The outstanding moving from ``previous`` to ``classification``."""

    previous: LoanClassification
    classification: LoanClassification
    term: TermBucket
    principal: Decimal
    interest_receivable: Decimal

    def event(self, currency: str) -> ProductEvent | None:
        """The ``RECLASSIFICATION`` event, or None when nothing is outstanding."""
        parts = tuple(EventPart(component=component, amount=amount)
                      for component, amount in ((Component.PRINCIPAL, self.principal),
                                                (Component.INTEREST, self.interest_receivable)) if amount > 0)
        if not parts:
            return None
        return ProductEvent(kind=EventKind.RECLASSIFICATION, currency=currency, classification=self.classification,
                            previous_classification=self.previous, term=self.term, parts=parts)


class ClassDecision(msgspec.Struct, frozen=True, kw_only=True):
    """The class the loan should have, the class it keeps after the run, and the movement.
    ``awaiting_decision`` says a change was found but automatic declassification is off."""

    required: LoanClassification
    applied: LoanClassification
    movement: Reclassification | None
    awaiting_decision: bool


def decide_class(current: LoanClassification, required: LoanClassification, *, automatic: bool, term: TermBucket,
                 principal_outstanding: Decimal, interest_receivable: Decimal) -> ClassDecision:
    """Move the loan to its required class (or propose it when ``automatic`` is off).
    A written-off loan is out of the active portfolio and never reclassified here."""
    assert current is not LoanClassification.WRITTEN_OFF, current
    assert required is not LoanClassification.WRITTEN_OFF, required
    if required is current:
        return ClassDecision(required=required, applied=current, movement=None, awaiting_decision=False)
    if not automatic:
        return ClassDecision(required=required, applied=current, movement=None, awaiting_decision=True)
    movement = Reclassification(previous=current, classification=required, term=term,
                                principal=principal_outstanding, interest_receivable=interest_receivable)
    return ClassDecision(required=required, applied=required, movement=movement, awaiting_decision=False)
