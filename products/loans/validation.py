"""Check loan terms before any computation; each failure names the offending field.

The checks are operator errors (`TermsError`), not assertions: terms come from loan
officers and API clients. Once `validate_terms` passes, the calculators only assert.
Every Decimal is checked finite, within bounds and with at most DECIMAL_PLACES_MAX places,
so NaN, Infinity and ``1E+999999`` never reach the arithmetic.
"""

from datetime import date, timedelta
from decimal import Decimal

import moneyed

from products.loans.calendar import add_period
from products.loans.errors import TermsError
from products.loans.limits import (
    DATE_MAX,
    DATE_MIN,
    DECIMAL_PLACES_MAX,
    FEE_NAME_LENGTH_MAX,
    FEE_PERCENT_MAX,
    FEES_MAX,
    FIRST_REPAYMENT_DAYS_MIN_MAX,
    HOLIDAYS_MAX,
    INTEREST_FREE_DAYS_MAX,
    INTEREST_RATE_ANNUAL_PERCENT_MAX,
    LOAN_TERM_YEARS_MAX,
    PRINCIPAL_AMOUNT_MAX,
    REPAYMENT_EVERY_MAX,
    SCHEDULE_PERIODS_MAX,
    THRESHOLD_PERCENT_MAX,
    TRANCHES_MAX,
    VAT_PERCENT_MAX,
    WEEKS_IN_YEAR_MAX,
    WEEKS_IN_YEAR_MIN,
)
from products.loans.terms import (
    AmortizationMethod,
    FeeCalculation,
    FeeSpec,
    FeeTrigger,
    InterestMethod,
    LoanTerms,
    RepaymentFrequencyUnit,
)
from products.rounding import currency_decimals, is_multiple_of

_ZERO = Decimal(0)


def check_decimal(
    field: str,
    value: Decimal,
    *,
    minimum: Decimal,
    maximum: Decimal,
    minimum_inclusive: bool = True,
    places_max: int = DECIMAL_PLACES_MAX,
) -> None:
    """Finite, within [minimum, maximum] (or (minimum, maximum]) and not too many places."""
    if not value.is_finite():
        raise TermsError(field, "must be a finite number")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite
    if exponent < -places_max:
        raise TermsError(field, f"must have at most {places_max} decimal places")
    if value > maximum:
        raise TermsError(field, f"must be at most {maximum}")
    if value < minimum or (not minimum_inclusive and value == minimum):
        comparison = "at least" if minimum_inclusive else "greater than"
        raise TermsError(field, f"must be {comparison} {minimum}")


def check_count(field: str, value: int, *, minimum: int, maximum: int) -> None:
    if not minimum <= value <= maximum:
        raise TermsError(field, f"must be between {minimum} and {maximum}")


def check_date(field: str, value: date) -> None:
    if not DATE_MIN <= value <= DATE_MAX:
        raise TermsError(field, f"must be between {DATE_MIN.isoformat()} and {DATE_MAX.isoformat()}")


def validate_terms(terms: LoanTerms) -> int:
    """Raise `TermsError` on the first bad field; return the product's decimals when all is well."""
    decimals = _validate_currency_and_rounding(terms)
    check_decimal(
        "principal_amount",
        terms.principal_amount,
        minimum=_ZERO,
        maximum=PRINCIPAL_AMOUNT_MAX,
        minimum_inclusive=False,
        places_max=decimals,
    )
    check_date("disbursement_date", terms.disbursement_date)
    _validate_term_and_frequency(terms)
    _validate_rate(terms)
    _validate_first_repayment(terms)
    _validate_grace(terms)
    _validate_instalment_settings(terms, decimals)
    _validate_tranches(terms, decimals)
    for index, fee in enumerate(terms.fees):
        _validate_fee(f"fees[{index}]", fee, terms)
    if len(terms.fees) > FEES_MAX:
        raise TermsError("fees", f"at most {FEES_MAX} fees")
    check_decimal(
        "vat_on_interest_percent", terms.vat_on_interest_percent, minimum=_ZERO, maximum=VAT_PERCENT_MAX
    )
    _validate_working_days(terms)
    return decimals


def _validate_currency_and_rounding(terms: LoanTerms) -> int:
    code = terms.currency_code
    if len(code) != 3 or not code.isascii() or not code.isupper() or not code.isalpha():
        raise TermsError("currency_code", "must be an ISO 4217 code such as XOF or EUR")
    try:
        currency_places = currency_decimals(code)
    except moneyed.CurrencyDoesNotExist:
        raise TermsError("currency_code", f"unknown currency {code}") from None
    rounding = terms.rounding
    decimals = currency_places if rounding.decimals is None else rounding.decimals
    if not 0 <= decimals <= currency_places:
        raise TermsError("rounding.decimals", f"must be between 0 and {currency_places} for {code}")
    quantum = Decimal(1).scaleb(-decimals)
    for field, multiple in (
        ("rounding.in_multiples_of", rounding.in_multiples_of),
        ("instalment_in_multiples_of", terms.instalment_in_multiples_of),
    ):
        if multiple is None:
            continue
        check_decimal(
            field,
            multiple,
            minimum=_ZERO,
            maximum=PRINCIPAL_AMOUNT_MAX,
            minimum_inclusive=False,
            places_max=decimals,
        )
    amount_multiple = rounding.in_multiples_of or quantum
    if terms.instalment_in_multiples_of is not None and not is_multiple_of(
        terms.instalment_in_multiples_of, amount_multiple
    ):
        raise TermsError(
            "instalment_in_multiples_of", f"must be a multiple of the amount multiple {amount_multiple}"
        )
    return decimals


def _validate_term_and_frequency(terms: LoanTerms) -> None:
    check_count("repayment_count", terms.repayment_count, minimum=1, maximum=SCHEDULE_PERIODS_MAX)
    check_count("repayment_every", terms.repayment_every, minimum=1, maximum=REPAYMENT_EVERY_MAX)
    check_count("weeks_in_year", terms.weeks_in_year, minimum=WEEKS_IN_YEAR_MIN, maximum=WEEKS_IN_YEAR_MAX)
    unit = terms.repayment_frequency_unit
    steps = terms.repayment_count * terms.repayment_every
    if unit is RepaymentFrequencyUnit.DAYS or unit is RepaymentFrequencyUnit.WEEKS:
        term_days = steps * (7 if unit is RepaymentFrequencyUnit.WEEKS else 1)
        too_long = term_days > LOAN_TERM_YEARS_MAX * 365
    else:
        term_months = steps * (12 if unit is RepaymentFrequencyUnit.YEARS else 1)
        too_long = term_months > LOAN_TERM_YEARS_MAX * 12
    if too_long:
        raise TermsError("repayment_count", f"the loan term may not exceed {LOAN_TERM_YEARS_MAX} years")


def _validate_rate(terms: LoanTerms) -> None:
    check_decimal(
        "interest_rate_percent",
        terms.interest_rate_percent,
        minimum=_ZERO,
        maximum=INTEREST_RATE_ANNUAL_PERCENT_MAX,
    )
    if terms.interest_rate_annual_percent > INTEREST_RATE_ANNUAL_PERCENT_MAX:
        raise TermsError(
            "interest_rate_percent", f"annual rate may not exceed {INTEREST_RATE_ANNUAL_PERCENT_MAX} %"
        )


def _validate_first_repayment(terms: LoanTerms) -> None:
    check_count(
        "first_repayment_days_min",
        terms.first_repayment_days_min,
        minimum=0,
        maximum=FIRST_REPAYMENT_DAYS_MIN_MAX,
    )
    first = terms.first_repayment_date
    if first is None:
        return
    check_date("first_repayment_date", first)
    if first <= terms.disbursement_date:
        raise TermsError("first_repayment_date", "must be after the disbursement date")
    if (first - terms.disbursement_date).days < terms.first_repayment_days_min:
        raise TermsError(
            "first_repayment_date",
            f"must be at least {terms.first_repayment_days_min} days after the disbursement",
        )
    two_periods = add_period(
        terms.disbursement_date, 2 * terms.repayment_every, terms.repayment_frequency_unit
    )
    latest = max(two_periods, terms.disbursement_date + timedelta(days=366))
    if first > latest:
        raise TermsError(
            "first_repayment_date", f"must be on or before {latest.isoformat()} (two periods or a year)"
        )


def _validate_grace(terms: LoanTerms) -> None:
    count = terms.repayment_count
    check_count("grace_on_principal_periods", terms.grace_on_principal_periods, minimum=0, maximum=count - 1)
    check_count(
        "grace_on_interest_payment_periods",
        terms.grace_on_interest_payment_periods,
        minimum=0,
        maximum=count - 1,
    )
    check_count(
        "grace_on_interest_charged_periods", terms.grace_on_interest_charged_periods, minimum=0, maximum=count
    )
    check_count("interest_free_days", terms.interest_free_days, minimum=0, maximum=INTEREST_FREE_DAYS_MAX)


def _validate_instalment_settings(terms: LoanTerms, decimals: int) -> None:
    check_decimal(
        "last_instalment_principal_threshold_percent",
        terms.last_instalment_principal_threshold_percent,
        minimum=_ZERO,
        maximum=THRESHOLD_PERCENT_MAX,
    )
    fixed = terms.fixed_instalment_amount
    if fixed is None:
        return
    check_decimal(
        "fixed_instalment_amount",
        fixed,
        minimum=_ZERO,
        maximum=PRINCIPAL_AMOUNT_MAX,
        minimum_inclusive=False,
        places_max=decimals,
    )
    if terms.interest_method is not InterestMethod.DECLINING_BALANCE or (
        terms.amortization_method is not AmortizationMethod.EQUAL_INSTALMENTS
    ):
        raise TermsError("fixed_instalment_amount", "applies to declining-balance equal instalments only")


def _validate_tranches(terms: LoanTerms, decimals: int) -> None:
    tranches = terms.tranches
    if not tranches:
        return
    if len(tranches) > TRANCHES_MAX:
        raise TermsError("tranches", f"at most {TRANCHES_MAX} tranches")
    if terms.interest_method is not InterestMethod.DECLINING_BALANCE:
        raise TermsError("tranches", "multi-disbursement needs the declining-balance interest method")
    for index, tranche in enumerate(tranches):
        check_decimal(
            f"tranches[{index}].amount",
            tranche.amount,
            minimum=_ZERO,
            maximum=PRINCIPAL_AMOUNT_MAX,
            minimum_inclusive=False,
            places_max=decimals,
        )
        check_date(f"tranches[{index}].expected_date", tranche.expected_date)
        if index > 0 and tranche.expected_date <= tranches[index - 1].expected_date:
            raise TermsError(f"tranches[{index}].expected_date", "tranche dates must increase")
    if tranches[0].expected_date != terms.disbursement_date:
        raise TermsError(
            "tranches[0].expected_date", "the first tranche is disbursed on the disbursement date"
        )
    if sum(tranche.amount for tranche in tranches) != terms.principal_amount:
        raise TermsError("tranches", "tranche amounts must add up to the principal amount")


def _validate_fee(field: str, fee: FeeSpec, terms: LoanTerms) -> None:
    if not 1 <= len(fee.name) <= FEE_NAME_LENGTH_MAX:
        raise TermsError(f"{field}.name", f"must have 1 to {FEE_NAME_LENGTH_MAX} characters")
    if fee.calculation is FeeCalculation.FLAT:
        if fee.flat_amount is None or fee.rate_percent is not None:
            raise TermsError(f"{field}.flat_amount", "a flat fee needs flat_amount and no rate_percent")
        check_decimal(f"{field}.flat_amount", fee.flat_amount, minimum=_ZERO, maximum=PRINCIPAL_AMOUNT_MAX)
    else:
        if fee.rate_percent is None or fee.flat_amount is not None:
            raise TermsError(
                f"{field}.rate_percent", "a percentage fee needs rate_percent and no flat_amount"
            )
        check_decimal(f"{field}.rate_percent", fee.rate_percent, minimum=_ZERO, maximum=FEE_PERCENT_MAX)
    if fee.trigger is FeeTrigger.DISBURSEMENT and fee.calculation is FeeCalculation.PERCENT_OF_INSTALMENT:
        raise TermsError(f"{field}.calculation", "a disbursement fee cannot be a percentage of an instalment")
    if fee.trigger is FeeTrigger.SPECIFIED_DUE_DATE:
        if fee.due_date is None:
            raise TermsError(f"{field}.due_date", "a fee due on a specified date needs due_date")
        check_date(f"{field}.due_date", fee.due_date)
        if fee.due_date <= terms.disbursement_date:
            raise TermsError(f"{field}.due_date", "must be after the disbursement date")
    elif fee.due_date is not None:
        raise TermsError(f"{field}.due_date", "only fees due on a specified date take a due_date")
    check_decimal(f"{field}.vat_percent", fee.vat_percent, minimum=_ZERO, maximum=VAT_PERCENT_MAX)


def _validate_working_days(terms: LoanTerms) -> None:
    if len(set(terms.non_working_weekdays)) >= 7:
        raise TermsError("non_working_weekdays", "at least one weekday must be a working day")
    if len(terms.holidays) > HOLIDAYS_MAX:
        raise TermsError("holidays", f"at most {HOLIDAYS_MAX} holidays")
    for index, holiday in enumerate(terms.holidays):
        check_date(f"holidays[{index}]", holiday)
