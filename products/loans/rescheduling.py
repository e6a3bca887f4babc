"""Rescheduling (« rééchelonnement »): whether a loan may be rescheduled, and its new terms.

Seed 002's general credit parameters govern it with four switches: « crédit souffrant » (a
doubtful loan may be rescheduled), « dossiers sains » (a healthy one may), « durée crédit » (the
number of instalments may change) and « échéance non soldée » (a loan with an instalment past due
and unpaid may be rescheduled). `rescheduling_refusals` lists every switch a request breaks,
each naming its field.

The new plan starts on the rescheduling date with the outstanding principal, plus the overdue
interest and penalties when the plan capitalises them (« capitalisation »); what is not
capitalised stays owed and is collected first. The new rate, the number of instalments (kept
when the term may not change: the instalments still unpaid) and a grace on principal come from
the request; every other term is the loan's. Upfront fees are not charged again. The schedule
engine (`generate_schedule`) turns the terms into the new schedule; the old one is kept for
history by the service. From then on the loan ages on the rescheduled-loans grid
(`classification.grid_kind`).

Feeds: the capitalised amounts move receivables into principal (Dr portfolio, Cr interest or
penalties receivable under accrual rules). The posting rules have no such event yet; the
amounts are here for the service and the rule to come. Pure.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec

from products.events import LoanClassification
from products.loans.terms import FeeTrigger, LoanTerms
from products.reference.model import CreditParameters


class ReschedulingSwitches(msgspec.Struct, frozen=True, kw_only=True):
    doubtful_allowed: bool = False
    healthy_allowed: bool = False
    term_editable: bool = False
    unpaid_instalment_allowed: bool = False

    @classmethod
    def of(cls, parameters: CreditParameters) -> ReschedulingSwitches:
        """Seed 002, 3.7.1: « crédit souffrant », « dossiers sains », « durée crédit »,
        « échéance non soldée »."""
        return cls(doubtful_allowed=parameters.doubtful_loan_arrears_editable,
                   healthy_allowed=parameters.healthy_loan_rescheduling_allowed,
                   term_editable=parameters.rescheduling_term_editable,
                   unpaid_instalment_allowed=parameters.unpaid_instalment_rescheduling_allowed)


class LoanStanding(msgspec.Struct, frozen=True, kw_only=True):
    """What the loan owes on the rescheduling date. ``interest_overdue`` and
    ``penalties_overdue`` are due and unpaid; ``instalments_remaining`` are not fully paid."""

    classification: LoanClassification
    principal_outstanding: Decimal
    interest_overdue: Decimal
    penalties_overdue: Decimal
    overdue_amount: Decimal
    instalments_remaining: int


class ReschedulingRequest(msgspec.Struct, frozen=True, kw_only=True):
    rescheduled_on: date
    repayment_count: int | None = None
    interest_rate_percent: Decimal | None = None
    grace_on_principal_periods: int = 0
    first_repayment_date: date | None = None
    capitalise_interest: bool = False
    capitalise_penalties: bool = False


class Refusal(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str


def rescheduling_refusals(request: ReschedulingRequest, standing: LoanStanding,
                          switches: ReschedulingSwitches) -> tuple[Refusal, ...]:
    """Every reason the institution's switches refuse this rescheduling (empty: allowed)."""
    refusals: list[Refusal] = []
    if standing.classification is LoanClassification.WRITTEN_OFF:
        refusals.append(Refusal(field="loan", message="a written-off loan is not rescheduled"))
    elif standing.classification is LoanClassification.DOUBTFUL and not switches.doubtful_allowed:
        refusals.append(Refusal(field="loan", message="doubtful loans may not be rescheduled (« crédit souffrant »)"))
    elif standing.classification is LoanClassification.HEALTHY and not switches.healthy_allowed:
        refusals.append(Refusal(field="loan", message="healthy loans may not be rescheduled (« dossiers sains »)"))
    if standing.principal_outstanding <= 0:
        refusals.append(Refusal(field="loan", message="no principal is outstanding"))
    if standing.overdue_amount > 0 and not switches.unpaid_instalment_allowed:
        refusals.append(Refusal(field="loan", message="a loan with an unpaid instalment may not be rescheduled "
                                                      "(« échéance non soldée »)"))
    if (request.repayment_count is not None and request.repayment_count != standing.instalments_remaining
            and not switches.term_editable):
        refusals.append(Refusal(field="repayment_count",
                                message=f"the term may not change (« durée crédit »): "
                                        f"{standing.instalments_remaining} instalments remain"))
    if request.repayment_count is not None and request.repayment_count < 1:
        refusals.append(Refusal(field="repayment_count", message="at least one instalment"))
    return tuple(refusals)


class ReschedulingPlan(msgspec.Struct, frozen=True, kw_only=True):
    """The new terms and what they capitalise; ``interest_carried`` and ``penalties_carried``
    stay owed outside the new schedule."""

    terms: LoanTerms
    capitalised_interest: Decimal
    capitalised_penalties: Decimal
    interest_carried: Decimal
    penalties_carried: Decimal


def rescheduled_terms(current: LoanTerms, request: ReschedulingRequest, standing: LoanStanding) -> ReschedulingPlan:
    """The plan for an allowed request (check `rescheduling_refusals` first)."""
    interest = standing.interest_overdue if request.capitalise_interest else standing.interest_overdue * 0
    penalties = standing.penalties_overdue if request.capitalise_penalties else standing.penalties_overdue * 0
    fees = tuple(fee for fee in current.fees if fee.trigger is FeeTrigger.INSTALMENT or (
        fee.trigger is FeeTrigger.SPECIFIED_DUE_DATE and fee.due_date is not None
        and fee.due_date > request.rescheduled_on))
    terms = msgspec.structs.replace(
        current, principal_amount=standing.principal_outstanding + interest + penalties,
        disbursement_date=request.rescheduled_on,
        repayment_count=request.repayment_count or standing.instalments_remaining,
        interest_rate_percent=(request.interest_rate_percent if request.interest_rate_percent is not None
                               else current.interest_rate_percent),
        grace_on_principal_periods=request.grace_on_principal_periods, grace_on_interest_payment_periods=0,
        grace_on_interest_charged_periods=0, interest_free_days=0, first_repayment_date=request.first_repayment_date,
        fixed_instalment_amount=None, tranches=(), fees=fees)
    return ReschedulingPlan(terms=terms, capitalised_interest=interest, capitalised_penalties=penalties,
                            interest_carried=standing.interest_overdue - interest,
                            penalties_carried=standing.penalties_overdue - penalties)
