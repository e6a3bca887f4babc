"""What the journal checks of an entry against the chart and the closures, as one pure
function. The entry's own rules (`check_entry`) are checked first, once, when the entry is
built from a command."""

from __future__ import annotations

from datetime import date

from ledger.errors import AccountNotPostable
from ledger.model import JournalEntry
from ledger.periods import check_open
from ledger.ports import ChartView


def check_postable(
    entry: JournalEntry, chart: ChartView, *, closed_through: date | None, manual: bool
) -> None:
    """Every line's account, then the period. Raises the first failure."""
    for index, line in enumerate(entry.lines):
        reason = chart.refuse_posting(line.account_code, line.currency, manual=manual)
        if reason is not None:
            raise AccountNotPostable(reason, field=f"lines[{index}].account_code")
    check_open(entry.value_date, closed_through)
