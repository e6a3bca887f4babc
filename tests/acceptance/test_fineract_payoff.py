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


async def test_early_repayment_on_15_february(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """Fineract ProgressiveEMICalculatorTest.test_balance_correction_on0215_disbursedAmt100_dayInYears360_daysInMonth30_repayEvery1Month:
    instalment 1 paid on its due date (16.43 + 0.58); on 15 February 17.01 more pays the
    interest of February so far, 83.57 x 7 %/12 x 14/29 = 0.2353 -> 0.24, and 16.77 of
    principal, leaving 66.80. Here x 100: 24 / 1,677 / 6,680.

    Same money, same balance, same total interest afterwards; where the rest of February's
    interest shows differs: Fineract closes instalment 2 (paid in advance) and moves the 0.20
    earned on 66.80 from 15 February to 1 March into instalment 3 (0.39 + 0.20 = 0.59); we keep
    it on instalment 2, whose due date it belongs to (0.24 paid + 0.20 still due), and
    instalment 3 earns March's 0.39."""
    loan_id, portfolio = await fineract_loan(client, refs, ids, world, staff_user, uow_factory)
    first = await repay(client, loan_id, "1701", ids["cash"], on=date(2024, 2, 1))
    assert (first.json()["principal"], first.json()["interest"]) == ("1643", "58"), first.text
    early = await repay(client, loan_id, "1701", ids["cash"], on=date(2024, 2, 15))
    assert early.status_code == 201, early.text
    body = early.json()
    assert (body["interest"], body["principal"], body["overpayment"]) == ("24", "1677", "0"), body
    assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
        ("1012", "D", 1_701), ("7021", "C", 24), (portfolio, "C", 1_677))
    view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": "2024-02-15"})).json()["loan"]
    shown = view["schedule"]["instalments"]
    assert sum(D(i["principal_amount"]) for i in shown[1:]) - 1_677 == 6_680  # Fineract: 66.80 left
    # February's interest: 24 for 1-15 February (paid) + 6,680 x 7 %/12 x 15/29 = 20.16 after.
    assert D(shown[1]["interest_amount"]) == 24 + 20
    assert D(shown[2]["interest_amount"]) == 39  # March on 6,680: Fineract 0.39 + the 0.20 moved
