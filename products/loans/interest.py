"""Period rates and the level (annuity) payment.

Each period of a schedule gets one rate: the interest a unit of principal outstanding for
the whole period earns, as a fraction (0.01 for 1 %). Everything the terms say about
interest folds into that number:

* daily interest: nominal annual rate x year fraction of the period's actual days
  (``days_in_year``, ``days_in_month``), on the due dates as moved by the holiday rule;
* interest "same as repayment period": the nominal period rate (annual / 12 x every for
  months, annual / weeks in year x every for weeks, annual / days in year x every for
  days), on the nominal dates, so a holiday move does not change it (Fineract's rule);
  a broken first period counts as its fraction of periods;
* grace on interest charged: rate 0 for the first periods;
* interest-free days: only the days after the free window earn interest.

Money that arrives during a period (a tranche) earns the rate for the rest of the period.

The level payment is the instalment that brings the principal to exactly zero at the last
instalment when each period earns its own rate: ``A = B x prod(1 + r) / sum(prod(1 + r
after the period))`` over the periods that pay. With equal rates it is the textbook
``B r / (1 - (1 + r)^-n)``; with daily interest it follows the real calendar (the approach
of Fineract's progressive EMI calculator), so the last instalment differs from the others
only by rounding.
"""

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

from products.loans.calendar import (
    broken_periods_between,
    day_count,
    is_regular_first_period,
    year_fraction,
)
from products.loans.terms import (
    DaysInMonth,
    DaysInYear,
    InterestCalculationPeriod,
    LoanTerms,
    RepaymentFrequencyUnit,
)

_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)
_HUNDRED: Final = Decimal(100)


def nominal_period_rate(terms: LoanTerms) -> Decimal:
    """One repayment period's nominal rate, as a fraction (annual / periods per year x every)."""
    annual = terms.interest_rate_annual_percent / _HUNDRED
    unit = terms.repayment_frequency_unit
    if unit is RepaymentFrequencyUnit.MONTHS:
        return annual * terms.repayment_every / 12
    if unit is RepaymentFrequencyUnit.YEARS:
        return annual * terms.repayment_every
    if unit is RepaymentFrequencyUnit.WEEKS:
        return annual * terms.repayment_every / terms.weeks_in_year
    assert unit is RepaymentFrequencyUnit.DAYS, unit
    return annual * terms.repayment_every / days_in_year_number(terms.days_in_year)


def days_in_year_number(days_in_year: DaysInYear) -> int:
    """The fixed year length; ``actual`` counts 365 where one number is needed (Fineract's rule)."""
    if days_in_year is DaysInYear.ACTUAL:
        return 365
    return int(days_in_year.value)


class PeriodRates:
    """Rates of every period of one schedule, and partial rates for money arriving mid-period.

    Parameters
    ----------
    terms
        Validated terms.
    interest_dates
        For period k (0-based), ``interest_dates[k]`` and ``interest_dates[k + 1]`` bound the
        days that earn interest: actual (moved) dates for daily interest, nominal dates
        otherwise. ``interest_dates[0]`` is the disbursement date.
    """

    __slots__ = (
        "_annual",
        "_charged_grace_periods",
        "_daily",
        "_days_in_year",
        "_first_period_count",
        "_free_until",
        "_partial_days_in_month",
        "_period_rate",
        "interest_dates",
        "whole_period_rates",
    )

    def __init__(self, terms: LoanTerms, interest_dates: Sequence[date]) -> None:
        assert len(interest_dates) == terms.repayment_count + 1, len(interest_dates)
        self.interest_dates = interest_dates
        self._annual = terms.interest_rate_annual_percent / _HUNDRED
        self._daily = terms.interest_calculation_period is InterestCalculationPeriod.DAILY
        self._days_in_year = terms.days_in_year
        month_based = terms.repayment_frequency_unit in (
            RepaymentFrequencyUnit.MONTHS,
            RepaymentFrequencyUnit.YEARS,
        )
        # The commercial month (30E/360) counts days of month-based periods only: weekly and
        # daily periods always earn their actual days, daily interest included (Fineract's
        # 360/30 product earns 14 days on every fortnight, 29 January to 12 February too).
        self._partial_days_in_month = terms.days_in_month if month_based else DaysInMonth.ACTUAL
        self._period_rate = nominal_period_rate(terms)
        self._charged_grace_periods = terms.grace_on_interest_charged_periods
        self._free_until = terms.disbursement_date + timedelta(days=terms.interest_free_days)
        self._first_period_count = self._count_first_period(terms, interest_dates[1])
        self.whole_period_rates = [
            self.rate_from(index, interest_dates[index]) for index in range(terms.repayment_count)
        ]

    def _count_first_period(self, terms: LoanTerms, first_due: date) -> Decimal:
        if self._daily or is_regular_first_period(terms, first_due):
            return _ONE
        return broken_periods_between(
            terms.disbursement_date,
            first_due,
            terms.repayment_every,
            terms.repayment_frequency_unit,
            terms.days_in_month,
        )

    def rate_from(self, index: int, money_from: date) -> Decimal:
        """Rate earned in period ``index`` (0-based) by money outstanding from ``money_from``."""
        if index < self._charged_grace_periods or self._annual == 0:
            return _ZERO
        period_start = self.interest_dates[index]
        period_end = self.interest_dates[index + 1]
        earning_from = max(money_from, period_start, self._free_until)
        if earning_from >= period_end:
            return _ZERO
        if self._daily:
            return self._annual * year_fraction(
                earning_from, period_end, self._days_in_year, self._partial_days_in_month
            )
        periods = self._first_period_count if index == 0 else _ONE
        if earning_from == period_start:
            return self._period_rate * periods
        # Partial periods count days: 30E/360 for month-based periods with the commercial month,
        # actual days otherwise. 30E/360 can count 0 days (30th to 31st) or a whole period for a
        # shorter span near month ends, hence the clamp to [0, 1] of the fraction.
        earning_days = day_count(earning_from, period_end, self._partial_days_in_month)
        period_days = day_count(period_start, period_end, self._partial_days_in_month)
        if earning_days <= 0 or period_days <= 0:
            return _ZERO
        return self._period_rate * periods * min(earning_days, period_days) / period_days


def level_payment(opening_balance: Decimal, rates: Sequence[Decimal], paying: Sequence[bool]) -> Decimal:
    """Exact instalment that amortises ``opening_balance`` to zero over the given periods.

    ``rates[k]`` is period k's rate applied to the balance; ``paying[k]`` says whether period
    k pays the level instalment (a principal-grace period does not, and its rate is 0
    here because its interest is paid separately). Unrounded: the caller rounds.
    """
    assert len(rates) == len(paying), (len(rates), len(paying))
    assert opening_balance >= 0, opening_balance
    growth = _ONE
    annuity_factor = _ZERO
    for index in range(len(rates) - 1, -1, -1):
        if paying[index]:
            annuity_factor += growth
        growth *= _ONE + rates[index]
    assert annuity_factor > 0, "at least one period pays"
    return opening_balance * growth / annuity_factor
