"""The close-of-business step `loan_arrears` on real loans: each active loan's days overdue,
status and bucket kept for the reports, its reminders written to the outbox once, and a
repayment bringing it back to performing on the next run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from products.loans.classification import grade
from products.posting_rules import AccountingRule
from servicing.close_of_business.loan_arrears import age_loans, loan_grid
from servicing.outbox import read_feed
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    TODAY,
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
    repay,
)


async def state(uow_factory, loan_id: int):  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return (await uow.session.execute(text("SELECT * FROM loan_arrears_state WHERE loan_id = :l"),
                                          {"l": loan_id})).one()


async def test_an_unpaid_loan_ages_reminds_once_and_recovers(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                              uow_factory) -> None:
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                days_to_npa=360)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]
    overdue = [p for p in schedule["instalments"] if p["due_date"] < TODAY.isoformat()]
    assert len(overdue) >= 2, "disbursed 100 days ago: at least two monthly instalments are late"
    first_due = overdue[0]["due_date"]

    outcome = await age_loans(uow_factory, TODAY, "tests")
    assert outcome.items >= 1 and outcome.entries == 0
    aged = await state(uow_factory, loan_id)
    days = (TODAY - DISBURSED_ON.fromisoformat(first_due)).days
    assert (aged.business_date, aged.days_overdue, aged.status) == (TODAY, days, "in_arrears")
    expected = grade(days, await loan_grid(uow_factory))
    assert (aged.bucket_label, aged.classification) == (expected.bucket_label, expected.classification.value)
    assert aged.outstanding_principal == Decimal(300000)
    assert aged.overdue_principal == sum(Decimal(p["principal_amount"]) for p in overdue)

    events = [e for e in await read_feed(uow_factory, limit=1_000_000) if e.subject_id == loan_id]
    kinds = sorted((e.event_type, e.payload["instalment"]) for e in events)
    assert kinds == sorted([("instalment.overdue", p["number"]) for p in overdue] + [("loan.follow_up", 1)])
    assert all(e.office_id == world.office_id and e.payload["currency"] == "XOF" for e in events)

    again = await age_loans(uow_factory, TODAY, "tests")
    assert again.detail["reminders"] == "0"
    assert (await state(uow_factory, loan_id)).days_overdue == days

    owed = sum(Decimal(p["total_amount"]) for p in overdue)
    assert (await repay(client, loan_id, str(owed), ids["cash"], on=TODAY)).status_code == 201
    await age_loans(uow_factory, TODAY, "tests")
    recovered = await state(uow_factory, loan_id)
    assert (recovered.days_overdue, recovered.status, recovered.overdue_amount) == (0, "performing", 0)


async def test_an_older_day_never_moves_the_state_back(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                       uow_factory) -> None:
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    await age_loans(uow_factory, TODAY, "tests")
    await age_loans(uow_factory, TODAY - timedelta(days=20), "tests")
    assert (await state(uow_factory, loan_id)).business_date == TODAY


async def test_risk_reports_read_the_aged_portfolio(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                    uow_factory) -> None:
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    late = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, late, ids["cash"])).status_code == 201
    await age_loans(uow_factory, TODAY, "tests")
    aged = await state(uow_factory, late)

    par = await client.get("/api/v1/reports/portfolio-at-risk", params={"group_by": "product"})
    assert par.status_code == 200, par.text
    # The latest close of the shared test database: other tests' loans may have been aged later.
    assert par.json()["as_of"] >= TODAY.isoformat()
    (row,) = [r for r in par.json()["rows"] if r["group"] == str(product_id)]
    assert (row["loans"], row["outstanding_principal"], row["par_30"], row["par_30_percent"]) == (
        1, "300000", "300000", "100.00")
    assert row["par_90"] == ("300000" if aged.days_overdue > 90 else "0")  # more than 90 days late
    by_officer = await client.get("/api/v1/reports/portfolio-at-risk", params={"group_by": "officer", "format": "csv"})
    assert by_officer.status_code == 200 and by_officer.text.startswith("\ufeffgroup;label;currency;loans")

    ageing = (await client.get("/api/v1/reports/loan-ageing")).json()
    bucket = next(r for r in ageing["rows"] if r["bucket"] == aged.bucket_label)
    assert "E" not in bucket["provision_rate_percent"]
    # The close's rule loan by loan: the provisioning report's required for the bucket (every product).
    provisioning = (await client.get("/api/v1/reports/provisioning")).json()["rows"]
    assert bucket["loans"] >= 1 and Decimal(bucket["provision_required"]) == sum(
        (Decimal(r["provision_required"]) for r in provisioning if r["bucket"] == bucket["bucket"]
         and r["provision_rate_percent"] == bucket["provision_rate_percent"]), Decimal(0))

    arrears = (await client.get("/api/v1/reports/arrears", params={"min_days": 1})).json()
    mine = next(r for r in arrears if r["loan_id"] == late)
    assert (mine["days_overdue"], mine["status"], mine["outstanding_principal"]) == (aged.days_overdue, aged.status,
                                                                                    "300000")
    follow_ups = (await client.get("/api/v1/reports/loan-follow-ups")).json()
    assert late in [r["loan_id"] for r in follow_ups]
    bad = await client.get("/api/v1/reports/portfolio-at-risk", params={"group_by": "client"})
    assert bad.status_code == 400 and "group_by" in bad.text
    teller = await staff_user("teller")
    assert (await client.get("/api/v1/reports/portfolio-at-risk", headers=teller.headers)).status_code == 403


async def test_the_collection_step_collects_and_announces_each_shortfall_once(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    from servicing.close_of_business.loan_collection import collect_loans
    from tests.api.test_loan_deposits_api import linked_loan
    from tests.deposit_support import deposit_world

    dw = await deposit_world(uow_factory, world)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id, _account_id, schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                       product_id, "10000")
    on = DISBURSED_ON.fromisoformat(schedule[0]["due_date"])
    outcome = await collect_loans(uow_factory, on, "tests")
    assert outcome.items >= 1 and outcome.detail["alerts"] != "0"
    missing = Decimal(schedule[0]["total_amount"]) - 10000
    alerts = [e for e in await read_feed(uow_factory, limit=100_000, event_type="loan.insufficient_funds")
              if e.event_type == "loan.insufficient_funds" and e.subject_id == loan_id]
    assert [(a.payload["amount_collected"], a.payload["amount_missing"]) for a in alerts] == [("10000", str(missing))]
    again = await collect_loans(uow_factory, on, "tests")
    assert (again.items, again.detail["alerts"]) == (0, "0")
