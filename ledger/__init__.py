"""Double-entry journal: value types, invariants, balances, closures. No I/O here;
`ledger.db` holds the PostgreSQL side."""

from ledger.balances import AccountTotals, fold_totals, trial_balance_is_even
from ledger.errors import LedgerError
from ledger.invariants import check_entry
from ledger.model import AccountMovement, BookedEntry, JournalEntry, Line, Reference, Side
from ledger.posting import check_postable
from ledger.reversal import reverse

__all__ = (
    "AccountMovement",
    "AccountTotals",
    "BookedEntry",
    "JournalEntry",
    "LedgerError",
    "Line",
    "Reference",
    "Side",
    "check_entry",
    "check_postable",
    "fold_totals",
    "reverse",
    "trial_balance_is_even",
)
