"""The accrual true-up a settlement posts with it (`servicing.loans.receivable_true_up`): no
receivable of an accrual-periodic loan is ever left in credit.

The product (tests.api.test_loans_api): 300 000 XOF at 18 % over 6 monthly instalments of
52 658, interest computed per period: instalment 1 = 48 158 principal + 4 500 interest, the
schedule's interest 15 945 in all. By the close of day n of the first period (L days) the close
of business has accrued xof(4 500 x n / L)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule
from servicing.close_of_business.loan_accrual import accrue_loans
from servicing.loans.reconciliation import VERIFY_QUERIES
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    APPS,
    DISBURSED_ON,
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
    repay,
)
from tests.servicing.test_cob_accrual import (
    entry_lines,
    first_period,
    loan_rows,
    receivable_of,
    verify_problems,
    xof,
)

D = Decimal
LOANS = "/api/v1/loans"


async def gl_balance(uow_factory: Any, code: str) -> Decimal:
    """Debit minus credit of an account (the test's own receivable: its loans only)."""
    async with uow_factory() as uow:
        return D(await uow.session.scalar(text(
            "SELECT coalesce(sum(b.debit_total - b.credit_total), 0) FROM account_balance b"
            " JOIN gl_account a ON a.id = b.account_id WHERE a.code = :code"), {"code": code}))


async def an_accruing_loan(client: Any, refs: Any, ids: Any, world: Any, staff_user: Any,  # noqa: F811
                           uow_factory: Any) -> tuple[int, str, int]:
    """A disbursed accrual-periodic loan accrued through day 10 of its first period: (loan, its
    interest receivable account, the period's length)."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    length = (date.fromisoformat((await first_period(client, loan_id))["due_date"]) - DISBURSED_ON).days
    await accrue_loans(uow_factory, DISBURSED_ON + timedelta(days=10), "tests")
    return loan_id, await receivable_of(uow_factory, product_id), length


async def test_paying_an_instalment_ahead_recognises_its_interest_with_the_repayment(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loan_id, receivable, length = await an_accruing_loan(client, refs, ids, world, staff_user, uow_factory)
    day = DISBURSED_ON + timedelta(days=10)
    accrued = xof(D(4500) * 10 / length)  # 1 452 for a 31-day period
    assert await gl_balance(uow_factory, receivable) == accrued

    paid = await repay(client, loan_id, "52658", ids["cash"], on=day)  # instalment 1 in full, 3 weeks early
    assert paid.status_code == 201, paid.text
    assert (paid.json()["interest"], paid.json()["principal"]) == ("4500", "48158")
    (_night, true_up) = await loan_rows(uow_factory, loan_id, "accrual")
    # 4 500 paid, 1 452 recognised: the other 3 048 is collected, so recognised now, on the repayment's date.
    assert (true_up.interest, true_up.value_date, true_up.sequence_number) == (4500 - accrued, day,
                                                                               paid.json()["sequence_number"] + 1)
    assert await entry_lines(uow_factory, true_up.journal_entry_id) == {
        (receivable, "D", 4500 - accrued), ("7021", "C", 4500 - accrued)}
    assert await gl_balance(uow_factory, receivable) == 0, "the receivable is never left in credit"

    due = date.fromisoformat((await first_period(client, loan_id))["due_date"])
    for night in (day, day + timedelta(days=1), due):
        await accrue_loans(uow_factory, night, "tests")
    assert len(await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment")) == 2, (
        "the nights after post nothing more: their target stays at what the repayment recognised")
    await accrue_loans(uow_factory, due + timedelta(days=1), "tests")
    *_before, second_period = await loan_rows(uow_factory, loan_id, "accrual")
    assert second_period.value_date == due + timedelta(days=1) and 0 < second_period.interest < 3778, (
        "instalment 2 (251 842 x 1.5 % = 3 778) accrues as usual")
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_a_payoff_brings_the_receivable_to_zero_and_its_reversal_is_taken_back_at_night(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loan_id, receivable, length = await an_accruing_loan(client, refs, ids, world, staff_user, uow_factory)
    day = DISBURSED_ON + timedelta(days=10)
    accrued = xof(D(4500) * 10 / length)

    closing = await repay(client, loan_id, "400000", ids["cash"], on=day)  # the loan does not recalculate
    assert closing.status_code == 201, closing.text
    assert (closing.json()["interest"], closing.json()["principal"]) == ("15945", "300000")
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"
    (_night, true_up) = await loan_rows(uow_factory, loan_id, "accrual")
    # The whole schedule's interest paid, 1 452 of it accrued: 14 493 recognised at closure.
    assert true_up.interest == 15945 - accrued and true_up.value_date == day
    assert await entry_lines(uow_factory, true_up.journal_entry_id) == {
        (receivable, "D", 15945 - accrued), ("7021", "C", 15945 - accrued)}
    assert await gl_balance(uow_factory, receivable) == 0, "the closed loan's receivable ends at exactly 0"
    await accrue_loans(uow_factory, day + timedelta(days=1), "tests")
    assert len(await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment")) == 2, "a closed loan accrues no more"

    reopened = await client.post(f"{LOANS}/{loan_id}/transactions/{closing.json()['transaction_id']}/reversal")
    assert reopened.status_code == 201, reopened.text
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "active"
    assert await gl_balance(uow_factory, receivable) == 15945, "recognised, and owed again"
    await accrue_loans(uow_factory, day + timedelta(days=1), "tests")
    (adjustment,) = await loan_rows(uow_factory, loan_id, "accrual_adjustment")
    # The night's target is 11 days of instalment 1: the rest of the true-up is taken back.
    assert adjustment.interest == 15945 - xof(D(4500) * 11 / length)
    assert await entry_lines(uow_factory, adjustment.journal_entry_id) == {
        ("7021", "D", adjustment.interest), (receivable, "C", adjustment.interest)}
    assert await gl_balance(uow_factory, receivable) == xof(D(4500) * 11 / length)
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_interest_waived_before_it_is_accrued_is_recognised_first(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loan_id, receivable, length = await an_accruing_loan(client, refs, ids, world, staff_user, uow_factory)
    day = DISBURSED_ON + timedelta(days=10)
    accrued = xof(D(4500) * 10 / length)
    waived = await client.post(f"{LOANS}/{loan_id}/waivers", json={
        "value_date": day.isoformat(), "component": "interest", "amount": "15945"})
    assert waived.status_code == 201, waived.text
    (_night, true_up) = await loan_rows(uow_factory, loan_id, "accrual")
    assert true_up.interest == 15945 - accrued, "forgiven before earned: recognised, then the waiver reverses it"
    assert await entry_lines(uow_factory, waived.json()["journal_entry_id"]) == {
        ("7021", "D", D(15945)), (receivable, "C", D(15945))}
    assert await gl_balance(uow_factory, receivable) == 0
    closing = await repay(client, loan_id, "300000", ids["cash"], on=day)
    assert closing.status_code == 201 and closing.json()["interest"] == "0", closing.text
    assert (await client.get(f"{APPS}/{loan_id}")).json()["status"] == "closed"
    assert len(await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment")) == 2, "nothing left to true up"
    await accrue_loans(uow_factory, day + timedelta(days=1), "tests")
    assert await gl_balance(uow_factory, receivable) == 0
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}



async def test_a_closing_settlement_under_upfront_accrual_takes_the_unearned_interest_back(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """Upfront accrual recognised the schedule's 15 945 of interest at disbursement (Dr receivable
    / Cr 7021). A settlement that closes the loan having paid less interest than that (a payoff
    to date of a recalculating loan: instalment 1's 4 500 only) leaves 11 445 recognised that will
    never be paid: the true-up takes it back in the settlement's transaction, by the mirror of the
    disbursement's interest line as the upfront table maps it (Dr 7021 / Cr receivable), so the
    receivable ends at exactly 0. (Product validation refuses interest recalculation with upfront
    accrual today, so the settlement is handed to the true-up directly, after a real repayment of
    instalment 1; the true-up reads the table, not the rule, and is right whatever closes the loan.)"""
    import msgspec

    from products.loans.model import Schedule
    from products.posting_rules import LOAN_INTEREST_RECOGNITION, EventKind
    from servicing.loans.applications import get_product_in, load_row
    from servicing.loans.receivable_true_up import Settlement, true_up_settlements

    assert LOAN_INTEREST_RECOGNITION == {AccountingRule.ACCRUAL_PERIODIC: EventKind.INTEREST_ACCRUAL,
                                         AccountingRule.ACCRUAL_UPFRONT: EventKind.DISBURSEMENT}
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_UPFRONT,
                                                own_receivables=True)
    receivable = await receivable_of(uow_factory, product_id)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    paid_out = await disburse(client, loan_id, ids["cash"])
    assert paid_out.status_code == 201, paid_out.text
    assert (receivable, "D", 15945) in await entry_lines(uow_factory, paid_out.json()["journal_entry_id"])
    on = DISBURSED_ON + timedelta(days=20)
    first = await repay(client, loan_id, "52658", ids["cash"], on=on)
    assert first.status_code == 201 and first.json()["interest"] == "4500", first.text
    assert await gl_balance(uow_factory, receivable) == 15945 - 4500
    assert await true_up_settlements_of(uow_factory, loan_id) == [], "an open loan keeps what is not yet due"

    async with uow_factory() as uow:
        row = await load_row(uow, loan_id, for_update=True)
        product = await get_product_in(uow, row.product_id, row.product_version)
        written = await true_up_settlements(uow, [Settlement(
            loan=row, product=product, schedule=msgspec.convert(row.schedule, Schedule), interest=D(4500),
            fee=D(0), closes=True, value_date=on)], actor="tests")
        await uow.commit()
    assert [(p.kind, p.interest, p.mirrored) for p in written] == [("accrual_adjustment", 11445, True)]
    (take_back,) = await true_up_settlements_of(uow_factory, loan_id)
    assert (take_back.interest, take_back.value_date) == (11445, on)
    assert await entry_lines(uow_factory, take_back.journal_entry_id) == {
        ("7021", "D", 11445), (receivable, "C", 11445)}
    assert await gl_balance(uow_factory, receivable) == 0, "every receivable of the loan at exactly 0"
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def true_up_settlements_of(uow_factory: Any, loan_id: int) -> list[Any]:
    return await loan_rows(uow_factory, loan_id, "accrual", "accrual_adjustment")
