"""Apache Fineract's payoff (pre-closure) with interest recalculation, through our loan API.

Fineract's figures are in cents of USD on 100.00; our loan products live in XOF, which has no
minor unit, so the loan here is 10,000 XOF: every amount is the published one x 100, and
rounding to the franc is rounding to the cent of the original (0.2634 USD -> 0.26; 26.34 XOF
-> 26).

Configuration: Fineract's progressive loan with "360 days in year / 30 days in month" and
daily interest earns exactly rate / 12 on a whole month, and on a broken part of a month the
monthly rate x actual days / actual days of that month (14/31 from 1 to 15 January). In our
terms that is interest calculated **per repayment period** with **actual days in month** for
the broken part (a 30E/360 day count would give 14/30 instead), interest recalculation daily,
pre-closure interest to the payoff date.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from products.loans.product import AmountRange, CountRange, InterestRecalculation
from products.posting_rules import AccountingRule
from tests.api import test_loans_api
from tests.api.test_loans_api import LOANS, approved_loan, disburse, entry_lines, lines, make_product, repay

D = Decimal
refs = test_loans_api.refs  # the loan tests' module fixtures: demo chart, references, payment types
ids = test_loans_api.ids

SOURCE = ("https://github.com/apache/fineract/blob/develop/fineract-progressive-loan/src/test/java/"
          "org/apache/fineract/portfolio/loanproduct/calc/ProgressiveEMICalculatorTest.java")
DISBURSED = date(2024, 1, 1)


async def fineract_loan(client, refs, ids, world, staff_user, uow_factory) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    """10,000 XOF (100.00 x 100) on 1 January 2024, 7 % a year, 6 monthly instalments."""
    product_id, portfolio = await make_product(
        client, refs, world, uow_factory, AccountingRule.CASH,
        principal=AmountRange(minimum=D(1_000), default=D(10_000), maximum=D(1_000_000)),
        repayment_count=CountRange(minimum=1, default=6, maximum=12),
        interest_rate_percent=AmountRange(minimum=D(1), default=D(7), maximum=D(24)),
        interest_calculation_period="same_as_repayment_period", days_in_month="actual",
        days_in_year="360", interest_recalculation=True, interest_recalculation_settings=InterestRecalculation())
    loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount="10000",
                                  repayment_count=6, interest_rate_percent="7",
                                  expected_disbursement_date=DISBURSED.isoformat())
    made = await disburse(client, loan_id, ids["cash"], value_date=DISBURSED.isoformat())
    assert made.status_code == 201, made.text
    return loan_id, portfolio


async def test_schedule_then_payoff_on_15_january(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """Fineract ProgressiveEMICalculatorTest.test_payoff_on0115_disbursedAmt100_dayInYears360_daysInMonth30_repayEvery1Month:
    EMI 17.01 (instalment 1: 16.43 principal, 0.58 interest); paid off on 15 January the first
    period owes 0.26 of interest (100 x 7 %/12 x 14/31 = 0.2634) and the whole 100 of principal.
    Here x 100: EMI 1,701, payoff 10,000 + 26 = 10,026, which closes the loan."""
    loan_id, portfolio = await fineract_loan(client, refs, ids, world, staff_user, uow_factory)
    view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": DISBURSED.isoformat()})).json()
    assert [(i["principal_amount"], i["interest_amount"], i["total_amount"])
            for i in view["loan"]["schedule"]["instalments"]] == [
        ("1643", "58", "1701"), ("1652", "49", "1701"), ("1662", "39", "1701"),
        ("1672", "29", "1701"), ("1681", "20", "1701"), ("1690", "10", "1700")]
    on = date(2024, 1, 15)
    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={"on": on.isoformat()})).json()
    assert (D(quote["principal"]), D(quote["interest"]), D(quote["total"])) == (10_000, 26, 10_026), quote
    paid = await repay(client, loan_id, quote["total"], ids["cash"], on=on)
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (body["principal"], body["interest"], body["overpayment"]) == ("10000", "26", "0"), body
    assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
        ("1012", "D", 10_026), ("7021", "C", 26), (portfolio, "C", 10_000))
    assert (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["status"] == "closed"
