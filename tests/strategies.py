"""Hypothesis strategies for journal values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from hypothesis import strategies as st

from ledger.model import JournalEntry, Line, Side
from ledger.money import minor_unit_digits

ACCOUNTS = ("1011", "2511", "2022", "7021", "6022")
CURRENCIES = ("XOF", "EUR", "KWD")


def amounts(currency: str, *, max_minor_units: int = 10**12) -> st.SearchStrategy[Decimal]:
    """Strictly positive amounts exact in the currency's minor unit."""
    digits = minor_unit_digits(currency)
    return st.integers(min_value=1, max_value=max_minor_units).map(lambda units: Decimal(units).scaleb(-digits))


@st.composite
def balanced_entries(draw: st.DrawFn, entry_number: int | None = None) -> JournalEntry:
    """An entry of 1-4 debits and 1-4 credits per currency, in 1-2 currencies, balanced."""
    lines: list[Line] = []
    for currency in draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=2, unique=True)):
        debits = draw(st.lists(amounts(currency), min_size=1, max_size=4))
        total = sum(debits, Decimal(0))
        credit_count = draw(st.integers(min_value=1, max_value=min(4, int(total.scaleb(minor_unit_digits(currency))))))
        unit = Decimal(1).scaleb(-minor_unit_digits(currency))
        credits = [unit] * (credit_count - 1)
        credits.append(total - sum(credits, Decimal(0)))
        for amount in debits:
            lines.append(Line(account_code=draw(st.sampled_from(ACCOUNTS)), side=Side.DEBIT, amount=amount, currency=currency))
        for amount in credits:
            lines.append(Line(account_code=draw(st.sampled_from(ACCOUNTS)), side=Side.CREDIT, amount=amount, currency=currency))
    number = entry_number if entry_number is not None else draw(st.integers(min_value=1, max_value=2**60))
    return JournalEntry(
        entry_id=UUID(int=number), office_id=1, value_date=date(2026, 10, 1) , description="Écriture de test",
        lines=tuple(draw(st.permutations(lines))), actor="tests",
    )
