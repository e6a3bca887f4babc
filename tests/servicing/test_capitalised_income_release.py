"""The cash rule's capitalised-income deferral (2074) released to income as the capitalised
principal is repaid, reinstated by a reversal, and cleared against the principal written off
(`servicing.loans.capitalised_income`, rows ``CAPITALISED_INTEREST`` of the posting-rule tables).

The loan (tests.api.test_loan_rescheduling_api): 300 000 XOF at 18 % over 6 months, rescheduled
on its third due date over 12 months with the interest of instalments 1-3 capitalised: 4 500 +
3 778 + 3 044 = 11 322 deferred, new principal 311 322, first new instalment 4 670 + 23 872."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule, Component, EventKind, ProductKind, rule_table
from servicing.loans.reconciliation import VERIFY_QUERIES
from tests.api.test_loan_rescheduling_api import cash_product, post, switches  # noqa: F401  (fixture)
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    LOANS,
    TODAY,
    approved_loan,
    disburse,
    ids,
    refs,
    repay,
)
from tests.servicing.test_cob_accrual import verify_problems
from tests.servicing.test_cob_receivable_true_up import gl_balance

D = Decimal


async def lines_of(uow_factory: Any, entry_id: str) -> list[tuple[str, str, Decimal]]:
    async with uow_factory() as uow:
        rows = (await uow.session.execute(text(
            "SELECT a.code, l.side, l.amount FROM journal_line l JOIN gl_account a ON a.id = l.account_id "
            "WHERE l.entry_id = :id"), {"id": entry_id})).all()
    return sorted((code, side, D(amount).normalize()) for code, side, amount in rows)


def test_only_the_cash_rule_releases_a_deferral() -> None:
    for rule in AccountingRule:
        table = rule_table(ProductKind.LOAN, rule)
        assert ((EventKind.REPAYMENT, Component.CAPITALISED_INTEREST) in table) is (rule is AccountingRule.CASH)
        assert ((EventKind.WRITE_OFF, Component.CAPITALISED_PENALTY) in table) is (rule is AccountingRule.CASH)


def test_the_release_is_the_principal_repaid_share_and_the_last_payment_clears_it() -> None:
    from products.loans.rescheduling import capitalised_income_released
    from products.rounding import Rounding, compile_rounding

    rounder = compile_rounding(Rounding(), "XOF")

    def release(released: int, before: int, repaid: int, penalties: int = 0) -> tuple[Decimal, Decimal]:
        found = capitalised_income_released(capitalised_interest=D(11322), capitalised_penalties=D(penalties),
                                            released=D(released), principal_before=D(before),
                                            principal_repaid=D(repaid), rounder=rounder)
        return found.interest, found.penalty

    # 11 322 x 23 872 / 311 322 = 868.17 -> 868
    assert release(0, 311322, 23872) == (868, 0)
    assert release(868, 287450, 24230) == (xof_share(10454, 24230, 287450), 0)
    assert release(11000, 5000, 5000) == (322, 0), "the payment that clears the principal releases the rest"
    assert release(11322, 5000, 5000, penalties=1000) == (0, 1000), "penalties after the interest"
    assert release(0, 311322, 0) == (0, 0)


def xof_share(remaining: int, repaid: int, before: int) -> Decimal:
    from decimal import ROUND_HALF_EVEN

    return (D(remaining) * repaid / before).quantize(D(1), rounding=ROUND_HALF_EVEN)


async def test_the_deferral_is_released_as_repaid_reinstated_by_a_reversal_and_cleared_at_write_off(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    await switches(healthy=True, term=True, unpaid=True)
    product_id, portfolio, deferred = await cash_product(client, refs, world, uow_factory)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    on = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["schedule"]["instalments"][2]["due_date"]
    made = await post(client, loan_id, rescheduled_on=on, repayment_count=12, capitalise_interest=True)
    assert made.status_code == 201, made.text
    assert made.json()["capitalised_interest"] == "11322"
    assert await gl_balance(uow_factory, deferred) == -11322

    paid = await repay(client, loan_id, "28542", ids["cash"], on=TODAY)
    assert paid.status_code == 201, paid.text
    assert (paid.json()["interest"], paid.json()["principal"]) == ("4670", "23872")
    # 23 872 of the 311 322 principal repaid carries 11 322 x 23 872 / 311 322 = 868.17 -> 868 of it.
    # One entry: Dr 1012 28 542 / Cr 7021 4 670 (the new plan's interest) and Cr portfolio 23 872,
    # with Dr deferred 868 / Cr 7021 868 (the release), the two 7021 credits on one line: 5 538.
    assert await lines_of(uow_factory, paid.json()["journal_entry_id"]) == sorted([
        ("1012", "D", D(28542)), ("7021", "C", D(4670 + 868)), (portfolio, "C", D(23872)), (deferred, "D", D(868))])
    assert await gl_balance(uow_factory, deferred) == -(11322 - 868)

    reversed_ = await client.post(f"{LOANS}/{loan_id}/transactions/{paid.json()['transaction_id']}/reversal")
    assert reversed_.status_code == 201, reversed_.text
    assert await gl_balance(uow_factory, deferred) == -11322, "the reversal mirrors the release too"

    written = await client.post(f"{LOANS}/{loan_id}/write-off", json={"reason": "Débiteur disparu"})
    assert written.status_code == 201, written.text
    # 311 322 of principal: 11 322 was never income, cleared against its deferral; 300 000 lost.
    assert await lines_of(uow_factory, written.json()["journal_entry_id"]) == sorted([
        (deferred, "D", D(11322)), ("665", "D", D(300000)), (portfolio, "C", D(311322))])
    assert await gl_balance(uow_factory, deferred) == 0
    assert await gl_balance(uow_factory, portfolio) == 0
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


async def test_a_collection_releases_the_deferral_as_a_counter_repayment_does(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, switches) -> None:  # noqa: F811
    from tests.api.test_loan_deposits_api import linked_loan
    from tests.deposit_support import deposit_world

    await switches(healthy=True, term=True, unpaid=True)
    dw = await deposit_world(uow_factory, world)
    product_id, _portfolio, deferred = await cash_product(client, refs, world, uow_factory)
    loan_id, _account_id, schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                       product_id, "100000")
    on = schedule[1]["due_date"]  # its first new instalment falls due a month later, by today
    made = await post(client, loan_id, rescheduled_on=on, repayment_count=12, capitalise_interest=True)
    assert made.status_code == 201, made.text
    capitalised = int(made.json()["capitalised_interest"])
    assert capitalised == 4500 + 3778
    assert await gl_balance(uow_factory, deferred) == -capitalised

    manager = await staff_user("branch_manager", office_id=world.office_id)
    ran = await client.post("/api/v1/loan-collections", json={"collection_date": TODAY.isoformat()}, headers=manager.headers)
    assert ran.status_code == 200, ran.text
    collected = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()[-1]
    assert collected["kind"] == "repayment", collected
    principal = D(collected["principal"])
    assert principal > 0
    # The principal collected carries its share of what is deferred, as at the counter.
    share = xof_share(capitalised, int(principal), 300000 + capitalised)
    assert (deferred, "D", share) in await lines_of(uow_factory, collected["journal_entry_id"])
    assert await gl_balance(uow_factory, deferred) == -(capitalised - share)
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}
