"""The account mapping of a term-deposit product and the interest due by a date: the periods
completed by a date, projected alone, carry exactly the amounts of the whole-term projection."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from products.catalogue.common import AmountRange, ProductIdentity
from products.deposits.interest_settings import (
    BalanceMethod,
    CompoundingPeriod,
    DepositDaysInYear,
    InterestSettings,
    PostingPeriod,
)
from products.deposits.term import maturity_date
from products.term_deposits.account import account_terms, all_periods, completed_through, interest_due
from products.term_deposits.product import RateChart, RateSlab, TermDepositProduct, TermLength, TermUnit

_COMPOUNDING_MONTHS = {CompoundingPeriod.DAILY: 0, CompoundingPeriod.MONTHLY: 1, CompoundingPeriod.QUARTERLY: 3,
                       CompoundingPeriod.SEMI_ANNUAL: 6, CompoundingPeriod.ANNUAL: 12}
_POSTING_MONTHS = {PostingPeriod.MONTHLY: 1, PostingPeriod.QUARTERLY: 3, PostingPeriod.SEMI_ANNUAL: 6,
                   PostingPeriod.ANNUAL: 12}


def product(interest: InterestSettings, currency: str = "XOF") -> TermDepositProduct:
    return TermDepositProduct(
        identity=ProductIdentity(name="DAT", short_name="DAT"), currency=currency,
        deposit_amount=AmountRange(minimum=Decimal(1), default=Decimal(1000), maximum=Decimal(10**9)),
        interest=interest, term_min=TermLength(count=1),
        rate_charts=(RateChart(valid_from=date(2020, 1, 1), slabs=(RateSlab(term_from=1, rate_percent=Decimal(5)),)),))


@st.composite
def interest_settings(draw: st.DrawFn) -> InterestSettings:
    posting = draw(st.sampled_from(list(PostingPeriod)))
    compounding = draw(st.sampled_from([c for c, m in _COMPOUNDING_MONTHS.items() if m <= _POSTING_MONTHS[posting]]))
    return InterestSettings(compounding_period=compounding, posting_period=posting,
                            balance_method=draw(st.sampled_from(list(BalanceMethod))),
                            days_in_year=draw(st.sampled_from(list(DepositDaysInYear))))


@settings(max_examples=60, deadline=None)
@given(interest=interest_settings(), principal=st.integers(1, 10**8), currency=st.sampled_from(["XOF", "EUR"]),
       start=st.dates(date(2024, 1, 1), date(2030, 12, 31)), months=st.integers(1, 24),
       unit=st.sampled_from([TermUnit.MONTHS, TermUnit.DAYS]),
       rate=st.decimals(0, 20, places=2), offset=st.integers(-40, 800))
def test_interest_due_by_a_date_matches_the_whole_term(interest, principal, currency, start, months, unit, rate,
                                                       offset) -> None:  # type: ignore[no-untyped-def]
    count = months if unit is TermUnit.MONTHS else months * 30
    terms = account_terms(product(interest, currency), principal=Decimal(principal), activated_on=start,
                          term=TermLength(count=count, unit=unit), rate_percent=rate)
    through = start + timedelta(days=offset)
    expected = [(p.period.last_day, p.earned_posted) for p in all_periods(terms)
                if p.period.last_day <= through and p.earned_posted > 0]
    assert [(d.period_end, d.amount) for d in interest_due(terms, through=through, posted=())] == expected
    # Already posted periods are not due again; nothing is negative.
    posted = {end for end, _ in expected[:1]}
    again = interest_due(terms, through=through, posted=posted)
    assert [(d.period_end, d.amount) for d in again] == expected[1:]
    assert all(d.amount > 0 for d in again)
    window = completed_through(terms, through)
    maturity = maturity_date(start, terms.term)
    assert window is None or start <= window < maturity


def test_completed_through_examples() -> None:
    """Monthly from 15 January: on 13 March only the first period (to 14 February) is complete,
    on 14 March the second too; at_maturity posting has nothing before the day before maturity."""
    monthly = account_terms(product(InterestSettings()), principal=Decimal(1_000_000), activated_on=date(2026, 1, 15),
                            term=TermLength(count=12), rate_percent=Decimal(6))
    assert completed_through(monthly, date(2026, 3, 13)) == date(2026, 2, 14)
    assert completed_through(monthly, date(2026, 3, 14)) == date(2026, 3, 14)
    assert completed_through(monthly, date(2026, 1, 20)) is None
    assert completed_through(monthly, date(2028, 1, 1)) == date(2027, 1, 14)
    assert [d.amount for d in interest_due(monthly, through=date(2026, 4, 14), posted=())] == [
        Decimal(5096), Decimal(4626), Decimal(5146)]
