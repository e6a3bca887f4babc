"""Loan rescheduling through HTTP: the plan checked against the institution's switches and the
product's ranges (each refusal naming its field, nothing written), the new schedule from the
schedule engine after the old one cut on the date, capitalised interest and penalties posted as
one entry through the product's rules (lines written out by hand), the history kept, the outbox
event, idempotency, the reconciliation at 0, and the close of business grading the loan on the
rescheduled-loans grid."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.posting_rules import AccountingRole, AccountingRule, ProductKind
from servicing import chart
from servicing.commands import CreateGLAccounts
from servicing.outbox import read_feed
from servicing.products import demo
from servicing.reference import credit_parameters
from servicing.reference.defaults import DEMO_CREDIT_PARAMETERS
from tests.api.test_clients_api import assert_problem
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    LOANS,
    TODAY,
    approved_loan,
    disburse,
    entry_lines,
    ids,
    lines,
    make_product,
    refs,
    repay,
)

D = Decimal
_keys = itertools.count(1)


async def _switches(uow_factory, **allowed: bool) -> None:  # type: ignore[no-untyped-def]
    """A new version of the credit parameters with seed 002's four switches as given."""
    names = {"doubtful": "doubtful_loan_arrears_editable", "healthy": "healthy_loan_rescheduling_allowed",
             "term": "rescheduling_term_editable", "unpaid": "unpaid_instalment_rescheduling_allowed"}
    values = {names[k]: allowed.get(k, False) for k in names}
    await credit_parameters.set_parameters(uow_factory(), msgspec.structs.replace(DEMO_CREDIT_PARAMETERS, **values),
                                           "tests")


@pytest.fixture
async def switches(uow_factory) -> AsyncIterator[Any]:  # type: ignore[no-untyped-def]
    """Set the switches for a test; the demo policy is back in force afterwards."""
    async def set_switches(**allowed: bool) -> None:
        await _switches(uow_factory, **allowed)

    yield set_switches
    await credit_parameters.set_parameters(uow_factory(), DEMO_CREDIT_PARAMETERS, "tests")


async def own_account(uow_factory, world, name: str) -> str:  # type: ignore[no-untyped-def]
    """An asset account of the test's own, so its balance is the test's postings only."""
    code = f"{world.prefix}.R{next(_keys)}"
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=(GLAccount(
        code=code, name=name, type=AccountType.ASSET, usage=AccountUsage.DETAIL, parent_code=world.header),),
        actor="tests"))
    return code


async def cash_product(client, refs, world, uow_factory, **changes: Any) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]  # noqa: F811
    """A cash-rule product with its own portfolio account and capitalised-income account."""
    deferred = await own_account(uow_factory, world, "Intérêts capitalisés à recevoir")
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **changes)
    product = (await client.get(f"/api/v1/loan-products/{product_id}")).json()
    accounting = product["settings"]["accounting"]
    accounting["accounts"][AccountingRole.CAPITALISED_INCOME_DEFERRED.value] = deferred
    changed = await client.put(f"/api/v1/loan-products/{product_id}", json=product["settings"])
    assert changed.status_code == 200, changed.text
    return product_id, portfolio, deferred


def post(client, loan_id: int, key: str | None = None, **body: Any) -> Any:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": key or f"resch-{loan_id}-{next(_keys)}"}
    return client.post(f"{LOANS}/{loan_id}/reschedulings", json=body, headers=headers)


# 300 000 XOF over 6 months at 18 % a year (1.5 % a month), declining balance, equal instalments:
# level instalment 300 000 x 0.015 / (1 - 1.015^-6) = 52 657.56 -> 52 658; interest 4 500, then 1.5 %
# of what is left: (300 000 - 48 158) x 0.015 = 3 777.6 -> 3 778, then 3 044.
ORIGINAL = [("48158", "4500"), ("48880", "3778"), ("49614", "3044"), ("50358", "2300"), ("51113", "1545"),
            ("51877", "778")]


async def test_capitalised_interest_becomes_principal_under_cash(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    await switches(healthy=True, term=True, unpaid=True)
    product_id, portfolio, deferred = await cash_product(client, refs, world, uow_factory)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    before = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["schedule"]
    assert [(i["principal_amount"], i["interest_amount"]) for i in before["instalments"]] == ORIGINAL
    on = before["instalments"][2]["due_date"]  # the third due date: instalments 1 and 2 are past due, 3 due today
    body = {"rescheduled_on": on, "repayment_count": 12, "capitalise_interest": True, "note": "Comité du jour"}

    preview = await client.post(f"{LOANS}/{loan_id}/reschedulings/preview", json=body)
    assert preview.status_code == 200, preview.text
    assert preview.json()["rescheduling_id"] is None
    assert [t["kind"] for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()] == ["disbursement"]
    assert (await client.get(f"{LOANS}/{loan_id}/reschedulings")).json() == [], "a preview writes nothing"

    made = await post(client, loan_id, key=f"plan-{loan_id}", **body)
    assert made.status_code == 201, made.text
    plan = made.json()
    # Capitalised: the interest of instalments 1-3, 4 500 + 3 778 + 3 044 = 11 322; new principal 311 322.
    assert (plan["principal_outstanding"], plan["capitalised_interest"], plan["interest_carried"],
            plan["new_principal"]) == ("300000", "11322", "0", "311322")
    # 12 instalments on 311 322: interest 311 322 x 0.015 = 4 669.83 -> 4 670; level instalment
    # 311 322 x 0.015 / (1 - 1.015^-12) = 28 541.999 -> 28 542, so principal 23 872.
    first = plan["new_plan"]["instalments"][0]
    assert (first["interest_amount"], first["principal_amount"], first["total_amount"]) == ("4670", "23872", "28542")
    assert len(plan["new_plan"]["instalments"]) == 12 and plan["previous_terms"]["repayment_count"] == 6
    # Cash rule: never income, the capitalised interest waits on the deferred account until collected.
    assert await entry_lines(uow_factory, plan["journal_entry_id"]) == lines(
        (portfolio, "D", 11_322), (deferred, "C", 11_322))
    transaction = plan["transaction"]
    assert (transaction["kind"], transaction["principal"], transaction["interest"]) == ("rescheduling", "11322", "11322")
    assert transaction["allocation"] == [{"instalment": n, "component": "interest", "amount": a}
                                         for n, a in ((1, "4500"), (2, "3778"), (3, "3044"))]

    replay = await post(client, loan_id, key=f"plan-{loan_id}", **body)
    assert replay.status_code == 201 and replay.json()["rescheduling_id"] == plan["rescheduling_id"]
    assert_problem(await post(client, loan_id, key=f"plan-{loan_id}", **{**body, "repayment_count": 11}), 409,
                   "Idempotency-Key")

    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    schedule = view["loan"]["schedule"]
    assert [i["number"] for i in schedule["instalments"]] == list(range(1, 16)), "3 old ones kept, then 12 new"
    assert [(i["principal_amount"], i["interest_amount"]) for i in schedule["instalments"][:3]] == [
        ("0", "4500"), ("0", "3778"), ("0", "3044")], "the old instalments keep what fell due, not the principal"
    assert view["loan"]["terms"]["principal_amount"] == "311322"
    position = {c["component"]: c for c in view["position"]["components"]}
    assert (position["principal"]["outstanding"], position["interest"]["overdue"]) == ("311322", "0")
    assert view["position"]["days_overdue"] == 0 and view["position"]["next_instalment"]["number"] == 4

    # The next repayment pays the new plan's first instalment.
    paid = await repay(client, loan_id, "28542", ids["cash"], on=TODAY)
    assert paid.status_code == 201, paid.text
    assert paid.json()["allocation"] == [{"instalment": 4, "component": "interest", "amount": "4670"},
                                         {"instalment": 4, "component": "principal", "amount": "23872"}]

    (kept,) = (await client.get(f"{LOANS}/{loan_id}/reschedulings")).json()
    assert kept["rescheduling"]["rescheduling_id"] == plan["rescheduling_id"]
    assert kept["rescheduling"]["note"] == "Comité du jour" and kept["rescheduling"]["created_by"]
    assert kept["previous_schedule"]["instalments"] == before["instalments"]
    events = [e for e in await read_feed(uow_factory, limit=1000, event_type="loan.rescheduled")
              if e.subject_id == loan_id]
    assert [(e.payload["capitalised_interest"], e.payload["new_principal"]) for e in events] == [
        ("11322", "311322")]
    rows = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-portfolio-reconciliation")).json()}
    assert rows[portfolio]["subledger"] == rows[portfolio]["general_ledger"] == str(311_322 - 23_872)
    assert rows[portfolio]["difference"] == "0"


def _earned(interest: Decimal, from_date: date, due_date: date, on: date) -> Decimal:
    """Straight-line interest of a period earned by ``on``, to the cent (half even)."""
    return (interest * (on - from_date).days / (due_date - from_date).days).quantize(D("0.01"), ROUND_HALF_EVEN)


async def test_eur_interest_not_capitalised_stays_owed_and_grace_on_principal(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    await switches(healthy=True, term=True, unpaid=True)
    portfolio = await own_account(uow_factory, world, "Crédits EUR")
    accounting = demo._mapping(ProductKind.LOAN, AccountingRule.ACCRUAL_PERIODIC, refs)
    accounting = msgspec.structs.replace(accounting, accounts={**accounting.accounts,
                                                               AccountingRole.LOAN_PORTFOLIO: portfolio})
    product_id, _unused = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                             currency="EUR", charge_ids=(), accounting=accounting)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    old = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    # 300 000 EUR, 6 months at 1.5 %: the level instalment 52 657.564 -> 52 657.56 to the cent; interest 4 500.00.
    assert (old[0]["interest_amount"], old[0]["total_amount"]) == ("4500.00", "52657.56")
    paid = await repay(client, loan_id, old[0]["total_amount"], ids["cash"])  # instalment 1 in full, on day 40
    assert paid.status_code == 201, paid.text
    on = DISBURSED_ON + timedelta(days=45)  # inside instalment 2's period
    body = {"rescheduled_on": on.isoformat(), "repayment_count": 6, "grace_on_principal_periods": 2,
            "interest_rate_percent": "12"}
    made = await post(client, loan_id, **body)
    assert made.status_code == 201, made.text
    plan = made.json()
    second = old[1]
    earned = _earned(D(second["interest_amount"]), date.fromisoformat(second["from_date"]),
                     date.fromisoformat(second["due_date"]), on)
    principal_left = D(300_000) - D(old[0]["principal_amount"])
    assert principal_left == D("251842.44")  # 300 000 - (52 657.56 - 4 500.00)
    assert (D(plan["principal_outstanding"]), D(plan["new_principal"])) == (principal_left, principal_left)
    assert (D(plan["interest_carried"]), D(plan["capitalised_interest"])) == (earned, 0)
    assert plan["journal_entry_id"] is None, "nothing capitalised: no money moves, no entry"
    # Two periods of grace on principal at 12 % a year (1 % a month): interest only,
    # 251 842.44 x 0.01 = 2 518.4244 -> 2 518.42, then principal from the third.
    grace = [(D(i["principal_amount"]), D(i["interest_amount"])) for i in plan["new_plan"]["instalments"][:3]]
    assert grace[:2] == [(D(0), D("2518.42")), (D(0), D("2518.42"))] and grace[2][0] > 0
    assert len(plan["new_plan"]["instalments"]) == 6

    # What is not capitalised stays owed on the old instalment, due on the rescheduling date.
    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    new_due = sum((D(i["interest_amount"]) for i in plan["new_plan"]["instalments"]
                   if date.fromisoformat(i["due_date"]) < TODAY), D(0))
    assert new_due == D("2518.42"), "the plan's first month (a grace month) fell due before today"
    assert D(position["interest"]["overdue"]) == earned + new_due
    assert D(position["principal"]["outstanding"]) == principal_left
    assert view["position"]["days_overdue"] == (TODAY - on).days
    cut = view["loan"]["schedule"]["instalments"][1]
    assert (cut["number"], cut["due_date"], D(cut["interest_amount"]), D(cut["principal_amount"])) == (
        2, on.isoformat(), earned, 0)
    # A repayment before the plan is not reversed: the plan was drawn on what it paid.
    assert_problem(await client.post(f"{LOANS}/{loan_id}/transactions/{paid.json()['transaction_id']}/reversal"),
                   409, "transaction_id")
    again = await post(client, loan_id, **{**body, "rescheduled_on": (on - timedelta(days=1)).isoformat()})
    assert_problem(again, 422, "rescheduled_on")


async def test_accrual_capitalised_penalties_leave_the_receivable(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    await switches(healthy=True, term=True, unpaid=True)
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                               own_receivables=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    charged_on = (DISBURSED_ON + timedelta(days=42)).isoformat()
    penalty = await client.post(f"{LOANS}/{loan_id}/charges", json={
        "value_date": charged_on, "amount": "1500", "charge_id": refs.loan_penalty_id})
    assert penalty.status_code == 201, penalty.text
    receivable = next(code for code, side, _amount in await entry_lines(uow_factory, penalty.json()["journal_entry_id"])
                      if side == "D")
    on = DISBURSED_ON + timedelta(days=50)
    made = await post(client, loan_id, rescheduled_on=on.isoformat(), capitalise_penalties=True)
    assert made.status_code == 201, made.text
    plan = made.json()
    assert (plan["capitalised_penalties"], plan["capitalised_interest"], plan["principal_outstanding"],
            plan["new_principal"]) == ("1500", "0", "300000", "301500")
    # Accrual: the penalty was income when charged; capitalising turns the receivable into principal.
    assert await entry_lines(uow_factory, plan["journal_entry_id"]) == lines(
        (portfolio, "D", 1500), (receivable, "C", 1500))
    assert plan["transaction"]["allocation"] == [{"instalment": 2, "component": "penalty", "amount": "1500"}]
    report = (await client.get("/api/v1/reports/loan-reconciliation")).json()
    mine = [r for r in report["rows"] if r["product_id"] == product_id]
    assert {r["component"] for r in mine} >= {"principal", "penalty"}
    assert all(D(r["difference"]) == 0 for r in mine), mine
    receivables = {r["account_code"]: r for r in (await client.get("/api/v1/reports/loan-receivables-reconciliation"))
                   .json()}
    assert receivables[receivable]["difference"] == "0" and D(receivables[receivable]["subledger"]) == 0


async def test_each_switch_and_product_limit_refuses_and_writes_nothing(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    product_id, _portfolio, _deferred = await cash_product(client, refs, world, uow_factory)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = TODAY.isoformat()

    def refused(response: Any, field: str, words: str) -> None:
        assert_problem(response, 422, field)
        assert words in response.text, response.text

    await switches(term=True, unpaid=True)
    refused(await post(client, loan_id, rescheduled_on=on), "loan", "dossiers sains")
    await switches(healthy=True, term=True)
    refused(await post(client, loan_id, rescheduled_on=on), "loan", "échéance non soldée")
    await switches(healthy=True, unpaid=True)
    refused(await post(client, loan_id, rescheduled_on=on, repayment_count=12), "repayment_count", "durée crédit")
    await switches(healthy=True, unpaid=True, term=True)
    refused(await post(client, loan_id, rescheduled_on=on, repayment_count=30), "repayment_count", "at most 24")
    refused(await post(client, loan_id, rescheduled_on=on, interest_rate_percent="30"), "interest_rate_percent",
            "at most 24")
    assert_problem(await post(client, loan_id, rescheduled_on=(TODAY + timedelta(days=1)).isoformat()), 422,
                   "rescheduled_on")
    assert_problem(await post(client, loan_id, rescheduled_on=(DISBURSED_ON - timedelta(days=1)).isoformat()), 422,
                   "rescheduled_on")
    assert [t["kind"] for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()] == ["disbursement"]
    assert (await client.get(f"{LOANS}/{loan_id}/reschedulings")).json() == []

    # Doubtful (overdue past the product's 30 days to NPA): « crédit souffrant » decides.
    doubtful_product, _p = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=30)
    doubtful = await approved_loan(client, world, staff_user, doubtful_product)
    assert (await disburse(client, doubtful, ids["cash"])).status_code == 201
    refused(await post(client, doubtful, rescheduled_on=on), "loan", "crédit souffrant")
    await switches(doubtful=True, unpaid=True, term=True)
    assert (await post(client, doubtful, rescheduled_on=on)).status_code == 201

    # A cash product without the capitalised-income account cannot capitalise (it may reschedule without).
    await switches(healthy=True, doubtful=True, unpaid=True, term=True)
    accounting = demo._mapping(ProductKind.LOAN, AccountingRule.CASH, refs)
    accounting = msgspec.structs.replace(accounting, accounts={
        role: code for role, code in accounting.accounts.items()
        if role is not AccountingRole.CAPITALISED_INCOME_DEFERRED})
    unmapped, _x = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, accounting=accounting)
    unmapped_loan = await approved_loan(client, world, staff_user, unmapped)
    assert (await disburse(client, unmapped_loan, ids["cash"])).status_code == 201
    assert_problem(await client.post(f"{LOANS}/{unmapped_loan}/reschedulings/preview", json={
        "rescheduled_on": on, "capitalise_interest": True}), 422, "capitalise_interest")
    assert (await client.post(f"{LOANS}/{unmapped_loan}/reschedulings/preview", json={
        "rescheduled_on": on})).status_code == 200
    upfront, _u = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_UPFRONT)
    upfront_loan = await approved_loan(client, world, staff_user, upfront)
    assert (await disburse(client, upfront_loan, ids["cash"])).status_code == 201
    assert_problem(await post(client, upfront_loan, rescheduled_on=on), 409, "loan_id")
    teller = await staff_user("teller", office_id=world.office_id)
    assert (await client.post(f"{LOANS}/{loan_id}/reschedulings", json={"rescheduled_on": on},
                              headers=teller.headers)).status_code == 403


RESCHEDULED_GRID = [
    {"label": "Rééchelonné à jour", "days_overdue_min": 0, "days_overdue_max": 0, "loan_state": "healthy",
     "provision_rate_percent": "10"},
    {"label": "Rééchelonné impayé", "days_overdue_min": 1, "days_overdue_max": None, "loan_state": "doubtful",
     "provision_rate_percent": "100"},
]


async def test_the_arrears_step_grades_a_rescheduled_loan_on_the_rescheduled_grid(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    from servicing.close_of_business.loan_arrears import age_loans

    await switches(healthy=True, unpaid=True, term=True)
    put = await client.put("/api/v1/delinquency-buckets/rescheduled_loan", json={"buckets": RESCHEDULED_GRID})
    assert put.status_code == 200, put.text
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                days_to_npa=360)
    rescheduled, plain_loan = [await approved_loan(client, world, staff_user, product_id) for _ in range(2)]
    for loan_id in (rescheduled, plain_loan):
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"{LOANS}/{rescheduled}")).json()["loan"]["schedule"]["instalments"]
    on = date.fromisoformat(schedule[2]["due_date"])
    # Not capitalised: instalments 1-3's interest stays owed, so the loan is still late on TODAY.
    assert (await post(client, rescheduled, rescheduled_on=on.isoformat())).status_code == 201
    await age_loans(uow_factory, TODAY, "tests")
    async with uow_factory() as uow:
        states = {row.loan_id: row for row in (await uow.session.execute(text(
            "SELECT * FROM loan_arrears_state WHERE loan_id = ANY(:ids)"), {"ids": [rescheduled, plain_loan]})).all()}
    late = states[rescheduled]
    first_due = date.fromisoformat(schedule[0]["due_date"])
    assert (late.days_overdue, late.bucket_label, late.classification) == (
        (TODAY - first_due).days, "Rééchelonné impayé", "doubtful")
    assert D(late.provision_rate_percent) == 100 and D(late.outstanding_principal) == 300_000
    assert states[plain_loan].bucket_label not in {b["label"] for b in RESCHEDULED_GRID}


async def test_only_the_loans_own_office_closed_days_freeze_its_date(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, head_office, switches) -> None:  # noqa: F811
    """Business days are closed per office: another office closed ahead does not refuse a
    rescheduling dated after this office's last closed day; this office's own closed day does.
    (Both offices end closed through the same day, so no office is left behind the other.)"""
    from servicing import offices
    from servicing.close_of_business.run import close_business_days
    from servicing.commands import CreateOffice

    await switches(healthy=True, term=True, unpaid=True)
    product_id, _portfolio, _deferred = await cash_product(client, refs, world, uow_factory)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = DISBURSED_ON + timedelta(days=40)
    other = await offices.create_office(uow_factory(), CreateOffice(
        code=f"{world.prefix}-AH", name=f"Agence en avance {world.prefix}", parent_id=head_office.office_id,
        region="Thiès", opened_on=date(2026, 1, 1), actor="tests"))
    await close_business_days(uow_factory, on + timedelta(days=1), "tests", today=TODAY, office_id=other.office_id,
                              steps=())
    preview = await client.post(f"{LOANS}/{loan_id}/reschedulings/preview", json={"rescheduled_on": on.isoformat()})
    assert preview.status_code == 200, preview.text
    await close_business_days(uow_factory, on + timedelta(days=1), "tests", today=TODAY, office_id=world.office_id,
                              steps=())
    assert_problem(await client.post(f"{LOANS}/{loan_id}/reschedulings/preview", json={
        "rescheduled_on": on.isoformat()}), 422, "rescheduled_on")
