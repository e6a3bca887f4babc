"""Two fresh `grandlivre demo` runs end with the same books. The term-deposit demo picks its
clients by id (their gender and age decide its rates): ids that followed whichever concurrent
creation committed first gave another interest total from one run to the next. And its opening
dates were drawn over "through yesterday", which moved every one of them from one day to the next."""

from __future__ import annotations

from datetime import date, timedelta

import msgspec
from sqlalchemy import text

from servicing.clients.model import ClientType
from servicing.deposits.demo import _profile, onboard_in_order
from servicing.term_deposits.demo import FIRST_DAY, LAST_OPENING_DAY, deposits_drawn


async def test_the_nth_profile_gets_the_nth_new_client_id_even_onboarded_concurrently(uow_factory, world) -> None:  # type: ignore[no-untyped-def]
    profiles = [(msgspec.structs.replace(_profile(ClientType.INDIVIDUAL, n, world.office_id),
                                         national_id=f"{world.prefix}-CNI-{n:03d}"), 90_000 + n) for n in range(24)]
    client_ids = await onboard_in_order(uow_factory, profiles, concurrency=8)
    assert client_ids == sorted(client_ids)
    async with uow_factory() as uow:
        stored = dict((await uow.session.execute(text(
            "SELECT id, national_id FROM client WHERE id = ANY(:ids)"), {"ids": client_ids})).all())
        active = await uow.session.scalar(text(
            "SELECT count(*) FROM client WHERE id = ANY(:ids) AND status = 'active'"), {"ids": client_ids})
    assert [stored[c] for c in client_ids] == [p.national_id for p, _ in profiles]
    assert active == len(profiles)


def test_a_later_run_opens_the_same_term_deposits_on_the_same_dates_and_more() -> None:
    every = deposits_drawn(LAST_OPENING_DAY)
    assert every == deposits_drawn(LAST_OPENING_DAY + timedelta(days=400))
    for day in (FIRST_DAY, date(2026, 6, 30), date(2026, 10, 31), date(2026, 11, 23)):
        drawn = deposits_drawn(day)
        assert drawn == [d for d in every if d.opened_on <= day]
        assert drawn == deposits_drawn(day)
    assert 0 < len(deposits_drawn(date(2026, 10, 31))) < len(every)
