"""Product charges that fall due by the calendar (close-of-business step `loan_charges`): an
instalment fee on the outstanding principal and a monthly fee with its TAF, added once per date
through the manual charge path, posted through the product's rules, the TAF collected with the
repayment; a second run adds nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import text

from products.loans.product_charges import ProductCharge, due_dates
from products.posting_rules import AccountingRule
from products.reference.model import ChargeCalculation, ChargeTime
from products.reference.taxes import ChargeTax
from servicing.loans.product_charges import charge_loans
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


async def _charges(client, world) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    taf = await client.post("/api/v1/tax-rates", json={
        "code": f"TAF-L-{world.prefix}", "name": "TAF sur frais de crédit", "tax_kind": "taf", "country": "KM",
        "operation_kind": "loan_charges", "rate_percent": "17",
        "valid_from": (TODAY - timedelta(days=400)).isoformat(), "source": "test"})
    assert taf.status_code == 201, taf.text
    monthly = await client.post("/api/v1/charges", json={
        "name": f"Frais de gestion mensuels {world.prefix}", "applies_to": "loan", "charge_time": "monthly",
        "calculation": "flat", "amount": "500", "currency": "XOF", "due_day": 28, "tax_rate_id": taf.json()["id"]})
    assert monthly.status_code == 201, monthly.text
    on_outstanding = await client.post("/api/v1/charges", json={
        "name": f"Commission sur encours {world.prefix}", "applies_to": "loan", "charge_time": "instalment_fee",
        "calculation": "percent_of_outstanding_principal", "amount": "1", "currency": "XOF"})
    assert on_outstanding.status_code == 201, on_outstanding.text
    return monthly.json()["id"], on_outstanding.json()["id"]


async def test_calendar_charges_are_added_once_with_their_taf(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    monthly_id, outstanding_id = await _charges(client, world)
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True,
                                                charge_ids=(refs.loan_fee_id, monthly_id, outstanding_id))
    fees_receivable = portfolio.replace("loan_portfol", "fees_receiva")  # the test's own accounts
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    view = (await client.get(f"{LOANS}/{loan_id}")).json()
    first_due = date.fromisoformat(view["loan"]["schedule"]["instalments"][0]["due_date"])
    monthly = ProductCharge(charge_id=monthly_id, name="m", charge_time=ChargeTime.MONTHLY,
                            calculation=ChargeCalculation.FLAT, amount=D(500), due_day=28)
    window_from = max(DISBURSED_ON, first_due - timedelta(days=31))
    monthly_dates = due_dates(monthly, after=window_from, through=first_due, instalment_due_dates=())

    outcome = await charge_loans(uow_factory, first_due, "tests")
    assert outcome.entries >= 1 + len(monthly_dates)
    charges = [t for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json() if t["kind"] == "charge"]
    by_charge = {(t["charge_id"], t["fee"], t["vat"], t["amount"]) for t in charges}
    # 1 % of the 300 000 outstanding on the first due date; 500 a month plus 17 % TAF (85).
    assert by_charge == {(outstanding_id, "3000", "0", "3000"), (monthly_id, "500", "85", "585")}
    assert len(charges) == 1 + len(monthly_dates)
    on_outstanding = next(t for t in charges if t["charge_id"] == outstanding_id)
    assert on_outstanding["value_date"] == first_due.isoformat()
    assert on_outstanding["allocation"] == [{"instalment": 1, "component": "fee", "amount": "3000"}]
    assert await entry_lines(uow_factory, on_outstanding["journal_entry_id"]) == lines(
        (fees_receivable, "D", 3000), ("7022", "C", 3000))
    a_month = next(t for t in charges if t["charge_id"] == monthly_id)
    assert a_month["allocation"] == [{"instalment": 1, "component": "fee", "amount": "500"},
                                     {"instalment": 1, "component": "vat", "amount": "85"}]
    # The TAF is owed, not recognised: it is posted to VAT payable when the borrower pays it.
    assert await entry_lines(uow_factory, a_month["journal_entry_id"]) == lines(
        (fees_receivable, "D", 500), ("7022", "C", 500))

    again = await charge_loans(uow_factory, first_due, "tests")
    assert again.entries == 0
    assert len([t for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
                if t["kind"] == "charge"]) == len(charges)

    # Fees first (healthy order), then interest and its VAT (none here), then principal.
    fees = 3000 + 500 * len(monthly_dates)
    taf = 85 * len(monthly_dates)
    paid = (await repay(client, loan_id, str(fees + taf + 4500), ids["cash"], on=first_due)).json()
    assert (paid["fee"], paid["vat"], paid["interest"], paid["principal"]) == (str(fees), str(taf), "4500", "0")
    assert await entry_lines(uow_factory, paid["journal_entry_id"]) == lines(
        ("1012", "D", fees + taf + 4500), (fees_receivable, "C", fees), ("343", "C", taf),
        (portfolio.replace("loan_portfol", "interest_rec"), "C", 4500))
    receivables = (await client.get("/api/v1/reports/loan-receivables-reconciliation")).json()
    mine = [r for r in receivables if r["account_code"].startswith(world.prefix)]
    assert mine and all(r["difference"] == "0" for r in mine), mine


async def test_a_calendar_charge_is_refused_by_the_catalogue_where_it_does_not_fit(client, world) -> None:  # type: ignore[no-untyped-def]
    refused = await client.post("/api/v1/charges", json={
        "name": f"Frais mensuels sur dépassement {world.prefix}", "applies_to": "loan", "charge_time": "monthly",
        "calculation": "percent_of_overdue_amount", "amount": "1", "currency": "XOF", "due_day": 5})
    assert_problem(refused, 422, "calculation")
    no_day = await client.post("/api/v1/charges", json={
        "name": f"Frais mensuels sans jour {world.prefix}", "applies_to": "loan", "charge_time": "monthly",
        "calculation": "flat", "amount": "500", "currency": "XOF"})
    assert_problem(no_day, 422, "due_day")


async def test_loans_of_products_without_calendar_charges_are_not_read(uow_factory) -> None:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        before = await uow.session.scalar(text("SELECT count(*) FROM loan_transaction WHERE kind = 'charge'"))
    outcome = await charge_loans(uow_factory, TODAY - timedelta(days=400), "tests")
    assert outcome.entries == 0
    async with uow_factory() as uow:
        assert await uow.session.scalar(text("SELECT count(*) FROM loan_transaction WHERE kind = 'charge'")) == before


def test_an_application_fee_is_collected_with_the_disbursement() -> None:
    from products.loans.terms import FeeCalculation, FeeTrigger
    from products.reference.db.tables import ChargeRow
    from servicing.products.terms import fee_spec

    row = ChargeRow(id=9, name="Frais d'étude du dossier", charge_time="application", calculation="flat",
                    amount=D("5000.0000"), is_penalty=False)
    spec = fee_spec(row, ChargeTax(rate_percent=D(17)))
    assert spec is not None
    assert (spec.trigger, spec.calculation, spec.flat_amount, spec.vat_percent, spec.each_tranche) == (
        FeeTrigger.DISBURSEMENT, FeeCalculation.FLAT, D(5000), D(17), False)
    monthly = ChargeRow(id=10, name="Frais mensuels", charge_time="monthly", calculation="flat", amount=D(500),
                        is_penalty=False, due_day=28)
    assert fee_spec(monthly, None) is None  # charged by the close of business, not the schedule


async def _tax_rate(client, world, code: str, country: str, **changes: object) -> int:  # type: ignore[no-untyped-def]
    """A TAF rate of its own country (one rate in force per country and operation)."""
    made = await client.post("/api/v1/tax-rates", json={
        "code": f"{code}-{world.prefix}", "name": f"TAF {code}", "tax_kind": "taf", "country": country,
        "operation_kind": "loan_charges", "rate_percent": "17",
        "valid_from": (TODAY - timedelta(days=400)).isoformat(), "source": "test", **changes})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def _charge(client, world, name: str, **fields: object) -> int:  # type: ignore[no-untyped-def]
    made = await client.post("/api/v1/charges", json={
        "name": f"{name} {world.prefix}", "applies_to": "loan", "calculation": "flat", "currency": "XOF", **fields})
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_a_charge_is_taxed_only_where_its_rate_applies(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """An exempt institution owes no TAF on any charge; a rate taxes only what falls due within
    its validity: the schedule's fees each on its own due date, the close of business's
    automatic charges and charges added by hand alike."""
    exempt = await _tax_rate(client, world, "EXO", "GW", institution_exempt=True,
                             exemption_reference="Loi SFD art. 50 (exonération)")
    begins_later = DISBURSED_ON + timedelta(days=40)
    later = await _tax_rate(client, world, "LATE", "NE", valid_from=begins_later.isoformat())
    at_disbursement = await _charge(client, world, "Frais de dossier TAF", charge_time="disbursement",
                                    amount="500", tax_rate_id=later)
    per_instalment = await _charge(client, world, "Frais par échéance TAF", charge_time="instalment_fee",
                                   amount="100", tax_rate_id=later)
    monthly = await _charge(client, world, "Frais mensuels exonérés", charge_time="monthly", amount="500",
                            due_day=28, tax_rate_id=exempt)
    product_id, _ = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                       charge_ids=(refs.loan_fee_id, at_disbursement, per_instalment, monthly))
    loan_id = await approved_loan(client, world, staff_user, product_id, interest_rate_percent="12")
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["schedule"]
    instalments = schedule["instalments"]
    assert len(instalments) == 6 and date.fromisoformat(instalments[0]["due_date"]) < begins_later
    # The disbursement fee (due before the rate) and the first instalment's fee carry no TAF;
    # every later instalment's fee carries 17 % of 100.
    assert [(i["fee_amount"], i["vat_amount"]) for i in instalments] == (
        [("100", "0")] + [("100", "17")] * 5), instalments
    upfront = {c["name"]: c["vat_amount"] for c in schedule["fee_charges"] if c["instalment_number"] == 0}
    assert upfront[f"Frais de dossier TAF {world.prefix}"] == "0", upfront

    first_due = date.fromisoformat(instalments[0]["due_date"])
    await charge_loans(uow_factory, first_due, "tests")
    automatic = [t for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
                 if t["kind"] == "charge" and t["charge_id"] == monthly]
    assert automatic and all((t["fee"], t["vat"]) == ("500", "0") for t in automatic), automatic

    on = first_due.isoformat()
    by_hand = await client.post(f"{LOANS}/{loan_id}/charges", json={
        "value_date": on, "amount": "500", "charge_id": monthly})
    assert by_hand.status_code == 201, by_hand.text
    assert (by_hand.json()["fee"], by_hand.json()["vat"]) == ("500", "0")
    before_rate = (await client.post(f"{LOANS}/{loan_id}/charges", json={
        "value_date": on, "amount": "100", "charge_id": per_instalment, "due_date": on})).json()
    assert (before_rate["fee"], before_rate["vat"]) == ("100", "0")
    within_rate = (await client.post(f"{LOANS}/{loan_id}/charges", json={
        "value_date": on, "amount": "100", "charge_id": per_instalment,
        "due_date": instalments[2]["due_date"]})).json()
    assert (within_rate["fee"], within_rate["vat"]) == ("100", "17")
