"""Term deposits through HTTP: preview and open (rate chart + incentives, hand-checked), fund
by payment type, interest runs (idempotent), maturity with each instruction, premature
closure inside and outside the lock-in, reconciliation of the control account, refusals
naming their field, office scope and Idempotency-Key.

Each test's product books its deposits on the test's own liability account (`world.deposits`),
so the reconciliation of that account sees this test's deposits only."""

from __future__ import annotations

import itertools
import os
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from products.accounting import ProductAccounting
from products.catalogue.common import ProductIdentity
from products.posting_rules import AccountingRole, AccountingRule, ProductKind, roles_allowed
from products.term_deposits.product import MaturityInstruction as ProductInstruction
from products.term_deposits.product import TermLength
from servicing import chart
from servicing.products import demo
from servicing.term_deposits import runs
from servicing.term_deposits.verification import run_term_deposit_checks

D = Decimal
URL = "/api/v1/term-deposits"
_ids = itertools.count(1)


@pytest.fixture(scope="module")
async def refs(uow_factory) -> demo.DemoReferences:  # type: ignore[no-untyped-def]
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    return await demo.ensure_demo_references(uow_factory)


@pytest.fixture(scope="module")
async def cash_id(uow_factory, refs) -> int:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        found = await uow.session.scalar(text("SELECT id FROM payment_type WHERE name = 'Espèces'"))
    assert isinstance(found, int)
    return found


def tag() -> str:
    return f"{next(_ids)}p{os.getpid() % 1000}"


async def make_product(client: Any, refs: demo.DemoReferences, world: Any, *,
                       rule: AccountingRule = AccountingRule.CASH, **changes: Any) -> int:
    """The demo's 12-month product (seed 004 shape: 4.5 % below 1 000 000, 5.5 % from it, +0.5
    point for women, lock-in 3 months, 1 point penalty until withdrawal), booked on the test's
    own deposit account, every maturity instruction allowed."""
    base = demo.demo_products(refs)[-1]
    accounts = {role: demo.SFD_ACCOUNTS[role] for role in roles_allowed(ProductKind.TERM_DEPOSIT, rule)}
    accounts[AccountingRole.DEPOSIT_CONTROL] = world.deposits
    accounts[AccountingRole.INTEREST_ON_DEPOSITS_EXPENSE] = "6022"
    n = tag()
    settings: dict[str, Any] = {
        "identity": ProductIdentity(name=f"DAT test {n}", short_name=f"D{n}"[:10]),
        "maturity_instructions": tuple(ProductInstruction), "charge_ids": (),
        "accounting": ProductAccounting(rule=rule, accounts=accounts,
                                        payment_type_accounts=dict(base.accounting.payment_type_accounts)),
        **changes}
    product = msgspec.structs.replace(base, **settings)
    response = await client.post("/api/v1/term-deposit-products", json=msgspec.to_builtins(product))
    assert response.status_code == 201, response.text
    return response.json()["product_id"]  # type: ignore[no-any-return]


async def make_client(client: Any, world: Any, gender: str = "female", *, activate: bool = True) -> int:
    n = tag()
    response = await client.post("/api/v1/clients", json={
        "kind": "individual", "office_id": world.office_id, "first_name": "Awa", "last_name": f"Diop {world.prefix}{n}",
        "birth_date": "1985-03-02", "gender": gender, "national_id": f"TD-{world.prefix}-{n}",
        "phone": "+221 77 123 45 67", "address": "Rue 10, Thiès"})
    assert response.status_code == 201, response.text
    client_id: int = response.json()["client_id"]
    if activate:
        assert (await client.post(f"/api/v1/clients/{client_id}/activate")).status_code == 200
    return client_id


def opening(client_id: int, product_id: int, cash_id: int, **changes: Any) -> dict[str, Any]:
    body = {"client_id": client_id, "product_id": product_id, "deposit_amount": "1000000",
            "term": {"count": 12, "unit": "months"}, "opened_on": "2026-01-15",
            "maturity_instruction": "pay_out", "payout": {"payment_type_id": cash_id}}
    body.update(changes)
    return body


def assert_problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    if field is not None:
        assert body["field"] == field, body
    return body


async def open_and_fund(client: Any, client_id: int, product_id: int, cash_id: int, *,
                        activated_on: str = "2026-01-15", **changes: Any) -> dict[str, Any]:
    opened = await client.post(URL, json=opening(client_id, product_id, cash_id, **changes))
    assert opened.status_code == 201, opened.text
    funded = await client.post(f"{URL}/{opened.json()['account_id']}/fund",
                               json={"activated_on": activated_on, "source": {"payment_type_id": cash_id}})
    assert funded.status_code == 200, funded.text
    return funded.json()  # type: ignore[no-any-return]


async def control_row(client: Any, world: Any, as_of: str = "2030-12-31") -> dict[str, Any]:
    report = (await client.get("/api/v1/reports/term-deposit-reconciliation", params={"as_of": as_of})).json()
    rows = [r for r in report["by_control_account"] if r["control_account_code"] == world.deposits]
    assert len(rows) == 1, report
    return rows[0]  # type: ignore[no-any-return]


async def test_preview_hand_checked_women_incentive(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    """1 000 000 XOF for 12 months from 15 January 2026: the chart's slab "1 000 000 and more"
    gives 5.5 %, the women's incentive adds 0.5 point: 6 %. Monthly compounding and posting,
    daily balance, 365 days, XOF rounded to the franc with the remainder carried:

    ===========  ====  ==============================  ======
    period from  days  interest (balance x 6 % x d/365) posted
    ===========  ====  ==============================  ======
    2026-01-15    31   1 000 000 x .06 x 31/365 = 5 095.89   5 096
    2026-02-15    28   1 005 096 x .06 x 28/365 = 4 626.19   4 626  (carry -0.11 + 4 626.19)
    2026-03-15    31   1 009 722 ...                         5 146
    ...           (the test recomputes every month the same way)
    2026-12-15    31                                          5 383
    ===========  ====  ==============================  ======

    total 61 678; maturity 15 January 2027 with 1 061 678."""
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world, "female")
    response = await client.post(f"{URL}/preview", json=opening(woman, product_id, cash_id))
    assert response.status_code == 200, response.text
    preview = response.json()
    assert (preview["base_rate_percent"], preview["rate_percent"]) == ("5.5", "6.0")
    assert preview["incentives_applied"] == [{"attribute": "gender", "operator": "eq", "value": "female",
                                              "kind": "incentive", "rate_percent": "0.5"}]
    assert (preview["maturity_date"], preview["projected_interest"], preview["maturity_amount"]) == (
        "2027-01-15", "61678", "1061678")
    # The same by hand, month by month, with the rounding remainder carried.
    balance, carry, total = D(1_000_000), D(0), D(0)
    for days in (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31):
        exact = balance * D(6) / 100 * days / 365
        posted = (carry + exact).quantize(D(1), rounding="ROUND_HALF_EVEN")
        carry, balance, total = carry + exact - posted, balance + posted, total + posted
    assert total == D(61678)
    man = await make_client(client, world, "male")
    assert (await client.post(f"{URL}/preview", json=opening(man, product_id, cash_id))).json()["rate_percent"] == "5.5"
    smaller = (await client.post(f"{URL}/preview", json=opening(man, product_id, cash_id,
                                                                deposit_amount="500000"))).json()
    assert smaller["rate_percent"] == "4.5"


async def test_open_refusals_name_their_field(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    pending = await make_client(client, world, activate=False)
    for changes, status, field in (
        ({"deposit_amount": "50000"}, 422, "deposit_amount"),
        ({"deposit_amount": "100000.5"}, 422, "deposit_amount"),
        ({"term": {"count": 6, "unit": "months"}}, 422, "term"),
        ({"opened_on": "2025-06-01"}, 422, "opened_on"),
        ({"client_id": 999_999}, 404, "client_id"),
        ({"client_id": pending}, 422, "client_id"),
        ({"product_id": 999_999}, 404, "product_id"),
        ({"payout": None}, 422, "payout.payment_type_id"),
        ({"payout": {"payment_type_id": 999_999}}, 422, "payout.payment_type_id"),
        ({"payout": {"deposit_account_id": 5}}, 422, "payout.deposit_account_id"),
    ):
        body = {**opening(woman, product_id, cash_id), **changes}
        assert_problem(await client.post(URL, json=body), status, field)
    assert (await client.post(URL, json=opening(woman, product_id, cash_id, deposit_amount="NaN"))).status_code == 400
    assert (await client.post(URL, json=opening(woman, product_id, cash_id, surprise=1))).status_code == 400
    listed = (await client.get(URL, params={"office_id": world.office_id, "client_id": woman})).json()
    assert listed == []  # nothing written by any refusal


async def test_fund_activates_and_interest_posts_once_per_period(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    opened = await client.post(URL, json=opening(woman, product_id, cash_id))
    account = opened.json()
    assert (account["status"], account["rate_percent"], account["balance"]) == ("pending", "6", "0")
    url = f"{URL}/{account['account_id']}"
    assert_problem(await client.post(f"{url}/fund", json={"activated_on": "2026-01-14",
                                                          "source": {"payment_type_id": cash_id}}), 422, "activated_on")
    assert_problem(await client.post(f"{url}/fund", json={"activated_on": "2026-01-15",
                                                          "source": {"payment_type_id": 999_999}}),
                   422, "source.payment_type_id")
    fund = {"activated_on": "2026-01-15", "source": {"payment_type_id": cash_id}}
    key = {"Idempotency-Key": f"fund-{tag()}"}
    funded = (await client.post(f"{url}/fund", json=fund, headers=key)).json()
    assert (funded["status"], funded["balance"]) == ("active", "1000000")
    assert funded["current_term"]["maturity_date"] == "2027-01-15"
    replay = await client.post(f"{url}/fund", json=fund, headers=key)
    assert replay.status_code == 200 and replay.json()["balance"] == "1000000"
    assert_problem(await client.post(f"{url}/fund", json=fund), 409, "account_id")
    assert (await control_row(client, world))["gl_balance"] == "1000000"

    first = (await client.post(f"{URL}/interest-runs", json={"on": "2026-04-14"})).json()
    assert first["entries_booked"] >= 3
    again = await client.post(f"{URL}/interest-runs", json={"on": "2026-04-14"})
    after = (await client.get(url)).json()
    assert after["balance"] == str(1_000_000 + 5096 + 4626 + 5146)
    assert after["interest_posted_this_term"] == str(5096 + 4626 + 5146)
    assert again.json()["amount"] == "0"
    moves = (await client.get(f"{url}/transactions")).json()
    assert [(m["kind"], m["amount"], m["period_end"]) for m in moves] == [
        ("deposit", "1000000", None), ("interest", "5096", "2026-02-14"), ("interest", "4626", "2026-03-14"),
        ("interest", "5146", "2026-04-14")]
    assert all(m["entry_id"] for m in moves)
    row = await control_row(client, world)
    assert (row["gl_balance"], row["deposits_total"], row["reconciled"]) == (after["balance"], after["balance"], True)


async def test_maturity_applies_each_instruction(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    made = {}
    for instruction in ("pay_out", "renew_principal", "renew_principal_and_interest", "hold"):
        made[instruction] = (await open_and_fund(client, woman, product_id, cash_id,
                                                 maturity_instruction=instruction))["account_id"]
    run = await client.post(f"{URL}/maturity-runs", json={"on": "2027-01-15"})
    assert run.status_code == 200, run.text
    paid = (await client.get(f"{URL}/{made['pay_out']}")).json()
    assert (paid["status"], paid["balance"], paid["closed_on"]) == ("closed", "0", "2027-01-15")
    kinds = [(m["kind"], m["amount"]) for m in (await client.get(f"{URL}/{made['pay_out']}/transactions")).json()]
    assert kinds[0] == ("deposit", "1000000") and kinds[-1] == ("payout", "1061678") and len(kinds) == 14
    renewed = (await client.get(f"{URL}/{made['renew_principal']}")).json()
    assert (renewed["status"], renewed["balance"], len(renewed["terms"])) == ("active", "1000000", 2)
    assert renewed["current_term"]["starts_on"] == "2027-01-15"
    assert renewed["current_term"]["maturity_date"] == "2028-01-15"
    assert renewed["current_term"]["rate_percent"] == "6"  # the chart valid on 15 January 2027, same incentive
    assert renewed["terms"][0]["principal"] == "1000000"  # full history kept
    rolled = (await client.get(f"{URL}/{made['renew_principal_and_interest']}")).json()
    assert (rolled["status"], rolled["balance"], rolled["current_term"]["principal"]) == (
        "active", "1061678", "1061678")
    held = (await client.get(f"{URL}/{made['hold']}")).json()
    assert (held["status"], held["balance"]) == ("held", "1061678")
    # A held deposit is paid out once the client says so.
    changed = await client.put(f"{URL}/{made['hold']}/maturity-instruction",
                               json={"maturity_instruction": "pay_out", "payout": {"payment_type_id": cash_id}})
    assert changed.status_code == 200, changed.text
    await client.post(f"{URL}/maturity-runs", json={"on": "2027-02-01"})
    held = (await client.get(f"{URL}/{made['hold']}")).json()
    assert (held["status"], held["balance"], held["closed_on"]) == ("closed", "0", "2027-02-01")
    # Running maturity again changes nothing more.
    await client.post(f"{URL}/maturity-runs", json={"on": "2027-02-01"})
    assert (await client.get(f"{URL}/{made['renew_principal']}")).json()["balance"] == "1000000"
    row = await control_row(client, world)
    assert row["reconciled"] and row["deposits_total"] == str(1_000_000 + 1_061_678), row


async def test_premature_closure_inside_and_outside_the_lock_in(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    account = await open_and_fund(client, woman, product_id, cash_id)
    url = f"{URL}/{account['account_id']}"
    locked = assert_problem(await client.post(f"{url}/premature-closure/quote", json={"closed_on": "2026-03-01"}),
                            409, "closed_on")
    assert "locked in until 2026-04-15" in locked["detail"]
    assert_problem(await client.post(f"{url}/premature-closure",
                                     json={"closed_on": "2026-04-14", "payout": {"payment_type_id": cash_id}}),
                   409, "closed_on")
    await client.post(f"{URL}/interest-runs", json={"on": "2026-06-14"})
    posted = (await client.get(url)).json()["interest_posted_this_term"]
    assert posted == str(5096 + 4626 + 5146 + 5004 + 5198)
    quote = (await client.post(f"{url}/premature-closure/quote", json={"closed_on": "2026-06-20"})).json()["quote"]
    # 6 % less the 1 point penalty = 5 % over the days held, at most what 6 % paid.
    assert (quote["contract_rate_percent"], quote["reduced_rate_percent"]) == ("6", "5")
    recalculated = D(quote["interest_recalculated"])
    assert D(0) < recalculated < D(posted) + D(quote["interest_to_post"]) + 1
    assert D(quote["interest_to_claw_back"]) == max(D(posted) - recalculated, D(0))
    assert D(quote["amount_paid"]) == D(1_000_000) + recalculated
    key = {"Idempotency-Key": f"close-{tag()}"}
    closure = {"closed_on": "2026-06-20", "payout": {"payment_type_id": cash_id}}
    closed = (await client.post(f"{url}/premature-closure", json=closure, headers=key)).json()
    assert (closed["status"], closed["balance"], closed["closed_on"]) == ("closed_early", "0", "2026-06-20")
    assert (await client.post(f"{url}/premature-closure", json=closure, headers=key)).status_code == 200
    moves = [(m["kind"], m["amount"]) for m in (await client.get(f"{url}/transactions")).json()]
    assert moves[-2] == ("interest_clawback", quote["interest_to_claw_back"])
    assert moves[-1] == ("payout", quote["amount_paid"])
    assert_problem(await client.post(f"{url}/premature-closure", json=closure), 409, "account_id")
    assert (await control_row(client, world))["reconciled"]


async def test_office_scope_and_read_permissions(client, refs, world, cash_id, staff_user, head_office) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    account = await open_and_fund(client, woman, product_id, cash_id)
    other = await client.post("/api/v1/offices", json={"code": f"TD{tag()}"[:20], "name": f"Agence TD {tag()}",
                                                       "parent_id": head_office.office_id, "opened_on": "2026-01-01"})
    assert other.status_code == 201, other.text
    stranger = await staff_user("teller", office_id=other.json()["id"])
    hidden = await client.get(f"{URL}/{account['account_id']}", headers=stranger.headers)
    assert_problem(hidden, 404, "account_id")
    assert_problem(await client.post(f"{URL}/preview", json=opening(woman, product_id, cash_id),
                                     headers=stranger.headers), 404, "client_id")
    assert_problem(await client.post(f"{URL}/interest-runs", json={"on": "2026-02-01"}, headers=stranger.headers),
                   403)


async def test_accrual_accounting_posts_through_interest_payable(client, refs, world, cash_id, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world, rule=AccountingRule.ACCRUAL_PERIODIC)
    woman = await make_client(client, world)
    account = await open_and_fund(client, woman, product_id, cash_id)
    await client.post(f"{URL}/interest-runs", json={"on": "2026-02-14"})
    moves = (await client.get(f"{URL}/{account['account_id']}/transactions")).json()
    async with uow_factory() as uow:
        lines = (await uow.session.execute(text(
            "SELECT g.code, l.side, l.amount FROM journal_line l JOIN gl_account g ON g.id = l.account_id"
            " WHERE l.entry_id = CAST(:id AS uuid) ORDER BY l.side DESC"), {"id": moves[1]["entry_id"]})).all()
    assert [(code, side, int(amount)) for code, side, amount in lines] == [
        (demo.SFD_ACCOUNTS[AccountingRole.INTEREST_PAYABLE], "D", 5096), (world.deposits, "C", 5096)]
    assert (await control_row(client, world))["reconciled"]


async def test_reconciliation_holds_after_random_operations(client, refs, world, cash_id, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """Random opens, fundings, interest runs, closures and maturities: the control account's GL
    balance always equals the sum of the deposits booked on it, and no balance is negative."""
    product_id = await make_product(client, refs, world)
    clients = [await make_client(client, world, gender) for gender in ("female", "male")]
    rng = random.Random(20261123)
    accounts: list[int] = []
    outcomes: dict[str, int] = {}
    for step in range(16):
        action = rng.choice(("open", "open", "interest", "close", "mature"))
        on = date(2026, 1, 15) + timedelta(days=30 * step)
        if action == "open" or not accounts:
            amount = rng.randrange(100, 5_000) * 1000
            made = await open_and_fund(client, rng.choice(clients), product_id, cash_id, deposit_amount=str(amount),
                                       opened_on=on.isoformat(), activated_on=on.isoformat(),
                                       maturity_instruction=rng.choice(("pay_out", "renew_principal",
                                                                        "renew_principal_and_interest")))
            accounts.append(made["account_id"])
            action = "open"
        elif action == "interest":
            await runs.post_interest(uow_factory, on, "tests", batch_size=2)
        elif action == "close":
            response = await client.post(f"{URL}/{rng.choice(accounts)}/premature-closure", json={
                "closed_on": on.isoformat(), "payout": {"payment_type_id": cash_id}})
            assert response.status_code in (200, 409), response.text
            action = f"close-{response.status_code}"
        else:
            await runs.mature(uow_factory, on, "tests", batch_size=2)
        outcomes[action] = outcomes.get(action, 0) + 1
        row = await control_row(client, world)
        assert row["reconciled"], (step, action, row)
    await runs.mature(uow_factory, date(2028, 6, 1), "tests")
    assert (await control_row(client, world))["reconciled"]
    assert {"open", "interest", "close-200", "mature"} <= set(outcomes), outcomes
    balances = [D((await client.get(f"{URL}/{a}")).json()["balance"]) for a in accounts]
    assert all(b >= 0 for b in balances)
    assert D((await control_row(client, world))["deposits_total"]) == sum(balances)


async def test_lock_in_and_instruction_refusals(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world, maturity_instructions=(ProductInstruction.WITHDRAW,),
                                    lock_in=TermLength(count=0))
    woman = await make_client(client, world)
    assert_problem(await client.post(URL, json=opening(woman, product_id, cash_id,
                                                       maturity_instruction="renew_principal")),
                   422, "maturity_instruction")
    account = await open_and_fund(client, woman, product_id, cash_id)
    url = f"{URL}/{account['account_id']}"
    assert_problem(await client.put(f"{url}/maturity-instruction", json={"maturity_instruction": "renew_principal"}),
                   422, "maturity_instruction")
    assert_problem(await client.put(f"{url}/maturity-instruction", json={"maturity_instruction": "hold",
                                                                          "expected_version": 99}),
                   409, "expected_version")
    # No lock-in: closing the next day is allowed (no interest posted yet, nothing clawed back).
    quote = (await client.post(f"{url}/premature-closure/quote", json={"closed_on": "2026-01-16"})).json()["quote"]
    assert quote["interest_to_claw_back"] == "0"
    assert_problem(await client.post(f"{url}/premature-closure/quote", json={"closed_on": "2027-01-15"}),
                   409, "closed_on")
    assert_problem(await client.get(f"{URL}/999999"), 404, "account_id")


async def test_verify_checks_find_a_stray_posting_on_a_control_account(client, refs, world, cash_id, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """The verify queries: clean after real operations; a manual entry on the control account
    is reported until it is reversed."""
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    await open_and_fund(client, woman, product_id, cash_id)
    mine = [found for found in await run_term_deposit_checks(uow_factory) if world.deposits in found[1]]
    assert mine == []
    stray = await client.post("/api/v1/journal-entries", json={
        "office_id": world.office_id, "value_date": "2026-02-01", "description": "Écriture manuelle",
        "lines": [{"account_code": world.cash, "side": "debit", "amount": "10", "currency": "XOF"},
                  {"account_code": world.deposits, "side": "credit", "amount": "10", "currency": "XOF"}]})
    assert stray.status_code == 201, stray.text
    try:
        found = await run_term_deposit_checks(uow_factory)
        assert ("term-deposit-control", "GL balance 1000010.0000 XOF but term deposits total 1000000.0000") in [
            (check, detail) for check, detail in found], found
        assert not (await control_row(client, world))["reconciled"]
    finally:
        reversal = await client.post(f"/api/v1/journal-entries/{stray.json()['id']}/reversal",
                                     json={"description": "Annulation"})
        assert reversal.status_code == 201, reversal.text
    assert (await control_row(client, world))["reconciled"]


def test_the_runs_are_grandlivre_commands() -> None:
    from click.testing import CliRunner

    from api.cli import main

    for command in ("post-term-deposit-interest", "mature-deposits"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0 and "--date" in result.output, result.output
        assert CliRunner().invoke(main, [command]).exit_code == 2  # --date is required


async def test_maturity_ladder_buckets_what_falls_due(client, refs, world, cash_id, staff_user) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    await open_and_fund(client, woman, product_id, cash_id, opened_on="2026-03-02", activated_on="2026-03-02")
    branch_user = await staff_user("administrator", office_id=world.office_id)
    ladder = await client.get("/api/v1/reports/term-deposit-maturity-ladder",
                              params={"as_of": "2027-01-01", "weeks": 4, "months": 6}, headers=branch_user.headers)
    assert ladder.status_code == 200, ladder.text
    march = [b for b in ladder.json()["monthly"] if b["period"]["first_day"] == "2027-03-01"]
    assert [(b["currency"], b["deposit_count"]) for b in march] == [("XOF", 1)]
    assert D(march[0]["amount_due"]) > D(1_000_000)
    assert_problem(await client.get("/api/v1/reports/term-deposit-maturity-ladder", params={"weeks": 0}), 400)


async def test_concurrent_funding_and_runs_never_double_apply(client, refs, world, cash_id, uow_factory) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    opened = (await client.post(URL, json=opening(woman, product_id, cash_id))).json()
    fund = {"activated_on": "2026-01-15", "source": {"payment_type_id": cash_id}}
    answers = await asyncio.gather(*(client.post(f"{URL}/{opened['account_id']}/fund", json=fund) for _ in range(3)))
    assert sorted(a.status_code for a in answers) == [200, 409, 409], [a.text for a in answers]
    await asyncio.gather(*(runs.post_interest(uow_factory, date(2026, 3, 14), "tests") for _ in range(3)))
    account = (await client.get(f"{URL}/{opened['account_id']}")).json()
    assert account["balance"] == str(1_000_000 + 5096 + 4626)
    assert (await control_row(client, world))["reconciled"]


async def test_statement_json_and_csv(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    account = await open_and_fund(client, woman, product_id, cash_id)
    await client.post(f"{URL}/interest-runs", json={"on": "2026-02-14"})
    url = f"{URL}/{account['account_id']}/statement"
    lines = (await client.get(url)).json()["lines"]
    assert [(line["kind"], line["credit"], line["balance"]) for line in lines[:2]] == [
        ("deposit", "1000000", "1000000"), ("interest", "5096", "1005096")]
    exported = await client.get(url, params={"format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "2026-02-14;1;interest;5096;0;1005096" in exported.text
    assert (await client.get(url, params={"format": "xml"})).status_code == 400


async def test_fund_and_closure_settlement_refusals(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    product_id = await make_product(client, refs, world, lock_in=TermLength(count=0))
    woman = await make_client(client, world)
    opened = (await client.post(URL, json=opening(woman, product_id, cash_id))).json()
    url = f"{URL}/{opened['account_id']}"
    assert_problem(await client.post(f"{url}/fund", json={"activated_on": "2026-01-15", "source": {}}),
                   422, "source.payment_type_id")
    assert_problem(await client.post(f"{url}/fund", json={"activated_on": "2026-01-15",
                                                          "source": {"deposit_account_id": 3}}),
                   422, "source.deposit_account_id")
    assert_problem(await client.post(f"{url}/premature-closure/quote", json={"closed_on": "2026-02-01"}),
                   409, "account_id")  # pending: nothing to close yet
    await client.post(f"{url}/fund", json={"activated_on": "2026-01-15", "source": {"payment_type_id": cash_id}})
    assert_problem(await client.post(f"{url}/premature-closure", json={"closed_on": "2026-02-01", "payout": {}}),
                   422, "payout.payment_type_id")
    assert (await client.get(url)).json()["status"] == "active"


async def test_renewal_takes_the_chart_valid_on_the_maturity_date(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    """Two validity periods: the 2026 chart (5.5 % from 1 000 000, women +0.5) until 31 December
    2026, a 2027 chart at 7 % (women +0.5) from 1 January 2027, added as version 2 of the
    product. A deposit opened in 2026 keeps 6 % and version 1; renewed on 15 January 2027 it
    takes 7.5 % and version 2, and its first term is unchanged in the history."""
    from products.term_deposits.product import RateChart, RateSlab

    product_id = await make_product(client, refs, world)
    woman = await make_client(client, world)
    account = await open_and_fund(client, woman, product_id, cash_id, maturity_instruction="renew_principal")
    current = (await client.get(f"/api/v1/term-deposit-products/{product_id}")).json()["settings"]
    first = msgspec.convert(current["rate_charts"][0], RateChart, strict=False)
    women = first.slabs[1].incentives
    charts = [msgspec.structs.replace(first, valid_to=date(2026, 12, 31)),
              RateChart(valid_from=date(2027, 1, 1), name="Grille 2027", slabs=(
                  RateSlab(term_from=12, term_to=12, rate_percent=D(7), incentives=women),))]
    changed = await client.put(f"/api/v1/term-deposit-products/{product_id}",
                               json={**current, "rate_charts": msgspec.to_builtins(charts)})
    assert changed.status_code == 200, changed.text
    assert (await client.get(f"{URL}/{account['account_id']}")).json()["rate_percent"] == "6"
    await client.post(f"{URL}/maturity-runs", json={"on": "2027-01-15"})
    renewed = (await client.get(f"{URL}/{account['account_id']}")).json()
    assert [(t["product_version"], t["rate_percent"], t["starts_on"]) for t in renewed["terms"]] == [
        (1, "6", "2026-01-15"), (2, "7.5", "2027-01-15")]
    assert renewed["balance"] == "1000000"


async def test_an_age_incentive_replaces_the_rate(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    """Incentives apply in order: women +0.5 point (5.5 -> 6), then over 60 years a fixed 8 %
    that replaces whatever was found. A woman of 76 (born 1950) gets 8 %; a man of 41 gets 5.5 %."""
    from products.term_deposits.product import (
        ClientAttribute,
        Incentive,
        IncentiveKind,
        Operator,
        RateChart,
        RateSlab,
    )

    women = Incentive(attribute=ClientAttribute.GENDER, operator=Operator.EQUAL, value="female",
                      kind=IncentiveKind.INCENTIVE, rate_percent=D("0.5"))
    seniors = Incentive(attribute=ClientAttribute.AGE, operator=Operator.GREATER_THAN, value="60",
                        kind=IncentiveKind.FIXED, rate_percent=D(8))
    chart_ = RateChart(valid_from=date(2026, 1, 1), slabs=(
        RateSlab(term_from=12, term_to=12, rate_percent=D("5.5"), incentives=(women, seniors)),))
    product_id = await make_product(client, refs, world, rate_charts=(chart_,))
    n = tag()
    senior = (await client.post("/api/v1/clients", json={
        "kind": "individual", "office_id": world.office_id, "first_name": "Aminata", "last_name": f"Sow {n}",
        "birth_date": "1950-01-10", "gender": "female", "national_id": f"TDS-{world.prefix}-{n}"})).json()
    await client.post(f"/api/v1/clients/{senior['client_id']}/activate")
    preview = (await client.post(f"{URL}/preview", json=opening(senior["client_id"], product_id, cash_id))).json()
    assert (preview["rate_percent"], [i["attribute"] for i in preview["incentives_applied"]]) == ("8", [
        "gender", "age"])
    man = await make_client(client, world, "male")
    assert (await client.post(f"{URL}/preview", json=opening(man, product_id, cash_id))).json()["rate_percent"] == "5.5"


async def test_whole_term_penalty_costs_more_than_until_withdrawal(client, refs, world, cash_id) -> None:  # type: ignore[no-untyped-def]
    """Seed 004's two penalty bases, same deposit closed on 15 July 2026 (181 days held, 184 not):
    until_withdrawal pays the days held at 5 %; whole_term also charges 1 % on 1 000 000 for the
    184 days not held (1 000 000 x 1 % x 184 / 365 = 5 041)."""
    from products.term_deposits.product import PenaltyBasis, PrematureClosurePenalty

    woman = await make_client(client, world)
    quotes = {}
    for basis in PenaltyBasis:
        product_id = await make_product(client, refs, world, premature_closure_penalty=PrematureClosurePenalty(
            rate_percent=D(1), basis=basis))
        account = await open_and_fund(client, woman, product_id, cash_id)
        quotes[basis] = (await client.post(f"{URL}/{account['account_id']}/premature-closure/quote",
                                           json={"closed_on": "2026-07-15"})).json()["quote"]
    held, whole = quotes[PenaltyBasis.UNTIL_WITHDRAWAL], quotes[PenaltyBasis.WHOLE_TERM]
    assert held["days_held"] == 181
    assert D(held["interest_recalculated"]) - D(whole["interest_recalculated"]) == D(5041)
    assert D(whole["amount_paid"]) < D(held["amount_paid"]) < D(1_000_000) + D(held["interest_at_contract_rate"])
