"""The close of business's quiet-day fast paths post and write exactly what the full derivation
does (issue 9, benchmark): loans accrued from their accrual window against twins whose window
is removed before every night, late loans carried to the day against twins re-derived from
their history, and a per-period product recognising each period's interest on its due date."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.loans.product import AccrualFrequency
from products.posting_rules import AccountingRule
from servicing.close_of_business.loan_accrual import accrue_loans
from servicing.close_of_business.loan_arrears import age_loans
from servicing.loans.reconciliation import VERIFY_QUERIES
from servicing.staff.scope import OfficeScope
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    TODAY,
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
)
from tests.servicing.test_cob_accrual import first_period, instalment_fee_product, loan_rows, verify_problems

D = Decimal


async def _run(uow_factory: Any, sql: str, **params: Any) -> None:
    async with uow_factory() as uow:
        await uow.session.execute(text(sql), params)
        await uow.commit()


def _posted(rows: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.kind, r.value_date, r.amount, r.interest, r.fee, r.classification) for r in rows]


async def test_accruals_from_the_window_are_those_of_the_full_derivation(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id = await instalment_fee_product(client, refs, world, uow_factory)
    windowed, derived = [await approved_loan(client, world, staff_user, product_id) for _twin in range(2)]
    for loan_id in (windowed, derived):
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    due = date.fromisoformat((await first_period(client, windowed))["due_date"])
    from_window = 0
    # Across the first due date (a fee and a period boundary), then a stretch of missed days.
    for day in [DISBURSED_ON + timedelta(days=n) for n in range(1, 40)] + [DISBURSED_ON + timedelta(days=75)]:
        await _run(uow_factory, "DELETE FROM loan_accrual_window WHERE loan_id = :l", l=derived)
        outcome = await accrue_loans(uow_factory, day, "tests", offices=[world.office_id])
        from_window += int(outcome.detail["loans_from_window"])
    assert from_window >= 30, "most nights the windowed loan took the fast path"
    windowed_rows = await loan_rows(uow_factory, windowed, "accrual", "accrual_adjustment")
    assert _posted(windowed_rows) == _posted(await loan_rows(uow_factory, derived, "accrual", "accrual_adjustment"))
    assert any(r.fee == 50 and r.value_date == due for r in windowed_rows), "the fee on its due date"
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_a_schedule_change_forgets_the_window(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    await accrue_loans(uow_factory, DISBURSED_ON + timedelta(days=3), "tests", offices=[world.office_id])
    count = "SELECT count(*) FROM loan_accrual_window WHERE loan_id = :l"
    async with uow_factory() as uow:
        assert await uow.session.scalar(text(count), {"l": loan_id}) == 1
    stamped = "SELECT changed_at FROM loan_schedule_change WHERE loan_id = :l"
    async with uow_factory() as uow:
        before = await uow.session.scalar(text(stamped), {"l": loan_id})
    await _run(uow_factory, "UPDATE loan SET booked_classification = booked_classification WHERE id = :l", l=loan_id)
    async with uow_factory() as uow:
        assert await uow.session.scalar(text(stamped), {"l": loan_id}) == before, "a new class changes no schedule"
        assert await uow.session.scalar(text(count), {"l": loan_id}) == 1
    await _run(uow_factory, "UPDATE loan SET schedule = schedule WHERE id = :l", l=loan_id)
    async with uow_factory() as uow:
        assert await uow.session.scalar(text(count), {"l": loan_id}) == 0
        assert await uow.session.scalar(text(stamped), {"l": loan_id}) != before, "the change is stamped"


async def test_a_per_period_product_recognises_a_period_on_its_due_date(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True, accrual_frequency=AccrualFrequency.PER_PERIOD)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    due = date.fromisoformat((await first_period(client, loan_id))["due_date"])
    for day in (DISBURSED_ON + timedelta(days=5), due - timedelta(days=1), due, due + timedelta(days=1)):
        await accrue_loans(uow_factory, day, "tests", offices=[world.office_id])
    rows = await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment")
    assert [(r.value_date, r.interest) for r in rows if r.interest] == [(due, D(4500))], "all of it, on its due date"


async def test_per_period_needs_the_accrual_periodic_rule(  # type: ignore[no-untyped-def]
        client, refs, world, uow_factory) -> None:  # noqa: F811
    import msgspec

    from products.catalogue.common import AmountRange, CountRange
    from products.loans.product import LoanProduct
    from servicing.products import demo
    from tests.api.test_products_api import unique

    product = LoanProduct(
        identity=unique("Prêt"), currency="XOF", fund_source_id=refs.own_funds_id,
        principal=AmountRange(minimum=D(50_000), default=D(300_000), maximum=D(10_000_000)),
        repayment_count=CountRange(minimum=3, default=6, maximum=24),
        interest_rate_percent=AmountRange(minimum=D(12), default=D(18), maximum=D(24)),
        accounting=demo._mapping(demo.ProductKind.LOAN, AccountingRule.CASH, refs),
        accrual_frequency=AccrualFrequency.PER_PERIOD)
    refused = await client.post("/api/v1/loan-products", json=msgspec.to_builtins(product))
    assert refused.status_code == 422, refused.text
    assert "accrual_frequency" in refused.text


async def _state(uow_factory: Any, loan_id: int) -> tuple[Any, ...]:
    async with uow_factory() as uow:
        row = (await uow.session.execute(text("SELECT * FROM loan_arrears_state WHERE loan_id = :l"),
                                         {"l": loan_id})).one()
    return tuple(value for name, value in row._mapping.items() if name not in ("loan_id", "updated_at"))


async def _events(uow_factory: Any, loan_id: int) -> list[tuple[Any, ...]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT event_type, occurred_on, payload FROM outbox_event WHERE subject_type = 'loan'"
            " AND subject_id = :l ORDER BY id"), {"l": loan_id})).all()
    return [(kind, on, {k: v for k, v in payload.items() if k != "loan_id"}) for kind, on, payload in rows]


async def test_a_carried_late_loan_is_aged_as_the_full_derivation_ages_it(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("GRANDLIVRE_FOLLOW_UP_DAYS", "200")  # crossed on one of the nights below
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                days_to_npa=190)
    carried, derived = [await approved_loan(client, world, staff_user, product_id) for _twin in range(2)]
    for loan_id in (carried, derived):
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"/api/v1/loans/{carried}")).json()["loan"]["schedule"]
    last_due = max(date.fromisoformat(p["due_date"]) for p in schedule["instalments"])
    start = max(TODAY, last_due + timedelta(days=1))  # every instalment overdue: nothing falls due any more
    nights = [start + timedelta(days=n) for n in range(0, 120, 7)]
    carried_nights = 0
    for day in nights:
        # The twin's schedule rewritten (as it was): changed since aged, it is derived from its history.
        await _run(uow_factory, "UPDATE loan SET schedule = schedule WHERE id = :l", l=derived)
        outcome = await age_loans(uow_factory, day, "tests", OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id})))
        carried_nights += int(outcome.detail["loans_carried"]) > 0
        assert await _state(uow_factory, carried) == await _state(uow_factory, derived), day
    assert carried_nights >= len(nights) - 3, "the quiet nights were carried"
    states = await _state(uow_factory, carried)
    assert "non_performing" in states, "the NPA threshold was crossed while carried"
    assert await _events(uow_factory, carried) == await _events(uow_factory, derived)
    assert any(kind == "loan.follow_up" for kind, _on, _payload in await _events(uow_factory, carried))


async def test_a_loan_within_the_notice_is_carried_once_its_notice_is_announced(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, monkeypatch) -> None:  # noqa: F811
    """Every night through two notices (the first instalment's, the loan performing, and the
    second's, the loan late): the loan is re-derived on the night a notice starts, not on the
    other nights of the notice, with the states and reminders of a twin re-derived every night
    (its state marked as not knowing the history it read)."""
    from servicing.close_of_business import loan_arrears

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    quiet, derived = [await approved_loan(client, world, staff_user, product_id) for _twin in range(2)]
    for loan_id in (quiet, derived):
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    schedule = (await client.get(f"/api/v1/loans/{quiet}")).json()["loan"]["schedule"]
    second_due = date.fromisoformat(schedule["instalments"][1]["due_date"])
    nights = [DISBURSED_ON + timedelta(days=n) for n in range(20, (second_due - DISBURSED_ON).days + 2)]
    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    derivations: list[int] = []
    position = loan_arrears.position_from_history

    def counting(terms: Any, schedule: Any, product: Any, rows: Any, day: date) -> Any:
        derivations.extend({row.loan_id for row in rows})
        return position(terms, schedule, product, rows, day)

    monkeypatch.setattr(loan_arrears, "position_from_history", counting)
    for day in nights:
        await _run(uow_factory, "UPDATE loan_arrears_state SET transactions_seen = NULL WHERE loan_id = :l",
                   l=derived)
        await age_loans(uow_factory, day, "tests", scope)
        assert await _state(uow_factory, quiet) == await _state(uow_factory, derived), day
    assert await _events(uow_factory, quiet) == await _events(uow_factory, derived)
    kinds = [kind for kind, _on, _payload in await _events(uow_factory, quiet)]
    assert kinds.count("instalment.due_soon") == 2, kinds
    assert derivations.count(derived) == len(nights)
    # Re-derived: the first night, the night each notice starts, each due date and the night
    # after it (the instalment due on the day of the last ageing is still its next unpaid one).
    assert derivations.count(quiet) == 7, derivations.count(quiet)
