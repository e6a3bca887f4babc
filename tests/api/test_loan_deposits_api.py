"""Loans and the client's deposit account through HTTP: disbursement into it and repayment from
it (one journal entry each, lines written out by hand), holds for mandatory savings and cash
collateral placed at disbursement and released at closing, eligibility from the client's
deposits, overpayment refund, automatic collection (full, partial, shortfall, idempotent), and
concurrency: repayments and a collection on one loan never take the same due twice nor pass
the account's limit. Bad input names its field and writes nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from products.loans.product import CashCollateral, MandatorySavings
from products.posting_rules import AccountingRole, AccountingRule
from tests.api.test_deposit_accounts_api import account, move, open_account
from tests.api.test_loans_api import (
    APPS,
    DISBURSED_ON,
    LOANS,
    application,
    approved_loan,
    assert_problem,
    entry_lines,
    ids,  # noqa: F401  (fixture)
    lines,
    make_product,
    refs,  # noqa: F401  (fixture)
)
from tests.deposit_support import DepositWorld, deposit_world

D = Decimal
OPENED = (DISBURSED_ON - timedelta(days=10)).isoformat()
_n = iter(range(1, 1_000_000))


@pytest.fixture
async def dw(uow_factory, world, refs) -> DepositWorld:  # type: ignore[no-untyped-def]  # noqa: F811
    return await deposit_world(uow_factory, world)


async def loan_with_account(client, world, staff_user, uow_factory, dw, refs, rule=AccountingRule.CASH,  # type: ignore[no-untyped-def]  # noqa: F811
                            *, balance: str = "0", product_changes: dict[str, Any] | None = None,
                            **changes: Any) -> tuple[int, int, int, str]:
    """An approved loan and an active deposit account of its borrower (with ``balance`` on it)."""
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule, **(product_changes or {}))
    loan_id = await approved_loan(client, world, staff_user, product_id, **changes)
    client_id = (await client.get(f"{APPS}/{loan_id}")).json()["client_id"]
    opened = await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED)
    if D(balance) > 0:
        await move(client, opened["account_id"], "deposits", balance, value_date=OPENED)
    return loan_id, opened["account_id"], client_id, portfolio


async def disburse_into(client, loan_id: int, account_id: int, **changes: Any) -> Any:  # type: ignore[no-untyped-def]
    body = {"value_date": DISBURSED_ON.isoformat(), "deposit_account_id": account_id, **changes}
    return await client.post(f"{LOANS}/{loan_id}/disburse", json=body, headers={"Idempotency-Key": f"dd-{next(_n)}"})


async def repay_from(client, loan_id: int, account_id: int, amount: str, *, days: int = 40) -> Any:  # type: ignore[no-untyped-def]
    return await client.post(f"{LOANS}/{loan_id}/repayments", json={
        "value_date": (DISBURSED_ON + timedelta(days=days)).isoformat(), "amount": amount,
        "deposit_account_id": account_id}, headers={"Idempotency-Key": f"rd-{next(_n)}"})


async def counts(uow_factory, loan_id: int, account_id: int) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        row = (await uow.session.execute(text(
            "SELECT (SELECT count(*) FROM loan_transaction WHERE loan_id = :loan),"
            " (SELECT count(*) FROM deposit_transaction WHERE account_id = :account),"
            " (SELECT count(*) FROM deposit_hold WHERE account_id = :account)"),
            {"loan": loan_id, "account": account_id})).one()
    return int(row[0]), int(row[1]), int(row[2])


# --------------------------------------------------------------------------- disbursement and repayment

@pytest.mark.parametrize("rule", [AccountingRule.CASH, AccountingRule.ACCRUAL_UPFRONT])
async def test_disbursement_into_and_repayment_from_the_deposit_account(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw, rule) -> None:  # noqa: F811
    loan_id, account_id, _client_id, portfolio = await loan_with_account(
        client, world, staff_user, uow_factory, dw, refs, rule)
    control = dw.accounts[AccountingRole.DEPOSIT_CONTROL]
    made = await disburse_into(client, loan_id, account_id)
    assert made.status_code == 201, made.text
    movement = made.json()
    assert movement["payment_type_id"] is None and movement["fee"] == "3000"
    # 300 000 lent, 1 % file fee withheld: the account receives 297 000; no cash moves.
    expected = lines((portfolio, "D", 300_000), (control, "D", 3_000), (control, "C", 300_000), ("7022", "C", 3_000))
    if rule is AccountingRule.ACCRUAL_UPFRONT:
        interest = D(movement["interest"])
        expected |= lines(("2071", "D", int(interest)), ("7021", "C", int(interest)))
    assert await entry_lines(uow_factory, movement["journal_entry_id"]) == expected
    shown = await account(client, account_id)
    assert (shown["balance"], shown["available_balance"]) == ("297000", "347000")  # + 50 000 overdraft
    deposited = (await client.get(f"/api/v1/deposit-accounts/{account_id}/transactions")).json()
    assert [(t["kind"], t["amount"], t["journal_entry_id"]) for t in deposited] == [
        ("deposit", "297000", movement["journal_entry_id"])]

    paid = await repay_from(client, loan_id, account_id, "10000")
    assert paid.status_code == 201, paid.text
    repayment = paid.json()
    assert (repayment["interest"], repayment["principal"]) == ("4500", "5500")
    receivable = "7021" if rule is AccountingRule.CASH else "2071"
    assert await entry_lines(uow_factory, repayment["journal_entry_id"]) == lines(
        (control, "D", 10_000), (receivable, "C", 4_500), (portfolio, "C", 5_500))
    assert (await account(client, account_id))["balance"] == "287000"
    verified = await _verify(uow_factory)
    assert not [row for row in verified if str(account_id) in str(row)], verified


async def _verify(uow_factory) -> list[Any]:  # type: ignore[no-untyped-def]
    from servicing.deposits.verification import DEPOSIT_CHECKS
    found: list[Any] = []
    async with uow_factory() as uow:
        for query in DEPOSIT_CHECKS:
            found += (await uow.session.execute(text(query))).all()
    return found
