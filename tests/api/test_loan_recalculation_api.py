"""Interest recalculation through HTTP: an early payment lowers the interest, a late one
raises it, the payoff quote counts interest to the date (or to the rest date) and paying it
closes the loan with no overpayment; the journal lines written out by hand. The loan:
300,000 XOF at 18 % (1.5 % a month), 6 monthly instalments: instalment 1 is 48,158 of
principal and 4,500 of interest, instalment 2 48,880 and 3,778."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest

from products.loans.product import InterestRecalculation, PreClosureInterest, RecalculationFrequency
from products.posting_rules import AccountingRule
from tests.api import test_loans_api
from tests.api.test_clients_api import assert_problem
from tests.api.test_loans_api import (
    DISBURSED_ON,
    LOANS,
    approved_loan,
    disburse,
    entry_lines,
    lines,
    make_product,
    repay,
)

D = Decimal
RATE = D("0.015")
refs = test_loans_api.refs  # the loan tests' module fixtures: demo chart, references, payment types
ids = test_loans_api.ids


def whole(value: Decimal) -> Decimal:
    return value.quantize(D(1), rounding=ROUND_HALF_EVEN)


async def recalculating_loan(client, refs, ids, world, staff_user, uow_factory,  # type: ignore[no-untyped-def]
                             recalculation: InterestRecalculation = InterestRecalculation(),
                             ) -> tuple[int, str, list[date]]:
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                               interest_recalculation=True,
                                               interest_recalculation_settings=recalculation)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": DISBURSED_ON.isoformat()})).json()[
        "loan"]["schedule"]
    assert [(i["principal_amount"], i["interest_amount"]) for i in schedule["instalments"][:2]] == [
        ("48158", "4500"), ("48880", "3778")]
    return loan_id, portfolio, [date.fromisoformat(i["due_date"]) for i in schedule["instalments"]]


async def instalments(client, loan_id: int, on: date) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": on.isoformat()})).json()
    return view["loan"]["schedule"]["instalments"]  # type: ignore[no-any-return]


async def test_early_payment_lowers_the_interest(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    loan_id, portfolio, due = await recalculating_loan(client, refs, ids, world, staff_user, uow_factory)
    days = (due[0] - DISBURSED_ON).days  # days of the first period
    paid_on = DISBURSED_ON + timedelta(days=10)
    # 100,000 paid 10 days after disbursement pays the interest locked so far, 4,500 x 10 / days, then
    # principal oldest instalment first: 48,158 (1), 48,880 (2), the rest on instalment 3.
    locked = whole(D(4500) * 10 / days)
    paid = await repay(client, loan_id, "100000", ids["cash"], on=paid_on)
    assert paid.status_code == 201, paid.text
    body = paid.json()
    assert (D(body["interest"]), D(body["principal"])) == (locked, 100_000 - locked)
    assert [(a["instalment"], a["component"], D(a["amount"])) for a in body["allocation"]] == [
        (1, "interest", locked), (1, "principal", 48_158), (2, "principal", 48_880),
        (3, "principal", 100_000 - locked - 48_158 - 48_880)]
    assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
        ("1012", "D", 100_000), ("7021", "C", int(locked)), (portfolio, "C", int(100_000 - locked)))
    # The balance is 200,000 + locked from the payment on: the first period earns 300,000 for 10 days and
    # the rest for the other days; the second period earns 1.5 % of it (the schedule said 3,778).
    left = 200_000 + locked
    shown = await instalments(client, loan_id, paid_on)
    assert D(shown[0]["interest_amount"]) == whole(300_000 * RATE * 10 / days + left * RATE * (days - 10) / days)
    assert D(shown[1]["interest_amount"]) == whole(left * RATE) < 3_778
    assert D(shown[0]["interest_amount"]) < 4_500


async def test_late_payment_raises_the_interest(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    loan_id, portfolio, due = await recalculating_loan(client, refs, ids, world, staff_user, uow_factory)
    days = (due[1] - due[0]).days  # days of the second period
    late = due[0] + timedelta(days=10)
    # Unpaid 10 days after its due date: the 48,158 of instalment 1 still earns in the second period.
    raised = whole(300_000 * RATE * 10 / days + 251_842 * RATE * (days - 10) / days)
    assert D((await instalments(client, loan_id, late))[1]["interest_amount"]) == raised > 3_778
    paid = (await repay(client, loan_id, "52658", ids["cash"], on=late)).json()
    assert (paid["interest"], paid["principal"]) == ("4500", "48158"), paid
    assert await entry_lines(uow_factory, paid["journal_entry_id"]) == lines(
        ("1012", "D", 52_658), ("7021", "C", 4_500), (portfolio, "C", 48_158))
    later = await instalments(client, loan_id, late + timedelta(days=5))
    assert D(later[1]["interest_amount"]) == raised, "paid: the second period stops growing"
    assert D(later[1]["total_amount"]) == 48_880 + raised


@pytest.mark.parametrize(("recalculation", "basis"), [
    (InterestRecalculation(), "to_date"),
    (InterestRecalculation(frequency=RecalculationFrequency.MONTHLY,
                           pre_closure_interest=PreClosureInterest.TO_REST_DATE), "to_rest_date")])
async def test_payoff_quote_to_date_closes_the_loan(client, refs, ids, world, staff_user, uow_factory,  # type: ignore[no-untyped-def]
                                                    recalculation, basis) -> None:
    loan_id, portfolio, due = await recalculating_loan(client, refs, ids, world, staff_user, uow_factory,
                                                       recalculation)
    days = (due[0] - DISBURSED_ON).days
    on = DISBURSED_ON + timedelta(days=20)
    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={"on": on.isoformat()})).json()
    # To the date: 4,500 x 20 / days; to the rest date (the next monthly boundary, the first due date): 4,500.
    interest = whole(D(4500) * 20 / days) if basis == "to_date" else D(4500)
    assert (quote["basis"], D(quote["principal"]), D(quote["interest"])) == (basis, 300_000, interest)
    assert D(quote["total"]) == 300_000 + interest
    paid = (await repay(client, loan_id, quote["total"], ids["cash"], on=on)).json()
    assert (paid["overpayment"], D(paid["interest"])) == ("0", interest), paid
    assert await entry_lines(uow_factory, paid["journal_entry_id"]) == lines(
        ("1012", "D", int(300_000 + interest)), ("7021", "C", int(interest)), (portfolio, "C", 300_000))
    assert (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["status"] == "closed"


async def test_recalculation_refusals(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    loan_id, _portfolio, _due = await recalculating_loan(client, refs, ids, world, staff_user, uow_factory)
    assert (await repay(client, loan_id, "1000", ids["cash"], on=DISBURSED_ON + timedelta(days=30))).status_code == 201
    assert_problem(await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={
        "on": (DISBURSED_ON + timedelta(days=29)).isoformat()}), 422, "on")
    loan = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]
    settings = (await client.get(f"/api/v1/loan-products/{loan['product_id']}")).json()["settings"]
    settings["accounting"]["rule"] = "accrual_upfront"
    settings["identity"] = {"name": settings["identity"]["name"] + " bis", "short_name": "RECALC-UP"}
    assert_problem(await client.post("/api/v1/loan-products", json=settings), 422, "interest_recalculation")
