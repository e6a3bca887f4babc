"""Arrears ageing: tolerance on amount and days, days before arrears and NPA, the NPA exit rule."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from products.loans.allocation import allocate
from products.loans.arrears import ArrearsPolicy, ArrearsStatus, age_arrears
from products.loans.position import InstalmentPosition, loan_position, scheduled_dues
from products.loans.product import RepaymentComponent
from products.loans.schedule import generate_schedule
from tests.products.factories import xof_terms

D = Decimal
ORDER = tuple(RepaymentComponent)
SCHEDULE = generate_schedule(xof_terms())  # 6 x 214,231 XOF due on the 1st, February to July 2025
POLICY = ArrearsPolicy(tolerance_amount=D(500), tolerance_days=3, days_to_arrears=1, days_to_npa=90)


def instalments(paid: int, as_of: date) -> tuple[InstalmentPosition, ...]:
    lines = allocate(D(paid), scheduled_dues(SCHEDULE), ORDER).lines if paid else ()
    return loan_position(SCHEDULE, lines, as_of).instalments


def test_an_instalment_is_late_the_day_after_its_due_date() -> None:
    on_due_date = age_arrears(instalments(0, date(2025, 2, 1)), date(2025, 2, 1), ArrearsPolicy())
    assert (on_due_date.days_overdue, on_due_date.overdue_amount, on_due_date.status) == (0, 0, ArrearsStatus.PERFORMING)
    next_day = age_arrears(instalments(0, date(2025, 2, 2)), date(2025, 2, 2), ArrearsPolicy())
    assert (next_day.days_overdue, next_day.overdue_amount, next_day.ageing_instalment, next_day.status) == (
        1, D(214_231), 1, ArrearsStatus.IN_ARREARS)


def test_tolerated_days_delay_the_status_not_the_count() -> None:
    # Nothing paid. 4 Feb: 3 days late, within the 3 days tolerated -> performing, but 3 days are reported.
    # 5 Feb: 4 days > max(1 day before arrears, 3 tolerated) -> in arrears.
    feb_4 = age_arrears(instalments(0, date(2025, 2, 4)), date(2025, 2, 4), POLICY)
    feb_5 = age_arrears(instalments(0, date(2025, 2, 5)), date(2025, 2, 5), POLICY)
    assert (feb_4.days_overdue, feb_4.status) == (3, ArrearsStatus.PERFORMING)
    assert (feb_5.days_overdue, feb_5.status) == (4, ArrearsStatus.IN_ARREARS)


def test_a_remainder_within_the_tolerance_does_not_age_the_loan() -> None:
    # Paid 214,000 of instalment 1 (231 XOF short, within the 500 tolerated); instalment 2 (due 1 Mar) unpaid.
    # On 15 Mar: cumulative overdue from the oldest: 231 (<= 500), then 231 + 214,231 > 500 -> age from
    # instalment 2: 14 days, not the 42 days since 1 Feb.
    arrears = age_arrears(instalments(214_000, date(2025, 3, 15)), date(2025, 3, 15), POLICY)
    assert (arrears.overdue_amount, arrears.ageing_instalment, arrears.days_overdue) == (D(214_462), 2, 14)
    strict = age_arrears(instalments(214_000, date(2025, 3, 15)), date(2025, 3, 15), ArrearsPolicy())
    assert (strict.ageing_instalment, strict.days_overdue) == (1, 42)
    # 231 alone on 20 Feb: within the tolerance, the loan is not late at all.
    alone = age_arrears(instalments(214_000, date(2025, 2, 20)), date(2025, 2, 20), POLICY)
    assert (alone.overdue_amount, alone.days_overdue, alone.status) == (D(231), 0, ArrearsStatus.PERFORMING)


def test_npa_after_the_products_days_and_the_exit_rule() -> None:
    # Nothing paid: 2 May 2025 is 90 days after 1 Feb (in arrears), 3 May is 91 (> 90: non-performing).
    assert age_arrears(instalments(0, date(2025, 5, 2)), date(2025, 5, 2), POLICY).status is ArrearsStatus.IN_ARREARS
    assert age_arrears(instalments(0, date(2025, 5, 3)), date(2025, 5, 3), POLICY).status is \
        ArrearsStatus.NON_PERFORMING
    # On 3 May the client pays instalments 1 to 3 (642,693): instalment 4 (due 1 May) is 2 days late.
    # The product holds the loan in NPA until its arrears are fully paid; without the rule it is merely in arrears.
    partly = instalments(642_693, date(2025, 5, 3))
    held = age_arrears(partly, date(2025, 5, 3), POLICY, previous_status=ArrearsStatus.NON_PERFORMING)
    assert (held.days_overdue, held.overdue_amount, held.status) == (2, D(214_231), ArrearsStatus.NON_PERFORMING)
    released = ArrearsPolicy(tolerance_amount=D(500), days_to_arrears=1, days_to_npa=90,
                             npa_exit_requires_arrears_paid=False)
    assert age_arrears(partly, date(2025, 5, 3), released,
                       previous_status=ArrearsStatus.NON_PERFORMING).status is ArrearsStatus.IN_ARREARS
    # Paying instalment 4 too clears the arrears: the loan performs again.
    cleared = age_arrears(instalments(856_924, date(2025, 5, 3)), date(2025, 5, 3), POLICY,
                          previous_status=ArrearsStatus.NON_PERFORMING)
    assert (cleared.overdue_amount, cleared.status) == (0, ArrearsStatus.PERFORMING)


policies = st.builds(ArrearsPolicy, tolerance_amount=st.integers(0, 300_000).map(D),
                     tolerance_days=st.integers(0, 30), days_to_arrears=st.none() | st.integers(0, 30),
                     days_to_npa=st.none() | st.integers(31, 400), npa_exit_requires_arrears_paid=st.booleans())


@settings(max_examples=80, deadline=None)
@given(paid=st.integers(0, 1_285_386), days=st.integers(0, 500), policy=policies,
       previous=st.sampled_from(list(ArrearsStatus)))
def test_ageing_properties(paid, days, policy, previous) -> None:  # type: ignore[no-untyped-def]
    as_of = date(2025, 1, 1) + timedelta(days=days)
    rows = instalments(paid, as_of)
    arrears = age_arrears(rows, as_of, policy, previous_status=previous)
    strict = age_arrears(rows, as_of, ArrearsPolicy())
    lines = allocate(D(paid), scheduled_dues(SCHEDULE), ORDER).lines if paid else ()
    # Without tolerance the age is the position's: the oldest unpaid instalment.
    assert strict.days_overdue == loan_position(SCHEDULE, lines, as_of).days_overdue
    assert strict.overdue_amount == arrears.overdue_amount
    # Tolerance only ever shortens the age; a loan whose overdue is all tolerated is not late.
    assert 0 <= arrears.days_overdue <= strict.days_overdue
    if arrears.overdue_amount <= policy.tolerance_amount:
        assert arrears.days_overdue == 0
    # NPA past the product's days, whatever happened before; never NPA with nothing overdue.
    if policy.days_to_npa is not None and arrears.days_overdue > policy.days_to_npa:
        assert arrears.status is ArrearsStatus.NON_PERFORMING
    if arrears.overdue_amount == 0:
        assert arrears.status is ArrearsStatus.PERFORMING
    if previous is not ArrearsStatus.NON_PERFORMING and arrears.status is ArrearsStatus.NON_PERFORMING:
        assert policy.days_to_npa is not None and arrears.days_overdue > policy.days_to_npa
