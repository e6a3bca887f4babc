"""Interest settings that current/savings and term-deposit products share (seed 004):
compounding and posting periods, daily or average daily balance, 360 or 365 days."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from products.catalogue.common import Checker


class CompoundingPeriod(StrEnum):
    DAILY = "daily"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"


class PostingPeriod(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    SEMI_ANNUAL = "semi_annual"
    ANNUAL = "annual"


class BalanceMethod(StrEnum):
    """Interest on each day's closing balance, or on the period's average daily balance."""

    DAILY_BALANCE = "daily_balance"
    AVERAGE_DAILY_BALANCE = "average_daily_balance"


class DepositDaysInYear(StrEnum):
    DAYS_360 = "360"
    DAYS_365 = "365"


_MONTHS = {CompoundingPeriod.DAILY: 0, CompoundingPeriod.MONTHLY: 1, CompoundingPeriod.QUARTERLY: 3,
           CompoundingPeriod.SEMI_ANNUAL: 6, CompoundingPeriod.ANNUAL: 12}
_POSTING_MONTHS = {PostingPeriod.MONTHLY: 1, PostingPeriod.QUARTERLY: 3, PostingPeriod.SEMI_ANNUAL: 6,
                   PostingPeriod.ANNUAL: 12}


class InterestSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    compounding_period: CompoundingPeriod = CompoundingPeriod.MONTHLY
    posting_period: PostingPeriod = PostingPeriod.MONTHLY
    balance_method: BalanceMethod = BalanceMethod.DAILY_BALANCE
    days_in_year: DepositDaysInYear = DepositDaysInYear.DAYS_365


def check_interest_settings(check: Checker, field: str, settings: InterestSettings) -> None:
    """Interest cannot compound less often than it is posted: posting credits the account,
    which is itself a compounding."""
    if _MONTHS[settings.compounding_period] > _POSTING_MONTHS[settings.posting_period]:
        check.add(f"{field}.compounding_period",
                  f"cannot be longer than the posting period ({settings.posting_period.value})")

