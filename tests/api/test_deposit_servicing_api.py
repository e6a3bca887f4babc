"""Deposit accounts, second part: reversal of a movement, interest rounding carried between
periods, dormancy, VAT/TAF on fees and maker-checker above a threshold, through the HTTP API.
Expected journal lines are written by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest

from servicing.verification import verify_journal
from tests.api.test_deposit_accounts_api import (
    URL,
    account,
    assert_problem,
    move,
    open_account,
    reconciliation_row,
    refs,  # noqa: F401  (module fixture)
)
from tests.deposit_support import DepositWorld, deposit_world

TODAY = date.today()


@pytest.fixture
async def dw(uow_factory, world, refs) -> DepositWorld:  # type: ignore[no-untyped-def]  # noqa: F811
    return await deposit_world(uow_factory, world, withdrawal_fee_charge_id=refs.withdrawal_fee_id)


def codes(dw: DepositWorld) -> dict[str, str]:
    return {role.value: code for role, code in dw.accounts.items()}


async def lines_of(client: Any, entry_id: str) -> set[tuple[str, str, str]]:
    entry = (await client.get(f"/api/v1/journal-entries/{entry_id}")).json()
    return {(line["account_code"], line["side"], line["amount"]) for line in entry["lines"]}


async def transactions(client: Any, account_id: int) -> list[dict[str, Any]]:
    response = await client.get(f"{URL}/{account_id}/transactions")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def reverse(client: Any, account_id: int, transaction_id: int, *, reason: str = "erreur de saisie",
                  headers: dict[str, str] | None = None, key: str | None = None) -> Any:
    all_headers = dict(headers or {})
    if key:
        all_headers["Idempotency-Key"] = key
    return await client.post(f"{URL}/{account_id}/transactions/{transaction_id}/reversal", json={"reason": reason},
                             headers=all_headers)


# --- reversal -------------------------------------------------------------------------------------------------------

async def test_reversing_a_deposit_posts_the_mirror_entry_linked_to_the_original(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    deposited = await move(client, account_id, "deposits", "100000")
    original = deposited["transactions"][0]
    answer = await reverse(client, account_id, original["transaction_id"], key="rev-1")
    assert answer.status_code == 201, answer.text
    reversal = answer.json()
    assert [(t["kind"], t["amount"], t["balance_after"], t["reverses_id"], t["value_date"])
            for t in reversal["transactions"]] == [
        ("deposit_reversal", "100000", "0", original["transaction_id"], original["value_date"])]
    c = codes(dw)
    assert await lines_of(client, deposited["journal_entry_id"]) == {
        (c["fund_source"], "debit", "100000"), (c["deposit_control"], "credit", "100000")}
    assert await lines_of(client, reversal["journal_entry_id"]) == {
        (c["fund_source"], "credit", "100000"), (c["deposit_control"], "debit", "100000")}
    entry = (await client.get(f"/api/v1/journal-entries/{reversal['journal_entry_id']}")).json()
    assert entry["reverses"] == deposited["journal_entry_id"]
    assert (await account(client, account_id))["balance"] == "0"
    assert (await reconciliation_row(client, dw))["difference"] == "0"
    replayed = await reverse(client, account_id, original["transaction_id"], key="rev-1")
    assert replayed.status_code == 201 and replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["transactions"] == reversal["transactions"]
    before = await transactions(client, account_id)
    assert_problem(await reverse(client, account_id, original["transaction_id"]), 409, "transaction_id",
                   "already-reversed")
    assert_problem(await reverse(client, account_id, reversal["transactions"][0]["transaction_id"]), 422,
                   "transaction_id")
    assert await transactions(client, account_id) == before


async def test_reversing_a_withdrawal_reverses_its_fee_too(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, account_id, "deposits", "100000")
    withdrawn = await move(client, account_id, "withdrawals", "30000")
    fee = next(t for t in withdrawn["transactions"] if t["kind"] == "fee")
    answer = await reverse(client, account_id, fee["transaction_id"])  # naming the fee: the whole movement
    assert answer.status_code == 201, answer.text
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in answer.json()["transactions"]] == [
        ("withdrawal_reversal", "30000", "99800"), ("fee_reversal", "200", "100000")]
    c = codes(dw)
    assert await lines_of(client, answer.json()["journal_entry_id"]) == {
        (c["deposit_control"], "credit", "30200"), (c["fund_source"], "debit", "30000"),
        (c["fee_income"], "debit", "200")}
    assert (await reconciliation_row(client, dw))["difference"] == "0"


async def test_reversing_a_transfer_moves_both_accounts_back(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    source = (await open_account(client, uow_factory, dw))["account_id"]
    target = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, source, "deposits", "80000")
    moved = await move(client, source, "transfers", "25000", to_account_id=target)
    incoming = next(t for t in moved["transactions"] if t["account_id"] == target)
    answer = await reverse(client, target, incoming["transaction_id"])
    assert answer.status_code == 201, answer.text
    assert [(t["account_id"], t["kind"], t["balance_after"]) for t in answer.json()["transactions"]] == [
        (source, "withdrawal_reversal", "80000"), (target, "deposit_reversal", "0")]
    assert (await account(client, source))["balance"] == "80000"
    assert (await account(client, target))["balance"] == "0"
    problems = [p for p in (await verify_journal(uow_factory)).problems
                if p.check in ("deposit-balances", "deposit-reversals", "deposit-unposted")]
    assert problems == []


async def test_reversal_refusals_write_nothing(client, uow_factory, dw, staff_user) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw, overdraft_limit="0"))["account_id"]
    deposited = (await move(client, account_id, "deposits", "50000"))["transactions"][0]
    await move(client, account_id, "withdrawals", "40000")
    before = await transactions(client, account_id)
    # the deposit was mostly withdrawn: reversing it would overdraw the account
    problem = assert_problem(await reverse(client, account_id, deposited["transaction_id"]), 422, "transaction_id",
                             "insufficient-available-balance")
    assert "50000" in problem["detail"]
    assert_problem(await reverse(client, account_id, 99_999_999), 404, "transaction_id")
    assert_problem(await client.post(f"{URL}/{account_id}/transactions/{deposited['transaction_id']}/reversal",
                                     json={"reason": "  "}), 400, "reason")
    teller = await staff_user("teller", office_id=dw.office_id)
    assert (await reverse(client, account_id, deposited["transaction_id"], headers=teller.headers)).status_code == 403
    manager = await staff_user("branch_manager", office_id=dw.office_id)
    assert_problem(await reverse(client, account_id, deposited["transaction_id"], headers=manager.headers), 422,
                   "transaction_id")
    assert await transactions(client, account_id) == before


async def test_reversal_in_a_closed_period_is_refused(client, uow_factory, world, refs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    dw = await deposit_world(uow_factory, world)
    day = TODAY - timedelta(days=40)
    account_id = (await open_account(client, uow_factory, dw, opened_on=day.isoformat()))["account_id"]
    deposited = (await move(client, account_id, "deposits", "5000", value_date=day.isoformat()))["transactions"][0]
    closure = await client.post("/api/v1/accounting-closures", json={"office_id": dw.office_id,
                                                                     "closing_date": day.isoformat()})
    assert closure.status_code == 201, closure.text
    before = await transactions(client, account_id)
    assert_problem(await reverse(client, account_id, deposited["transaction_id"]), 409, "transaction_id",
                   "period-closed")
    assert await transactions(client, account_id) == before


# --- interest carry -------------------------------------------------------------------------------------------------

async def test_a_year_of_monthly_postings_pays_the_exact_interest_to_the_unit(client, uow_factory, world, refs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    year = TODAY.year - 1
    dw = await deposit_world(uow_factory, world, overdraft=None)  # 6 % a year, 365 days, monthly, XOF
    start = date(year, 1, 1)
    account_id = (await open_account(client, uow_factory, dw, opened_on=start.isoformat()))["account_id"]
    await move(client, account_id, "deposits", "1000", value_date=start.isoformat())
    month_ends = [date(year, m + 1, 1) - timedelta(days=1) for m in range(1, 12)] + [date(year, 12, 31)]
    for day in month_ends:
        run = await client.post("/api/v1/deposit-interest-postings", json={"posting_date": day.isoformat()})
        assert run.status_code == 200, run.text
    posted = [Decimal(t["amount"]) for t in await transactions(client, account_id) if t["kind"] == "interest"]
    # By hand: each month earns on 1,000 plus all the interest earned before (posted or carried),
    # 1,000 x 6 % x days / 365; the year pays the exact total rounded down, not 12 roundings down.
    exact = Decimal(0)
    first = start
    for day in month_ends:
        exact += (Decimal(1000) + exact) * Decimal(6) / Decimal(100) * Decimal((day - first).days + 1) / 365
        first = day + timedelta(days=1)
    assert sum(posted) == exact.to_integral_value(ROUND_FLOOR) == 61
    assert len(posted) == 12 and posted.count(Decimal(5)) < 12  # without the carry: 12 x 5 = 60
    assert (await reconciliation_row(client, dw))["difference"] == "0"
    again = await client.post("/api/v1/deposit-interest-postings", json={"posting_date": month_ends[-1].isoformat()})
    assert again.status_code == 200
    assert len([t for t in await transactions(client, account_id) if t["kind"] == "interest"]) == 12
    problems = [p for p in (await verify_journal(uow_factory)).problems
                if p.check in ("deposit-balances", "deposit-interest-carry")]
    assert problems == []


# --- dormancy -------------------------------------------------------------------------------------------------------

async def test_a_dormant_account_refuses_withdrawals_until_reactivated_and_still_earns(  # type: ignore[no-untyped-def]
        client, uow_factory, world, refs, staff_user) -> None:  # noqa: F811
    dw = await deposit_world(uow_factory, world, dormancy_days=30)
    last_month_end = TODAY.replace(day=1) - timedelta(days=1)
    opened = last_month_end.replace(day=1) - timedelta(days=40)
    account_id = (await open_account(client, uow_factory, dw, opened_on=opened.isoformat()))["account_id"]
    other = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, other, "deposits", "10000")
    deposited = await move(client, account_id, "deposits", "100000", value_date=opened.isoformat())
    assert deposited["transactions"][0]["balance_after"] == "100000"
    state = await account(client, account_id)
    assert state["dormant"] is True and state["last_client_movement_on"] == opened.isoformat()
    # money paid in is accepted but does not wake the account
    await move(client, account_id, "deposits", "5000")
    await move(client, other, "transfers", "1000", to_account_id=account_id)
    assert (await account(client, account_id))["dormant"] is True
    before = await transactions(client, account_id)
    assert_problem(await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "1000"}), 409, "account",
                   "account-dormant")
    assert_problem(await client.post(f"{URL}/{account_id}/transfers", json={"amount": "1000", "to_account_id": other}),
                   409, "from_account_id", "account-dormant")
    assert await transactions(client, account_id) == before
    # interest still accrues and is posted
    run = await client.post("/api/v1/deposit-interest-postings", json={"posting_date": last_month_end.isoformat()})
    assert run.status_code == 200, run.text
    interest = [t for t in await transactions(client, account_id) if t["kind"] == "interest"]
    days = (last_month_end - last_month_end.replace(day=1)).days + 1
    assert [t["amount"] for t in interest] == [str(100000 * 6 * days // 36500)]
    teller = await staff_user("teller", office_id=dw.office_id)
    assert (await client.post(f"{URL}/{account_id}/reactivate", headers=teller.headers)).status_code == 403
    woken = await client.post(f"{URL}/{account_id}/reactivate", json={"reason": "client venu avec sa CNI"})
    assert woken.status_code == 200, woken.text
    assert woken.json()["dormant"] is False and woken.json()["last_client_movement_on"] == TODAY.isoformat()
    await move(client, account_id, "withdrawals", "1000")
    assert_problem(await client.post(f"{URL}/{account_id}/reactivate"), 409, "status")


# --- VAT / TAF on fees ------------------------------------------------------------------------------------------------

async def test_a_fee_with_a_tax_rate_splits_its_tax_to_vat_payable(client, uow_factory, world, refs) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    taf = await client.post("/api/v1/tax-rates", json={
        "code": f"TAF-{world.prefix}", "name": "TAF sur frais", "tax_kind": "taf", "country": "KM",
        "operation_kind": "deposit_charges", "rate_percent": "17",
        "valid_from": (TODAY - timedelta(days=400)).isoformat(), "source": "test"})
    assert taf.status_code == 201, taf.text
    charge = await client.post("/api/v1/charges", json={
        "name": f"Frais de retrait taxés {world.prefix}", "applies_to": "deposit", "charge_time": "withdrawal",
        "calculation": "flat", "amount": "200", "currency": "XOF", "tax_rate_id": taf.json()["id"]})
    assert charge.status_code == 201, charge.text
    dw = await deposit_world(uow_factory, world, withdrawal_fee_charge_id=charge.json()["id"])
    account_id = (await open_account(client, uow_factory, dw, overdraft_limit="0"))["account_id"]
    await move(client, account_id, "deposits", "30300")
    # 30,000 + 200 + 34 of tax = 30,234 <= 30,300; 30,100 would not fit with its fee and tax
    assert_problem(await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "30100"}), 422, "amount",
                   "insufficient-available-balance")
    withdrawn = await move(client, account_id, "withdrawals", "30000")
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in withdrawn["transactions"]] == [
        ("withdrawal", "30000", "300"), ("fee", "200", "100"), ("fee_tax", "34", "66")]
    c = codes(dw)
    assert await lines_of(client, withdrawn["journal_entry_id"]) == {
        (c["deposit_control"], "debit", "30234"), (c["fund_source"], "credit", "30000"),
        (c["fee_income"], "credit", "200"), (c["vat_payable"], "credit", "34")}
    assert (await reconciliation_row(client, dw))["difference"] == "0"
    statement = (await client.get(f"{URL}/{account_id}/statement")).json()
    assert statement["closing_balance"] == "66"
    reversed_ = await reverse(client, account_id, withdrawn["transactions"][0]["transaction_id"])
    assert [(t["kind"], t["amount"]) for t in reversed_.json()["transactions"]] == [
        ("withdrawal_reversal", "30000"), ("fee_reversal", "200"), ("fee_tax_reversal", "34")]
    assert (await account(client, account_id))["balance"] == "30300"


# --- maker-checker above a threshold --------------------------------------------------------------------------------

@pytest.fixture
async def movement_thresholds(client):  # type: ignore[no-untyped-def]
    """Withdrawals and transfers above 500,000 XOF need a second person, for the test's duration."""
    for command in ("deposit-account.withdrawal", "deposit-account.transfer"):
        rule = await client.put(f"/api/v1/approval-rules/{command}", json={
            "enabled": True, "amount_threshold": "500000", "currency": "XOF"})
        assert rule.status_code == 200, rule.text
    client.app.state.maker_checker._rules_until = 0.0
    yield
    for command in ("deposit-account.withdrawal", "deposit-account.transfer"):
        await client.put(f"/api/v1/approval-rules/{command}", json={"enabled": False})
    client.app.state.maker_checker._rules_until = 0.0


async def test_a_large_withdrawal_waits_for_approval_with_its_funds_held(  # type: ignore[no-untyped-def]
        client, uow_factory, dw, staff_user, movement_thresholds) -> None:
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, account_id, "deposits", "1000000")
    teller = await staff_user("teller", office_id=dw.office_id)
    manager = await staff_user("branch_manager", office_id=dw.office_id)
    small = await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "500000"}, headers=teller.headers)
    assert small.status_code == 201, "at the threshold: booked at once"
    submitted = await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "400000"},
                                  headers=teller.headers)
    assert submitted.status_code == 201
    # 1,000,000 - 500,200 - 400,200 = 99,600 left; above the threshold now:
    refused = await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "600000"}, headers=teller.headers)
    assert_problem(refused, 422, "amount", "insufficient-available-balance")
    await move(client, account_id, "deposits", "900400")  # balance 1,000,000 again
    pending = await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "600000"},
                                headers={**teller.headers, "Idempotency-Key": "mc-dep-1"})
    assert pending.status_code == 202, pending.text
    approval = pending.json()
    assert approval["status"] == "pending" and approval["amount"] == "600000" and approval["currency"] == "XOF"
    state = await account(client, account_id)
    assert state["balance"] == "1000000" and state["on_hold"] == "600200"  # amount and fee held
    assert state["available_balance"] == "449800"  # 1,000,000 - 600,200 + 50,000 overdraft
    again = await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "600000"},
                              headers={**teller.headers, "Idempotency-Key": "mc-dep-1"})
    assert again.status_code == 202 and again.json()["approval_id"] == approval["approval_id"]
    assert (await account(client, account_id))["on_hold"] == "600200", "held once"
    holds = (await client.get(f"{URL}/{account_id}/holds")).json()
    held = next(h for h in holds if h["reason"] == "pending_approval")
    assert_problem(await client.post(f"{URL}/{account_id}/holds/{held['hold_id']}/release"), 409, "hold_id")
    decide = f"/api/v1/approvals/{approval['approval_id']}"
    own = await client.post(f"{decide}/approve", headers=teller.headers)
    assert own.status_code == 403
    approved = await client.post(f"{decide}/approve", headers=manager.headers, json={"reason": "client connu"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "executed", approved.json()
    result = approved.json()["result"]
    assert [(t["kind"], t["amount"]) for t in result["transactions"]] == [
        ("withdrawal", "600000"), ("fee", "200"), ("hold_released", "600200")]
    c = codes(dw)
    assert await lines_of(client, result["journal_entry_id"]) == {
        (c["deposit_control"], "debit", "600200"), (c["fund_source"], "credit", "600000"),
        (c["fee_income"], "credit", "200")}
    state = await account(client, account_id)
    assert state["balance"] == "399800" and state["on_hold"] == "0"
    assert (await client.post(f"{decide}/approve", headers=manager.headers)).status_code == 409
    assert (await reconciliation_row(client, dw))["difference"] == "0"


async def test_a_rejected_transfer_releases_its_funds_and_moves_nothing(  # type: ignore[no-untyped-def]
        client, uow_factory, dw, staff_user, movement_thresholds) -> None:
    source = (await open_account(client, uow_factory, dw))["account_id"]
    target = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, source, "deposits", "800000")
    teller = await staff_user("teller", office_id=dw.office_id)
    manager = await staff_user("branch_manager", office_id=dw.office_id)
    too_much = await client.post(f"{URL}/{source}/transfers", json={"amount": "900000", "to_account_id": target},
                                 headers=teller.headers)
    assert_problem(too_much, 422, "amount", "insufficient-available-balance")
    unknown = await client.post(f"{URL}/{source}/transfers", json={"amount": "600000", "to_account_id": 99_999_999},
                                headers=teller.headers)
    assert_problem(unknown, 404, "to_account_id")
    assert (await account(client, source))["on_hold"] == "0", "a refused request holds nothing"
    pending = await client.post(f"{URL}/{source}/transfers", json={"amount": "700000", "to_account_id": target},
                                headers=teller.headers)
    assert pending.status_code == 202, pending.text
    assert (await account(client, source))["on_hold"] == "700000"
    rejected = await client.post(f"/api/v1/approvals/{pending.json()['approval_id']}/reject",
                                 headers=manager.headers, json={"reason": "bénéficiaire inconnu"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert (await account(client, source))["on_hold"] == "0"
    assert (await account(client, source))["balance"] == "800000"
    assert (await account(client, target))["balance"] == "0"
    kinds = [t["kind"] for t in await transactions(client, source)]
    assert kinds == ["deposit", "hold_placed", "hold_released"]
