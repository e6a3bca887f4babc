"""Rules a chart obeys as a whole: unique codes, parents that exist and are headers, no
cycles, bounded depth. Pure: a list of accounts in, errors out (beancount's way: collect
every problem in one pass rather than stop at the first)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import msgspec

from chart_of_accounts.model import GLAccount
from ledger.limits import ACCOUNT_CODE_LENGTH_MAX, ACCOUNT_NAME_LENGTH_MAX
from ledger.money import is_known_currency

ACCOUNT_DEPTH_MAX: Final = 8
ACCOUNTS_PER_CHART_MAX: Final = 20_000
ACCOUNT_DESCRIPTION_LENGTH_MAX: Final = 1_000
ACCOUNT_TAGS_MAX: Final = 20
CODE_PATTERN: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]*$")


class ChartProblem(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    field: str
    message: str


def check_account(account: GLAccount) -> list[ChartProblem]:
    """Problems of one account taken alone."""
    problems: list[ChartProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(ChartProblem(code=account.code, field=field, message=message))

    if not CODE_PATTERN.match(account.code) or len(account.code) > ACCOUNT_CODE_LENGTH_MAX:
        problem("code", f"code must be 1-{ACCOUNT_CODE_LENGTH_MAX} letters, digits, '.', '_' or '-'")
    if not account.name.strip() or len(account.name) > ACCOUNT_NAME_LENGTH_MAX:
        problem("name", f"name must be 1-{ACCOUNT_NAME_LENGTH_MAX} characters")
    if len(account.description) > ACCOUNT_DESCRIPTION_LENGTH_MAX:
        problem("description", f"description is limited to {ACCOUNT_DESCRIPTION_LENGTH_MAX} characters")
    if len(account.tags) > ACCOUNT_TAGS_MAX or any(not 1 <= len(tag) <= 50 for tag in account.tags):
        problem("tags", f"at most {ACCOUNT_TAGS_MAX} tags of 1-50 characters")
    if any("\x00" in text for text in (account.code, account.name, account.description, *account.tags)):
        problem("name", "text must not contain NUL characters")
    if account.currency is not None and not is_known_currency(account.currency):
        problem("currency", f"unknown currency {account.currency!r}")
    if account.parent_code == account.code:
        problem("parent_code", "an account cannot be its own parent")
    return problems


def check_chart(accounts: Sequence[GLAccount], existing: Mapping[str, GLAccount] | None = None) -> list[ChartProblem]:
    """Problems of `accounts` added to an `existing` chart (codes already there are kept)."""
    existing = existing or {}
    problems = [p for account in accounts for p in check_account(account)]
    seen: dict[str, GLAccount] = {}
    for account in accounts:
        if account.code in seen:
            problems.append(ChartProblem(code=account.code, field="code", message="duplicate code"))
        seen[account.code] = account
    every = {**existing, **seen}
    if len(every) > ACCOUNTS_PER_CHART_MAX:
        problems.append(ChartProblem(code="", field="accounts", message=f"a chart holds at most {ACCOUNTS_PER_CHART_MAX}"))
    for account in accounts:
        if account.parent_code is None:
            continue
        parent = every.get(account.parent_code)
        if parent is None:
            problems.append(ChartProblem(code=account.code, field="parent_code", message=f"unknown parent {account.parent_code!r}"))
        elif not parent.is_header:
            problems.append(ChartProblem(code=account.code, field="parent_code", message=f"parent {parent.code!r} is not a header account"))
    for account in accounts:
        if depth_of(account.code, every) > ACCOUNT_DEPTH_MAX:
            problems.append(ChartProblem(code=account.code, field="parent_code", message=f"accounts nest at most {ACCOUNT_DEPTH_MAX} deep, or the parents form a cycle"))
    return problems


def depth_of(code: str, chart: Mapping[str, GLAccount]) -> int:
    """Depth of an account (1 for a root); stops past the limit so that cycles end."""
    depth = 0
    current: str | None = code
    while current is not None and depth <= ACCOUNT_DEPTH_MAX:
        depth += 1
        account = chart.get(current)
        current = account.parent_code if account is not None else None
    return depth


def parents_first(accounts: Iterable[GLAccount]) -> list[GLAccount]:
    """Accounts ordered so that every parent precedes its children (for inserts)."""
    by_code = {account.code: account for account in accounts}
    return sorted(by_code.values(), key=lambda account: (depth_of(account.code, by_code), account.code))
