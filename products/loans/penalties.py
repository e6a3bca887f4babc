"""Late-payment penalties (« pénalités de retard ») on overdue instalments.

Each overdue instalment is penalised on its own calendar: the first penalty falls on the day
the instalment is more than the charge's grace days late (due 10 January, 3 grace days: first
penalty at the close of 14 January); a recurring penalty falls again every period after that
(monthly: 14 February, 14 March...), a one-off penalty only once. The product's grace *periods*
(seed 002 « délai de grâce: le nombre de périodes de grâce ») are penalty periods that are not
charged: with a monthly penalty and one grace period, January's lateness costs nothing. Lateness
the product tolerates (its arrears tolerance in days and in amount) is not penalised either: the
first penalty falls after the longer of the charge's grace and the tolerated days, and a loan
whose whole overdue is within the tolerated amount owes none.

The amount is a flat sum or a rate of a base, taken on the day the penalty falls:
the instalment's unpaid principal, its unpaid principal and interest, its unpaid interest, the whole unpaid
instalment (principal, interest, fees and their VAT; never earlier penalties), or the loan's
outstanding principal (then only the oldest overdue instalment is penalised, so the loan pays
one penalty per period, not one per late instalment). The charge's minimum and maximum clamp
it; VAT/TAF on penalties (« taux TVA sur les pénalités ») is added on top, at the rate in force on
the day the penalty falls (not the day it is charged, later in a catch-up or a restatement).

Idempotent by construction: each penalty is keyed by (instalment, period number) and
`penalties_due` returns only the keys not yet charged whose day has come, so a day run twice
charges nothing the second time. Days are closed in order, so each penalty is computed on its
own day's unpaid amounts.

Feeds ``PENALTY_CHARGE`` (accrual rules: Dr penalties receivable, Cr penalty income; cash
accounting recognises the penalty when paid) and, in every rule, a charged due the repayment
allocation collects (`PenaltyCharge.charged_lines`). Pure.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.allocation import AllocationLine, Due
from products.loans.calendar import add_period
from products.loans.fees import vat_on
from products.loans.product import OverduePenalty, PenaltyBase, RateOrFlat
from products.loans.terms import RepaymentFrequencyUnit
from products.posting_rules import Component, EventKind
from products.reference.model import ChargeDefinition, FrequencyUnit
from products.reference.taxes import ChargeTax, tax_rate_on
from products.rounding import Rounder

PENALTY_PERIODS_MAX: Final = 1200
"""100 years of monthly penalties on one instalment: a bound, never a business limit."""
_HUNDRED: Final = Decimal(100)
_NOT_BASE: Final = frozenset({Component.PENALTY, Component.OVERPAYMENT})


class PenaltyPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """How a product penalises late instalments: the product's penalty (amount, base, grace
    periods, charge) with its charge's timing and limits. ``every`` None means a one-off
    penalty, which has one period only: grace periods on it leave nothing to charge (use
    grace days instead)."""

    penalty: OverduePenalty
    grace_days: int = 0
    every: int | None = None
    unit: FrequencyUnit = FrequencyUnit.MONTHS
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    vat_percent: Decimal = Decimal(0)
    """The product's own « taux TVA sur les pénalités », in force whatever the day."""
    tax: ChargeTax | None = None
    """Without a product rate (``vat_percent`` 0): the penalty charge's tax, with its validity."""
    tolerated_days: int = 0
    """The product's arrears tolerance in days (« nombre de jours tolérés pour le retard de
    paiement »): no penalty falls while the lateness is tolerated, whatever the charge's own
    grace (Mambu: penalties apply once both the arrears and the penalty tolerance have passed)."""
    tolerated_amount: Decimal = Decimal(0)
    """The product's arrears tolerance on amount: a loan whose whole overdue is within it is not
    late (`arrears.age_arrears`), so it owes no late-payment penalty either."""

    @classmethod
    def of(cls, penalty: OverduePenalty, charge: ChargeDefinition | None, *, vat_percent: Decimal,
           tax: ChargeTax | None = None, tolerated_days: int = 0,
           tolerated_amount: Decimal = Decimal(0)) -> PenaltyPolicy:
        """The product's (or band's) penalty; timing, recurrence and limits from its charge; the
        product's arrears tolerance on top."""
        if charge is None:
            return cls(penalty=penalty, vat_percent=vat_percent, tax=tax, tolerated_days=tolerated_days,
                       tolerated_amount=tolerated_amount)
        recurring = charge.frequency_unit is not None and charge.frequency_every is not None
        return cls(penalty=penalty, grace_days=charge.grace_days, every=charge.frequency_every if recurring else None,
                   unit=charge.frequency_unit or FrequencyUnit.MONTHS, amount_min=charge.amount_min,
                   amount_max=charge.amount_max, vat_percent=vat_percent, tax=tax, tolerated_days=tolerated_days,
                   tolerated_amount=tolerated_amount)

    def vat_percent_on(self, day: date) -> Decimal:
        """The VAT/TAF rate of a penalty charged on ``day``: the product's rate when it sets one,
        else the charge's tax in force that day (`products.reference.taxes`: a penalty falling on
        a day before a rate change, charged later by a catch-up or a restatement, keeps the rate of
        its own day)."""
        return self.vat_percent if self.vat_percent != 0 or self.tax is None else tax_rate_on(self.tax, day)


class PenaltyCharge(msgspec.Struct, frozen=True, kw_only=True):
    """One penalty falling due: period ``period`` (1 = first) of instalment ``instalment``."""

    instalment: int
    period: int
    charged_on: date
    base: Decimal
    amount: Decimal
    vat_amount: Decimal
    charge_id: int | None

    @property
    def key(self) -> tuple[int, int]:
        return (self.instalment, self.period)

    def charged_lines(self) -> tuple[AllocationLine, ...]:
        """The dues it adds to its instalment, for the position and the allocation."""
        lines = [AllocationLine(instalment=self.instalment, component=Component.PENALTY, amount=self.amount)]
        if self.vat_amount > 0:
            lines.append(AllocationLine(instalment=self.instalment, component=Component.VAT, amount=self.vat_amount))
        return tuple(lines)

    def event(self, currency: str, *, classification: LoanClassification, term: TermBucket) -> ProductEvent:
        """The ``PENALTY_CHARGE`` event (its VAT is collected, and posted, with the repayment)."""
        return ProductEvent(kind=EventKind.PENALTY_CHARGE, currency=currency, classification=classification, term=term,
                            parts=(EventPart(component=Component.PENALTY, amount=self.amount,
                                             charge_id=self.charge_id),))


def penalty_date(due_date: date, period: int, policy: PenaltyPolicy) -> date:
    """The day period ``period`` (1-based) of an instalment due on ``due_date`` is charged."""
    assert period >= 1, period
    first = due_date + timedelta(days=max(policy.grace_days, policy.tolerated_days) + 1)
    if period == 1:
        return first
    assert policy.every is not None, policy
    return add_period(first, (period - 1) * policy.every, RepaymentFrequencyUnit(policy.unit.value))


def _periods_fallen(due_date: date, as_of: date, policy: PenaltyPolicy) -> int:
    """How many penalty periods of an instalment have fallen by ``as_of``."""
    if penalty_date(due_date, 1, policy) > as_of:
        return 0
    if policy.every is None:
        return 1
    count = 1
    while count < PENALTY_PERIODS_MAX and penalty_date(due_date, count + 1, policy) <= as_of:
        count += 1
    return count


def _base(dues: Sequence[Due], instalment: int, base: PenaltyBase) -> Decimal:
    wanted: frozenset[Component]
    if base is PenaltyBase.OUTSTANDING_PRINCIPAL:
        return sum((d.amount for d in dues if d.component is Component.PRINCIPAL), Decimal(0))
    if base is PenaltyBase.OVERDUE_PRINCIPAL:
        wanted = frozenset({Component.PRINCIPAL})
    elif base is PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST:
        wanted = frozenset({Component.PRINCIPAL, Component.INTEREST})
    elif base is PenaltyBase.OVERDUE_INTEREST:
        wanted = frozenset({Component.INTEREST})
    else:
        wanted = frozenset(c for c in Component if c not in _NOT_BASE)
    return sum((d.amount for d in dues if d.instalment == instalment and d.component in wanted), Decimal(0))


def penalty_amount(base: Decimal, policy: PenaltyPolicy, rounder: Rounder) -> Decimal:
    """The penalty for one period: flat, or the rate of the base; clamped and rounded."""
    if policy.penalty.basis is RateOrFlat.FLAT:
        assert policy.penalty.flat_amount is not None, policy
        amount = policy.penalty.flat_amount
    else:
        assert policy.penalty.rate_percent is not None, policy
        amount = base * policy.penalty.rate_percent / _HUNDRED
    if policy.amount_min is not None:
        amount = max(amount, policy.amount_min)
    if policy.amount_max is not None:
        amount = min(amount, policy.amount_max)
    return rounder.round(amount)


def penalties_due(dues: Sequence[Due], as_of: date, policy: PenaltyPolicy, rounder: Rounder, *,
                  already_charged: Collection[tuple[int, int]]) -> tuple[PenaltyCharge, ...]:
    """Penalties to charge at the close of ``as_of``.

    ``dues`` are what is still owed at that close (`position.remaining_dues`), every
    instalment's; ``already_charged`` the (instalment, period) keys charged before. An
    instalment is penalised while anything of it other than penalties is unpaid.
    """
    late: dict[int, date] = {}
    for due in dues:
        if due.component not in _NOT_BASE and due.amount > 0 and due.due_date < as_of:
            late[due.instalment] = due.due_date
    if policy.tolerated_amount > 0 and sum(
            (d.amount for d in dues if d.instalment in late and d.component not in _NOT_BASE and d.due_date < as_of),
            Decimal(0)) <= policy.tolerated_amount:
        return ()  # the whole overdue is tolerated: the loan is not late
    numbers = sorted(late, key=lambda n: (late[n], n))
    if policy.penalty.base is PenaltyBase.OUTSTANDING_PRINCIPAL:
        numbers = numbers[:1]
    charges: list[PenaltyCharge] = []
    for number in numbers:
        base = _base(dues, number, policy.penalty.base)
        if policy.penalty.basis is RateOrFlat.RATE and base <= 0:
            continue  # late on interest only, say, with a penalty on principal: nothing to penalise
        for period in range(policy.penalty.grace_periods + 1, _periods_fallen(late[number], as_of, policy) + 1):
            if (number, period) in already_charged:
                continue
            amount = penalty_amount(base, policy, rounder)
            if amount <= 0:
                continue
            charged_on = penalty_date(late[number], period, policy)
            charges.append(PenaltyCharge(instalment=number, period=period, base=base, amount=amount,
                                         charged_on=charged_on,
                                         vat_amount=vat_on(amount, policy.vat_percent_on(charged_on), rounder),
                                         charge_id=policy.penalty.charge_id))
    return tuple(charges)
