"""The ledger's ChartView over accounts loaded in memory."""

from __future__ import annotations

from collections.abc import Iterable

from chart_of_accounts.model import GLAccount
from ledger.model import Side


class LoadedChart:
    """Answers the ledger's questions about the accounts an entry touches."""

    def __init__(self, accounts: Iterable[GLAccount]) -> None:
        self._accounts = {account.code: account for account in accounts}
        self._refusals: dict[tuple[str, str, bool], str | None] = {}
        """Answers already given: a batch asks the same few questions thousands of times."""

    def get(self, code: str) -> GLAccount | None:
        return self._accounts.get(code)

    def refuse_posting(self, code: str, currency: str, *, manual: bool) -> str | None:
        question = (code, currency, manual)
        if question in self._refusals:
            return self._refusals[question]
        reason = self._refusal(code, currency, manual=manual)
        self._refusals[question] = reason
        return reason

    def _refusal(self, code: str, currency: str, *, manual: bool) -> str | None:
        account = self._accounts.get(code)
        if account is None:
            return f"unknown account {code!r}"
        if account.is_header:
            return f"account {code} is a header account; post to one of its detail accounts"
        if not account.active:
            return f"account {code} is disabled"
        if account.currency is not None and account.currency != currency:
            return f"account {code} takes {account.currency} only, not {currency}"
        if manual and not account.manual_entries_allowed:
            return f"account {code} does not allow manual entries"
        return None

    def normal_side(self, code: str) -> Side:
        account = self._accounts[code]
        return account.normal_side
