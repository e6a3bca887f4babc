"""The close-of-business step `term_deposit_maturity` against a movement on the deposit account a
maturity pays into.

A deposit movement locks its account, then books its entry (the journal locks its office's
chain head and the balances it touches until the commit). The maturity run booked the batch's
last interest first and locked the receiving account afterwards: holding the journal rows while
it waited for an account whose movement waited for them, a deadlock. It now locks the receiving
accounts (ascending id) before it books anything."""
# ruff: noqa: F811  (the module fixtures imported are parameters of the tests)

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import msgspec
from sqlalchemy import text

from ledger.model import JournalEntry, Line, Side
from servicing.deposits import accounts as deposit_accounts
from servicing.deposits import repository as deposit_repository
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.products import demo
from servicing.term_deposits import runs
from tests.api.test_term_deposit_tax_and_transfers import savings  # noqa: F401  (fixture)
from tests.api.test_term_deposits_api import (  # noqa: F401  (module fixtures)
    URL,
    cash_id,
    control_row,
    make_product,
    opening,
    refs,
)
from tests.servicing.test_loan_write_off_locks import blocked_by

D = Decimal
MATURITY = date(2026, 10, 15)


async def test_the_maturity_locks_the_account_it_pays_into_before_the_journal(  # type: ignore[no-untyped-def]
        client, refs, world, cash_id, uow_factory, savings) -> None:
    """A deposit on the current account is under way: it holds the account and is about to book
    its entry in the same office. The maturity of a term deposit paying into that account, run
    meanwhile, waits for the account before it books its interest, so the deposit books and
    commits, and the maturity goes on: no deadlock, the payout credited once."""
    _dw, client_id, savings_id = savings
    base = demo.demo_products(refs)[-1]
    product_id = await make_product(client, refs, world, rate_charts=(
        msgspec.structs.replace(base.rate_charts[0], valid_from=date(2025, 1, 1)),))
    opened = await client.post(URL, json=opening(client_id, product_id, cash_id, opened_on="2025-10-15",
                                                 payout={"deposit_account_id": savings_id}))
    assert opened.status_code == 201, opened.text
    account_id = opened.json()["account_id"]
    funded = await client.post(f"{URL}/{account_id}/fund",
                               json={"activated_on": "2025-10-15", "source": {"payment_type_id": cash_id}})
    assert funded.status_code == 200, funded.text
    before = (await deposit_accounts.get_account(uow_factory(), savings_id)).account.balance

    async with uow_factory() as movement:  # a deposit movement, step by step
        await movement.session.execute(text("SET LOCAL lock_timeout = '20s'"))
        await deposit_repository.load_account(movement.session, savings_id, for_update=True)
        pid = int(await movement.session.scalar(text("SELECT pg_backend_pid()")))
        run = asyncio.create_task(runs.mature(uow_factory, MATURITY, "tests", offices=[world.office_id]))
        for _ in range(400):
            if await blocked_by(uow_factory, pid) or run.done():
                break
            await asyncio.sleep(0.05)
        assert not run.done() and await blocked_by(uow_factory, pid) == 1, "the maturity waits for the account"
        # The movement's next step: its entry, in the office of the term deposit.
        await book_entries(movement, [JournalEntry(
            entry_id=uuid7(), office_id=world.office_id, value_date=MATURITY, description="Versement espèces",
            actor="teller-1", lines=(Line(account_code=world.cash, side=Side.DEBIT, amount=D(1000), currency="XOF"),
                                     Line(account_code=world.income, side=Side.CREDIT, amount=D(1000),
                                          currency="XOF")))])
        await movement.commit()
    summary = await asyncio.wait_for(run, timeout=60)
    assert summary.accounts_seen == 1, summary
    moves = (await client.get(f"{URL}/{account_id}/transactions")).json()
    (payout,) = [m for m in moves if m["kind"] == "payout"]
    assert payout["deposit_account_id"] == savings_id and D(payout["amount"]) > D(1_000_000), payout
    after = (await deposit_accounts.get_account(uow_factory(), savings_id)).account.balance
    assert after == before + D(payout["amount"])
    assert (await control_row(client, world))["reconciled"]
