"""Identifiers are made at the edge of the core: UUIDv7 (RFC 9562), time-ordered so that
journal ids index well and sort by creation."""

from __future__ import annotations

import os
import time
from uuid import UUID, SafeUUID


def uuid7s(count: int) -> list[UUID]:
    """`count` UUIDv7 of this millisecond, from one read of the random source (a batch). Each
    is made without `UUID.__init__`, whose argument checks cost more than the rest: the value
    is a 128-bit integer by construction."""
    milliseconds = time.time_ns() // 1_000_000
    prefix = ((milliseconds & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (0b10 << 62)
    random_bytes = os.urandom(10 * count)
    from_bytes = int.from_bytes
    values = [prefix | (((random_bits >> 68) & 0xFFF) << 64) | (random_bits & _LOW_62)
              for random_bits in [from_bytes(random_bytes[offset:offset + 10])
                                  for offset in range(0, 10 * count, 10)]]
    return [_uuid_of(value) for value in values]


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
    milliseconds = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((random_bits >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= random_bits & ((1 << 62) - 1)
    return UUID(int=value)
