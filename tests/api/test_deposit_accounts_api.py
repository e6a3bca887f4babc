"""Deposit accounts through the HTTP API: every operation, every refusal (nothing written),
idempotency, 50 concurrent withdrawals, statements, interest and the reconciliation."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from typing import Any

import pytest

from servicing import chart
from servicing.products import demo
from tests.deposit_support import DepositWorld, deposit_world, onboarded_client

URL = "/api/v1/deposit-accounts"
TODAY = date.today()
MONTH_START = TODAY.replace(day=1)
LAST_MONTH_END = MONTH_START - timedelta(days=1)
LAST_MONTH_START = LAST_MONTH_END.replace(day=1)


@pytest.fixture(scope="module")
async def refs(uow_factory) -> demo.DemoReferences:  # type: ignore[no-untyped-def]
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    return await demo.ensure_demo_references(uow_factory)


@pytest.fixture
async def dw(uow_factory, world, refs) -> DepositWorld:  # type: ignore[no-untyped-def]
    return await deposit_world(uow_factory, world, withdrawal_fee_charge_id=refs.withdrawal_fee_id)


def assert_problem(response: Any, status: int, field: str | None = None, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body["field"] == field, body
    if code is not None:
        assert body["type"].endswith(code), body
    return body


async def open_account(client: Any, uow_factory: Any, dw: DepositWorld, *, activate: bool = True,
                       client_id: int | None = None, **body: Any) -> dict[str, Any]:
    client_id = client_id or await onboarded_client(uow_factory, dw.office_id, dw.prefix)
    response = await client.post(URL + "/", json={"client_id": client_id, "product_id": dw.product_id, **body})
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    if activate:
        activated = await client.post(f"{URL}/{account['account_id']}/activate",
                                      json={"activated_on": body.get("opened_on")} if body.get("opened_on") else None)
        assert activated.status_code == 200, activated.text
        account = activated.json()
    return account


async def move(client: Any, account_id: int, kind: str, amount: str, *, key: str | None = None,
               expect: int = 201, **body: Any) -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    response = await client.post(f"{URL}/{account_id}/{kind}", json={"amount": amount, **body}, headers=headers)
    assert response.status_code == expect, response.text
    return response.json()


async def account(client: Any, account_id: int) -> dict[str, Any]:
    response = await client.get(f"{URL}/{account_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def reconciliation_row(client: Any, dw: DepositWorld) -> dict[str, Any]:
    response = await client.get("/api/v1/reports/deposit-reconciliation")
    assert response.status_code == 200, response.text
    rows = [r for r in response.json()["rows"] if dw.product_id in r["product_ids"]]
    assert len(rows) == 1, rows
    return rows[0]  # type: ignore[no-any-return]


async def test_open_activate_read_and_list(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    opened = await open_account(client, uow_factory, dw, activate=False, overdraft_limit="20000")
    assert opened["status"] == "pending" and opened["balance"] == "0" and opened["overdraft_limit"] == "20000"
    assert opened["product_version"] == 1 and opened["interest_rate_annual_percent"] == "6"
    assert opened["available_balance"] == "0"
    account_id = opened["account_id"]
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": "1000"}), 409, "account",
                   "account-pending")
    active = (await client.post(f"{URL}/{account_id}/activate")).json()
    assert active["status"] == "active" and TODAY.isoformat() <= active["activated_on"] <= date.today().isoformat()
    assert active["available_balance"] == "20000"
    assert_problem(await client.post(f"{URL}/{account_id}/activate"), 409, "status")
    listed = (await client.get(URL + "/", params={"client_id": opened["client_id"]})).json()
    assert [a["account_id"] for a in listed] == [account_id]
    assert_problem(await client.get(f"{URL}/999999999"), 404, "account_id")


async def test_opening_refusals_name_the_field_and_write_nothing(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    from servicing.clients import service
    from servicing.clients.commands import CreateClient
    from servicing.clients.model import ClientProfile, ClientType

    pending = (await service.create_client(uow_factory(), CreateClient(profile=ClientProfile(
        client_type=ClientType.INDIVIDUAL, office_id=dw.office_id, first_name="Moussa", last_name=f"Fall{dw.prefix}",
        birth_date=date(1990, 1, 1), national_id=f"{dw.prefix}-P"), actor="t"))).client.client_id
    body = {"client_id": pending, "product_id": dw.product_id}
    assert_problem(await client.post(URL + "/", json=body), 409, "client_id")
    client_id = await onboarded_client(uow_factory, dw.office_id, dw.prefix)
    for changes, status, field in (
        ({"product_id": 999_999}, 404, "product_id"),
        ({"client_id": 999_999}, 404, "client_id"),
        ({"overdraft_limit": "50001"}, 422, "overdraft_limit"),
        ({"overdraft_limit": "10.5"}, 422, "overdraft_limit"),
        ({"overdraft_limit": "-1"}, 400, "overdraft_limit"),
        ({"interest_rate_annual_percent": "101"}, 422, "interest_rate_annual_percent"),
        ({"opened_on": (TODAY + timedelta(days=1)).isoformat()}, 422, "opened_on"),
        ({"colour": "blue"}, 400, "colour"),
    ):
        assert_problem(await client.post(URL + "/", json={"client_id": client_id, "product_id": dw.product_id,
                                                          **changes}), status, field)
    assert (await client.get(URL + "/", params={"client_id": client_id})).json() == []


async def test_kyc_incomplete_client_cannot_open(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    from servicing.clients import service
    from servicing.clients.commands import ChangeClientStatus, CreateClient
    from servicing.clients.model import ClientProfile, ClientStatus, ClientType

    created = await service.create_client(uow_factory(), CreateClient(profile=ClientProfile(
        client_type=ClientType.INDIVIDUAL, office_id=dw.office_id, first_name="Ibou", last_name=f"Sarr{dw.prefix}",
        birth_date=date(1991, 1, 1), national_id=f"{dw.prefix}-K"), actor="t"))
    await service.change_status(uow_factory(), ChangeClientStatus(
        client_id=created.client.client_id, status=ClientStatus.ACTIVE, actor="t"))
    problem = assert_problem(await client.post(URL + "/", json={
        "client_id": created.client.client_id, "product_id": dw.product_id}), 422, "kyc")
    assert problem["errors"]


async def test_deposit_withdraw_with_fee_and_the_journal(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    opened = await open_account(client, uow_factory, dw)
    account_id = opened["account_id"]
    deposited = await move(client, account_id, "deposits", "100000", description="Versement guichet")
    assert [t["kind"] for t in deposited["transactions"]] == ["deposit"]
    assert deposited["transactions"][0]["balance_after"] == "100000"
    withdrawn = await move(client, account_id, "withdrawals", "30000")
    assert [(t["kind"], t["amount"], t["balance_after"]) for t in withdrawn["transactions"]] == [
        ("withdrawal", "30000", "70000"), ("fee", "200", "69800")]
    entry = (await client.get(f"/api/v1/journal-entries/{withdrawn['journal_entry_id']}")).json()
    lines = {(line["account_code"], line["side"]): line["amount"] for line in entry["lines"]}
    accounts = {role.value: code for role, code in dw.accounts.items()}
    assert lines == {(accounts["deposit_control"], "debit"): "30200", (accounts["fund_source"], "credit"): "30000",
                     (accounts["fee_income"], "credit"): "200"}
    state = await account(client, account_id)
    assert state["balance"] == "69800" and state["available_balance"] == "119800"  # 50,000 overdraft
    row = await reconciliation_row(client, dw)
    assert row["accounts_balance"] == "69800" and row["gl_net_balance"] == "69800" and row["difference"] == "0"


async def test_withdrawal_refusals_write_nothing(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw, overdraft_limit="0"))["account_id"]
    await move(client, account_id, "deposits", "10000")
    before = (await client.get(f"{URL}/{account_id}/transactions")).json()
    problem = assert_problem(await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "9900"}), 422,
                             "amount", "insufficient-available-balance")
    assert "9900" in problem["detail"] and "200" in problem["detail"]
    for amount, code in (("100.5", "wrong-precision"), ("0", "amount-not-positive")):
        assert_problem(await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": amount}), 422, "amount",
                       code)
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": "1.25"}), 422, "amount")
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": 1000}), 400, "amount")
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": "-5"}), 400, "amount")
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={
        "amount": "5", "value_date": (TODAY + timedelta(days=1)).isoformat()}), 422, "value_date")
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": "5", "payment_type_id": 999_999}),
                   404, "payment_type_id")
    assert (await client.get(f"{URL}/{account_id}/transactions")).json() == before
    assert (await account(client, account_id))["balance"] == "10000"


async def test_overdraft_goes_to_the_overdraft_portfolio(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, account_id, "deposits", "10000")
    withdrawn = await move(client, account_id, "withdrawals", "40000")
    entry = (await client.get(f"/api/v1/journal-entries/{withdrawn['journal_entry_id']}")).json()
    lines = {(line["account_code"], line["side"]): line["amount"] for line in entry["lines"]}
    accounts = {role.value: code for role, code in dw.accounts.items()}
    assert lines[(accounts["deposit_control"], "debit")] == "10000"  # the fee, then the funds left
    assert lines[(accounts["overdraft_portfolio"], "debit")] == "30200"
    assert (await account(client, account_id))["balance"] == "-30200"
    assert_problem(await client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "20000"}), 422, "amount")
    await move(client, account_id, "deposits", "50000")
    row = await reconciliation_row(client, dw)
    assert row["accounts_balance"] == "19800" and row["difference"] == "0"
    assert row["gl_overdraft_balance"] == "0"


async def test_transfer_is_one_entry_and_two_transactions(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    source = (await open_account(client, uow_factory, dw))["account_id"]
    target = (await open_account(client, uow_factory, dw))["account_id"]
    await move(client, source, "deposits", "80000")
    moved = await move(client, source, "transfers", "25000", to_account_id=target)
    assert [(t["account_id"], t["kind"], t["balance_after"]) for t in moved["transactions"]] == [
        (source, "withdrawal", "55000"), (target, "deposit", "25000")]
    assert {t["journal_entry_id"] for t in moved["transactions"]} == {moved["journal_entry_id"]}
    entry = (await client.get(f"/api/v1/journal-entries/{moved['journal_entry_id']}")).json()
    control = dw.accounts[next(r for r in dw.accounts if r.value == "deposit_control")]
    assert sorted((line["account_code"], line["side"], line["amount"]) for line in entry["lines"]) == [
        (control, "credit", "25000"), (control, "debit", "25000")]
    assert_problem(await client.post(f"{URL}/{source}/transfers", json={"amount": "1", "to_account_id": source}),
                   422, "to_account_id")
    assert_problem(await client.post(f"{URL}/{source}/transfers", json={"amount": "1", "to_account_id": 99_999_999}),
                   404, "to_account_id")
    assert_problem(await client.post(f"{URL}/{source}/transfers", json={"amount": "200000", "to_account_id": target}),
                   422, "amount")
    assert (await account(client, target))["balance"] == "25000"


async def test_idempotency_key_replays_and_refuses_another_body(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    key = f"dep-{dw.prefix}"
    first = await client.post(f"{URL}/{account_id}/deposits", json={"amount": "5000"}, headers={"Idempotency-Key": key})
    again = await client.post(f"{URL}/{account_id}/deposits", json={"amount": "5000.00"},
                              headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers.get("Idempotent-Replayed") == "true"
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": "6000"},
                                     headers={"Idempotency-Key": key}), 409, "idempotency_key")
    withdrawal_key = f"wd-{dw.prefix}"
    out = await move(client, account_id, "withdrawals", "1000", key=withdrawal_key)
    assert await move(client, account_id, "withdrawals", "1000", key=withdrawal_key) == out
    assert (await account(client, account_id))["balance"] == "3800"


async def test_fifty_concurrent_withdrawals_never_pass_the_limit(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw, overdraft_limit="5000"))["account_id"]
    await move(client, account_id, "deposits", "20000")
    responses = await asyncio.gather(*(
        client.post(f"{URL}/{account_id}/withdrawals", json={"amount": "1000"}) for _ in range(50)))
    accepted = [r for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    # each withdrawal takes 1,000 + 200 fee from 20,000 + 5,000 overdraft: 20 fit (24,000), the 21st does not
    assert len(accepted) == 20, [r.text for r in refused[:3]]
    assert all(r.status_code == 422 and r.json()["field"] == "amount" for r in refused)
    state = await account(client, account_id)
    assert state["balance"] == "-4000" and state["available_balance"] == "1000"
    row = await reconciliation_row(client, dw)
    assert row["difference"] == "0"


async def test_freeze_block_holds_and_close(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    account_id = (await open_account(client, uow_factory, dw, overdraft_limit="0"))["account_id"]
    url = f"{URL}/{account_id}"
    await move(client, account_id, "deposits", "30000")
    assert_problem(await client.post(f"{url}/freeze"), 422, "reason")
    frozen = (await client.post(f"{url}/freeze", json={"reason": "Litige"})).json()
    assert frozen["status"] == "frozen" and frozen["available_balance"] == "0"
    assert_problem(await client.post(f"{url}/withdrawals", json={"amount": "100"}), 409, "account", "account-frozen")
    await move(client, account_id, "deposits", "1000")  # a frozen account still takes credits
    assert (await client.post(f"{url}/unfreeze")).json()["status"] == "active"
    assert (await client.post(f"{url}/block", json={"reason": "Décision de justice"})).json()["status"] == "blocked"
    assert_problem(await client.post(f"{url}/deposits", json={"amount": "100"}), 409, "account", "account-blocked")
    assert_problem(await client.post(f"{url}/close"), 409, "status")
    assert_problem(await client.post(f"{url}/unfreeze"), 409, "status")
    assert (await client.post(f"{url}/unblock")).json()["status"] == "active"

    hold = await client.post(f"{url}/holds", json={"amount": "25000", "reason": "guarantee",
                                                   "description": "Garantie prêt 42"})
    assert hold.status_code == 201, hold.text
    hold_id = hold.json()["hold_id"]
    assert_problem(await client.post(f"{url}/holds", json={"amount": "7000", "reason": "legal"}), 422, "amount")
    assert_problem(await client.post(f"{url}/holds", json={"amount": "70", "reason": "whim"}), 400, "reason")
    state = await account(client, account_id)
    assert state["on_hold"] == "25000" and state["available_balance"] == "6000" and state["balance"] == "31000"
    assert_problem(await client.post(f"{url}/withdrawals", json={"amount": "6000"}), 422, "amount")
    await move(client, account_id, "withdrawals", "5800")
    await move(client, account_id, "withdrawals", "25000", key="x", expect=422)
    assert_problem(await client.post(f"{url}/close"), 409, "balance")
    released = (await client.post(f"{url}/holds/{hold_id}/release")).json()
    assert released["released_by"] == "teller-1"
    assert_problem(await client.post(f"{url}/holds/{hold_id}/release"), 409, "hold_id")
    assert_problem(await client.post(f"{url}/holds/999999/release"), 404, "hold_id")
    assert [h["hold_id"] for h in (await client.get(f"{url}/holds")).json()] == [hold_id]
    await move(client, account_id, "withdrawals", "24800")  # and its 200 fee
    assert (await account(client, account_id))["balance"] == "0"
    closed = (await client.post(f"{url}/close", json={"reason": "Départ du client"})).json()
    assert closed["status"] == "closed" and TODAY.isoformat() <= closed["closed_on"] <= date.today().isoformat()
    assert_problem(await client.post(f"{url}/deposits", json={"amount": "100"}), 409, "account", "account-closed")


async def test_statement_json_csv_and_client_history(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    client_id = await onboarded_client(uow_factory, dw.office_id, dw.prefix)
    opened_on = LAST_MONTH_START.isoformat()
    first = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=opened_on))["account_id"]
    second = (await open_account(client, uow_factory, dw, client_id=client_id))["account_id"]
    await move(client, first, "deposits", "50000", value_date=opened_on)
    await move(client, first, "withdrawals", "10000", value_date=(LAST_MONTH_START + timedelta(days=3)).isoformat())
    await move(client, first, "transfers", "5000", to_account_id=second)
    statement = (await client.get(f"{URL}/{first}/statement", params={
        "from": (LAST_MONTH_START + timedelta(days=1)).isoformat()})).json()
    assert statement["opening_balance"] == "50000"
    assert [(line["kind"], line["debit"], line["credit"], line["balance"]) for line in statement["lines"]] == [
        ("withdrawal", "10000", "0", "40000"), ("fee", "200", "0", "39800"), ("withdrawal", "5000", "0", "34800")]
    assert statement["closing_balance"] == "34800" and statement["total_debits"] == "15200"
    exported = await client.get(f"{URL}/{first}/statement", params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Date de valeur" and rows[1][2] == "Solde d'ouverture" and rows[-1][5] == "34800"
    assert_problem(await client.get(f"{URL}/{first}/statement", params={"from": "2026-02-01", "to": "2026-01-01"}),
                   422, "to")
    history = (await client.get(f"/api/v1/clients/{client_id}/deposit-history")).json()
    assert [(h["account_id"], h["kind"]) for h in history] == [
        (first, "deposit"), (first, "withdrawal"), (first, "fee"), (first, "withdrawal"), (second, "deposit")]
    assert_problem(await client.get("/api/v1/clients/999999/deposit-history"), 404, "client_id")


async def test_interest_posting_is_computed_posted_and_idempotent(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]
    opened_on = LAST_MONTH_START.isoformat()
    account_id = (await open_account(client, uow_factory, dw, opened_on=opened_on))["account_id"]
    await move(client, account_id, "deposits", "1000000", value_date=opened_on)
    mid = LAST_MONTH_START + timedelta(days=10)
    await move(client, account_id, "withdrawals", "500000", value_date=mid.isoformat())
    run = await client.post("/api/v1/deposit-interest-postings", json={"posting_date": LAST_MONTH_END.isoformat()})
    assert run.status_code == 200, run.text
    assert run.json()["accounts_posted"] >= 1
    days = LAST_MONTH_END.day
    balance_days = 1_000_000 * 10 + 499_800 * (days - 10)
    expected = int(balance_days * 6 / 36500)  # 6 % a year, 365 days, rounded down
    transactions = (await client.get(f"{URL}/{account_id}/transactions")).json()
    interest = [t for t in transactions if t["kind"] == "interest"]
    assert [(t["amount"], t["value_date"]) for t in interest] == [(str(expected), LAST_MONTH_END.isoformat())]
    again = await client.post("/api/v1/deposit-interest-postings", json={"posting_date": LAST_MONTH_END.isoformat()})
    assert again.status_code == 200
    transactions = (await client.get(f"{URL}/{account_id}/transactions")).json()
    assert len([t for t in transactions if t["kind"] == "interest"]) == 1
    # An interest posting is not a movement to reverse (it shares the run's entry with the batch).
    posted = next(t for t in transactions if t["kind"] == "interest")
    assert_problem(await client.post(f"{URL}/{account_id}/transactions/{posted['transaction_id']}/reversal",
                                     json={"reason": "erreur"}), 422, "transaction_id")
    row = await reconciliation_row(client, dw)
    assert row["difference"] == "0" and row["accounts_balance"] == str(499_800 + expected)
    not_a_period_end = await client.post("/api/v1/deposit-interest-postings",
                                         json={"posting_date": (LAST_MONTH_END - timedelta(days=1)).isoformat()})
    assert not_a_period_end.json()["accounts_posted"] == 0
    assert_problem(await client.post("/api/v1/deposit-interest-postings", json={"posting_date": "1800-01-01"}), 400)


async def test_other_branch_staff_see_nothing_and_tellers_cannot_open(  # type: ignore[no-untyped-def]
        client, uow_factory, dw, staff_user, head_office) -> None:
    from servicing import offices
    from servicing.commands import CreateOffice

    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    other = await offices.create_office(uow_factory(), CreateOffice(
        code=f"{dw.prefix}-O", name=f"Autre {dw.prefix}", parent_id=head_office.office_id, region="Kaolack",
        opened_on=date(2026, 1, 1), actor="tests"))
    stranger = await staff_user("administrator", office_id=other.office_id)
    assert_problem(await client.get(f"{URL}/{account_id}", headers=stranger.headers), 404, "account_id")
    assert_problem(await client.post(f"{URL}/{account_id}/deposits", json={"amount": "100"},
                                     headers=stranger.headers), 404, "account_id")
    assert (await client.get(URL + "/", headers=stranger.headers)).json() == []
