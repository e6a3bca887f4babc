"""The quiet night of the automatic collection (issue 9, benchmark): a linked loan in arrears on
an account with nothing available, to which nothing happened since its last attempt, gets the
outcome a planned collection gives (the same amount due, nothing taken, the same reason) without
its history being read, against a twin whose schedule is rewritten (as it was) before every
night so that it is always planned; money arriving, a repayment at the counter and a new
instalment falling due send it back to the planning, with the same outcomes as the twin's."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule
from servicing.close_of_business.run import close_business_days
from servicing.close_of_business.steps import STEPS
from servicing.loans import collection
from tests.api.test_deposit_accounts_api import move
from tests.api.test_loan_deposits_api import dw, linked_loan  # noqa: F401  (fixture)
from tests.api.test_loans_api import TODAY, ids, make_product, refs, repay  # noqa: F401  (fixtures)

D = Decimal
_STEPS = tuple(step for step in STEPS if step.name in ("loan_collection", "loan_arrears"))


async def _outcomes(uow_factory: Any, loan_id: int, account_id: int) -> list[tuple[Any, ...]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT collection_date, amount_due, amount_collected, amount_missing, reason FROM loan_collection"
            " WHERE loan_id = :l ORDER BY collection_date"), {"l": loan_id})).all()
    return [(on, due, taken, missing, reason.replace(str(account_id), "<account>"))
            for on, due, taken, missing, reason in rows]


async def test_an_unchanged_shortfall_is_recorded_as_a_planned_collection_records_it(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw, monkeypatch) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    twins = [await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids, product_id, "0")
             for _twin in range(2)]
    (quiet, quiet_account, schedule), (planned, planned_account, _schedule) = twins
    first_due = date.fromisoformat(schedule[0]["due_date"])
    second_due = date.fromisoformat(schedule[1]["due_date"])
    planned_loans: list[int] = []
    plan = collection._collect_loan

    def counting(chunk: Any, loan: Any, *args: Any) -> None:
        planned_loans.append(loan.id)
        plan(chunk, loan, *args)

    monkeypatch.setattr(collection, "_collect_loan", counting)
    nights = [first_due + timedelta(days=n) for n in range((second_due - first_due).days + 4)]
    assert nights[-1] < TODAY
    events = {nights[4]: "deposit", nights[8]: "repayment"}
    for day in nights:
        if events.get(day) == "deposit":  # some money: taken the next night
            for _loan, account_id, _s in twins:
                await move(client, account_id, "deposits", "7000", value_date=(day + timedelta(days=1)).isoformat())
        if events.get(day) == "repayment":  # at the counter: what is due changes
            for loan_id, _a, _s in twins:
                assert (await repay(client, loan_id, "5000", ids["cash"], on=day + timedelta(days=1))).status_code == 201
        async with uow_factory() as uow:
            await uow.session.execute(text("UPDATE loan SET schedule = schedule WHERE id = :l"), {"l": planned})
            await uow.commit()
        run = await close_business_days(uow_factory, day, "tests", today=TODAY, office_id=world.office_id,
                                        steps=_STEPS)
        assert [d.business_date for d in run.days] == [day], run
    outcomes = await _outcomes(uow_factory, quiet, quiet_account)
    assert outcomes == await _outcomes(uow_factory, planned, planned_account)
    # The night before the repayment's value date, money had moved after it: no attempt.
    assert [on for on, *_rest in outcomes] == [day for day in nights if day != nights[8]]
    assert {taken for _on, _due, taken, _missing, _reason in outcomes} == {D(0), D(7000)}
    assert planned_loans.count(planned) == len(nights) - 1
    # Planned: the first two nights (an instalment due on the day of the last ageing), the night
    # the money came and the one after (something was taken), the night after the skipped one
    # (aged since the last attempt), and the second instalment's due date and the night after.
    assert planned_loans.count(quiet) == 7, planned_loans.count(quiet)
