"""UUIDv7 ids (servicing.ids): valid version 7 / RFC 9562 variant, time-ordered, and increasing
within the process, so that a batch's ids go to the right end of the journal's indexes."""

from __future__ import annotations

import time
import uuid

from hypothesis import given
from hypothesis import strategies as st

from servicing import ids


@given(st.lists(st.integers(min_value=1, max_value=300), min_size=1, max_size=20))
def test_ids_only_increase_across_calls(counts: list[int]) -> None:
    made = [one for count in counts for one in ([ids.uuid7()] if count == 1 else ids.uuid7s(count))]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(one.version == 7 and one.variant == uuid.RFC_4122 for one in made)
    assert all(uuid.UUID(str(one)) == one for one in made)


def test_the_id_carries_the_millisecond_it_was_made_in() -> None:
    before = time.time_ns() // 1_000_000
    made = ids.uuid7()
    after = time.time_ns() // 1_000_000
    assert before <= made.int >> 80 <= after


def test_a_spent_counter_borrows_the_next_millisecond(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = ids._Clock()
    monkeypatch.setattr(ids, "_CLOCK", clock)
    first = ids.uuid7s(2)
    clock.field = (1 << ids._FIELD_BITS) - 2  # as if 2**74 ids had been made in this millisecond
    second = ids.uuid7s(3)
    assert second == sorted(second) and first[-1] < second[0]
    assert second[0].int >> 80 == clock.milliseconds


def test_a_clock_that_steps_back_keeps_the_ids_increasing(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    clock = ids._Clock()
    monkeypatch.setattr(ids, "_CLOCK", clock)
    first = ids.uuid7s(3)
    clock.milliseconds += 5_000  # the wall clock is now five seconds behind the last id
    later = ids.uuid7s(3)
    assert first[-1] < later[0] and later == sorted(later)
