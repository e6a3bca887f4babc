"""Provisioning: the BCEAO base and rates, allowances and releases per class, release on repayment."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from products.events import LoanClassification, TermBucket
from products.loans.provisioning import (
    provision_base,
    provision_movements,
    release_on_repayment,
    required_provision,
)
from products.posting_rules import EventKind
from products.rounding import Rounding, RoundingMode, compile_rounding
from tests.products.cob_support import journal

D = Decimal
XOF = compile_rounding(Rounding(), "XOF")
HEALTHY, DOUBTFUL = LoanClassification.HEALTHY, LoanClassification.DOUBTFUL
SHORT = TermBucket.SHORT


def test_the_bceao_base_deducts_guarantee_deposits() -> None:
    # « solde restant dû = encours du prêt − dépôts constitués en garantie »: 1,000,000 - 100,000 = 900,000.
    assert provision_base(principal_outstanding=D(1_000_000), guarantee_deposits=D(100_000)) == D(900_000)
    # Interest counts only when the product provisions it; deposits beyond the exposure leave nothing.
    assert provision_base(principal_outstanding=D(1_000_000), interest_receivable=D(30_000), include_interest=True,
                          guarantee_deposits=D(100_000)) == D(930_000)
    assert provision_base(principal_outstanding=D(50_000), guarantee_deposits=D(100_000)) == D(0)


def test_a_loan_ageing_through_the_grid() -> None:
    base = provision_base(principal_outstanding=D(1_000_000), guarantee_deposits=D(100_000))
    # Day 91: 40 % of 900,000 = 360,000, nothing booked -> dotation 360,000: Dr 662 / Cr 2991.
    (first,) = provision_movements({}, required_provision(base, D(40), XOF), DOUBTFUL)
    assert (first.kind, first.amount) == (EventKind.PROVISION, D(360_000))
    assert journal(first.event("XOF", term=SHORT)) == [("D", "662", "360000"), ("C", "2991", "360000")]
    # Day 181: 80 % = 720,000, 360,000 booked -> a further 360,000.
    (second,) = provision_movements({DOUBTFUL: D(360_000)}, required_provision(base, D(80), XOF), DOUBTFUL)
    assert (second.kind, second.amount) == (EventKind.PROVISION, D(360_000))
    # The client repays down to 500,000: 80 % of (500,000 - 100,000) = 320,000; 400,000 is released:
    # reprise Dr 2991 / Cr 761.
    smaller = provision_base(principal_outstanding=D(500_000), guarantee_deposits=D(100_000))
    (release,) = provision_movements({DOUBTFUL: D(720_000)}, required_provision(smaller, D(80), XOF), DOUBTFUL)
    assert (release.kind, release.amount) == (EventKind.PROVISION_REVERSAL, D(400_000))
    assert journal(release.event("XOF", term=SHORT)) == [("D", "2991", "400000"), ("C", "761", "400000")]
    # Nothing changes: nothing is posted.
    assert provision_movements({DOUBTFUL: D(320_000)}, D(320_000), DOUBTFUL) == ()


def test_a_class_change_releases_the_old_class_and_books_the_new() -> None:
    # A general 1 % provision of 9,000 was booked while healthy; at 91 days the loan needs 360,000 as doubtful.
    movements = provision_movements({HEALTHY: D(9_000)}, D(360_000), DOUBTFUL)
    assert [(m.kind, m.classification, m.amount) for m in movements] == [
        (EventKind.PROVISION_REVERSAL, HEALTHY, D(9_000)), (EventKind.PROVISION, DOUBTFUL, D(360_000))]


def test_rates_round_the_products_way() -> None:
    # 40 % of 123,457 = 49,382.8 -> 49,383 XOF; in multiples of 5 -> 49,385; EUR keeps cents.
    assert required_provision(D(123_457), D(40), XOF) == D(49_383)
    assert required_provision(D(123_457), D(40), compile_rounding(Rounding(in_multiples_of=D(5)), "XOF")) == D(49_385)
    assert required_provision(D("1234.57"), D(40), compile_rounding(Rounding(), "EUR")) == D("493.83")


def test_release_on_repayment() -> None:
    # « reprise remb. »: 720,000 booked at 80 % on a 900,000 base; 200,000 of principal repaid leaves 700,000:
    # 80 % = 560,000 required, so 160,000 is released with the repayment.
    assert release_on_repayment(D(720_000), base_after=D(700_000), rate_percent=D(80), rounder=XOF) == D(160_000)
    # An under-provisioned loan is not topped up by a repayment: the evening run does that.
    assert release_on_repayment(D(100_000), base_after=D(700_000), rate_percent=D(80), rounder=XOF) == D(0)


amounts = st.integers(0, 10_000_000).map(D)
classes = st.sampled_from([HEALTHY, DOUBTFUL])


@given(booked=st.dictionaries(classes, amounts), base=amounts, rate=st.integers(0, 100).map(D), classification=classes,
       mode=st.sampled_from(list(RoundingMode)))
def test_booked_plus_movements_is_what_is_required_in_each_class(booked, base, rate, classification, mode) -> None:  # type: ignore[no-untyped-def]
    required = required_provision(base, rate, compile_rounding(Rounding(mode=mode), "XOF"))
    assert 0 <= required <= base
    after = dict(booked)
    for movement in provision_movements(booked, required, classification):
        assert movement.amount > 0
        sign = 1 if movement.kind is EventKind.PROVISION else -1
        after[movement.classification] = after.get(movement.classification, D(0)) + sign * movement.amount
    assert {c: a for c, a in after.items() if a} == ({classification: required} if required else {})
