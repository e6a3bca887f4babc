"""Mandatory savings on each instalment (products.loans.instalment_savings), by hand."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.loans.allocation import AllocationLine
from products.loans.instalment_savings import saves_per_instalment, savings_change, savings_targets
from products.loans.product import MandatorySavings, RateOrFlat
from products.posting_rules import Component
from products.rounding import Rounding, RoundingMode

D = Decimal
XOF = Rounding(decimals=0, mode=RoundingMode.HALF_EVEN, in_multiples_of=None)
TEN = MandatorySavings(basis=RateOrFlat.RATE, rate_percent=D(10), on_total_instalment=True)
C = Component


def line(instalment: int, component: Component, amount: int) -> AllocationLine:
    return AllocationLine(instalment=instalment, component=component, amount=D(amount))


def test_only_a_rate_of_each_instalment_saves_per_instalment() -> None:
    assert saves_per_instalment(TEN)
    assert not saves_per_instalment(MandatorySavings(basis=RateOrFlat.RATE, rate_percent=D(10)))
    assert not saves_per_instalment(MandatorySavings(basis=RateOrFlat.FLAT, flat_amount=D(5000)))
    assert not saves_per_instalment(None)


def test_the_rate_of_what_each_instalment_received_penalties_and_overpayments_aside() -> None:
    paid = [line(1, C.INTEREST, 4500), line(1, C.PRINCIPAL, 48_158), line(1, C.PENALTY, 1000),
            line(2, C.FEE, 500), line(2, C.VAT, 85), line(2, C.INTEREST, 3778), line(2, C.PRINCIPAL, 10_000)]
    # 1: 10 % of 52 658 = 5 265.8 -> 5 266; 2: 10 % of 14 363 = 1 436.3 -> 1 436.
    assert savings_targets(TEN, paid, XOF, "XOF") == {1: D(5266), 2: D(1436)}


def test_more_to_hold_and_instalments_to_hold_again() -> None:
    change = savings_change({1: D(5266), 2: D(1436)}, {1: D(3000), 2: D(2000), 3: D(700)})
    assert change.to_hold == {1: D(2266)}
    assert change.to_redo == {2: D(1436), 3: D(0)}
    assert savings_change({1: D(5266)}, {1: D(5266)}).to_hold == {}


@given(st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=12))
def test_paying_an_instalment_in_parts_saves_what_paying_it_at_once_does(parts: list[int]) -> None:
    in_parts = savings_targets(TEN, [line(1, C.PRINCIPAL, p) for p in parts], XOF, "XOF")
    at_once = savings_targets(TEN, [line(1, C.PRINCIPAL, sum(parts))], XOF, "XOF")
    assert in_parts == at_once
