"""Restatement after a backdated repayment: posting only the difference gives the books of a
from-scratch replay, account by account."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.model import Line, Side
from products.accounting import posting_lines
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.restatement import corrections, posting_totals
from products.posting_rules import RULE_TABLES, AccountingRule, Component, EventKind, ProductKind
from tests.products.cob_day import ACCOUNTING, START, run
from tests.products.cob_support import sfd_accounting

D = Decimal


def balances(lines: Iterable[Line]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        sign = 1 if line.side is Side.DEBIT else -1
        totals[line.account_code] = totals.get(line.account_code, D(0)) + sign * line.amount
    return {code: amount for code, amount in totals.items() if amount}


def lines_of(events: Iterable[ProductEvent]) -> list[Line]:
    return [line for event in events for line in posting_lines(ProductKind.LOAN, ACCOUNTING, event)]


def test_a_backdated_repayment_is_corrected_by_the_difference_only() -> None:
    # Closed every day up to day 200 with repayments on days 31 and 150. On day 200 a teller records a
    # repayment of 300,000 received on day 60. Replaying the loan from day 60 with it gives other penalties,
    # another class history, other provisions and another split of the day-150 repayment.
    posted = run({31: D(100_000), 150: D(900_000)}, D(0), 200)
    replayed = run({31: D(100_000), 60: D(300_000), 150: D(900_000)}, D(0), 200)
    since = START + timedelta(days=60)
    fixes = corrections(posting_totals(e for day, e in posted.events if day >= since),
                        posting_totals(e for day, e in replayed.events if day >= since))
    correction_lines = [line for fix in fixes for line in fix.lines(ProductKind.LOAN, ACCOUNTING)]
    # Posted + corrections = the replay, on every account.
    assert balances([*lines_of(e for _, e in posted.events), *correction_lines]) == balances(
        lines_of(e for _, e in replayed.events))
    # The corrections are differences, not a re-posting: the 300,000 comes in once (cash 1012), and penalties
    # the late instalments no longer deserve are taken back by mirrors of their charge.
    assert balances(correction_lines)["1012"] == D(300_000)
    kinds = {(fix.event.kind, fix.mirror) for fix in fixes}
    assert (EventKind.PENALTY_CHARGE, True) in kinds
    assert len(fixes) < len([e for day, e in replayed.events if day >= since])
    # Nothing to correct when the history did not change.
    again = run({31: D(100_000), 150: D(900_000)}, D(0), 200)
    assert corrections(posting_totals(e for _, e in posted.events), posting_totals(e for _, e in again.events)) == ()


table = RULE_TABLES[(ProductKind.LOAN, AccountingRule.ACCRUAL_PERIODIC)]
simple_pairs = sorted(pair for pair in table if pair[0] is not EventKind.RECLASSIFICATION)
events = st.builds(
    lambda pair, amount, classification, term: ProductEvent(
        kind=pair[0], currency="XOF", classification=classification, term=term,
        parts=(EventPart(component=pair[1], amount=D(amount)),)),
    st.sampled_from(simple_pairs), st.integers(1, 1_000_000),
    st.sampled_from([LoanClassification.HEALTHY, LoanClassification.DOUBTFUL]), st.sampled_from(list(TermBucket)))


@settings(max_examples=60, deadline=None)
@given(posted=st.lists(events, max_size=15), replayed=st.lists(events, max_size=15))
def test_posted_plus_corrections_is_the_replay(posted, replayed) -> None:  # type: ignore[no-untyped-def]
    fixes = corrections(posting_totals(posted), posting_totals(replayed))
    accounting = sfd_accounting()
    fixed = [*lines_of(posted), *(line for fix in fixes for line in fix.lines(ProductKind.LOAN, accounting))]
    assert balances(fixed) == balances(lines_of(replayed))
    for fix in fixes:
        assert len(fix.event.parts) == 1 and fix.event.parts[0].amount > 0
    assert corrections(posting_totals(replayed), posting_totals(replayed)) == ()


def test_a_mirror_swaps_the_sides() -> None:
    over = ProductEvent(kind=EventKind.PENALTY_CHARGE, currency="XOF",
                        parts=(EventPart(component=Component.PENALTY, amount=D(4285), charge_id=7),))
    (fix,) = corrections(posting_totals([over]), {})
    # The penalty of 4,285 charged in excess is taken back: Dr 70231 / Cr 2073.
    assert fix.mirror
    assert [(line.side, line.account_code, line.amount) for line in fix.lines(ProductKind.LOAN, ACCOUNTING)] == [
        (Side.CREDIT, "2073", D(4285)), (Side.DEBIT, "70231", D(4285))]
