"""Closures, and the direction of imports (the pure core imports no I/O)."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from ledger.errors import ClosureError, PeriodClosed
from ledger.periods import Closure, check_new_closure, check_open, check_undo, closed_through

ROOT = Path(__file__).resolve().parents[2]


def test_head_office_closure_covers_its_branches() -> None:
    closures = [Closure(closure_id=1, office_id=1, closing_date=date(2026, 10, 15)),
                Closure(closure_id=2, office_id=2, closing_date=date(2026, 10, 20))]
    assert closed_through(closures, (3, 1)) == date(2026, 10, 15)
    assert closed_through(closures, (2, 1)) == date(2026, 10, 20)
    assert closed_through(closures, (4,)) is None


def test_posting_on_or_before_the_closing_date_is_refused() -> None:
    check_open(date(2026, 10, 16), date(2026, 10, 15))
    with pytest.raises(PeriodClosed):
        check_open(date(2026, 10, 15), date(2026, 10, 15))


def test_closures_move_forward_and_are_undone_latest_first() -> None:
    first = Closure(closure_id=1, office_id=1, closing_date=date(2026, 9, 30))
    second = Closure(closure_id=2, office_id=1, closing_date=date(2026, 10, 31))
    with pytest.raises(ClosureError):
        check_new_closure(date(2026, 9, 30), [first])
    check_new_closure(date(2026, 10, 31), [first])
    with pytest.raises(ClosureError):
        check_undo(first, [first, second])
    check_undo(second, [first, second])


FORBIDDEN_IN_CORE = ("sqlalchemy", "asyncpg", "litestar", "api", "servicing")


def _imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


@pytest.mark.parametrize("package", ["ledger", "chart_of_accounts", "products"])
def test_pure_core_imports_no_io_and_nothing_outward(package: str) -> None:
    forbidden = FORBIDDEN_IN_CORE + (("products", "chart_of_accounts") if package == "ledger" else ())
    for path in (ROOT / package).rglob("*.py"):
        if "db" in path.relative_to(ROOT).parts:
            continue
        for name in _imported_modules(path):
            assert not name.startswith(forbidden), f"{path.relative_to(ROOT)} imports {name}"


def test_nothing_imports_the_api() -> None:
    for package in ("ledger", "chart_of_accounts", "products", "servicing"):
        for path in (ROOT / package).rglob("*.py"):
            assert not any(n == "api" or n.startswith("api.") for n in _imported_modules(path)), path
