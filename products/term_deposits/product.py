"""A term-deposit product: every P2 setting of seed 004, its rate charts and the incentives
by client attribute, and the pure rate lookup an account opening uses.

A rate chart is valid between two dates; its slabs give a rate for a term range (in the
slab's unit) and, optionally, an amount range. Each slab may carry incentives: a condition
on a client attribute ("gender = female", "age > 60") and either a fixed rate that replaces
the rate found so far or an incentive that adds to it (seed 004: "8 % de base + 2 % = 10 %").
Incentives apply in the order listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.accounting import ProductAccounting
from products.catalogue.common import (
    AMOUNT_MAX,
    PERCENT_MAX,
    SHARE_PERCENT_MAX,
    AmountRange,
    Checker,
    Problem,
    ProductIdentity,
)
from products.deposits.interest_settings import InterestSettings, check_interest_settings
from products.errors import ProductError
from products.posting_rules import AccountingRule

RATE_CHARTS_MAX: Final = 20
SLABS_MAX: Final = 100
INCENTIVES_MAX: Final = 20
TERM_COUNT_MAX: Final = 600
ATTRIBUTE_VALUE_LENGTH_MAX: Final = 50
_DAYS_PER_YEAR: Final = Decimal("365.25")


class TermUnit(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


_UNIT_DAYS: Final = {TermUnit.DAYS: Decimal(1), TermUnit.WEEKS: Decimal(7),
                     TermUnit.MONTHS: _DAYS_PER_YEAR / 12, TermUnit.YEARS: _DAYS_PER_YEAR}
"""Lengths in different units compare through days, a month being a twelfth of 365.25 days,
so 12 months and 1 year are equal."""


class TermLength(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    count: int
    unit: TermUnit = TermUnit.MONTHS

    def days(self) -> Decimal:
        return self.count * _UNIT_DAYS[self.unit]

    def in_unit(self, unit: TermUnit) -> Decimal:
        """This length expressed in another unit (exact when the units are the same)."""
        if unit is self.unit:
            return Decimal(self.count)
        return self.days() / _UNIT_DAYS[unit]


class PenaltyBasis(StrEnum):
    """Seed 004: on the whole term agreed ("durée initiale") or up to the withdrawal date."""

    WHOLE_TERM = "whole_term"
    UNTIL_WITHDRAWAL = "until_withdrawal"


class PrematureClosurePenalty(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A rate (percent) deducted from the interest rate on premature closure."""

    rate_percent: Decimal
    basis: PenaltyBasis = PenaltyBasis.WHOLE_TERM


class MaturityInstruction(StrEnum):
    WITHDRAW = "withdraw"
    TRANSFER_TO_SAVINGS = "transfer_to_savings"
    RENEW_PRINCIPAL = "renew_principal"
    RENEW_PRINCIPAL_AND_INTEREST = "renew_principal_and_interest"


class ClientAttribute(StrEnum):
    GENDER = "gender"
    AGE = "age"
    CLIENT_TYPE = "client_type"
    CLIENT_CLASSIFICATION = "client_classification"
    OFFICE = "office"


NUMERIC_ATTRIBUTES: Final = frozenset({ClientAttribute.AGE})


class Operator(StrEnum):
    EQUAL = "eq"
    NOT_EQUAL = "ne"
    GREATER_THAN = "gt"
    LESS_THAN = "lt"


class IncentiveKind(StrEnum):
    """``fixed`` replaces the rate found so far; ``incentive`` adds to it (may be negative)."""

    FIXED = "fixed"
    INCENTIVE = "incentive"


class Incentive(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    attribute: ClientAttribute
    operator: Operator
    value: str
    kind: IncentiveKind
    rate_percent: Decimal


class RateSlab(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A chart row: term range [term_from, term_to] in ``term_unit`` and an optional amount
    range [amount_from, amount_to]; open ends are ``None``."""

    term_unit: TermUnit = TermUnit.MONTHS
    term_from: int
    term_to: int | None = None
    amount_from: Decimal | None = None
    amount_to: Decimal | None = None
    rate_percent: Decimal
    description: str = ""
    incentives: tuple[Incentive, ...] = ()

    def holds(self, term: TermLength, amount: Decimal) -> bool:
        length = term.in_unit(self.term_unit)
        return (length >= self.term_from and (self.term_to is None or length <= self.term_to)
                and (self.amount_from is None or amount >= self.amount_from)
                and (self.amount_to is None or amount <= self.amount_to))


class RateChart(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    valid_from: date
    valid_to: date | None = None
    name: str = ""
    description: str = ""
    slabs: tuple[RateSlab, ...]

    def valid_on(self, on: date) -> bool:
        return self.valid_from <= on and (self.valid_to is None or on <= self.valid_to)


class TermDepositProduct(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    identity: ProductIdentity
    currency: str
    decimals: int | None = None
    in_multiples_of: Decimal | None = None
    deposit_amount: AmountRange
    interest: InterestSettings = InterestSettings()
    lock_in: TermLength | None = None
    term_min: TermLength
    term_max: TermLength | None = None
    term_multiple: TermLength | None = None
    premature_closure_penalty: PrematureClosurePenalty | None = None
    maturity_instructions: tuple[MaturityInstruction, ...] = (MaturityInstruction.WITHDRAW,)
    rate_charts: tuple[RateChart, ...]
    charge_ids: tuple[int, ...] = ()
    accounting: ProductAccounting = msgspec.field(default_factory=ProductAccounting)

    def referenced_charge_ids(self) -> frozenset[int]:
        return frozenset(self.charge_ids)


class RateQuote(msgspec.Struct, frozen=True, kw_only=True):
    """The rate for one deposit and how it was found (chart, slab, incentives applied)."""

    rate_percent: Decimal
    base_rate_percent: Decimal
    chart_index: int
    slab_index: int
    incentives_applied: tuple[int, ...]


# --------------------------------------------------------------------------- validation

def validate_term_deposit_product(product: TermDepositProduct) -> list[Problem]:
    check = Checker()
    check.identity(product.identity)
    places = check.currency("currency", product.currency, product.decimals, product.in_multiples_of)
    check.amount_range("deposit_amount", product.deposit_amount, places=places, positive=True)
    check_interest_settings(check, "interest", product.interest)
    for name in ("lock_in", "term_min", "term_max", "term_multiple"):
        length = getattr(product, name)
        if length is not None:
            check.count(f"{name}.count", length.count, minimum=0 if name == "lock_in" else 1, maximum=TERM_COUNT_MAX)
    if product.term_max is not None and product.term_max.days() < product.term_min.days():
        check.add("term_max", "must be at least term_min")
    if product.lock_in is not None:
        longest = product.term_max.days() if product.term_max is not None else None
        if longest is not None and product.lock_in.days() > longest:
            check.add("lock_in", "cannot be longer than term_max")
    counts_valid = all(t is None or 0 <= t.count <= TERM_COUNT_MAX for t in (
        product.lock_in, product.term_min, product.term_max, product.term_multiple))
    if counts_valid and product.term_multiple is not None and product.term_max is not None \
            and product.term_multiple.count > 0:
        span = product.term_max.in_unit(product.term_multiple.unit) - product.term_min.in_unit(
            product.term_multiple.unit)
        if span % product.term_multiple.count != 0:
            check.add("term_multiple", "term_max must be term_min plus a whole number of term_multiple")
    if product.premature_closure_penalty is not None:
        check.decimal("premature_closure_penalty.rate_percent", product.premature_closure_penalty.rate_percent,
                      positive=True, maximum=SHARE_PERCENT_MAX)
    if not product.maturity_instructions:
        check.add("maturity_instructions", "allow at least one instruction at maturity")
    if len(set(product.maturity_instructions)) != len(product.maturity_instructions):
        check.add("maturity_instructions", "names an instruction twice")
    _check_charts(check, product.rate_charts, places)
    check.charges("charge_ids", product.charge_ids)
    if product.accounting.rule is AccountingRule.ACCRUAL_UPFRONT:
        check.add("accounting.rule", "term-deposit products use none, cash or accrual_periodic accounting")
    check.accounting(product.accounting)
    return check.problems


def _check_charts(check: Checker, charts: tuple[RateChart, ...], places: int) -> None:
    if not charts:
        check.add("rate_charts", "a term-deposit product needs at least one rate chart")
    if len(charts) > RATE_CHARTS_MAX:
        check.add("rate_charts", f"at most {RATE_CHARTS_MAX} charts")
        return
    for index, chart in enumerate(charts):
        field = f"rate_charts[{index}]"
        check.day(f"{field}.valid_from", chart.valid_from)
        check.day(f"{field}.valid_to", chart.valid_to)
        check.ordered(f"{field}.valid_from", chart.valid_from, f"{field}.valid_to", chart.valid_to)
        check.text(f"{field}.name", chart.name, length_max=100, required=False)
        check.text(f"{field}.description", chart.description, length_max=1000, required=False)
        for other_index in range(index):
            other = charts[other_index]
            if _periods_overlap(chart, other):
                check.add(f"{field}.valid_from", f"overlaps the validity of rate_charts[{other_index}]")
        if not chart.slabs:
            check.add(f"{field}.slabs", "a chart has at least one slab")
        if len(chart.slabs) > SLABS_MAX:
            check.add(f"{field}.slabs", f"at most {SLABS_MAX} slabs")
            continue
        finite = True
        for slab_index, slab in enumerate(chart.slabs):
            finite = _check_slab(check, f"{field}.slabs[{slab_index}]", slab, places) and finite
        if not finite:
            continue
        for slab_index, slab in enumerate(chart.slabs):
            for other_index in range(slab_index):
                if _slabs_overlap(slab, chart.slabs[other_index]):
                    check.add(f"{field}.slabs[{slab_index}]",
                              f"overlaps slabs[{other_index}] (same terms and amounts)")


def _check_slab(check: Checker, field: str, slab: RateSlab, places: int) -> bool:
    check.count(f"{field}.term_from", slab.term_from, minimum=0, maximum=TERM_COUNT_MAX)
    check.count(f"{field}.term_to", slab.term_to, minimum=0, maximum=TERM_COUNT_MAX)
    check.ordered(f"{field}.term_from", slab.term_from, f"{field}.term_to", slab.term_to)
    finite = check.decimal(f"{field}.amount_from", slab.amount_from, places=places)
    finite = check.decimal(f"{field}.amount_to", slab.amount_to, places=places) and finite
    check.ordered(f"{field}.amount_from", slab.amount_from, f"{field}.amount_to", slab.amount_to)
    check.decimal(f"{field}.rate_percent", slab.rate_percent, maximum=PERCENT_MAX)
    check.text(f"{field}.description", slab.description, length_max=200, required=False)
    if len(slab.incentives) > INCENTIVES_MAX:
        check.add(f"{field}.incentives", f"at most {INCENTIVES_MAX} incentives")
    for index, incentive in enumerate(slab.incentives):
        sub = f"{field}.incentives[{index}]"
        check.text(f"{sub}.value", incentive.value, length_max=ATTRIBUTE_VALUE_LENGTH_MAX)
        if incentive.attribute in NUMERIC_ATTRIBUTES:
            if not _is_whole_number(incentive.value):
                check.add(f"{sub}.value", f"{incentive.attribute.value} is compared with a whole number")
        elif incentive.operator in (Operator.GREATER_THAN, Operator.LESS_THAN):
            check.add(f"{sub}.operator", f"{incentive.attribute.value} is compared with eq or ne only")
        lowest = -PERCENT_MAX if incentive.kind is IncentiveKind.INCENTIVE else Decimal(0)
        check.decimal(f"{sub}.rate_percent", incentive.rate_percent, minimum=lowest, maximum=PERCENT_MAX)
    return finite


def _is_whole_number(text: str) -> bool:
    value = text.strip()
    return value.isascii() and value.isdigit() and len(value) <= 6


def _periods_overlap(a: RateChart, b: RateChart) -> bool:
    a_end = a.valid_to or date.max
    b_end = b.valid_to or date.max
    return a.valid_from <= b_end and b.valid_from <= a_end


def _slabs_overlap(a: RateSlab, b: RateSlab) -> bool:
    a_low, b_low = TermLength(count=a.term_from, unit=a.term_unit).days(), TermLength(
        count=b.term_from, unit=b.term_unit).days()
    a_high = TermLength(count=a.term_to, unit=a.term_unit).days() if a.term_to is not None else None
    b_high = TermLength(count=b.term_to, unit=b.term_unit).days() if b.term_to is not None else None
    terms = (b_high is None or a_low <= b_high) and (a_high is None or b_low <= a_high)
    amounts = ((b.amount_to is None or a.amount_from is None or a.amount_from <= b.amount_to)
               and (a.amount_to is None or b.amount_from is None or b.amount_from <= a.amount_to))
    return terms and amounts


# --------------------------------------------------------------------------- rate lookup

def incentive_matches(incentive: Incentive, client: Mapping[ClientAttribute, str]) -> bool:
    """Whether the client's attribute meets the incentive's condition; an unknown attribute
    meets none (an incentive never applies on a guess)."""
    actual = client.get(incentive.attribute)
    if actual is None:
        return False
    if incentive.attribute in NUMERIC_ATTRIBUTES:
        if not _is_whole_number(actual):
            return False
        left, right = int(actual), int(incentive.value)
        return {Operator.EQUAL: left == right, Operator.NOT_EQUAL: left != right,
                Operator.GREATER_THAN: left > right, Operator.LESS_THAN: left < right}[incentive.operator]
    same = actual.strip().casefold() == incentive.value.strip().casefold()
    if incentive.operator is Operator.EQUAL:
        return same
    if incentive.operator is Operator.NOT_EQUAL:
        return not same
    return False


def term_deposit_rate(product: TermDepositProduct, *, on: date, term: TermLength, amount: Decimal,
                      client: Mapping[ClientAttribute, str]) -> RateQuote:
    """The nominal annual rate for a deposit of ``amount`` for ``term`` opened ``on``.

    Pure. Raises `ProductError` naming the field when no chart is valid that day or no slab
    holds the term and amount. The rate never goes below zero.
    """
    for chart_index, chart in enumerate(product.rate_charts):
        if not chart.valid_on(on):
            continue
        for slab_index, slab in enumerate(chart.slabs):
            if not slab.holds(term, amount):
                continue
            rate = slab.rate_percent
            applied: list[int] = []
            for index, incentive in enumerate(slab.incentives):
                if incentive_matches(incentive, client):
                    applied.append(index)
                    rate = incentive.rate_percent if incentive.kind is IncentiveKind.FIXED else rate + incentive.rate_percent
            return RateQuote(rate_percent=max(rate, Decimal(0)), base_rate_percent=slab.rate_percent,
                             chart_index=chart_index, slab_index=slab_index, incentives_applied=tuple(applied))
        raise ProductError("term", f"no slab of rate_charts[{chart_index}] holds {term.count} {term.unit.value} "
                                   f"and {amount} {product.currency}")
    raise ProductError("opened_on", f"no rate chart is valid on {on.isoformat()}")


def check_deposit_terms(product: TermDepositProduct, *, term: TermLength, amount: Decimal) -> None:
    """An account's amount and term within the product's bounds and multiples."""
    deposit = product.deposit_amount
    if not amount.is_finite() or not deposit.contains(amount) or not 0 < amount <= AMOUNT_MAX:
        raise ProductError("deposit_amount", f"must be between {deposit.minimum} and {deposit.maximum}")
    if product.in_multiples_of is not None and amount % product.in_multiples_of != 0:
        raise ProductError("deposit_amount", f"must be a multiple of {product.in_multiples_of}")
    if term.days() < product.term_min.days():
        raise ProductError("term", f"must be at least {product.term_min.count} {product.term_min.unit.value}")
    if product.term_max is not None and term.days() > product.term_max.days():
        raise ProductError("term", f"must be at most {product.term_max.count} {product.term_max.unit.value}")
    if product.term_multiple is not None and product.term_multiple.count > 0:
        beyond = term.in_unit(product.term_multiple.unit) - product.term_min.in_unit(product.term_multiple.unit)
        if beyond % product.term_multiple.count != 0:
            raise ProductError("term", f"must be term_min plus a multiple of {product.term_multiple.count} "
                                       f"{product.term_multiple.unit.value}")
