"""Close-of-business steps `loan_classification`, `loan_provisioning` and `loan_write_off`,
and the manual write-off and recoveries, on real loans with the journal lines written out by
hand: a loan 100 days late moves to the doubtful accounts and is provisioned at the RCSFD's
40 %; the NPA exit rule keeps it doubtful after a partial payment (its provision follows the
bucket down); a full payment of its arrears brings it back to healthy; a write-off is charged
first against the provision; recoveries are income with their VAT. Every step run twice posts
once, the loan reconciliation and the provisions accounts stay at zero difference."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from chart_of_accounts import AccountType, AccountUsage, GLAccount
from products.accounting import ClassifiedAccount
from products.catalogue.common import AmountRange, CountRange
from products.events import LoanClassification, TermBucket
from products.loans.product import LoanProduct
from products.posting_rules import AccountingRole, AccountingRule, ProductKind
from servicing import chart
from servicing.close_of_business.loan_arrears import age_loans
from servicing.close_of_business.loan_classification import classify_loans
from servicing.close_of_business.loan_provisioning import provision_loans
from servicing.close_of_business.loan_write_off import write_off_loans
from servicing.commands import CreateGLAccounts
from servicing.errors import NotFound
from servicing.loans.provisions import provision_reconciliation
from servicing.loans.reconciliation import loan_reconciliation
from servicing.outbox import read_feed
from servicing.products import demo
from servicing.reference import credit_parameters
from servicing.reference.defaults import DEMO_CREDIT_PARAMETERS
from servicing.reference.grid_templates import load_grid_template
from servicing.verification import verify_journal
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    TODAY,
    approved_loan,
    disburse,
    entry_lines,
    ids,
    lines,
    refs,
    repay,
)
from tests.api.test_products_api import unique

D = Decimal
DISBURSED = TODAY - timedelta(days=160)
_numbers = itertools.count(1)


class Books(msgspec.Struct, kw_only=True):
    product_id: int
    healthy: str
    doubtful: str
    provisions: str
    interest_healthy: str
    interest_doubtful: str


async def make_product(client, references, world, uow_factory, rule: AccountingRule, **changes: Any) -> Books:  # type: ignore[no-untyped-def]
    """A product whose portfolio (healthy and doubtful), interest receivable (healthy and doubtful)
    and provisions accounts are the test's own, so their balances are the test's loans only."""
    n = next(_numbers)
    short = {"healthy": "ph", "doubtful": "pd", "provisions": "pv", "interest_healthy": "ih",
             "interest_doubtful": "id"}
    codes = {name: f"{world.prefix}.cl{abbreviation}{n}" for name, abbreviation in short.items()}
    await chart.create_accounts(uow_factory(), CreateGLAccounts(accounts=tuple(GLAccount(
        code=code, name=f"Test {name}", type=AccountType.ASSET, usage=AccountUsage.DETAIL, parent_code=world.header)
        for name, code in codes.items()), actor="tests"))
    roles = [(AccountingRole.LOAN_PORTFOLIO, "doubtful")]
    if rule is not AccountingRule.CASH:
        roles.append((AccountingRole.INTEREST_RECEIVABLE, "interest_doubtful"))
    classified = tuple(ClassifiedAccount(classification=LoanClassification.DOUBTFUL, term=term, role=role,
                                         account_code=codes[name]) for term in TermBucket for role, name in roles)
    accounting = demo._mapping(ProductKind.LOAN, rule, references, classified=classified,
                               charges={references.loan_fee_id: "7022"})
    own = {AccountingRole.LOAN_PORTFOLIO: codes["healthy"], AccountingRole.PROVISIONS: codes["provisions"]}
    if rule is not AccountingRule.CASH:
        own[AccountingRole.INTEREST_RECEIVABLE] = codes["interest_healthy"]
    accounting = msgspec.structs.replace(accounting, accounts={**accounting.accounts, **own})
    product = LoanProduct(
        identity=unique("Prêt"), currency="XOF", fund_source_id=references.own_funds_id,
        principal=AmountRange(minimum=D(50_000), default=D(300_000), maximum=D(10_000_000)),
        repayment_count=CountRange(minimum=3, default=6, maximum=24),
        interest_rate_percent=AmountRange(minimum=D(12), default=D(18), maximum=D(24)),
        accounting=accounting, **{"charge_ids": (references.loan_fee_id,), **changes})
    response = await client.post("/api/v1/loan-products", json=msgspec.to_builtins(product))
    assert response.status_code == 201, response.text
    return Books(product_id=response.json()["product_id"], **codes)


async def late_loan(client, world, staff_user, payment_types, books: Books) -> tuple[int, list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    """A loan of 300,000 in 6 monthly instalments disbursed 160 days ago, nothing repaid."""
    loan_id = await approved_loan(client, world, staff_user, books.product_id,
                                  expected_disbursement_date=DISBURSED.isoformat())
    paid_out = await disburse(client, loan_id, payment_types["cash"], value_date=DISBURSED.isoformat())
    assert paid_out.status_code == 201, paid_out.text
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    return loan_id, schedule


async def close(uow_factory, day: date, *, automatic: bool = True) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The loan steps of a close of business, as the run calls them."""
    return {"arrears": await age_loans(uow_factory, day, "tests"),
            "classification": await classify_loans(uow_factory, day, "tests", automatic=automatic),
            "provisioning": await provision_loans(uow_factory, day, "tests"),
            "write_off": await write_off_loans(uow_factory, day, "tests")}


async def rows(uow_factory, sql: str, **params: Any) -> list[Any]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return list((await uow.session.execute(text(sql), params)).all())


async def balance(uow_factory, code: str) -> Decimal:  # type: ignore[no-untyped-def]
    found = await rows(uow_factory, "SELECT coalesce(sum(b.debit_total - b.credit_total), 0) AS b FROM account_balance b"
                                    " JOIN gl_account a ON a.id = b.account_id WHERE a.code = :c", c=code)
    return D(found[0].b).normalize()


async def provision_entries(uow_factory, loan_id: int, day: date) -> list[Any]:  # type: ignore[no-untyped-def]
    return await rows(uow_factory, "SELECT kind, classification, amount, journal_entry_id FROM loan_provision_movement"
                                   " WHERE loan_id = :l AND business_date = :d ORDER BY id", l=loan_id, d=day)


async def loan_transactions(uow_factory, loan_id: int, kind: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return await rows(uow_factory, "SELECT * FROM loan_transaction WHERE loan_id = :l AND kind = :k"
                                   " ORDER BY sequence_number", l=loan_id, k=kind)


async def assert_reconciled(uow_factory, books: Books) -> None:  # type: ignore[no-untyped-def]
    report = await loan_reconciliation(uow_factory())
    mine = [r for r in report.rows if r.product_id == books.product_id]
    assert mine and all(r.difference == 0 for r in mine), mine
    (provisions,) = [a for a in await provision_reconciliation(uow_factory()) if a.account_code == books.provisions]
    assert provisions.exclusive and provisions.difference == 0, provisions
    assert provisions.general_ledger == -await balance(uow_factory, books.provisions)
    problems = [p for p in (await verify_journal(uow_factory)).problems
                if p.check.startswith("loan-") and p.check != "loan-entry-used-once"]
    assert not problems, problems


@pytest.fixture(autouse=True)
async def rcsfd_grid(uow_factory) -> None:  # type: ignore[no-untyped-def]
    """The BCEAO SFD grid (0-90 healthy 0 %, 91-180 doubtful 40 %, 181-365 80 %...)."""
    await load_grid_template(uow_factory, "bceao-sfd", "tests")


async def release_on_repayment(uow_factory, enabled: bool) -> None:  # type: ignore[no-untyped-def]
    """Seed 002's « reprise remb. » switch, the other credit parameters as they are (a new version)."""
    try:
        current = (await credit_parameters.current(uow_factory())).parameters
    except NotFound:
        current = msgspec.structs.replace(DEMO_CREDIT_PARAMETERS, loans_per_client_max=99, loans_per_guarantor_max=99)
    if current.recovery_entries_on_repayment is not enabled:
        await credit_parameters.set_parameters(uow_factory(), msgspec.structs.replace(
            current, recovery_entries_on_repayment=enabled), "tests")


@pytest.fixture(autouse=True)
async def no_release_on_repayment(uow_factory) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """The hand-computed examples release provisions in the evening run unless a test says otherwise."""
    await release_on_repayment(uow_factory, False)
    yield


def due_by(schedule: list[dict[str, Any]], day: date) -> list[dict[str, Any]]:
    return [p for p in schedule if date.fromisoformat(p["due_date"]) <= day]


async def test_doubtful_then_healthy_again_after_its_arrears_are_paid(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                                    uow_factory) -> None:
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    first_due = date.fromisoformat(schedule[0]["due_date"])
    day_a = first_due + timedelta(days=100)
    assert day_a < TODAY

    outcome = await close(uow_factory, day_a)
    (move,) = await loan_transactions(uow_factory, loan_id, "reclassification")
    assert (move.principal, move.interest, move.classification, move.value_date) == (300000, 0, "doubtful", day_a)
    assert await entry_lines(uow_factory, move.journal_entry_id) == lines(
        (books.doubtful, "D", 300000), (books.healthy, "C", 300000))
    (allowance,) = await provision_entries(uow_factory, loan_id, day_a)
    assert (allowance.kind, allowance.classification, allowance.amount) == ("allowance", "doubtful", 120000)
    allowance_lines = await entry_lines(uow_factory, allowance.journal_entry_id)
    assert (books.provisions, "C", D(120000)) in allowance_lines and ("662", "D", D(120000)) in allowance_lines
    assert outcome["classification"].entries >= 1 and outcome["provisioning"].entries >= 1
    events = [e for e in await read_feed(uow_factory, limit=1_000_000) if e.subject_id == loan_id
              and e.event_type == "loan.reclassified"]
    assert [(e.payload["from"], e.payload["to"], e.payload["principal"]) for e in events] == [
        ("healthy", "doubtful", "300000")]

    again = await close(uow_factory, day_a)
    assert len(await loan_transactions(uow_factory, loan_id, "reclassification")) == 1
    assert len(await provision_entries(uow_factory, loan_id, day_a)) == 1
    assert again["classification"].detail["reclassified"] == "0"

    # Partial payment of instalment 1: doubtful, so principal first; the NPA exit rule keeps it doubtful.
    day_b = day_a + timedelta(days=5)
    partial = await repay(client, loan_id, "10000", ids["cash"], on=day_b)
    assert partial.status_code == 201, partial.text
    assert (partial.json()["principal"], partial.json()["interest"], partial.json()["classification"]) == (
        "10000", "0", "doubtful")
    assert await entry_lines(uow_factory, partial.json()["journal_entry_id"]) == lines(
        ("1012", "D", 10000), (books.doubtful, "C", 10000))
    rest_of_first = str(D(schedule[0]["total_amount"]) - 10000)
    assert (await repay(client, loan_id, rest_of_first, ids["cash"], on=day_b)).status_code == 201
    await close(uow_factory, day_b)
    (state,) = await rows(uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert state.status == "non_performing" and state.days_overdue < 90 and state.provision_rate_percent == 0
    assert len(await loan_transactions(uow_factory, loan_id, "reclassification")) == 1
    (release,) = await provision_entries(uow_factory, loan_id, day_b)
    assert (release.kind, release.amount) == ("release", 120000)
    release_lines = await entry_lines(uow_factory, release.journal_entry_id)
    assert (books.provisions, "D", D(120000)) in release_lines and ("761", "C", D(120000)) in release_lines

    # Every arrear paid: performing again, back to the healthy accounts with what is left.
    day_c = day_b + timedelta(days=1)
    arrears = sum(D(p["total_amount"]) for p in due_by(schedule, day_c)[1:])
    assert (await repay(client, loan_id, str(arrears), ids["cash"], on=day_c)).status_code == 201
    await close(uow_factory, day_c)
    back = (await loan_transactions(uow_factory, loan_id, "reclassification"))[-1]
    left = sum(D(p["principal_amount"]) for p in schedule if date.fromisoformat(p["due_date"]) > day_c)
    assert (back.classification, back.principal) == ("healthy", left)
    assert await entry_lines(uow_factory, back.journal_entry_id) == lines(
        (books.healthy, "D", left), (books.doubtful, "C", left))
    assert await balance(uow_factory, books.doubtful) == 0
    assert await balance(uow_factory, books.healthy) == left
    assert await balance(uow_factory, books.provisions) == 0
    await assert_reconciled(uow_factory, books)


async def test_write_off_charged_first_on_the_provision_then_recoveries(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                                       uow_factory) -> None:
    books = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_UPFRONT,
                               vat_on_recoveries_percent=D(18))
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    interest = sum(D(p["interest_amount"]) for p in schedule)
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)

    await close(uow_factory, day)
    (move,) = await loan_transactions(uow_factory, loan_id, "reclassification")
    assert await entry_lines(uow_factory, move.journal_entry_id) == lines(
        (books.doubtful, "D", 300000), (books.healthy, "C", 300000),
        (books.interest_doubtful, "D", interest), (books.interest_healthy, "C", interest))

    # Without days to NPA, only the booked class makes this repayment doubtful: principal first.
    paid = await repay(client, loan_id, "10000", ids["cash"], on=day + timedelta(days=1))
    assert (paid.json()["principal"], paid.json()["interest"]) == ("10000", "0"), paid.text

    url = f"/api/v1/loans/{loan_id}"
    refused = await client.post(f"{url}/write-off", json={"reason": "  "}, headers={"Idempotency-Key": f"w-{loan_id}"})
    assert refused.status_code == 422 and refused.json()["field"] == "reason", refused.text
    teller = await staff_user("teller", office_id=world.office_id)
    assert (await client.post(f"{url}/write-off", json={"reason": "Client disparu"},
                              headers=teller.headers)).status_code == 403
    written = await client.post(f"{url}/write-off", json={"reason": "Client disparu"},
                                headers={"Idempotency-Key": f"wo-{loan_id}"})
    assert written.status_code == 201, written.text
    body = written.json()
    assert (body["kind"], body["principal"], body["interest"], body["classification"]) == (
        "write_off", "290000", str(interest), "doubtful")
    assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
        (books.provisions, "D", 120000), ("665", "D", 170000 + interest),
        (books.doubtful, "C", 290000), (books.interest_doubtful, "C", interest))
    replay = await client.post(f"{url}/write-off", json={"reason": "Client disparu"},
                               headers={"Idempotency-Key": f"wo-{loan_id}"})
    assert replay.status_code == 201 and replay.json()["transaction_id"] == body["transaction_id"]
    twice = await client.post(f"{url}/write-off", json={"reason": "Encore"})
    assert twice.status_code == 409 and twice.json()["field"] == "loan_id"
    loan = (await client.get(url)).json()["loan"]
    assert (loan["status"]) == "written_off"
    assert (await repay(client, loan_id, "1000", ids["cash"], on=TODAY)).status_code == 409
    assert await balance(uow_factory, books.provisions) == 0
    assert await balance(uow_factory, books.doubtful) == 0 and await balance(uow_factory, books.healthy) == 0

    # Later steps leave it alone: it is out of the active portfolio.
    later = await close(uow_factory, TODAY)
    assert loan_id not in [r.loan_id for r in await rows(uow_factory, "SELECT loan_id FROM loan_arrears_state"
                                                         " WHERE business_date = :d", d=TODAY)]
    assert later["write_off"].items == 0 or "written_off" in later["write_off"].detail

    recovery = {"value_date": TODAY.isoformat(), "amount": "11800", "payment_type_id": ids["cash"],
                "receipt_number": "REC-1"}
    got = await client.post(f"{url}/recoveries", json=recovery, headers={"Idempotency-Key": f"rec-{loan_id}"})
    assert got.status_code == 201, got.text
    assert (got.json()["kind"], got.json()["amount"], got.json()["vat"]) == ("recovery", "11800", "1800")
    assert await entry_lines(uow_factory, got.json()["journal_entry_id"]) == lines(
        ("1012", "D", 11800), ("762", "C", 10000), ("343", "C", 1800))
    again = await client.post(f"{url}/recoveries", json=recovery, headers={"Idempotency-Key": f"rec-{loan_id}"})
    assert again.status_code == 201 and again.json()["transaction_id"] == got.json()["transaction_id"]
    too_much = await client.post(f"{url}/recoveries", json={**recovery, "amount": "99999999"})
    assert too_much.status_code == 422 and too_much.json()["field"] == "amount", too_much.text
    not_written = await late_loan(client, world, staff_user, ids, books)
    assert (await client.post(f"/api/v1/loans/{not_written[0]}/recoveries", json=recovery)).status_code == 409
    await assert_reconciled(uow_factory, books)


async def test_the_rule_writes_off_past_the_products_threshold_once(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                                    uow_factory) -> None:
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90,
                               write_off_after_days_overdue=120)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    await close(uow_factory, day)  # doubtful, 40 % provision, not yet past 120 days
    assert not await loan_transactions(uow_factory, loan_id, "write_off")

    later = day + timedelta(days=21)
    outcome = await close(uow_factory, later)
    (gone,) = await loan_transactions(uow_factory, loan_id, "write_off")
    assert gone.principal == 300000 and gone.value_date == later
    assert await entry_lines(uow_factory, gone.journal_entry_id) == lines(
        (books.provisions, "D", 120000), ("665", "D", 180000), (books.doubtful, "C", 300000))
    assert outcome["write_off"].detail["written_off"] != "0"
    again = await write_off_loans(uow_factory, later, "tests")
    assert again.items == 0 and len(await loan_transactions(uow_factory, loan_id, "write_off")) == 1
    events = [e for e in await read_feed(uow_factory, limit=1_000_000) if e.subject_id == loan_id
              and e.event_type == "loan.written_off"]
    assert [(e.payload["rule"], e.payload["principal_covered_by_provision"]) for e in events] == [
        ("automatic", "120000")]
    await assert_reconciled(uow_factory, books)


async def test_without_automatic_declassification_the_change_is_only_proposed(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    outcome = await close(uow_factory, day, automatic=False)
    assert f"{loan_id}:healthy->doubtful" in outcome["classification"].detail["proposed"].split(",")
    assert outcome["classification"].entries == 0
    assert not await loan_transactions(uow_factory, loan_id, "reclassification")
    (booked,) = await rows(uow_factory, "SELECT booked_classification FROM loan WHERE id = :l", l=loan_id)
    assert booked.booked_classification == "healthy"
    # Provisioned all the same, under the class it is booked in, by the bucket's rate.
    (allowance,) = await provision_entries(uow_factory, loan_id, day)
    assert (allowance.kind, allowance.classification, allowance.amount) == ("allowance", "healthy", 120000)


async def test_provisioning_report_shows_required_and_booked(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                             uow_factory) -> None:
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    await close(uow_factory, day)
    report = await client.get("/api/v1/reports/provisioning")
    assert report.status_code == 200, report.text
    mine = [r for r in report.json()["rows"] if r["product_id"] == books.product_id]
    assert [(r["bucket"], r["loans"], r["provision_required"], r["provision_booked"], r["difference"])
            for r in mine] == [("Plus de 3 à 6 mois (2991)", 1, "120000", "120000", "0")]
    (account,) = [a for a in report.json()["accounts"] if a["account_code"] == books.provisions]
    assert (account["booked_per_loan"], account["general_ledger"], account["difference"]) == ("120000", "120000", "0")
    as_csv = await client.get("/api/v1/reports/provisioning", params={"format": "csv"})
    assert as_csv.status_code == 200 and "provision_required" in as_csv.text
    teller = await staff_user("teller")
    assert (await client.get("/api/v1/reports/provisioning", headers=teller.headers)).status_code == 403
    assert loan_id


async def test_release_on_repayment_posts_with_the_repayment(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                             uow_factory) -> None:
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    await close(uow_factory, day)  # 40 % of 300,000 booked: 120,000
    await release_on_repayment(uow_factory, True)
    first_principal = schedule[0]["principal_amount"]
    paid = await repay(client, loan_id, first_principal, ids["cash"], on=day + timedelta(days=1))
    assert paid.status_code == 201 and paid.json()["principal"] == first_principal, paid.text
    # E.g. 300,000 - 48,158 = 251,842 left x 40 % = 100,736.8 -> 100,737 required: 19,263 released at once.
    required = ((300000 - D(first_principal)) * D("0.4")).quantize(D(1))
    (release,) = await provision_entries(uow_factory, loan_id, day + timedelta(days=1))
    assert (release.kind, release.amount) == ("release", 120000 - required)
    release_lines = await entry_lines(uow_factory, release.journal_entry_id)
    assert (books.provisions, "D", 120000 - required) in release_lines
    assert ("761", "C", 120000 - required) in release_lines
    await release_on_repayment(uow_factory, False)
    evening = await close(uow_factory, day + timedelta(days=1))
    assert len(await provision_entries(uow_factory, loan_id, day + timedelta(days=1))) == 1, evening
    assert await balance(uow_factory, books.provisions) == -required
    await assert_reconciled(uow_factory, books)


async def test_guarantee_deposits_held_reduce_the_provision_base(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                                 uow_factory) -> None:
    """RCSFD: base = outstanding − deposits held in guarantee. 300,000 lent against 30,000 of
    mandatory savings and 15,000 of cash collateral held: (300,000 − 45,000) × 40 % = 102,000."""
    from tests.api.test_deposit_accounts_api import move, open_account
    from tests.api.test_loan_deposits_api import OPENED, SAVINGS, disburse_into
    from tests.api.test_loans_api import application, borrower
    from tests.deposit_support import deposit_world

    dw = await deposit_world(uow_factory, world)
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90, **SAVINGS)
    client_id = await borrower(client, world, staff_user)
    account_id = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED,
                                     overdraft_limit="0"))["account_id"]
    await move(client, account_id, "deposits", "45000", value_date=OPENED)
    loan_id = (await client.post("/api/v1/loan-applications", json=application(client_id, books.product_id))
               ).json()["loan_id"]
    assert (await client.post(f"/api/v1/loan-applications/{loan_id}/submit")).status_code == 200
    checker = await staff_user("branch_manager", office_id=world.office_id)
    assert (await client.post(f"/api/v1/loan-applications/{loan_id}/approve", json={},
                              headers=checker.headers)).status_code == 200
    made = await disburse_into(client, loan_id, account_id)
    assert made.status_code == 201, made.text
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    await close(uow_factory, day)
    (allowance,) = await provision_entries(uow_factory, loan_id, day)
    assert (allowance.kind, allowance.classification, allowance.amount) == ("allowance", "doubtful", 102000)
    assert await entry_lines(uow_factory, allowance.journal_entry_id) == lines(
        ("662", "D", 102000), (books.provisions, "C", 102000))
    await assert_reconciled(uow_factory, books)


async def test_a_write_off_and_a_recovery_are_reversed(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                      uow_factory) -> None:
    """A doubtful loan provisioned at 40 % (120 000) is written off, then 11 800 recovered. The
    write-off cannot be reversed while the recovery stands; the recovery's reversal mirrors its
    entry; the write-off's reversal mirrors its entry, books the 120 000 of provision it used
    again, and leaves the loan active and doubtful as before. Idempotency-Key replays answer the
    same reversal; a second reversal is refused; a teller may not reverse a write-off."""
    books = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_UPFRONT,
                               vat_on_recoveries_percent=D(18))
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    interest = sum(D(p["interest_amount"]) for p in schedule)
    day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    await close(uow_factory, day)
    url = f"/api/v1/loans/{loan_id}"
    assert (await client.post(f"{url}/write-off/reversal")).status_code == 409  # nothing written off yet
    written = await client.post(f"{url}/write-off", json={"reason": "Client disparu", "value_date": day.isoformat()})
    assert written.status_code == 201, written.text
    assert await balance(uow_factory, books.provisions) == 0 and await balance(uow_factory, books.doubtful) == 0
    recovery = {"value_date": TODAY.isoformat(), "amount": "11800", "payment_type_id": ids["cash"],
                "receipt_number": "REC-9"}
    got = (await client.post(f"{url}/recoveries", json=recovery)).json()

    blocked = await client.post(f"{url}/write-off/reversal")
    assert blocked.status_code == 409 and f"recoveries/{got['transaction_id']}/reversal" in blocked.json()["detail"]
    generic = await client.post(f"{url}/transactions/{written.json()['transaction_id']}/reversal")
    assert generic.status_code == 409 and f"{url}/write-off/reversal" in generic.json()["detail"], generic.text
    key = {"Idempotency-Key": f"rr-{loan_id}"}
    undone = await client.post(f"{url}/recoveries/{got['transaction_id']}/reversal", headers=key)
    assert undone.status_code == 201, undone.text
    assert (undone.json()["kind"], undone.json()["reverses_transaction_id"], undone.json()["amount"]) == (
        "recovery_reversal", got["transaction_id"], "11800")
    assert await entry_lines(uow_factory, undone.json()["journal_entry_id"]) == lines(
        ("1012", "C", 11800), ("762", "D", 10000), ("343", "D", 1800))
    replayed = await client.post(f"{url}/recoveries/{got['transaction_id']}/reversal", headers=key)
    assert replayed.status_code == 201 and replayed.json()["transaction_id"] == undone.json()["transaction_id"]
    again = await client.post(f"{url}/recoveries/{got['transaction_id']}/reversal")
    assert again.status_code == 409 and again.json()["field"] == "transaction_id"

    teller = await staff_user("teller", office_id=world.office_id)
    assert (await client.post(f"{url}/write-off/reversal", headers=teller.headers)).status_code == 403
    key = {"Idempotency-Key": f"wr-{loan_id}"}
    reinstated = await client.post(f"{url}/write-off/reversal", headers=key)
    assert reinstated.status_code == 201, reinstated.text
    body = reinstated.json()
    assert (body["kind"], body["reverses_transaction_id"], body["principal"], body["classification"]) == (
        "write_off_reversal", written.json()["transaction_id"], "300000", "doubtful")
    assert await entry_lines(uow_factory, body["journal_entry_id"]) == lines(
        (books.provisions, "C", 120000), ("665", "C", 180000 + interest),
        (books.doubtful, "D", 300000), (books.interest_doubtful, "D", interest))
    replayed = await client.post(f"{url}/write-off/reversal", headers=key)
    assert replayed.status_code == 201 and replayed.json()["transaction_id"] == body["transaction_id"]
    assert (await client.post(f"{url}/write-off/reversal")).status_code == 409
    loan = (await client.get(url)).json()["loan"]
    assert (loan["status"], loan["booked_classification"]) == ("active", "doubtful")
    assert await balance(uow_factory, books.provisions) == -120000
    assert await balance(uow_factory, books.doubtful) == 300000
    assert [(m.kind, m.amount) for m in await rows(
        uow_factory, "SELECT kind, amount FROM loan_provision_movement WHERE loan_id = :l ORDER BY id", l=loan_id)][-2:] \
        == [("write_off", 120000), ("allowance", 120000)]
    await assert_reconciled(uow_factory, books)
    # Active again: it takes repayments, and the next evening's steps see it.
    assert (await repay(client, loan_id, "1000", ids["cash"], on=TODAY)).status_code == 201
    await assert_reconciled(uow_factory, books)


async def test_release_on_repayment_posts_with_the_automatic_collection_too(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """Seed 002's « reprise remb. » does not depend on how the repayment comes: a collection from
    the linked deposit account releases, in its own transaction, the provision its principal no
    longer requires, as a counter repayment does. 40 % of 300,000 booked (120,000); the account
    gives 60,000 on the day after: with P the principal it repaid, (300,000 - P) x 40 % is still
    required and the rest is released, Dr provisions / Cr 761. Switch off: nothing at collection."""
    from servicing.loans.collection import collect
    from tests.api.test_deposit_accounts_api import move, open_account
    from tests.api.test_loans_api import approved_loan as approved
    from tests.deposit_support import deposit_world

    dw = await deposit_world(uow_factory, world)
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)

    async def provisioned_linked_loan() -> tuple[int, int, date]:
        loan_id = await approved(client, world, staff_user, books.product_id,
                                 expected_disbursement_date=DISBURSED.isoformat())
        client_id = (await client.get(f"/api/v1/loan-applications/{loan_id}")).json()["client_id"]
        account_id = (await open_account(client, uow_factory, dw, client_id=client_id,
                                         opened_on=(DISBURSED - timedelta(days=5)).isoformat(),
                                         overdraft_limit="0"))["account_id"]
        linked = await client.put(f"/api/v1/loans/{loan_id}/deposit-account", json={"deposit_account_id": account_id})
        assert linked.status_code == 200, linked.text
        assert (await disburse(client, loan_id, ids["cash"], value_date=DISBURSED.isoformat())).status_code == 201
        schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"]
        day = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
        await close(uow_factory, day)  # 40 % of 300,000 booked: 120,000
        (allowance,) = await provision_entries(uow_factory, loan_id, day)
        assert (allowance.kind, allowance.amount) == ("allowance", 120000)
        await move(client, account_id, "deposits", "60000", value_date=day.isoformat())
        return loan_id, account_id, day + timedelta(days=1)

    await release_on_repayment(uow_factory, True)
    loan_id, _account_id, on = await provisioned_linked_loan()
    summary = await collect(uow_factory, on, actor="tests")
    assert summary.amount_collected >= 60000
    (collected,) = await loan_transactions(uow_factory, loan_id, "repayment")
    assert (collected.amount, collected.value_date) == (60000, on)
    required = ((300000 - D(collected.principal)) * D("0.4")).quantize(D(1))
    (release,) = await provision_entries(uow_factory, loan_id, on)
    assert (release.kind, release.amount) == ("release", 120000 - required)
    assert await entry_lines(uow_factory, release.journal_entry_id) == lines(
        (books.provisions, "D", 120000 - required), ("761", "C", 120000 - required))
    async with uow_factory() as uow:  # written in the collection's transaction
        same = await uow.session.scalar(text(
            "SELECT m.created_at = t.created_at FROM loan_provision_movement m, loan_transaction t"
            " WHERE m.loan_id = :l AND m.business_date = :d AND t.id = :t"),
            {"l": loan_id, "d": on, "t": collected.id})
    assert same is True
    assert await balance(uow_factory, books.provisions) == -required
    await assert_reconciled(uow_factory, books)

    await release_on_repayment(uow_factory, False)
    other, _account_id, on = await provisioned_linked_loan()
    await collect(uow_factory, on, actor="tests")
    assert len(await loan_transactions(uow_factory, other, "repayment")) == 1
    assert await provision_entries(uow_factory, other, on) == [], "released by the evening's provisioning"
