"""The outbox: an event is written with its business transaction (never for one that rolled
back), once per fact, and published in a gap-free feed where each event appears once and one
subject's events keep the order they were written in, even when transactions commit out of
the order of their ids or of their transaction ids."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date

from sqlalchemy import text

from servicing.outbox import OutboxEvent, publish, read_feed, record_events

_subjects = itertools.count(1_000_000)


def event(subject_id: int, fact: str, **fields: object) -> OutboxEvent:
    return OutboxEvent(event_type="instalment.overdue", subject_type="loan", subject_id=subject_id,
                       occurred_on=date(2026, 11, 20), dedup_key=f"test:{subject_id}:{fact}",
                       payload={"fact": fact}, **fields)  # type: ignore[arg-type]


async def feed_of(uow_factory, subject_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.payload["fact"] for e in await read_feed(uow_factory, limit=10_000) if e.subject_id == subject_id]


async def test_each_fact_is_written_once_and_published_once_in_order(uow_factory) -> None:  # type: ignore[no-untyped-def]
    subject = next(_subjects)
    async with uow_factory() as uow:
        assert await record_events(uow, [event(subject, "a"), event(subject, "b"), event(subject, "a")]) == 2
        await uow.commit()
    async with uow_factory() as uow:
        assert await record_events(uow, [event(subject, "b"), event(subject, "c")]) == 1
        await uow.commit()
    assert await feed_of(uow_factory, subject) == ["a", "b", "c"]
    everything = await read_feed(uow_factory, limit=10_000)
    positions = [e.position for e in everything]
    assert positions == list(range(positions[0], positions[0] + len(positions)))  # no gap
    assert await read_feed(uow_factory, after=positions[-1]) == []
    assert await publish(uow_factory) == 0


async def test_an_event_of_a_rolled_back_transaction_is_never_published(uow_factory) -> None:  # type: ignore[no-untyped-def]
    subject = next(_subjects)
    async with uow_factory() as uow:
        await record_events(uow, [event(subject, "never")])  # not committed: rolled back on exit
    async with uow_factory() as uow:
        await record_events(uow, [event(subject, "kept")])
        await uow.commit()
    assert await feed_of(uow_factory, subject) == ["kept"]


async def test_an_event_committed_late_is_published_after_not_skipped(uow_factory) -> None:  # type: ignore[no-untyped-def]
    early, late = next(_subjects), next(_subjects)
    async with uow_factory() as slow:
        await record_events(slow, [event(late, "written first, committed last")])  # the lower id
        async with uow_factory() as quick:
            await record_events(quick, [event(early, "written second, committed first")])
            await quick.commit()
        assert await feed_of(uow_factory, early) == ["written second, committed first"]
        assert await feed_of(uow_factory, late) == []
        await slow.commit()
    assert await feed_of(uow_factory, late) == ["written first, committed last"]
    positions = {e.subject_id: e.position for e in await read_feed(uow_factory, limit=10_000)}
    assert positions[late] > positions[early]


async def test_one_subjects_events_keep_their_order_whatever_the_transaction_ids(  # type: ignore[no-untyped-def]
        uow_factory, head_office) -> None:
    """The second writer takes its transaction id first (it writes another event before it
    waits for the subject's lock) yet writes its event about the subject after the first
    writer's: the feed follows the writing order, not the transaction ids."""
    subject, other = next(_subjects), next(_subjects)
    lock = text("SELECT id FROM office WHERE id = :o FOR UPDATE")  # stands for the loan row's lock
    office_id = head_office.office_id
    first_holds_lock = asyncio.Event()

    async def second_writer() -> None:
        async with uow_factory() as uow:
            await record_events(uow, [event(other, "takes an xid early")])
            await first_holds_lock.wait()
            await uow.session.execute(lock, {"o": office_id})  # waits for the first writer's commit
            await record_events(uow, [event(subject, "second")])
            await uow.commit()

    async def first_writer() -> None:
        async with uow_factory() as uow:
            await uow.session.execute(lock, {"o": office_id})
            first_holds_lock.set()
            await asyncio.sleep(0.2)
            await record_events(uow, [event(subject, "first")])
            await uow.commit()

    second = asyncio.create_task(second_writer())
    await asyncio.sleep(0.1)
    await first_writer()
    await second
    assert await feed_of(uow_factory, subject) == ["first", "second"]


async def test_the_feed_over_http(client, uow_factory, staff_user) -> None:  # type: ignore[no-untyped-def]
    subject = next(_subjects)
    async with uow_factory() as uow:
        await record_events(uow, [event(subject, "http")])
        await uow.commit()
    response = await client.get("/api/v1/outbox-events", params={"limit": 1000, "event_type": "instalment.overdue"})
    assert response.status_code == 200, response.text
    mine = [e for e in response.json() if e["subject_id"] == subject]
    assert [(e["payload"], e["dedup_key"]) for e in mine] == [({"fact": "http"}, f"test:{subject}:http")]
    after = await client.get("/api/v1/outbox-events", params={"after": mine[0]["position"], "limit": 1000})
    assert all(e["position"] > mine[0]["position"] for e in after.json())
    bad = await client.get("/api/v1/outbox-events", params={"event_type": "DROP TABLE"})
    assert bad.status_code == 400 and "event_type" in bad.text
    teller = await staff_user("teller")
    assert (await client.get("/api/v1/outbox-events", headers=teller.headers)).status_code == 403
