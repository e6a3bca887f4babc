"""The due-date reminder's notice is the product's (issue 9, item 9): `reminder_days_before_due`
on the loan product, the institution's GRANDLIVRE_REMINDER_DAYS when the product leaves it
unset. Both paths of the `loan_arrears` step honour it: the full derivation, and the quiet-day
statements that keep a loan unchanged only when the notice of its own product is announced."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule
from servicing.close_of_business.loan_arrears import age_loans
from servicing.staff.scope import OfficeScope
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
)


async def _notices(uow_factory: Any, loan_id: int) -> list[tuple[date, str]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT occurred_on, payload ->> 'due_date' FROM outbox_event WHERE subject_type = 'loan'"
            " AND subject_id = :l AND event_type = 'instalment.due_soon' ORDER BY id"), {"l": loan_id})).all()
    return [(on, due) for on, due in rows]


async def _loan_of(client: Any, refs: Any, ids: Any, world: Any,  # noqa: F811
                   staff_user: Any, uow_factory: Any, **product: Any) -> int:
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **product)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    return int(loan_id)


async def _first_due(client: Any, loan_id: int) -> date:
    schedule = (await client.get(f"/api/v1/loans/{loan_id}")).json()["loan"]["schedule"]
    return date.fromisoformat(schedule["instalments"][0]["due_date"])


async def test_each_product_gives_its_own_notice(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """Loans of a 3-day and a 7-day product, first aged 5 days before their due date (the full
    derivation): only the 7-day product's loan is reminded that night; the other on the night its
    own notice starts, kept unchanged in between. Each notice once when a night is run again."""
    three = await _loan_of(client, refs, ids, world, staff_user, uow_factory, reminder_days_before_due=3)
    seven = await _loan_of(client, refs, ids, world, staff_user, uow_factory, reminder_days_before_due=7)
    due = await _first_due(client, three)
    assert await _first_due(client, seven) == due
    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    nights = [due - timedelta(days=n) for n in (5, 4, 3, 2)]
    for day in nights:
        await age_loans(uow_factory, day, "tests", scope)
        if day == due - timedelta(days=5):
            assert await _notices(uow_factory, seven) == [(day, due.isoformat())]
            assert await _notices(uow_factory, three) == []
    for day in nights:  # the nights run again: nothing announced twice
        await age_loans(uow_factory, day, "tests", scope)
    assert await _notices(uow_factory, seven) == [(due - timedelta(days=5), due.isoformat())]
    assert await _notices(uow_factory, three) == [(due - timedelta(days=3), due.isoformat())]


async def test_the_quiet_day_announces_each_products_notice_on_its_night(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, monkeypatch) -> None:  # noqa: F811
    """Aged every night from ten days before the due date, so each loan is kept unchanged by the
    set-based statement until its own notice starts: 7 days for the product that says 7, the
    institution's (here 2) for the product that leaves it unset, none for the product at 0."""
    from servicing.close_of_business import loan_arrears

    monkeypatch.setenv("GRANDLIVRE_REMINDER_DAYS", "2")
    seven = await _loan_of(client, refs, ids, world, staff_user, uow_factory, reminder_days_before_due=7)
    default = await _loan_of(client, refs, ids, world, staff_user, uow_factory)
    never = await _loan_of(client, refs, ids, world, staff_user, uow_factory, reminder_days_before_due=0)
    due = await _first_due(client, seven)
    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    derived: dict[date, set[int]] = {}
    position = loan_arrears.position_from_history
    night = due - timedelta(days=10)

    def counting(terms: Any, schedule: Any, product: Any, rows: Any, day: date) -> Any:
        derived.setdefault(day, set()).update(row.loan_id for row in rows)
        return position(terms, schedule, product, rows, day)

    monkeypatch.setattr(loan_arrears, "position_from_history", counting)
    while night < due:
        await age_loans(uow_factory, night, "tests", scope)
        night += timedelta(days=1)
    assert await _notices(uow_factory, seven) == [(due - timedelta(days=7), due.isoformat())]
    assert await _notices(uow_factory, default) == [(due - timedelta(days=2), due.isoformat())]
    assert await _notices(uow_factory, never) == []
    mine = {seven, default, never}
    # Re-derived the first night and on the night its own notice starts, kept unchanged otherwise.
    assert {day: loans & mine for day, loans in derived.items() if loans & mine} == {
        due - timedelta(days=10): mine, due - timedelta(days=7): {seven}, due - timedelta(days=2): {default}}
