"""Backdated loan events with restatement (issue 9, item 10), on real loans and real closes.

The loan: 300 000 XOF at 18 % over 6 months (instalment 1 = 48 158 principal + 4 500 interest =
52 658), the demo penalty (2 % of the overdue principal and interest after 3 grace days, monthly,
TAF 18 %: 1 053 + 190 on instalment 1, charged at the close of its due date + 4 days), and a
fast delinquency grid (0 days: sain 0 %; 1 to 5 days: souffrant 40 %; 6 days and more: 80 %),
so that five closed days age it, charge a penalty, move it to doubtful and provision it 40 %.

Each example has a **twin**: the same product in another office, the same events applied in
date order with the same days closed after them. The restated loan must end with the twin's
journal totals per account (the offices' entries, each office holding its loan only), the
twin's position, arrears state, class, provision and standing penalties: what a from-scratch
replay gives. The restatement's own entries are written out by hand.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from products.loans.product import OverduePenalty, PenaltyBase, RateOrFlat
from products.posting_rules import AccountingRule
from products.reference.model import BucketKind, DelinquencyBucket, LoanState
from servicing import offices
from servicing.close_of_business.run import close_business_days
from servicing.commands import CreateOffice
from servicing.loans.reconciliation import VERIFY_QUERIES
from servicing.reference import buckets
from tests.api.test_loans_api import TODAY, approved_loan, disburse, ids, refs  # noqa: F401  (fixtures)
from tests.servicing.test_cob_accrual import verify_problems
from tests.servicing.test_loan_classes_provisions import Books, assert_reconciled, make_product

D = Decimal
DISBURSED = TODAY - timedelta(days=100)
_offices = itertools.count(1)

GRID = (DelinquencyBucket(label="Courant", days_overdue_min=0, days_overdue_max=0, loan_state=LoanState.HEALTHY,
                          provision_rate_percent=D(0)),
        DelinquencyBucket(label="Retard 1 à 5 jours", days_overdue_min=1, days_overdue_max=5,
                          loan_state=LoanState.DOUBTFUL, provision_rate_percent=D(40)),
        DelinquencyBucket(label="Plus de 5 jours", days_overdue_min=6, days_overdue_max=None,
                          loan_state=LoanState.DOUBTFUL, provision_rate_percent=D(80)))


@pytest.fixture(autouse=True)
async def fast_grid(uow_factory) -> AsyncIterator[None]:  # type: ignore[no-untyped-def]
    """The fast grid for the test, the grid in force put back afterwards."""
    saved = [stored.bucket for stored in await buckets.list_buckets(uow_factory(), BucketKind.LOAN)]
    await buckets.replace_grid(uow_factory(), BucketKind.LOAN, GRID, "tests")
    yield
    if saved:
        await buckets.replace_grid(uow_factory(), BucketKind.LOAN, saved, "tests")


class Pair:
    """The loan restated and its twin, each alone in its office."""

    def __init__(self, books: Books, original: int, twin: int, offices: tuple[int, int], due: list[date]) -> None:
        self.books, self.original, self.twin, self.offices, self.due = books, original, twin, offices, due


async def pair(client, refs, ids, world, staff_user, uow_factory, rule: AccountingRule,  # type: ignore[no-untyped-def]  # noqa: F811
               **changes: Any) -> Pair:
    penalty = OverduePenalty(charge_id=refs.loan_penalty_id, basis=RateOrFlat.RATE, rate_percent=D(2),
                             base=PenaltyBase.OVERDUE_PRINCIPAL_AND_INTEREST)
    books = await make_product(client, refs, world, uow_factory, rule, overdue_penalty=penalty,
                               vat_on_penalties_percent=D(18), **changes)
    office = await offices.create_office(uow_factory(), CreateOffice(
        code=f"{world.prefix}-TW{next(_offices)}", name="Agence jumelle", parent_id=world.head_office_id,
        region="Thiès", opened_on=date(2026, 1, 1), actor="tests"))
    twin_world = dataclasses.replace(world, office_id=office.office_id)
    loans = []
    for where in (world, twin_world):
        loan_id = await approved_loan(client, where, staff_user, books.product_id,
                                      expected_disbursement_date=DISBURSED.isoformat())
        paid_out = await disburse(client, loan_id, ids["cash"], value_date=DISBURSED.isoformat())
        assert paid_out.status_code == 201, paid_out.text
        loans.append(loan_id)
    schedule = (await client.get(f"/api/v1/loans/{loans[0]}")).json()["loan"]["schedule"]["instalments"]
    assert (D(schedule[0]["principal_amount"]), D(schedule[0]["interest_amount"])) == (48158, 4500)
    return Pair(books, loans[0], loans[1], (world.office_id, office.office_id),
                [date.fromisoformat(i["due_date"]) for i in schedule])


async def close(uow_factory, office_id: int, first: date, last: date) -> None:  # type: ignore[no-untyped-def]
    day = first
    while day <= last:
        await close_business_days(uow_factory, day, "tests", today=TODAY, office_id=office_id)
        day += timedelta(days=1)


async def repay(client, loan_id: int, amount: str, on: date, payment_type_id: int) -> Any:  # type: ignore[no-untyped-def]
    return await client.post(f"/api/v1/loans/{loan_id}/repayments", json={
        "value_date": on.isoformat(), "amount": amount, "payment_type_id": payment_type_id,
        "receipt_number": "R-B"})


async def query(uow_factory, sql: str, **params: Any) -> list[Any]:  # type: ignore[no-untyped-def]
    async with uow_factory() as uow:
        return list((await uow.session.execute(text(sql), params)).all())


async def office_totals(uow_factory, office_id: int) -> dict[str, Decimal]:  # type: ignore[no-untyped-def]
    """Debit minus credit per account over the office's journal."""
    found = await query(uow_factory, """
        SELECT a.code, sum(CASE l.side WHEN 'D' THEN l.amount ELSE -l.amount END) AS net
          FROM journal_line l JOIN gl_account a ON a.id = l.account_id
         WHERE l.office_id = :o GROUP BY a.code""", o=office_id)
    return {row.code: D(row.net).normalize() for row in found if row.net != 0}


async def state(client, uow_factory, loan_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """What a replay must give the loan: position, status, class, arrears, provision, penalties."""
    view = (await client.get(f"/api/v1/loans/{loan_id}")).json()
    (arrears,) = await query(uow_factory, "SELECT days_overdue, status, bucket_label, classification, overdue_amount"
                                          " FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    provision = await query(uow_factory, "SELECT coalesce(sum(CASE kind WHEN 'allowance' THEN amount ELSE -amount END),"
                                         " 0) AS booked FROM loan_provision_movement WHERE loan_id = :l", l=loan_id)
    penalties = await query(uow_factory, """
        SELECT t.value_date, t.penalty, t.vat FROM loan_transaction t
         WHERE t.loan_id = :l AND t.kind = 'charge' AND t.penalty > 0
           AND NOT EXISTS (SELECT 1 FROM loan_transaction r WHERE r.reverses_transaction_id = t.id)
         ORDER BY t.value_date""", l=loan_id)
    return {"status": view["loan"]["status"], "booked": view["loan"].get("booked_classification"),
            "position": {c["component"]: (D(c["outstanding"]), D(c["overdue"]))
                         for c in view["position"]["components"]},
            "arrears": tuple(arrears), "provision": D(provision[0].booked).normalize(),
            "penalties": [(p.value_date, D(p.penalty).normalize(), D(p.vat).normalize()) for p in penalties]}


async def restated_entries(uow_factory, office_id: int) -> dict[str, set[tuple[str, str, Decimal]]]:  # type: ignore[no-untyped-def]
    """The restatement's entries of the office, by description, their lines as (account, side, amount)."""
    found = await query(uow_factory, """
        SELECT e.description, a.code, l.side, l.amount FROM journal_entry e
          JOIN journal_line l ON l.entry_id = e.id JOIN gl_account a ON a.id = l.account_id
         WHERE e.office_id = :o AND e.description LIKE 'Retraitement (restatement)%'""", o=office_id)
    entries: dict[str, set[tuple[str, str, Decimal]]] = {}
    for row in found:
        entries.setdefault(row.description, set()).add((row.code, row.side, D(row.amount).normalize()))
    return entries


async def assert_equals_replay(client, uow_factory, loans: Pair) -> None:  # type: ignore[no-untyped-def]
    assert await state(client, uow_factory, loans.original) == await state(client, uow_factory, loans.twin)
    assert await office_totals(uow_factory, loans.offices[0]) == await office_totals(uow_factory, loans.offices[1])
    await assert_reconciled(uow_factory, loans.books)
    assert await verify_problems(uow_factory) == {name: [] for name, _sql in VERIFY_QUERIES}


@pytest.mark.parametrize("rule", [AccountingRule.ACCRUAL_PERIODIC, AccountingRule.CASH])
async def test_a_repayment_backdated_to_the_due_date_undoes_the_penalty_the_class_and_the_provision(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, rule) -> None:  # noqa: F811
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, rule)
    due = loans.due[0]
    last = due + timedelta(days=4)
    # The twin: paid on its due date, then the days closed.
    assert (await repay(client, loans.twin, "52658", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], due, last)
    # The original: the days closed first, unpaid.
    await close(uow_factory, loans.offices[0], due, last)
    before = await state(client, uow_factory, loans.original)
    assert before["booked"] == "doubtful" and before["arrears"][:2] == (4, "in_arrears")
    assert before["provision"] == 120_000, "40 % of the 300 000 outstanding"
    assert before["penalties"] == [(last, 1053, 190)], "2 % of 52 658 on the 4th day after the due date"

    # The cashier enters the receipt of the due date, four closed days late.
    taken = await repay(client, loans.original, "52658", due, ids["cash"])
    assert taken.status_code == 201, taken.text
    assert taken.json()["value_date"] == due.isoformat()
    assert (D(taken.json()["principal"]), D(taken.json()["interest"])) == (48158, 4500), "the healthy order"

    after = await state(client, uow_factory, loans.original)
    assert after["booked"] == "healthy" and after["arrears"][:2] == (0, "performing")
    assert after["provision"] == 0 and after["penalties"] == []
    restatement = await query(uow_factory, "SELECT value_date, penalty, vat, journal_entry_id FROM loan_transaction"
                                           " WHERE loan_id = :l AND kind = 'penalty_reversal'", l=loans.original)
    assert [(r.value_date, r.penalty, r.vat) for r in restatement] == [(last, 1053, 190)], "dated the last closed day"
    entries = await restated_entries(uow_factory, loans.offices[0])
    b = loans.books
    (release,) = [lines for description, lines in entries.items() if "Annulation de la dotation" in description]
    assert release == {(b.provisions, "D", D(120_000)), ("662", "C", D(120_000))}, \
        "the allowance of the restated days taken back, not a reversal income"
    reclassified = [lines for description, lines in entries.items() if "Reclassement" in description]
    assert len(reclassified) == 1
    principal_back = {(b.healthy, "D", D(251_842)), (b.doubtful, "C", D(251_842))}
    assert principal_back <= reclassified[0], reclassified
    penalty_back = [lines for description, lines in entries.items() if "pénalité" in description]
    if rule is AccountingRule.CASH:
        assert penalty_back == [], "under cash the penalty was never posted: the sub-ledger only"
    else:
        (lines,) = penalty_back
        assert ("7023", "D", D(1053)) in lines and len(lines) == 2, lines
    await assert_equals_replay(client, uow_factory, loans)

    # Idempotent: the next close posts nothing more for the loan than the twin's.
    await close(uow_factory, loans.offices[0], last + timedelta(days=1), last + timedelta(days=1))
    await close(uow_factory, loans.offices[1], last + timedelta(days=1), last + timedelta(days=1))
    await assert_equals_replay(client, uow_factory, loans)


async def test_a_backdated_reversal_brings_the_penalty_the_class_and_the_provision(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    last = due + timedelta(days=4)
    await close(uow_factory, loans.offices[1], due, last)  # the twin was never paid
    paid = await repay(client, loans.original, "52658", due, ids["cash"])
    assert paid.status_code == 201, paid.text
    await close(uow_factory, loans.offices[0], due, last)
    assert (await state(client, uow_factory, loans.original))["booked"] == "healthy"

    reversed_ = await client.post(f"/api/v1/loans/{loans.original}/transactions/"
                                  f"{paid.json()['transaction_id']}/reversal")
    assert reversed_.status_code in (200, 201), reversed_.text
    after = await state(client, uow_factory, loans.original)
    assert after["booked"] == "doubtful" and after["provision"] == 120_000
    assert after["penalties"] == [(last, 1053, 190)], "charged on its own day by the restatement"
    entries = await restated_entries(uow_factory, loans.offices[0])
    b = loans.books
    (allowance,) = [lines for description, lines in entries.items() if "dotation aux provisions" in description]
    assert allowance == {("662", "D", D(120_000)), (b.provisions, "C", D(120_000))}
    (reclassified,) = [lines for description, lines in entries.items() if "Reclassement" in description]
    assert {(b.doubtful, "D", D(300_000)), (b.healthy, "C", D(300_000))} <= reclassified
    await assert_equals_replay(client, uow_factory, loans)


async def test_a_backdated_charge_is_collected_by_the_later_repayment_as_a_replay_would(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    last = due + timedelta(days=4)
    charged_on = due - timedelta(days=5)
    charge = {"value_date": charged_on.isoformat(), "amount": "2000"}
    # The twin: the fee, then the repayment of the due date, then the days closed.
    assert (await client.post(f"/api/v1/loans/{loans.twin}/charges", json=charge)).status_code == 201
    assert (await repay(client, loans.twin, "52658", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], due, last)
    # The original: repaid and closed, the fee of five days before the due date entered afterwards.
    assert (await repay(client, loans.original, "52658", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[0], due, last)
    assert (await state(client, uow_factory, loans.original))["booked"] == "healthy"
    added = await client.post(f"/api/v1/loans/{loans.original}/charges", json=charge)
    assert added.status_code == 201, added.text
    assert added.json()["value_date"] == charged_on.isoformat()
    after = await state(client, uow_factory, loans.original)
    twin = await state(client, uow_factory, loans.twin)
    assert after["position"]["fee"] == twin["position"]["fee"]
    await assert_equals_replay(client, uow_factory, loans)


async def test_refused_before_disbursement_and_in_the_future(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    for on in (DISBURSED - timedelta(days=1), TODAY + timedelta(days=1)):
        refused = await repay(client, loans.original, "1000", on, ids["cash"])
        assert refused.status_code == 422 and refused.json()["field"] == "value_date", refused.text


async def test_a_forgotten_receipt_is_taken_before_the_later_repayment_which_is_re_applied_after_it(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    paid_late = due + timedelta(days=2)
    last = due + timedelta(days=4)
    # The twin: 10 000 on the due date, the rest two days late, the days closed in between.
    assert (await repay(client, loans.twin, "10000", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], due, paid_late - timedelta(days=1))
    assert (await repay(client, loans.twin, "52658", paid_late, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], paid_late, last)
    # The original: the 10 000 of the due date is found in the till after the days were closed.
    await close(uow_factory, loans.offices[0], due, paid_late - timedelta(days=1))
    later = await repay(client, loans.original, "52658", paid_late, ids["cash"])
    assert later.status_code == 201, later.text
    await close(uow_factory, loans.offices[0], paid_late, last)
    forgotten = await repay(client, loans.original, "10000", due, ids["cash"])
    assert forgotten.status_code == 201, forgotten.text
    reapplied = await query(uow_factory, "SELECT value_date, amount, principal, interest, classification"
                                         " FROM loan_transaction WHERE loan_id = :l AND kind = 'repayment'"
                                         " ORDER BY sequence_number", l=loans.original)
    assert [(r.value_date, r.amount) for r in reapplied] == [(paid_late, 52658), (due, 10000), (paid_late, 52658)]
    assert reapplied[1].classification == "healthy", "the due date's order: the loan was healthy then"
    assert reapplied[2].classification == "doubtful", "two days late the loan was booked doubtful"
    twin = await query(uow_factory, "SELECT value_date, amount, principal, interest, classification FROM"
                                    " loan_transaction WHERE loan_id = :l AND kind = 'repayment' ORDER BY sequence_number",
                       l=loans.twin)
    assert [tuple(r) for r in reapplied[1:]] == [tuple(r) for r in twin], "the allocations of a replay"
    await assert_equals_replay(client, uow_factory, loans)
    statement = (await client.get(f"/api/v1/loans/{loans.original}/statement")).json()
    kinds = [item["transaction"]["kind"] for item in statement["items"]]
    assert kinds.count("repayment_reversal") == 1


async def test_a_closed_accounting_period_still_refuses_it(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    await close(uow_factory, loans.offices[0], due, due + timedelta(days=4))
    closed = await client.post("/api/v1/accounting-closures", json={
        "office_id": world.office_id, "closing_date": (due + timedelta(days=1)).isoformat(), "comments": "mois"})
    assert closed.status_code == 201, closed.text
    refused = await repay(client, loans.original, "52658", due, ids["cash"])
    assert refused.status_code == 409 and refused.json()["field"] == "value_date", refused.text
    assert (await state(client, uow_factory, loans.original))["booked"] == "doubtful", "nothing was written"
    # Reopened, so that the institution-wide steps of later tests can still post into this office.
    reopened = await client.delete(f"/api/v1/accounting-closures/{closed.json()['id']}")
    assert reopened.status_code == 200, reopened.text


async def test_restating_a_loan_again_posts_nothing(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    from servicing.loans.restatement import restate_loan

    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    await close(uow_factory, loans.offices[0], due, due + timedelta(days=4))
    assert (await repay(client, loans.original, "52658", due, ids["cash"])).status_code == 201
    before = await office_totals(uow_factory, loans.offices[0])
    entries = await query(uow_factory, "SELECT count(*) AS n FROM journal_entry WHERE office_id = :o", o=world.office_id)
    again = await restate_loan(uow_factory, loans.original, since=due, actor="tests")
    assert again.through == due + timedelta(days=4) and again.repayments_reapplied == 1
    assert await office_totals(uow_factory, loans.offices[0]) == before, "the same books"
    added = await query(uow_factory, "SELECT description FROM journal_entry WHERE office_id = :o ORDER BY seq"
                                     " OFFSET :n", o=world.office_id, n=entries[0].n)
    # The repayment is reversed and taken again (on the class booked now), and what it leaves on
    # the doubtful accounts it was first posted to moves back: no penalty, no provision, no accrual.
    assert len(added) <= 3 and not [d for (d,) in added if "provision" in d or "énalit" in d or "courus" in d], added


async def test_a_receipt_dated_before_the_payoff_of_a_closed_loan_is_taken_the_payoff_re_applied(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """Found by the replay property: a repayment dated before the one that paid the loan off was
    refused (the loan is closed now), where a replay takes it and turns the payoff's excess into
    an overpayment. Taken with a restatement: the payoff is reversed on its day, the loan opens
    again as of the receipt's day, the receipt is taken, the payoff re-applied after it."""
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    paid_off = due + timedelta(days=2)
    last = due + timedelta(days=4)
    # The twin: 10 000 on the due date, 400 000 (more than everything owed) two days later.
    assert (await repay(client, loans.twin, "10000", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], due, paid_off - timedelta(days=1))
    assert (await repay(client, loans.twin, "400000", paid_off, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], paid_off, last)
    # The original: closed by the 400 000, the 10 000 of the due date entered after the closes.
    await close(uow_factory, loans.offices[0], due, paid_off - timedelta(days=1))
    assert (await repay(client, loans.original, "400000", paid_off, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[0], paid_off, last)
    assert (await state(client, uow_factory, loans.original))["status"] == "closed"
    before = await office_totals(uow_factory, loans.offices[0])
    found = await repay(client, loans.original, "10000", due, ids["cash"])
    assert found.status_code == 201, found.text
    rows = await query(uow_factory, "SELECT kind, value_date, amount, principal, interest, overpayment"
                                    " FROM loan_transaction WHERE loan_id = :l AND kind LIKE 'repayment%'"
                                    " ORDER BY sequence_number", l=loans.original)
    # The payoff first took 300 000 + 15 945 interest, 84 055 over; after the receipt (4 500
    # interest, then 5 500 principal: the healthy order of the due date) it takes 294 500 +
    # 11 445 and 94 055 is over: 10 000 more owed back to the borrower.
    assert [tuple(r) for r in rows] == [
        ("repayment", paid_off, 400_000, 300_000, 15_945, 84_055),
        ("repayment_reversal", paid_off, 400_000, 300_000, 15_945, 84_055),
        ("repayment", due, 10_000, 5_500, 4_500, 0),
        ("repayment", paid_off, 400_000, 294_500, 11_445, 94_055)]
    after = await office_totals(uow_factory, loans.offices[0])
    moved = {code: after.get(code, D(0)) - before.get(code, D(0)) for code in set(before) | set(after)}
    assert {code: amount for code, amount in moved.items() if amount} == {
        "1012": 10_000, "342": -10_000, "662": -2_200, "761": 2_200}
    # Doubtful on D+1 at 40 %: of 294 500 now (117 800), not 300 000 (120 000); the payoff
    # released it all. Both movements are 2 200 smaller: each is taken back by its mirror.
    b = loans.books
    entries = await restated_entries(uow_factory, loans.offices[0])
    assert {frozenset(lines) for lines in entries.values()} == {
        frozenset({(b.provisions, "D", D(2_200)), ("662", "C", D(2_200))}),
        frozenset({("761", "D", D(2_200)), (b.provisions, "C", D(2_200))}),
        frozenset({("1012", "C", D(400_000)), (b.doubtful, "D", D(300_000)), (b.interest_doubtful, "D", D(15_945)),
                   ("342", "D", D(84_055))})}, entries
    after_state = await state(client, uow_factory, loans.original)
    assert after_state["status"] == "closed" and after_state["provision"] == 0
    assert after_state["arrears"] == (1, "in_arrears", "Retard 1 à 5 jours", "doubtful", 42_658), \
        "its last ageing (D+1, open) owes 52 658 - 10 000"
    await assert_equals_replay(client, uow_factory, loans)


@pytest.mark.parametrize("rule", [AccountingRule.ACCRUAL_PERIODIC, AccountingRule.CASH])
async def test_a_backdated_waiver_is_taken_on_its_day_and_the_penalty_follows(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory, rule) -> None:  # noqa: F811
    """Item 2 of the restatement: the 4 500 interest of instalment 1 forgiven on D+1 but entered
    after D+4 was closed. The overdue then is 48 158 principal only, so the penalty of D+4 is
    2 % x 48 158 = 963 (TAF 18 %: 173), not 1 053 (190): the restatement takes back the
    penalty charged and charges the one owed; the loan stays doubtful on 300 000 (40 %)."""
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, rule)
    due = loans.due[0]
    waived_on = due + timedelta(days=1)
    last = due + timedelta(days=4)
    waiver = {"value_date": waived_on.isoformat(), "component": "interest", "amount": "4500"}
    # The twin: the waiver entered on its day, then the days closed.
    await close(uow_factory, loans.offices[1], due, due)
    assert (await client.post(f"/api/v1/loans/{loans.twin}/waivers", json=waiver)).status_code == 201
    await close(uow_factory, loans.offices[1], waived_on, last)
    # The original: the days closed first, the waiver of D+1 entered afterwards.
    await close(uow_factory, loans.offices[0], due, last)
    assert (await state(client, uow_factory, loans.original))["penalties"] == [(last, 1053, 190)]
    taken = await client.post(f"/api/v1/loans/{loans.original}/waivers", json=waiver)
    assert taken.status_code == 201, taken.text
    assert taken.json()["value_date"] == waived_on.isoformat()
    after = await state(client, uow_factory, loans.original)
    assert after["penalties"] == [(last, 963, 173)], "2 % of the principal overdue alone"
    assert after["booked"] == "doubtful" and after["provision"] == 120_000
    entries = await restated_entries(uow_factory, loans.offices[0])
    penalty_lines = [lines for description, lines in entries.items() if "pénalité" in description.lower()]
    if rule is AccountingRule.CASH:
        assert penalty_lines == [], "under cash the penalties are the sub-ledger's only"
    else:
        assert {("7023", "D", D(1053))} < penalty_lines[0], penalty_lines
    await assert_equals_replay(client, uow_factory, loans)


async def test_a_waiver_after_a_backdated_repayment_is_forgiven_again_on_what_is_then_owed(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """A waiver of 4 500 interest on D+2 first forgave instalment 1's interest (all of it was
    owed); the repayment of 52 658 received on D, entered after D+4 was closed, pays instalment
    1 in full, so the replay's waiver forgives the next interest owed: instalment 2's, on
    300 000 - 48 158 = 251 842 at 1.5 % = 3 778, and 722 of instalment 3's. The restatement
    takes the waiver back (`waiver_reversal`) and forgives it again after the repayment."""
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    waived_on = due + timedelta(days=2)
    last = due + timedelta(days=4)
    waiver = {"value_date": waived_on.isoformat(), "component": "interest", "amount": "4500"}
    assert (await repay(client, loans.twin, "52658", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], due, waived_on - timedelta(days=1))
    assert (await client.post(f"/api/v1/loans/{loans.twin}/waivers", json=waiver)).status_code == 201
    await close(uow_factory, loans.offices[1], waived_on, last)
    await close(uow_factory, loans.offices[0], due, waived_on - timedelta(days=1))
    assert (await client.post(f"/api/v1/loans/{loans.original}/waivers", json=waiver)).status_code == 201
    await close(uow_factory, loans.offices[0], waived_on, last)
    assert (await repay(client, loans.original, "52658", due, ids["cash"])).status_code == 201

    async def waivers(loan_id: int) -> list[tuple[Any, ...]]:
        found = await query(uow_factory, "SELECT kind, value_date, interest, allocation FROM loan_transaction"
                                         " WHERE loan_id = :l AND kind LIKE 'waiver%' ORDER BY sequence_number",
                            l=loan_id)
        return [(r.kind, r.value_date, D(r.interest).normalize(),
                 [(line["instalment"], D(str(line["amount"])).normalize()) for line in r.allocation]) for r in found]

    assert await waivers(loans.twin) == [("waiver", waived_on, 4500, [(2, 3778), (3, 722)])]
    assert await waivers(loans.original) == [
        ("waiver", waived_on, 4500, [(1, 4500)]), ("waiver_reversal", waived_on, 4500, []),
        ("waiver", waived_on, 4500, [(2, 3778), (3, 722)])]
    await assert_equals_replay(client, uow_factory, loans)


async def test_an_instalment_fee_on_the_outstanding_principal_follows_a_repayment_backdated_before_it(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """Item 3: the automatic charges of the restated days are re-derived. A fee of 1 % of the
    outstanding principal falls due with each instalment (the `loan_charges` step charges it at
    the close of the due date). Closed unpaid, D's fee is 1 % x 300 000 = 3 000; the receipt of
    52 658 of D, entered after D+4, leaves 251 842 outstanding that evening: the fee is 2 518
    (rounded to the franc). The restatement takes the 3 000 back (`charge_reversal`, Dr 7022 /
    Cr the fees receivable) and charges 2 518 under a key of its own."""
    fee = await client.post("/api/v1/charges", json={
        "name": f"Commission sur encours {world.prefix}", "applies_to": "loan", "charge_time": "instalment_fee",
        "calculation": "percent_of_outstanding_principal", "amount": "1", "currency": "XOF"})
    assert fee.status_code == 201, fee.text
    fee_id = fee.json()["id"]
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC,
                       charge_ids=(refs.loan_fee_id, fee_id))
    due = loans.due[0]
    last = due + timedelta(days=4)
    assert (await repay(client, loans.twin, "52658", due, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], due, last)
    await close(uow_factory, loans.offices[0], due, last)

    async def fees(loan_id: int) -> list[tuple[Any, ...]]:
        found = await query(uow_factory, "SELECT kind, value_date, fee, idempotency_key FROM loan_transaction"
                                         " WHERE loan_id = :l AND charge_id = :c ORDER BY sequence_number",
                            l=loan_id, c=fee_id)
        return [(r.kind, r.value_date, D(r.fee).normalize(), r.idempotency_key) for r in found]

    key = f"product-charge:{fee_id}:{due.isoformat()}"
    assert await fees(loans.original) == [("charge", due, 3000, key)]
    assert await fees(loans.twin) == [("charge", due, 2518, key)]
    taken = await repay(client, loans.original, "52658", due, ids["cash"])
    assert taken.status_code == 201, taken.text
    assert await fees(loans.original) == [("charge", due, 3000, key), ("charge_reversal", due, 3000, None),
                                          ("charge", due, 2518, f"{key}:r1")]
    entries = await restated_entries(uow_factory, loans.offices[0])
    (taken_back,) = [lines for description, lines in entries.items() if "frais automatiques" in description]
    assert ("7022", "D", D(3000)) in taken_back and len(taken_back) == 2, taken_back
    await assert_equals_replay(client, uow_factory, loans)
    # The next night charges nothing more for D's occurrence.
    await close(uow_factory, loans.offices[0], last + timedelta(days=1), last + timedelta(days=1))
    await close(uow_factory, loans.offices[1], last + timedelta(days=1), last + timedelta(days=1))
    await assert_equals_replay(client, uow_factory, loans)


async def test_a_payoff_entered_late_keeps_the_ageing_of_the_day_before_it(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """Found by the replay property: a payoff dated D+2, entered after D+4 was closed, closes the
    loan on the restatement's first day. Its last ageing is D+1's, as a replay's (1 day late on
    52 658, doubtful at 40 %), not D+4's that the closes wrote before (4 days, a penalty owed)."""
    loans = await pair(client, refs, ids, world, staff_user, uow_factory, AccountingRule.ACCRUAL_PERIODIC)
    due = loans.due[0]
    paid_off = due + timedelta(days=2)
    last = due + timedelta(days=4)
    await close(uow_factory, loans.offices[1], due, paid_off - timedelta(days=1))
    assert (await repay(client, loans.twin, "400000", paid_off, ids["cash"])).status_code == 201
    await close(uow_factory, loans.offices[1], paid_off, last)
    await close(uow_factory, loans.offices[0], due, last)
    assert (await state(client, uow_factory, loans.original))["arrears"][:2] == (4, "in_arrears")
    taken = await repay(client, loans.original, "400000", paid_off, ids["cash"])
    assert taken.status_code == 201, taken.text
    after = await state(client, uow_factory, loans.original)
    assert after["status"] == "closed" and after["provision"] == 0 and after["penalties"] == []
    assert after["arrears"] == (1, "in_arrears", "Retard 1 à 5 jours", "doubtful", 52_658)
    await assert_equals_replay(client, uow_factory, loans)
