"""Allocation of repayments and the derived position: hypothesis properties and hand-checked examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.events import EventPart
from products.loans.allocation import Due, allocate, component_sequence, plan_repayment
from products.loans.position import loan_position, remaining_dues, scheduled_dues
from products.loans.product import LoanProduct, RepaymentComponent
from products.loans.schedule import generate_schedule
from products.loans.terms import LoanTerms
from products.posting_rules import Component

D = Decimal
START = date(2026, 1, 5)
HEALTHY = (RepaymentComponent.PENALTY, RepaymentComponent.FEE, RepaymentComponent.INTEREST, RepaymentComponent.PRINCIPAL)
DOUBTFUL = (RepaymentComponent.PRINCIPAL, RepaymentComponent.INTEREST, RepaymentComponent.FEE, RepaymentComponent.PENALTY)

amounts = st.integers(min_value=0, max_value=1_000_000).map(D)
dues_strategy = st.lists(
    st.tuples(st.integers(min_value=1, max_value=12), st.sampled_from(list(component_sequence(HEALTHY))), amounts),
    max_size=40,
).map(lambda rows: [Due(instalment=n, due_date=START + timedelta(days=30 * n), component=c, amount=a)
                    for n, c, a in {(n, c): (n, c, a) for n, c, a in rows}.values()])
orders = st.permutations(list(RepaymentComponent)).map(tuple)


@given(payment=st.integers(min_value=1, max_value=20_000_000).map(D), dues=dues_strategy, order=orders)
def test_allocation_conserves_money_never_exceeds_a_due_and_follows_the_order(payment, dues, order) -> None:  # type: ignore[no-untyped-def]
    allocation = allocate(payment, dues, order)
    assert allocation.allocated + allocation.overpayment == payment
    owed = {(d.instalment, d.component): d.amount for d in dues}
    for line in allocation.lines:
        assert 0 < line.amount <= owed[(line.instalment, line.component)]
    total_due = sum(owed.values(), D(0))
    assert allocation.overpayment == max(payment - total_due, D(0))
    # Money reaches a due only when everything before it (older instalment, earlier component) is paid in full.
    rank = {c: i for i, c in enumerate(component_sequence(order))}
    ordered = sorted((d for d in dues if d.amount > 0), key=lambda d: (d.due_date, d.instalment, rank[d.component]))
    paid = {(line.instalment, line.component): line.amount for line in allocation.lines}
    seen_partial_or_unpaid = False
    for due in ordered:
        got = paid.get((due.instalment, due.component), D(0))
        if seen_partial_or_unpaid:
            assert got == 0, (due, got)
        if got < due.amount:
            seen_partial_or_unpaid = True


def test_vat_is_paid_with_the_interest_it_is_levied_on() -> None:
    assert component_sequence(HEALTHY) == (Component.PENALTY, Component.FEE, Component.INTEREST, Component.VAT,
                                           Component.PRINCIPAL)
    assert component_sequence(DOUBTFUL) == (Component.PRINCIPAL, Component.INTEREST, Component.VAT, Component.FEE,
                                            Component.PENALTY)


def _schedule():  # type: ignore[no-untyped-def]
    return generate_schedule(LoanTerms(currency_code="XOF", principal_amount=D(100_000), disbursement_date=START,
                                       repayment_count=3, interest_rate_percent=D(18), vat_on_interest_percent=D(18)))


def test_a_hand_checked_repayment_healthy_then_doubtful() -> None:
    schedule = _schedule()
    # Instalment 1: principal 32 838, interest 1 500, VAT 270 (18 % of 1 500), total 34 608.
    first = schedule.instalments[0]
    assert (first.principal_amount, first.interest_amount, first.vat_amount) == (D(32_838), D(1500), D(270))
    healthy = allocate(D(2000), scheduled_dues(schedule), HEALTHY)
    assert [(line.instalment, line.component, line.amount) for line in healthy.lines] == [
        (1, Component.INTEREST, D(1500)), (1, Component.VAT, D(270)), (1, Component.PRINCIPAL, D(230))]
    doubtful = allocate(D(2000), scheduled_dues(schedule), DOUBTFUL)
    assert [(line.instalment, line.component, line.amount) for line in doubtful.lines] == [
        (1, Component.PRINCIPAL, D(2000))]


@given(payments=st.lists(st.integers(min_value=1, max_value=60_000).map(D), max_size=8), order=orders,
       days=st.integers(min_value=0, max_value=200))
def test_position_is_schedule_less_allocations(payments, order, days) -> None:  # type: ignore[no-untyped-def]
    schedule = _schedule()
    paid = []
    overpaid = D(0)
    for payment in payments:
        allocation = allocate(payment, remaining_dues(schedule, paid), order)
        paid.extend(allocation.lines)
        overpaid += allocation.overpayment
    position = loan_position(schedule, paid, START + timedelta(days=days))
    total = schedule.totals.principal_amount + schedule.totals.interest_amount + schedule.totals.vat_amount
    assert position.outstanding == total - (sum(payments, D(0)) - overpaid)
    assert position.component(Component.PRINCIPAL).outstanding == (
        schedule.totals.principal_amount - sum((line.amount for line in paid if line.component is Component.PRINCIPAL), D(0)))
    assert 0 <= position.overdue <= position.outstanding
    if position.overdue == 0:
        assert position.days_overdue == 0


# --------------------------------------------------------------------------- the repayment planner

def _product(partial: bool = True) -> LoanProduct:
    from tests.products.catalogue_factories import seed_001_loan
    return seed_001_loan(partial_instalment_payment_allowed=partial)


@given(payment=st.integers(min_value=1, max_value=3_000_000).map(D), dues=dues_strategy, doubtful=st.booleans(),
       partial=st.booleans())
def test_the_plan_splits_in_the_standing_s_order_and_leaves_what_it_did_not_pay(  # type: ignore[no-untyped-def]
        payment, dues, doubtful, partial) -> None:
    product = _product(partial)
    plan = plan_repayment(product, payment, dues, doubtful=doubtful)
    order = product.allocation_order_doubtful if doubtful else product.allocation_order_healthy
    assert plan.allocation == allocate(payment, dues, order)
    assert plan.doubtful is doubtful
    # The parts are the allocation by component (and the overpayment), and add up to the payment.
    assert sum((part.amount for part in plan.parts), D(0)) == payment
    assert all(part.amount > 0 for part in plan.parts)
    for part in plan.parts:
        expected = (plan.allocation.overpayment if part.component is Component.OVERPAYMENT
                    else plan.allocation.total(part.component))
        assert part.amount == expected
    # What is left is what the dues asked less what was paid on each, nothing at zero.
    paid = {(line.instalment, line.component): line.amount for line in plan.allocation.lines}
    expected_left = [(d.instalment, d.component, d.amount - paid.get((d.instalment, d.component), D(0)))
                     for d in dues if d.amount - paid.get((d.instalment, d.component), D(0)) > 0]
    assert [(d.instalment, d.component, d.amount) for d in plan.left] == expected_left
    last = plan.allocation.lines[-1].instalment if plan.allocation.lines else None
    assert plan.splits_instalment == (not partial and last is not None
                                      and any(d.instalment == last for d in plan.left))


def test_plan_by_hand() -> None:
    dues = [Due(instalment=1, due_date=START, component=Component.INTEREST, amount=D(4_500)),
            Due(instalment=1, due_date=START, component=Component.PRINCIPAL, amount=D(48_158)),
            Due(instalment=2, due_date=START + timedelta(days=31), component=Component.INTEREST, amount=D(3_778)),
            Due(instalment=2, due_date=START + timedelta(days=31), component=Component.PRINCIPAL, amount=D(48_880))]
    healthy = plan_repayment(_product(), D(60_000), dues, doubtful=False)
    assert [(line.instalment, line.component, line.amount) for line in healthy.allocation.lines] == [
        (1, Component.INTEREST, D(4_500)), (1, Component.PRINCIPAL, D(48_158)), (2, Component.INTEREST, D(3_778)),
        (2, Component.PRINCIPAL, D(3_564))]
    assert [(part.component, part.amount) for part in healthy.parts] == [
        (Component.INTEREST, D(8_278)), (Component.PRINCIPAL, D(51_722))]
    assert [(d.instalment, d.component, d.amount) for d in healthy.left] == [(2, Component.PRINCIPAL, D(45_316))]
    assert not healthy.splits_instalment
    assert plan_repayment(_product(partial=False), D(60_000), dues, doubtful=False).splits_instalment
    doubtful = plan_repayment(_product(), D(60_000), dues, doubtful=True)
    assert [(line.instalment, line.component, line.amount) for line in doubtful.allocation.lines] == [
        (1, Component.PRINCIPAL, D(48_158)), (1, Component.INTEREST, D(4_500)), (2, Component.PRINCIPAL, D(7_342))]
    assert [(d.instalment, d.component, d.amount) for d in doubtful.left] == [
        (2, Component.INTEREST, D(3_778)), (2, Component.PRINCIPAL, D(41_538))]
    over = plan_repayment(_product(), D(110_000), dues, doubtful=False)
    assert over.left == () and over.parts[-1] == EventPart(component=Component.OVERPAYMENT, amount=D(4_684))


@given(payment=st.integers(min_value=1, max_value=20_000_000).map(D), dues=dues_strategy, order=orders,
       cut=st.integers(min_value=0, max_value=13))
def test_vertical_allocation_pays_what_is_due_component_by_component(payment, dues, order, cut) -> None:  # type: ignore[no-untyped-def]
    """Vertical scope: no money reaches a component of a due instalment while an earlier
    component (in the order) of any due instalment is unpaid, nor an instalment not yet due
    while anything due is unpaid; the same money and the same lines' bounds as horizontal."""
    on = START + timedelta(days=30 * cut)
    allocation = allocate(payment, dues, order, vertical_until=on)
    assert allocation.allocated + allocation.overpayment == payment
    paid: dict[tuple[int, Component], Decimal] = {}
    for line in allocation.lines:
        paid[(line.instalment, line.component)] = paid.get((line.instalment, line.component), D(0)) + line.amount
    rank = {c: i for i, c in enumerate(component_sequence(order))}
    unpaid_due = [d for d in dues if d.amount > 0 and d.due_date <= on and paid.get((d.instalment, d.component), 0) < d.amount]
    for line in allocation.lines:
        due_date = START + timedelta(days=30 * line.instalment)
        if due_date > on:
            assert not unpaid_due
        else:
            assert all(rank[d.component] >= rank[line.component] for d in unpaid_due)


def test_vertical_allocation_by_hand() -> None:
    """Two instalments due (penalty 10 + interest 100 + principal 500 each), one to come: 450
    pays both penalties, both interests, then 230 of the oldest principal."""
    dues = [Due(instalment=n, due_date=START + timedelta(days=30 * n), component=c, amount=D(a))
            for n in (1, 2, 3) for c, a in ((Component.PENALTY, 10), (Component.INTEREST, 100), (Component.PRINCIPAL, 500))]
    allocation = allocate(D(450), dues, HEALTHY, vertical_until=START + timedelta(days=60))
    assert [(line.instalment, line.component, line.amount) for line in allocation.lines] == [
        (1, Component.PENALTY, 10), (2, Component.PENALTY, 10), (1, Component.INTEREST, 100),
        (2, Component.INTEREST, 100), (1, Component.PRINCIPAL, 230)]
    horizontal = allocate(D(450), dues, HEALTHY)
    assert [(line.instalment, line.component, line.amount) for line in horizontal.lines] == [
        (1, Component.PENALTY, 10), (1, Component.INTEREST, 100), (1, Component.PRINCIPAL, 340)]
