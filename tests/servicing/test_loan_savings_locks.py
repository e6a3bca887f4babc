"""The close-of-business step `loan_savings` against a hold released by hand and withdrawals on
the same deposit account.

The step releases the savings holds a reversed repayment no longer justifies. A hold released
by hand (`POST .../holds/{id}/release`) locks the account, then the hold; a withdrawal locks the
account. The step must take the same order as every loan movement (`servicing.loans.deposit_link`):
the loan, then the accounts (ascending id), then the holds. Before, it released the hold first
(its row locked) and then waited for the account (the deposit transaction recording the
release references it) that the hand release held while it waited for the hold: PostgreSQL
aborted one of them ("deadlock detected").

The borrower's loan saves 10 % of each instalment on the linked account: instalment 1 paid
(52 658: 5 266 held), a part of instalment 2 paid (20 000: 2 000 held), then reversed."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.deposits import TransactionKind
from products.posting_rules import AccountingRule
from servicing.deposits import accounts as deposit_accounts
from servicing.deposits import movements as deposit_movements
from servicing.deposits import repository as deposit_repository
from servicing.deposits.commands import AccountStateConflict, Withdraw
from servicing.loans.instalment_savings import hold_instalment_savings
from servicing.loans.reconciliation import loan_reconciliation
from tests.api.test_deposit_accounts_api import account, move
from tests.api.test_loan_deposits_api import _verify, dw, linked_loan  # noqa: F401  (fixture)
from tests.api.test_loan_instalment_savings_api import TEN_PERCENT_OF_EACH
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    LOANS,
    ids,
    make_product,
    refs,
    repay,
)
from tests.servicing.test_loan_write_off_locks import blocked_by

D = Decimal
FIRST_DAY = DISBURSED_ON + timedelta(days=30)
SECOND_DAY = FIRST_DAY + timedelta(days=5)
_keys = iter(range(1, 1_000_000))


async def savings_to_release(client: Any, refs: Any, ids: Any, world: Any, staff_user: Any, uow_factory: Any,  # noqa: F811
                             dw: Any) -> tuple[int, int, int, int]:  # noqa: F811
    """(product, loan, its linked account, the hold of instalment 2 the next run releases)."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                **TEN_PERCENT_OF_EACH)
    loan_id, account_id, _schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                      product_id, "100000")
    assert (await repay(client, loan_id, "52658", ids["cash"], on=FIRST_DAY)).status_code == 201
    part = await repay(client, loan_id, "20000", ids["cash"], on=SECOND_DAY)
    assert part.status_code == 201, part.text
    outcome = await hold_instalment_savings(uow_factory, SECOND_DAY, "tests", offices=[world.office_id])
    assert (outcome.detail["held"], outcome.detail["missing"]) == ("7266", "0"), outcome  # 5 266 + 2 000
    reversed_ = await client.post(f"{LOANS}/{loan_id}/transactions/{part.json()['transaction_id']}/reversal")
    assert reversed_.status_code == 201, reversed_.text
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    (second,) = [h["hold_id"] for h in holds if h["amount"] == "2000" and h["released_on"] is None]
    return product_id, loan_id, account_id, second


async def releases(uow_factory: Any, hold_id: int) -> int:
    """How many deposit transactions record the release of the hold."""
    async with uow_factory() as uow:
        return int(await uow.session.scalar(text(
            "SELECT count(*) FROM deposit_transaction WHERE hold_id = :h AND kind = :k"),
            {"h": hold_id, "k": TransactionKind.HOLD_RELEASED.value}))


async def test_the_step_locks_the_account_before_the_hold_it_releases(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    """A teller releases the instalment-2 hold by hand: the release holds the account and is
    about to take the hold. The step, run meanwhile, waits for that account before it touches
    any hold, so the hand release gets the hold and commits, and the step finds it released:
    no deadlock, the hold released once."""
    _product, _loan, account_id, second = await savings_to_release(client, refs, ids, world, staff_user,
                                                                     uow_factory, dw)
    before = await account(client, account_id)
    async with uow_factory() as by_hand:  # what `servicing.deposits.accounts.release_hold` does, step by step
        await by_hand.session.execute(text("SET LOCAL lock_timeout = '20s'"))
        locked = await deposit_repository.load_account(by_hand.session, account_id, for_update=True)
        pid = int(await by_hand.session.scalar(text("SELECT pg_backend_pid()")))
        step = asyncio.create_task(hold_instalment_savings(uow_factory, SECOND_DAY, "tests",
                                                           offices=[world.office_id]))
        for _ in range(400):
            if await blocked_by(uow_factory, pid) or step.done():
                break
            await asyncio.sleep(0.05)
        assert not step.done() and await blocked_by(uow_factory, pid) == 1, "the step waits for the account"
        # The hand release's next lock: the hold. The step must not hold it.
        released = (await by_hand.session.execute(text(
            "UPDATE deposit_hold SET released_on = :day, released_by = 'teller' WHERE id = :id"
            " AND released_on IS NULL RETURNING amount"), {"day": date.today(), "id": second})).scalar_one()
        await deposit_repository.insert_transactions(by_hand.session, [deposit_repository.NewTransaction(
            account_id=account_id, kind=TransactionKind.HOLD_RELEASED, amount=released, balance_after=locked.balance,
            value_date=date.today(), actor="teller", hold_id=second, description="Levée de blocage")])
        await by_hand.commit()
    outcome = await asyncio.wait_for(step, timeout=60)
    assert outcome.detail["held"] == "0", outcome  # instalment 1 keeps its 5 266; instalment 2 holds nothing
    assert await releases(uow_factory, second) == 1
    holds = (await client.get(f"/api/v1/deposit-accounts/{account_id}/holds")).json()
    assert sorted((h["amount"], h["released_on"] is None) for h in holds) == [("2000", False), ("5266", True)]
    after = await account(client, account_id)
    assert after["balance"] == before["balance"]
    assert D(after["available_balance"]) == D(before["available_balance"]) + 2000 == D(after["balance"]) - 5266
    assert not await _verify(uow_factory)


async def test_hand_releases_withdrawals_and_the_step_lose_and_double_nothing(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    """The step runs while a teller releases the instalment-2 hold by hand and the borrower
    withdraws from the account: every request either commits or is refused for a business
    reason (never a deadlock or a server error); the hold is released once, by whoever came
    first; the balance is what the account received less the withdrawals that committed; the
    savings of instalment 1 stay held; the ledger, the deposit balances and the loan sub-ledger
    agree."""
    product_id, _loan, account_id, second = await savings_to_release(client, refs, ids, world, staff_user,
                                                                       uow_factory, dw)
    await move(client, account_id, "deposits", "50000", value_date=SECOND_DAY.isoformat())
    before = await account(client, account_id)
    balance, available = D(before["balance"]), D(before["available_balance"])
    assert available == balance - 7266

    # The services, not the test client: its requests block the event loop the others run on.
    async def release_by_hand() -> Any:
        try:
            return await deposit_accounts.release_hold(uow_factory(), account_id, second, "teller")
        except AccountStateConflict as refused:  # released before, by the step or the other teller
            return refused

    async def withdraw(amount: int) -> Any:
        return await deposit_movements.withdraw(uow_factory(), Withdraw(
            account_id=account_id, amount=D(amount), actor="teller", idempotency_key=f"sv-lock-w-{next(_keys)}"))

    async def step() -> Any:
        return await hold_instalment_savings(uow_factory, SECOND_DAY, "tests", offices=[world.office_id])

    answers = await asyncio.gather(withdraw(30000), release_by_hand(), step(), withdraw(20000), step(),
                                   release_by_hand(), withdraw(10000), return_exceptions=True)
    unexpected = [a for a in answers if isinstance(a, BaseException) and not isinstance(a, AccountStateConflict)]
    assert not unexpected, answers
    steps = [answers[2], answers[4]]
    assert all(s.detail["held"] == "0" for s in steps), steps  # nothing is held again, nothing doubled
    by_hand = [answers[1], answers[5]]
    assert sum(not isinstance(a, AccountStateConflict) for a in by_hand) <= 1, by_hand
    # The free balance covers the withdrawals whatever the order.
    assert all(a.transactions for a in (answers[0], answers[3], answers[6])), answers
    assert await releases(uow_factory, second) == 1, "released once, by the step or by hand"
    shown = await account(client, account_id)
    assert D(shown["balance"]) == balance - 60000
    assert D(shown["available_balance"]) == D(shown["balance"]) - 5266, "instalment 1's savings stay held"
    assert not await _verify(uow_factory)
    report = await loan_reconciliation(uow_factory())
    mine = [r for r in report.rows if r.product_id == product_id]
    assert mine and all(r.difference == 0 for r in mine), mine
