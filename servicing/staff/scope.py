"""Office scope: a staff user sees their own office and its branches only. Pure.

Controllers receive the signed-in user's `OfficeScope` (the `office_scope` dependency)
and either check a given office (`require`) or restrict a query to the subtree
(`sql_condition`, which relies on the office table's lineage: an office's lineage lists
itself and its ancestors)."""

from __future__ import annotations

import msgspec

from ledger.errors import LedgerError


class OfficeOutOfScope(LedgerError):
    code = "office-out-of-scope"
    status_hint = 403


class OfficeScope(msgspec.Struct, frozen=True, kw_only=True):
    office_id: int
    """The user's own office; the scope is it and every office below it."""
    office_ids: frozenset[int]
    whole_institution: bool = False
    """The user belongs to the head office: every office, present and future, is in scope
    (an unknown office is then reported as unknown by the command, not as out of scope)."""

    def includes(self, office_id: int | None) -> bool:
        return office_id is not None and (self.whole_institution or office_id in self.office_ids)

    def require(self, office_id: int, *, field: str = "office_id") -> int:
        """The office, if the user may act on it; a 403 naming the field otherwise."""
        if not self.includes(office_id):
            raise OfficeOutOfScope(f"office {office_id} is outside your office and its branches", field=field)
        return office_id

    def narrow(self, office_id: int | None, *, field: str = "office_id") -> int:
        """The office a listing asks for (checked), or the user's own office by default."""
        return self.office_id if office_id is None else self.require(office_id, field=field)

    def sql_condition(self, office_column: str, parameter: str = "scope_office_id") -> str:
        """SQL keeping rows whose office is in the subtree; bind `parameter` to `office_id`."""
        return f"{office_column} IN (SELECT o.id FROM office o WHERE CAST(:{parameter} AS int) = ANY(o.lineage))"


def office_subtree_condition(office_column: str, parameter: str = "office") -> str:
    """SQL keeping rows whose office is the office bound to `parameter` or one of its branches,
    or every row when it is bound to NULL (an institution-wide run, such as the close of
    business of every office)."""
    return (f"(CAST(:{parameter} AS int) IS NULL OR {office_column} IN "
            f"(SELECT o.id FROM office o WHERE CAST(:{parameter} AS int) = ANY(o.lineage)))")


def office_set_condition(office_column: str, parameter: str = "offices") -> str:
    """SQL keeping rows whose office is one of the offices bound to ``parameter`` (an array of
    office ids: exactly those, not their branches), or every row when it is bound to NULL. The
    close of business runs each step over exactly the offices that still need the day, so an
    office already closed ahead is left alone while the others catch up."""
    return (f"(CAST(:{parameter} AS int[]) IS NULL OR {office_column} = ANY(CAST(:{parameter} AS int[])))")
