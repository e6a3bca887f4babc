"""What every entry must satisfy before it is written (the database checks it again)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given

from ledger.errors import InvalidAmount, InvalidEntry, UnbalancedEntry, UnknownCurrency
from ledger.invariants import check_entry
from ledger.limits import LINES_PER_ENTRY_MAX
from ledger.model import JournalEntry, Line, Side
from tests.strategies import balanced_entries


def entry(*lines: tuple[str, str, str, str]) -> JournalEntry:
    """Lines as (account, 'D' or 'C', amount, currency)."""
    return JournalEntry(
        entry_id=UUID(int=1), office_id=1, value_date=date(2026, 10, 1), description="Dépôt", actor="tests",
        lines=tuple(Line(account_code=a, side=Side.DEBIT if s == "D" else Side.CREDIT, amount=Decimal(m), currency=c)
                    for a, s, m, c in lines),
    )


def test_balanced_xof_entry_passes() -> None:
    check_entry(entry(("1011", "D", "150000", "XOF"), ("2511", "C", "150000", "XOF")))


def test_split_credit_with_three_decimals_passes_for_kwd() -> None:
    check_entry(entry(("1", "D", "10.125", "KWD"), ("2", "C", "10.000", "KWD"), ("3", "C", "0.125", "KWD")))


@pytest.mark.parametrize(
    ("lines", "error", "field"),
    [
        ((("1011", "D", "100", "XOF"), ("2511", "C", "99", "XOF")), UnbalancedEntry, "lines"),
        ((("1011", "D", "-100", "XOF"), ("2511", "C", "-100", "XOF")), InvalidAmount, "lines[0].amount"),
        ((("1011", "D", "0", "XOF"), ("2511", "C", "0", "XOF")), InvalidAmount, "lines[0].amount"),
        ((("1011", "D", "100.5", "XOF"), ("2511", "C", "100.5", "XOF")), InvalidAmount, "lines[0].amount"),
        ((("1011", "D", "1.001", "EUR"), ("2511", "C", "1.001", "EUR")), InvalidAmount, "lines[0].amount"),
        ((("1011", "D", "NaN", "EUR"), ("2511", "C", "NaN", "EUR")), InvalidAmount, "lines[0].amount"),
        ((("1011", "D", "1E+30", "XOF"), ("2511", "C", "1E+30", "XOF")), InvalidAmount, "lines[0].amount"),
        ((("1011", "D", "100", "ZZZ"), ("2511", "C", "100", "ZZZ")), UnknownCurrency, "currency"),
        ((("1011", "D", "100", "XOF"),), InvalidEntry, "lines"),
        ((("1011", "D", "100", "XOF"), ("2511", "C", "100", "EUR")), UnbalancedEntry, "lines"),
    ],
    ids=["unbalanced", "negative", "zero", "xof-has-no-cents", "eur-has-two-decimals", "nan", "huge",
         "unknown-currency", "single-line", "currency-mismatch"],
)
def test_bad_entries_are_refused_naming_the_field(lines: tuple, error: type[Exception], field: str) -> None:
    with pytest.raises(error) as raised:
        check_entry(entry(*lines))
    assert raised.value.field == field  # type: ignore[attr-defined]


def test_trailing_zeros_within_the_minor_unit_are_exact() -> None:
    check_entry(entry(("1011", "D", "100.00", "XOF"), ("2511", "C", "100", "XOF")))


def test_line_count_is_bounded() -> None:
    lines = [("1011", "D", "1", "XOF")] * LINES_PER_ENTRY_MAX + [("2511", "C", str(LINES_PER_ENTRY_MAX + 1), "XOF"),
                                                                  ("1011", "D", "1", "XOF")]
    with pytest.raises(InvalidEntry, match="at most"):
        check_entry(entry(*lines))


@given(balanced_entries())
def test_generated_balanced_entries_pass(generated: JournalEntry) -> None:
    check_entry(generated)
