"""Charts as CSV, the format accountants exchange them in. One row per account; the
columns are the GLAccount fields, tags separated by '|'."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Final

import msgspec

from chart_of_accounts.model import AccountType, AccountUsage, GLAccount

COLUMNS: Final = (
    "code", "name", "type", "usage", "parent_code", "currency",
    "manual_entries_allowed", "active", "tags", "description",
)
CSV_BYTES_MAX: Final = 5_000_000
_TRUE: Final = {"true", "yes", "oui", "1", "y", "o"}
_FALSE: Final = {"false", "no", "non", "0", "n", ""}


class CsvProblem(msgspec.Struct, frozen=True, kw_only=True):
    row: int
    field: str
    message: str


def _flag(value: str, default: bool) -> bool | None:
    text = value.strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def parse_chart_csv(text: str) -> tuple[list[GLAccount], list[CsvProblem]]:
    """Accounts read from CSV text, and every row problem found (row 1 is the header)."""
    if len(text) > CSV_BYTES_MAX:
        return [], [CsvProblem(row=0, field="file", message=f"a chart file is limited to {CSV_BYTES_MAX} bytes")]
    if "\x00" in text:
        return [], [CsvProblem(row=0, field="file", message="the file holds NUL bytes")]
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "name", "type", "usage"} - set(reader.fieldnames or ())
    if missing:
        return [], [CsvProblem(row=1, field="header", message=f"missing columns: {', '.join(sorted(missing))}")]
    accounts: list[GLAccount] = []
    problems: list[CsvProblem] = []
    row_number = 1
    try:
        for row_number, row in enumerate(reader, start=2):
            account, row_problems = _account_from_row(row, row_number)
            problems.extend(row_problems)
            if account is not None:
                accounts.append(account)
    except csv.Error as error:
        problems.append(CsvProblem(row=row_number + 1, field="file", message=f"unreadable CSV: {error}"))
    return accounts, problems


def _account_from_row(row: dict[str, str | None], row_number: int) -> tuple[GLAccount | None, list[CsvProblem]]:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    problems: list[CsvProblem] = []
    try:
        account_type = AccountType(cell("type").lower())
    except ValueError:
        problems.append(CsvProblem(row=row_number, field="type", message=f"unknown type {cell('type')!r}"))
    try:
        usage = AccountUsage(cell("usage").lower())
    except ValueError:
        problems.append(CsvProblem(row=row_number, field="usage", message="usage is 'header' or 'detail'"))
    manual = _flag(cell("manual_entries_allowed"), True)
    active = _flag(cell("active"), True)
    if manual is None:
        problems.append(CsvProblem(row=row_number, field="manual_entries_allowed", message="expected true or false"))
    if active is None:
        problems.append(CsvProblem(row=row_number, field="active", message="expected true or false"))
    if not cell("code"):
        problems.append(CsvProblem(row=row_number, field="code", message="code is required"))
    if problems:
        return None, problems
    assert manual is not None and active is not None
    account = GLAccount(
        code=cell("code"),
        name=cell("name"),
        type=account_type,
        usage=usage,
        parent_code=cell("parent_code") or None,
        currency=cell("currency").upper() or None,
        manual_entries_allowed=manual,
        active=active,
        tags=tuple(tag.strip() for tag in cell("tags").split("|") if tag.strip()),
        description=cell("description"),
    )
    return account, []


def chart_to_csv(accounts: Iterable[GLAccount]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for a in accounts:
        writer.writerow([
            a.code, a.name, a.type.value, a.usage.value, a.parent_code or "", a.currency or "",
            "true" if a.manual_entries_allowed else "false", "true" if a.active else "false",
            "|".join(a.tags), a.description,
        ])
    return out.getvalue()
