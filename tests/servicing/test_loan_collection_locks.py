"""The close-of-business step `loan_collection`, and a repayment from a deposit account, paying a
loan off when the loan's holds sit on another deposit account than the one the money comes from.

A loan paid off releases its holds (`deposit_link.release_loan_holds`), on whatever account they
were placed: here the account disbursed into (B), while the loan was linked afterwards to
another account of the borrower (A, a higher id), which the collection takes from. The chunk
must lock every account it may touch, ascending id, before any: locking B only when the loan
closes, after A, waits for B while holding A, which a transfer from B to A (B, then A) holds
while it waits for A: a deadlock. A repayment from A paying the loan off, likewise."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule
from servicing.deposits import repository as deposit_repository
from servicing.loans import movements
from servicing.loans.collection import collect
from servicing.loans.model import FundsChannel, Repay
from servicing.loans.reconciliation import loan_reconciliation
from servicing.staff.scope import OfficeScope
from tests.api.test_deposit_accounts_api import account, move, open_account
from tests.api.test_loan_deposits_api import SAVINGS, _verify, disburse_into
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    APPS,
    LOANS,
    TODAY,
    application,
    borrower,
    ids,
    make_product,
    refs,
)
from tests.deposit_support import deposit_world
from tests.servicing.test_loan_write_off_locks import blocked_by

D = Decimal
DISBURSED = TODAY - timedelta(days=220)  # six monthly instalments, all due by today
OPENED = (DISBURSED - timedelta(days=10)).isoformat()


def scope_of(world: Any) -> OfficeScope:
    return OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))


async def loan_held_elsewhere(client: Any, refs: Any, world: Any, staff_user: Any, uow_factory: Any  # noqa: F811
                              ) -> tuple[int, int, int, int, Decimal]:
    """(product, loan, the account B holding its 45 000, the account A it is linked to, B's balance)."""
    dw = await deposit_world(uow_factory, world)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **SAVINGS)
    client_id = await borrower(client, world, staff_user)
    held_on = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED,
                                  overdraft_limit="0"))["account_id"]
    collected_from = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED,
                                         overdraft_limit="0"))["account_id"]
    assert held_on < collected_from
    await move(client, held_on, "deposits", "45000", value_date=OPENED)  # the savings asked before a loan
    await move(client, collected_from, "deposits", "1000000", value_date=OPENED)
    made = await client.post(APPS, json=application(client_id, product_id,
                                                    expected_disbursement_date=DISBURSED.isoformat()))
    assert made.status_code == 201, made.text
    loan_id = made.json()["loan_id"]
    submitted = await client.post(f"{APPS}/{loan_id}/submit")
    assert submitted.status_code == 200, submitted.text
    checker = await staff_user("branch_manager", office_id=world.office_id)
    assert (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)).status_code == 200
    paid_out = await disburse_into(client, loan_id, held_on, value_date=DISBURSED.isoformat())
    assert paid_out.status_code == 201, paid_out.text  # 45 000 held on B
    linked = await client.put(f"{LOANS}/{loan_id}/deposit-account", json={"deposit_account_id": collected_from})
    assert linked.status_code == 200, linked.text
    schedule = (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["schedule"]["instalments"]
    last_due = max(i["due_date"] for i in schedule)
    assert last_due < TODAY.isoformat(), schedule
    held = D((await account(client, held_on))["balance"])
    assert D((await account(client, held_on))["available_balance"]) == held - 45000
    return product_id, loan_id, held_on, collected_from, held


async def during_a_transfer_from_b_to_a(uow_factory: Any, held_on: int, collected_from: int,
                                       movement: Coroutine[Any, Any, Any]) -> Any:
    """Run ``movement`` while a transfer from B to A, step by step, holds B and is about to lock
    A: the movement must wait for B before it locks A (else the transfer's next lock deadlocks);
    answers what the movement answers once the transfer committed."""
    async with uow_factory() as transfer:
        await transfer.session.execute(text("SET LOCAL lock_timeout = '20s'"))
        await deposit_repository.load_account(transfer.session, held_on, for_update=True)
        pid = int(await transfer.session.scalar(text("SELECT pg_backend_pid()")))
        run = asyncio.create_task(movement)
        for _ in range(400):
            if await blocked_by(uow_factory, pid) or run.done():
                break
            await asyncio.sleep(0.05)
        assert not run.done() and await blocked_by(uow_factory, pid) == 1, "the movement waits for B"
        await deposit_repository.load_account(transfer.session, collected_from, for_update=True)
        await transfer.commit()
    return await asyncio.wait_for(run, timeout=60)


async def paid_off_and_released(client: Any, uow_factory: Any, product_id: int, loan_id: int, held_on: int,
                                held: Decimal) -> None:
    assert (await client.get(f"{LOANS}/{loan_id}")).json()["loan"]["status"] == "closed"
    shown = await account(client, held_on)
    assert (D(shown["balance"]), D(shown["available_balance"])) == (held, held), "its holds released"
    assert not await _verify(uow_factory)
    report = await loan_reconciliation(uow_factory())
    mine = [r for r in report.rows if r.product_id == product_id]
    assert mine and all(r.difference == 0 for r in mine), mine


async def test_a_collection_paying_a_loan_off_locks_the_accounts_of_its_holds_first(  # type: ignore[no-untyped-def]
        client, refs, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, loan_id, held_on, collected_from, held = await loan_held_elsewhere(client, refs, world, staff_user,
                                                                                    uow_factory)
    summary = await during_a_transfer_from_b_to_a(uow_factory, held_on, collected_from, collect(
        uow_factory, TODAY, actor="tests", scope=scope_of(world)))
    assert summary.loans_collected_in_full == 1, summary
    await paid_off_and_released(client, uow_factory, product_id, loan_id, held_on, held)


async def test_a_repayment_paying_a_loan_off_locks_the_accounts_of_its_holds_first(  # type: ignore[no-untyped-def]
        client, refs, world, staff_user, uow_factory) -> None:  # noqa: F811
    product_id, loan_id, held_on, collected_from, held = await loan_held_elsewhere(client, refs, world, staff_user,
                                                                                    uow_factory)
    quote = (await client.get(f"{LOANS}/{loan_id}/payoff-quote", params={"on": TODAY.isoformat()})).json()
    paid = await during_a_transfer_from_b_to_a(uow_factory, held_on, collected_from, movements.repay(
        # the service: the test client would block the event loop the transfer runs on
        uow_factory, loan_id, Repay(value_date=TODAY, amount=D(quote["total"]),
                                    channel=FundsChannel(deposit_account_id=collected_from)),
        actor="tests", scope=scope_of(world)))
    assert paid.amount == D(quote["total"]), paid
    await paid_off_and_released(client, uow_factory, product_id, loan_id, held_on, held)
