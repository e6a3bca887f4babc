"""Identifiers are made at the edge of the core: UUIDv7 (RFC 9562), time-ordered so that
journal ids index well and sort by creation."""

from __future__ import annotations

import os
import time
from uuid import UUID


def uuid7s(count: int) -> list[UUID]:
    """`count` UUIDv7 of this millisecond, from one read of the random source (a batch)."""
    milliseconds = time.time_ns() // 1_000_000
    prefix = ((milliseconds & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (0b10 << 62)
    random_bytes = os.urandom(10 * count)
    ids = []
    for offset in range(0, 10 * count, 10):
        random_bits = int.from_bytes(random_bytes[offset:offset + 10], "big")
        ids.append(UUID(int=prefix | (((random_bits >> 68) & 0xFFF) << 64) | (random_bits & ((1 << 62) - 1))))
    return ids


def uuid7() -> UUID:
    milliseconds = time.time_ns() // 1_000_000
    random_bits = int.from_bytes(os.urandom(10), "big")
    value = (milliseconds & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((random_bits >> 68) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= random_bits & ((1 << 62) - 1)
    return UUID(int=value)
