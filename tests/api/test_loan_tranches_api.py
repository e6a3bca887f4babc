"""Disbursement by tranches through HTTP: two tranches under each accounting rule with the
journal lines written out by hand, the schedule regenerated on each tranche (repayments
already made stay allocated), the undo of the last tranche, and the refusals (beyond the
approved amount, beyond the product's tranches, after the product's close date)."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from products.loans.calendar import add_months
from products.loans.product import InterestRecalculation, MultiDisbursement, RecalculationFrequency
from products.posting_rules import AccountingRule
from tests.api import test_loans_api
from tests.api.test_clients_api import assert_problem
from tests.api.test_loans_api import (
    APPS,
    DISBURSED_ON,
    LOANS,
    TODAY,
    approved_loan,
    borrower,
    entry_lines,
    lines,
    make_product,
    repay,
)
from tests.api.test_products_api import unique
from tests.api.test_reference_api import tax_rate

D = Decimal
FIRST_DUE = add_months(DISBURSED_ON, 1)
TWO_TRANCHES = MultiDisbursement(tranches_max=2)
refs = test_loans_api.refs  # the loan tests' module fixtures: demo chart, references, payment types
ids = test_loans_api.ids


async def tranche(client, loan_id: int, amount: str, payment_type_id: int, on=DISBURSED_ON, **changes: Any) -> Any:  # type: ignore[no-untyped-def]
    return await client.post(f"{LOANS}/{loan_id}/tranches", json={
        "value_date": on.isoformat(), "amount": amount, "payment_type_id": payment_type_id, **changes},
        headers={"Idempotency-Key": f"tranche-{loan_id}-{amount}-{on}"})


async def view(client, loan_id: int, on=FIRST_DUE) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return (await client.get(f"{LOANS}/{loan_id}", params={"as_of": on.isoformat()})).json()  # type: ignore[no-any-return]


def outstanding(loan: dict[str, Any], component: str) -> Decimal:
    return D(next(c for c in loan["position"]["components"] if c["component"] == component)["outstanding"])


TAF_COUNTRY = {AccountingRule.CASH: "GA", AccountingRule.ACCRUAL_PERIODIC: "CG", AccountingRule.ACCRUAL_UPFRONT: "TD"}


@pytest.mark.parametrize("rule", [AccountingRule.CASH, AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT])
async def test_two_tranches_post_their_entries_and_regenerate_the_schedule(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, rule) -> None:
    # The file fee (1 %, charge time "disbursement") once; a 0.5 % tranche fee with 17 % VAT on each tranche.
    # In force over the loan's dates (a rate taxes only what falls due within its validity), in a
    # country of its own per rule: one rate in force per country and operation.
    taf = await tax_rate(client, country=TAF_COUNTRY[rule], valid_from="2000-01-01", valid_to=None)
    tranche_fee = await client.post("/api/v1/charges", json={
        "name": f"Frais de tranche {world.prefix} {rule.value}", "applies_to": "loan",
        "charge_time": "tranche_disbursement", "calculation": "percent_of_amount", "amount": "0.5",
        "currency": "XOF", "tax_rate_id": taf["id"]})
    assert tranche_fee.status_code == 201, tranche_fee.text
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule,
                                               multi_disbursement=TWO_TRANCHES,
                                               charge_ids=(refs.loan_fee_id, tranche_fee.json()["id"]))
    planned = [{"expected_date": DISBURSED_ON.isoformat(), "amount": "200000"},
               {"expected_date": FIRST_DUE.isoformat(), "amount": "100000"}]
    loan_id = await approved_loan(client, world, staff_user, product_id, tranches=planned,
                                  interest_rate_percent="12")
    loan = (await client.get(f"{APPS}/{loan_id}")).json()
    assert [t["amount"] for t in loan["terms"]["tranches"]] == ["200000", "100000"], "planned tranches are frozen"

    # Tranche 1: 200 000 at 12 % over 6 months (1 % a month). Level instalment
    # 200 000 x 0.01 / (1 - 1.01^-6) = 34 509.67 -> 34 510; month 1: interest 2 000, principal 32 510;
    # the schedule's interest is 2 000 + 1 675 + 1 347 + 1 015 + 680 + 342 = 7 059.
    # Withheld from the cash paid out: the file fee, 1 % of the loan's 300 000 (3 000), and the tranche
    # fee, 0.5 % of 200 000 (1 000) with its VAT, 17 % (170, to VAT payable 343).
    first = await tranche(client, loan_id, "200000", ids["cash"])
    assert first.status_code == 201, first.text
    assert (first.json()["principal"], first.json()["fee"], first.json()["vat"]) == ("200000", "4000", "170")
    # (The journal sums the lines of an entry per account and side.)
    expected = lines((portfolio, "D", 200_000), ("1012", "C", 200_000), ("1012", "D", 4_170), ("7022", "C", 4_000),
                     ("343", "C", 170))
    if rule is AccountingRule.ACCRUAL_UPFRONT:
        expected |= lines(("2071", "D", 7_059), ("7021", "C", 7_059))
    assert await entry_lines(uow_factory, first.json()["journal_entry_id"]) == expected
    schedule = (await view(client, loan_id, DISBURSED_ON))["loan"]["schedule"]
    assert [(i["principal_amount"], i["interest_amount"]) for i in schedule["instalments"][:2]] == [
        ("32510", "2000"), ("32835", "1675")]
    assert schedule["totals"]["interest_amount"] == "7059"

    # Instalment 1 paid on its due date, then tranche 2 the same day.
    paid = await repay(client, loan_id, "34510", ids["cash"], on=FIRST_DUE)
    assert (paid.json()["interest"], paid.json()["principal"]) == ("2000", "32510"), paid.text
    interest_account = "7021" if rule is AccountingRule.CASH else "2071"
    assert await entry_lines(uow_factory, paid.json()["journal_entry_id"]) == lines(
        ("1012", "D", 34_510), (interest_account, "C", 2_000), (portfolio, "C", 32_510))

    # Tranche 2: 100 000 on the first due date. The balance is 167 490 + 100 000 = 267 490, amortised
    # over the 5 months left: 267 490 x 0.01 / (1 - 1.01^-5) = 55 113.6 -> 55 114; month 2's interest
    # 267 490 x 1 % = 2 675; interest 2 000 + 2 675 + 2 151 + 1 621 + 1 086 + 546 = 10 079, so upfront
    # accrual recognises 10 079 - 7 059 = 3 020 more. The tranche fee: 0.5 % of 100 000 = 500, VAT 85.
    second = await tranche(client, loan_id, "100000", ids["cash"], on=FIRST_DUE)
    assert second.status_code == 201, second.text
    expected = lines((portfolio, "D", 100_000), ("1012", "C", 100_000), ("1012", "D", 585), ("7022", "C", 500),
                     ("343", "C", 85))
    if rule is AccountingRule.ACCRUAL_UPFRONT:
        expected |= lines(("2071", "D", 3_020), ("7021", "C", 3_020))
        assert second.json()["interest"] == "3020"
    assert await entry_lines(uow_factory, second.json()["journal_entry_id"]) == expected
    after = await view(client, loan_id)
    schedule = after["loan"]["schedule"]
    assert [(i["principal_amount"], i["interest_amount"], i["total_amount"]) for i in schedule["instalments"]] == [
        ("32510", "2000", "34510"), ("52439", "2675", "55114"), ("52963", "2151", "55114"),
        ("53493", "1621", "55114"), ("54028", "1086", "55114"), ("54567", "546", "55113")]
    assert [(d["amount"], d["fee_amount"], d["vat_amount"]) for d in schedule["disbursements"]] == [
        ("200000", "4000", "170"), ("100000", "500", "85")]
    assert outstanding(after, "principal") == 267_490 and outstanding(after, "interest") == 10_079 - 2_000
    assert after["position"]["instalments"][0]["outstanding"] == "0", "the repayment stays allocated"

    # Undo of the last tranche: its entry mirrored, the schedule of tranche 1 again.
    undone = await client.post(f"{LOANS}/{loan_id}/tranches/undo")
    assert undone.status_code == 201, undone.text
    assert undone.json()["kind"] == "disbursement_reversal"
    mirror = {(code, "C" if side == "D" else "D", amount) for code, side, amount in expected}
    assert await entry_lines(uow_factory, undone.json()["journal_entry_id"]) == mirror
    back = await view(client, loan_id)
    assert back["loan"]["schedule"]["instalments"][1]["interest_amount"] == "1675"
    assert outstanding(back, "principal") == 167_490
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["general_ledger"] == rows[portfolio]["subledger"] == "167490"


async def test_tranche_refusals(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                       multi_disbursement=TWO_TRANCHES)
    client_id = await borrower(client, world, staff_user)
    bad_plan = [{"expected_date": DISBURSED_ON.isoformat(), "amount": "200000"},
                {"expected_date": FIRST_DUE.isoformat(), "amount": "50000"}]
    assert_problem(await client.post(APPS, json={
        "client_id": client_id, "product_id": product_id, "expected_disbursement_date": DISBURSED_ON.isoformat(),
        "principal_amount": "300000", "tranches": bad_plan}), 422, "tranches")

    plan = [{"expected_date": DISBURSED_ON.isoformat(), "amount": "200000"},
            {"expected_date": FIRST_DUE.isoformat(), "amount": "100000"}]
    planned = (await client.post(APPS, json={
        "client_id": client_id, "product_id": product_id, "expected_disbursement_date": DISBURSED_ON.isoformat(),
        "principal_amount": "300000", "interest_rate_percent": "12", "tranches": plan})).json()
    assert (await client.post(f"{APPS}/{planned['loan_id']}/submit")).status_code == 200
    checker = await staff_user("branch_manager", office_id=world.office_id)
    lowered = (await client.post(f"{APPS}/{planned['loan_id']}/approve", json={"principal_amount": "250000"},
                                 headers=checker.headers)).json()
    assert [t["amount"] for t in lowered["terms"]["tranches"]] == ["200000", "50000"], "the plan is trimmed"

    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert_problem(await tranche(client, loan_id, "300001", ids["cash"]), 422, "amount")
    assert_problem(await tranche(client, loan_id, "100.5", ids["cash"]), 422, "amount")
    assert (await tranche(client, loan_id, "200000", ids["cash"])).status_code == 201
    assert_problem(await tranche(client, loan_id, "150000", ids["cash"], on=FIRST_DUE), 422, "amount")
    assert_problem(await tranche(client, loan_id, "50000", ids["cash"], on=DISBURSED_ON - timedelta(days=1)),
                   422, "value_date")
    second = await tranche(client, loan_id, "50000", ids["cash"], on=FIRST_DUE)
    assert second.status_code == 201, second.text
    replay = await tranche(client, loan_id, "50000", ids["cash"], on=FIRST_DUE)  # same Idempotency-Key and body
    assert replay.status_code == 201 and replay.json()["transaction_id"] == second.json()["transaction_id"]
    assert_problem(await client.post(f"{LOANS}/{loan_id}/tranches", json={
        "value_date": FIRST_DUE.isoformat(), "amount": "40000", "payment_type_id": ids["cash"]},
        headers={"Idempotency-Key": f"tranche-{loan_id}-50000-{FIRST_DUE}"}), 409, "Idempotency-Key")
    third = await tranche(client, loan_id, "40000", ids["cash"], on=FIRST_DUE)
    body = assert_problem(third, 422, "amount")
    assert "at most 2 tranches" in body["detail"], body
    assert len((await client.get(f"{LOANS}/{loan_id}/transactions")).json()) == 2, "refusals write nothing"

    # A repayment after the last tranche stands in the way of its undo; so does the whole-loan undo.
    paid = (await repay(client, loan_id, "10000", ids["cash"], on=FIRST_DUE + timedelta(days=1))).json()
    assert_problem(await client.post(f"{LOANS}/{loan_id}/tranches/undo"), 409, "loan_id")
    assert_problem(await client.post(f"{LOANS}/{loan_id}/undo-disbursement"), 409, "loan_id")
    assert (await client.post(f"{LOANS}/{loan_id}/transactions/{paid['transaction_id']}/reversal")).status_code == 201
    assert (await client.post(f"{LOANS}/{loan_id}/tranches/undo")).status_code == 201
    assert (await client.post(f"{LOANS}/{loan_id}/tranches/undo")).status_code == 201
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "approved"


async def test_no_tranche_after_the_products_close_date_nor_on_a_single_disbursement_product(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    closing = msgspec.structs.replace(unique("Prêt"), close_date=DISBURSED_ON + timedelta(days=10))
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                       multi_disbursement=TWO_TRANCHES, identity=closing)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await tranche(client, loan_id, "100000", ids["cash"])).status_code == 201
    assert_problem(await tranche(client, loan_id, "100000", ids["cash"], on=FIRST_DUE), 422, "value_date")

    single, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, single)
    assert_problem(await tranche(client, loan_id, "100000", ids["cash"]), 422, "amount")
    whole = await tranche(client, loan_id, "300000", ids["cash"])
    assert whole.status_code == 201 and whole.json()["fee"] == "3000", whole.text


@pytest.mark.parametrize(("rule", "recalculation", "seed"), [
    (AccountingRule.ACCRUAL_UPFRONT, None, 1),
    (AccountingRule.CASH, InterestRecalculation(), 2),
    (AccountingRule.ACCRUAL_PERIODIC, InterestRecalculation(frequency=RecalculationFrequency.MONTHLY), 3)])
async def test_random_tranches_repayments_and_undos_keep_the_subledger_equal_to_the_gl(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, rule, recalculation, seed) -> None:
    """Tranches, repayments (partial, early, late, over), their reversals and undos of the last
    tranche in random order: every answer is a 201 or a refusal naming its field, and in the end
    the portfolio and receivables equal their GL accounts (the upfront interest receivable equals
    the interest the loan still asks)."""
    changes: dict[str, Any] = {"multi_disbursement": MultiDisbursement(tranches_max=3)}
    if recalculation is not None:
        changes |= {"interest_recalculation": True, "interest_recalculation_settings": recalculation}
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule,
                                               own_receivables=rule is not AccountingRule.CASH, **changes)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    chance = random.Random(seed)
    day = DISBURSED_ON
    assert (await tranche(client, loan_id, "100000", ids["cash"], on=day)).status_code == 201
    for step in range(20):
        day += timedelta(days=chance.randint(0, 6))
        action = chance.choice(["tranche", "tranche", "repay", "repay", "repay", "repay", "reverse", "undo"])
        if action == "tranche":
            response = await tranche(client, loan_id, str(chance.randint(1, 10) * 10_000), ids["cash"], on=day)
        elif action == "repay":
            response = await repay(client, loan_id, str(chance.randint(1, 60_000)), ids["cash"], on=day,
                                   key=f"random-{loan_id}-{step}")
        elif action == "reverse":
            listed = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
            reversed_ids = {t["reverses_transaction_id"] for t in listed}
            standing = [t for t in listed if t["kind"] == "repayment" and t["transaction_id"] not in reversed_ids]
            if not standing:
                continue
            target = chance.choice(standing)["transaction_id"]
            response = await client.post(f"{LOANS}/{loan_id}/transactions/{target}/reversal")
        else:
            response = await client.post(f"{LOANS}/{loan_id}/tranches/undo")
        assert response.status_code in (201, 409, 422), response.text
        if response.status_code != 201:
            assert response.json()["field"] in ("amount", "loan_id", "value_date", "transaction_id"), response.text
    reconciled = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert reconciled[portfolio]["difference"] == "0", reconciled[portfolio]
    rows = (await client.get("/api/v1/reports/loan-receivables-reconciliation")).json()
    mine = {r["role"]: r for r in rows if r["account_code"].startswith(world.prefix)}
    assert all(r["difference"] == "0" for r in mine.values()), mine
    loan = await view(client, loan_id, TODAY)
    if loan["position"] is not None and rule is AccountingRule.ACCRUAL_UPFRONT:
        assert D(mine["interest_receivable"]["subledger"]) == outstanding(loan, "interest")
        assert D(reconciled[portfolio]["subledger"]) == outstanding(loan, "principal")


async def test_concurrent_tranches_never_pay_out_beyond_the_approved_amount(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                               multi_disbursement=MultiDisbursement(tranches_max=5))
    loan_id = await approved_loan(client, world, staff_user, product_id)
    answers = await asyncio.gather(*(client.post(f"{LOANS}/{loan_id}/tranches", json={
        "value_date": DISBURSED_ON.isoformat(), "amount": "120000", "payment_type_id": ids["cash"]},
        headers={"Idempotency-Key": f"concurrent-{loan_id}-{n}"}) for n in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 201, 422, 422], [a.text for a in answers]
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["general_ledger"] == rows[portfolio]["subledger"] == "240000"
