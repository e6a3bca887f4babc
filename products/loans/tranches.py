"""Disbursement by tranches: the terms a loan's schedule is made from once some of it is paid
out, the fees each tranche withholds, and whether what was already repaid still fits a
regenerated schedule. Pure: no I/O, no clock.

A multi-disbursement loan keeps its frozen terms (the approved amount, and the planned
tranches when the application gave them). After each tranche actually paid out, the
schedule engine runs again on those terms with the amount disbursed so far and the actual
tranches (date and amount): a tranche earns interest from its own date and the level
instalment (or the equal principal part) is recomputed for the remaining periods
(Fineract's rule, `products.loans.schedule`). Due dates stay anchored on the first
disbursement, so instalments before the tranche arrives are unchanged and repayments
already allocated to them stay allocated.

Disbursement fees follow the charge's time (Fineract's rule): a disbursement charge (a file
fee) is taken once, with the first tranche, on the loan's amount (its percentage of interest on
the first schedule's interest); a tranche-disbursement charge (`FeeSpec.each_tranche`) is taken
on every tranche, on the tranche's amount (its percentage of interest on the interest the
tranche adds to the schedule).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from products.loans.allocation import AllocationLine
from products.loans.fees import fee_amount, vat_on
from products.loans.model import Disbursement, FeeCharge, Schedule
from products.loans.position import scheduled_dues
from products.loans.terms import FeeTrigger, LoanTerms, TrancheSpec
from products.posting_rules import Component
from products.rounding import compile_rounding

_ZERO: Final = Decimal(0)


class DisbursedTranche(msgspec.Struct, frozen=True, kw_only=True):
    """Money actually paid out on a date (one disbursement transaction that stands)."""

    value_date: date
    amount: Decimal


def tranche_terms(frozen: LoanTerms, tranches: Sequence[DisbursedTranche]) -> LoanTerms:
    """The terms of the schedule of a loan disbursed by ``tranches`` (in the order paid out):
    the frozen terms with the amount disbursed so far, the first tranche's date as the
    disbursement date and, when there is more than one date, the tranches themselves
    (tranches paid out on the same day count as one)."""
    assert tranches, "at least one tranche"
    by_date: dict[date, Decimal] = {}
    for tranche in tranches:
        assert tranche.amount > 0, tranche
        by_date[tranche.value_date] = by_date.get(tranche.value_date, _ZERO) + tranche.amount
    days = sorted(by_date)
    assert days[0] == tranches[0].value_date, "tranches are paid out in date order"
    principal = sum(by_date.values(), _ZERO)
    specs = tuple(TrancheSpec(expected_date=day, amount=by_date[day]) for day in days) if len(days) > 1 else ()
    return msgspec.structs.replace(frozen, principal_amount=principal, disbursement_date=days[0], tranches=specs)


def trimmed_plan(planned: Sequence[TrancheSpec], amount: Decimal) -> tuple[TrancheSpec, ...]:
    """Planned tranches for a lower approved ``amount``: the first ones as planned, the one that
    reaches the amount cut to it, the later ones dropped."""
    kept: list[TrancheSpec] = []
    left = amount
    for tranche in planned:
        if left <= 0:
            break
        kept.append(msgspec.structs.replace(tranche, amount=min(tranche.amount, left)))
        left -= kept[-1].amount
    return tuple(kept)


def tranche_fee_charges(terms: LoanTerms, *, tranche_date: date, amount: Decimal, loan_amount: Decimal,
                        first: bool, interest_added: Decimal) -> list[FeeCharge]:
    """Disbursement fees withheld from one tranche of ``amount`` (of a loan of ``loan_amount``),
    with their VAT (instalment number 0)."""
    rounder = compile_rounding(terms.rounding, terms.currency_code)
    charges: list[FeeCharge] = []
    for fee in terms.fees:
        if fee.trigger is not FeeTrigger.DISBURSEMENT or not (first or fee.each_tranche):
            continue
        base = amount if fee.each_tranche else loan_amount
        value = fee_amount(fee, rounder, amount_base=base, instalment_base=base,
                           interest_base=max(interest_added, _ZERO))
        charges.append(FeeCharge(name=fee.name, kind=fee.kind, trigger=fee.trigger, instalment_number=0,
                                 due_date=tranche_date, amount=value,
                                 vat_amount=vat_on(value, fee.vat_percent_on(tranche_date), rounder)))
    return charges


def with_tranche_fees(schedule: Schedule, charges: Sequence[FeeCharge]) -> Schedule:
    """The schedule showing the disbursement fees the tranches actually withheld (each on its
    tranche's date) instead of the engine's upfront fees on the whole amount."""
    zero = schedule.totals.fee_amount * 0
    fee_by_date: dict[date, Decimal] = {}
    vat_by_date: dict[date, Decimal] = {}
    for charge in charges:
        fee_by_date[charge.due_date] = fee_by_date.get(charge.due_date, zero) + charge.amount
        vat_by_date[charge.due_date] = vat_by_date.get(charge.due_date, zero) + charge.vat_amount
    disbursements = tuple(
        Disbursement(disbursement_date=d.disbursement_date, amount=d.amount,
                     fee_amount=fee_by_date.get(d.disbursement_date, zero),
                     vat_amount=vat_by_date.get(d.disbursement_date, zero))
        for d in schedule.disbursements)
    upfront_fee = sum((d.fee_amount for d in schedule.disbursements), zero)
    upfront_vat = sum((d.vat_amount for d in schedule.disbursements), zero)
    fee = schedule.totals.fee_amount - upfront_fee + sum((d.fee_amount for d in disbursements), zero)
    vat = schedule.totals.vat_amount - upfront_vat + sum((d.vat_amount for d in disbursements), zero)
    totals = msgspec.structs.replace(schedule.totals, fee_amount=fee, vat_amount=vat,
                                     cost_of_credit_amount=schedule.totals.interest_amount + fee + vat)
    instalment_charges = tuple(c for c in schedule.fee_charges if c.instalment_number > 0)
    return msgspec.structs.replace(schedule, disbursements=disbursements, fee_charges=(*charges, *instalment_charges),
                                   totals=totals)


def misfits(schedule: Schedule, settled: Iterable[AllocationLine],
            charged: Iterable[AllocationLine] = ()) -> list[tuple[int, Component]]:
    """(instalment, component) pairs on which repayments and waivers already settled more than
    ``schedule`` asks: a regenerated schedule that has any cannot replace the loan's."""
    asked = {(due.instalment, due.component): due.amount for due in scheduled_dues(schedule, charged)}
    settled_by_key: dict[tuple[int, Component], Decimal] = {}
    for line in settled:
        key = (line.instalment, line.component)
        settled_by_key[key] = settled_by_key.get(key, _ZERO) + line.amount
    return sorted((key for key, amount in settled_by_key.items() if amount > asked.get(key, _ZERO)),
                  key=lambda key: (key[0], key[1].value))
