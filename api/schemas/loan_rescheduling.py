"""Wire shapes of a loan rescheduling plan (« rééchelonnement »)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import msgspec

from api.schemas.common import LongText, check_date
from api.schemas.simulations import DecimalText, check_decimal_shape
from products.loans.limits import GRACE_PERIODS_MAX, SCHEDULE_PERIODS_MAX
from servicing.loans.rescheduling import Reschedule


class ReschedulingIn(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The plan's new terms. A term left out keeps the loan's: ``repayment_count`` the
    instalments still unpaid, ``interest_rate_percent`` the loan's rate (in the product's rate
    period). Interest and penalties due and unpaid on ``rescheduled_on`` become principal when
    capitalised; otherwise they stay owed on their old instalments and are collected first."""

    rescheduled_on: date
    repayment_count: Annotated[int, msgspec.Meta(ge=1, le=SCHEDULE_PERIODS_MAX)] | None = None
    interest_rate_percent: DecimalText | None = None
    grace_on_principal_periods: Annotated[int, msgspec.Meta(ge=0, le=GRACE_PERIODS_MAX)] = 0
    first_repayment_date: date | None = None
    capitalise_interest: bool = False
    capitalise_penalties: bool = False
    note: LongText = ""

    def __post_init__(self) -> None:
        check_date(self.rescheduled_on, "rescheduled_on")
        check_date(self.first_repayment_date, "first_repayment_date")
        check_decimal_shape(self.interest_rate_percent, "interest_rate_percent")
        if self.interest_rate_percent is not None and self.interest_rate_percent < 0:
            raise ValueError("interest_rate_percent must not be negative")

    def to_command(self) -> Reschedule:
        return Reschedule(rescheduled_on=self.rescheduled_on, repayment_count=self.repayment_count,
                          interest_rate_percent=self.interest_rate_percent,
                          grace_on_principal_periods=self.grace_on_principal_periods,
                          first_repayment_date=self.first_repayment_date,
                          capitalise_interest=self.capitalise_interest,
                          capitalise_penalties=self.capitalise_penalties, note=self.note)
