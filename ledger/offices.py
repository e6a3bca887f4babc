"""Offices form a tree (head office, branches). An office's lineage is itself and its
ancestors, nearest first: closures and reports that include branches work on it."""

from __future__ import annotations

import msgspec


class Office(msgspec.Struct, frozen=True, kw_only=True):
    office_id: int
    code: str
    name: str
    parent_id: int | None
    region: str | None
    lineage: tuple[int, ...]
