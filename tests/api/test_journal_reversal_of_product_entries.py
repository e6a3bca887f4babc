"""The journal's own reversal route refuses an entry that a product movement posted (a
deposit, a loan disbursement): reversed there, the ledger would move without the deposit
account or the loan, and the sub-ledger would no longer reconcile. Such an entry is reversed
through the movement's own reversal route, which moves both."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule
from tests.api.test_deposit_accounts_api import assert_problem, move, open_account, reconciliation_row
from tests.api.test_deposit_servicing_api import dw  # noqa: F401  (fixture)
from tests.api.test_loans_api import approved_loan, disburse, ids, make_product, refs  # noqa: F401  (fixtures)

ENTRIES = "/api/v1/journal-entries"


async def reversals_of(uow_factory: Any, entry_id: str) -> int:
    async with uow_factory() as uow:
        return int(await uow.session.scalar(
            text("SELECT count(*) FROM journal_entry WHERE reverses_id = CAST(:id AS uuid)"), {"id": entry_id}) or 0)


async def test_a_deposit_entry_is_refused_and_nothing_is_written(client, uow_factory, dw) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    account_id = (await open_account(client, uow_factory, dw))["account_id"]
    entry_id = (await move(client, account_id, "deposits", "100000"))["journal_entry_id"]
    problem = assert_problem(await client.post(f"{ENTRIES}/{entry_id}/reversal", json={}), 409, "entry_id", "conflict")
    assert entry_id in problem["detail"] and "deposit account transaction" in problem["detail"], problem
    assert await reversals_of(uow_factory, entry_id) == 0
    assert (await reconciliation_row(client, dw))["difference"] == "0"
    # The movement's own route still reverses it, ledger and account together.
    transaction_id = (await client.get(f"/api/v1/deposit-accounts/{account_id}/transactions")).json()[0]["transaction_id"]
    reversed_ = await client.post(f"/api/v1/deposit-accounts/{account_id}/transactions/{transaction_id}/reversal",
                                  json={"reason": "erreur de saisie"})
    assert reversed_.status_code == 201, reversed_.text
    assert await reversals_of(uow_factory, entry_id) == 1


async def test_a_loan_disbursement_entry_is_refused(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loan_id = await approved_loan(client, world, staff_user, product_id)
    disbursed = await disburse(client, loan_id, ids["cash"])
    assert disbursed.status_code == 201, disbursed.text
    entry_id = disbursed.json()["journal_entry_id"]
    problem = assert_problem(await client.post(f"{ENTRIES}/{entry_id}/reversal", json={}), 409, "entry_id", "conflict")
    assert entry_id in problem["detail"] and "loan transaction" in problem["detail"], problem
    assert await reversals_of(uow_factory, entry_id) == 0


async def test_a_manual_entry_naming_a_loan_stays_reversible(client, world, uow_factory) -> None:  # type: ignore[no-untyped-def]
    """Only the sub-ledger's own rows make an entry a product movement, not the reference a
    person typed on a manual entry."""
    posted = await client.post(ENTRIES, json={
        "office_id": world.office_id, "value_date": "2026-10-05", "description": "Régularisation",
        "reference": {"source_type": "loan-transaction", "source_id": "LN-9"},
        "lines": [{"account_code": world.cash, "side": "debit", "amount": "500", "currency": "XOF"},
                  {"account_code": world.deposits, "side": "credit", "amount": "500", "currency": "XOF"}]})
    assert posted.status_code == 201, posted.text
    reversal = await client.post(f"{ENTRIES}/{posted.json()['id']}/reversal", json={})
    assert reversal.status_code == 201, reversal.text
