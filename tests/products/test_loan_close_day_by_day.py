"""Closing every day of a loan receiving random repayments: the books reconcile with the loan
every evening, every step run a second time the same evening posts nothing, and the recognised
interest never passes the schedule's (see `cob_day` for the chained steps)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import example, given, settings
from hypothesis import strategies as st

from products.loans.position import remaining_dues
from tests.products.cob_day import INTEREST_ACCOUNTS, SCHEDULE, run

D = Decimal

repayments = st.dictionaries(st.integers(1, 420), st.integers(1, 400_000).map(D), max_size=12)


@settings(max_examples=10, deadline=None)
@given(plan=repayments, deposit=st.sampled_from([D(0), D(50_000)]))
@example(plan={}, deposit=D(0))  # never pays: NPA, doubtful, provisioned 40, 80 then 100 %
@example(plan={200: D(2_000_000)}, deposit=D(50_000))  # doubtful, then pays everything: back to healthy
@example(plan={31: D(100_000), 95: D(100_000), 150: D(900_000), 300: D(400_000)}, deposit=D(0))
def test_closing_every_day_keeps_the_books_equal_to_the_loan(plan, deposit) -> None:  # type: ignore[no-untyped-def]
    loan = run(plan, deposit, 430)
    if not remaining_dues(SCHEDULE, loan.paid, loan.charged):
        # Repaid in full: nothing is withheld, all the interest was recognised, nothing is receivable.
        assert loan.withheld == 0
        assert loan.recognised == SCHEDULE.totals.interest_amount
        assert loan.balance(*INTEREST_ACCOUNTS) == 0
