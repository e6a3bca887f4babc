"""One repayment planner: the automatic collection splits what it takes exactly as a counter
repayment of the same amount on the same day splits it, for a plain product, a product with
interest recalculation (a late payment raises the interest: the collection asks for and
allocates the recalculated interest, not the disbursement schedule's) and a loan doubtful by
then (the doubtful order, principal first, and the transaction classified doubtful).

Two identical loans (same product, terms and disbursement day): one linked to its borrower's
account and collected, the other repaid at the counter in cash; their splits must be equal."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from products.loans.product import InterestRecalculation
from products.posting_rules import AccountingRule
from tests.api.test_loan_deposits_api import _verify, dw, linked_loan  # noqa: F401  (dw: fixture)
from tests.api.test_loans_api import (
    LOANS,
    approved_loan,
    disburse,
    ids,  # noqa: F401  (fixture)
    make_product,
    refs,  # noqa: F401  (fixture)
    repay,
)

D = Decimal
PRODUCTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "recalculating": {"interest_recalculation": True, "interest_recalculation_settings": InterestRecalculation()},
    "doubtful": {"days_to_npa": 10},
}


def split(transaction: dict[str, Any]) -> tuple[Any, ...]:
    return (transaction["amount"], transaction["principal"], transaction["interest"], transaction["fee"],
            transaction["penalty"], transaction["vat"], transaction["overpayment"], transaction["classification"],
            tuple((line["instalment"], line["component"], line["amount"]) for line in transaction["allocation"]))


@pytest.mark.parametrize("kind", list(PRODUCTS))
async def test_collection_splits_as_the_counter(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw, kind: str) -> None:  # noqa: F811
    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH,
                                                **PRODUCTS[kind])
    # 60,000 on the account: instalment 1 (52,658) in full, then part of instalment 2.
    collected, _account_id, schedule = await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids,
                                                         product_id, "60000")
    counter = await approved_loan(client, world, staff_user, product_id)
    assert (await disburse(client, counter, ids["cash"])).status_code == 201
    on = date.fromisoformat(schedule[1]["due_date"]) + timedelta(days=15)  # instalment 1 is 45 days late
    manager = await staff_user("branch_manager", office_id=world.office_id)
    ran = await client.post("/api/v1/loan-collections", json={"collection_date": on.isoformat()},
                            headers=manager.headers)
    assert ran.status_code == 200, ran.text
    assert ran.json()["loans_seen"] == 1, "the counter loan is not linked: only the other is collected"
    taken = (await client.get(f"{LOANS}/{collected}/transactions")).json()[-1]
    assert (taken["kind"], taken["amount"]) == ("repayment", "60000"), taken

    paid = await repay(client, counter, taken["amount"], ids["cash"], on=on)
    assert paid.status_code == 201, paid.text
    assert split(paid.json()) == split(taken)

    by_line = {(line["instalment"], line["component"]): D(line["amount"]) for line in taken["allocation"]}
    if kind == "doubtful":
        assert taken["classification"] == "doubtful"
        # Principal first in each instalment: 48,158 + 4,500 on instalment 1, then 7,342 of
        # instalment 2's principal and none of its interest.
        assert list(by_line.items()) == [((1, "principal"), D(48_158)), ((1, "interest"), D(4_500)),
                                         ((2, "principal"), D(7_342))]
    else:
        assert taken["classification"] == "healthy"
        assert next(iter(by_line)) == (1, "interest")
    if kind == "recalculating":
        # Instalment 1's principal was paid 45 days late, after instalment 2's period: that period
        # earned 1.5 % on the whole 300,000 (4,500, not the disbursement schedule's 3,778), and
        # the collection took that recalculated interest before any of instalment 2's principal.
        assert by_line[(2, "interest")] == D(4_500) > D(3_778)
        shown = (await client.get(f"{LOANS}/{collected}", params={"as_of": on.isoformat()})).json()
        kept = (await client.get(f"{LOANS}/{counter}", params={"as_of": on.isoformat()})).json()
        assert shown["loan"]["schedule"] == kept["loan"]["schedule"], "both loans keep the same recalculated schedule"
        assert shown["position"] == kept["position"]
    elif kind == "plain":
        assert by_line[(2, "interest")] == D(schedule[1]["interest_amount"]) == D(3_778)
    assert not await _verify(uow_factory)


async def test_small_windows_collect_as_one_pass(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, dw) -> None:  # noqa: F811
    """Windows of 2 loans (the keyset walk over several chunks): every loan collected once, the
    balances, outcomes and journal as one pass gives."""
    from servicing.loans import collection
    from servicing.staff.scope import OfficeScope

    product_id, _portfolio = await make_product(client, refs, world, uow_factory, AccountingRule.CASH)
    balances = ["200000", "30000", "0", "60000", "150000"]
    loans = [await linked_loan(client, world, staff_user, uow_factory, dw, refs, ids, product_id, balance)
             for balance in balances]
    schedule = loans[0][2]
    on = date.fromisoformat(schedule[1]["due_date"])
    due = D(schedule[0]["total_amount"]) + D(schedule[1]["total_amount"])
    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    summary = await collection.collect(uow_factory, on, actor="tests", scope=scope, chunk_size=2)
    assert summary.chunks == 3 and summary.loans_seen == 5
    taken = [min(D(balance), due) for balance in balances]
    assert summary.amount_collected == sum(taken, D(0))
    assert (summary.loans_collected_in_full, summary.loans_collected_in_part,
            summary.loans_with_nothing_collected) == (2, 2, 1)
    for (loan_id, account_id, _schedule), took, balance in zip(loans, taken, balances, strict=True):
        repaid = [t for t in (await client.get(f"{LOANS}/{loan_id}/transactions")).json() if t["kind"] == "repayment"]
        assert [D(t["amount"]) for t in repaid] == ([took] if took else [])
        shown = (await client.get(f"/api/v1/deposit-accounts/{account_id}")).json()
        assert D(shown["balance"]) == D(balance) - took
    again = await collection.collect(uow_factory, on, actor="tests", scope=scope, chunk_size=2)
    assert again.loans_seen == 0
    assert not await _verify(uow_factory)
