"""Properties of the journal as a whole: whatever valid postings and reversals happen, the
books stay even per currency, and a reversal nets its entry to zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from ledger.balances import AccountTotals, fold_totals, trial_balance_is_even
from ledger.idempotency import fingerprint
from ledger.model import JournalEntry, Side
from ledger.reversal import reverse
from tests.strategies import balanced_entries


@given(st.lists(balanced_entries(), min_size=1, max_size=20), st.data())
def test_postings_and_reversals_keep_debits_equal_to_credits(entries: list[JournalEntry], data: st.DataObject) -> None:
    journal = list(entries)
    for number, original in enumerate(entries):
        if data.draw(st.booleans()):
            journal.append(reverse(original, reversal_id=UUID(int=10**6 + number), value_date=date(2026, 10, 2),
                                   description="Annulation", actor="tests"))
    assert trial_balance_is_even(fold_totals(journal))


@given(balanced_entries())
def test_reversal_nets_every_account_to_zero(original: JournalEntry) -> None:
    reversal = reverse(original, reversal_id=UUID(int=2), value_date=original.value_date, description="Annulation",
                       actor="tests")
    assert reversal.reverses == original.entry_id
    for totals in fold_totals([original, reversal]).values():
        assert totals.debit_total == totals.credit_total


@given(balanced_entries())
def test_totals_fold_is_the_sum_of_lines(original: JournalEntry) -> None:
    totals = fold_totals([original])
    for (account, currency), account_totals in totals.items():
        lines = [line for line in original.lines if line.account_code == account and line.currency == currency]
        assert account_totals.debit_total == sum((ln.amount for ln in lines if ln.side is Side.DEBIT), Decimal(0))
        assert account_totals.credit_total == sum((ln.amount for ln in lines if ln.side is Side.CREDIT), Decimal(0))


def test_balance_is_presented_on_the_normal_side() -> None:
    totals = AccountTotals(debit_total=Decimal(100), credit_total=Decimal(30))
    assert totals.balance_on(Side.DEBIT) == Decimal(70)
    assert totals.balance_on(Side.CREDIT) == Decimal(-70)


@given(balanced_entries(entry_number=1), st.integers(min_value=2, max_value=2**60))
def test_fingerprint_ignores_the_server_generated_id(original: JournalEntry, other_id: int) -> None:
    import msgspec

    same_request = msgspec.structs.replace(original, entry_id=UUID(int=other_id))
    assert fingerprint(same_request) == fingerprint(original)
    changed = msgspec.structs.replace(original, description=original.description + " (bis)")
    assert fingerprint(changed) != fingerprint(original)
