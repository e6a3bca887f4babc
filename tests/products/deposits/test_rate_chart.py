"""Rate charts and incentives (seed 004), hand-checked."""

from datetime import date
from decimal import Decimal

import pytest

from products.deposits import (
    DepositError,
    Incentive,
    IncentiveKind,
    IncentiveOperator,
    RateChart,
    RateNotFound,
    RateSlab,
    Term,
    TermUnit,
    age_on,
    find_rate,
    validate_rate_chart,
)

MONTHS = TermUnit.MONTHS
TWELVE_MONTHS = Term(count=12, unit=MONTHS)

CHART_2025 = RateChart(
    valid_from=date(2025, 1, 1),
    valid_until=date(2025, 12, 31),
    slabs=(
        RateSlab(
            term_unit=MONTHS,
            term_from=1,
            term_to=12,
            rate_annual_percent=Decimal(8),
            description="1-12 mois : 8%",
        ),
        RateSlab(
            term_unit=MONTHS,
            term_from=13,
            term_to=18,
            rate_annual_percent=Decimal("8.5"),
            description="13-18 mois : 8,5%",
        ),
    ),
)
CHART_2026 = RateChart(
    valid_from=date(2026, 1, 1),
    slabs=(
        RateSlab(
            term_unit=MONTHS,
            term_from=1,
            term_to=12,
            amount_to=Decimal(4_999_999),
            rate_annual_percent=Decimal(7),
            description="1-12 mois, moins de 5 M : 7%",
        ),
        RateSlab(
            term_unit=MONTHS,
            term_from=1,
            term_to=12,
            amount_from=Decimal(5_000_000),
            rate_annual_percent=Decimal("7.5"),
            description="1-12 mois, 5 M et plus : 7,5%",
        ),
        RateSlab(
            term_unit=MONTHS,
            term_from=13,
            term_to=36,
            rate_annual_percent=Decimal(8),
            description="13-36 mois : 8%",
        ),
    ),
    incentives=(
        Incentive(
            attribute="gender",
            operator=IncentiveOperator.EQUAL,
            value="F",
            kind=IncentiveKind.ADD_TO_RATE,
            rate_percent=Decimal("0.5"),
        ),
        Incentive(
            attribute="age",
            operator=IncentiveOperator.GREATER_THAN,
            value="60",
            kind=IncentiveKind.FIXED_RATE,
            rate_percent=Decimal(9),
        ),
        Incentive(
            attribute="client_type",
            operator=IncentiveOperator.NOT_EQUAL,
            value="individual",
            kind=IncentiveKind.ADD_TO_RATE,
            rate_percent=Decimal("-0.25"),
        ),
        Incentive(
            attribute="age",
            operator=IncentiveOperator.LESS_THAN,
            value="25",
            kind=IncentiveKind.ADD_TO_RATE,
            rate_percent=Decimal("0.25"),
        ),
    ),
)
CHARTS = (CHART_2025, CHART_2026)


def rate(on: date, term: Term, amount: int, **client: str | int) -> Decimal:
    return find_rate(CHARTS, on=on, term=term, amount=Decimal(amount), client=client).rate_annual_percent


def test_two_validity_periods_and_term_ranges() -> None:
    """2025 chart: 12 months 8 %, 15 months 8.5 %. 2026 chart: 12 months under 5 M 7 %, from 5 M 7.5 %, 15 months 8 %."""
    assert rate(date(2025, 6, 1), TWELVE_MONTHS, 1_000_000) == Decimal(8)
    assert rate(date(2025, 12, 31), Term(count=15, unit=MONTHS), 1_000_000) == Decimal("8.5")
    assert rate(date(2026, 2, 1), TWELVE_MONTHS, 1_000_000) == Decimal(7)
    assert rate(date(2026, 2, 1), TWELVE_MONTHS, 4_999_999) == Decimal(7)
    assert rate(date(2026, 2, 1), TWELVE_MONTHS, 5_000_000) == Decimal("7.5")
    assert rate(date(2026, 2, 1), Term(count=15, unit=MONTHS), 1_000_000) == Decimal(8)


def test_terms_in_days_match_month_rows_by_whole_months() -> None:
    """365 days from 1 February 2026 end on 1 February 2027: 12 whole months, the 1-12 row (7 %);
    400 days: 13 whole months, the 13-36 row (8 %)."""
    assert rate(date(2026, 2, 1), Term(count=365, unit=TermUnit.DAYS), 1_000_000) == Decimal(7)
    assert rate(date(2026, 2, 1), Term(count=400, unit=TermUnit.DAYS), 1_000_000) == Decimal(8)


def test_womens_incentive_is_added() -> None:
    """Woman, 40, individual, 12 months, 1 M in 2026: 7 % + 0.5 % = 7.5 %."""
    quote = find_rate(
        CHARTS,
        on=date(2026, 2, 1),
        term=TWELVE_MONTHS,
        amount=Decimal(1_000_000),
        client={"gender": "F", "age": 40, "client_type": "individual"},
    )
    assert quote.base_rate_percent == Decimal(7)
    assert quote.slab_description == "1-12 mois, moins de 5 M : 7%"
    assert quote.chart_valid_from == date(2026, 1, 1)
    assert quote.rate_annual_percent == Decimal("7.5")
    assert [i.attribute for i in quote.incentives_applied] == ["gender"]


def test_age_incentive_replaces_every_other_rate() -> None:
    """Woman aged 65: the fixed 9 % for over-60s replaces the base rate and the women's 0.5 %."""
    quote = find_rate(
        CHARTS,
        on=date(2026, 2, 1),
        term=TWELVE_MONTHS,
        amount=Decimal(1_000_000),
        client={"gender": "F", "age": 65, "client_type": "individual"},
    )
    assert quote.rate_annual_percent == Decimal(9)
    assert [i.kind for i in quote.incentives_applied] == [IncentiveKind.FIXED_RATE]


def test_not_equal_and_less_than() -> None:
    """A business (≠ individual: -0.25 %) -> 6.75 %; a man of 22 (< 25: +0.25 %) -> 7.25 %;
    "f" matches "F" (case-insensitive); a client without the attribute matches nothing."""
    assert rate(date(2026, 2, 1), TWELVE_MONTHS, 1_000_000, client_type="business") == Decimal("6.75")
    assert rate(
        date(2026, 2, 1), TWELVE_MONTHS, 1_000_000, gender="M", age=22, client_type="individual"
    ) == Decimal("7.25")
    assert rate(date(2026, 2, 1), TWELVE_MONTHS, 1_000_000, gender="f", client_type="individual") == Decimal(
        "7.5"
    )
    assert rate(date(2026, 2, 1), TWELVE_MONTHS, 1_000_000) == Decimal(7)


def test_slab_incentives_apply_after_the_charts() -> None:
    chart = RateChart(
        valid_from=date(2026, 1, 1),
        slabs=(
            RateSlab(
                term_unit=MONTHS,
                term_from=1,
                rate_annual_percent=Decimal(6),
                incentives=(
                    Incentive(
                        attribute="segment",
                        operator=IncentiveOperator.EQUAL,
                        value="VIP",
                        kind=IncentiveKind.ADD_TO_RATE,
                        rate_percent=Decimal(1),
                    ),
                ),
            ),
        ),
    )
    quote = find_rate(
        (chart,), on=date(2026, 5, 1), term=TWELVE_MONTHS, amount=Decimal(1), client={"segment": "VIP"}
    )
    assert quote.rate_annual_percent == Decimal(7)


def test_newest_chart_wins_when_two_are_valid() -> None:
    newer = RateChart(
        valid_from=date(2026, 6, 1),
        slabs=(RateSlab(term_unit=MONTHS, term_from=1, rate_annual_percent=Decimal(6)),),
    )
    assert find_rate(
        (*CHARTS, newer), on=date(2026, 6, 1), term=TWELVE_MONTHS, amount=Decimal(1), client={}
    ).rate_annual_percent == Decimal(6)
    assert find_rate(
        (*CHARTS, newer), on=date(2026, 5, 31), term=TWELVE_MONTHS, amount=Decimal(1), client={}
    ).rate_annual_percent == Decimal(7)


def test_no_chart_or_no_row() -> None:
    with pytest.raises(RateNotFound) as raised:
        rate(date(2024, 12, 31), TWELVE_MONTHS, 1_000_000)
    assert raised.value.field == "opened_on"
    with pytest.raises(RateNotFound) as raised:
        rate(date(2026, 2, 1), Term(count=40, unit=MONTHS), 1_000_000)
    assert raised.value.field == "term"


@pytest.mark.parametrize(
    ("chart", "field"),
    [
        (
            RateChart(valid_from=date(2026, 1, 1), valid_until=date(2025, 1, 1), slabs=CHART_2025.slabs),
            "rate_chart.valid_until",
        ),
        (RateChart(valid_from=date(2026, 1, 1), slabs=()), "rate_chart.slabs"),
        (
            RateChart(
                valid_from=date(2026, 1, 1),
                slabs=(RateSlab(term_unit=MONTHS, term_from=13, term_to=12, rate_annual_percent=Decimal(1)),),
            ),
            "rate_chart.slabs[0].term_to",
        ),
        (
            RateChart(
                valid_from=date(2026, 1, 1),
                slabs=CHART_2025.slabs,
                incentives=(
                    Incentive(
                        attribute="gender",
                        operator=IncentiveOperator.GREATER_THAN,
                        value="F",
                        kind=IncentiveKind.ADD_TO_RATE,
                        rate_percent=Decimal(1),
                    ),
                ),
            ),
            "rate_chart.incentives[0].value",
        ),
    ],
)
def test_invalid_charts_name_the_field(chart: RateChart, field: str) -> None:
    with pytest.raises(DepositError) as raised:
        validate_rate_chart(chart)
    assert raised.value.field == field
    validate_rate_chart(CHART_2026)


def test_age_on() -> None:
    assert age_on(date(1966, 2, 1), date(2026, 2, 1)) == 60
    assert age_on(date(1966, 2, 2), date(2026, 2, 1)) == 59
    assert age_on(date(2000, 2, 29), date(2026, 2, 28)) == 25
    assert age_on(date(2000, 2, 29), date(2026, 3, 1)) == 26
