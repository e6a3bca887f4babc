"""Property: whatever sequence of deposits, withdrawals, transfers, holds, reversals and interest
postings hits a set of accounts (refused ones included), every account's balance is the sum
of its transactions, every journal entry moves the deposit control account (net of the
overdraft portfolio) by exactly its transactions, and the reconciliation shows no difference.
Also the append-only guarantee of the transactions table."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from ledger.errors import LedgerError
from products.deposits.balances import BALANCE_SIGN
from products.posting_rules import AccountingRole
from servicing import chart
from servicing.deposits import accounts, interest, movements, reversals, statements
from servicing.deposits.commands import (
    Deposit,
    HoldReason,
    OpenDepositAccount,
    PlaceHold,
    ReverseMovement,
    Transfer,
    Withdraw,
)
from servicing.products import demo
from tests.deposit_support import deposit_world, onboarded_client

TODAY = date.today()
LAST_MONTH_END = TODAY.replace(day=1) - timedelta(days=1)
LAST_MONTH_START = LAST_MONTH_END.replace(day=1)

amounts = st.integers(min_value=1, max_value=60_000).map(Decimal)
operations = st.lists(st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, 2), amounts),
    st.tuples(st.just("withdraw"), st.integers(0, 2), amounts),
    st.tuples(st.just("transfer"), st.integers(0, 2), amounts, st.integers(0, 2)),
    st.tuples(st.just("hold"), st.integers(0, 2), amounts),
    st.tuples(st.just("release"), st.integers(0, 2)),
    st.tuples(st.just("reverse"), st.integers(0, 20)),
), min_size=1, max_size=14)


@pytest.fixture
async def setting(uow_factory, world):  # type: ignore[no-untyped-def]
    await chart.load_chart_template(uow_factory(), "sfd-uemoa", "tests")
    refs = await demo.ensure_demo_references(uow_factory)
    dw = await deposit_world(uow_factory, world, withdrawal_fee_charge_id=refs.withdrawal_fee_id)
    client_id = await onboarded_client(uow_factory, dw.office_id, dw.prefix)
    return dw, client_id


async def _entry_mismatches(uow_factory, control: str, overdraft: str, account_ids: list[int]) -> list[object]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return list((await uow.session.execute(text("""
            WITH tx AS (SELECT journal_entry_id, sum(signed_amount) AS moved FROM deposit_transaction
                         WHERE account_id = ANY(:ids) AND journal_entry_id IS NOT NULL GROUP BY journal_entry_id),
                 gl AS (SELECT l.entry_id, sum(CASE WHEN a.code = :control THEN
                                                   CASE l.side WHEN 'C' THEN l.amount ELSE -l.amount END
                                               WHEN a.code = :overdraft THEN
                                                   CASE l.side WHEN 'C' THEN l.amount ELSE -l.amount END
                                               ELSE 0 END) AS moved
                          FROM journal_line l JOIN gl_account a ON a.id = l.account_id
                         WHERE l.entry_id IN (SELECT journal_entry_id FROM tx) GROUP BY l.entry_id)
            SELECT tx.journal_entry_id, tx.moved, gl.moved FROM tx LEFT JOIN gl ON gl.entry_id = tx.journal_entry_id
             WHERE gl.moved IS DISTINCT FROM tx.moved"""),
            {"ids": account_ids, "control": control, "overdraft": overdraft})).all())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations, overdrafts=st.lists(st.sampled_from(["0", "20000"]), min_size=3, max_size=3),
       with_interest=st.booleans())
async def test_balances_equal_the_journal_and_reconcile(uow_factory, setting, ops, overdrafts,  # type: ignore[no-untyped-def]
                                                         with_interest) -> None:
    dw, client_id = setting
    ids = []
    for limit in overdrafts:
        opened = await accounts.open_account(uow_factory, OpenDepositAccount(
            client_id=client_id, product_id=dw.product_id, actor="t", opened_on=LAST_MONTH_START,
            overdraft_limit=Decimal(limit)))
        await accounts.activate(uow_factory(), opened.account.account_id, "t", activated_on=LAST_MONTH_START)
        ids.append(opened.account.account_id)
    holds: dict[int, list[int]] = {}
    moved: list[tuple[int, int]] = []  # (account, a transaction of the movement) of each movement booked
    for step, op in enumerate(ops):
        kind, index = op[0], op[1]
        value_date = LAST_MONTH_START + timedelta(days=min(step, 20)) if with_interest else None
        try:
            if kind == "deposit":
                done = await movements.deposit(uow_factory(), Deposit(account_id=ids[index], amount=op[2], actor="t",
                                                                      value_date=value_date))
                moved.append((ids[index], done.transactions[0].transaction_id))
            elif kind == "withdraw":
                done = await movements.withdraw(uow_factory(), Withdraw(account_id=ids[index], amount=op[2], actor="t",
                                                                        value_date=value_date))
                moved.append((ids[index], done.transactions[-1].transaction_id))
            elif kind == "transfer":
                done = await movements.transfer(uow_factory(), Transfer(
                    from_account_id=ids[index], to_account_id=ids[op[3]], amount=op[2], actor="t",
                    value_date=value_date))
                moved.append((ids[op[3]], done.transactions[-1].transaction_id))
            elif kind == "reverse":
                if moved:
                    account_id, transaction_id = moved[index % len(moved)]
                    await reversals.reverse_movement(uow_factory(), ReverseMovement(
                        account_id=account_id, transaction_id=transaction_id, reason="erreur", actor="t"))
            elif kind == "hold":
                hold = await accounts.place_hold(uow_factory(), PlaceHold(
                    account_id=ids[index], amount=op[2], reason=HoldReason.GUARANTEE, actor="t"))
                holds.setdefault(ids[index], []).append(hold.hold_id)
            elif holds.get(ids[index]):
                await accounts.release_hold(uow_factory(), ids[index], holds[ids[index]].pop(), "t")
        except LedgerError:
            pass  # a refusal writes nothing; the invariants below still hold
    if with_interest:
        await interest.post_deposit_interest(uow_factory, LAST_MONTH_END, "t")
        await interest.post_deposit_interest(uow_factory, LAST_MONTH_END, "t")
    for account_id in ids:
        view = await accounts.get_account(uow_factory(), account_id)
        transactions = await accounts.list_transactions(uow_factory(), account_id)
        signed = sum((t.amount * BALANCE_SIGN[t.kind] for t in transactions), Decimal(0))
        assert view.account.balance == signed
        assert view.account.balance >= -view.account.overdraft_limit
        assert view.available_balance >= 0
        if with_interest:
            keys = [t for t in transactions if t.kind.value == "interest"]
            assert len(keys) <= 1
    control = dw.accounts[AccountingRole.DEPOSIT_CONTROL]
    overdraft = dw.accounts[AccountingRole.OVERDRAFT_PORTFOLIO]
    assert await _entry_mismatches(uow_factory, control, overdraft, ids) == []
    rows = [r for r in await statements.reconciliation(uow_factory()) if dw.product_id in r.product_ids]
    assert len(rows) == 1 and rows[0].difference == 0


async def test_transactions_are_append_only(engine, uow_factory, setting) -> None:  # type: ignore[no-untyped-def]
    dw, client_id = setting
    opened = await accounts.open_account(uow_factory, OpenDepositAccount(
        client_id=client_id, product_id=dw.product_id, actor="t"))
    await accounts.activate(uow_factory(), opened.account.account_id, "t")
    await movements.deposit(uow_factory(), Deposit(account_id=opened.account.account_id, amount=Decimal(5), actor="t"))
    for statement in ("UPDATE deposit_transaction SET amount = 1", "DELETE FROM deposit_transaction",
                      "DELETE FROM deposit_account", "UPDATE deposit_hold SET amount = 1"):
        async with engine.connect() as connection:
            with pytest.raises(Exception, match=r"append-only|permission denied|only ever released"):
                await connection.execute(text(statement))


async def test_verify_finds_a_tampered_cached_balance(admin_engine, uow_factory, setting) -> None:  # type: ignore[no-untyped-def]
    from servicing.verification import verify_journal

    dw, client_id = setting
    opened = await accounts.open_account(uow_factory, OpenDepositAccount(
        client_id=client_id, product_id=dw.product_id, actor="t"))
    account_id = opened.account.account_id
    await accounts.activate(uow_factory(), account_id, "t")
    await movements.deposit(uow_factory(), Deposit(account_id=account_id, amount=Decimal(700), actor="t"))
    assert not [p for p in (await verify_journal(uow_factory)).problems if p.check.startswith("deposit")]
    async with admin_engine.begin() as connection:
        await connection.execute(text("UPDATE deposit_account SET balance = 999 WHERE id = :id"), {"id": account_id})
    try:
        problems = [p for p in (await verify_journal(uow_factory)).problems if p.check == "deposit-balances"]
        assert [(p.account_code, p.detail) for p in problems] == [
            (f"deposit-account {account_id}", "cached balance 999.0000, transactions give 700.0000")]
    finally:
        async with admin_engine.begin() as connection:
            await connection.execute(text("UPDATE deposit_account SET balance = 700 WHERE id = :id"),
                                     {"id": account_id})
