"""Counter repayments in groups (`servicing.loans.repayment_writer`): concurrent repayments on
different loans share one transaction, yet each request is answered on its own: a refusal
fails only its own repayment and writes nothing, a replay answers the original transaction,
what the group leaves alone is taken by the single path, and a group the database refuses as
a whole is taken again request by request. Repayments on the same loan (grouped, single path)
never allocate the same due twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from ledger.errors import LedgerError
from products.posting_rules import AccountingRule
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.loans import movements
from servicing.loans.model import FundsChannel, LoanTransaction, Repay
from servicing.loans.repayment_writer import ALONE, CounterRepayment, RepaymentWriter, take_repayments
from servicing.staff.scope import OfficeScope
from tests.api import test_loans_api
from tests.api.test_loans_api import DISBURSED_ON, LOANS, approved_loan, disburse, make_product, repay

refs = test_loans_api.refs  # the loan tests' module fixtures: demo chart, references, payment types
ids = test_loans_api.ids

D = Decimal
ON = DISBURSED_ON + timedelta(days=40)


def _scope(world) -> OfficeScope:  # type: ignore[no-untyped-def]
    return OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}), whole_institution=False)


def _item(world, loan_id: int, amount: str, payment_type_id: int, *, key: str | None = None,  # type: ignore[no-untyped-def]
          on=ON, scope: OfficeScope | None = None, deposit_account_id: int | None = None) -> CounterRepayment:
    channel = (FundsChannel(deposit_account_id=deposit_account_id) if deposit_account_id is not None
               else FundsChannel(payment_type_id=payment_type_id, receipt_number="G-1"))
    return CounterRepayment(loan_id=loan_id, command=Repay(value_date=on, amount=D(amount), channel=channel),
                            actor="teller-1", scope=scope or _scope(world), idempotency_key=key)


async def _disbursed(client, refs, ids, world, staff_user, uow_factory, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    loans = [await approved_loan(client, world, staff_user, product_id) for _ in range(count)]
    for loan_id in loans:
        assert (await disburse(client, loan_id, ids["cash"])).status_code == 201
    return loans


async def _transactions(uow_factory, loan_id: int) -> list[tuple[int, str, Decimal]]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return [(r.sequence_number, r.kind, D(r.amount)) for r in (await uow.session.execute(text(
            "SELECT sequence_number, kind, amount FROM loan_transaction WHERE loan_id = :id ORDER BY sequence_number"),
            {"id": loan_id})).all()]


async def test_each_repayment_of_a_group_gets_its_own_answer(client, refs, ids, world, staff_user, uow_factory) -> None:  # type: ignore[no-untyped-def]
    good, other, early, foreign, by_account = await _disbursed(client, refs, ids, world, staff_user, uow_factory, 5)
    elsewhere = OfficeScope(office_id=world.office_id + 10_000, office_ids=frozenset({world.office_id + 10_000}),
                            whole_institution=False)
    items = [
        _item(world, good, "30000", ids["cash"], key="g-good"),
        _item(world, other, "20000", ids["mobile"], key="g-other"),
        _item(world, early, "30000", ids["cash"], on=DISBURSED_ON - timedelta(days=1)),  # before the disbursement
        _item(world, foreign, "30000", ids["cash"], scope=elsewhere),  # not the user's office
        _item(world, 2_000_000_000, "30000", ids["cash"]),  # no such loan
        _item(world, by_account, "30000", ids["cash"], deposit_account_id=1),  # a deposit leg: the single path
    ]
    async with uow_factory() as uow:
        outcomes = await take_repayments(uow, items)
    first, second, dated, hidden, unknown, alone = outcomes
    assert isinstance(first, LoanTransaction) and first.loan_id == good and first.amount == D(30000)
    assert first.sequence_number == 2 and first.kind == "repayment" and first.journal_entry_id is not None
    assert isinstance(second, LoanTransaction) and second.loan_id == other and second.payment_type_id == ids["mobile"]
    assert isinstance(dated, InvalidInput) and dated.field == "value_date"
    assert isinstance(hidden, NotFound) and hidden.field == "loan_id"
    assert isinstance(unknown, NotFound) and unknown.field == "loan_id"
    assert alone is ALONE
    # Committed: what the group answered is what the loans show; the refused ones wrote nothing.
    assert await _transactions(uow_factory, good) == [(1, "disbursement", D(300000)), (2, "repayment", D(30000))]
    assert await _transactions(uow_factory, other) == [(1, "disbursement", D(300000)), (2, "repayment", D(20000))]
    for loan_id in (early, foreign, by_account):
        assert [kind for _s, kind, _a in await _transactions(uow_factory, loan_id)] == ["disbursement"]
    view = (await client.get(f"{LOANS}/{good}/transactions")).json()
    assert [t["transaction_id"] for t in view if t["kind"] == "repayment"] == [first.transaction_id]
    # The same answer as the single path for the same repayment: same allocation, same entry lines.
    single = await movements.repay(uow_factory, early, Repay(value_date=ON, amount=D(30000), channel=FundsChannel(
        payment_type_id=ids["cash"])), actor="teller-1", scope=_scope(world))
    assert single.allocation == first.allocation and single.principal == first.principal

    # A replay answers the original transaction; the same key with another body is a conflict.
    async with uow_factory() as uow:
        replayed, mismatch = await take_repayments(uow, [
            _item(world, good, "30000", ids["cash"], key="g-good"), _item(world, other, "1000", ids["mobile"],
                                                                          key="g-other")])
    assert replayed == first
    assert isinstance(mismatch, Conflict) and mismatch.field == "Idempotency-Key"
    assert len(await _transactions(uow_factory, good)) == 2 and len(await _transactions(uow_factory, other)) == 2


async def test_a_group_the_database_refuses_is_taken_request_by_request(client, refs, ids, world, staff_user,  # type: ignore[no-untyped-def]
                                                                        uow_factory, admin_engine) -> None:
    (healthy,) = await _disbursed(client, refs, ids, world, staff_user, uow_factory, 1)
    product_id, portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    broken = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, broken, ids["cash"])).status_code == 201
    async with admin_engine.begin() as connection:  # the product's portfolio account closed to postings
        await connection.execute(text("UPDATE gl_account SET active = false WHERE code = :code"), {"code": portfolio})
    try:
        # Together the group cannot be booked (the journal refuses one entry, so the whole statement)...
        with pytest.raises(LedgerError):
            async with uow_factory() as uow:
                await take_repayments(uow, [_item(world, healthy, "30000", ids["cash"]),
                                            _item(world, broken, "30000", ids["cash"])])
        # ... so the writer takes each request alone: only the faulty one fails, with its reason.
        writer = RepaymentWriter(uow_factory)
        try:
            answers = await asyncio.gather(writer.repay(_item(world, healthy, "30000", ids["cash"])),
                                           writer.repay(_item(world, broken, "30000", ids["cash"])),
                                           return_exceptions=True)
        finally:
            await writer.aclose()
    finally:
        async with admin_engine.begin() as connection:
            await connection.execute(text("UPDATE gl_account SET active = true WHERE code = :code"), {"code": portfolio})
    taken, refused = answers
    assert isinstance(taken, LoanTransaction) and taken.loan_id == healthy
    assert isinstance(refused, LedgerError) and not isinstance(refused, LoanTransaction)
    assert [kind for _s, kind, _a in await _transactions(uow_factory, healthy)] == ["disbursement", "repayment"]
    assert [kind for _s, kind, _a in await _transactions(uow_factory, broken)] == ["disbursement"]


async def test_grouped_and_single_repayments_on_one_loan_never_allocate_a_due_twice(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:
    shared, *others = await _disbursed(client, refs, ids, world, staff_user, uow_factory, 3)
    single = Repay(value_date=ON, amount=D(40000), channel=FundsChannel(payment_type_id=ids["cash"]))
    answers = await asyncio.gather(
        *(repay(client, shared, "40000", ids["cash"]) for _ in range(3)),
        *(repay(client, loan_id, "40000", ids["cash"]) for loan_id in others),
        movements.repay(uow_factory, shared, single, actor="teller-1", scope=_scope(world)))
    http, direct = answers[:-1], answers[-1]
    assert all(a.status_code == 201 for a in http), [a.text for a in http]
    on_shared = [a.json() for a in http[:3]] + [{"sequence_number": direct.sequence_number, "allocation": [
        {"instalment": line.instalment, "component": line.component.value, "amount": str(line.amount)}
        for line in direct.allocation]}]
    assert sorted(t["sequence_number"] for t in on_shared) == [2, 3, 4, 5]
    allocated: dict[tuple[int, str], Decimal] = {}
    for answer in on_shared:
        for line in answer["allocation"]:
            key = (line["instalment"], line["component"])
            allocated[key] = allocated.get(key, D(0)) + D(line["amount"])
    assert sum(allocated.values()) == D(160000)
    view = (await client.get(f"{LOANS}/{shared}")).json()
    for row in view["loan"]["schedule"]["instalments"]:
        assert allocated.get((row["number"], "principal"), D(0)) <= D(row["principal_amount"])
        assert allocated.get((row["number"], "interest"), D(0)) <= D(row["interest_amount"])
    for loan_id in others:
        assert [kind for _s, kind, _a in await _transactions(uow_factory, loan_id)] == ["disbursement", "repayment"]
