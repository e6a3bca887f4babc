"""Offices form a tree (head office, branches). An office's lineage is itself and its
ancestors, nearest first: closures and reports that include branches work on it."""

from __future__ import annotations

import msgspec

from ledger.errors import UnknownOffice
from ledger.limits import OFFICE_DEPTH_MAX


class Office(msgspec.Struct, frozen=True, kw_only=True):
    office_id: int
    code: str
    name: str
    parent_id: int | None
    region: str | None
    lineage: tuple[int, ...]


def lineage_for(parent: Office | None, office_id: int) -> tuple[int, ...]:
    """Lineage of a new office under `parent` (None for the head office)."""
    if parent is None:
        return (office_id,)
    if len(parent.lineage) >= OFFICE_DEPTH_MAX:
        raise UnknownOffice(f"offices nest at most {OFFICE_DEPTH_MAX} levels deep", field="parent_id")
    return (office_id, *parent.lineage)
