"""Term-deposit rate charts and client incentives (seed 004 "tableau des taux").

A chart is valid from a date, optionally until a date, and holds rows ("tranches"): a term
range in a unit (days, weeks, months, years), an optional amount range, and an annual rate.
Incentives say "clients whose attribute <op> value get this rate instead (fixed rate) or on
top (incentive)". Lookup:

1. the charts valid on the date (``valid_from <= date <= valid_until``); when several are,
   the one that started last wins (a new chart supersedes the old without editing it);
2. the first row whose term range and amount range contain the deposit's (bounds inclusive,
   a missing upper bound is open): "1 to 12 months", "13 to 18 months";
3. the chart's incentives, then the row's, in order: if any **fixed** incentive matches, the
   first one that does is the rate ("remplace tout autre taux"); otherwise the base rate
   plus every matching **add** incentive. The rate never goes below zero.

Term ranges are compared in the row's own unit: a deposit of 90 days matched against month
rows counts the whole months between opening and maturity (2 months and some days = 2).
"""

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final

import msgspec

from products.deposits.errors import DepositError, RateNotFound
from products.deposits.limits import RATE_PERCENT_MAX
from products.deposits.term import Term, TermUnit, whole_units_between

_ZERO: Final = Decimal(0)

ClientAttributeValue = str | int | Decimal
"""A client attribute as the chart compares it: text (gender, client type) or a number (age)."""


class IncentiveOperator(StrEnum):
    """Seed 004's four operators: =, ≠, >, <. The last two need numbers on both sides."""

    EQUAL = "equal"
    NOT_EQUAL = "not_equal"
    GREATER_THAN = "greater_than"
    LESS_THAN = "less_than"


class IncentiveKind(StrEnum):
    """Fixed rate replaces the rate; incentive adds to it (may be negative: a malus)."""

    FIXED_RATE = "fixed_rate"
    ADD_TO_RATE = "add_to_rate"


class Incentive(msgspec.Struct, frozen=True, kw_only=True):
    """One rule: if the client's ``attribute`` ``operator`` ``value``, apply ``rate_percent``."""

    attribute: str
    operator: IncentiveOperator
    value: str
    kind: IncentiveKind
    rate_percent: Decimal


class RateSlab(msgspec.Struct, frozen=True, kw_only=True):
    """A chart row: term range (in ``term_unit``), optional amount range, annual rate."""

    term_unit: TermUnit
    term_from: int
    term_to: int | None = None
    amount_from: Decimal | None = None
    amount_to: Decimal | None = None
    rate_annual_percent: Decimal
    description: str = ""
    incentives: tuple[Incentive, ...] = ()


class RateChart(msgspec.Struct, frozen=True, kw_only=True):
    """Rows and incentives valid from ``valid_from`` to ``valid_until`` (inclusive; ``None``: open)."""

    valid_from: date
    valid_until: date | None = None
    slabs: tuple[RateSlab, ...]
    incentives: tuple[Incentive, ...] = ()
    name: str = ""


class RateQuote(msgspec.Struct, frozen=True, kw_only=True):
    """The rate found, with the working: chart row, base rate, incentives that matched."""

    chart_valid_from: date
    slab_description: str
    base_rate_percent: Decimal
    incentives_applied: tuple[Incentive, ...]
    rate_annual_percent: Decimal


def validate_rate_chart(chart: RateChart, field: str = "rate_chart") -> None:
    """Raise `DepositError` naming the field for a chart no lookup can use."""
    if chart.valid_until is not None and chart.valid_until < chart.valid_from:
        raise DepositError(f"{field}.valid_until", "must not be before valid_from")
    if not chart.slabs:
        raise DepositError(f"{field}.slabs", "a chart needs at least one row")
    for index, slab in enumerate(chart.slabs):
        row = f"{field}.slabs[{index}]"
        if slab.term_from < 0 or (slab.term_to is not None and slab.term_to < slab.term_from):
            raise DepositError(f"{row}.term_to", "term range is empty or negative")
        if slab.amount_from is not None and slab.amount_to is not None and slab.amount_to < slab.amount_from:
            raise DepositError(f"{row}.amount_to", "amount range is empty")
        if not 0 <= slab.rate_annual_percent <= RATE_PERCENT_MAX:
            raise DepositError(f"{row}.rate_annual_percent", f"must be between 0 and {RATE_PERCENT_MAX}")
        for position, incentive in enumerate(slab.incentives):
            _validate_incentive(incentive, f"{row}.incentives[{position}]")
    for position, incentive in enumerate(chart.incentives):
        _validate_incentive(incentive, f"{field}.incentives[{position}]")


def _validate_incentive(incentive: Incentive, field: str) -> None:
    ordering = incentive.operator in (IncentiveOperator.GREATER_THAN, IncentiveOperator.LESS_THAN)
    if ordering and _as_number(incentive.value) is None:
        raise DepositError(
            f"{field}.value", f"{incentive.operator.value} needs a number, not {incentive.value!r}"
        )
    if abs(incentive.rate_percent) > RATE_PERCENT_MAX:
        raise DepositError(f"{field}.rate_percent", f"must be within ±{RATE_PERCENT_MAX}")
    if incentive.kind is IncentiveKind.FIXED_RATE and incentive.rate_percent < 0:
        raise DepositError(f"{field}.rate_percent", "a fixed rate must not be negative")


def chart_valid_on(charts: Sequence[RateChart], on: date) -> RateChart:
    """The chart that applies on ``on``: valid that day, the latest ``valid_from`` winning."""
    valid = [c for c in charts if c.valid_from <= on and (c.valid_until is None or on <= c.valid_until)]
    if not valid:
        raise RateNotFound("opened_on", f"no rate chart is valid on {on.isoformat()}")
    return max(valid, key=lambda chart: chart.valid_from)


def find_rate(
    charts: Sequence[RateChart],
    *,
    on: date,
    term: Term,
    amount: Decimal,
    client: Mapping[str, ClientAttributeValue],
) -> RateQuote:
    """Rate for a deposit of ``amount`` for ``term`` opened ``on``, for this client.

    ``client`` holds the attributes incentives test, e.g. ``{"gender": "F", "age": 34,
    "client_type": "individual"}`` (age on the opening date: see `age_on`).
    """
    chart = chart_valid_on(charts, on)
    slab = _slab_for(chart, on, term, amount)
    matching = [i for i in (*chart.incentives, *slab.incentives) if incentive_matches(i, client)]
    fixed = next((i for i in matching if i.kind is IncentiveKind.FIXED_RATE), None)
    if fixed is not None:
        applied: tuple[Incentive, ...] = (fixed,)
        rate = fixed.rate_percent
    else:
        applied = tuple(matching)
        rate = slab.rate_annual_percent + sum((i.rate_percent for i in applied), _ZERO)
    return RateQuote(
        chart_valid_from=chart.valid_from,
        slab_description=slab.description,
        base_rate_percent=slab.rate_annual_percent,
        incentives_applied=applied,
        rate_annual_percent=max(rate, _ZERO),
    )


def _slab_for(chart: RateChart, opened_on: date, term: Term, amount: Decimal) -> RateSlab:
    for slab in chart.slabs:
        length = whole_units_between(opened_on, term, slab.term_unit)
        if length < slab.term_from or (slab.term_to is not None and length > slab.term_to):
            continue
        if slab.amount_from is not None and amount < slab.amount_from:
            continue
        if slab.amount_to is not None and amount > slab.amount_to:
            continue
        return slab
    raise RateNotFound(
        "term", f"the chart valid from {chart.valid_from} has no row for {term} and amount {amount}"
    )


def incentive_matches(incentive: Incentive, client: Mapping[str, ClientAttributeValue]) -> bool:
    """Whether the client's attribute satisfies the rule; a missing attribute never matches.

    Numbers compare as numbers (``age > 60``); text compares case-insensitively for = and ≠.
    """
    if incentive.attribute not in client:
        return False
    actual = client[incentive.attribute]
    actual_number = actual if isinstance(actual, Decimal | int) else _as_number(actual)
    expected_number = _as_number(incentive.value)
    if actual_number is not None and expected_number is not None:
        difference = Decimal(actual_number) - expected_number
        return {
            IncentiveOperator.EQUAL: difference == 0,
            IncentiveOperator.NOT_EQUAL: difference != 0,
            IncentiveOperator.GREATER_THAN: difference > 0,
            IncentiveOperator.LESS_THAN: difference < 0,
        }[incentive.operator]
    if incentive.operator is IncentiveOperator.EQUAL:
        return str(actual).casefold() == incentive.value.casefold()
    if incentive.operator is IncentiveOperator.NOT_EQUAL:
        return str(actual).casefold() != incentive.value.casefold()
    return False  # ordering between texts is refused by validation; a text attribute never matches


def _as_number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def age_on(birth_date: date, on: date) -> int:
    """Age in whole years on ``on`` (a birthday on 29 February counts on 1 March in other years)."""
    had_birthday = (on.month, on.day) >= (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (0 if had_birthday else 1)
