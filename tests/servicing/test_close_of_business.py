"""The close-of-business run: days close in order, a missed day is caught up, a closed day is
not run again, a run that dies halfway is resumed at its unfinished step and ends with exactly
the entries of an uninterrupted run, and two runs never overlap.

Business days are kept per office in the whole test database and their records are append-only,
so every test starts the day after the institution's last closed day (`next_day`): the day
through which every office that ever closed has closed. Other tests close offices of their own
alone, years ahead of it (their loans' dates are near today): an institution close leaves those
offices alone, so the days it closes and the steps it runs are the same whatever ran before.
The listings are read for the head office (in every institution close) for the same reason."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from servicing.close_of_business.model import StepOutcome
from servicing.close_of_business.run import _LOCK_KEY, close_business_days, closed_days
from servicing.close_of_business.steps import STEPS, Step
from servicing.errors import Conflict, InvalidInput
from tests.servicing.test_journal_service import deposit

TODAY = date.today()
FIRST_DAY = date(2021, 3, 1)


async def institution_closed_through(uow_factory: Any) -> date | None:
    """The day through which every office that ever closed a day has closed: the day an
    institution close starts after (offices closed ahead alone are beyond it). Not the latest
    day any office closed: after an office of another test closed a day of this year alone,
    the day after it would make the institution catch up years (refused past 366 days)."""
    async with uow_factory() as uow:
        last: date | None = await uow.session.scalar(text(
            "SELECT min(last) FROM (SELECT max(business_date) AS last FROM business_day GROUP BY office_id) o"))
    return last


async def next_day(uow_factory: Any) -> date:
    last = await institution_closed_through(uow_factory)
    return FIRST_DAY if last is None else last + timedelta(days=1)


class PostingStep:
    """A real step: posts one journal entry per business day, idempotent by its key (as every
    shipped step is idempotent by its own keys). Counts how often it ran and can be told to
    die after posting, as a process killed between a step's commit and its record would."""

    def __init__(self, journal: Any, world: Any, tag: str) -> None:
        self.journal, self.world, self.tag = journal, world, tag
        self.runs: Counter[date] = Counter()
        self.die_on: set[date] = set()

    async def __call__(self, _uow_factory: Any, day: date, _actor: str, _scope: Any = None) -> StepOutcome:
        self.runs[day] += 1
        await self.journal.post(deposit(self.world, "1000", key=f"cob-{self.tag}-{day}", day=day))
        if day in self.die_on:
            self.die_on.discard(day)
            raise RuntimeError("killed after posting, before the step was recorded")
        return StepOutcome(items=1, entries=1, detail={"tag": self.tag})

    def step(self) -> Step:
        return Step(name=f"post_{self.tag}", label=f"Écriture {self.tag}", run=self)


async def recorded_offices(uow_factory: Any, day: date) -> set[int]:
    """The offices that closed ``day``."""
    async with uow_factory() as uow:
        return set((await uow.session.scalars(text(
            "SELECT office_id FROM business_day WHERE business_date = :d"), {"d": day})).all())


async def entries_keyed(uow_factory: Any, tag: str) -> int:
    async with uow_factory() as uow:
        count: int = await uow.session.scalar(text(
            "SELECT count(*) FROM journal_entry WHERE idempotency_key LIKE :k"), {"k": f"cob-{tag}-%"})
    return count


async def test_days_close_in_order_and_missed_days_are_caught_up(uow_factory, journal, world, head_office) -> None:  # type: ignore[no-untyped-def]
    first, second = PostingStep(journal, world, "order-a"), PostingStep(journal, world, "order-b")
    steps = (first.step(), second.step())
    start = await next_day(uow_factory)
    run = await close_business_days(uow_factory, start, "tests", today=TODAY, steps=steps)
    assert [d.business_date for d in run.days] == [start]
    run = await close_business_days(uow_factory, start + timedelta(days=3), "tests", today=TODAY, steps=steps)
    assert run.last_closed_before == start
    assert [d.business_date for d in run.days] == [start + timedelta(days=n) for n in (1, 2, 3)]
    for day in run.days:
        assert [(s.position, s.step, s.items, s.entries, s.resumed) for s in day.steps] == [
            (1, "post_order-a", 1, 1, False), (2, "post_order-b", 1, 1, False)]
    assert await entries_keyed(uow_factory, "order-a") == 4 == await entries_keyed(uow_factory, "order-b")
    listed = await closed_days(uow_factory, limit=4, office_id=head_office.office_id)
    assert [d.business_date for d in listed] == [start + timedelta(days=n) for n in (3, 2, 1, 0)]
    assert [s.step for s in listed[0].steps] == ["post_order-a", "post_order-b"]


async def test_a_closed_day_is_not_run_again(uow_factory, journal, world) -> None:  # type: ignore[no-untyped-def]
    posting = PostingStep(journal, world, "again")
    day = await next_day(uow_factory)
    await close_business_days(uow_factory, day, "tests", today=TODAY, steps=(posting.step(),))
    again = await close_business_days(uow_factory, day, "tests", today=TODAY, steps=(posting.step(),))
    assert again.days == () and again.last_closed_before == day
    earlier = await close_business_days(uow_factory, day - timedelta(days=1), "tests", today=TODAY,
                                        steps=(posting.step(),))
    assert earlier.days == ()
    assert posting.runs == Counter({day: 1})
    assert await entries_keyed(uow_factory, "again") == 1


async def test_a_run_killed_halfway_is_resumed_with_the_entries_of_an_uninterrupted_run(  # type: ignore[no-untyped-def]
        uow_factory, journal, world) -> None:
    first, second, third = (PostingStep(journal, world, f"resume-{n}") for n in (1, 2, 3))
    steps = (first.step(), second.step(), third.step())
    day = await next_day(uow_factory)
    second.die_on.add(day + timedelta(days=1))
    ahead = await recorded_offices(uow_factory, day + timedelta(days=1))  # offices of other tests closed alone
    with pytest.raises(RuntimeError, match="killed"):
        await close_business_days(uow_factory, day + timedelta(days=1), "tests", today=TODAY, steps=steps)
    # The first day closed; the second did not, for any office.
    assert await institution_closed_through(uow_factory) == day
    assert await recorded_offices(uow_factory, day + timedelta(days=1)) == ahead
    run = await close_business_days(uow_factory, day + timedelta(days=1), "tests", today=TODAY, steps=steps)
    (resumed,) = run.days
    assert [(s.step, s.resumed) for s in resumed.steps] == [
        ("post_resume-1", True), ("post_resume-2", False), ("post_resume-3", False)]
    assert first.runs[day + timedelta(days=1)] == 1 and second.runs[day + timedelta(days=1)] == 2
    for tag in ("resume-1", "resume-2", "resume-3"):  # one entry per step and day, as without the crash
        assert await entries_keyed(uow_factory, tag) == 2


async def test_two_runs_never_overlap(uow_factory, journal, world, engine) -> None:  # type: ignore[no-untyped-def]
    posting = PostingStep(journal, world, "overlap")
    day = await next_day(uow_factory)
    async with engine.connect() as other_run:
        assert await other_run.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY})
        with pytest.raises(Conflict) as refused:
            await close_business_days(uow_factory, day, "tests", today=TODAY, steps=(posting.step(),))
        assert refused.value.field == "business_date"
        await other_run.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})
    assert posting.runs == Counter()
    assert [d.business_date for d in (await close_business_days(
        uow_factory, day, "tests", today=TODAY, steps=(posting.step(),))).days] == [day]


async def test_a_day_that_has_not_begun_cannot_be_closed(uow_factory) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as refused:
        await close_business_days(uow_factory, TODAY + timedelta(days=1), "tests", today=TODAY, steps=())
    assert refused.value.field == "business_date"


async def test_the_shipped_steps_run_in_their_order(uow_factory) -> None:  # type: ignore[no-untyped-def]
    day = await next_day(uow_factory)
    run = await close_business_days(uow_factory, day, "tests", today=TODAY)
    (closed,) = run.days
    assert [s.step for s in closed.steps] == [step.name for step in STEPS] == [
        "term_deposit_interest", "term_deposit_maturity", "deposit_interest", "loan_accrual", "loan_charges",
        "loan_collection", "loan_savings", "loan_arrears", "loan_penalties", "loan_classification",
        "loan_provisioning", "loan_write_off"]
    assert all(s.entries >= 0 and s.finished_at >= s.started_at for s in closed.steps)


async def test_close_of_business_over_http(client, uow_factory, staff_user, head_office) -> None:  # type: ignore[no-untyped-def]
    day = await next_day(uow_factory)
    response = await client.post("/api/v1/business-days/close", json={"business_date": day.isoformat()})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["business_date"] for d in body["days"]] == [day.isoformat()]
    assert [s["step"] for s in body["days"][0]["steps"]] == [step.name for step in STEPS]
    again = await client.post("/api/v1/business-days/close", json={"business_date": day.isoformat()})
    assert again.status_code == 200 and again.json()["days"] == []
    future = await client.post("/api/v1/business-days/close",
                               json={"business_date": (TODAY + timedelta(days=2)).isoformat()})
    assert future.status_code in (400, 422) and future.json()["field"] == "business_date", future.text
    listed = await client.get("/api/v1/business-days", params={"limit": 1, "office_id": head_office.office_id})
    assert listed.status_code == 200 and listed.json()[0]["business_date"] == day.isoformat()
    teller = await staff_user("teller")
    refused = await client.post("/api/v1/business-days/close", json={"business_date": day.isoformat()},
                                headers=teller.headers)
    assert refused.status_code == 403
    accountant = await staff_user("accountant")
    allowed = await client.get("/api/v1/business-days", headers=accountant.headers)
    assert allowed.status_code == 200
