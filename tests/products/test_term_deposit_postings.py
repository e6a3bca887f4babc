"""The closed-form interest of term-deposit runs (`postings_due`) against the day-by-day
projection of the pure core, and the withholding tax it splits off.

Properties: posting period by period from the state the previous posting left (what a run
stores) gives exactly the projection's amounts, taxes and maturity amount; interest and tax are
never negative and the tax never exceeds the interest; the balance only grows while the term
runs. A hand-computed example pins the numbers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from products.deposits.interest import CalculationMethod
from products.deposits.periods import (
    COMPOUNDING_MONTHS,
    POSTING_MONTHS,
    CompoundingPeriod,
    DaysInYear,
    PostingPeriod,
)
from products.deposits.term import Term, TermUnit
from products.deposits.term_deposit import TermDepositTerms, project_term_deposit
from products.rounding import Rounding
from products.term_deposits.account import PostingState, TermSchedule, interest_due, postings_due

D = Decimal
FAR = date(2100, 1, 1)


@st.composite
def deposits(draw: st.DrawFn) -> TermDepositTerms:
    posting = draw(st.sampled_from([PostingPeriod.MONTHLY, PostingPeriod.QUARTERLY, PostingPeriod.SEMI_ANNUAL,
                                    PostingPeriod.ANNUAL, PostingPeriod.AT_MATURITY]))
    posting_months = POSTING_MONTHS[posting]
    compounding = draw(st.sampled_from([c for c in CompoundingPeriod if posting_months is None
                                        or COMPOUNDING_MONTHS[c] is None or COMPOUNDING_MONTHS[c] <= posting_months]))
    decimals = draw(st.sampled_from([0, 2]))
    return TermDepositTerms(
        principal=D(draw(st.integers(1, 50_000_000))).scaleb(-decimals),
        currency="XOF" if decimals == 0 else "EUR",
        activated_on=draw(st.dates(date(2024, 1, 1), date(2027, 12, 31))),
        term=Term(count=draw(st.integers(1, 24)), unit=TermUnit.MONTHS),
        rate_annual_percent=D(draw(st.integers(0, 1500))) / 100,
        method=draw(st.sampled_from(list(CalculationMethod))),
        days_in_year=draw(st.sampled_from(list(DaysInYear))),
        compounding=compounding, posting=posting, rounding=Rounding(decimals=decimals),
        withholding_tax_percent=draw(st.sampled_from([D(0), D(15), D("12.5"), D(100)])),
    )


@settings(max_examples=150, deadline=None)
@given(terms=deposits())
def test_posting_from_the_last_state_equals_the_projection(terms: TermDepositTerms) -> None:
    projection = project_term_deposit(terms)
    schedule = TermSchedule(terms)
    state = PostingState(posted_through=None, balance=terms.principal)
    gross: list[Decimal] = []
    taxes: list[Decimal] = []
    while True:
        due = schedule.postings_due(state, through=FAR)[:1]  # one period at a time, as monthly runs do
        if not due:
            break
        posting = due[0]
        assert posting.gross >= 0 and 0 <= posting.tax <= posting.gross
        assert posting.after.balance >= state.balance
        gross.append(posting.gross)
        taxes.append(posting.tax)
        state = posting.after
    assert gross == [p.earned_posted for p in projection.interest_detail.periods]
    assert sum(taxes, D(0)) == projection.withholding_tax
    assert state.balance == projection.maturity_amount
    # All at once (a run catching up) gives the same postings.
    assert [p.gross for p in postings_due(terms, PostingState(posted_through=None, balance=terms.principal),
                                          through=FAR)] == gross


@settings(max_examples=60, deadline=None)
@given(terms=deposits(), through_days=st.integers(0, 800))
def test_a_run_posts_what_the_day_by_day_core_says_is_due(terms: TermDepositTerms, through_days: int) -> None:
    through = date.fromordinal(terms.activated_on.toordinal() + through_days)
    closed = postings_due(terms, PostingState(posted_through=None, balance=terms.principal), through=through)
    expected = interest_due(terms, through=through, posted=())
    assert [(p.period.last_day, p.gross) for p in closed if p.gross > 0] == [
        (d.period_end, d.amount) for d in expected]


def test_hand_computed_monthly_posting_with_tax() -> None:
    """1 000 000 XOF at 6 % from 15 January 2031, monthly, 365 days, 15 % withheld:
    month 1: 1 000 000 x .06 x 31/365 = 5 095.890411 -> 5 096, tax 764.40 -> 764, net 4 332;
    month 2: (1 004 332 - 0.109589) x .06 x 28/365 = 4 622.678290, + carry -0.109589 -> 4 623,
    tax 693.45 -> 693, net 3 930; balance 1 008 262."""
    terms = TermDepositTerms(principal=D(1_000_000), currency="XOF", activated_on=date(2031, 1, 15),
                             term=Term(count=12, unit=TermUnit.MONTHS), rate_annual_percent=D(6),
                             posting=PostingPeriod.MONTHLY, withholding_tax_percent=D(15))
    first, second = postings_due(terms, PostingState(posted_through=None, balance=D(1_000_000)),
                                 through=date(2031, 3, 14))
    assert (first.gross, first.tax, first.net, first.after.balance) == (5096, 764, 4332, 1_004_332)
    assert first.after.carry.earned == D("-0.109589041095890411")
    assert (second.gross, second.tax, second.net, second.after.balance) == (4623, 693, 3930, 1_008_262)
