"""The close-of-business steps chained as the run will chain them, for the day-by-day tests: a
loan, its books on the SFD mapping of `cob_support`, a repayment, one evening's close, and the
reconciliation of books and loan.

This is the specification the service follows: the order of the steps, what each takes from
the previous ones, and the events it posts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from ledger.model import Side
from products.accounting import posting_lines
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.accrual import accrual_periods, accrue_interest, recognised_on_collection
from products.loans.allocation import AllocationLine, allocate
from products.loans.arrears import ArrearsPolicy, ArrearsStatus, age_arrears
from products.loans.classification import decide_class, grade
from products.loans.penalties import PenaltyPolicy, penalties_due
from products.loans.position import loan_position, remaining_dues
from products.loans.product import OverduePenalty, PenaltyBase, RepaymentComponent
from products.loans.provisioning import provision_base, provision_movements, required_provision
from products.loans.schedule import generate_schedule
from products.posting_rules import AccountingRole, Component, EventKind, ProductKind
from products.reference.model import FrequencyUnit
from products.rounding import Rounding, compile_rounding
from servicing.reference.defaults import BCEAO_GRID
from tests.products.cob_support import (
    DOUBTFUL_INTEREST_RECEIVABLE,
    DOUBTFUL_PORTFOLIO,
    PENALTY_CHARGE_ID,
    SFD,
    sfd_accounting,
)
from tests.products.factories import xof_terms

D = Decimal
ZERO = Decimal(0)
XOF = compile_rounding(Rounding(), "XOF")
HEALTHY_ORDER = (RepaymentComponent.PENALTY, RepaymentComponent.FEE, RepaymentComponent.INTEREST,
                 RepaymentComponent.PRINCIPAL)
DOUBTFUL_ORDER = tuple(reversed(HEALTHY_ORDER))
POLICY = ArrearsPolicy(tolerance_amount=D(500), tolerance_days=3, days_to_arrears=1, days_to_npa=90)
PENALTY = PenaltyPolicy(penalty=OverduePenalty(rate_percent=D(2), base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST,
                                               charge_id=PENALTY_CHARGE_ID),
                        grace_days=3, every=1, unit=FrequencyUnit.MONTHS, vat_percent=D(18))
ACCOUNTING = sfd_accounting()
TERMS = xof_terms(repayment_count=12)
SCHEDULE = generate_schedule(TERMS)
PERIODS = accrual_periods(SCHEDULE, TERMS)
START = TERMS.disbursement_date
INTEREST_ACCOUNTS = (SFD[AccountingRole.INTEREST_RECEIVABLE], DOUBTFUL_INTEREST_RECEIVABLE)


@dataclass
class Loan:
    """The loan and its books as the service would hold them between closes."""

    balances: dict[str, Decimal] = field(default_factory=dict)
    paid: list[AllocationLine] = field(default_factory=list)
    charged: list[AllocationLine] = field(default_factory=list)
    penalty_keys: set[tuple[int, int]] = field(default_factory=set)
    status: ArrearsStatus = ArrearsStatus.PERFORMING
    classification: LoanClassification = LoanClassification.HEALTHY
    provisions: dict[LoanClassification, Decimal] = field(default_factory=dict)
    withheld: Decimal = ZERO
    recognised: Decimal = ZERO
    events: list[tuple[date, ProductEvent]] = field(default_factory=list)
    today: date = START

    def post(self, event: ProductEvent | None) -> None:
        if event is None:
            return
        self.events.append((self.today, event))
        for line in posting_lines(ProductKind.LOAN, ACCOUNTING, event):
            sign = 1 if line.side is Side.DEBIT else -1
            self.balances[line.account_code] = self.balances.get(line.account_code, D(0)) + sign * line.amount

    def balance(self, *codes: str) -> Decimal:
        return sum((self.balances.get(code, D(0)) for code in codes), D(0))

    def interest_receivable_of(self, classification: LoanClassification) -> Decimal:
        return self.balance(DOUBTFUL_INTEREST_RECEIVABLE if classification is LoanClassification.DOUBTFUL
                            else INTEREST_ACCOUNTS[0])


def repay(loan: Loan, amount: Decimal) -> None:
    dues = remaining_dues(SCHEDULE, loan.paid, loan.charged)
    if not dues:
        return
    order = DOUBTFUL_ORDER if loan.classification is LoanClassification.DOUBTFUL else HEALTHY_ORDER
    allocation = allocate(amount, dues, order)
    loan.paid.extend(allocation.lines)
    collected = recognised_on_collection(allocation.total(Component.INTEREST), withheld=loan.withheld,
                                         receivable=loan.balance(*INTEREST_ACCOUNTS))
    if collected:
        loan.withheld -= collected
        loan.recognised += collected
        loan.post(ProductEvent(kind=EventKind.INTEREST_ACCRUAL, currency="XOF", classification=loan.classification,
                               parts=(EventPart(component=Component.INTEREST, amount=collected),)))
    parts = [EventPart(component=c, amount=allocation.total(c)) for c in
             (Component.PRINCIPAL, Component.INTEREST, Component.PENALTY, Component.VAT) if allocation.total(c)]
    if allocation.overpayment:
        parts.append(EventPart(component=Component.OVERPAYMENT, amount=allocation.overpayment))
    loan.post(ProductEvent(kind=EventKind.REPAYMENT, currency="XOF", classification=loan.classification,
                           parts=tuple(parts)))


def close(loan: Loan, day: date, deposit: Decimal) -> list[ProductEvent]:
    """One close of business, in the run's order. Returns what a second run would post."""
    loan.today = day
    accrual = accrue_interest(PERIODS, after=day - timedelta(days=1), through=day, rounder=XOF,
                              non_performing=loan.status is ArrearsStatus.NON_PERFORMING,
                              interest_prepaid=max(-loan.balance(*INTEREST_ACCOUNTS), ZERO))
    loan.post(accrual.event("XOF", classification=loan.classification, term=TermBucket.SHORT))
    loan.recognised += accrual.recognised
    loan.withheld += accrual.withheld
    position = loan_position(SCHEDULE, loan.paid, day, charged=loan.charged)
    arrears = age_arrears(position.instalments, day, POLICY, previous_status=loan.status)
    for penalty in penalties_due(remaining_dues(SCHEDULE, loan.paid, loan.charged), day, PENALTY, XOF,
                                 already_charged=loan.penalty_keys):
        loan.charged.extend(penalty.charged_lines())
        loan.penalty_keys.add(penalty.key)
        loan.post(penalty.event("XOF", classification=loan.classification, term=TermBucket.SHORT))
    loan_grade = grade(arrears.days_overdue, BCEAO_GRID, non_performing=arrears.status is ArrearsStatus.NON_PERFORMING)
    principal = position.component(Component.PRINCIPAL).outstanding
    decision = decide_class(loan.classification, loan_grade.classification, automatic=True, term=TermBucket.SHORT,
                            principal_outstanding=principal,
                            interest_receivable=max(loan.interest_receivable_of(loan.classification), D(0)))
    if decision.movement is not None:
        loan.post(decision.movement.event("XOF"))
    loan.classification = decision.applied
    required = required_provision(provision_base(principal_outstanding=principal, guarantee_deposits=deposit),
                                  loan_grade.provision_rate_percent, XOF)
    for movement in provision_movements(loan.provisions, required, loan.classification):
        loan.post(movement.event("XOF", term=TermBucket.SHORT))
        sign = 1 if movement.kind is EventKind.PROVISION else -1
        loan.provisions[movement.classification] = loan.provisions.get(movement.classification, D(0)) + sign * movement.amount
    loan.status = arrears.status
    # What the same evening, run again, would post: nothing.
    again: list[ProductEvent] = []
    again_accrual = accrue_interest(PERIODS, after=day, through=day, rounder=XOF).event(
        "XOF", classification=loan.classification, term=TermBucket.SHORT)
    again += [again_accrual] if again_accrual else []
    again += [p.event("XOF", classification=loan.classification, term=TermBucket.SHORT) for p in penalties_due(
        remaining_dues(SCHEDULE, loan.paid, loan.charged), day, PENALTY, XOF, already_charged=loan.penalty_keys)]
    again_decision = decide_class(loan.classification, loan_grade.classification, automatic=True,
                                  term=TermBucket.SHORT, principal_outstanding=principal, interest_receivable=D(0))
    again += [again_decision.movement.event("XOF")] if again_decision.movement and again_decision.movement.event(
        "XOF") else []
    again += [m.event("XOF", term=TermBucket.SHORT) for m in provision_movements(loan.provisions, required,
                                                                                   loan.classification)]
    return again


def reconcile(loan: Loan, day: date, deposit: Decimal) -> None:
    position = loan_position(SCHEDULE, loan.paid, day, charged=loan.charged)
    paid = {c: sum((line.amount for line in loan.paid if line.component is c), D(0)) for c in Component}
    charged = {c: sum((line.amount for line in loan.charged if line.component is c), D(0)) for c in Component}
    # Trial balance: debits equal credits.
    assert sum(loan.balances.values(), D(0)) == 0
    # Portfolio (healthy 2022 + doubtful 292) is the principal outstanding, in the loan's class only.
    principal = position.component(Component.PRINCIPAL).outstanding
    assert loan.balance(SFD[AccountingRole.LOAN_PORTFOLIO], DOUBTFUL_PORTFOLIO) == principal
    other = DOUBTFUL_PORTFOLIO if loan.classification is LoanClassification.HEALTHY else "2022"
    assert loan.balance(other) == 0
    # Receivables: interest recognised less interest paid; penalties charged less paid; income = recognised.
    assert loan.balance(*INTEREST_ACCOUNTS) == loan.recognised - paid[Component.INTEREST]
    assert loan.balance("2073") == charged[Component.PENALTY] - paid[Component.PENALTY]
    assert -loan.balance("7021") == loan.recognised <= SCHEDULE.totals.interest_amount
    assert -loan.balance("70231") == charged[Component.PENALTY]
    assert -loan.balance("343") == paid[Component.VAT]
    # Provisions (credit balance) are the requirement of the loan's bucket.
    loan_grade = grade(age_arrears(position.instalments, day, POLICY, previous_status=loan.status).days_overdue,
                       BCEAO_GRID)
    required = required_provision(provision_base(principal_outstanding=principal, guarantee_deposits=deposit),
                                  loan_grade.provision_rate_percent, XOF)
    assert -loan.balance("2991") == required == sum(loan.provisions.values(), D(0))
    assert loan.balance("662") + loan.balance("761") == required  # dotations less reprises (credit)


def run(plan: dict[int, Decimal], deposit: Decimal, days: int) -> Loan:
    """Disburse, then each day take the plan's repayment (if any) and close the day; reconcile."""
    loan = Loan()
    loan.post(ProductEvent(kind=EventKind.DISBURSEMENT, currency="XOF",
                           parts=(EventPart(component=Component.PRINCIPAL, amount=TERMS.principal_amount),)))
    for offset in range(1, days + 1):
        day = START + timedelta(days=offset)
        loan.today = day
        if offset in plan:
            repay(loan, plan[offset])
        assert close(loan, day, deposit) == []
        reconcile(loan, day, deposit)
    return loan
