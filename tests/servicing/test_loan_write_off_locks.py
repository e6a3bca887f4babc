"""The close-of-business step `loan_write_off` against concurrent money movements on the deposit
accounts that hold the written-off loans' guarantees.

A write-off applies the guarantees (it takes what a deposit account holds for the loan), so it
locks that account. The step writes off a batch of loans in one transaction: it must lock the
batch's loans first (ascending id), then their guarantee accounts (ascending id), as repayments
and the collection do (loan, then account). Locking each loan's accounts after writing off the
one before would hold an account while waiting for the next loan, which a repayment of that loan
from that account holds while it waits for the account: a deadlock.

The borrower has two loans of 300 000 (cash rule, written off past 30 days overdue), each with
45 000 held on the same deposit account (30 000 of mandatory savings, 15 000 of cash collateral)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from sqlalchemy import text

from products.posting_rules import AccountingRule
from servicing.close_of_business.loan_arrears import age_loans
from servicing.close_of_business.loan_write_off import write_off_loans
from servicing.errors import NotFound
from servicing.loans.reconciliation import loan_reconciliation
from servicing.reference import credit_parameters
from servicing.reference.defaults import DEMO_CREDIT_PARAMETERS
from servicing.staff.scope import OfficeScope
from tests.api.test_deposit_accounts_api import account, move, open_account
from tests.api.test_loan_deposits_api import OPENED, SAVINGS, _verify, disburse_into
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

D = Decimal
_keys = iter(range(1, 1_000_000))


@pytest.fixture(autouse=True)
async def two_loans_per_client(uow_factory: Any) -> AsyncIterator[None]:
    """The general credit parameters allow the borrower two loans here, as they were afterwards."""
    try:
        before = (await credit_parameters.current(uow_factory())).parameters
    except NotFound:
        before = msgspec.structs.replace(DEMO_CREDIT_PARAMETERS, loans_per_client_max=99, loans_per_guarantor_max=99)
    await credit_parameters.set_parameters(uow_factory(), msgspec.structs.replace(
        before, loans_per_client_max=max(before.loans_per_client_max or 2, 2)), "tests")
    yield
    await credit_parameters.set_parameters(uow_factory(), before, "tests")


async def guaranteed_loans(client: Any, refs: Any, world: Any, staff_user: Any, uow_factory: Any  # noqa: F811
                           ) -> tuple[int, list[int], int, Decimal]:
    """(product, the borrower's two loans in id order, their shared guarantee account, its balance)."""
    dw = await deposit_world(uow_factory, world)
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, **SAVINGS,
                                                write_off_after_days_overdue=30)
    client_id = await borrower(client, world, staff_user)
    account_id = (await open_account(client, uow_factory, dw, client_id=client_id, opened_on=OPENED,
                                     overdraft_limit="0"))["account_id"]
    await move(client, account_id, "deposits", "45000", value_date=OPENED)  # the savings asked before a loan
    checker = await staff_user("branch_manager", office_id=world.office_id)
    loans = []
    for _ in range(2):
        made = await client.post(APPS, json=application(client_id, product_id))
        assert made.status_code == 201, made.text
        loan_id = made.json()["loan_id"]
        submitted = await client.post(f"{APPS}/{loan_id}/submit")
        assert submitted.status_code == 200, submitted.text
        assert (await client.post(f"{APPS}/{loan_id}/approve", json={}, headers=checker.headers)).status_code == 200
        paid_out = await disburse_into(client, loan_id, account_id)
        assert paid_out.status_code == 201, paid_out.text
        loans.append(loan_id)
    shown = await account(client, account_id)
    # 45 000 + 2 x 300 000 paid in (less the fees withheld at disbursement), 2 x 45 000 held.
    balance = D(shown["balance"])
    assert 600_000 < balance <= 645_000 and D(shown["available_balance"]) == balance - 90_000, shown
    await age_loans(uow_factory, TODAY, "tests", OfficeScope(office_id=world.office_id,
                                                             office_ids=frozenset({world.office_id})))
    return product_id, sorted(loans), account_id, balance


async def blocked_by(uow_factory: Any, pid: int) -> int:
    """How many sessions wait for a lock held by the session ``pid`` (read in a transaction of its
    own: the activity statistics are a snapshot per transaction)."""
    async with uow_factory() as uow:
        return int(await uow.session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"), {"pid": pid}))


async def test_the_step_locks_its_loans_then_their_accounts(  # type: ignore[no-untyped-def]
        client, refs, world, staff_user, uow_factory) -> None:  # noqa: F811
    """A repayment of the second loan from the shared account is under way: it holds the loan and
    is about to lock the account. The step, run meanwhile, waits for that loan before it locks
    any account, so the repayment gets the account, commits, and the step goes on: no deadlock
    (before, the step wrote the first loan off, holding the account, then waited for the second
    loan: PostgreSQL aborted one of the two)."""
    _product, (first, second), account_id, balance = await guaranteed_loans(client, refs, world, staff_user, uow_factory)
    async with uow_factory() as repayment:
        await repayment.session.execute(text("SET LOCAL lock_timeout = '20s'"))
        await repayment.session.execute(text("SELECT id FROM loan WHERE id = :id FOR UPDATE"), {"id": second})
        pid = int(await repayment.session.scalar(text("SELECT pg_backend_pid()")))
        step = asyncio.create_task(write_off_loans(uow_factory, TODAY, "tests", offices=[world.office_id]))
        for _ in range(400):
            if await blocked_by(uow_factory, pid) or step.done():
                break
            await asyncio.sleep(0.05)
        assert not step.done() and await blocked_by(uow_factory, pid) == 1, "the step waits for the loan being repaid"
        # The repayment's next lock: the account. The step must not hold it.
        await repayment.session.execute(text("SELECT id FROM deposit_account WHERE id = :id FOR UPDATE"),
                                        {"id": account_id})
        await repayment.commit()
    outcome = await asyncio.wait_for(step, timeout=60)
    assert outcome.detail["written_off"] == "2", outcome
    statuses = (await client.get(f"{LOANS}/{first}")).json()["loan"]["status"], \
        (await client.get(f"{LOANS}/{second}")).json()["loan"]["status"]
    assert statuses == ("written_off", "written_off")
    shown = await account(client, account_id)
    # Each loan took its 45 000 of guarantees, nothing is held any more.
    assert (D(shown["balance"]), D(shown["available_balance"])) == (balance - 90_000, balance - 90_000), shown
    assert not await _verify(uow_factory)


async def test_concurrent_repayments_and_withdrawals_lose_and_double_nothing(  # type: ignore[no-untyped-def]
        client, refs, world, staff_user, uow_factory) -> None:  # noqa: F811
    """The step runs while the borrower withdraws from the guarantee account and repays both loans
    from it: every request either commits or is refused for a business reason (never a deadlock
    or a server error); the account's balance is what it received less every debit that
    committed, each loan's guarantees are taken once, and the ledger and sub-ledgers agree."""
    product_id, loans, account_id, balance = await guaranteed_loans(client, refs, world, staff_user, uow_factory)

    async def repay(loan_id: int, amount: str) -> Any:
        return await client.post(f"{LOANS}/{loan_id}/repayments", json={
            "value_date": TODAY.isoformat(), "amount": amount, "deposit_account_id": account_id},
            headers={"Idempotency-Key": f"wo-lock-{next(_keys)}"})

    async def withdraw(amount: str) -> Any:
        return await client.post(f"/api/v1/deposit-accounts/{account_id}/withdrawals", json={"amount": amount},
                                 headers={"Idempotency-Key": f"wo-lock-w-{next(_keys)}"})

    answers = await asyncio.gather(
        repay(loans[1], "20000"), withdraw("100000"), repay(loans[0], "20000"),
        write_off_loans(uow_factory, TODAY, "tests", offices=[world.office_id]),
        repay(loans[1], "15000"), withdraw("50000"), return_exceptions=True)
    outcome = answers[3]
    assert not isinstance(outcome, BaseException), outcome
    assert outcome.detail["written_off"] == "2", outcome
    http = [a for n, a in enumerate(answers) if n != 3]
    assert not [a for a in http if isinstance(a, BaseException)], http
    for answer in http:
        assert answer.status_code in (201, 409), answer.text  # 409: the loan was written off first
    withdrawn = sum((amount for a, amount in ((answers[1], D(100_000)), (answers[5], D(50_000)))
                     if a.status_code == 201), D(0))
    assert withdrawn == 150_000, "the free balance covers both withdrawals whatever the order"

    moved = {}
    for loan_id in loans:
        transactions = (await client.get(f"{LOANS}/{loan_id}/transactions")).json()
        assert [t["kind"] for t in transactions][-1] == "write_off", transactions
        moved[loan_id] = transactions
    repaid = sum((D(t["amount"]) for ts in moved.values() for t in ts if t["kind"] == "repayment"), D(0))
    guarantees = [t for ts in moved.values() for t in ts if t["kind"] == "repayment"
                  and t["created_by"] == "tests"]
    assert len(guarantees) == 2 and all(D(t["amount"]) == 45_000 for t in guarantees), guarantees
    shown = await account(client, account_id)
    assert D(shown["balance"]) == balance - withdrawn - repaid, (shown, repaid)
    assert D(shown["available_balance"]) == D(shown["balance"]), "every hold released"
    debits = (await client.get(f"/api/v1/deposit-accounts/{account_id}/transactions")).json()
    assert sum(D(t["amount"]) for t in debits if t["kind"] == "withdrawal") == withdrawn + repaid
    report = await loan_reconciliation(uow_factory())
    mine = [r for r in report.rows if r.product_id == product_id]
    assert mine and all(r.difference == 0 for r in mine), mine
    assert not await _verify(uow_factory)
