"""Rescheduling: seed 002's four switches and the new terms the schedule engine takes."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from products.events import LoanClassification
from products.loans.allocation import AllocationLine
from products.loans.model import Schedule
from products.loans.position import remaining_dues
from products.loans.rescheduling import (
    LoanStanding,
    ReschedulingRequest,
    ReschedulingSwitches,
    capitalisation_lines,
    cut_schedule,
    loan_standing,
    rescheduled_schedule,
    rescheduled_terms,
    rescheduling_refusals,
)
from products.loans.schedule import generate_schedule
from products.loans.terms import FeeCalculation, FeeSpec, FeeTrigger
from products.posting_rules import Component
from products.rounding import Rounder, RoundingMode
from servicing.reference.defaults import DEMO_CREDIT_PARAMETERS
from tests.products.factories import xof_terms

D = Decimal
ALL_ON = ReschedulingSwitches(doubtful_allowed=True, healthy_allowed=True, term_editable=True,
                              unpaid_instalment_allowed=True)
# The 1,200,000 XOF loan on 15 April 2025: instalments 1-2 paid, instalment 3 (due 1 April) unpaid with a
# 4,285 penalty; principal left 1,200,000 - 190,231 - 194,036 = 815,733; instalments 3 to 6 remain.
STANDING = LoanStanding(classification=LoanClassification.DOUBTFUL, principal_outstanding=D(815_733),
                        interest_overdue=D(16_315), penalties_overdue=D(4_285), overdue_amount=D(214_231 + 4_285),
                        instalments_remaining=4)
REQUEST = ReschedulingRequest(rescheduled_on=date(2025, 4, 15), repayment_count=8, interest_rate_percent=D(18),
                              grace_on_principal_periods=1, capitalise_interest=True)


def test_the_switches_of_seed_002() -> None:
    assert rescheduling_refusals(REQUEST, STANDING, ALL_ON) == ()
    none = ReschedulingSwitches()
    assert [(r.field, r.message.split(" (")[0]) for r in rescheduling_refusals(REQUEST, STANDING, none)] == [
        ("loan", "doubtful loans may not be rescheduled"),
        ("loan", "a loan with an unpaid instalment may not be rescheduled"),
        ("repayment_count", "the term may not change")]
    healthy = LoanStanding(classification=LoanClassification.HEALTHY, principal_outstanding=D(815_733),
                           interest_overdue=D(0), penalties_overdue=D(0), overdue_amount=D(0), instalments_remaining=4)
    same_term = ReschedulingRequest(rescheduled_on=date(2025, 4, 15), interest_rate_percent=D(18))
    assert [r.message.split(" (")[0] for r in rescheduling_refusals(same_term, healthy, none)] == [
        "healthy loans may not be rescheduled"]
    assert rescheduling_refusals(same_term, healthy, ReschedulingSwitches(healthy_allowed=True)) == ()


def test_switches_come_from_the_credit_parameters() -> None:
    # The demo's policy: doubtful loans no, healthy loans no, term may change, unpaid instalment no.
    assert ReschedulingSwitches.of(DEMO_CREDIT_PARAMETERS) == ReschedulingSwitches(
        doubtful_allowed=False, healthy_allowed=False, term_editable=True, unpaid_instalment_allowed=False)
    allowing = msgspec.structs.replace(DEMO_CREDIT_PARAMETERS, doubtful_loan_arrears_editable=True,
                                       unpaid_instalment_rescheduling_allowed=True)
    assert rescheduling_refusals(REQUEST, STANDING, ReschedulingSwitches.of(allowing)) == ()


def test_the_new_plan_capitalises_what_it_says_and_goes_to_the_schedule_engine() -> None:
    fees = (FeeSpec(name="Frais de dossier", trigger=FeeTrigger.DISBURSEMENT, calculation=FeeCalculation.FLAT,
                    flat_amount=D(5000)),
            FeeSpec(name="Frais de suivi", trigger=FeeTrigger.INSTALMENT, calculation=FeeCalculation.FLAT,
                    flat_amount=D(500)))
    plan = rescheduled_terms(xof_terms(fees=fees), REQUEST, STANDING)
    # 815,733 principal + 16,315 overdue interest capitalised = 832,048; the 4,285 penalty stays owed.
    assert (plan.terms.principal_amount, plan.capitalised_interest, plan.capitalised_penalties) == (
        D(832_048), D(16_315), D(0))
    assert (plan.interest_carried, plan.penalties_carried) == (D(0), D(4_285))
    assert (plan.terms.disbursement_date, plan.terms.repayment_count, plan.terms.interest_rate_percent) == (
        date(2025, 4, 15), 8, D(18))
    # The upfront fee is not charged again; the instalment fee goes on.
    assert [fee.name for fee in plan.terms.fees] == ["Frais de suivi"]
    schedule = generate_schedule(plan.terms)
    first = schedule.instalments[0]
    # One period of grace on principal: 15 May pays interest only, 832,048 x 18 % / 12 = 12,480.72 -> 12,481.
    assert (first.due_date, first.principal_amount, first.interest_amount) == (date(2025, 5, 15), 0, D(12_481))
    assert (len(schedule.instalments), schedule.totals.principal_amount) == (8, D(832_048))
    assert schedule.disbursements[0].fee_amount == 0


def test_a_fixed_term_keeps_the_instalments_that_remain() -> None:
    same = ReschedulingRequest(rescheduled_on=date(2025, 4, 15))
    plan = rescheduled_terms(xof_terms(), same, STANDING)
    assert (plan.terms.repayment_count, plan.terms.interest_rate_percent, plan.terms.principal_amount) == (
        4, D(24), D(815_733))


@given(interest=st.integers(0, 100_000).map(D), penalties=st.integers(0, 50_000).map(D),
       capitalise_interest=st.booleans(), capitalise_penalties=st.booleans())
def test_capitalised_and_carried_add_up(interest, penalties, capitalise_interest, capitalise_penalties) -> None:  # type: ignore[no-untyped-def]
    standing = LoanStanding(classification=LoanClassification.DOUBTFUL, principal_outstanding=D(500_000),
                            interest_overdue=interest, penalties_overdue=penalties, overdue_amount=interest + penalties,
                            instalments_remaining=3)
    request = ReschedulingRequest(rescheduled_on=date(2025, 6, 1), capitalise_interest=capitalise_interest,
                                  capitalise_penalties=capitalise_penalties)
    plan = rescheduled_terms(xof_terms(), request, standing)
    assert plan.capitalised_interest + plan.interest_carried == interest
    assert plan.capitalised_penalties + plan.penalties_carried == penalties
    assert plan.terms.principal_amount == D(500_000) + plan.capitalised_interest + plan.capitalised_penalties
    assert generate_schedule(plan.terms).totals.principal_amount == plan.terms.principal_amount


# --------------------------------------------------------------------------- the loan's schedule after the plan

def _paid(schedule: Schedule, *numbers: int) -> list[AllocationLine]:
    """Lines paying these instalments in full."""
    return [AllocationLine(instalment=row.number, component=component, amount=amount)
            for row in schedule.instalments if row.number in numbers
            for component, amount in ((Component.PRINCIPAL, row.principal_amount),
                                      (Component.INTEREST, row.interest_amount)) if amount > 0]


XOF_ROUNDER = Rounder(decimals=0, mode=RoundingMode.HALF_EVEN, multiple=None)


def test_the_standing_and_the_cut_of_the_worked_example() -> None:
    """1,200,000 XOF, 2 % a month: instalments 1-2 paid, instalment 3 (due 1 April) unpaid with a 4,285
    penalty, rescheduled on 15 April, inside instalment 4's period (1 April - 1 May)."""
    old = generate_schedule(xof_terms())
    assert [(r.due_date, r.principal_amount, r.interest_amount) for r in old.instalments[:4]] == [
        (date(2025, 2, 1), D(190_231), D(24_000)), (date(2025, 3, 1), D(194_036), D(20_195)),
        (date(2025, 4, 1), D(197_916), D(16_315)), (date(2025, 5, 1), D(201_875), D(12_356))]
    settled = _paid(old, 1, 2)
    charged = [AllocationLine(instalment=3, component=Component.PENALTY, amount=D(4_285))]
    on = date(2025, 4, 15)
    standing = loan_standing(old, settled, charged, on, XOF_ROUNDER, LoanClassification.DOUBTFUL)
    # Instalment 4 has earned 12,356 x 14 / 30 = 5,766.1 -> 5,766 by 15 April: due now, with instalment 3's 16,315.
    assert standing == LoanStanding(
        classification=LoanClassification.DOUBTFUL, principal_outstanding=D(815_733),
        interest_overdue=D(16_315 + 5_766), penalties_overdue=D(4_285), overdue_amount=D(214_231 + 4_285),
        instalments_remaining=4)
    cut = cut_schedule(old, settled, charged, on, XOF_ROUNDER)
    assert [(r.number, r.due_date, r.principal_amount, r.interest_amount) for r in cut.instalments] == [
        (1, date(2025, 2, 1), D(190_231), D(24_000)), (2, date(2025, 3, 1), D(194_036), D(20_195)),
        (3, date(2025, 4, 1), D(0), D(16_315)), (4, on, D(0), D(5_766))]

    request = ReschedulingRequest(rescheduled_on=on, repayment_count=8, capitalise_interest=True,
                                  capitalise_penalties=True)
    plan = rescheduled_terms(xof_terms(), request, standing)
    assert plan.terms.principal_amount == D(815_733 + 22_081 + 4_285)
    lines = capitalisation_lines(cut, settled, charged, on, plan)
    assert lines == (AllocationLine(instalment=3, component=Component.INTEREST, amount=D(16_315)),
                     AllocationLine(instalment=3, component=Component.PENALTY, amount=D(4_285)),
                     AllocationLine(instalment=4, component=Component.INTEREST, amount=D(5_766)))
    new = rescheduled_schedule(cut, generate_schedule(plan.terms))
    assert [r.number for r in new.instalments] == list(range(1, 13))
    # Every old due is settled (paid, or capitalised); what is left is the new plan, whole.
    left = remaining_dues(new, [*settled, *lines], charged)
    assert {d.instalment for d in left} == set(range(5, 13))
    assert new.totals.principal_amount == D(190_231 + 194_036) + plan.terms.principal_amount
    assert new.disbursements == old.disbursements


@given(paid=st.integers(0, 5), day=st.integers(0, 180), capitalise=st.booleans())
def test_rescheduling_moves_principal_and_keeps_every_line_on_its_instalment(  # type: ignore[no-untyped-def]
        paid, day, capitalise) -> None:
    """Whatever was paid and whenever the plan starts: the principal left plus what is capitalised
    is exactly the new plan's; the old part asks for nothing but what was paid and what is carried."""
    old = generate_schedule(xof_terms())
    settled = _paid(old, *range(1, paid + 1))
    on = max(date(2025, 1, 1) + timedelta(days=day), old.instalments[paid - 1].due_date if paid else date(2025, 1, 1))
    standing = loan_standing(old, settled, [], on, XOF_ROUNDER, LoanClassification.HEALTHY)
    assert standing.principal_outstanding == sum(r.principal_amount for r in old.instalments[paid:])
    request = ReschedulingRequest(rescheduled_on=on, repayment_count=6, capitalise_interest=capitalise)
    plan = rescheduled_terms(xof_terms(), request, standing)
    cut = cut_schedule(old, settled, [], on, XOF_ROUNDER)
    lines = capitalisation_lines(cut, settled, [], on, plan)
    new = rescheduled_schedule(cut, generate_schedule(plan.terms))
    old_numbers = {r.number for r in cut.instalments}
    left = remaining_dues(new, [*settled, *lines])
    carried = sum((d.amount for d in left if d.instalment in old_numbers), D(0))
    assert carried == plan.interest_carried
    assert all(d.component is Component.INTEREST and d.due_date <= on for d in left if d.instalment in old_numbers)
    assert sum((d.amount for d in left if d.component is Component.PRINCIPAL), D(0)) == plan.terms.principal_amount
    assert len({r.number for r in new.instalments}) == len(new.instalments)


def test_a_second_plan_cuts_the_first_one_the_same_way() -> None:
    """Rescheduled on 15 April (nothing capitalised), the loan's first new instalment paid, then
    rescheduled again on 1 July: the principal left is the first plan's less what was paid."""
    old = generate_schedule(xof_terms())
    settled = _paid(old, 1, 2)
    first_on = date(2025, 4, 15)
    standing = loan_standing(old, settled, [], first_on, XOF_ROUNDER, LoanClassification.HEALTHY)
    plan = rescheduled_terms(xof_terms(), ReschedulingRequest(rescheduled_on=first_on, repayment_count=6), standing)
    merged = rescheduled_schedule(cut_schedule(old, settled, [], first_on, XOF_ROUNDER), generate_schedule(plan.terms))
    first_new = merged.instalments[4]
    assert (first_new.number, first_new.from_date) == (5, first_on)
    paid_again = [*settled, *_paid(merged, 3, 4, 5)]
    second_on = date(2025, 7, 1)
    again = loan_standing(merged, paid_again, [], second_on, XOF_ROUNDER, LoanClassification.HEALTHY)
    assert again.principal_outstanding == plan.terms.principal_amount - first_new.principal_amount
    second = rescheduled_terms(plan.terms, ReschedulingRequest(rescheduled_on=second_on), again)
    twice = rescheduled_schedule(cut_schedule(merged, paid_again, [], second_on, XOF_ROUNDER),
                                 generate_schedule(second.terms))
    assert len({r.number for r in twice.instalments}) == len(twice.instalments)
    left = remaining_dues(twice, paid_again)
    principal_left = sum((d.amount for d in left if d.component is Component.PRINCIPAL), D(0))
    assert principal_left == again.principal_outstanding == second.terms.principal_amount
