"""Identifiers are made at the edge of the core: UUIDv7 (RFC 9562), time-ordered so that
journal ids index well and sort by creation.

The ids of one process only increase (RFC 9562 section 6.2, method 2, "monotonic random"):
within a millisecond the 74 random bits are a counter started at a random value, so ids made
one after the other, a batch's above all, land at the right end of a B-tree. PostgreSQL then
appends them to the rightmost leaf without searching the index from its root (its "fastpath"
for ascending keys), for the entries' key and for the lines' key, which starts with the entry. An id follows the
one before it: ids are names, not secrets (routes check who may read what; session tokens come
from `secrets`)."""

from __future__ import annotations

import os
import threading
import time
from uuid import UUID, SafeUUID

_FIELD_BITS = 74
"""rand_a (12 bits) and rand_b (62 bits), read as one counter."""
_SEED_BITS = _FIELD_BITS - 1
"""A new millisecond's counter starts below half the field: room for 2**73 more ids in it."""


class _Clock:
    """The last millisecond used and the counter in it, shared by the process's threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.milliseconds = -1
        self.field = 0

    def reserve(self, count: int) -> tuple[int, int]:
        """(milliseconds, first counter value) for `count` consecutive ids, after every id made
        before (a clock that steps back keeps the last millisecond)."""
        now = time.time_ns() // 1_000_000
        with self.lock:
            if now > self.milliseconds:
                self.milliseconds = now
                self.field = int.from_bytes(os.urandom(10)) >> (80 - _SEED_BITS)
            elif self.field + count >= 1 << _FIELD_BITS:  # a counter spent: borrow the next millisecond
                self.milliseconds += 1
                self.field = int.from_bytes(os.urandom(10)) >> (80 - _SEED_BITS)
            first = self.field
            self.field += count
            return self.milliseconds, first


_CLOCK = _Clock()


def _forked() -> None:
    """A forked process starts its own clock: the parent's counter, continued in two processes,
    could give both the same ids if the wall clock stepped back."""
    global _CLOCK
    _CLOCK = _Clock()


os.register_at_fork(after_in_child=_forked)


def uuid7s(count: int) -> list[UUID]:
    """`count` consecutive UUIDv7, in increasing order. Each is made without `UUID.__init__`,
    whose argument checks cost more than the rest: the value is a 128-bit integer by
    construction."""
    milliseconds, first = _CLOCK.reserve(count)
    prefix = ((milliseconds & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (0b10 << 62)
    return [_uuid_of(prefix | ((field >> 62) << 64) | (field & _LOW_62)) for field in range(first, first + count)]


_LOW_62 = (1 << 62) - 1
_new_uuid = object.__new__
_set = object.__setattr__
_UNKNOWN_SAFETY = SafeUUID.unknown
"""Read once: an Enum member read from its class goes through a property in Python 3.11, which
cost about a tenth of a 2,500-entry batch's Python when read per id."""


def _uuid_of(value: int) -> UUID:
    assert 0 <= value < 1 << 128
    made = _new_uuid(UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _UNKNOWN_SAFETY)
    return made


def uuid7() -> UUID:
    """One UUIDv7, after every id this process made before."""
    return uuid7s(1)[0]
