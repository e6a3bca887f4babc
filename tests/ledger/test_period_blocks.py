"""Period blocks cover a span of days exactly: every day once, nothing outside."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ledger.period_blocks import Block, Grain, period_blocks, prefix_blocks

_DAYS = st.dates(min_value=date(2019, 1, 1), max_value=date(2031, 12, 31))


def _days_of(block: Block, earliest: date) -> list[date]:
    """Every day of the block's periods, from its first period's first day to its last period's last."""
    last = block.last_start
    if block.grain is Grain.YEAR:
        end = date(last.year, 12, 31)
    elif block.grain is Grain.MONTH:
        end = date(last.year + last.month // 12, last.month % 12 + 1, 1) - timedelta(days=1)
    else:
        end = last
    first = block.first_start or earliest
    return [first + timedelta(days=n) for n in range((end - first).days + 1)]


def _covered(blocks: list[Block], earliest: date) -> list[date]:
    days: list[date] = []
    for block in blocks:
        days.extend(_days_of(block, earliest))
    return days


@given(_DAYS, _DAYS)
def test_blocks_cover_the_span_exactly_once(a: date, b: date) -> None:
    since, through = min(a, b), max(a, b)
    covered = _covered(period_blocks(since, through), since)
    expected = [since + timedelta(days=n) for n in range((through - since).days + 1)]
    assert covered == expected


@given(_DAYS)
def test_from_the_beginning_covers_every_day_through_the_date(through: date) -> None:
    earliest = date(2019, 1, 1)
    covered = _covered(period_blocks(None, through), earliest)
    assert covered == [earliest + timedelta(days=n) for n in range((through - earliest).days + 1)]


@given(_DAYS, _DAYS)
def test_at_most_five_runs_whose_periods_start_on_their_grain(a: date, b: date) -> None:
    blocks = period_blocks(min(a, b), max(a, b))
    assert len(blocks) <= 5
    for block in blocks:
        for start in (block.first_start, block.last_start):
            if start is not None and block.grain is Grain.YEAR:
                assert (start.month, start.day) == (1, 1)
            if start is not None and block.grain is Grain.MONTH:
                assert start.day == 1


def test_a_hand_checked_span() -> None:
    assert period_blocks(date(2024, 1, 15), date(2026, 3, 10)) == [
        Block(Grain.DAY, date(2024, 1, 15), date(2024, 1, 31)),
        Block(Grain.MONTH, date(2024, 2, 1), date(2024, 12, 1)),
        Block(Grain.YEAR, date(2025, 1, 1), date(2025, 1, 1)),
        Block(Grain.MONTH, date(2026, 1, 1), date(2026, 2, 1)),
        Block(Grain.DAY, date(2026, 3, 1), date(2026, 3, 10)),
    ]
    assert period_blocks(None, date(2025, 12, 31)) == [Block(Grain.YEAR, None, date(2025, 1, 1))]
    assert period_blocks(date(2025, 3, 2), date(2025, 3, 1)) == []


@given(_DAYS)
def test_signed_prefix_blocks_add_up_to_every_day_through_the_date(through: date) -> None:
    earliest = date(2019, 1, 1)
    weight: dict[date, int] = {}
    for block in prefix_blocks(through):
        for day in _days_of(block, earliest):
            weight[day] = weight.get(day, 0) + block.sign
    assert {day for day, w in weight.items() if w != 0} == {
        earliest + timedelta(days=n) for n in range((through - earliest).days + 1)}
    assert set(weight.values()) <= {0, 1}


@given(_DAYS)
def test_signed_prefix_blocks_keep_one_sign_per_grain_and_read_fewer_periods(through: date) -> None:
    blocks = prefix_blocks(through)
    signs: dict[Grain, set[int]] = {}
    for block in blocks:
        signs.setdefault(block.grain, set()).add(block.sign)
    assert all(len(s) == 1 for s in signs.values())

    def periods(blocks: list[Block]) -> int:
        return sum(len(_days_of(b, through)) if b.grain is Grain.DAY else
                   (b.last_start.month - (b.first_start or b.last_start).month + 1 if b.grain is Grain.MONTH else 0)
                   for b in blocks)
    assert periods(blocks) <= periods(period_blocks(None, through))


def test_signed_prefix_hand_checked() -> None:
    assert prefix_blocks(date(2024, 7, 16)) == [
        Block(Grain.YEAR, None, date(2024, 1, 1)),
        Block(Grain.MONTH, date(2024, 8, 1), date(2024, 12, 1), sign=-1),
        Block(Grain.DAY, date(2024, 7, 17), date(2024, 7, 31), sign=-1),
    ]
