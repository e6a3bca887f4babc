"""What the ledger needs from outside, as Protocols: the chart answers whether an account
takes a posting; the ledger never imports the chart."""

from __future__ import annotations

from typing import Protocol

from ledger.model import Side


class ChartView(Protocol):
    def refuse_posting(self, code: str, currency: str, *, manual: bool) -> str | None:
        """None when the account takes this posting, else the reason it does not."""
        ...

    def normal_side(self, code: str) -> Side: ...
