"""Close of business, re-runs and catch-up (issue 9, items 1-2), with the journal lines by hand.

A re-run of a day's ageing reads the arrears status of the close *before* the day, not the state
its first run wrote: a loan held in NPA by the product's exit rule (out only when its arrears
are fully paid) stays there, and the steps after it post nothing the second time. The catch-up
over a loan closed since the day it ages is in tests/servicing/test_cob_replay_property.py
(`test_a_loan_paid_off_before_a_catch_up_is_closed_as_day_by_day`)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from products.posting_rules import AccountingRule
from servicing.loans import movements
from servicing.staff.scope import OfficeScope
from tests.api.test_loans_api import TODAY, entry_lines, ids, lines, refs, repay  # noqa: F401  (fixtures)
from tests.servicing.test_loan_classes_provisions import (  # noqa: F401  (fixtures: the RCSFD grid, no release on repayment)
    assert_reconciled,
    close,
    late_loan,
    loan_transactions,
    make_product,
    no_release_on_repayment,
    provision_entries,
    rcsfd_grid,
    rows,
)

D = Decimal


async def _entries_of(uow_factory: Any, loan_id: int) -> int:
    """Journal entries carrying the loan (its own, or shared ones holding its share)."""
    async with uow_factory() as uow:
        count: int = await uow.session.scalar(text(
            "SELECT count(DISTINCT e) FROM (SELECT journal_entry_id AS e FROM loan_transaction WHERE loan_id = :l"
            " UNION SELECT journal_entry_id FROM loan_provision_movement WHERE loan_id = :l) x WHERE e IS NOT NULL"),
            {"l": loan_id})
    return count


async def test_a_re_run_of_the_day_keeps_a_loan_held_in_npa(client, refs, ids, world, staff_user,  # noqa: F811  # type: ignore[no-untyped-def]
                                                            uow_factory) -> None:
    """300,000 XOF in 6 monthly instalments, cash rule, NPA after 90 days, NPA exit only when
    the arrears are fully paid (the product's default). Day A, 100 days after the first due
    date: non-performing, reclassified doubtful (Dr doubtful 300,000 / Cr healthy 300,000) and
    provisioned at 40 % (Dr 662 120,000 / Cr provisions 120,000). Day B, 5 days later, the first
    instalment is paid: the oldest unpaid instalment is now the second (less than 90 days
    overdue, 0 % bucket), but arrears remain, so the exit rule holds it in NPA (doubtful);
    the provision follows the bucket down (Dr provisions 120,000 / Cr 761 120,000). Day B
    closed again (a resumed run): the status before the day is still non-performing (the
    state of day A, not the one day B's first run wrote), so the loan stays NPA and doubtful,
    and nothing is posted: no reclassification to healthy, no provision movement."""
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day_a = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    day_b = day_a + timedelta(days=5)
    assert day_b < TODAY
    await close(uow_factory, day_a)
    (state_a,) = await rows(uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert (state_a.status, state_a.classification, state_a.days_overdue) == ("non_performing", "doubtful", 100)

    paid = await repay(client, loan_id, schedule[0]["total_amount"], ids["cash"], on=day_b)
    assert paid.status_code == 201, paid.text
    await close(uow_factory, day_b)
    (state_b,) = await rows(uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert (state_b.business_date, state_b.status, state_b.prior_status) == (day_b, "non_performing", "non_performing")
    assert state_b.days_overdue < 90 and state_b.provision_rate_percent == 0
    (release,) = await provision_entries(uow_factory, loan_id, day_b)
    assert (release.kind, release.classification, release.amount) == ("release", "doubtful", 120000)
    release_lines = await entry_lines(uow_factory, release.journal_entry_id)
    assert (books.provisions, "D", D(120000)) in release_lines and ("761", "C", D(120000)) in release_lines
    entries = await _entries_of(uow_factory, loan_id)

    again = await close(uow_factory, day_b)
    (state_again,) = await rows(uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert (state_again.status, state_again.classification, state_again.prior_status) == (
        "non_performing", "doubtful", "non_performing")
    assert again["classification"].detail.get("reclassified", "0") == "0"
    assert again["provisioning"].entries == 0 and again["write_off"].entries == 0
    assert [t.classification for t in await loan_transactions(uow_factory, loan_id, "reclassification")] == [
        "doubtful"]
    assert await provision_entries(uow_factory, loan_id, day_b) == [release]
    assert await _entries_of(uow_factory, loan_id) == entries, "the re-run posts nothing"
    (move,) = await loan_transactions(uow_factory, loan_id, "reclassification")
    assert await entry_lines(uow_factory, move.journal_entry_id) == lines(
        (books.doubtful, "D", 300000), (books.healthy, "C", 300000))
    await assert_reconciled(uow_factory, books)


async def test_a_catch_up_releases_a_paid_off_loans_provision_on_the_day_it_closed(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """The same loan, doubtful and provisioned at 40 % on day A (Dr 662 120,000 / Cr provisions
    120,000), paid off on day A + 25 (its payoff quote) before days A + 1 to A + 25 are closed,
    the release on repayment off (the evening releases it). The catch-up closes the days one by
    one: on A + 1 to A + 24 the loan was still in the portfolio, provisioned (a release on A + 1
    would show it unprovisioned on days it was doubtful); on A + 25, the day it closed, the
    provision is released: Dr provisions 120,000 / Cr 761 120,000. The loan is aged through
    A + 24 (its last day open: 124 days overdue, non-performing), and no reminder is written
    for it on those days (its fifth instalment fell due in between: a settled loan is not
    reminded of it)."""
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day_a = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    payoff_day = day_a + timedelta(days=25)
    assert payoff_day < TODAY
    assert any(day_a < date.fromisoformat(p["due_date"]) < payoff_day for p in schedule)
    await close(uow_factory, day_a)
    (allowance,) = await provision_entries(uow_factory, loan_id, day_a)
    assert (allowance.kind, allowance.amount) == ("allowance", 120000)

    scope = OfficeScope(office_id=world.office_id, office_ids=frozenset({world.office_id}))
    quote = await movements.payoff_quote(uow_factory(), loan_id, scope=scope, on=payoff_day)
    paid = await repay(client, loan_id, str(quote.total), ids["cash"], on=payoff_day)
    assert paid.status_code == 201, paid.text
    (loan,) = await rows(uow_factory, "SELECT status, closed_on FROM loan WHERE id = :l", l=loan_id)
    assert tuple(loan) == ("closed", payoff_day)

    for offset in range(1, 25):
        await close(uow_factory, day_a + timedelta(days=offset))
        assert await provision_entries(uow_factory, loan_id, day_a + timedelta(days=offset)) == []
    (state,) = await rows(uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert (state.business_date, state.days_overdue, state.status) == (
        day_a + timedelta(days=24), 124, "non_performing")
    assert await rows(uow_factory, "SELECT event_type, occurred_on FROM outbox_event WHERE subject_type = 'loan'"
                                   " AND subject_id = :l AND occurred_on > :a", l=loan_id, a=day_a) == []
    await close(uow_factory, payoff_day)
    (release,) = await provision_entries(uow_factory, loan_id, payoff_day)
    assert (release.kind, release.classification, release.amount) == ("release", "doubtful", 120000)
    release_lines = await entry_lines(uow_factory, release.journal_entry_id)
    assert (books.provisions, "D", D(120000)) in release_lines and ("761", "C", D(120000)) in release_lines
    (state,) = await rows(uow_factory, "SELECT business_date FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert state.business_date == day_a + timedelta(days=24), "not aged after the day it closed"
    await assert_reconciled(uow_factory, books)


async def test_a_loan_written_off_before_a_catch_up_is_aged_until_then(  # type: ignore[no-untyped-def]
        client, refs, ids, world, staff_user, uow_factory) -> None:  # noqa: F811
    """The same doubtful loan (day A: 100 days overdue, provisioned 120,000) written off on
    A + 3 before A + 1 to A + 3 are closed: the write-off records the day it left the portfolio
    (``closed_on``), the catch-up ages it on A + 1 and A + 2 (102 days overdue, its last day
    open) and not after; no provision moves on those days (the write-off used the 120,000:
    Dr provisions 120,000, the rest of the 300,000 to losses, Cr doubtful portfolio 300,000).
    Its reversal makes it active again (``closed_on`` cleared) and the next close ages it."""
    books = await make_product(client, refs, world, uow_factory, AccountingRule.CASH, days_to_npa=90)
    loan_id, schedule = await late_loan(client, world, staff_user, ids, books)
    day_a = date.fromisoformat(schedule[0]["due_date"]) + timedelta(days=100)
    written_on = day_a + timedelta(days=3)
    assert written_on + timedelta(days=1) < TODAY
    await close(uow_factory, day_a)
    url = f"/api/v1/loans/{loan_id}"
    written = await client.post(f"{url}/write-off", json={"reason": "Client disparu",
                                                          "value_date": written_on.isoformat()})
    assert written.status_code == 201, written.text
    written_lines = await entry_lines(uow_factory, written.json()["journal_entry_id"])
    assert (books.provisions, "D", D(120000)) in written_lines and (books.doubtful, "C", D(300000)) in written_lines
    (loan,) = await rows(uow_factory, "SELECT status, closed_on FROM loan WHERE id = :l", l=loan_id)
    assert tuple(loan) == ("written_off", written_on)

    for offset in range(1, 4):
        outcome = await close(uow_factory, day_a + timedelta(days=offset))
        assert outcome["provisioning"].entries == 0 and outcome["classification"].entries == 0
    (state,) = await rows(uow_factory, "SELECT * FROM loan_arrears_state WHERE loan_id = :l", l=loan_id)
    assert (state.business_date, state.days_overdue, state.status) == (
        day_a + timedelta(days=2), 102, "non_performing")

    reinstated = await client.post(f"{url}/write-off/reversal")
    assert reinstated.status_code == 201, reinstated.text
    (loan,) = await rows(uow_factory, "SELECT status, closed_on FROM loan WHERE id = :l", l=loan_id)
    assert tuple(loan) == ("active", None)
    await close(uow_factory, written_on + timedelta(days=1))
    (state,) = await rows(uow_factory, "SELECT business_date, days_overdue FROM loan_arrears_state WHERE loan_id = :l",
                          l=loan_id)
    assert tuple(state) == (written_on + timedelta(days=1), 104)
    await assert_reconciled(uow_factory, books)
