"""Term deposits: projection, bounds, premature closure both ways, maturity instructions."""

from datetime import date, timedelta
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from products.deposits import (
    CalculationMethod,
    CompoundingPeriod,
    DaysInYear,
    DepositError,
    MaturityInstruction,
    PenaltyBasis,
    PostingPeriod,
    PrematureClosurePenalty,
    PrematureClosureQuote,
    PrematureClosureRefused,
    Term,
    TermDepositLimits,
    TermDepositTerms,
    TermUnit,
    apply_maturity_instruction,
    check_term_deposit,
    premature_closure,
    project_term_deposit,
)
from products.rounding import Rounding, RoundingMode, compile_rounding

MONTHS = TermUnit.MONTHS


def xof_deposit(**changes: object) -> TermDepositTerms:
    """1,000,000 XOF for 12 months from 1 January 2026 at 5 %, monthly compounding, paid at maturity."""
    terms = TermDepositTerms(
        principal=Decimal(1_000_000),
        currency="XOF",
        activated_on=date(2026, 1, 1),
        term=Term(count=12, unit=MONTHS),
        rate_annual_percent=Decimal(5),
        compounding=CompoundingPeriod.MONTHLY,
        posting=PostingPeriod.AT_MATURITY,
    )
    return msgspec.structs.replace(terms, **changes)


def test_xof_projection_monthly_compounding() -> None:
    """Matures 1 January 2027 after 365 days. Interest compounds on each monthly anniversary
    (1 Feb, 1 Mar, ...): 1,000,000 x prod(1 + 0.05 x d/365) - 1,000,000 = 51,161.81 -> 51,162.
    Withholding tax 15 %: 51,162 x 0.15 = 7,674.30 -> 7,674. Maturity amount 1,000,000 + 51,162 - 7,674."""
    projection = project_term_deposit(xof_deposit(withholding_tax_percent=Decimal(15)))
    assert projection.maturity_date == date(2027, 1, 1)
    assert projection.days == 365
    assert projection.interest == Decimal(51162)
    assert projection.withholding_tax == Decimal(7674)
    assert projection.maturity_amount == Decimal(1_043_488)


def test_eur_projection_quarterly_compounding_from_a_mid_month_activation() -> None:
    """10,000.00 EUR at 3 %, 6 months from 15 March 2026, quarterly compounding on anniversaries, 365 days.
    15 Mar - 14 Jun: 92 days, 10,000 x 0.03 x 92/365 = 75.616438;
    15 Jun - 14 Sep: 92 days, 10,075.616438 x 0.03 x 92/365 = 76.188223. Total 151.804661 -> 151.80."""
    terms = TermDepositTerms(
        principal=Decimal("10000.00"),
        currency="EUR",
        activated_on=date(2026, 3, 15),
        term=Term(count=6, unit=MONTHS),
        rate_annual_percent=Decimal(3),
        compounding=CompoundingPeriod.QUARTERLY,
        posting=PostingPeriod.AT_MATURITY,
    )
    projection = project_term_deposit(terms)
    assert projection.maturity_date == date(2026, 9, 15)
    assert projection.interest == Decimal("151.80")
    assert projection.maturity_amount == Decimal("10151.80")
    steps = projection.interest_detail.periods[0].steps
    assert [(s.period.first_day, s.period.last_day) for s in steps] == [
        (date(2026, 3, 15), date(2026, 6, 14)),
        (date(2026, 6, 15), date(2026, 9, 14)),
    ]


def test_projection_with_monthly_posting_pays_the_same_interest() -> None:
    """Posting monthly instead of at maturity only moves rounding: 51,162 either way here."""
    assert project_term_deposit(xof_deposit(posting=PostingPeriod.MONTHLY)).interest == Decimal(51162)


LIMITS = TermDepositLimits(
    amount_min=Decimal(100_000),
    amount_max=Decimal(50_000_000),
    amount_multiple=Decimal(1000),
    term_min=Term(count=12, unit=MONTHS),
    term_max=Term(count=36, unit=MONTHS),
    term_multiple=Term(count=3, unit=MONTHS),
)


def test_bounds_of_seed_004() -> None:
    """Seed 004: minimum 12 months, multiple of 3 months (12, 15, 18 ...), maximum 36 months."""
    check_term_deposit(xof_deposit(term=Term(count=15, unit=MONTHS)), LIMITS)
    check_term_deposit(xof_deposit(term=Term(count=2, unit=TermUnit.YEARS)), LIMITS)
    for term, amount, field in [
        (Term(count=14, unit=MONTHS), "1000000", "term"),
        (Term(count=6, unit=MONTHS), "1000000", "term"),
        (Term(count=39, unit=MONTHS), "1000000", "term"),
        (Term(count=400, unit=TermUnit.DAYS), "1000000", "term"),
        (Term(count=12, unit=MONTHS), "50000", "principal"),
        (Term(count=12, unit=MONTHS), "60000000", "principal"),
        (Term(count=12, unit=MONTHS), "1000500", "principal"),
        (Term(count=12, unit=MONTHS), "1000000.5", "principal"),
    ]:
        with pytest.raises(DepositError) as raised:
            check_term_deposit(xof_deposit(term=term, principal=Decimal(amount)), LIMITS)
        assert raised.value.field == field, (term, amount)


def simple_8_percent() -> TermDepositTerms:
    """1,000,000 XOF at 8 % for 12 months from 1 January 2026, simple interest paid at maturity."""
    return xof_deposit(
        rate_annual_percent=Decimal(8),
        compounding=CompoundingPeriod.ANNUAL,
        posting=PostingPeriod.AT_MATURITY,
    )


LOCK_IN = Term(count=3, unit=MONTHS)
ONE_PERCENT_UNTIL_WITHDRAWAL = PrematureClosurePenalty(
    rate_percent=Decimal(1), basis=PenaltyBasis.UNTIL_WITHDRAWAL
)
ONE_PERCENT_WHOLE_TERM = PrematureClosurePenalty(rate_percent=Decimal(1), basis=PenaltyBasis.WHOLE_TERM)


def close_on_1_july(
    terms: TermDepositTerms, penalty: PrematureClosurePenalty, **amounts: Decimal
) -> PrematureClosureQuote:
    """Quote a closure on 1 July 2026 (after the 3-month lock-in): 181 days held from 1 January."""
    return premature_closure(terms, date(2026, 7, 1), lock_in=LOCK_IN, penalty=penalty, **amounts)


def test_premature_closure_refused_inside_the_lock_in() -> None:
    with pytest.raises(PrematureClosureRefused) as raised:
        premature_closure(simple_8_percent(), date(2026, 3, 31), lock_in=LOCK_IN, penalty=None)
    assert raised.value.field == "closed_on"
    assert "2026-04-01" in raised.value.message
    premature_closure(simple_8_percent(), date(2026, 4, 1), lock_in=LOCK_IN, penalty=None)


def test_premature_closure_outside_the_term_is_refused() -> None:
    for day in (date(2025, 12, 31), date(2027, 1, 1), date(2027, 6, 1)):
        with pytest.raises(PrematureClosureRefused):
            premature_closure(simple_8_percent(), day, lock_in=None, penalty=None)


def test_premature_closure_until_withdrawal() -> None:
    """Closed 1 July 2026: held 181 days (1 Jan - 30 Jun). Penalty 1 % until withdrawal: 8 % - 1 % = 7 %.
    At the contract rate: 1,000,000 x 8 x 181/36,500 = 39,671.23 -> 39,671.
    Recalculated: 1,000,000 x 7 x 181/36,500 = 34,712.33 -> 34,712. Penalty 39,671 - 34,712 = 4,959.
    40,000 was already posted: 40,000 - 34,712 = 5,288 is clawed back; paid 1,000,000 + 34,712."""
    quote = close_on_1_july(
        simple_8_percent(), ONE_PERCENT_UNTIL_WITHDRAWAL, interest_posted_to_date=Decimal(40000)
    )
    assert quote.days_held == 181
    assert quote.reduced_rate_percent == Decimal(7)
    assert quote.interest_at_contract_rate == Decimal(39671)
    assert quote.interest_recalculated == Decimal(34712)
    assert quote.penalty_amount == Decimal(4959)
    assert quote.interest_to_claw_back == Decimal(5288)
    assert quote.interest_to_post == 0
    assert quote.amount_paid == Decimal(1_034_712)


def test_premature_closure_on_the_whole_term() -> None:
    """Same closure, penalty 1 % on the whole planned term ("durée initiale").
    7 % for the 181 days held: 34,712; plus 1 % for the 184 days not held (1 Jul - 31 Dec):
    1,000,000 x 1 x 184/36,500 = 5,041.10 -> 5,041. Interest 34,712 - 5,041 = 29,671, which is the
    contract interest 39,671 less 1 % of the principal over the whole 365 days (10,000).
    Nothing posted yet: 29,671 is posted; paid 1,029,671."""
    quote = close_on_1_july(simple_8_percent(), ONE_PERCENT_WHOLE_TERM)
    assert quote.interest_recalculated == Decimal(29671)
    assert quote.penalty_amount == Decimal(10000)
    assert quote.interest_to_post == Decimal(29671)
    assert quote.amount_paid == Decimal(1_029_671)


def test_whole_term_penalty_never_takes_principal() -> None:
    """Closed after 4 months at 8 % with a 5 % whole-term penalty: 3 % x 120 days = 9,863 is less than
    5 % x 245 days = 33,562: the interest is 0 and the principal is paid in full."""
    penalty = PrematureClosurePenalty(rate_percent=Decimal(5), basis=PenaltyBasis.WHOLE_TERM)
    quote = premature_closure(simple_8_percent(), date(2026, 5, 1), lock_in=LOCK_IN, penalty=penalty)
    assert quote.interest_recalculated == 0
    assert quote.amount_paid == Decimal(1_000_000)


def test_premature_closure_deducts_interest_already_paid_out() -> None:
    """Interest paid out monthly to the current account (20,000) is taken from the payout when the
    recalculated interest (34,712) is what the client is owed in all: 1,000,000 + 34,712 - 20,000."""
    quote = close_on_1_july(
        simple_8_percent(),
        ONE_PERCENT_UNTIL_WITHDRAWAL,
        interest_posted_to_date=Decimal(20000),
        interest_paid_out_to_date=Decimal(20000),
    )
    assert quote.interest_to_post == Decimal(14712)
    assert quote.amount_paid == Decimal(1_014_712)


def test_maturity_instructions() -> None:
    """Matured 1 January 2027 with 51,162 credited; renewal rate 6 % (the chart's on that day)."""
    terms = xof_deposit()
    credited = Decimal(51162)
    paid = apply_maturity_instruction(terms, MaturityInstruction.PAY_OUT, interest_credited=credited)
    assert paid.amount_paid_out == Decimal(1_051_162)
    assert paid.renewed is None
    held = apply_maturity_instruction(terms, MaturityInstruction.HOLD, interest_credited=credited)
    assert held.amount_paid_out == 0
    principal_only = apply_maturity_instruction(
        terms,
        MaturityInstruction.RENEW_PRINCIPAL,
        interest_credited=credited,
        renewal_rate_percent=Decimal(6),
    )
    assert principal_only.amount_paid_out == credited
    assert principal_only.renewed is not None
    assert principal_only.renewed.principal == Decimal(1_000_000)
    assert principal_only.renewed.activated_on == date(2027, 1, 1)
    assert principal_only.renewed.rate_annual_percent == Decimal(6)
    assert project_term_deposit(principal_only.renewed).maturity_date == date(2028, 1, 1)
    with_interest = apply_maturity_instruction(
        terms,
        MaturityInstruction.RENEW_PRINCIPAL_AND_INTEREST,
        interest_credited=credited,
        renewal_rate_percent=Decimal(6),
    )
    assert with_interest.amount_paid_out == 0
    assert with_interest.renewed is not None
    assert with_interest.renewed.principal == Decimal(1_051_162)
    with pytest.raises(DepositError) as raised:
        apply_maturity_instruction(terms, MaturityInstruction.RENEW_PRINCIPAL, interest_credited=credited)
    assert raised.value.field == "renewal_rate_percent"


@st.composite
def deposits(draw: st.DrawFn) -> TermDepositTerms:
    currency = draw(st.sampled_from(["XOF", "EUR"]))
    places = 0 if currency == "XOF" else 2
    unit = draw(st.sampled_from(list(TermUnit)))
    count = draw(
        st.integers(
            1, {TermUnit.DAYS: 900, TermUnit.WEEKS: 120, TermUnit.MONTHS: 36, TermUnit.YEARS: 3}[unit]
        )
    )
    compounding = draw(st.sampled_from(list(CompoundingPeriod)))
    posting = draw(st.sampled_from([PostingPeriod.AT_MATURITY, PostingPeriod.ANNUAL]))
    if posting is PostingPeriod.ANNUAL:
        compounding = draw(
            st.sampled_from([c for c in CompoundingPeriod if c is not CompoundingPeriod.ANNUAL])
        )
    return TermDepositTerms(
        principal=Decimal(draw(st.integers(1000, 10**10))).scaleb(-places),
        currency=currency,
        activated_on=draw(st.dates(date(2024, 1, 1), date(2030, 12, 31))),
        term=Term(count=count, unit=unit),
        rate_annual_percent=draw(st.decimals(min_value=0, max_value=15, places=2)),
        method=draw(st.sampled_from(list(CalculationMethod))),
        days_in_year=draw(st.sampled_from(list(DaysInYear))),
        compounding=compounding,
        posting=posting,
        periods_from_activation=draw(st.booleans()),
        rounding=Rounding(mode=draw(st.sampled_from(list(RoundingMode)))),
        withholding_tax_percent=draw(st.sampled_from([Decimal(0), Decimal(15), Decimal("12.5")])),
        interest_paid_out=draw(st.booleans()),
    )


@settings(max_examples=80, deadline=None)
@given(
    terms=deposits(),
    held_share=st.floats(0, 1, allow_nan=False),
    penalty_percent=st.decimals(min_value=0, max_value=10, places=2),
    basis=st.sampled_from(list(PenaltyBasis)),
)
def test_premature_closure_never_pays_more_than_holding_to_maturity(
    terms: TermDepositTerms, held_share: float, penalty_percent: Decimal, basis: PenaltyBasis
) -> None:
    projection = project_term_deposit(terms)
    days_held = min(int(projection.days * held_share), projection.days - 1)
    closed_on = terms.activated_on + timedelta(days=days_held)
    penalty = PrematureClosurePenalty(rate_percent=penalty_percent, basis=basis)
    quote = premature_closure(terms, closed_on, lock_in=None, penalty=penalty)
    assert 0 <= quote.interest_recalculated <= quote.interest_at_contract_rate
    assert quote.interest_at_contract_rate <= projection.interest
    # Nothing was paid out before the closure here, so compare what the client receives in all. The
    # closure taxes its interest once, maturity taxes each posting: they may round one unit apart each.
    tax_rounding = compile_rounding(terms.rounding, terms.currency).quantum * len(
        projection.interest_detail.periods
    )
    assert terms.principal <= quote.amount_paid + quote.withholding_tax
    assert (
        quote.amount_paid
        <= projection.maturity_amount + projection.interest_paid_out_before_maturity + tax_rounding
    )
    assert projection.interest >= 0


def test_premature_closure_with_withholding_tax() -> None:
    """Until-withdrawal example with 15 % tax: 34,712 recalculated, tax 34,712 x 0.15 = 5,206.80 -> 5,207.
    6,000 tax had been withheld on 40,000 posted: 793 is refunded. Paid 1,000,000 + 34,712 - 5,207."""
    quote = close_on_1_july(
        msgspec.structs.replace(simple_8_percent(), withholding_tax_percent=Decimal(15)),
        ONE_PERCENT_UNTIL_WITHDRAWAL,
        interest_posted_to_date=Decimal(40000),
        withholding_tax_to_date=Decimal(6000),
    )
    assert quote.withholding_tax == Decimal(5207)
    assert quote.withholding_tax_to_refund == Decimal(793)
    assert quote.withholding_tax_to_withhold == 0
    assert quote.amount_paid == Decimal(1_029_505)


def test_premature_closure_at_the_rate_for_the_term_held() -> None:
    """An institution that pays the chart's rate for the term actually held (6 months: 6.5 %) less the
    1 % penalty: 5.5 % x 181 days: 1,000,000 x 5.5 x 181/36,500 = 27,273.97 -> 27,274."""
    quote = close_on_1_july(
        simple_8_percent(), ONE_PERCENT_UNTIL_WITHDRAWAL, rate_for_days_held_percent=Decimal("6.5")
    )
    assert quote.reduced_rate_percent == Decimal("5.5")
    assert quote.interest_recalculated == Decimal(27274)


def monthly_income_deposit() -> TermDepositTerms:
    """1,200,000 XOF at 6 % for 12 months from 1 January 2026, interest posted monthly and paid out."""
    return TermDepositTerms(
        principal=Decimal(1_200_000),
        currency="XOF",
        activated_on=date(2026, 1, 1),
        term=Term(count=12, unit=MONTHS),
        rate_annual_percent=Decimal(6),
        posting=PostingPeriod.MONTHLY,
        interest_paid_out=True,
    )


def test_interest_paid_out_does_not_compound() -> None:
    """Paid out each month, the base stays 1,200,000: January 1,200,000 x 6 x 31/36,500 = 6,115.07 -> 6,115,
    February x 28 days = 5,523.29 -> 5,523, April x 30 days = 5,917.81 -> 5,918. Over 365 days the interest
    is 1,200,000 x 6 % = 72,000 exactly; 65,885 is paid out before maturity and the maturity pays the
    principal and December's 6,115. Left on the deposit (compounding monthly) it would earn 74,013."""
    projection = project_term_deposit(monthly_income_deposit())
    postings = [p.earned_posted for p in projection.interest_detail.periods]
    assert postings[:4] == [Decimal(6115), Decimal(5523), Decimal(6115), Decimal(5918)]
    assert projection.interest == Decimal(72000)
    assert projection.interest_paid_out_before_maturity == Decimal(65885)
    assert projection.maturity_amount == Decimal(1_206_115)
    compounding = project_term_deposit(
        msgspec.structs.replace(monthly_income_deposit(), interest_paid_out=False)
    )
    assert compounding.interest == Decimal(74013)


def test_premature_closure_of_a_monthly_income_deposit_claws_back_from_the_principal() -> None:
    """Closed 1 July after six payouts (6,115 + 5,523 + 6,115 + 5,918 + 6,115 + 5,918 = 35,704). At 5 %
    the same six months earn 1,200,000 x 5 x 181/36,500 = 29,753.42 -> 29,753 (month by month, rounded).
    The 5,951 paid too much is taken from the principal: paid 1,200,000 + 29,753 - 35,704 = 1,194,049."""
    quote = close_on_1_july(
        monthly_income_deposit(),
        ONE_PERCENT_UNTIL_WITHDRAWAL,
        interest_posted_to_date=Decimal(35704),
        interest_paid_out_to_date=Decimal(35704),
    )
    assert quote.interest_at_contract_rate == Decimal(35704)
    assert quote.interest_recalculated == Decimal(29753)
    assert quote.interest_to_claw_back == Decimal(5951)
    assert quote.amount_paid == Decimal(1_194_049)


def test_limits_refuse_empty_multiples() -> None:
    with pytest.raises(ValueError):
        TermDepositLimits(term_multiple=Term(count=0, unit=MONTHS))
    with pytest.raises(ValueError):
        TermDepositLimits(amount_multiple=Decimal(0))
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"term_multiple": {"count": 0, "unit": "months"}}, TermDepositLimits)


def test_frozen_terms_round_trip_through_json() -> None:
    """The servicing layer stores the terms frozen at opening as JSON; they come back equal."""
    terms = monthly_income_deposit()
    assert msgspec.json.decode(msgspec.json.encode(terms), type=TermDepositTerms) == terms
    quote = close_on_1_july(simple_8_percent(), ONE_PERCENT_WHOLE_TERM)
    assert msgspec.json.decode(msgspec.json.encode(quote), type=PrematureClosureQuote) == quote
