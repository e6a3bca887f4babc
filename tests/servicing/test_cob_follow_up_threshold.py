"""The loan officer's follow-up threshold is the product's (issue 9, item 9; M7.4):
`follow_up_days_overdue` on the loan product, the institution's GRANDLIVRE_FOLLOW_UP_DAYS when
the product leaves it unset. Both paths of the `loan_arrears` step honour it (the full
derivation, and the late loans carried from their state on a quiet night), and so does the
officers' follow-up list (`GET /api/v1/reports/loan-follow-ups`)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from servicing.close_of_business import loan_arrears
from servicing.close_of_business.loan_arrears import age_loans
from servicing.staff.scope import OfficeScope
from tests.api.test_loans_api import ids, refs  # noqa: F401  (fixtures)
from tests.servicing.test_cob_reminder_notice import _first_due, _loan_of


async def _follow_ups(uow_factory: Any, loan_id: int) -> list[tuple[date, int]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT occurred_on, CAST(payload ->> 'days_overdue' AS integer) FROM outbox_event"
            " WHERE subject_type = 'loan' AND subject_id = :l AND event_type = 'loan.follow_up' ORDER BY id"),
            {"l": loan_id})).all()
    return [(on, days) for on, days in rows]


async def test_each_product_follows_its_loans_up_after_its_own_threshold(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, monkeypatch) -> None:  # noqa: F811
    """Loans of a 10-day and a 30-day product, never repaid, aged every night from 9 to 15 days
    late: only the 10-day product's loan goes on the follow-up list, on the night it is 10 days
    late (a quiet night: the carried loan is derived again for that night only); the nights run
    again send nothing twice; the 30-day loan is in the arrears list but not on the follow-up list."""
    monkeypatch.setenv("GRANDLIVRE_FOLLOW_UP_DAYS", "30")
    ten = await _loan_of(client, refs, ids, world, staff_user, uow_factory, follow_up_days_overdue=10)
    thirty = await _loan_of(client, refs, ids, world, staff_user, uow_factory, follow_up_days_overdue=30)
    unset = await _loan_of(client, refs, ids, world, staff_user, uow_factory)
    product = (await client.get(f"/api/v1/loans/{ten}")).json()["loan"]["product_id"]
    assert (await client.get(f"/api/v1/loan-products/{product}")).json()["settings"]["follow_up_days_overdue"] == 10
    due = await _first_due(client, ten)
    assert await _first_due(client, thirty) == due == await _first_due(client, unset)
    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    mine = {ten, thirty, unset}
    derived: dict[date, set[int]] = {}
    position = loan_arrears.position_from_history

    def counting(terms: Any, schedule: Any, product: Any, rows: Any, day: date) -> Any:
        derived.setdefault(day, set()).update(row.loan_id for row in rows if row.loan_id in mine)
        return position(terms, schedule, product, rows, day)

    monkeypatch.setattr(loan_arrears, "position_from_history", counting)
    nights = [due + timedelta(days=n) for n in range(9, 16)]
    for day in nights:
        await age_loans(uow_factory, day, "tests", scope)
    async with uow_factory() as uow:
        days_overdue = dict((await uow.session.execute(text(
            "SELECT loan_id, days_overdue FROM loan_arrears_state WHERE loan_id = ANY(:l)"), {"l": list(mine)})).all())
    assert days_overdue == {ten: 15, thirty: 15, unset: 15}
    tenth = due + timedelta(days=10)
    assert await _follow_ups(uow_factory, ten) == [(tenth, 10)]
    assert await _follow_ups(uow_factory, thirty) == [] == await _follow_ups(uow_factory, unset)
    # Derived from its history the first night (all three) and the night of its follow-up (the
    # 10-day loan); carried from its state every other night.
    assert {day: loans for day, loans in derived.items() if loans} == {nights[0]: mine, tenth: {ten}}

    for day in nights:  # the nights run again: nothing sent twice
        await age_loans(uow_factory, day, "tests", scope)
    assert await _follow_ups(uow_factory, ten) == [(tenth, 10)]
    assert await _follow_ups(uow_factory, thirty) == []

    listed = await client.get("/api/v1/reports/loan-follow-ups", params={"office_id": world.office_id})
    assert listed.status_code == 200, listed.text
    assert [row["loan_id"] for row in listed.json()] == [ten]
    arrears = await client.get("/api/v1/reports/arrears", params={"office_id": world.office_id, "min_days": 15})
    assert {row["loan_id"] for row in arrears.json()} == mine

    # The institution's threshold down to 14 days: the loans of the product that sets none are
    # followed up too; the 30-day product keeps its own.
    monkeypatch.setenv("GRANDLIVRE_FOLLOW_UP_DAYS", "14")
    listed = await client.get("/api/v1/reports/loan-follow-ups", params={"office_id": world.office_id})
    assert [row["loan_id"] for row in listed.json()] == sorted([ten, unset])
    # 0 turns the institution's list off: only the products with a threshold of their own remain.
    monkeypatch.setenv("GRANDLIVRE_FOLLOW_UP_DAYS", "0")
    listed = await client.get("/api/v1/reports/loan-follow-ups", params={"office_id": world.office_id})
    assert [row["loan_id"] for row in listed.json()] == [ten]
