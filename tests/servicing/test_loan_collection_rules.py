"""What an automatic collection takes of what is due, by hand and as a property: never more than
is due nor than is available; whole instalments only when the product refuses partial payment."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.loans.allocation import Due
from products.posting_rules import Component
from servicing.loans.collection import collectable, due_by

D = Decimal
DUES = [Due(instalment=1, due_date=date(2027, 1, 5), component=Component.INTEREST, amount=D(4_500)),
        Due(instalment=1, due_date=date(2027, 1, 5), component=Component.PRINCIPAL, amount=D(48_000)),
        Due(instalment=2, due_date=date(2027, 2, 5), component=Component.INTEREST, amount=D(3_800)),
        Due(instalment=2, due_date=date(2027, 2, 5), component=Component.PRINCIPAL, amount=D(48_700)),
        Due(instalment=3, due_date=date(2027, 3, 5), component=Component.PRINCIPAL, amount=D(49_000))]


def test_hand_checked() -> None:
    due = due_by(DUES, date(2027, 2, 5))
    assert [d.instalment for d in due] == [1, 1, 2, 2]  # 105 000 due by 5 February
    assert collectable(due, D(200_000), partial_allowed=True) == D(105_000)
    assert collectable(due, D(60_000), partial_allowed=True) == D(60_000)
    assert collectable(due, D(60_000), partial_allowed=False) == D(52_500)  # instalment 1 only
    assert collectable(due, D(52_499), partial_allowed=False) == D(0)
    assert collectable(due, D(0), partial_allowed=True) == D(0)


@given(available=st.integers(min_value=0, max_value=300_000), partial=st.booleans(),
       day=st.sampled_from([date(2027, 1, 4), date(2027, 1, 5), date(2027, 2, 5), date(2027, 3, 5)]))
def test_never_more_than_due_or_available_and_whole_instalments(available: int, partial: bool, day: date) -> None:
    due = due_by(DUES, day)
    taken = collectable(due, D(available), partial_allowed=partial)
    assert D(0) <= taken <= min(D(available), sum((d.amount for d in due), D(0)))
    if not partial:
        totals: list[Decimal] = []
        for number in sorted({d.instalment for d in due}):
            totals.append((totals[-1] if totals else D(0)) + sum((d.amount for d in due if d.instalment == number), D(0)))
        assert taken in {D(0), *totals}
