"""Closing the business day of one office (with its branches) and the institution's day as
every office's: each office keeps its own calendar (days in order, caught up, never run twice),
steps see only the office's subtree, and the loan ageing carries unchanged loans cheaply.

Business days are shared by the whole test database, so every test starts the day after the
institution's last closed day (`test_close_of_business.next_day`: offices other tests closed
alone, ahead of it, are left alone by an institution close)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from servicing import offices
from servicing.close_of_business.loan_arrears import age_loans
from servicing.close_of_business.model import StepOutcome
from servicing.close_of_business.run import close_business_days, closed_days, last_closed_day
from servicing.close_of_business.steps import Step
from servicing.commands import CreateOffice
from servicing.errors import InvalidInput
from servicing.staff.scope import OfficeScope
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
    repay,
)
from tests.servicing.test_close_of_business import next_day
from tests.servicing.test_close_of_business import recorded_offices as recorded

TODAY = date.today()


class ScopeStep:
    """A step that records, per day, which scope it was run for (None: the institution)."""

    def __init__(self) -> None:
        self.calls: list[tuple[date, frozenset[int] | None]] = []

    async def run(self, _uow_factory: Any, day: date, _actor: str, scope: OfficeScope | None = None) -> StepOutcome:
        self.calls.append((day, None if scope is None else scope.office_ids))
        return StepOutcome(items=0 if scope is None else len(scope.office_ids), entries=0)

    def step(self) -> Step:
        return Step(name="scope_probe", label="Sonde", run=self.run)


async def an_office(uow_factory: Any, code: str, parent_id: int | None) -> int:
    office = await offices.create_office(uow_factory(), CreateOffice(
        code=code, name=f"Agence {code}", parent_id=parent_id, opened_on=date(2020, 1, 1), actor="tests"))
    return office.office_id


async def test_an_office_closes_its_days_alone_and_the_institution_closes_the_others(  # type: ignore[no-untyped-def]
        uow_factory, head_office) -> None:
    region = await an_office(uow_factory, "COB-REG", head_office.office_id)
    branch = await an_office(uow_factory, "COB-REG-1", region)
    probe = ScopeStep()
    steps = (probe.step(),)
    day = await next_day(uow_factory)
    ahead = day + timedelta(days=2)
    # Offices of other tests closed alone: those at `ahead` already are not touched; those that
    # closed `day` or the day after (beyond the institution's last day) are caught up with the others.
    closed_alone = await recorded(uow_factory, ahead)
    async with uow_factory() as uow:
        closed_between = set((await uow.session.scalars(text(
            "SELECT office_id FROM business_day GROUP BY office_id HAVING max(business_date) >= :day"
            " AND max(business_date) < :ahead"), {"day": day, "ahead": ahead})).all())
    # Every office at `day` (but those other tests closed beyond it alone).
    everyone = set((await close_business_days(uow_factory, day, "tests", today=TODAY, steps=steps)).days[0].offices)
    assert {region, branch, head_office.office_id} <= everyone <= await recorded(uow_factory, day)

    run = await close_business_days(uow_factory, ahead, "tests", today=TODAY, office_id=region, steps=steps)
    assert run.office_id == region and run.last_closed_before == day
    assert [(d.business_date, set(d.offices)) for d in run.days] == [
        (day + timedelta(days=1), {region, branch}), (ahead, {region, branch})]
    assert probe.calls[-2:] == [(day + timedelta(days=1), frozenset({region, branch})),
                                (ahead, frozenset({region, branch}))]
    assert await recorded(uow_factory, ahead) == {region, branch} | closed_alone
    assert await last_closed_day(uow_factory, region) == ahead
    again = await close_business_days(uow_factory, ahead, "tests", today=TODAY, office_id=branch, steps=steps)
    assert again.days == ()

    # The institution catches the other offices up; the region's days are not recorded twice.
    run = await close_business_days(uow_factory, ahead, "tests", today=TODAY, steps=steps)
    assert [d.business_date for d in run.days] == [day + timedelta(days=1), ahead]
    assert all(region not in d.offices and head_office.office_id in d.offices for d in run.days)
    # Run over exactly the offices that still need the day, never over those already closed.
    assert {office for _day, offices in probe.calls[-2:] for office in offices or ()} == \
        (everyone | closed_between) - {region, branch}
    assert [call_day for call_day, _offices in probe.calls[-2:]] == [day + timedelta(days=1), ahead]
    assert await recorded(uow_factory, ahead) == everyone | closed_alone | closed_between
    listed = await closed_days(uow_factory, limit=1, office_id=region)
    assert [(d.business_date, d.offices) for d in listed] == [(ahead, (region,))]


async def test_an_office_close_is_refused_for_a_step_that_cannot_close_one_office(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    async def everywhere(_uow_factory: Any, _day: date, _actor: str, _scope: OfficeScope | None = None) -> StepOutcome:
        raise AssertionError("must not run")

    day = await next_day(uow_factory)
    with pytest.raises(InvalidInput) as refused:
        await close_business_days(uow_factory, day, "tests", today=TODAY, office_id=world.office_id,
                                  steps=(Step(name="institution_only", label="Tout", run=everywhere, by_office=False),))
    assert refused.value.field == "office_id" and "institution_only" in str(refused.value)
    with pytest.raises(InvalidInput) as unknown:
        await close_business_days(uow_factory, day, "tests", today=TODAY, office_id=999_999, steps=())
    assert unknown.value.field == "office_id"


async def test_office_close_over_http(client, uow_factory, world, staff_user) -> None:  # type: ignore[no-untyped-def]
    day = await next_day(uow_factory)
    closed = await client.post("/api/v1/business-days/close",
                               json={"business_date": day.isoformat(), "office_id": world.office_id})
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["office_id"] == world.office_id
    assert [(d["business_date"], d["offices"]) for d in body["days"]] == [(day.isoformat(), [world.office_id])]
    listed = await client.get("/api/v1/business-days", params={"office_id": world.office_id, "limit": 1})
    assert listed.status_code == 200 and listed.json()[0]["business_date"] == day.isoformat()
    manager = await staff_user("accountant", office_id=world.office_id)
    refused = await client.post("/api/v1/business-days/close", json={"business_date": day.isoformat()},
                                headers=manager.headers)
    assert refused.status_code == 403 and refused.json()["field"] == "office_id", refused.text


async def test_ageing_one_office_leaves_the_other_offices_loans_alone(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, head_office) -> None:  # noqa: F811
    from products.posting_rules import AccountingRule

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    elsewhere = await an_office(uow_factory, f"COB-X{loan_id}", head_office.office_id)
    other = OfficeScope(office_id=elsewhere, office_ids=frozenset({elsewhere}))
    await age_loans(uow_factory, TODAY, "tests", other)
    async with uow_factory() as uow:
        assert await uow.session.scalar(text("SELECT count(*) FROM loan_arrears_state WHERE loan_id = :l"),
                                        {"l": loan_id}) == 0
    mine = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    outcome = await age_loans(uow_factory, TODAY, "tests", mine)
    assert outcome.items >= 1
    async with uow_factory() as uow:
        assert await uow.session.scalar(text("SELECT days_overdue FROM loan_arrears_state WHERE loan_id = :l"),
                                        {"l": loan_id}) > 0


async def test_a_quiet_day_carries_an_unchanged_loan_and_a_repayment_makes_it_recomputed(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    from products.posting_rules import AccountingRule

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    disbursed = TODAY - timedelta(days=12)  # first instalment due in about 18 days: nothing due, no notice
    loan_id = await approved_loan(client, world, staff_user, product_id,
                                  expected_disbursement_date=disbursed.isoformat())
    assert (await disburse(client, loan_id, ids["cash"], value_date=disbursed.isoformat())).status_code == 201
    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))

    async def state() -> Any:
        async with uow_factory() as uow:
            return (await uow.session.execute(text("SELECT * FROM loan_arrears_state WHERE loan_id = :l"),
                                              {"l": loan_id})).one()

    first = await age_loans(uow_factory, TODAY - timedelta(days=2), "tests", scope)
    assert first.detail["loans_unchanged"] == "0"
    aged = await state()
    assert (aged.days_overdue, aged.status, aged.transactions_seen) == (0, "performing", 1)
    assert aged.next_due_date > TODAY + timedelta(days=3)

    quiet = await age_loans(uow_factory, TODAY - timedelta(days=1), "tests", scope)
    assert quiet.detail["loans_unchanged"] == "1" and quiet.items == 1
    carried = await state()
    assert carried.business_date == TODAY - timedelta(days=1)
    assert (carried.updated_at, carried.outstanding_principal) == (aged.updated_at, aged.outstanding_principal)

    assert (await repay(client, loan_id, "50000", ids["cash"], on=TODAY)).status_code == 201
    after = await age_loans(uow_factory, TODAY, "tests", scope)
    assert after.detail["loans_unchanged"] == "0"
    recomputed = await state()
    assert recomputed.transactions_seen == 2 and recomputed.outstanding_principal < aged.outstanding_principal


async def test_the_catch_up_of_the_others_leaves_an_office_closed_ahead_untouched(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, head_office) -> None:  # noqa: F811
    """Office A closes D+1 and D+2 alone; then its parent closes through D+2 for itself and
    office B. During that catch-up the steps run over exactly {parent, B}: A's loan gets no
    transaction and no entry, its arrears state stays at D+2 (not taken back to D+1), and A's
    and B's identical loans end with the same accruals, as if everyone had closed together."""
    import dataclasses

    from products.posting_rules import AccountingRule
    from tests.servicing.test_cob_accrual import first_period

    parent = await an_office(uow_factory, f"COB-P{world.prefix}", head_office.office_id)
    office_a = await an_office(uow_factory, f"COB-A{world.prefix}", parent)
    office_b = await an_office(uow_factory, f"COB-B{world.prefix}", parent)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    loans = {}
    for office in (office_a, office_b):
        loans[office] = await approved_loan(client, dataclasses.replace(world, office_id=office), staff_user,
                                            product_id)
        assert (await disburse(client, loans[office], ids["cash"])).status_code == 201
    due = date.fromisoformat((await first_period(client, loans[office_a]))["due_date"])
    day = due + timedelta(days=5)  # instalment 1 unpaid: the loans age every day; instalment 2 accrues
    await close_business_days(uow_factory, day, "tests", today=TODAY, office_id=parent)
    await close_business_days(uow_factory, day + timedelta(days=2), "tests", today=TODAY, office_id=office_a)

    async def state(loan_id: int) -> tuple[Any, ...]:
        async with uow_factory() as uow:
            rows = (await uow.session.execute(text(
                "SELECT id, kind, value_date, interest, journal_entry_id FROM loan_transaction WHERE loan_id = :l"
                " ORDER BY sequence_number"), {"l": loan_id})).all()
            ageing = (await uow.session.execute(text(
                "SELECT business_date, days_overdue, status, updated_at FROM loan_arrears_state WHERE loan_id = :l"),
                {"l": loan_id})).one()
            entries = await uow.session.scalar(text(
                "SELECT count(*) FROM journal_entry WHERE office_id = :o"), {"o": loan_office[loan_id]})
        return tuple(rows), tuple(ageing), entries

    loan_office = {loan_id: office for office, loan_id in loans.items()}
    before = await state(loans[office_a])
    assert before[1][:2] == (day + timedelta(days=2), 7)

    run = await close_business_days(uow_factory, day + timedelta(days=2), "tests", today=TODAY, office_id=parent)
    assert [(d.business_date, set(d.offices)) for d in run.days] == [
        (day + timedelta(days=1), {parent, office_b}), (day + timedelta(days=2), {parent, office_b})]
    assert await state(loans[office_a]) == before, "no transaction, no entry, no ageing for office A"

    async def accrued(loan_id: int) -> tuple[Decimal, Decimal, int]:
        async with uow_factory() as uow:
            row = (await uow.session.execute(text(
                "SELECT coalesce(sum(CASE kind WHEN 'accrual' THEN interest ELSE -interest END), 0) AS interest,"
                " count(*) FILTER (WHERE kind = 'accrual_adjustment') AS adjustments"
                " FROM loan_transaction WHERE loan_id = :l AND kind IN ('accrual', 'accrual_adjustment')"),
                {"l": loan_id})).one()
            days = await uow.session.scalar(text(
                "SELECT days_overdue FROM loan_arrears_state WHERE loan_id = :l"), {"l": loan_id})
        return row.interest, row.adjustments, days

    together = await accrued(loans[office_b])
    assert await accrued(loans[office_a]) == together, "the same totals as a close of everyone together"
    assert together[1:] == (0, 7), "nothing taken back, 7 days late at D+2"
