"""Mandatory savings as a rate of each instalment (close-of-business step `loan_savings`): the
savings share of what each instalment received is held on the loan's linked account, once;
short funds are held as they come; a reversed repayment releases what it justified; closing the
loan releases everything. The setting is validated with its field."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from products.loans.product import MandatorySavings, RateOrFlat
from products.posting_rules import AccountingRule
from servicing.loans.instalment_savings import hold_instalment_savings
from tests.api.test_deposit_accounts_api import account, move
from tests.api.test_loan_deposits_api import _verify, dw, linked_loan  # noqa: F401  (fixture)
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    LOANS,
    assert_problem,
    ids,
    make_product,
    refs,
    repay,
)

D = Decimal
TEN_PERCENT_OF_EACH = {"mandatory_savings": MandatorySavings(basis=RateOrFlat.RATE, rate_percent=D(10),
                                                             on_total_instalment=True)}


async def _holds(client, account_id: int) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    return sorted((h["amount"], h["description"], h["released_on"] is not None) for h in holds)


async def test_each_instalment_paid_holds_its_savings_once(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                **TEN_PERCENT_OF_EACH)
    loan_id, account_id, _schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                      product_id, "3000")
    assert (await _holds(client, account_id)) == []  # nothing is held upfront: the savings come with the instalments
    first_day = DISBURSED_ON + timedelta(days=30)
    # Instalment 1 is 52 658 (48 158 principal + 4 500 interest), paid in cash at the counter.
    paid = await repay(client, loan_id, "52658", ids["cash"], on=first_day)
    assert paid.status_code == 201, paid.text
    # 10 % of 52 658 = 5 265.8 -> 5 266; the account has 3 000 available: 3 000 held, 2 266 missing.
    outcome = await hold_instalment_savings(uow_factory, first_day, "tests")
    assert outcome.entries == 0  # a hold is not a posting
    assert await _holds(client, account_id) == [("3000", f"Épargne obligatoire prêt n° {loan_id} échéance 1", False)]
    assert (await account(client, account_id))["available_balance"] == "0"
    again = await hold_instalment_savings(uow_factory, first_day, "tests")
    assert len(await _holds(client, account_id)) == 1 and D(again.detail["held"]) == 0

    # The borrower pays 10 000 in: the 2 266 still missing is held, no more.
    await move(client, account_id, "deposits", "10000", value_date=first_day.isoformat())
    await hold_instalment_savings(uow_factory, first_day + timedelta(days=1), "tests")
    assert [amount for amount, _d, released in await _holds(client, account_id) if not released] == ["2266", "3000"]
    assert (await account(client, account_id))["available_balance"] == "7734"

    # A part of instalment 2 (20 000: 2 000 of savings), then that repayment reversed: its hold is released.
    second_day = first_day + timedelta(days=5)
    part = (await repay(client, loan_id, "20000", ids["cash"], on=second_day)).json()
    await hold_instalment_savings(uow_factory, second_day, "tests")
    held = await _holds(client, account_id)
    assert ("2000", f"Épargne obligatoire prêt n° {loan_id} échéance 2", False) in held
    reversed_ = await client.post(f"{LOANS}/{loan_id}/transactions/{part['transaction_id']}/reversal")
    assert reversed_.status_code == 201, reversed_.text
    await hold_instalment_savings(uow_factory, second_day, "tests")
    assert [(a, r) for a, _d, r in await _holds(client, account_id)] == [
        ("2000", True), ("2266", False), ("3000", False)]

    # Paid off: the loan closes and every hold it placed is released.
    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={"on": second_day.isoformat()})).json()
    assert (await repay(client, loan_id, quote["total"], ids["cash"], on=second_day)).status_code == 201
    assert all(released for _a, _d, released in await _holds(client, account_id))
    assert not await _verify(uow_factory)


async def test_a_loan_saving_on_each_instalment_needs_an_account(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    from tests.api.test_loans_api import approved_loan, disburse

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                **TEN_PERCENT_OF_EACH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    problem = assert_problem(await disburse(client, loan_id, ids["cash"]), 422, "deposit_account_id")
    assert "10 % of each instalment" in problem["detail"], problem
    assert (await client.get(f"{LOANS}/{loan_id}/transactions")).json() == []


@pytest.mark.parametrize("savings, field", [
    ({"basis": "flat", "flat_amount": "5000", "on_total_instalment": True}, "mandatory_savings.on_total_instalment"),
    ({"basis": "rate", "on_total_instalment": True}, "mandatory_savings.rate_percent"),
    ({"basis": "rate", "rate_percent": "101", "on_total_instalment": True}, "mandatory_savings.rate_percent"),
])
async def test_the_setting_is_validated_naming_its_field(client, refs, world, uow_factory, savings, field) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    current = (await client.get(f"/api/v1/loan-products/{product_id}")).json()
    body = {**current["settings"], "mandatory_savings": savings}
    body["identity"] = {**body["identity"], "name": body["identity"]["name"] + " bis",
                        "short_name": body["identity"]["short_name"][:-1] + "b"}
    problem = assert_problem(await client.post("/api/v1/loan-products", json=body), 422)
    assert any(e["field"].endswith(field) for e in problem["errors"]), problem
