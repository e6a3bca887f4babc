"""Apache Fineract's repayment strategies (transaction processing strategies), through our loan API.

Fineract names a strategy by its allocation order inside each instalment, instalments oldest
first ("horizontal"): "Penalties, Fees, Interest, Principal order" (mifos-standard-strategy,
the default), "Principal, Interest, Penalties, Fees Order" and "Interest, Principal, Penalties,
Fees Order". Ours is the product's `allocation_order_healthy` (and `allocation_order_doubtful`
for a doubtful loan, which the same Fineract strategies cannot express): each Fineract
strategy is one of our configurations.

The loan is Fineract's published progressive schedule (100 at 7 %, 6 months, 360/30: EMI
17.01, instalment 1 = 16.43 + 0.58, instalment 2 = 16.52 + 0.49) x 100 in XOF, which has no
minor unit: 10,000 XOF, EMI 1,701.

Sources: https://github.com/apache/fineract/blob/develop/fineract-loan/src/main/java/org/apache/fineract/portfolio/loanaccount/domain/transactionprocessor/impl/PrincipalInterestPenaltyFeesOrderLoanRepaymentScheduleTransactionProcessor.java
(and the sibling processors), ProgressiveEMICalculatorTest for the schedule.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from products.loans.product import AllocationScope, AmountRange, CountRange, RepaymentComponent
from products.posting_rules import AccountingRule
from tests.api import test_loans_api
from tests.api.test_loans_api import approved_loan, disburse, make_product, repay

D = Decimal
refs = test_loans_api.refs
ids = test_loans_api.ids

PEN, FEE, INT, PRI = (RepaymentComponent.PENALTY, RepaymentComponent.FEE, RepaymentComponent.INTEREST,
               RepaymentComponent.PRINCIPAL)
STRATEGIES = {
    "mifos-standard-strategy": (PEN, FEE, INT, PRI),
    "principal-interest-penalties-fees-order-strategy": (PRI, INT, PEN, FEE),
    "interest-principal-penalties-fees-order-strategy": (INT, PRI, PEN, FEE),
}
DISBURSED = date(2024, 1, 1)


async def loan_with_order(client, refs, ids, world, staff_user, uow_factory, order,  # type: ignore[no-untyped-def]
                          scope: AllocationScope = AllocationScope.HORIZONTAL) -> int:
    product_id, _ = await make_product(
        client, refs, world, uow_factory, AccountingRule.CASH,
        principal=AmountRange(minimum=D(1_000), default=D(10_000), maximum=D(1_000_000)),
        repayment_count=CountRange(minimum=1, default=6, maximum=12),
        interest_rate_percent=AmountRange(minimum=D(1), default=D(7), maximum=D(24)),
        interest_calculation_period="daily", days_in_year="360", days_in_month="30",
        allocation_order_healthy=order, allocation_scope=scope)
    loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount="10000",
                                  repayment_count=6, interest_rate_percent="7",
                                  expected_disbursement_date=DISBURSED.isoformat())
    assert (await disburse(client, loan_id, ids["cash"], value_date=DISBURSED.isoformat())).status_code == 201
    return loan_id


def split(body: dict) -> list[tuple[int, str, Decimal]]:  # type: ignore[type-arg]
    return [(a["instalment"], a["component"], D(a["amount"])) for a in body["allocation"]]


@pytest.mark.parametrize(("strategy", "expected"), [
    ("mifos-standard-strategy", [(1, "interest", 58), (1, "principal", 942)]),
    ("principal-interest-penalties-fees-order-strategy", [(1, "principal", 1000)]),
    ("interest-principal-penalties-fees-order-strategy", [(1, "interest", 58), (1, "principal", 942)]),
])
async def test_partial_payment_on_the_due_date(client, refs, ids, world, staff_user, uow_factory,  # type: ignore[no-untyped-def]
                                              strategy, expected) -> None:
    """10.00 (1,000 XOF) paid on the first due date against 17.01 due (16.43 principal, 0.58
    interest): the standard and interest-first strategies take the interest first (0.58, then
    9.42 of principal); "Principal, Interest, ..." puts it all on principal."""
    loan_id = await loan_with_order(client, refs, ids, world, staff_user, uow_factory, STRATEGIES[strategy])
    paid = await repay(client, loan_id, "1000", ids["cash"], on=date(2024, 2, 1))
    assert paid.status_code == 201, paid.text
    assert split(paid.json()) == expected


@pytest.mark.parametrize(("strategy", "expected"), [
    ("mifos-standard-strategy",
     [(1, "interest", 58), (1, "principal", 1643), (2, "interest", 49), (2, "principal", 1452)]),
    ("principal-interest-penalties-fees-order-strategy",
     [(1, "principal", 1643), (1, "interest", 58), (2, "principal", 1501)]),
])
async def test_late_payment_pays_the_oldest_instalment_first(client, refs, ids, world, staff_user,  # type: ignore[no-untyped-def]
                                                             uow_factory, strategy, expected) -> None:
    """Two instalments overdue on 5 March (17.01 each): 32.02 (3,202 XOF) pays instalment 1 in
    full, in the strategy's order, then instalment 2 in the same order until the money runs out
    (Fineract's processors walk the installments oldest first, horizontally)."""
    loan_id = await loan_with_order(client, refs, ids, world, staff_user, uow_factory, STRATEGIES[strategy])
    paid = await repay(client, loan_id, "3202", ids["cash"], on=date(2024, 3, 5))
    assert paid.status_code == 201, paid.text
    assert split(paid.json()) == expected


@pytest.mark.parametrize(("scope", "expected"), [
    (AllocationScope.HORIZONTAL, [(1, "interest", 58), (1, "principal", 942)]),
    (AllocationScope.VERTICAL, [(1, "interest", 58), (2, "interest", 49), (1, "principal", 893)]),
])
async def test_vertical_pays_every_overdue_interest_before_principal(client, refs, ids, world, staff_user,  # type: ignore[no-untyped-def]
                                                                     uow_factory, scope, expected) -> None:
    """Fineract's "Overdue/Due Fee/Int, Principal" (rbi-india-strategy) and Mambu's vertical
    payments pay the interest (and fees) of every overdue instalment before any principal.
    Ours is `allocation_scope: vertical` with the same order. 10.00 (1,000 XOF) paid on
    5 March with instalments 1 and 2 overdue: horizontally 0.58 + 9.42 on instalment 1;
    vertically 0.58 and 0.49 of interest, then 8.93 of the oldest principal.
    Sources: Fineract's strategy list (rbi-india-strategy, "Overdue/Due Fee/Int,Principal");
    Mambu "Repayment collection: horizontal and vertical payments",
    https://support.mambu.com/docs/repayment-collection/"""
    loan_id = await loan_with_order(client, refs, ids, world, staff_user, uow_factory,
                                    STRATEGIES["mifos-standard-strategy"], scope)
    paid = await repay(client, loan_id, "1000", ids["cash"], on=date(2024, 3, 5))
    assert paid.status_code == 201, paid.text
    assert split(paid.json()) == expected
