"""Arrears ageing: how late a loan is at the close of a business day, and its status.

An instalment is overdue the day after its due date while anything of it is unpaid (the
client may still pay on the due date itself), as `products.loans.position` counts it.

* **Tolerance on amount** (« tolérance aux arriérés »): a small unpaid remainder (a rounding
  shortfall) must not age a loan. The tolerated amount is absorbed by the oldest overdue
  instalments first: ageing starts at the first instalment where the overdue total, counted
  from the oldest, exceeds the tolerance; a loan whose whole overdue is within it is not late.
* **Tolerance on days** (« nombre de jours tolérés pour le retard de paiement ») and the
  product's days before arrears: a loan is *in arrears* only once it is overdue more days than
  both. They delay the status, not the count: the days overdue stay the real age, which is
  what the regulator's buckets and the portfolio at risk read.
* **Non-performing** (NPA, « créance en souffrance »): overdue more days than the product's
  days before NPA. When the product says so, a loan leaves NPA only once its arrears are fully
  paid (not merely aged back under the threshold by a partial payment).
* **Grace** on principal or interest is already in the schedule: a grace instalment asks for
  nothing, so there is nothing to age.

Feeds no event by itself: the status selects the allocation order and the accrual treatment,
the days overdue select the delinquency bucket (`products.loans.classification`). Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from enum import StrEnum

import msgspec

from products.loans.position import InstalmentPosition
from products.loans.product import LoanProduct


class ArrearsStatus(StrEnum):
    PERFORMING = "performing"
    IN_ARREARS = "in_arrears"
    NON_PERFORMING = "non_performing"


class ArrearsPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """The product's arrears settings (see docs/seed-mapping.md)."""

    tolerance_amount: Decimal = Decimal(0)
    tolerance_days: int = 0
    days_to_arrears: int | None = None
    days_to_npa: int | None = None
    npa_exit_requires_arrears_paid: bool = True

    @classmethod
    def of(cls, product: LoanProduct) -> ArrearsPolicy:
        return cls(tolerance_amount=product.arrears_tolerance_amount, tolerance_days=product.arrears_tolerance_days,
                   days_to_arrears=product.days_to_arrears, days_to_npa=product.days_to_npa,
                   npa_exit_requires_arrears_paid=product.npa_exit_requires_arrears_paid)


class Arrears(msgspec.Struct, frozen=True, kw_only=True):
    """A loan's arrears at the close of ``as_of``.

    ``overdue_amount`` is everything due before ``as_of`` and unpaid (tolerance ignored);
    ``days_overdue`` is the age of the instalment ageing starts from (0 when within tolerance);
    ``ageing_instalment`` is that instalment's number.
    """

    as_of: date
    overdue_amount: Decimal
    days_overdue: int
    ageing_instalment: int | None
    status: ArrearsStatus


def _ageing_start(overdue: Sequence[InstalmentPosition], tolerance: Decimal) -> InstalmentPosition | None:
    """The oldest instalment at which the overdue total, from the oldest, exceeds the tolerance."""
    cumulative = Decimal(0)
    for instalment in overdue:
        cumulative += instalment.outstanding
        if cumulative > tolerance:
            return instalment
    return None


def age_arrears(instalments: Sequence[InstalmentPosition], as_of: date, policy: ArrearsPolicy, *,
                previous_status: ArrearsStatus = ArrearsStatus.PERFORMING) -> Arrears:
    """Age the loan at the close of ``as_of``; ``previous_status`` is the status after the last
    closed day (it matters only for the NPA exit rule)."""
    overdue = sorted((i for i in instalments if i.outstanding > 0 and i.due_date < as_of),
                     key=lambda i: (i.due_date, i.number))
    overdue_amount = sum((i.outstanding for i in overdue), Decimal(0))
    start = _ageing_start(overdue, policy.tolerance_amount)
    days = (as_of - start.due_date).days if start is not None else 0
    return Arrears(as_of=as_of, overdue_amount=overdue_amount, days_overdue=days,
                   ageing_instalment=start.number if start is not None else None,
                   status=_status(days, overdue_amount, policy, previous_status))


def carry_arrears(previous: Arrears, as_of: date, policy: ArrearsPolicy) -> Arrears:
    """The arrears at the close of a later day ``as_of`` when nothing happened to the loan
    since ``previous`` was aged: no transaction, no change of schedule, and no unpaid instalment
    falling due from ``previous.as_of`` to the day before ``as_of`` (the caller checks that).
    The same instalments are overdue, so the loan ages from the same one: its days overdue grow
    by the days elapsed (none within the tolerance), and the status follows from them as
    `age_arrears` decides it, ``previous.status`` being the last closed day's. Equal to
    `age_arrears` on the unchanged instalments (a hypothesis property checks it)."""
    assert as_of > previous.as_of, (previous.as_of, as_of)
    days = previous.days_overdue + (as_of - previous.as_of).days if previous.ageing_instalment is not None else 0
    return Arrears(as_of=as_of, overdue_amount=previous.overdue_amount, days_overdue=days,
                   ageing_instalment=previous.ageing_instalment,
                   status=_status(days, previous.overdue_amount, policy, previous.status))


def _status(days: int, overdue_amount: Decimal, policy: ArrearsPolicy, previous_status: ArrearsStatus) -> ArrearsStatus:
    """The status of a loan ``days`` overdue owing ``overdue_amount`` past due."""
    past_npa = policy.days_to_npa is not None and days > policy.days_to_npa
    held_in_npa = (previous_status is ArrearsStatus.NON_PERFORMING and policy.npa_exit_requires_arrears_paid
                   and overdue_amount > 0)
    if past_npa or held_in_npa:
        return ArrearsStatus.NON_PERFORMING
    if days > max(policy.days_to_arrears or 0, policy.tolerance_days):
        return ArrearsStatus.IN_ARREARS
    return ArrearsStatus.PERFORMING
