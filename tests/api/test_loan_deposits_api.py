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
    borrower,
    disburse,
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


async def test_refusals_name_the_field_and_write_nothing(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    loan_id, account_id, _client_id, _portfolio = await loan_with_account(
        client, world, staff_user, uow_factory, dw, refs)
    stranger = await open_account(client, uow_factory, dw, opened_on=OPENED)
    xaf = await _xaf_product(uow_factory, dw)
    foreign = await open_account(client, uow_factory, xaf, client_id=_client_id, opened_on=OPENED)
    frozen = await open_account(client, uow_factory, dw, client_id=_client_id, opened_on=OPENED)
    assert (await client.post(f"/api/v1/deposit-accounts/{frozen['account_id']}/freeze",
                              json={"reason": "litige"})).status_code == 200
    before = await counts(uow_factory, loan_id, account_id)
    for wrong, words in ((stranger["account_id"], "another client"), (foreign["account_id"], "XAF"),
                         (frozen["account_id"], "frozen"), (99_999_999, "unknown")):
        problem = assert_problem(await disburse_into(client, loan_id, wrong), 422, "deposit_account_id")
        assert words in problem["detail"], problem
    assert_problem(await client.post(f"{LOANS}/{loan_id}/disburse", json={
        "value_date": DISBURSED_ON.isoformat(), "deposit_account_id": account_id, "payment_type_id": ids["cash"]}),
        422, "payment_type_id")
    assert await counts(uow_factory, loan_id, account_id) == before
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "approved"

    assert (await disburse_into(client, loan_id, account_id)).status_code == 201
    before = await counts(uow_factory, loan_id, account_id)
    # 297 000 on the account, 50 000 of overdraft: 347 001 is one too many.
    problem = assert_problem(await repay_from(client, loan_id, account_id, "347001"), 422, "amount")
    assert problem["type"].endswith("insufficient-available-balance"), problem
    assert_problem(await repay_from(client, loan_id, stranger["account_id"], "1000"), 422, "deposit_account_id")
    assert await counts(uow_factory, loan_id, account_id) == before
    assert (await account(client, account_id))["balance"] == "297000"


async def test_repayment_drawing_on_the_overdraft_posts_it_to_the_overdraft_portfolio(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    loan_id, account_id, _client_id, portfolio = await loan_with_account(
        client, world, staff_user, uow_factory, dw, refs)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    await move(client, account_id, "deposits", "6000", value_date=OPENED)
    paid = await repay_from(client, loan_id, account_id, "10000")
    assert paid.status_code == 201, paid.text
    control, overdraft = dw.accounts[AccountingRole.DEPOSIT_CONTROL], dw.accounts[AccountingRole.OVERDRAFT_PORTFOLIO]
    # 6 000 of the client's funds, 4 000 drawn on the overdraft, in the repayment's one entry.
    assert await entry_lines(uow_factory, paid.json()["journal_entry_id"]) == lines(
        (control, "D", 10_000), (control, "C", 4_000), (overdraft, "D", 4_000), ("7021", "C", 4_500),
        (portfolio, "C", 5_500))
    assert (await account(client, account_id))["balance"] == "-4000"
    assert not await _verify(uow_factory)


async def _xaf_product(uow_factory, dw: DepositWorld) -> DepositWorld:  # type: ignore[no-untyped-def]
    from products.accounting import ProductAccounting
    from products.catalogue.common import ProductIdentity
    from products.deposits.product import DepositProduct
    from servicing.products import service as products
    n = next(_n)
    product = DepositProduct(identity=ProductIdentity(name=f"Épargne XAF {dw.prefix} {n}", short_name=f"X{n}"[:10]),
                             currency="XAF", interest_rate_annual_percent=D(0),
                             accounting=ProductAccounting(rule=AccountingRule.CASH, accounts=dw.accounts))
    record = await products.create_product(uow_factory(), product, "tests")
    return DepositWorld(office_id=dw.office_id, prefix=dw.prefix, product_id=record.product_id, accounts=dw.accounts)


# --------------------------------------------------------------------------- holds and eligibility

SAVINGS = {"mandatory_savings": MandatorySavings(rate_percent=D(10)),
           "cash_collateral": CashCollateral(rate_min_percent=D(5), rate_max_percent=D(10))}


async def test_holds_eligibility_and_release(client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """300 000 asks 30 000 of mandatory savings and 15 000 of cash collateral (45 000 held)."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **SAVINGS)
    client_id = await borrower(client, world, staff_user)
    opened = await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED, overdraft_limit="0")
    account_id = opened["account_id"]
    await move(client, account_id, "deposits", "40000", value_date=OPENED)
    loan_id = (await client.post(APPS, json=application(client_id, product_id))).json()["loan_id"]
    rules = {r["rule"]: r for r in (await client.post(f"{APPS}/{loan_id}/pre-check")).json()["rules"]}
    assert rules["mandatory_savings"]["outcome"] == "passed", rules["mandatory_savings"]
    assert (rules["cash_collateral"]["outcome"], rules["cash_collateral"]["blocking"]) == ("failed", True)
    assert rules["cash_collateral"]["reason"] == (
        "15000 XOF of cash collateral required (after 30000 XOF for the rules above): the client's deposit "
        "accounts have 40000 available, 5000 missing")
    problem = assert_problem(await client.post(f"{APPS}/{loan_id}/submit"), 422)
    assert "cash_collateral" in str(problem)
    await move(client, account_id, "deposits", "5000", value_date=OPENED)
    assert (await client.post(f"{APPS}/{loan_id}/submit")).status_code == 200
    checker = await staff_user("branch_manager", office_id=world.office_id)
    assert (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)).status_code == 200

    # Disbursed in cash while no account is linked: refused, the holds have nowhere to go.
    assert_problem(await disburse(client, loan_id, ids["cash"]), 422, "deposit_account_id")
    made = await disburse_into(client, loan_id, account_id)
    assert made.status_code == 201, made.text
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    assert sorted((h["reason"], h["amount"], h["released_on"]) for h in holds) == [
        ("cash_collateral", "15000", None), ("guarantee", "30000", None)]
    shown = await account(client, account_id)
    assert (shown["balance"], shown["available_balance"]) == ("342000", "297000")  # 45 000 + 297 000 - 45 000 held

    # Undo: the holds are released and the 297 000 taken back.
    undone = await client.post(f"{LOANS}/{loan_id}/undo-disbursement")
    assert undone.status_code == 201, undone.text
    shown = await account(client, account_id)
    assert (shown["balance"], shown["available_balance"]) == ("45000", "45000")
    assert all(h["released_on"] for h in (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json())

    # Disbursed again; paid off from the account: the loan closes and its holds are released.
    assert (await disburse_into(client, loan_id, account_id)).status_code == 201
    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote",
                              params={"on": (DISBURSED_ON + timedelta(days=40)).isoformat()})).json()
    await move(client, account_id, "deposits", "100000", value_date=OPENED)
    paid = await repay_from(client, loan_id, account_id, quote["total"])
    assert paid.status_code == 201, paid.text
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    assert len(holds) == 4 and all(h["released_on"] for h in holds)
    shown = await account(client, account_id)
    assert shown["available_balance"] == shown["balance"]
    assert not await _verify(uow_factory)


async def test_overpayment_refund_to_the_deposit_account(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    loan_id, account_id, _client_id, _portfolio = await loan_with_account(
        client, world, staff_user, uow_factory, dw, refs)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = DISBURSED_ON + timedelta(days=40)
    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={"on": on.isoformat()})).json()
    over = str(D(quote["total"]) + 7_000)
    paid = await client.post(f"{LOANS}/{loan_id}/repayments", json={
        "value_date": on.isoformat(), "amount": over, "payment_type_id": ids["cash"]})
    assert paid.status_code == 201 and paid.json()["overpayment"] == "7000", paid.text
    url = f"{LOANS}/{loan_id}/overpayment-refunds"
    body = {"value_date": on.isoformat(), "amount": "7001", "deposit_account_id": account_id}
    assert_problem(await client.post(url, json=body), 422, "amount")
    refunded = await client.post(url, json={**body, "amount": "5000"}, headers={"Idempotency-Key": f"rf-{loan_id}"})
    assert refunded.status_code == 201, refunded.text
    control = dw.accounts[AccountingRole.DEPOSIT_CONTROL]
    assert refunded.json()["kind"] == "overpayment_refund"
    assert await entry_lines(uow_factory, refunded.json()["journal_entry_id"]) == lines(
        ("342", "D", 5_000), (control, "C", 5_000))
    again = await client.post(url, json={**body, "amount": "5000"}, headers={"Idempotency-Key": f"rf-{loan_id}"})
    assert again.json()["transaction_id"] == refunded.json()["transaction_id"]
    assert (await account(client, account_id))["balance"] == "5000"
    # The 2 000 left goes back in cash (fund source 1012).
    cash = await client.post(url, json={"value_date": on.isoformat(), "amount": "2000", "payment_type_id": ids["cash"]})
    assert cash.status_code == 201, cash.text
    assert await entry_lines(uow_factory, cash.json()["journal_entry_id"]) == lines(("342", "D", 2_000),
                                                                                     ("1012", "C", 2_000))
    assert_problem(await client.post(url, json={**body, "amount": "1"}), 422, "amount")
    # The overpayment went back to the borrower: the repayment that brought it is not reversed.
    assert_problem(await client.post(f"{LOANS}/{loan_id}/transactions/{paid.json()['transaction_id']}/reversal"),
                   409, "transaction_id")
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"


# --------------------------------------------------------------------------- automatic collection

async def linked_loan(client, world, staff_user, uow_factory, dw, refs, ids, product_id: int, balance: str  # type: ignore[no-untyped-def]  # noqa: F811
                      ) -> tuple[int, int, list[dict[str, Any]]]:
    """A loan disbursed in cash, linked to its borrower's account (no overdraft) holding ``balance``."""
    loan_id = await approved_loan(client, world, staff_user, product_id)
    client_id = (await client.get(f"{APPS}/{loan_id}")).json()["client_id"]
    account_id = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED,
                                     overdraft_limit="0"))["account_id"]
    if D(balance) > 0:
        await move(client, account_id, "deposits", balance, value_date=OPENED)
    linked = await client.put(f"{LOANS}/{loan_id}/deposit-account", json={"deposit_account_id": account_id})
    assert linked.status_code == 200 and linked.json()["deposit_account_id"] == account_id, linked.text
    made = await disburse(client, loan_id, ids["cash"])
    assert made.status_code == 201, made.text
    schedule = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    return loan_id, account_id, schedule


async def test_collection_full_partial_shortfall_and_idempotent(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    partial_ok, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    whole_only, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                       partial_instalment_payment_allowed=False)
    full, full_account, schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                     partial_ok, "200000")
    part, part_account, _ = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids, partial_ok, "30000")
    whole, whole_account, _ = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids, whole_only,
                                                "60000")
    empty, _empty_account, _ = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids, partial_ok,
                                                 "0")
    on = schedule[1]["due_date"]  # instalments 1 and 2 are due
    first, second = D(schedule[0]["total_amount"]), D(schedule[1]["total_amount"])
    due = first + second
    manager = await staff_user("branch_manager", office_id=world.office_id)
    assert_problem(await client.post("/api/v1/loan-collections", json={"collection_date": (DISBURSED_ON + timedelta(days=4000)).isoformat()},
                                     headers=manager.headers), 422, "collection_date")
    ran = await client.post("/api/v1/loan-collections", json={"collection_date": on}, headers=manager.headers)
    assert ran.status_code == 200, ran.text
    summary = ran.json()
    assert (summary["loans_seen"], summary["loans_collected_in_full"], summary["loans_collected_in_part"],
            summary["loans_with_nothing_collected"]) == (4, 1, 2, 1), summary
    assert D(summary["amount_collected"]) == due + 30_000 + first
    assert D(summary["amount_missing"]) == (due - 30_000) + second + due

    assert (await account(client, full_account))["balance"] == str(200_000 - due)
    assert (await account(client, part_account))["balance"] == "0"
    assert (await account(client, whole_account))["balance"] == str(60_000 - first)
    transactions = (await client.get(f"{LOANS}/{full}/transactions")).json()
    collected = transactions[-1]
    assert (collected["kind"], collected["value_date"], collected["receipt_number"]) == (
        "repayment", on, f"PRLV {on}")
    control = dw.accounts[AccountingRole.DEPOSIT_CONTROL]
    entry = await entry_lines(uow_factory, collected["journal_entry_id"])
    assert (control, "D", due.normalize()) in entry
    whole_paid = (await client.get(f"{LOANS}/{whole}/transactions")).json()[-1]
    assert {line["instalment"] for line in whole_paid["allocation"]} == {1}, "whole instalments only"

    events = (await client.get("/api/v1/loan-collections/insufficient-funds", params={"collection_date": on},
                               headers=manager.headers)).json()
    assert sorted((e["loan_id"], D(e["amount_due"]), D(e["amount_collected"]), D(e["amount_missing"]))
                  for e in events) == sorted([(part, due, D(30_000), due - 30_000), (whole, due, first, second),
                                              (empty, due, D(0), due)])
    again = (await client.post("/api/v1/loan-collections", json={"collection_date": on},
                               headers=manager.headers)).json()
    assert (again["loans_seen"], again["amount_collected"]) == (0, "0"), "a second run for the date collects nothing"
    assert len((await client.get(f"{LOANS}/{full}/transactions")).json()) == len(transactions)
    assert not await _verify(uow_factory)


async def test_concurrent_repayments_and_collection_never_take_a_due_twice(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id, account_id, schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                      product_id, "100000")
    on = schedule[1]["due_date"]
    days = (DISBURSED_ON.fromisoformat(on) - DISBURSED_ON).days
    manager = await staff_user("branch_manager", office_id=world.office_id)
    answers = await asyncio.gather(
        repay_from(client, loan_id, account_id, "60000", days=days),
        repay_from(client, loan_id, account_id, "60000", days=days),
        client.post("/api/v1/loan-collections", json={"collection_date": on}, headers=manager.headers),
        client.post(f"/api/v1/deposit-accounts/{account_id}/withdrawals", json={"amount": "50000"}))
    withdrawn = D(50_000) if answers[3].status_code == 201 else D(0)
    assert answers[3].status_code in (201, 422), answers[3].text
    for answer in answers[:2]:
        assert answer.status_code in (201, 422), answer.text
        if answer.status_code == 422:
            assert answer.json()["field"] in ("amount", "value_date"), answer.text
    assert answers[2].status_code == 200, answers[2].text
    transactions = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
    repaid = [t for t in transactions if t["kind"] == "repayment"]
    taken = sum((D(t["amount"]) for t in repaid), D(0))
    shown = await account(client, account_id)
    assert D(shown["balance"]) >= 0 and D(shown["balance"]) == 100_000 - taken - withdrawn
    paid: dict[tuple[int, str], Decimal] = {}
    for t in repaid:
        for line in t["allocation"]:
            key = (line["instalment"], line["component"])
            paid[key] = paid.get(key, D(0)) + D(line["amount"])
    expected = {(i["number"], c): D(i[f"{c}_amount"]) for i in schedule for c in ("principal", "interest")}
    assert all(amount <= expected[key] for key, amount in paid.items()), (paid, expected)
    debits = (await client.get(f"/api/v1/deposit-accounts/{account_id}/transactions")).json()
    assert sum(D(t["amount"]) for t in debits if t["kind"] == "withdrawal") == taken + withdrawn
    assert not await _verify(uow_factory)


async def test_reversal_gives_the_money_back_and_retakes_later_repayments_from_the_account(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    loan_id, account_id, _client_id, _portfolio = await loan_with_account(
        client, world, staff_user, uow_factory, dw, refs, balance="50000")
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    first = (await repay_from(client, loan_id, account_id, "10000")).json()
    second = (await repay_from(client, loan_id, account_id, "5000", days=45)).json()
    assert (await account(client, account_id))["balance"] == "35000"
    written = await client.post(f"{LOANS}/{loan_id}/transactions/{first['transaction_id']}/reversal")
    assert written.status_code == 201, written.text
    kinds = [(t["kind"], t["amount"]) for t in written.json()]
    assert kinds == [("repayment_reversal", "10000"), ("repayment_reversal", "5000"), ("repayment", "5000")]
    retaken = written.json()[-1]
    assert (retaken["interest"], retaken["principal"]) == ("4500", "500"), "the 5 000 now pays instalment 1 first"
    assert (await account(client, account_id))["balance"] == "45000"
    moved = (await client.get(f"/api/v1/deposit-accounts/{account_id}/transactions")).json()
    assert [(t["kind"], t["amount"]) for t in moved][-5:] == [
        ("withdrawal", "10000"), ("withdrawal", "5000"), ("withdrawal_reversal", "10000"),
        ("withdrawal_reversal", "5000"), ("withdrawal", "5000")]
    assert moved[-1]["journal_entry_id"] == retaken["journal_entry_id"]
    assert second["transaction_id"] != retaken["transaction_id"]
    assert not await _verify(uow_factory)


async def test_undo_is_refused_when_the_account_no_longer_holds_the_money(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    loan_id, account_id, _client_id, _portfolio = await loan_with_account(
        client, world, staff_user, uow_factory, dw, refs)
    assert (await disburse_into(client, loan_id, account_id)).status_code == 201
    await move(client, account_id, "withdrawals", "297000")  # spent; 50 000 of overdraft cannot take it back
    before = await counts(uow_factory, loan_id, account_id)
    assert_problem(await client.post(f"{LOANS}/{loan_id}/undo-disbursement"), 409, "deposit_account_id")
    assert await counts(uow_factory, loan_id, account_id) == before
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "active"


# --------------------------------------------------------------------------- write-off and guarantees

async def guaranteed_loan(client, world, staff_user, uow_factory, dw, product_id: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A new borrower's loan of 300 000 disbursed into their account (45 000 deposited first, the
    product's guarantees held on it): (loan, account)."""
    client_id = await borrower(client, world, staff_user)
    account_id = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED))["account_id"]
    await move(client, account_id, "deposits", "45000", value_date=OPENED)
    loan_id = (await client.post(APPS, json=application(client_id, product_id))).json()["loan_id"]
    assert (await client.post(f"{APPS}/{loan_id}/submit")).status_code == 200
    checker = await staff_user("branch_manager", office_id=world.office_id)
    assert (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)).status_code == 200
    assert (await disburse_into(client, loan_id, account_id)).status_code == 201
    return loan_id, account_id


@pytest.mark.parametrize("apply_guarantees", [True, False])
async def test_a_write_off_applies_the_guarantees_then_releases_every_hold(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw, apply_guarantees) -> None:  # noqa: F811
    """30 000 of mandatory savings and 15 000 of cash collateral held for a loan of 300 000 (cash
    rule). Written off 40 days after the disbursement: the 45 000 held is first taken from the
    account as a repayment (the first instalment's 4 500 interest, then 40 500 of principal),
    only the remaining 259 500 goes to losses, and both holds are released. A product that does
    not apply guarantees writes off the 300 000 and only releases the holds."""
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **SAVINGS,
                                               apply_guarantees_on_write_off=apply_guarantees)
    loan_id, account_id = await guaranteed_loan(client, world, staff_user, uow_factory, dw, product_id)
    control = dw.accounts[AccountingRole.DEPOSIT_CONTROL]
    assert (await account(client, account_id))["available_balance"] == "347000"  # 342 000 - 45 000 + 50 000
    on = (DISBURSED_ON + timedelta(days=40)).isoformat()
    written = await client.post(f"{LOANS}/{loan_id}/write-off", json={"reason": "Client insolvable", "value_date": on},
                                headers={"Idempotency-Key": f"wo-{next(_n)}"})
    assert written.status_code == 201, written.text
    body = written.json()
    moved = [(t["kind"], t["value_date"], t["interest"], t["principal"])
             for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()]
    if apply_guarantees:
        assert moved == [("disbursement", DISBURSED_ON.isoformat(), "0", "300000"),
                         ("repayment", on, "4500", "40500"), ("write_off", on, "0", "259500")]
        repayment = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()[1]
        assert await entry_lines(uow_factory, repayment["journal_entry_id"]) == lines(
            (control, "D", 45_000), ("7021", "C", 4_500), (portfolio, "C", 40_500))
        assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
            ("665", "D", 259_500), (portfolio, "C", 259_500))
        balance = "297000"
    else:
        assert moved == [("disbursement", DISBURSED_ON.isoformat(), "0", "300000"), ("write_off", on, "0", "300000")]
        assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
            ("665", "D", 300_000), (portfolio, "C", 300_000))
        balance = "342000"
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    assert len(holds) == 2 and all(h["released_on"] == on for h in holds), holds
    shown = await account(client, account_id)
    assert (shown["balance"], shown["available_balance"]) == (balance, str(int(balance) + 50_000))
    assert not await _verify(uow_factory)


async def test_a_write_off_reversal_gives_the_guarantees_back(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    """The write-off above (cash rule): 45 000 of guarantees taken from the account (4 500 interest,
    40 500 principal), 259 500 to losses, both holds released. Its reversal, in one transaction,
    mirrors the write-off (Dr portfolio 259 500 / Cr 665 259 500), reverses the guarantees'
    repayment (Dr 7021 4 500, Dr portfolio 40 500 / Cr deposit control 45 000: the money back on
    the account) and places the 30 000 of mandatory savings and 15 000 of cash collateral again:
    the account, the loan and the books are as before the write-off. When the account has spent
    more than its own money meanwhile, the holds cannot be restored: 409, nothing written."""
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **SAVINGS)
    control = dw.accounts[AccountingRole.DEPOSIT_CONTROL]

    async def written_off_loan() -> tuple[int, int, dict[str, Any]]:
        loan_id, account_id = await guaranteed_loan(client, world, staff_user, uow_factory, dw, product_id)
        before = await account(client, account_id)
        written = await client.post(f"{LOANS}/{loan_id}/write-off", json={
            "reason": "Client insolvable", "value_date": (DISBURSED_ON + timedelta(days=40)).isoformat()})
        assert written.status_code == 201, written.text
        return loan_id, account_id, before

    loan_id, account_id, before = await written_off_loan()
    assert (before["balance"], before["available_balance"]) == ("342000", "347000")
    assert (await account(client, account_id))["balance"] == "297000"
    undone = await client.post(f"{LOANS}/{loan_id}/write-off/reversal", headers={"Idempotency-Key": f"wr-{next(_n)}"})
    assert undone.status_code == 201, undone.text
    moved = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
    assert [(t["kind"], t["interest"], t["principal"]) for t in moved] == [
        ("disbursement", "0", "300000"), ("repayment", "4500", "40500"), ("write_off", "0", "259500"),
        ("write_off_reversal", "0", "259500"), ("repayment_reversal", "4500", "40500")]
    assert moved[4]["reverses_transaction_id"] == moved[1]["transaction_id"]
    assert await entry_lines(uow_factory, moved[3]["journal_entry_id"]) == lines(
        (portfolio, "D", 259_500), ("665", "C", 259_500))
    assert await entry_lines(uow_factory, moved[4]["journal_entry_id"]) == lines(
        ("7021", "D", 4_500), (portfolio, "D", 40_500), (control, "C", 45_000))
    shown = await account(client, account_id)
    assert (shown["balance"], shown["available_balance"]) == ("342000", "347000"), "as before the write-off"
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    standing = sorted((h["amount"], h["released_on"]) for h in holds if h["released_on"] is None)
    assert standing == [("15000", None), ("30000", None)], holds
    loan = (await client.get(f"{LOANS}/{loan_id}")).json()
    assert loan["loan"]["status"] == "active"
    position = {c["component"]: c for c in loan["position"]["components"]}
    assert position["principal"]["outstanding"] == "300000"
    assert not await _verify(uow_factory)

    # The account drawn into its overdraft since: the 45 000 given back covers only 5 000 of the
    # holds, which cannot be placed again: the write-off stands.
    second, account_id, _before = await written_off_loan()
    await move(client, account_id, "withdrawals", "337000")
    kept = await counts(uow_factory, second, account_id)
    refused = await client.post(f"{LOANS}/{second}/write-off/reversal")
    assert_problem(refused, 409, "loan_id")
    assert await counts(uow_factory, second, account_id) == kept
    assert (await client.get(f"{APPS}/{second}")).json()["status"] == "written_off"
    assert not await _verify(uow_factory)
