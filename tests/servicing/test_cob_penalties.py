"""The close-of-business step `loan_penalties` on real loans: a monthly penalty of 2 % of the
overdue instalment (principal and interest) after 3 grace days, with 18 % VAT on it, charged
once per instalment and month, posted through the product's rules under accrual (Dr penalties
receivable / Cr penalty income, the lines written out here) and kept in the sub-ledger only
under cash; the loan reconciliation at zero afterwards.

The loan: 300 000 XOF at 18 % over 6 months, equal instalments of 52 658 (48 158 principal +
4 500 interest for the first). Unpaid, its first instalment costs 2 % x 52 658 = 1 053.16,
1 053 XOF, plus VAT 18 % x 1 053 = 189.54, 190 XOF, each month from the 4th day after its due
date (the demo penalty charge: 3 grace days, every month)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from products.loans.penalties import PenaltyPolicy, penalty_date
from products.loans.product import OverduePenalty, PenaltyBase, RateOrFlat
from products.posting_rules import AccountingRule, Component, EventKind, ProductKind, rule_table
from products.reference.model import FrequencyUnit
from servicing.close_of_business.loan_arrears import age_loans
from servicing.close_of_business.loan_penalties import charge_penalties
from servicing.loans.reconciliation import VERIFY_QUERIES, loan_reconciliation
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
)
from tests.servicing.test_cob_accrual import entry_lines, loan_rows, verify_problems

D = Decimal


async def penalties_of(uow_factory: Any, loan_id: int) -> list[Any]:
    async with uow_factory() as uow:
        return list((await uow.session.execute(text(
            "SELECT p.instalment, p.period, p.charged_on, p.base, t.amount, t.penalty, t.vat, t.journal_entry_id,"
            "       t.allocation FROM loan_penalty_charge p JOIN loan_transaction t ON t.id = p.loan_transaction_id"
            " WHERE p.loan_id = :l ORDER BY p.instalment, p.period"), {"l": loan_id})).all())


async def close(uow_factory: Any, day: date) -> Any:
    """The two steps in their order: the ageing first (penalties read the loans it found late)."""
    await age_loans(uow_factory, day, "tests")
    return await charge_penalties(uow_factory, day, "tests")


@pytest.mark.parametrize("rule", [AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT,
                                  AccountingRule.CASH])
async def test_a_monthly_penalty_after_grace_days_with_vat_is_charged_once(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, rule) -> None:  # noqa: F811
    penalty = OverduePenalty(charge_id=refs.loan_penalty_id, basis=RateOrFlat.RATE, rate_percent=D(2),
                             base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, rule,
                                                own_receivables=rule is not AccountingRule.CASH,
                                                overdue_penalty=penalty, vat_on_penalties_percent=D(18))
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    assert (D(schedule[0]["principal_amount"]), D(schedule[0]["interest_amount"])) == (48158, 4500)
    due = [date.fromisoformat(p["due_date"]) for p in schedule]
    policy = PenaltyPolicy(penalty=penalty, grace_days=3, every=1, unit=FrequencyUnit.MONTHS)

    await close(uow_factory, due[0] + timedelta(days=3))
    assert await penalties_of(uow_factory, loan_id) == [], "within the 3 grace days"

    first_day = due[0] + timedelta(days=4)
    assert penalty_date(due[0], 1, policy) == first_day
    outcome = await close(uow_factory, first_day)
    assert int(outcome.detail["loans_penalised"]) >= 1
    (charged,) = await penalties_of(uow_factory, loan_id)
    assert (charged.instalment, charged.period, charged.charged_on, charged.base) == (1, 1, first_day, 52658)
    assert (charged.penalty, charged.vat, charged.amount) == (1053, 190, 1243)
    assert charged.allocation == [{"instalment": 1, "component": "penalty", "amount": "1053"},
                                  {"instalment": 1, "component": "vat", "amount": "190"}]
    receivable = f"{world.prefix}.penalties_re"
    # The posting-rule tables decide (the step keeps no list of rules): cash has no PENALTY_CHARGE.
    assert ((EventKind.PENALTY_CHARGE, Component.PENALTY) in rule_table(ProductKind.LOAN, rule)) is (
        rule is not AccountingRule.CASH)
    if rule is AccountingRule.CASH:
        assert charged.journal_entry_id is None, "under cash a penalty is income when paid"
        async with uow_factory() as uow:
            assert await uow.session.scalar(text(
                "SELECT count(*) FROM loan_entry_share s JOIN loan_transaction t ON t.id = s.loan_transaction_id"
                " WHERE t.loan_id = :l"), {"l": loan_id}) == 0, "no share of any entry either"
    else:
        lines = await entry_lines(uow_factory, charged.journal_entry_id)
        (code,) = {c for c, _side, _amount in lines if c.startswith(receivable)}
        assert lines == {(code, "D", 1053), ("7023", "C", 1053)}

    await close(uow_factory, first_day)
    await close(uow_factory, first_day + timedelta(days=5))
    assert len(await penalties_of(uow_factory, loan_id)) == 1, "charged once per instalment and month"

    second_day = penalty_date(due[0], 2, policy)
    await close(uow_factory, second_day)
    found = await penalties_of(uow_factory, loan_id)
    expected = {(1, 2)} | ({(2, 1)} if penalty_date(due[1], 1, policy) <= second_day else set())
    assert {(p.instalment, p.period) for p in found[1:]} == expected
    assert all((p.penalty, p.vat) == (1053, 190) for p in found), "52 658 overdue on each instalment"
    charges = await loan_rows(uow_factory, loan_id, "charge")
    assert len(charges) == len(found)
    view = (await client.get(f"/api/v1/loans/{loan_id}", params={"as_of": second_day.isoformat()})).json()
    position = {c["component"]: c for c in view["position"]["components"]}
    assert D(position["penalty"]["outstanding"]) == 1053 * len(found)
    assert D(position["vat"]["outstanding"]) >= 190 * len(found)

    report = await loan_reconciliation(uow_factory())
    mine = [r for r in report.rows if r.product_id == product_id]
    assert mine and all(r.difference == 0 for r in mine), mine
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


@pytest.mark.parametrize(("exempt", "country", "vat"), [(False, "GQ", 190), (True, "CF", 0)])
async def test_a_penalty_charge_carries_its_tax_unless_the_institution_is_exempt(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, exempt, country, vat) -> None:  # noqa: F811
    """The product sets no VAT of its own: the penalty charge's tax rate (18 %) applies, unless the
    institution is exempt from it (then no VAT at all), as for every other charge."""
    exemption = {"institution_exempt": True, "exemption_reference": "Loi SFD art. 50"} if exempt else {}
    rate = await client.post("/api/v1/tax-rates", json={
        "code": f"PEN-{country}-{world.prefix}", "name": "TVA sur pénalités", "tax_kind": "vat", "country": country,
        "operation_kind": "penalties", "rate_percent": "18",
        "valid_from": (DISBURSED_ON - timedelta(days=400)).isoformat(), "source": "test", **exemption})
    assert rate.status_code == 201, rate.text
    charge = await client.post("/api/v1/charges", json={
        "name": f"Pénalité taxée {country} {world.prefix}", "applies_to": "loan", "charge_time": "overdue_instalment",
        "calculation": "percent_of_overdue_amount", "amount": "2", "currency": "XOF", "is_penalty": True,
        "frequency_every": 1, "frequency_unit": "months", "grace_days": 3, "tax_rate_id": rate.json()["id"]})
    assert charge.status_code == 201, charge.text
    penalty = OverduePenalty(charge_id=charge.json()["id"], basis=RateOrFlat.RATE, rate_percent=D(2),
                             base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                overdue_penalty=penalty)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    await close(uow_factory, date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=4))
    (charged,) = await penalties_of(uow_factory, loan_id)
    assert (charged.penalty, charged.vat) == (1053, vat)


async def test_a_penalty_charged_late_is_taxed_at_the_rate_of_its_own_day(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """The penalty charge's 18 % ends 5 days after the first penalty falls; the close of business
    only runs a month later (a catch-up): instalment 1's first penalty, fallen while the rate was in
    force, carries 190 of VAT; those fallen on the run's day, after it ended, none. Accrual: each
    penalty posts Dr penalties receivable / Cr penalty income 1 053 (the VAT is collected, and
    posted, with the repayment)."""
    penalty_charge = await client.post("/api/v1/charges", json={
        "name": f"Pénalité TAF échue {world.prefix}", "applies_to": "loan", "charge_time": "overdue_instalment",
        "calculation": "percent_of_overdue_amount", "amount": "2", "currency": "XOF", "is_penalty": True,
        "frequency_every": 1, "frequency_unit": "months", "grace_days": 3})
    assert penalty_charge.status_code == 201, penalty_charge.text
    penalty = OverduePenalty(charge_id=penalty_charge.json()["id"], basis=RateOrFlat.RATE, rate_percent=D(2),
                             base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True, overdue_penalty=penalty)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    due = [date.fromisoformat(p["due_date"]) for p in schedule]
    policy = PenaltyPolicy(penalty=penalty, grace_days=3, every=1, unit=FrequencyUnit.MONTHS)
    first_day, second_day = penalty_date(due[0], 1, policy), penalty_date(due[0], 2, policy)
    rate = await client.post("/api/v1/tax-rates", json={
        "code": f"PEN-END-{world.prefix}", "name": "TAF sur pénalités (ancien taux)", "tax_kind": "vat",
        "country": "SN", "operation_kind": "penalties", "rate_percent": "18",
        "valid_from": (DISBURSED_ON - timedelta(days=400)).isoformat(),
        "valid_to": (first_day + timedelta(days=5)).isoformat(), "source": "test"})
    assert rate.status_code == 201, rate.text
    taxed = await client.patch(f"/api/v1/charges/{penalty_charge.json()['id']}", json={"tax_rate_id": rate.json()["id"]})
    assert taxed.status_code == 200, taxed.text

    await close(uow_factory, second_day)  # nothing closed in between: every penalty fallen so far, at once
    found = await penalties_of(uow_factory, loan_id)
    assert [(p.instalment, p.period, p.charged_on) for p in found][:2] == [(1, 1, first_day), (1, 2, second_day)]
    assert [(p.penalty, p.vat) for p in found] == [(1053, 190)] + [(1053, 0)] * (len(found) - 1)
    (entry_id,) = {p.journal_entry_id for p in found}  # one entry for the product's penalties of the run
    lines = await entry_lines(uow_factory, entry_id)
    (code,) = {c for c, _side, _amount in lines if c.startswith(f"{world.prefix}.penalties_re")}
    assert lines == {(code, "D", 1053 * len(found)), ("7023", "C", 1053 * len(found))}
    report = await loan_reconciliation(uow_factory())
    mine_rows = [r for r in report.rows if r.product_id == product_id]
    assert mine_rows and all(r.difference == 0 for r in mine_rows), mine_rows
