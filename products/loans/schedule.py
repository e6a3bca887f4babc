"""generate_schedule(terms) -> Schedule: the repayment schedule of a loan, pure and exact.

The pipeline is: validate the terms, lay out due dates (calendar), give every period its
rate (interest), split each instalment into principal and interest (this module), then add
fees and VAT (fees) and sum. All arithmetic runs in one explicit 34-digit decimal context,
whatever the caller's context; amounts are rounded only where the product says: each
period's interest, the level instalment, equal principal parts, fees and VAT. The last
instalment takes whatever principal remains, so principal parts always add up to the
principal exactly.

Declining balance (Fineract's conventions where the issue is silent):

* equal instalments: the level instalment is computed on the opening balance over the
  paying periods (see `interest.level_payment`), rounded to the product's decimals and
  then to ``instalment_in_multiples_of``; each period's principal is that instalment less
  the period's rounded interest; a new tranche recomputes it for the remaining periods;
* equal principal: principal / paying periods, rounded; recomputed after a tranche;
* grace on principal: interest-only instalments; grace on interest payment: the interest
  is computed but paid with the first instalment after the grace;
* a fixed instalment amount replaces the computed one; if it repays the loan early the
  schedule ends there;
* a last instalment whose principal would be under the threshold share of the one before
  is merged into it.

Flat: the interest of each period is computed on the initial principal. With equal
instalments the total interest is spread evenly over the periods that pay interest (after
the grace on interest payment or charged), as Fineract averages it; with equal principal
each instalment pays its own period's interest, deferred interest joining the first one
after the grace.
"""

import decimal
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec

from products.loans.calendar import add_months, adjusted_due_dates, nominal_due_dates
from products.loans.errors import TermsError
from products.loans.fees import disbursement_fee_charges, instalment_fee_charges, vat_on
from products.loans.interest import PeriodRates, level_payment
from products.loans.limits import (
    DATE_MAX,
    DECIMAL_PRECISION_DIGITS,
    LOAN_TERM_YEARS_MAX,
    SCHEDULE_PERIODS_MAX,
)
from products.loans.model import Disbursement, FeeCharge, Instalment, Schedule, ScheduleTotals
from products.loans.terms import (
    AmortizationMethod,
    InterestCalculationPeriod,
    InterestMethod,
    LoanTerms,
)
from products.loans.validation import validate_terms
from products.rounding import Rounder

SCHEDULE_CONTEXT: Final = decimal.Context(
    prec=DECIMAL_PRECISION_DIGITS,
    rounding=decimal.ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
"""Working precision for every schedule; rounding to money is always explicit on top of it."""

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_HUNDRED: Final = Decimal(100)

Arrivals = list[list[tuple[date, Decimal]]]
"""Per period (0-based), the tranches disbursed in it: (date, amount)."""


def generate_schedule(terms: LoanTerms) -> Schedule:
    """Validate ``terms`` and return their repayment schedule.

    Raises `TermsError` naming the field when the terms cannot give a schedule.
    """
    decimals = validate_terms(terms)
    with decimal.localcontext(SCHEDULE_CONTEXT):
        schedule = _generate(terms, decimals)
        if _adjusts_level_instalment(terms):
            schedule = _with_adjusted_level_instalment(terms, decimals, schedule)
    _check_schedule(terms, schedule)
    return schedule


def _adjusts_level_instalment(terms: LoanTerms) -> bool:
    return (terms.level_instalment_adjustment
            and terms.interest_method is InterestMethod.DECLINING_BALANCE
            and terms.amortization_method is AmortizationMethod.EQUAL_INSTALMENTS
            and terms.fixed_instalment_amount is None and terms.instalment_in_multiples_of is None
            and not terms.tranches and terms.last_instalment_principal_threshold_percent == 0
            and terms.grace_on_principal_periods == 0 and terms.grace_on_interest_payment_periods == 0
            and terms.grace_on_interest_charged_periods == 0)


def _with_adjusted_level_instalment(terms: LoanTerms, decimals: int, schedule: Schedule) -> Schedule:
    """Fineract's progressive EMI adjustment, as its published schedules show it: with the
    difference d = last instalment - level instalment, when |d| exceeds floor(n / 2) minor
    units (n instalments), try level + d / n rounded half-even to the minor unit, and keep it
    when the last instalment ends closer to the level one (e.g. 16.89 and a last 16.93 become
    16.90 and 16.88). Principal and interest stay those of a level-instalment schedule."""
    rows = schedule.instalments
    if len(rows) < 2:
        return schedule
    quantum = _ONE.scaleb(-decimals)

    def gap(candidate: Schedule) -> Decimal:
        first, last = candidate.instalments[0], candidate.instalments[-1]
        return (last.principal_amount + last.interest_amount) - (first.principal_amount + first.interest_amount)

    difference = gap(schedule)
    if abs(difference) <= quantum * (len(rows) // 2):
        return schedule
    step = (difference / len(rows)).quantize(quantum, rounding=decimal.ROUND_HALF_EVEN)
    if step == 0:
        return schedule
    level = rows[0].principal_amount + rows[0].interest_amount
    try:
        candidate = _generate(msgspec.structs.replace(terms, fixed_instalment_amount=level + step), decimals)
    except TermsError:
        return schedule
    if len(candidate.instalments) == len(rows) and abs(gap(candidate)) < abs(difference):
        return candidate
    return schedule


def _generate(terms: LoanTerms, decimals: int) -> Schedule:
    rounder = Rounder(decimals=decimals, mode=terms.rounding.mode, multiple=terms.rounding.in_multiples_of)
    nominal = nominal_due_dates(terms)
    _check_last_due_date(terms, nominal[-1])
    due_dates = adjusted_due_dates(terms, nominal)
    daily = terms.interest_calculation_period is InterestCalculationPeriod.DAILY
    interest_dates = [terms.disbursement_date, *(due_dates if daily else nominal)]
    rates = PeriodRates(terms, interest_dates)
    tranches = [
        (tranche.expected_date, tranche.amount.quantize(rounder.quantum)) for tranche in terms.tranches
    ]
    if not tranches:
        tranches = [(terms.disbursement_date, terms.principal_amount.quantize(rounder.quantum))]
    arrivals = _arrivals_by_period(tranches, interest_dates)
    if terms.interest_method is InterestMethod.FLAT:
        parts = _flat_parts(terms, rounder, rates, tranches[0][1])
    else:
        parts = _declining_parts(terms, rounder, rates, arrivals)
    return _assemble(terms, rounder, due_dates, tranches, parts)


def _check_last_due_date(terms: LoanTerms, last_due: date) -> None:
    latest = add_months(terms.disbursement_date, 12 * LOAN_TERM_YEARS_MAX)
    if last_due > latest or last_due > DATE_MAX:
        raise TermsError(
            "repayment_count", f"the last due date may be at most {LOAN_TERM_YEARS_MAX} years away"
        )


def _arrivals_by_period(tranches: Sequence[tuple[date, Decimal]], interest_dates: Sequence[date]) -> Arrivals:
    """Place each tranche in the period whose interest window [start, end) holds its date."""
    arrivals: Arrivals = [[] for _ in range(len(interest_dates) - 1)]
    period = 0
    for index, (day, amount) in enumerate(tranches):
        while period < len(arrivals) and day >= interest_dates[period + 1]:
            period += 1
        if period >= len(arrivals):
            raise TermsError(f"tranches[{index}].expected_date", "must be before the last due date")
        arrivals[period].append((day, amount))
    return arrivals


def _negative_amortisation(terms: LoanTerms, number: int) -> TermsError:
    if terms.fixed_instalment_amount is not None:
        field = "fixed_instalment_amount"
    elif terms.instalment_in_multiples_of is not None:
        field = "instalment_in_multiples_of"
    else:
        field = "first_repayment_date"
    return TermsError(field, f"instalment {number} would not cover its interest")


def _declining_parts(
    terms: LoanTerms, rounder: Rounder, rates: PeriodRates, arrivals: Arrivals
) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(principal, interest payable, balance after) per instalment, declining balance."""
    count = terms.repayment_count
    principal_grace = terms.grace_on_principal_periods
    interest_grace = terms.grace_on_interest_payment_periods
    equal_instalments = terms.amortization_method is AmortizationMethod.EQUAL_INSTALMENTS
    instalment_multiple = terms.instalment_in_multiples_of
    threshold_percent = terms.last_instalment_principal_threshold_percent
    whole_rates = rates.whole_period_rates
    # Principal-grace periods pay their interest apart, so the level payment sees rate 0 there.
    recurrence_rates = [_ZERO if index < principal_grace else rate for index, rate in enumerate(whole_rates)]
    paying = [index >= principal_grace for index in range(count)]
    last_arrival = max(index for index, arriving in enumerate(arrivals) if arriving)
    zero = rounder.zero()
    balance = zero
    deferred_interest = zero
    level_amount = zero
    principal_step = zero
    parts: list[tuple[Decimal, Decimal, Decimal]] = []
    for index in range(count):
        interest_exact = balance * whole_rates[index]
        if arrivals[index]:
            effective_balance = balance
            for day, amount in arrivals[index]:
                partial_rate = rates.rate_from(index, day)
                interest_exact += amount * partial_rate
                balance += amount
                recurrence_partial = _ZERO if index < principal_grace else partial_rate
                effective_balance += amount * (_ONE + recurrence_partial) / (_ONE + recurrence_rates[index])
            if equal_instalments:
                level_amount = terms.fixed_instalment_amount or rounder.round_instalment(
                    level_payment(effective_balance, recurrence_rates[index:], paying[index:]),
                    instalment_multiple,
                )
            else:
                principal_step = rounder.round(balance / (count - max(index, principal_grace)))
        interest = rounder.round(interest_exact)
        if index < interest_grace:
            deferred_interest += interest
            interest_payable = zero
        else:
            interest_payable = interest + deferred_interest
            deferred_interest = zero
        future_arrivals = index < last_arrival
        if index < principal_grace:
            principal = zero
        elif index == count - 1:
            principal = balance
        else:
            principal = (level_amount - interest) if equal_instalments else principal_step
            if instalment_multiple is not None:
                instalment = principal + interest_payable
                principal += rounder.round_to(instalment, instalment_multiple) - instalment
            if principal < 0:
                raise _negative_amortisation(terms, index + 1)
            if principal >= balance:
                principal = balance
            elif not future_arrivals and (balance - principal) * _HUNDRED < threshold_percent * principal:
                principal = balance  # merge a too-small last instalment into this one
        balance -= principal
        ends = balance == 0 and not future_arrivals
        if ends and deferred_interest:
            interest_payable += deferred_interest
            deferred_interest = zero
        parts.append((principal, interest_payable, balance))
        if ends:
            break
    assert balance == 0, balance
    assert deferred_interest == 0, deferred_interest
    return parts


def _flat_parts(
    terms: LoanTerms, rounder: Rounder, rates: PeriodRates, principal_amount: Decimal
) -> list[tuple[Decimal, Decimal, Decimal]]:
    """(principal, interest payable, balance after) per instalment, flat interest."""
    count = terms.repayment_count
    principal_grace = terms.grace_on_principal_periods
    interest_grace = terms.grace_on_interest_payment_periods
    zero = rounder.zero()
    interests = _flat_interests(terms, rounder, rates, principal_amount)
    principal_step = rounder.round(principal_amount / (count - principal_grace))
    instalment_multiple = terms.instalment_in_multiples_of
    balance = principal_amount
    deferred_interest = zero
    parts: list[tuple[Decimal, Decimal, Decimal]] = []
    for index in range(count):
        interest = interests[index]
        if index < interest_grace:
            deferred_interest += interest
            interest_payable = zero
        else:
            interest_payable = interest + deferred_interest
            deferred_interest = zero
        if index < principal_grace:
            principal = zero
        elif index == count - 1:
            principal = balance
        else:
            principal = principal_step
            if instalment_multiple is not None:
                instalment = principal + interest_payable
                principal += rounder.round_to(instalment, instalment_multiple) - instalment
            principal = min(max(principal, zero), balance)
        balance -= principal
        parts.append((principal, interest_payable, balance))
    assert balance == 0, balance
    return parts


def _flat_interests(
    terms: LoanTerms, rounder: Rounder, rates: PeriodRates, principal_amount: Decimal
) -> list[Decimal]:
    """Interest charged to each period on the initial principal, rounded.

    Equal instalments: the total (rounded once) spread evenly over the periods from the
    first that pays interest, the last taking the remainder. Equal principal: each period
    its own interest.
    """
    count = terms.repayment_count
    exact = [principal_amount * rate for rate in rates.whole_period_rates]
    if terms.amortization_method is AmortizationMethod.EQUAL_PRINCIPAL:
        return [rounder.round(amount) for amount in exact]
    zero = rounder.zero()
    total_interest = rounder.round(sum(exact, _ZERO))
    first_paying = max(terms.grace_on_interest_payment_periods, terms.grace_on_interest_charged_periods)
    if first_paying >= count:  # every period is interest-free: nothing to spread
        return [zero] * count
    per_period = rounder.round(total_interest / (count - first_paying))
    interests = [zero] * count
    remaining = total_interest
    for index in range(first_paying, count - 1):
        interests[index] = min(per_period, remaining)
        remaining -= interests[index]
    interests[count - 1] = remaining
    return interests


def _assemble(
    terms: LoanTerms,
    rounder: Rounder,
    due_dates: Sequence[date],
    tranches: Sequence[tuple[date, Decimal]],
    parts: Sequence[tuple[Decimal, Decimal, Decimal]],
) -> Schedule:
    """Add fees and VAT to each instalment, then the upfront fees and the totals."""
    zero = rounder.zero()
    vat_on_interest_percent = terms.vat_on_interest_percent
    fees = terms.fees
    principal_amount = terms.principal_amount.quantize(rounder.quantum)
    instalments: list[Instalment] = []
    charges: list[FeeCharge] = []
    from_date = terms.disbursement_date
    last_index = len(parts) - 1
    for index, (principal, interest, balance) in enumerate(parts):
        due_date = due_dates[index]
        fee_amount = zero
        vat_amount = vat_on(interest, vat_on_interest_percent, rounder) if vat_on_interest_percent else zero
        if fees:
            instalment_charges = instalment_fee_charges(
                fees,
                rounder,
                number=index + 1,
                from_date=from_date,
                due_date=due_date,
                is_last=index == last_index,
                loan_principal=principal_amount,
                principal=principal,
                interest=interest,
            )
            for charge in instalment_charges:
                fee_amount += charge.amount
                vat_amount += charge.vat_amount
            charges.extend(instalment_charges)
        instalments.append(
            Instalment(
                number=index + 1,
                from_date=from_date,
                due_date=due_date,
                days=(due_date - from_date).days,
                principal_amount=principal,
                interest_amount=interest,
                fee_amount=fee_amount,
                vat_amount=vat_amount,
                total_amount=principal + interest + fee_amount + vat_amount,
                balance_amount=balance,
            )
        )
        from_date = due_date
    total_interest = sum((row.interest_amount for row in instalments), zero)
    upfront = (
        disbursement_fee_charges(
            fees,
            rounder,
            disbursement_date=terms.disbursement_date,
            principal=principal_amount,
            total_interest=total_interest,
        )
        if fees
        else []
    )
    disbursements = tuple(
        Disbursement(
            disbursement_date=day,
            amount=amount,
            fee_amount=sum((charge.amount for charge in upfront), zero) if index == 0 else zero,
            vat_amount=sum((charge.vat_amount for charge in upfront), zero) if index == 0 else zero,
        )
        for index, (day, amount) in enumerate(tranches)
    )
    fee_total = sum((row.fee_amount for row in instalments), zero) + disbursements[0].fee_amount
    vat_total = sum((row.vat_amount for row in instalments), zero) + disbursements[0].vat_amount
    totals = ScheduleTotals(
        principal_amount=sum((row.principal_amount for row in instalments), zero),
        interest_amount=total_interest,
        fee_amount=fee_total,
        vat_amount=vat_total,
        repayment_amount=sum((row.total_amount for row in instalments), zero),
        cost_of_credit_amount=total_interest + fee_total + vat_total,
    )
    return Schedule(
        currency_code=terms.currency_code,
        disbursements=disbursements,
        instalments=tuple(instalments),
        fee_charges=tuple(upfront + charges),
        totals=totals,
    )


def _check_schedule(terms: LoanTerms, schedule: Schedule) -> None:
    """Postconditions every schedule meets, whatever the settings."""
    instalments = schedule.instalments
    assert 1 <= len(instalments) <= SCHEDULE_PERIODS_MAX, len(instalments)
    assert len(instalments) <= terms.repayment_count, len(instalments)
    assert schedule.totals.principal_amount == terms.principal_amount, schedule.totals
    assert instalments[-1].balance_amount == 0, instalments[-1]
    for row in instalments:
        assert row.principal_amount >= 0, row
        assert row.interest_amount >= 0, row
        assert row.balance_amount >= 0, row
        assert row.due_date >= row.from_date, row
