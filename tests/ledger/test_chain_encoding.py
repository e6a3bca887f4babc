"""The batch writer's canonical encoder builds exactly the bytes of `canonical_bytes`, the
definition that PostgreSQL's twin (and so `verify`) follows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from ledger.chain import CanonicalEncoder, ChainedEntry, ChainedLine, LineColumns, canonical_bytes

_TEXTS = st.text(min_size=1, max_size=40)
_OPTIONAL_TEXTS = st.none() | _TEXTS
_LINES = st.lists(
    st.tuples(st.integers(1, 2**31 - 1), st.sampled_from("DC"),
              st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("999999999999999"), places=4),
              st.sampled_from(["XOF", "EUR", "KWD", "CLF"])),
    min_size=2, max_size=6)


@given(entry_id=st.uuids(), office_id=st.integers(1, 2**31 - 1), position=st.integers(1, 2**62),
       value_date=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
       booked_offset=st.integers(0, 10**15), description=_TEXTS, source_type=_OPTIONAL_TEXTS,
       source_id=_OPTIONAL_TEXTS, actor=_TEXTS, key=_OPTIONAL_TEXTS, reverses=st.none() | st.uuids(), lines=_LINES)
def test_encoder_builds_the_canonical_bytes(
    entry_id: UUID, office_id: int, position: int, value_date: date, booked_offset: int, description: str,
    source_type: str | None, source_id: str | None, actor: str, key: str | None, reverses: UUID | None,
    lines: list[tuple[int, str, Decimal, str]],
) -> None:
    booked_at = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=booked_offset)
    encoder = CanonicalEncoder(booked_at)
    header = ChainedEntry(entry_id, office_id, position, value_date, booked_at, description, source_type, source_id,
                          actor, key, reverses, len(lines))
    chained = [ChainedLine(number, account_id, office_id, value_date, side, amount, currency)
               for number, (account_id, side, amount, currency) in enumerate(lines, start=1)]
    expected = canonical_bytes(header, chained)
    # The entry's lines as a slice of longer columns, as a batch holds them.
    padding = [(7, "D", Decimal(1), "XOF")]
    columns = [list(column) for column in zip(*(padding + lines + padding), strict=True)]
    rows = LineColumns(*columns, start=1, stop=1 + len(lines))
    for _twice in range(2):  # the second time from the encoder's caches
        assert encoder.entry(entry_id, office_id, position, value_date, description, source_type, source_id, actor,
                             key, reverses, rows) == expected
