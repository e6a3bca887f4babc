"""TEG (taux effectif global, APR): the rate that equates what the borrower receives with
what the borrower pays, and the usury check.

Cash flows, in the lender's view: each disbursement net of the upfront fees counted in the
TEG goes out; each instalment's principal, interest and counted fees come in. Taxes (VAT,
and fees of kind ``tax``) are left out, as the UEMOA usury law of 2013 excludes them; every
other fee, commission, insurance, guarantee and intermediary cost is counted.

Time is measured in repayment periods from the disbursement: whole periods, then leftover
days as a share of the period (`calendar.periods_elapsed`). The period rate ``r`` solves
``sum(flow / (1 + r) ** t) = 0`` (safeguarded Newton in Decimal). Regulators differ on the
annual figure, so both are returned:

* proportional: ``r x periods per year`` (the French TEG before 2016, and the rate most
  MFIs print next to a monthly rate);
* actuarial (effective): ``(1 + r) ** periods per year - 1``, the EU APR.

Whether the UMOA TEG is proportional or actuarial is not settled in our sources, so the
usury check takes the method as a parameter; the actuarial rate is never lower, so it is
the cautious default.
"""

import decimal
from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from products.loans.calendar import periods_elapsed
from products.loans.errors import TermsError
from products.loans.interest import days_in_year_number
from products.loans.limits import APR_ITERATIONS_MAX, APR_PERIOD_RATE_MAX
from products.loans.model import Schedule
from products.loans.schedule import SCHEDULE_CONTEXT
from products.loans.terms import FeeKind, LoanTerms, RepaymentFrequencyUnit

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_HUNDRED: Final = Decimal(100)
_RATE_TOLERANCE: Final = Decimal("1E-20")
_PERCENT_QUANTUM: Final = Decimal("0.0001")
"""TEGs are reported in percent with four decimals (12.6825 %)."""

INTEREST_COMPONENT: Final = "interest"
VAT_COMPONENT: Final = "vat"


class AprMethod(StrEnum):
    """Which annual figure a regulator compares with its usury cap."""

    ACTUARIAL = "actuarial"
    PROPORTIONAL = "proportional"


class AprComponent(msgspec.Struct, frozen=True, kw_only=True):
    """One cost of the credit and whether the TEG counts it."""

    name: str
    kind: str
    amount: Decimal
    counted: bool


class Apr(msgspec.Struct, frozen=True, kw_only=True):
    """The TEG of a schedule, in percent, with the costs it counts."""

    period_rate_percent: Decimal
    periods_per_year: Decimal
    proportional_annual_percent: Decimal
    actuarial_annual_percent: Decimal
    counted_cost_amount: Decimal
    components: tuple[AprComponent, ...]

    def annual_percent(self, method: AprMethod) -> Decimal:
        if method is AprMethod.ACTUARIAL:
            return self.actuarial_annual_percent
        return self.proportional_annual_percent


class UsuryCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The TEG compared with the institution's usury cap (24 % a year for UEMOA SFDs)."""

    method: AprMethod
    cap_annual_percent: Decimal
    apr_annual_percent: Decimal
    exceeds_cap: bool


def periods_per_year(terms: LoanTerms) -> Decimal:
    """Repayment periods in a year, consistent with `interest.nominal_period_rate`."""
    every = Decimal(terms.repayment_every)
    unit = terms.repayment_frequency_unit
    if unit is RepaymentFrequencyUnit.MONTHS:
        return 12 / every
    if unit is RepaymentFrequencyUnit.YEARS:
        return 1 / every
    if unit is RepaymentFrequencyUnit.WEEKS:
        return terms.weeks_in_year / every
    return days_in_year_number(terms.days_in_year) / every


def compute_apr(terms: LoanTerms, schedule: Schedule) -> Apr:
    """The TEG of ``schedule`` (generated from ``terms``)."""
    with decimal.localcontext(SCHEDULE_CONTEXT):
        return _compute_apr(terms, schedule)


def check_usury(apr: Apr, *, cap_annual_percent: Decimal, method: AprMethod) -> UsuryCheck:
    """Compare the TEG, as reported (four decimals), with the cap."""
    assert cap_annual_percent.is_finite(), cap_annual_percent
    assert cap_annual_percent >= 0, cap_annual_percent
    annual_percent = apr.annual_percent(method)
    return UsuryCheck(
        method=method,
        cap_annual_percent=cap_annual_percent,
        apr_annual_percent=annual_percent,
        exceeds_cap=annual_percent > cap_annual_percent,
    )


def _counted(kind: FeeKind) -> bool:
    return kind is not FeeKind.TAX


def _compute_apr(terms: LoanTerms, schedule: Schedule) -> Apr:
    counted_fees_by_instalment: dict[int, Decimal] = {}
    for charge in schedule.fee_charges:
        if _counted(charge.kind):
            number = charge.instalment_number
            counted_fees_by_instalment[number] = counted_fees_by_instalment.get(number, _ZERO) + charge.amount
    start = terms.disbursement_date
    every = terms.repayment_every
    unit = terms.repayment_frequency_unit
    dim = terms.days_in_month
    times: list[Decimal] = []
    flows: list[Decimal] = []
    for index, disbursement in enumerate(schedule.disbursements):
        upfront = counted_fees_by_instalment.get(0, _ZERO) if index == 0 else _ZERO
        times.append(periods_elapsed(start, disbursement.disbursement_date, every, unit, dim))
        flows.append(upfront - disbursement.amount)
    if flows[0] >= 0:
        raise TermsError("fees", "upfront fees take the whole first disbursement: the TEG is undefined")
    for row in schedule.instalments:
        times.append(periods_elapsed(start, row.due_date, every, unit, dim))
        flows.append(
            row.principal_amount + row.interest_amount + counted_fees_by_instalment.get(row.number, _ZERO)
        )
    period_rate = solve_period_rate(times, flows)
    per_year = periods_per_year(terms)
    proportional = period_rate * per_year * _HUNDRED
    actuarial = ((_ONE + period_rate) ** per_year - _ONE) * _HUNDRED
    components = _components(schedule)
    return Apr(
        period_rate_percent=(period_rate * _HUNDRED).quantize(_PERCENT_QUANTUM),
        periods_per_year=per_year.normalize(),
        proportional_annual_percent=proportional.quantize(_PERCENT_QUANTUM),
        actuarial_annual_percent=actuarial.quantize(_PERCENT_QUANTUM),
        counted_cost_amount=sum((component.amount for component in components if component.counted), _ZERO),
        components=components,
    )


def _components(schedule: Schedule) -> tuple[AprComponent, ...]:
    """Interest, each fee (summed by name and kind), then VAT: what the TEG counts and not."""
    components = [
        AprComponent(
            name=INTEREST_COMPONENT,
            kind=INTEREST_COMPONENT,
            amount=schedule.totals.interest_amount,
            counted=True,
        )
    ]
    fee_totals: dict[tuple[str, FeeKind], Decimal] = {}
    for charge in schedule.fee_charges:
        key = (charge.name, charge.kind)
        fee_totals[key] = fee_totals.get(key, _ZERO) + charge.amount
    components.extend(
        AprComponent(name=name, kind=kind.value, amount=amount, counted=_counted(kind))
        for (name, kind), amount in fee_totals.items()
    )
    components.append(
        AprComponent(name=VAT_COMPONENT, kind=VAT_COMPONENT, amount=schedule.totals.vat_amount, counted=False)
    )
    return tuple(components)


def solve_period_rate(times: Sequence[Decimal], flows: Sequence[Decimal]) -> Decimal:
    """The rate r with ``sum(flows[k] / (1 + r) ** times[k]) == 0``.

    The flows start with money lent (negative) and continue with repayments, so the
    present value decreases in r and has at most one root in (-1, APR_PERIOD_RATE_MAX].
    Newton steps are kept inside a bracket that shrinks each iteration, so the search
    cannot diverge; it stops at APR_ITERATIONS_MAX iterations in any case.
    """
    assert len(times) == len(flows), (len(times), len(flows))
    assert flows[0] < 0, flows[0]
    low = Decimal("-0.999999")
    high = APR_PERIOD_RATE_MAX
    if _present_value(times, flows, high)[0] > 0:
        raise TermsError("fees", "the cost of credit is beyond any rate the TEG can express")
    if _present_value(times, flows, low)[0] < 0:
        raise TermsError("fees", "repayments are below the amount lent: the TEG is undefined")
    rate = _ZERO
    for _ in range(APR_ITERATIONS_MAX):
        value, slope = _present_value(times, flows, rate)
        if value == 0:
            return rate
        if value > 0:
            low = rate
        else:
            high = rate
        step_rate = rate - value / slope if slope < 0 else (low + high) / 2
        if not low < step_rate < high:
            step_rate = (low + high) / 2  # Newton left the bracket: bisect instead
        if abs(step_rate - rate) < _RATE_TOLERANCE:
            return step_rate
        rate = step_rate
    raise AssertionError(f"TEG did not converge in {APR_ITERATIONS_MAX} iterations")


def _present_value(
    times: Sequence[Decimal], flows: Sequence[Decimal], rate: Decimal
) -> tuple[Decimal, Decimal]:
    """Present value of the flows at ``rate`` and its derivative with respect to ``rate``."""
    growth = _ONE + rate
    discount = _ONE / growth
    fraction_powers: dict[Decimal, Decimal] = {}
    value = _ZERO
    slope = _ZERO
    for time, flow in zip(times, flows, strict=True):
        whole = int(time)
        fraction = time - whole
        factor = discount**whole
        if fraction:
            power = fraction_powers.get(fraction)
            if power is None:
                power = discount**fraction
                fraction_powers[fraction] = power
            factor *= power
        discounted = flow * factor
        value += discounted
        slope -= time * discounted / growth
    return value, slope
