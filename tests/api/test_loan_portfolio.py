"""The loan portfolio next to the general ledger: postings on the accounts of the loan's term
bucket (short, medium, long: seed 002), the loan reconciliation report (per product,
classification and account, JSON and CSV; a manual entry on a loan-only account shows), verify
detecting a loan transaction or entry changed behind the triggers, and a property over random
loan histories on random products."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.accounting import ClassifiedAccount
from products.events import LoanClassification, TermBucket
from products.loans.booking import TermBuckets, term_bucket, term_months
from products.posting_rules import AccountingRole, AccountingRule
from products.reference.db.tables import PaymentTypeRow
from servicing import chart
from servicing.commands import CreateGLAccounts
from servicing.products import demo
from servicing.verification import verify_journal
from tests.api.test_loans_api import (
    DISBURSED_ON,
    LOANS,
    TODAY,
    approved_loan,
    disburse,
    entry_lines,
    lines,
    make_product,
    repay,
)


@pytest.fixture(scope="module", name="refs")
async def _refs(uow_factory) -> demo.DemoReferences:  # type: ignore[no-untyped-def]
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    return await demo.ensure_demo_references(uow_factory)


@pytest.fixture(scope="module", name="ids")
async def _ids(uow_factory, refs) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        found = dict((await uow.session.execute(select(PaymentTypeRow.name, PaymentTypeRow.id))).all())
    return {"cash": found["Espèces"], "mobile": found["Mobile money"]}


D = Decimal
REPORT = "/api/v1/reports/loan-reconciliation"
_n = itertools.count(1)


# --------------------------------------------------------------------------- pure: term buckets

def test_term_months_count_a_started_month() -> None:
    assert term_months(date(2026, 1, 15), date(2026, 7, 15)) == 6
    assert term_months(date(2026, 1, 15), date(2026, 7, 16)) == 7
    assert term_months(date(2026, 1, 31), date(2026, 2, 28)) == 1
    assert term_months(date(2026, 1, 1), date(2026, 1, 1)) == 0


def test_term_buckets_follow_the_products_limits() -> None:
    default = TermBuckets()
    assert [term_bucket(m, default) for m in (1, 24, 25, 120, 121)] == [
        TermBucket.SHORT, TermBucket.SHORT, TermBucket.MEDIUM, TermBucket.MEDIUM, TermBucket.LONG]
    narrow = TermBuckets(short_term_months_max=6, medium_term_months_max=12)
    assert [term_bucket(m, narrow) for m in (6, 7, 12, 13)] == [
        TermBucket.SHORT, TermBucket.MEDIUM, TermBucket.MEDIUM, TermBucket.LONG]
    with pytest.raises(ValueError, match="term buckets"):
        TermBuckets(short_term_months_max=12, medium_term_months_max=12)


# --------------------------------------------------------------------------- postings per term bucket

async def _own_accounts(uow_factory, world, *names: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    n = next(_n)
    codes = {name: f"{world.prefix}.{name}{n}" for name in names}
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(GLAccount(
        code=code, name=f"Test {name}", type=AccountType.ASSET, usage=AccountUsage.DETAIL, parent_code=world.header)
        for name, code in codes.items()), actor="tests"))
    return codes


async def _bucketed_product(client, refs, world, uow_factory, rule: AccountingRule) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A product whose medium- and long-term loans have their own portfolio (and, under accrual,
    interest receivable) accounts; short term ends at 6 months, medium at 12."""
    own = await _own_accounts(uow_factory, world, "PMT", "PLT", "IMT", "ILT")
    healthy = LoanClassification.HEALTHY
    classified = [ClassifiedAccount(classification=healthy, term=TermBucket.MEDIUM, role=AccountingRole.LOAN_PORTFOLIO,
                                    account_code=own["PMT"]),
                  ClassifiedAccount(classification=healthy, term=TermBucket.LONG, role=AccountingRole.LOAN_PORTFOLIO,
                                    account_code=own["PLT"])]
    if rule is not AccountingRule.CASH:
        classified += [
            ClassifiedAccount(classification=healthy, term=TermBucket.MEDIUM,
                              role=AccountingRole.INTEREST_RECEIVABLE, account_code=own["IMT"]),
            ClassifiedAccount(classification=healthy, term=TermBucket.LONG,
                              role=AccountingRole.INTEREST_RECEIVABLE, account_code=own["ILT"])]
    product_id, portfolio = await make_product(
        client, refs, world, uow_factory, rule, own_receivables=rule is not AccountingRule.CASH,
        term_buckets=TermBuckets(short_term_months_max=6, medium_term_months_max=12))
    # make_product posts the product; a new version carries the classified accounts.
    current = (await client.get(f"/api/v1/loan-products/{product_id}")).json()
    settings_ = current["settings"]
    settings_["accounting"]["classified_accounts"] = msgspec.to_builtins(classified)
    changed = await client.put(f"/api/v1/loan-products/{product_id}", json=settings_)
    assert changed.status_code in (200, 201), changed.text
    accounts = {"short": portfolio, "medium": own["PMT"], "long": own["PLT"],
                "interest_short": settings_["accounting"]["accounts"].get("interest_receivable", ""),
                "interest_medium": own["IMT"], "interest_long": own["ILT"]}
    return product_id, accounts


@pytest.mark.parametrize("rule", [AccountingRule.CASH, AccountingRule.ACCRUAL_UPFRONT])
async def test_postings_use_the_accounts_of_the_loans_term_bucket(client, refs, ids, world, staff_user,  # type: ignore[no-untyped-def]
                                                                  uow_factory, rule) -> None:
    product_id, accounts = await _bucketed_product(client, refs, world, uow_factory, rule)
    for count, bucket in ((4, "short"), (9, "medium"), (18, "long")):
        loan_id = await approved_loan(client, world, staff_user, product_id, repayment_count=count,
                                      interest_rate_percent="12")
        disbursed = (await disburse(client, loan_id, ids["cash"])).json()
        view = (await client.get(f"{LOANS}/{loan_id}")).json()
        assert (view["loan"]["term_bucket"], view["loan"]["booked_classification"]) == (bucket, "healthy")
        interest = int(D(view["loan"]["schedule"]["totals"]["interest_amount"]))
        expected = lines((accounts[bucket], "D", 300_000), ("1012", "D", 3_000), ("1012", "C", 300_000),
                         ("7022", "C", 3_000))
        if rule is AccountingRule.ACCRUAL_UPFRONT:
            expected |= lines((accounts[f"interest_{bucket}"], "D", interest), ("7021", "C", interest))
        assert await entry_lines(uow_factory, disbursed["journal_entry_id"]) == expected, bucket
        paid = (await repay(client, loan_id, "10000", ids["cash"])).json()
        interest_paid = int(D(paid["interest"]))
        interest_account = "7021" if rule is AccountingRule.CASH else accounts[f"interest_{bucket}"]
        assert await entry_lines(uow_factory, paid["journal_entry_id"]) == lines(
            ("1012", "D", 10_000), (interest_account, "C", interest_paid),
            (accounts[bucket], "C", 10_000 - interest_paid)), bucket

    report = (await client.get(REPORT)).json()
    mine = [r for r in report["rows"] if r["product_id"] == product_id]
    assert {(r["term"], r["component"], r["account_code"]) for r in mine if r["component"] == "principal"} == {
        ("short", "principal", accounts["short"]), ("medium", "principal", accounts["medium"]),
        ("long", "principal", accounts["long"])}
    assert all(r["difference"] == "0" and r["classification"] == "healthy" for r in mine), mine
    on_accounts = {a["account_code"]: a for a in report["accounts"]}
    for bucket in ("short", "medium", "long"):
        row = on_accounts[accounts[bucket]]
        assert row["exclusive"] is True and row["difference"] == "0" and row["loans"] == 1
        principal = next(r for r in mine if r["term"] == bucket and r["component"] == "principal")
        assert row["subledger"] == row["general_ledger"] == principal["subledger"] == principal["general_ledger"]


# --------------------------------------------------------------------------- the report

async def test_reconciliation_report_json_csv_and_a_manual_entry(client, refs, ids, world, staff_user,  # type: ignore[no-untyped-def]
                                                                 uow_factory) -> None:
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                               own_receivables=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = DISBURSED_ON + timedelta(days=3)
    charged = await client.post(f"{LOANS}/{loan_id}/charges", json={"value_date": on.isoformat(), "amount": "2500"},
                                headers={"Idempotency-Key": f"c-{loan_id}"})
    assert charged.status_code == 201, charged.text
    assert (await repay(client, loan_id, "7000", ids["cash"], on=on)).status_code == 201

    report = (await client.get(REPORT)).json()
    mine = {r["component"]: r for r in report["rows"] if r["product_id"] == product_id}
    assert set(mine) == {"principal", "interest", "fee", "penalty"}
    assert all(r["difference"] == "0" and r["loans"] == 1 for r in mine.values()), mine
    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    assert mine["principal"]["subledger"] == position["principal"]["outstanding"]
    assert mine["fee"]["subledger"] == position["fee"]["outstanding"]
    # Accrual periodic before any accrual: the interest paid is recognised with the repayment (its
    # accrual true-up), so the receivable is at zero, not in credit, on both sides.
    assert D(position["interest"]["paid"]) > 0
    assert D(mine["interest"]["subledger"]) == 0 == D(mine["interest"]["general_ledger"])
    accounts = {a["account_code"]: a for a in report["accounts"]}
    assert accounts[portfolio]["difference"] == "0" and accounts[portfolio]["exclusive"] is True
    assert accounts[portfolio]["general_ledger"] == position["principal"]["outstanding"]

    csv_text = (await client.get(REPORT, params={"format": "csv"})).text
    assert csv_text.startswith("\ufeffsection;product_id;product_name;currency;classification;term;component")
    assert any(line.startswith("account;") and portfolio in line for line in csv_text.splitlines())
    via_accept = await client.get(REPORT, headers={"Accept": "text/csv"})
    assert via_accept.headers["content-type"].startswith("text/csv")

    manual = await client.post("/api/v1/journal-entries", json={
        "office_id": world.office_id, "value_date": on.isoformat(), "description": "Écriture manuelle",
        "lines": [{"account_code": portfolio, "side": "debit", "amount": "1000", "currency": "XOF"},
                  {"account_code": world.cash, "side": "credit", "amount": "1000", "currency": "XOF"}]})
    assert manual.status_code == 201, manual.text
    try:
        report = (await client.get(REPORT)).json()
        assert report["balanced"] is False
        account = next(a for a in report["accounts"] if a["account_code"] == portfolio)
        assert (account["difference"], D(account["general_ledger"]) - D(account["subledger"])) == ("1000", 1000)
        # The loans' own entries did not change: the product rows still agree.
        assert all(r["difference"] == "0" for r in report["rows"] if r["product_id"] == product_id)
        problems = [p for p in (await verify_journal(uow_factory)).problems if p.account_code == portfolio]
        assert [p.check for p in problems] == ["loan-portfolio-equals-gl"]
    finally:
        undone = await client.post(f"/api/v1/journal-entries/{manual.json()['id']}/reversal",
                                   json={"description": "Annulation"})
        assert undone.status_code == 201, undone.text


async def test_reconciliation_needs_reports_read(anonymous, staff_user, world) -> None:  # type: ignore[no-untyped-def]
    assert (await anonymous.get(REPORT)).status_code == 401


# --------------------------------------------------------------------------- verify

async def _as_superuser(admin_engine, sql: str, params: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
    async with admin_engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(text(sql), params)


async def _loan_problems(uow_factory, loan_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    report = await verify_journal(uow_factory)
    return sorted((p.check, p.detail) for p in report.problems
                  if p.check.startswith("loan") and f"loan {loan_id} " in p.detail + " ")


async def test_verify_detects_a_tampered_loan_transaction_or_entry(client, refs, ids, world, staff_user,  # type: ignore[no-untyped-def]
                                                                   uow_factory, admin_engine) -> None:
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    disbursement = (await disburse(client, loan_id, ids["cash"])).json()
    paid = (await repay(client, loan_id, "20000", ids["cash"])).json()
    assert await _loan_problems(uow_factory, loan_id) == []

    tampering = [
        ("UPDATE loan_transaction SET principal = principal + 100 WHERE id = :id",
         "UPDATE loan_transaction SET principal = principal - 100 WHERE id = :id",
         {"id": paid["transaction_id"]}, "loan-subledger-equals-journal"),
        ("UPDATE loan_transaction SET journal_entry_id = NULL WHERE id = :id",
         "UPDATE loan_transaction SET journal_entry_id = :entry WHERE id = :id",
         {"id": paid["transaction_id"], "entry": paid["journal_entry_id"]}, "loan-transaction-has-its-entry"),
        ("UPDATE loan_transaction SET journal_entry_id = :other WHERE id = :id",
         "UPDATE loan_transaction SET journal_entry_id = :entry WHERE id = :id",
         {"id": paid["transaction_id"], "entry": paid["journal_entry_id"], "other": disbursement["journal_entry_id"]},
         "loan-transaction-has-its-entry"),
    ]
    for change, restore, params, check in tampering:
        await _as_superuser(admin_engine, change, params)
        try:
            found = await _loan_problems(uow_factory, loan_id)
            assert check in {name for name, _detail in found}, (change, found)
        finally:
            await _as_superuser(admin_engine, restore, params)
        assert await _loan_problems(uow_factory, loan_id) == []

    # The entry itself: its portfolio line and its cash line raised alike (still balanced).
    entry = {"entry": paid["journal_entry_id"]}
    raise_lines = ("UPDATE journal_line SET amount = amount + 500 WHERE entry_id = :entry AND account_id IN "
                   "(SELECT id FROM gl_account WHERE code IN (:portfolio, '1012'))")
    params = {**entry, "portfolio": portfolio}
    await _as_superuser(admin_engine, raise_lines, params)
    try:
        report = await verify_journal(uow_factory)
        checks = {p.check for p in report.problems}
        assert "loan-subledger-equals-journal" in checks and "chain" in checks, report.problems
    finally:
        await _as_superuser(admin_engine, raise_lines.replace("+ 500", "- 500"), params)
    assert await _loan_problems(uow_factory, loan_id) == []


# --------------------------------------------------------------------------- property

_products: dict[AccountingRule, int] = {}
_borrowers: list[int] = []

operations = st.lists(st.one_of(
    st.tuples(st.just("repay"), st.sampled_from(["partial", "early", "over"]), st.integers(0, 20)),
    st.tuples(st.just("charge"), st.booleans(), st.integers(1, 40)),
    st.tuples(st.just("waive"), st.sampled_from(["interest", "fee", "penalty"]), st.integers(1, 100)),
    st.tuples(st.just("reverse"), st.integers(0, 10), st.integers(0, 0)),
), min_size=1, max_size=7)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=st.sampled_from([AccountingRule.CASH, AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT]),
       principal=st.integers(100, 600).map(lambda k: k * 1000), count=st.integers(3, 12), ops=operations)
async def test_any_loan_history_keeps_the_subledger_equal_to_the_journal(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, rule, principal, count, ops) -> None:
    if rule not in _products:
        _products[rule] = (await make_product(client, refs, world, uow_factory, rule,
                                              own_receivables=rule is not AccountingRule.CASH))[0]
    product_id = _products[rule]
    loan_id = await approved_loan(client, world, staff_user, product_id, principal_amount=str(principal),
                                  repayment_count=count, interest_rate_percent="12")
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = DISBURSED_ON
    for step, op in enumerate(ops):
        on = min(on + timedelta(days=op[2] if op[0] == "repay" else 1), TODAY)
        key = {"Idempotency-Key": f"p-{loan_id}-{step}"}
        view = (await client.get(f"{LOANS}/{loan_id}", params={"as_of": on.isoformat()})).json()
        if view["loan"]["status"] != "active":
            break
        outstanding = D(view["position"]["outstanding"])
        if op[0] == "repay":
            amount = {"partial": max(outstanding // 7, D(1)), "early": outstanding, "over": outstanding + 5_000}[op[1]]
            answer = await repay(client, loan_id, str(amount), ids["mobile"], on=on, key=key["Idempotency-Key"])
        elif op[0] == "charge":
            body: dict[str, Any] = {"value_date": on.isoformat(), "amount": str(op[2] * 100)}
            if op[1]:
                body["charge_id"] = refs.loan_penalty_id
            answer = await client.post(f"{LOANS}/{loan_id}/charges", json=body, headers=key)
        elif op[0] == "waive":
            owed = next(D(c["outstanding"]) for c in view["position"]["components"] if c["component"] == op[1])
            if owed <= 0:
                continue
            answer = await client.post(f"{LOANS}/{loan_id}/waivers", headers=key, json={
                "value_date": on.isoformat(), "component": op[1], "amount": str(max(owed * op[2] // 100, D(1)))})
        else:
            history = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
            reversed_ids = {t["reverses_transaction_id"] for t in history}
            standing = [t for t in history if t["kind"] == "repayment" and t["transaction_id"] not in reversed_ids]
            if not standing:
                continue
            victim = standing[op[1] % len(standing)]["transaction_id"]
            answer = await client.post(f"{LOANS}/{loan_id}/transactions/{victim}/reversal")
        assert answer.status_code == 201, (op, answer.text)

    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    statement = (await client.get(f"{LOANS}/{loan_id}/statement")).json()
    product = (await client.get(f"/api/v1/loan-products/{product_id}")).json()["settings"]["accounting"]["accounts"]

    def on_account(code: str) -> Decimal:
        return sum((D(line["amount"]) * (1 if line["side"] == "debit" else -1)
                    for item in statement["items"] for line in item["journal_lines"] if line["account_code"] == code),
                   D(0))

    assert on_account(product["loan_portfolio"]) == D(position["principal"]["outstanding"])
    if rule is not AccountingRule.CASH:
        history = [item["transaction"] for item in statement["items"]]
        reversed_ids = {t["reverses_transaction_id"] for t in history}
        charged = {c: sum((D(t[c]) for t in history if t["kind"] == "charge"), D(0)) for c in ("fee", "penalty")}
        for component, role in (("fee", "fees_receivable"), ("penalty", "penalties_receivable")):
            # Recognised when charged; settled when paid or waived.
            settled = D(position[component]["paid"]) + D(position[component]["waived"])
            assert on_account(product[role]) == charged[component] - settled, component
        interest = on_account(product["interest_receivable"])
        # Recognised at disbursement (upfront), and with the settlements that paid or forgave it
        # ahead of its accrual (accrual periodic: no night runs here).
        recognised = sum((D(t["interest"]) for t in history if t["kind"] == "disbursement"
                          and t["transaction_id"] not in reversed_ids), D(0))
        recognised += sum((D(t["interest"]) * (1 if t["kind"] == "accrual" else -1) for t in history
                           if t["kind"] in ("accrual", "accrual_adjustment")), D(0))
        assert interest == recognised - D(position["interest"]["paid"]) - D(position["interest"]["waived"])
        if rule is AccountingRule.ACCRUAL_PERIODIC:
            assert interest >= 0, "never in credit"
            if view["loan"]["status"] == "closed":
                assert interest == 0, "a closed loan's receivable ends at exactly zero"
    trial = (await client.get("/api/v1/reports/trial-balance", params={"office_id": world.office_id})).json()
    assert all(total["balanced"] for total in trial["totals"])
    report = (await client.get(REPORT)).json()
    mine = [r for r in report["rows"] if r["product_id"] == product_id]
    assert mine and all(r["difference"] == "0" for r in mine), mine
    own = {a["account_code"]: a for a in report["accounts"] if a["account_code"].startswith(world.prefix)}
    assert own and all(a["difference"] == "0" for a in own.values()), own
