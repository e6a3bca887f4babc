"""Revision 0046: loan transactions and entry shares check their references once per statement
(transition-table triggers, not row-level foreign keys), and the parents they name keep their
guard. Each case is tried as the owner, who bypasses nothing but the grants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from products.posting_rules import AccountingRule
from servicing.close_of_business.loan_accrual import accrue_loans
from servicing.errors import sqlstate_of
from tests.api.test_loans_api import (  # noqa: F401  (fixtures)
    DISBURSED_ON,
    approved_loan,
    disburse,
    ids,
    make_product,
    refs,
)

_TRANSACTION = """
    INSERT INTO loan_transaction (loan_id, sequence_number, kind, reverses_transaction_id, value_date, currency,
                                  amount, classification, allocation, created_by)
    VALUES (:loan, :sequence, :kind, :reverses, :day, 'XOF', 1, 'healthy', '[]', 'intruder')
"""


@pytest.fixture
async def accrued(client, refs, ids, world, staff_user, uow_factory) -> dict[str, Any]:  # type: ignore[no-untyped-def]  # noqa: F811
    """A disbursed loan with one night's accrual: a transaction with its two entry shares."""
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                                                own_receivables=True)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    await accrue_loans(uow_factory, DISBURSED_ON + timedelta(days=5), "tests", loans=[loan_id])
    async with uow_factory() as uow:
        row = (await uow.session.execute(text(
            "SELECT t.id, t.sequence_number, s.entry_id FROM loan_transaction t"
            " JOIN loan_entry_share s ON s.loan_transaction_id = t.id"
            " WHERE t.loan_id = :loan AND t.kind = 'accrual' LIMIT 1"), {"loan": loan_id})).one()
        disbursement = await uow.session.scalar(text(
            "SELECT id FROM loan_transaction WHERE loan_id = :loan AND kind = 'disbursement'"), {"loan": loan_id})
    return {"loan": loan_id, "transaction": row.id, "sequence": row.sequence_number, "entry": row.entry_id,
            "disbursement": disbursement}


async def _refused(admin_engine, statement: str, parameters: dict[str, Any], state: str, message: str) -> None:  # type: ignore[no-untyped-def]
    async with admin_engine.connect() as connection:
        with pytest.raises(DBAPIError, match=message) as raised:
            await connection.execute(text(statement), parameters)
        assert sqlstate_of(raised.value) == state


@pytest.mark.parametrize(("change", "message"), [
    ({"loan": -1}, "unknown loan -1"),
    ({"kind": "made_up"}, "unknown loan transaction kind made_up"),
])
async def test_a_transaction_naming_an_unknown_loan_or_kind_is_refused(  # type: ignore[no-untyped-def]
        admin_engine, accrued, change: dict[str, Any], message: str) -> None:
    parameters = {"loan": accrued["loan"], "sequence": 1_000, "kind": "charge", "reverses": None,
                  "day": DISBURSED_ON} | change
    await _refused(admin_engine, _TRANSACTION, parameters, "23503", message)


async def test_the_check_holds_for_a_statement_of_many_rows(admin_engine, accrued) -> None:  # type: ignore[no-untyped-def]
    statement = """
        INSERT INTO loan_transaction (loan_id, sequence_number, kind, value_date, currency, amount, classification,
                                      allocation, created_by)
        SELECT CASE WHEN n = 3 THEN -7 ELSE :loan END, 1000 + n, 'charge', :day, 'XOF', 1, 'healthy', '[]', 'x'
          FROM generate_series(1, 5) AS n
    """
    await _refused(admin_engine, statement, {"loan": accrued["loan"], "day": DISBURSED_ON}, "23503",
                   "unknown loan -7")


@pytest.mark.parametrize(("transaction", "account", "message"), [
    (-5, None, "unknown loan transaction -5"),
    (None, -6, "unknown account -6"),
])
async def test_a_share_naming_an_unknown_transaction_or_account_is_refused(  # type: ignore[no-untyped-def]
        admin_engine, accrued, transaction: int | None, account: int | None, message: str) -> None:
    async with admin_engine.connect() as connection:
        real_account = await connection.scalar(text("SELECT min(id) FROM gl_account WHERE NOT is_header"))
    await _refused(admin_engine, "INSERT INTO loan_entry_share (loan_transaction_id, entry_id, account_id, side, amount)"
                   " VALUES (:transaction, :entry, :account, 'D', 1)",
                   {"transaction": transaction or accrued["transaction"], "entry": accrued["entry"],
                    "account": account or real_account}, "23503", message)


async def test_a_loan_with_transactions_is_not_deleted(admin_engine, accrued) -> None:  # type: ignore[no-untyped-def]
    """Refused (the loan's other references, its decisions, may be the first to say so: their
    foreign keys' checks run before `loan_keeps_transactions`, alphabetically)."""
    await _refused(admin_engine, "DELETE FROM loan WHERE id = :loan", {"loan": accrued["loan"]}, "23503",
                   "has transactions|violates foreign key")


async def test_an_account_named_by_shares_is_not_deleted(admin_engine, accrued) -> None:  # type: ignore[no-untyped-def]
    """An account with no posting (the journal's own guard would not stop its deletion) that a
    share names: the share's reference keeps it. All in one transaction, rolled back: the
    share is a fake the reconciliation of other tests must not see."""
    async with admin_engine.connect() as connection:
        transaction = await connection.begin()
        parent = await connection.scalar(text("SELECT id FROM gl_account WHERE is_header ORDER BY id LIMIT 1"))
        account = await connection.scalar(text(
            "INSERT INTO gl_account (code, name, type, is_header, parent_id, manual_entries_allowed, active)"
            " SELECT :code, 'Compte de part', type, false, id, true, true FROM gl_account WHERE id = :parent"
            " RETURNING id"), {"code": f"SHR{uuid4().hex[:10]}", "parent": parent})
        await connection.execute(text(
            "INSERT INTO loan_entry_share (loan_transaction_id, entry_id, account_id, side, amount)"
            " VALUES (:transaction, :entry, :account, 'D', 1)"),
            {"transaction": accrued["transaction"], "entry": accrued["entry"], "account": account})
        with pytest.raises(DBAPIError, match="named by loan entry shares") as raised:
            await connection.execute(text("DELETE FROM gl_account WHERE id = :account"), {"account": account})
        assert sqlstate_of(raised.value) == "23503"
        await transaction.rollback()


async def test_a_transaction_is_still_reversed_once_only(admin_engine, accrued) -> None:  # type: ignore[no-untyped-def]
    """Two reversals of one transaction in one transaction, rolled back (they have no entry)."""
    parameters = {"loan": accrued["loan"], "kind": "disbursement_reversal", "reverses": accrued["disbursement"],
                  "day": DISBURSED_ON}
    async with admin_engine.connect() as connection:
        transaction = await connection.begin()
        await connection.execute(text(_TRANSACTION), parameters | {"sequence": 2_000})
        with pytest.raises(DBAPIError, match="reversed_once") as raised:
            await connection.execute(text(_TRANSACTION), parameters | {"sequence": 2_001})
        assert sqlstate_of(raised.value) == "23505"
        await transaction.rollback()


async def test_a_share_naming_an_account_deleted_meanwhile_is_refused(admin_engine, accrued) -> None:  # type: ignore[no-untyped-def]
    """As with a foreign key: a share inserted while another transaction deletes its account
    waits for that transaction (the account is locked KEY SHARE), then finds it gone."""
    import asyncio

    code = f"SHR{uuid4().hex[:10]}"
    async with admin_engine.begin() as connection:
        account = await connection.scalar(text(
            "INSERT INTO gl_account (code, name, type, is_header, parent_id, manual_entries_allowed, active)"
            " SELECT :code, 'Compte supprimé', type, false, id, true, true FROM gl_account WHERE is_header"
            " ORDER BY id LIMIT 1 RETURNING id"), {"code": code})
    async with admin_engine.connect() as deleting, admin_engine.connect() as inserting:
        delete = await deleting.begin()
        await deleting.execute(text("DELETE FROM gl_account WHERE id = :account"), {"account": account})
        insert = await inserting.begin()
        share = asyncio.create_task(inserting.execute(text(
            "INSERT INTO loan_entry_share (loan_transaction_id, entry_id, account_id, side, amount)"
            " VALUES (:transaction, :entry, :account, 'D', 1)"),
            {"transaction": accrued["transaction"], "entry": accrued["entry"], "account": account}))
        await asyncio.sleep(0.3)
        assert not share.done(), "the share waits for the delete's transaction"
        await delete.commit()
        with pytest.raises(DBAPIError, match="unknown account") as raised:
            await share
        assert sqlstate_of(raised.value) == "23503"
        await insert.rollback()
