"""Term deposits: withholding tax on interest (hand-computed, entry lines written by hand),
funding from and payout to the client's deposit account (one balanced entry each, lines
written by hand), their refusals naming the field, and two maturity runs at once paying once.

The withholding tax rate is reference data valid in 2031 only, so the other tests' deposits
(2026-2030) are untouched by it."""
# ruff: noqa: F811  (the module fixtures imported are parameters of the tests)

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.accounting import ProductAccounting
from products.deposits.periods import Period
from products.posting_rules import AccountingRole, AccountingRule, ProductKind, roles_allowed
from servicing import chart
from servicing.commands import CreateGLAccounts
from servicing.deposits import accounts as deposit_accounts
from servicing.deposits import movements
from servicing.deposits.commands import Deposit, OpenDepositAccount
from servicing.products import demo
from servicing.term_deposits import runs
from tests.api.test_reference_api import CREDIT_PARAMETERS
from tests.api.test_term_deposits_api import (  # noqa: F401  (module fixtures)
    URL,
    assert_problem,
    cash_id,
    control_row,
    make_client,
    make_product,
    opening,
    refs,
)
from tests.deposit_support import deposit_world, onboarded_client

D = Decimal
TAX_YEAR = Period(first_day=date(2031, 1, 1), last_day=date(2031, 12, 31))


async def entry_lines(client: Any, entry_id: str) -> set[tuple[str, str, str]]:
    entry = await client.get(f"/api/v1/journal-entries/{entry_id}")
    assert entry.status_code == 200, entry.text
    return {(line["side"], line["account_code"], str(D(line["amount"]))) for line in entry.json()["lines"]}


@pytest.fixture(scope="module")
async def withholding_15_percent_in_2031(client) -> None:  # type: ignore[no-untyped-def]
    """IRC withheld at 15 % on deposit interest in 2031, for the institution's country (the
    credit parameters'; set to Senegal when none are recorded yet). A test rate, not a fact."""
    current = await client.get("/api/v1/credit-parameters")
    if current.status_code == 404:
        current = await client.put("/api/v1/credit-parameters", json=CREDIT_PARAMETERS)
    assert current.status_code == 200, current.text
    created = await client.post("/api/v1/tax-rates", json={
        "code": f"IRC-TEST-{current.json()['country']}-2031", "name": "IRC sur intérêts des dépôts (test)",
        "tax_kind": "withholding", "country": current.json()["country"], "operation_kind": "deposit_interest",
        "rate_percent": "15", "valid_from": TAX_YEAR.first_day.isoformat(),
        "valid_to": TAX_YEAR.last_day.isoformat()})
    assert created.status_code in (201, 409), created.text  # 409: an earlier run of this module in the same database


async def tax_account(uow_factory: Any, world: Any) -> str:
    code = f"{world.prefix}.IRC"
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=(GLAccount(
        code=code, name="État - IRC retenu à reverser", type=AccountType.LIABILITY, usage=AccountUsage.DETAIL,
        parent_code=world.header),), actor="tests"))
    return code


async def test_withholding_tax_splits_interest_hand_computed(  # type: ignore[no-untyped-def]
        client, refs, world, cash_id, uow_factory, withholding_15_percent_in_2031) -> None:
    """1 000 000 XOF, 12 months from 15 January 2031, a woman: 5.5 % + 0.5 = 6 %, monthly, 365
    days, IRC 15 % withheld at each posting; the tax leaves the deposit, so the next month earns
    on the net:

    * 15 Jan - 14 Feb, 31 days: 1 000 000 x 6 % x 31/365 = 5 095.890411 -> 5 096 gross (carry
      -0.109589); tax 5 096 x 15 % = 764.40 -> 764; net 4 332; balance 1 004 332.
    * 15 Feb - 14 Mar, 28 days: (1 004 332 - 0.109589) x 6 % x 28/365 = 4 622.678290; with the
      carry 4 622.568701 -> 4 623 gross; tax 693.45 -> 693; net 3 930; balance 1 008 262.

    The entry of the first month: debit interest expense 5 096, credit the deposit control
    4 332 and the tax payable 764."""
    irc = await tax_account(uow_factory, world)
    base = demo.demo_products(refs)[-1]
    accounts = {role: demo.SFD_ACCOUNTS[role] for role in roles_allowed(ProductKind.TERM_DEPOSIT, AccountingRule.CASH)}
    accounts.update({AccountingRole.DEPOSIT_CONTROL: world.deposits, AccountingRole.INTEREST_ON_DEPOSITS_EXPENSE: "6022",
                     AccountingRole.WITHHOLDING_TAX_PAYABLE: irc})
    product_id = await make_product(client, refs, world, accounting=ProductAccounting(
        rule=AccountingRule.CASH, accounts=accounts, payment_type_accounts=dict(base.accounting.payment_type_accounts)))
    woman = await make_client(client, world)
    preview = await client.post(f"{URL}/preview", json=opening(woman, product_id, cash_id, opened_on="2031-01-15"))
    assert preview.status_code == 200, preview.text
    # Over the year: 61 422 gross, 9 213 withheld, 1 052 209 paid at maturity (the pure core's projection).
    assert (preview.json()["projected_interest"], preview.json()["withholding_tax"],
            preview.json()["maturity_amount"]) == ("61422", "9213", "1052209")
    opened = (await client.post(URL, json=opening(woman, product_id, cash_id, opened_on="2031-01-15"))).json()
    funded = await client.post(f"{URL}/{opened['account_id']}/fund",
                               json={"activated_on": "2031-01-15", "source": {"payment_type_id": cash_id}})
    assert funded.status_code == 200, funded.text
    await runs.post_interest(uow_factory, date(2031, 3, 14), "tests")
    await runs.post_interest(uow_factory, date(2031, 3, 14), "tests")  # again: posts nothing more
    moves = (await client.get(f"{URL}/{opened['account_id']}/transactions")).json()
    interest = [(m["period_end"], m["amount"], m["withholding_tax"]) for m in moves if m["kind"] == "interest"]
    assert interest == [("2031-02-14", "5096", "764"), ("2031-03-14", "4623", "693")]
    account = (await client.get(f"{URL}/{opened['account_id']}")).json()
    assert account["balance"] == "1008262"
    first = next(m for m in moves if m["kind"] == "interest")
    assert await entry_lines(client, first["entry_id"]) == {
        ("debit", "6022", "5096"), ("credit", world.deposits, "4332"), ("credit", irc, "764")}
    lines = (await client.get(f"{URL}/{opened['account_id']}/statement")).json()["lines"]
    assert [(line["kind"], line["credit"], line["debit"], line["balance"]) for line in lines[1:3]] == [
        ("interest", "5096", "0", "1005096"), ("withholding_tax", "0", "764", "1004332")]
    assert (await control_row(client, world, "2031-12-31"))["reconciled"]


@pytest.fixture
async def savings(uow_factory, world):  # type: ignore[no-untyped-def]
    """A KYC-complete client with a current account holding 1 500 000 XOF since 2025-10-01, on a
    deposit product booked on the test's own control account."""
    dw = await deposit_world(uow_factory, world)
    client_id = await onboarded_client(uow_factory, dw.office_id, dw.prefix)
    opened = await deposit_accounts.open_account(uow_factory, OpenDepositAccount(
        client_id=client_id, product_id=dw.product_id, actor="t", opened_on=date(2025, 10, 1)))
    account_id = opened.account.account_id
    await deposit_accounts.activate(uow_factory(), account_id, "t", activated_on=date(2025, 10, 1))
    await movements.deposit(uow_factory(), Deposit(account_id=account_id, amount=D(1_500_000), actor="t",
                                                   value_date=date(2025, 10, 1)))
    return dw, client_id, account_id


async def test_fund_from_and_pay_out_to_the_deposit_account(  # type: ignore[no-untyped-def]
        client, refs, world, cash_id, uow_factory, savings) -> None:
    """Funding takes 1 000 000 from the current account: ONE entry, debit the current-account
    control (the deposit product's) 1 000 000, credit the term-deposit control 1 000 000; the
    current account's withdrawal names that entry. At maturity the whole balance (principal and
    the interest credited, read from the transactions) goes back the same way: one entry, debit
    the term-deposit control, credit the current-account control."""
    dw, client_id, savings_id = savings
    base = demo.demo_products(refs)[-1]
    product_id = await make_product(client, refs, world, rate_charts=(
        msgspec.structs.replace(base.rate_charts[0], valid_from=date(2025, 1, 1)),))
    current_control = dw.accounts[next(r for r in dw.accounts if r.value == "deposit_control")]
    body = opening(client_id, product_id, cash_id, opened_on="2025-10-15",
                   payout={"deposit_account_id": savings_id})
    opened = await client.post(URL, json=body)
    assert opened.status_code == 201, opened.text
    account_id = opened.json()["account_id"]
    assert opened.json()["payout_deposit_account_id"] == savings_id
    funded = await client.post(f"{URL}/{account_id}/fund",
                               json={"activated_on": "2025-10-15", "source": {"deposit_account_id": savings_id}})
    assert funded.status_code == 200, funded.text
    deposit_move = next(m for m in (await client.get(f"{URL}/{account_id}/transactions")).json()
                        if m["kind"] == "deposit")
    assert deposit_move["deposit_account_id"] == savings_id
    assert await entry_lines(client, deposit_move["entry_id"]) == {
        ("debit", current_control, "1000000"), ("credit", world.deposits, "1000000")}
    view = await deposit_accounts.get_account(uow_factory(), savings_id)
    assert view.account.balance == D(500_000)
    async with uow_factory() as uow:
        named = await uow.session.scalar(text(
            "SELECT journal_entry_id::text FROM deposit_transaction WHERE account_id = :id AND kind = 'withdrawal'"),
            {"id": savings_id})
    assert named == deposit_move["entry_id"]

    await runs.post_interest(uow_factory, date(2026, 10, 14), "tests")
    await runs.mature(uow_factory, date(2026, 10, 15), "tests")
    account = (await client.get(f"{URL}/{account_id}")).json()
    assert (account["status"], account["balance"]) == ("closed", "0")
    moves = (await client.get(f"{URL}/{account_id}/transactions")).json()
    credited = sum(D(m["amount"]) - D(m["withholding_tax"]) for m in moves if m["kind"] == "interest")
    assert credited > 0
    payout = next(m for m in moves if m["kind"] == "payout")
    assert D(payout["amount"]) == D(1_000_000) + credited
    assert payout["deposit_account_id"] == savings_id
    assert await entry_lines(client, payout["entry_id"]) == {
        ("debit", world.deposits, payout["amount"]), ("credit", current_control, payout["amount"])}
    view = await deposit_accounts.get_account(uow_factory(), savings_id)
    assert view.account.balance == D(500_000) + D(payout["amount"])
    assert (await control_row(client, world))["reconciled"]


async def test_deposit_account_refusals_name_the_field(  # type: ignore[no-untyped-def]
        client, refs, world, cash_id, uow_factory, savings) -> None:
    _dw, client_id, savings_id = savings
    base = demo.demo_products(refs)[-1]
    product_id = await make_product(client, refs, world, rate_charts=(
        msgspec.structs.replace(base.rate_charts[0], valid_from=date(2025, 1, 1)),))
    stranger = await make_client(client, world)
    # Paying out to another client's account is refused when opening.
    assert_problem(await client.post(URL, json=opening(stranger, product_id, cash_id, opened_on="2025-10-15",
                                                       payout={"deposit_account_id": savings_id})),
                   422, "payout.deposit_account_id")
    assert_problem(await client.post(URL, json=opening(client_id, product_id, cash_id, opened_on="2025-10-15",
                                                       payout={"deposit_account_id": savings_id,
                                                               "payment_type_id": cash_id})),
                   422, "payout.deposit_account_id")
    mine = (await client.post(URL, json=opening(stranger, product_id, cash_id, opened_on="2025-10-15"))).json()
    wrong_client = await client.post(f"{URL}/{mine['account_id']}/fund", json={
        "activated_on": "2025-10-15", "source": {"deposit_account_id": savings_id}})
    assert_problem(wrong_client, 422, "source.deposit_account_id")
    big = (await client.post(URL, json=opening(client_id, product_id, cash_id, opened_on="2025-10-15",
                                               deposit_amount="2000000"))).json()
    short = await client.post(f"{URL}/{big['account_id']}/fund", json={
        "activated_on": "2025-10-15", "source": {"deposit_account_id": savings_id}})
    assert "2000000 " in assert_problem(short, 422, "source.deposit_account_id")["detail"]
    # Nothing was written: the current account still holds its 1 500 000, both deposits are pending.
    assert (await deposit_accounts.get_account(uow_factory(), savings_id)).account.balance == D(1_500_000)
    assert (await client.get(f"{URL}/{big['account_id']}")).json()["status"] == "pending"


async def test_two_maturity_runs_at_once_pay_once(client, refs, world, cash_id, uow_factory) -> None:  # type: ignore[no-untyped-def]
    base = demo.demo_products(refs)[-1]
    product_id = await make_product(client, refs, world, rate_charts=(
        msgspec.structs.replace(base.rate_charts[0], valid_from=date(2025, 1, 1)),))
    woman = await make_client(client, world)
    opened = (await client.post(URL, json=opening(woman, product_id, cash_id, opened_on="2025-09-01"))).json()
    assert (await client.post(f"{URL}/{opened['account_id']}/fund", json={
        "activated_on": "2025-09-01", "source": {"payment_type_id": cash_id}})).status_code == 200
    await asyncio.gather(*(runs.mature(uow_factory, date(2026, 9, 1), "tests") for _ in range(2)))
    moves = (await client.get(f"{URL}/{opened['account_id']}/transactions")).json()
    assert [m["kind"] for m in moves].count("payout") == 1
    assert len([m for m in moves if m["kind"] == "interest"]) == 12
    assert (await client.get(f"{URL}/{opened['account_id']}")).json()["balance"] == "0"
    assert (await control_row(client, world))["reconciled"]



@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(st.integers(100, 3_000).map(lambda n: n * 1000), min_size=1, max_size=3),
       starts=st.lists(st.integers(0, 90), min_size=3, max_size=3),
       instructions=st.lists(st.sampled_from(["pay_out", "renew_principal", "renew_principal_and_interest", "hold"]),
                             min_size=3, max_size=3),
       run_days=st.lists(st.integers(0, 390), min_size=1, max_size=4), close_first=st.booleans())
async def test_control_account_always_equals_the_sum_of_balances(  # type: ignore[no-untyped-def]
        client, refs, world, cash_id, uow_factory, amounts, starts, instructions, run_days, close_first) -> None:
    """Whatever deposits, instructions, interest and maturity runs (in any order of dates) and
    premature closure: every balance is >= 0, no interest is negative, and the term-deposit
    control account equals the sum of the deposits' balances."""
    base = demo.demo_products(refs)[-1]
    product_id = await make_product(client, refs, world, lock_in=None, rate_charts=(
        msgspec.structs.replace(base.rate_charts[0], valid_from=date(2025, 1, 1)),))
    woman = await make_client(client, world)
    ids = []
    for amount, start, instruction in zip(amounts, starts, instructions, strict=False):
        activated = (date(2025, 9, 1) + timedelta(days=start)).isoformat()
        opened = (await client.post(URL, json=opening(woman, product_id, cash_id, deposit_amount=str(amount),
                                                      opened_on=activated, maturity_instruction=instruction))).json()
        funded = await client.post(f"{URL}/{opened['account_id']}/fund", json={
            "activated_on": activated, "source": {"payment_type_id": cash_id}})
        assert funded.status_code == 200, funded.text
        ids.append(opened["account_id"])
    for offset in sorted(run_days):
        day = date(2025, 10, 1) + timedelta(days=offset)
        await runs.post_interest(uow_factory, day, "tests")
        await runs.mature(uow_factory, day, "tests")
    if close_first:
        closed = await client.post(f"{URL}/{ids[0]}/premature-closure", json={
            "closed_on": "2026-11-01", "payout": {"payment_type_id": cash_id}})
        assert closed.status_code in (200, 409), closed.text  # 409: already matured and paid out
    for account_id in ids:
        account = (await client.get(f"{URL}/{account_id}")).json()
        assert D(account["balance"]) >= 0
        moves = (await client.get(f"{URL}/{account_id}/transactions")).json()
        assert all(D(m["amount"]) >= 0 and D(m["withholding_tax"]) >= 0 for m in moves)
    assert (await control_row(client, world))["reconciled"]
