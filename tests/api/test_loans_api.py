"""Loans through HTTP: application with frozen terms, eligibility pre-check, submission,
approval by validation level (never by the maker), disbursement and repayments posted as one
journal entry each through the product's rules (expected lines written out by hand for every
accounting rule), refusals with their field, idempotency, concurrency, and the portfolio
sub-ledger equal to the GL after random movements."""

from __future__ import annotations

import asyncio
import itertools
import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.catalogue.common import AmountRange, CountRange
from products.loans.product import LoanProduct
from products.posting_rules import AccountingRole, AccountingRule, ProductKind
from products.reference.db.tables import DecisionReasonRow, PaymentTypeRow
from servicing import chart
from servicing.commands import CreateGLAccounts
from servicing.products import demo
from tests.api.test_clients_api import JPEG, assert_problem, person
from tests.api.test_products_api import unique

D = Decimal
APPS = "/api/v1/loan-applications"
LOANS = "/api/v1/loans"
TODAY = date.today()
DISBURSED_ON = TODAY - timedelta(days=100)
_keys = itertools.count(1)


@pytest.fixture(scope="module")
async def refs(uow_factory) -> demo.DemoReferences:  # type: ignore[no-untyped-def]
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    return await demo.ensure_demo_references(uow_factory)


@pytest.fixture(scope="module")
async def ids(uow_factory, refs) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        found = dict((await uow.session.execute(select(PaymentTypeRow.name, PaymentTypeRow.id))).all())
        reasons = dict((await uow.session.execute(select(DecisionReasonRow.label, DecisionReasonRow.id))).all())
    return {"cash": found["Espèces"], "mobile": found["Mobile money"],
            "approve_reason": reasons["Capacité de remboursement suffisante"],
            "reject_reason": reasons["Capacité de remboursement insuffisante"]}


async def make_product(client, refs, world, uow_factory, rule: AccountingRule, *, own_receivables: bool = False,  # type: ignore[no-untyped-def]
                       **changes: Any) -> tuple[int, str]:
    """A loan product whose portfolio account (and receivables, when asked) are the test's own,
    so their GL balances are the test's loans only."""
    n = next(_keys)
    roles = [AccountingRole.LOAN_PORTFOLIO]
    if own_receivables:
        roles += [AccountingRole.INTEREST_RECEIVABLE, AccountingRole.FEES_RECEIVABLE,
                  AccountingRole.PENALTIES_RECEIVABLE]
    own = {role: f"{world.prefix}.{role.value[:12]}{n}" for role in roles}
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(GLAccount(
        code=code, name=f"Test {role.value}", type=AccountType.ASSET, usage=AccountUsage.DETAIL,
        parent_code=world.header) for role, code in own.items()), actor="tests"))
    portfolio = own[AccountingRole.LOAN_PORTFOLIO]
    accounting = demo._mapping(ProductKind.LOAN, rule, refs, charges={refs.loan_fee_id: "7022"})
    accounting = msgspec.structs.replace(accounting, accounts={**accounting.accounts, **own})
    product = LoanProduct(
        identity=unique("Prêt"), currency="XOF", fund_source_id=refs.own_funds_id,
        principal=AmountRange(minimum=D(50_000), default=D(300_000), maximum=D(10_000_000)),
        repayment_count=CountRange(minimum=3, default=6, maximum=24),
        interest_rate_percent=AmountRange(minimum=D(12), default=D(18), maximum=D(24)),
        charge_ids=(refs.loan_fee_id,), accounting=accounting)
    product = msgspec.structs.replace(product, **changes)
    response = await client.post("/api/v1/loan-products", json=msgspec.to_builtins(product))
    assert response.status_code == 201, response.text
    return response.json()["product_id"], portfolio


async def borrower(client, world, staff_user) -> int:  # type: ignore[no-untyped-def]
    """An active client whose KYC is complete (an identity card verified by a second person)."""
    made = (await client.post("/api/v1/clients", json=person(world))).json()
    url = f"/api/v1/clients/{made['client_id']}"
    document = (await client.post(f"{url}/documents", json={
        "document_type": "national_id_card", "number": "1 751 1990 00123", "issuing_authority": "DAF Dakar",
        "issued_on": "2020-01-01", "expires_on": (TODAY + timedelta(days=3000)).isoformat()})).json()
    doc_url = f"{url}/documents/{document['document_id']}"
    stored = await client.post(f"{doc_url}/files", files={"file": ("cni.jpg", JPEG, "image/jpeg")})
    assert stored.status_code == 201, stored.text
    checker = await staff_user("branch_manager", office_id=world.office_id)
    verified = await client.post(f"{doc_url}/verify", json={"comment": "ok"}, headers=checker.headers)
    assert verified.status_code == 200, verified.text
    assert (await client.post(f"{url}/activate")).status_code == 200
    return int(made["client_id"])


def application(client_id: int, product_id: int, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"client_id": client_id, "product_id": product_id,
                            "expected_disbursement_date": DISBURSED_ON.isoformat(), "principal_amount": "300000",
                            "repayment_count": 6, "purpose": "Fonds de roulement boutique"}
    body.update(changes)
    return body


async def approved_loan(client, world, staff_user, product_id: int, **changes: Any) -> int:  # type: ignore[no-untyped-def]
    client_id = await borrower(client, world, staff_user)
    made = await client.post(APPS, json=application(client_id, product_id, **changes))
    assert made.status_code == 201, made.text
    loan_id = made.json()["loan_id"]
    submitted = await client.post(f"{APPS}/{loan_id}/submit")
    assert submitted.status_code == 200, submitted.text
    checker = await staff_user("branch_manager", office_id=world.office_id)
    approved = await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)
    assert approved.status_code == 200 and approved.json()["status"] == "approved", approved.text
    return int(loan_id)


async def entry_lines(uow_factory, entry_id: str) -> set[tuple[str, str, Decimal]]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT a.code, l.side, l.amount FROM journal_line l JOIN gl_account a ON a.id = l.account_id "
            "WHERE l.entry_id = :id"), {"id": entry_id})).all()
    return {(code, side, D(amount).normalize()) for code, side, amount in rows}


def lines(*items: tuple[str, str, int]) -> set[tuple[str, str, Decimal]]:
    return {(code, side, D(amount).normalize()) for code, side, amount in items}


async def disburse(client, loan_id: int, payment_type_id: int, **changes: Any) -> Any:  # type: ignore[no-untyped-def]
    body = {"value_date": DISBURSED_ON.isoformat(), "payment_type_id": payment_type_id, **changes}
    return await client.post(f"{LOANS}/{loan_id}/disburse", json=body,
                             headers={"Idempotency-Key": f"disb-{loan_id}-{next(_keys)}"})


async def repay(client, loan_id: int, amount: str, payment_type_id: int, *, key: str | None = None,  # type: ignore[no-untyped-def]
                on: date = DISBURSED_ON + timedelta(days=40)) -> Any:
    return await client.post(f"{LOANS}/{loan_id}/repayments", json={
        "value_date": on.isoformat(), "amount": amount, "payment_type_id": payment_type_id, "receipt_number": "R-1"},
        headers={"Idempotency-Key": key or f"rep-{loan_id}-{next(_keys)}"})


# --------------------------------------------------------------------------- lifecycle per rule

@pytest.mark.parametrize("rule", [AccountingRule.CASH, AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT])
async def test_lifecycle_posts_the_products_entries(client, refs, ids, world, staff_user, uow_factory, rule) -> None:  # type: ignore[no-untyped-def]
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule)
    client_id = await borrower(client, world, staff_user)

    made = await client.post(APPS, json=application(client_id, product_id))
    assert made.status_code == 201, made.text
    loan = made.json()
    loan_id = loan["loan_id"]
    assert loan["status"] == "draft" and loan["loan_cycle"] == 1
    assert loan["terms"]["principal_amount"] == "300000" and loan["terms"]["interest_rate_percent"] == "18"
    assert loan["terms"]["fees"][0]["name"] == "Frais de dossier"

    check = (await client.post(f"{APPS}/{loan_id}/pre-check")).json()
    assert check["eligible"] is True, check
    rules = {r["rule"]: r for r in check["rules"]}
    assert rules["kyc_complete"]["outcome"] == "passed" and rules["product_limits"]["outcome"] == "passed"
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "draft", "a pre-check writes nothing"

    assert (await client.post(f"{APPS}/{loan_id}/submit")).json()["status"] == "submitted"
    assert_problem(await client.post(f"{APPS}/{loan_id}/approve", json={}), 403, "loan_id", "self-approval-refused")
    checker = await staff_user("branch_manager", office_id=world.office_id)
    approved = (await client.post(f"{APPS}/{loan_id}/approve", headers=checker.headers,
                                  json={"reason_ids": [ids["approve_reason"]], "note": "Bon dossier"})).json()
    assert approved["status"] == "approved" and approved["principal_approved"] == "300000"
    assert approved["decisions"][0]["decided_by"] == checker.username

    disbursed = await disburse(client, loan_id, ids["cash"])
    assert disbursed.status_code == 201, disbursed.text
    movement = disbursed.json()
    assert (movement["kind"], movement["principal"], movement["fee"]) == ("disbursement", "300000", "3000")
    view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": DISBURSED_ON.isoformat()})).json()
    schedule = view["loan"]["schedule"]
    interest_total = D(schedule["totals"]["interest_amount"])
    first = schedule["instalments"][0]
    assert first["interest_amount"] == "4500"  # 300 000 x 18 % / 12
    # Cash (fund source 1012) pays 300 000 out and keeps the 1 % file fee: income 7022.
    expected = lines((portfolio, "D", 300_000), ("1012", "D", 3_000), ("1012", "C", 300_000), ("7022", "C", 3_000))
    if rule is AccountingRule.ACCRUAL_UPFRONT:
        expected |= lines(("2071", "D", int(interest_total)), ("7021", "C", int(interest_total)))
    assert await entry_lines(uow_factory, movement["journal_entry_id"]) == expected

    position = {c["component"]: c for c in view["position"]["components"]}
    assert position["principal"]["outstanding"] == "300000" and position["interest"]["outstanding"] == str(interest_total)

    # 10 000 by mobile money (its own float account 1013): interest 4 500 first, then 5 500 of principal.
    paid = await repay(client, loan_id, "10000", ids["mobile"], key=f"k-{loan_id}")
    assert paid.status_code == 201, paid.text
    repayment = paid.json()
    assert (repayment["interest"], repayment["principal"], repayment["overpayment"]) == ("4500", "5500", "0")
    assert repayment["allocation"] == [{"instalment": 1, "component": "interest", "amount": "4500"},
                                       {"instalment": 1, "component": "principal", "amount": "5500"}]
    interest_account = "7021" if rule is AccountingRule.CASH else "2071"
    assert await entry_lines(uow_factory, repayment["journal_entry_id"]) == lines(
        ("1013", "D", 10_000), (interest_account, "C", 4_500), (portfolio, "C", 5_500))

    replay = await repay(client, loan_id, "10000", ids["mobile"], key=f"k-{loan_id}")
    assert replay.status_code == 201 and replay.json()["transaction_id"] == repayment["transaction_id"]
    assert_problem(await repay(client, loan_id, "10001", ids["mobile"], key=f"k-{loan_id}"), 409, "Idempotency-Key")

    view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": (DISBURSED_ON + timedelta(days=40)).isoformat()})).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    assert position["principal"]["outstanding"] == "294500" and position["principal"]["paid"] == "5500"
    assert view["position"]["days_overdue"] == 9 and position["principal"]["overdue"] == str(
        D(first["principal_amount"]) - 5500)
    transactions = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
    # Accrual periodic: no night has accrued the 4 500 the repayment pays; it is recognised with it.
    true_up = ["accrual"] if rule is AccountingRule.ACCRUAL_PERIODIC else []
    assert [t["kind"] for t in transactions] == ["disbursement", "repayment", *true_up]
    items = (await client.get(f"{LOANS}/{loan_id}/statement")).json()["items"]
    assert {(line["account_code"], line["side"][0].upper(), D(line["amount"]).normalize())
            for line in items[1]["journal_lines"]} == await entry_lines(uow_factory, repayment["journal_entry_id"])
    if true_up:
        assert {(line["account_code"], line["side"], line["amount"]) for line in items[2]["journal_lines"]} == {
            ("2071", "debit", "4500"), ("7021", "credit", "4500")}
    csv_text = (await client.get(f"{LOANS}/{loan_id}/statement", params={"format": "csv"})).text
    assert csv_text.startswith("\ufeffsequence;kind;value_date;amount;principal;interest")
    assert len(csv_text.strip().splitlines()) == 1 + sum(len(item["journal_lines"]) for item in items)

    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["subledger"] == rows[portfolio]["general_ledger"] == "294500"
    assert rows[portfolio]["difference"] == "0"


# --------------------------------------------------------------------------- refusals

async def test_refusals_name_the_field_and_write_nothing(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    client_id = await borrower(client, world, staff_user)
    assert_problem(await client.post(APPS, json=application(client_id, product_id, principal_amount="20000000")),
                   422, "principal_amount")
    assert_problem(await client.post(APPS, json=application(client_id, product_id, principal_amount="300000.5")),
                   422, "principal_amount")
    assert_problem(await client.post(APPS, json=application(client_id, product_id, repayment_count=48)),
                   422, "repayment_count")
    assert_problem(await client.post(APPS, json=application(client_id, product_id, unknown=1)), 400)
    assert_problem(await client.post(APPS, json=application(2_147_483_000, product_id)), 404, "client_id")
    assert_problem(await client.post(APPS, json=application(client_id, product_id, guarantors=[
        {"amount": "1000", "client_id": client_id}])), 422, "guarantors[0].client_id")
    check = (await client.post(f"{APPS}/pre-check", json=application(client_id, product_id,
                                                                        principal_amount="20000000"))).json()
    failed = {r["rule"]: r for r in check["rules"] if r["outcome"] == "failed"}
    assert check["eligible"] is False and failed["product_limits"]["field"] == "principal_amount"

    made = (await client.post(APPS, json=application(client_id, product_id))).json()
    loan_id = made["loan_id"]
    assert_problem(await repay(client, loan_id, "1000", ids["cash"]), 409, "loan_id")
    assert_problem(await disburse(client, loan_id, ids["cash"]), 409, "loan_id")
    assert_problem(await client.post(f"{APPS}/{loan_id}/approve", json={}), 409, "loan_id")
    await client.post(f"{APPS}/{loan_id}/submit")
    checker = await staff_user("branch_manager", office_id=world.office_id)
    assert_problem(await client.post(f"{APPS}/{loan_id}/reject", json={}, headers=checker.headers), 400)
    assert_problem(await client.post(f"{APPS}/{loan_id}/reject", json={"reason_ids": [ids["approve_reason"]]},
                                     headers=checker.headers), 422, "reason_ids[0]")
    assert_problem(await client.post(f"{APPS}/{loan_id}/approve", json={"principal_amount": "400000"},
                                     headers=checker.headers), 422, "principal_amount")
    lowered = (await client.post(f"{APPS}/{loan_id}/approve", json={"principal_amount": "250000"},
                                 headers=checker.headers)).json()
    assert lowered["status"] == "approved" and lowered["terms"]["principal_amount"] == "250000"
    undone = (await client.post(f"{APPS}/{loan_id}/undo-approval", json={}, headers=checker.headers)).json()
    assert undone["status"] == "submitted"
    assert (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)).json()["status"] == "approved"

    assert_problem(await disburse(client, loan_id, 2_147_483_000), 422, "payment_type_id")
    assert_problem(await client.post(f"{LOANS}/{loan_id}/disburse", json={
        "value_date": DISBURSED_ON.isoformat(), "deposit_account_id": 1}), 422, "deposit_account_id")
    assert_problem(await disburse(client, loan_id, ids["cash"], value_date=(TODAY + timedelta(days=1)).isoformat()),
                   422, "value_date")
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    assert_problem(await repay(client, loan_id, "-5", ids["cash"]), 422, "amount")
    assert_problem(await repay(client, loan_id, "100.5", ids["cash"]), 422, "amount")
    assert_problem(await repay(client, loan_id, "1000", ids["cash"], on=DISBURSED_ON - timedelta(days=1)), 422, "value_date")
    assert len((await client.get(f"{LOANS}/{loan_id}/transactions")).json()) == 1, "refusals write nothing"

    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={"on": TODAY.isoformat()})).json()
    assert D(quote["principal"]) == 250_000 and D(quote["total"]) == D(quote["principal"]) + D(quote["interest"])
    exact = (await repay(client, loan_id, quote["total"], ids["cash"])).json()
    assert exact["overpayment"] == "0" and (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"
    assert_problem(await client.get(f"{LOANS}/{loan_id}/payoff-quote"), 409, "loan_id")
    reopened = await client.post(f"{LOANS}/{loan_id}/transactions/{exact['transaction_id']}/reversal")
    assert reopened.status_code == 201, reopened.text

    # Paying everything closes the loan; the excess goes to the overpayment liability (342).
    closing = (await repay(client, loan_id, "400000", ids["cash"])).json()
    assert D(closing["overpayment"]) > 0
    lines_ = await entry_lines(uow_factory, closing["journal_entry_id"])
    assert ("342", "C", D(closing["overpayment"]).normalize()) in lines_
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"
    assert_problem(await repay(client, loan_id, "1000", ids["cash"]), 409, "loan_id")


async def test_other_branches_do_not_see_the_loan(client, refs, ids, world, staff_user, uow_factory, head_office) -> None:  # type: ignore[no-untyped-def]
    from servicing import offices
    from servicing.commands import CreateOffice

    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    other = await offices.create_office(uow_factory(), CreateOffice(
        code=f"{world.prefix}-O", name="Autre", parent_id=head_office.office_id, region="Kaolack",
        opened_on=date(2026, 1, 1), actor="tests"))
    stranger = await staff_user("branch_manager", office_id=other.office_id)
    assert_problem(await client.get(f"{LOANS}/{loan_id}", headers=stranger.headers), 404, "loan_id")
    assert_problem(await client.post(f"{LOANS}/{loan_id}/disburse", headers=stranger.headers, json={
        "value_date": DISBURSED_ON.isoformat(), "payment_type_id": ids["cash"]}), 404, "loan_id")


async def test_validation_levels_each_by_its_role_and_a_different_person(client, refs, world, staff_user, uow_factory, validation_levels) -> None:  # type: ignore[no-untyped-def]
    for order, minimum, role in ((1, "5000000", "branch_manager"), (2, "5500000", "credit_committee")):
        response = await client.post("/api/v1/validation-levels", json={
            "level_order": order, "label": f"Niveau {order}", "currency": "XOF", "role_name": role,
            "amount_min": minimum})
        assert response.status_code == 201, response.text
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    client_id = await borrower(client, world, staff_user)
    loan_id = (await client.post(APPS, json=application(client_id, product_id, principal_amount="6000000"))).json()["loan_id"]
    await client.post(f"{APPS}/{loan_id}/submit")
    committee = await staff_user("credit_committee", office_id=world.office_id)
    manager = await staff_user("branch_manager", "credit_committee", office_id=world.office_id)
    assert_problem(await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=committee.headers), 403, "loan_id")
    first = (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=manager.headers)).json()
    assert first["status"] == "submitted" and first["approval_levels_done"] == 1
    assert_problem(await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=manager.headers), 403, "loan_id")
    second = (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=committee.headers)).json()
    assert second["status"] == "approved"
    assert [d["level_order"] for d in second["decisions"]] == [1, 2]


async def test_rejection_keeps_its_reasons(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    client_id = await borrower(client, world, staff_user)
    loan_id = (await client.post(APPS, json=application(client_id, product_id))).json()["loan_id"]
    await client.post(f"{APPS}/{loan_id}/submit")
    checker = await staff_user("credit_committee", office_id=world.office_id)
    assert_problem(await client.post(f"{APPS}/{loan_id}/send-back", json={"note": ""}, headers=checker.headers), 400)
    assert_problem(await client.post(f"{APPS}/{loan_id}/send-back", json={"note": "Par moi"}), 403, "loan_id")
    assert_problem(await client.post(f"{APPS}/{loan_id}/undo-approval", json={}, headers=checker.headers),
                   409, "loan_id")
    sent_back = (await client.post(f"{APPS}/{loan_id}/send-back", json={"note": "Joindre le bilan"},
                                   headers=checker.headers)).json()
    assert sent_back["status"] == "draft" and sent_back["decisions"][-1]["note"] == "Joindre le bilan"
    assert (await client.post(f"{APPS}/{loan_id}/submit")).json()["status"] == "submitted"
    rejected = (await client.post(f"{APPS}/{loan_id}/reject", headers=checker.headers,
                                  json={"reason_ids": [ids["reject_reason"]], "note": "Revenus insuffisants"})).json()
    assert rejected["status"] == "rejected" and rejected["decisions"][-1]["reason_ids"] == [ids["reject_reason"]]
    assert [d["decision"] for d in rejected["decisions"]] == ["send_back", "reject"]
    for action in ("send-back", "undo-approval"):
        assert_problem(await client.post(f"{APPS}/{loan_id}/{action}", json={"note": "Trop tard"},
                                         headers=checker.headers), 409, "loan_id")
    listed = (await client.get(APPS, params={"status": "rejected", "client_id": client_id})).json()
    assert [loan["loan_id"] for loan in listed] == [loan_id]


async def test_submission_is_refused_while_a_blocking_rule_fails(client, refs, world, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    pending = (await client.post("/api/v1/clients", json=person(world))).json()  # pending, no KYC document
    loan_id = (await client.post(APPS, json=application(pending["client_id"], product_id))).json()["loan_id"]
    refused = assert_problem(await client.post(f"{APPS}/{loan_id}/submit"), 422, "client_id", "loan-not-eligible")
    assert {e["code"] for e in refused["errors"]} == {"client_active", "kyc_complete"}
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "draft"


# --------------------------------------------------------------------------- money invariants

async def test_concurrent_repayments_never_allocate_the_same_due_twice(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    answers = await asyncio.gather(*(repay(client, loan_id, "30000", ids["cash"]) for _ in range(4)))
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    allocated: dict[tuple[int, str], Decimal] = {}
    for answer in answers:
        for line in answer.json()["allocation"]:
            key = (line["instalment"], line["component"])
            allocated[key] = allocated.get(key, D(0)) + D(line["amount"])
    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    for row in view["loan"]["schedule"]["instalments"]:
        assert allocated.get((row["number"], "principal"), D(0)) <= D(row["principal_amount"])
        assert allocated.get((row["number"], "interest"), D(0)) <= D(row["interest_amount"])
    assert sorted(a.json()["sequence_number"] for a in answers) == [2, 3, 4, 5]
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["difference"] == "0"


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_movements_keep_the_subledger_equal_to_the_gl(client, refs, ids, world, staff_user, uow_factory, seed) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    rule = rng.choice([AccountingRule.CASH, AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT])
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule)
    outstanding = D(0)
    for _ in range(3):
        principal = rng.randrange(50_000, 900_000, 1000)
        loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount=str(principal),
                                      repayment_count=rng.randint(6, 12), interest_rate_percent="12")
        assert (await disburse(client, loan_id, rng.choice([ids["cash"], ids["mobile"]]))).status_code == 201
        on = DISBURSED_ON
        for _ in range(rng.randint(0, 4)):
            on += timedelta(days=rng.randint(0, 30))
            answer = await repay(client, loan_id, str(rng.randint(1, principal // 2)), ids["cash"], on=on)
            if answer.status_code == 409:  # paid off and closed
                break
            assert answer.status_code == 201, answer.text
        standing = [t for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json() if t["kind"] == "repayment"]
        reversed_ids = {t["reverses_transaction_id"] for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()}
        standing = [t for t in standing if t["transaction_id"] not in reversed_ids]
        if standing and rng.random() < 0.7:
            victim = rng.choice(standing)["transaction_id"]
            reversal = await client.post(f"{LOANS}/{loan_id}/transactions/{victim}/reversal")
            assert reversal.status_code == 201, reversal.text
        view = (await client.get(f"{LOANS}/{loan_id}")).json()
        outstanding += D(next(c for c in view["position"]["components"] if c["component"] == "principal")["outstanding"])
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert D(rows[portfolio]["subledger"]) == D(rows[portfolio]["general_ledger"]) == outstanding
    assert rows[portfolio]["difference"] == "0"


async def test_the_application_cannot_rewrite_loan_transactions(engine) -> None:  # type: ignore[no-untyped-def]
    for statement in ("UPDATE loan_transaction SET amount = amount + 1", "DELETE FROM loan_transaction",
                      "UPDATE loan_decision SET note = 'x'"):
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError):
                await connection.execute(text(statement))


async def test_verify_queries_flag_a_posting_that_bypassed_the_loans(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    from servicing.loans.reconciliation import VERIFY_QUERIES

    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201

    async def problems() -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        async with uow_factory() as uow:
            for name, sql in VERIFY_QUERIES:
                found[name] = [row.detail for row in (await uow.session.execute(text(sql))).all()
                               if row.account_code == portfolio or str(loan_id) in row.detail]
        return found

    assert await problems() == {name: [] for name, _ in VERIFY_QUERIES}
    manual = await client.post("/api/v1/journal-entries", json={
        "office_id": world.office_id, "value_date": DISBURSED_ON.isoformat(), "description": "Écriture manuelle",
        "lines": [{"account_code": portfolio, "side": "debit", "amount": "1000", "currency": "XOF"},
                  {"account_code": world.cash, "side": "credit", "amount": "1000", "currency": "XOF"}]})
    assert manual.status_code == 201, manual.text
    found = await problems()
    assert found["loan-portfolio-equals-gl"] == [
        f"loan account {portfolio} (XOF): loans 300000.0000, general ledger 301000.0000"]
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["difference"] == "1000"
    # Reversed, the manual entry leaves the account to the loans again (later tests verify the whole journal).
    undone = await client.post(f"/api/v1/journal-entries/{manual.json()['id']}/reversal", json={"description": "Annulation"})
    assert undone.status_code == 201, undone.text
    assert await problems() == {name: [] for name, _ in VERIFY_QUERIES}


async def test_reversing_a_repayment_reapplies_the_later_ones(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    disbursement = (await disburse(client, loan_id, ids["cash"])).json()
    first = (await repay(client, loan_id, "10000", ids["mobile"], on=DISBURSED_ON + timedelta(days=20))).json()
    second = (await repay(client, loan_id, "60000", ids["cash"], on=DISBURSED_ON + timedelta(days=45))).json()
    # 42 658 of principal left on instalment 1, then instalment 2: interest 3 778 (251 842 x 1.5 %), principal 13 564.
    assert (second["interest"], second["principal"]) == ("3778", "56222")
    assert_problem(await client.post(f"{LOANS}/{loan_id}/transactions/{disbursement['transaction_id']}/reversal"),
                   409, "transaction_id")
    teller = await staff_user("teller", office_id=world.office_id)
    assert_problem(await client.post(f"{LOANS}/{loan_id}/transactions/{first['transaction_id']}/reversal",
                                     headers=teller.headers), 403)

    written = await client.post(f"{LOANS}/{loan_id}/transactions/{first['transaction_id']}/reversal")
    assert written.status_code == 201, written.text
    reversal_1, reversal_2, again = written.json()
    assert (reversal_1["kind"], reversal_1["reverses_transaction_id"]) == ("repayment_reversal", first["transaction_id"])
    assert reversal_2["reverses_transaction_id"] == second["transaction_id"]
    assert (again["kind"], again["amount"], again["value_date"]) == ("repayment", "60000", second["value_date"])
    # As if the 10 000 had never come: instalment 1 in full (4 500 + 48 158), then 3 778 + 3 564 of instalment 2.
    assert (again["interest"], again["principal"]) == ("8278", "51722")
    assert await entry_lines(uow_factory, reversal_1["journal_entry_id"]) == lines(
        ("1013", "C", 10_000), ("7021", "D", 4_500), (portfolio, "D", 5_500))
    assert_problem(await client.post(f"{LOANS}/{loan_id}/transactions/{first['transaction_id']}/reversal"),
                   409, "transaction_id")

    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    principal = next(c for c in view["position"]["components"] if c["component"] == "principal")
    assert principal["paid"] == "51722" and principal["outstanding"] == "248278"
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["subledger"] == "248278" and rows[portfolio]["difference"] == "0"

    closing = (await repay(client, loan_id, "400000", ids["cash"], on=DISBURSED_ON + timedelta(days=50))).json()
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"
    reopened = await client.post(f"{LOANS}/{loan_id}/transactions/{closing['transaction_id']}/reversal")
    assert reopened.status_code == 201, reopened.text
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "active"


async def test_undo_a_disbursement(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_UPFRONT)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    disbursement = (await disburse(client, loan_id, ids["cash"])).json()
    paid = (await repay(client, loan_id, "5000", ids["cash"])).json()
    assert_problem(await client.post(f"{LOANS}/{loan_id}/undo-disbursement"), 409, "loan_id")
    await client.post(f"{LOANS}/{loan_id}/transactions/{paid['transaction_id']}/reversal")
    undone = await client.post(f"{LOANS}/{loan_id}/undo-disbursement")
    assert undone.status_code == 201, undone.text
    reversal = undone.json()
    assert (reversal["kind"], reversal["reverses_transaction_id"]) == ("disbursement_reversal",
                                                                        disbursement["transaction_id"])
    original = await entry_lines(uow_factory, disbursement["journal_entry_id"])
    assert await entry_lines(uow_factory, reversal["journal_entry_id"]) == {
        (code, "C" if side == "D" else "D", amount) for code, side, amount in original}
    loan = (await client.get(f"{LOANS}/{loan_id}")).json()
    assert loan["loan"]["status"] == "approved" and loan["loan"]["schedule"] is None and loan["position"] is None
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["subledger"] == rows[portfolio]["general_ledger"] == "0"
    assert (await disburse(client, loan_id, ids["mobile"])).status_code == 201
    assert_problem(await client.post(f"{APPS}/{loan_id}/undo-approval", json={}), 409, "loan_id")


async def test_product_mix_and_loan_limits_are_checked_both_ways(client, refs, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    from products.loans.product import ProductMix

    first, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    exclusive, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                      product_mix=ProductMix(restricted_product_ids=(first,), concurrent_loans_max=1))
    client_id = await borrower(client, world, staff_user)
    held = (await client.post(APPS, json=application(client_id, first))).json()["loan_id"]
    assert (await client.post(f"{APPS}/{held}/submit")).json()["status"] == "submitted"

    def failed(check: dict[str, Any]) -> set[str]:
        return {r["rule"] for r in check["rules"] if r["outcome"] == "failed"}

    # (the demo credit parameters allow one loan per client: that rule fails too)
    assert failed((await client.post(f"{APPS}/pre-check", json=application(client_id, exclusive))).json()) - {
        "loans_per_client"} == {"product_mix"}
    other = await borrower(client, world, staff_user)
    taken = (await client.post(APPS, json=application(other, exclusive))).json()["loan_id"]
    assert (await client.post(f"{APPS}/{taken}/submit")).json()["status"] == "submitted"
    # The held product excludes the one applied for: refused the other way round too.
    assert failed((await client.post(f"{APPS}/pre-check", json=application(other, first))).json()) - {
        "loans_per_client"} == {"product_mix"}
    assert failed((await client.post(f"{APPS}/pre-check", json=application(other, exclusive))).json()) - {
        "loans_per_client"} == {"concurrent_loans_of_product"}


async def test_hostile_inputs_are_4xx_never_500(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    client_id = (await client.get(f"{APPS}/{loan_id}")).json()["client_id"]
    bad_applications = [
        {"principal_amount": "1E+30"}, {"principal_amount": "NaN"}, {"interest_rate_percent": "Infinity"},
        {"principal_amount": "0"}, {"expected_disbursement_date": "0001-01-01"}, {"repayment_count": 0},
        {"guarantors": [{"amount": "-1", "name": "X"}]}, {"guarantors": [{"amount": "1000"}]},
        {"collateral": [{"collateral_type": "moto", "value": "0"}]}, {"co_signers": [client_id]},
        {"loan_purpose_id": 2_147_483_000}, {"product_id": 2_147_483_000}, {"first_repayment_date": "1999-01-01"},
        {"purpose": "x\u0000y"}, {"principal_amount": "1e-30"},
    ]
    for change in bad_applications:
        response = await client.post(APPS, json={**application(client_id, product_id), **change})
        assert 400 <= response.status_code < 500, (change, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for body in ({"value_date": "2199-12-31", "payment_type_id": ids["cash"]}, {"value_date": "1900-01-01"},
                 {"value_date": DISBURSED_ON.isoformat(), "payment_type_id": ids["cash"], "deposit_account_id": 3},
                 {"value_date": DISBURSED_ON.isoformat(), "payment_type_id": ids["cash"], "receipt_number": ""}):
        response = await client.post(f"{LOANS}/{loan_id}/disburse", json=body)
        assert 400 <= response.status_code < 500, (body, response.text)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    for amount in ("1E+30", "0.0000001", "NaN", "-0", "99999999999999999999999"):
        response = await repay(client, loan_id, amount, ids["cash"])
        assert 400 <= response.status_code < 500, (amount, response.text)
    for path in (f"{LOANS}/2147483000", f"{LOANS}/{loan_id}/transactions/9223372036854775000/reversal"):
        response = await (client.get(path) if "reversal" not in path else client.post(path))
        assert response.status_code == 404, response.text
    response = await client.get(f"{LOANS}/{loan_id}", params={"as_of": "1900-01-01"})
    assert response.status_code == 200, response.text


async def test_debt_ratio_counts_the_clients_active_loans(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    from products.loans.product import FinancialAnalysis

    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                       financial_analysis=FinancialAnalysis(debt_ratio_max_percent=D(33)))
    loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount="200000")
    client_id = (await client.get(f"{APPS}/{loan_id}")).json()["client_id"]

    async def ratio() -> dict[str, Any]:
        check = (await client.post(f"{APPS}/pre-check", json=application(client_id, product_id,
                                                                            principal_amount="200000"))).json()
        return next(r for r in check["rules"] if r["rule"] == "debt_to_income")

    before = await ratio()  # 35 105 a month on an income of 150 000
    assert before["outcome"] == "passed" and before["reason"].startswith("instalments are 23.4"), before
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    after = await ratio()  # twice that once the first loan is active
    assert after["outcome"] == "failed" and after["reason"].startswith("instalments are 46.8"), after
    assert after["field"] == "principal_amount"


async def test_a_product_taking_whole_instalments_refuses_a_part(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                       partial_instalment_payment_allowed=False)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    assert_problem(await repay(client, loan_id, "10000", ids["cash"]), 422, "amount")
    whole = await repay(client, loan_id, "52658", ids["cash"])  # instalment 1: 48 158 + 4 500
    assert whole.status_code == 201, whole.text


@pytest.mark.parametrize("rule", [AccountingRule.CASH, AccountingRule.ACCRUAL_PERIODIC])
async def test_charges_and_waivers_follow_the_rule(client, refs, ids, world, staff_user, uow_factory, rule) -> None:  # type: ignore[no-untyped-def]
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = (DISBURSED_ON + timedelta(days=10)).isoformat()
    fee = await client.post(f"{LOANS}/{loan_id}/charges", json={"value_date": on, "amount": "2000"})
    assert fee.status_code == 201, fee.text
    fee = fee.json()
    assert (fee["kind"], fee["fee"], fee["allocation"]) == ("charge", "2000", [
        {"instalment": 1, "component": "fee", "amount": "2000"}])
    penalty = (await client.post(f"{LOANS}/{loan_id}/charges", json={
        "value_date": on, "amount": "1500", "charge_id": refs.loan_penalty_id,
        "due_date": (DISBURSED_ON + timedelta(days=70)).isoformat()})).json()
    assert penalty["allocation"] == [{"instalment": 3, "component": "penalty", "amount": "1500"}]
    if rule is AccountingRule.CASH:
        assert fee["journal_entry_id"] is None and penalty["journal_entry_id"] is None  # income when paid
    else:
        assert await entry_lines(uow_factory, fee["journal_entry_id"]) == lines(("2072", "D", 2000), ("7022", "C", 2000))
        assert await entry_lines(uow_factory, penalty["journal_entry_id"]) == lines(
            ("2073", "D", 1500), ("7023", "C", 1500))

    # Healthy order: the fee first, then interest, then principal.
    paid = (await repay(client, loan_id, "10000", ids["cash"], on=DISBURSED_ON + timedelta(days=20))).json()
    assert (paid["fee"], paid["interest"], paid["principal"]) == ("2000", "4500", "3500")
    fee_account, interest_account = ("7022", "7021") if rule is AccountingRule.CASH else ("2072", "2071")
    assert await entry_lines(uow_factory, paid["journal_entry_id"]) == lines(
        ("1012", "D", 10_000), (fee_account, "C", 2000), (interest_account, "C", 4500), (portfolio, "C", 3500))

    # Dated before the repayment: forgiven on its day, the repayment taken back and re-applied
    # after it (restatement): 1 000 less interest to pay, 1 000 more principal repaid.
    earlier = await client.post(f"{LOANS}/{loan_id}/waivers", json={
        "value_date": on, "component": "interest", "amount": "1000"})
    assert earlier.status_code == 201, earlier.text
    assert earlier.json()["allocation"] == [{"instalment": 1, "component": "interest", "amount": "1000"}]
    async with uow_factory() as uow:
        repaid = (await uow.session.execute(text(
            "SELECT t.fee, t.interest, t.principal FROM loan_transaction t WHERE t.loan_id = :l AND t.kind = 'repayment'"
            " AND NOT EXISTS (SELECT 1 FROM loan_transaction r WHERE r.reverses_transaction_id = t.id)"),
            {"l": loan_id})).one()
    assert tuple(repaid) == (2000, 3500, 4500)
    later = (DISBURSED_ON + timedelta(days=25)).isoformat()
    assert_problem(await client.post(f"{LOANS}/{loan_id}/waivers", json={
        "value_date": later, "component": "penalty", "amount": "1501"}), 422, "amount")
    assert_problem(await client.post(f"{LOANS}/{loan_id}/waivers", json={
        "value_date": later, "component": "principal", "amount": "1"}), 400, "component")
    waiver = (await client.post(f"{LOANS}/{loan_id}/waivers", json={
        "value_date": later, "component": "penalty", "amount": "1500"})).json()
    assert waiver["allocation"] == [{"instalment": 3, "component": "penalty", "amount": "1500"}]
    if rule is AccountingRule.CASH:
        assert waiver["journal_entry_id"] is None
    else:
        assert await entry_lines(uow_factory, waiver["journal_entry_id"]) == lines(
            ("7023", "D", 1500), ("2073", "C", 1500))
    view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": later})).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    assert (position["penalty"]["expected"], position["penalty"]["waived"], position["penalty"]["outstanding"]) == (
        "1500", "1500", "0")
    assert (position["fee"]["paid"], position["fee"]["outstanding"]) == ("2000", "0")
    assert_problem(await client.post(f"{LOANS}/{loan_id}/undo-disbursement"), 409, "loan_id")


@pytest.mark.parametrize("rule", [AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT])
async def test_receivables_reconcile_with_the_gl(client, refs, ids, world, staff_user, uow_factory, rule) -> None:  # type: ignore[no-untyped-def]
    product_id, portfolio = await make_product(client, refs, world, uow_factory, rule, own_receivables=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = DISBURSED_ON + timedelta(days=5)
    await client.post(f"{LOANS}/{loan_id}/charges", json={"value_date": on.isoformat(), "amount": "2500"})
    await client.post(f"{LOANS}/{loan_id}/charges", json={"value_date": on.isoformat(), "amount": "700",
                                                          "charge_id": refs.loan_penalty_id})
    first = (await repay(client, loan_id, "6000", ids["cash"], on=on + timedelta(days=1))).json()
    await repay(client, loan_id, "20000", ids["mobile"], on=on + timedelta(days=2))
    await client.post(f"{LOANS}/{loan_id}/transactions/{first['transaction_id']}/reversal")
    await client.post(f"{LOANS}/{loan_id}/waivers", json={"value_date": (on + timedelta(days=3)).isoformat(),
                                                          "component": "interest", "amount": "1000"})
    rows = (await client.get("/api/v1/reports/loan-receivables-reconciliation")).json()
    mine = {r["role"]: r for r in rows if r["account_code"].startswith(world.prefix)}
    assert set(mine) == {"interest_receivable", "fees_receivable", "penalties_receivable"}
    assert all(r["difference"] == "0" for r in mine.values()), mine
    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    assert D(mine["fees_receivable"]["subledger"]) == D(position["fee"]["outstanding"])
    assert D(mine["penalties_receivable"]["subledger"]) == D(position["penalty"]["outstanding"])
    interest = D(mine["interest_receivable"]["subledger"])
    if rule is AccountingRule.ACCRUAL_UPFRONT:  # everything recognised at disbursement, less paid and waived
        assert interest == D(position["interest"]["outstanding"])
    else:  # no night accrued yet: what the settlements recognised with them, less what was paid or waived
        recognised = sum((D(t["interest"]) * (1 if t["kind"] == "accrual" else -1)
                          for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
                          if t["kind"] in ("accrual", "accrual_adjustment")), D(0))
        assert recognised > 0
        assert interest == recognised - D(position["interest"]["paid"]) - D(position["interest"]["waived"])
        assert interest >= 0, "never in credit: interest paid or waived ahead of its accrual is recognised with it"
    portfolio_row = next(r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()
                         if r["account_code"] == portfolio)
    assert portfolio_row["difference"] == "0"
