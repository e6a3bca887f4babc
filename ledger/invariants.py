"""Checks every entry passes before it is written. PostgreSQL checks the same rules again
after the write (see migrations): two sides of one boundary, asserted twice."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from ledger.errors import InvalidEntry, UnbalancedEntry
from ledger.limits import AMOUNT_MAX, DESCRIPTION_LENGTH_MAX, LINES_PER_ENTRY_MAX
from ledger.model import JournalEntry, Side
from ledger.money import KNOWN_QUANTA, check_amount


def totals_per_currency(entry: JournalEntry) -> dict[str, tuple[Decimal, Decimal]]:
    """(debits, credits) of the entry, per currency."""
    debit: dict[str, Decimal] = defaultdict(Decimal)
    credit: dict[str, Decimal] = defaultdict(Decimal)
    for line in entry.lines:
        target = debit if line.side is Side.DEBIT else credit
        target[line.currency] += line.amount
    currencies = sorted(set(debit) | set(credit))
    return {currency: (debit[currency], credit[currency]) for currency in currencies}


def check_entry(entry: JournalEntry) -> None:
    """Raise the first rule the entry breaks: shape, amounts, then balance per currency."""
    if len(entry.lines) < 2:
        raise InvalidEntry("an entry has at least two lines", field="lines")
    if len(entry.lines) > LINES_PER_ENTRY_MAX:
        raise InvalidEntry(f"an entry has at most {LINES_PER_ENTRY_MAX} lines", field="lines")
    if not entry.description or entry.description.isspace():  # blank (strip() without a copy)
        raise InvalidEntry("description must not be empty", field="description")
    if len(entry.description) > DESCRIPTION_LENGTH_MAX:
        raise InvalidEntry(f"description is limited to {DESCRIPTION_LENGTH_MAX} characters", field="description")
    net: dict[str, Decimal] = {}
    debits = 0
    for index, line in enumerate(entry.lines):
        amount = line.amount
        # The usual amount, written in its (known) currency's minor unit and in range, passes here;
        # any other gets the full check, which names what is wrong (same_quantum is False for
        # NaN and infinities, so they reach it too).
        quantum = KNOWN_QUANTA.get(line.currency)
        if quantum is None or not (amount.same_quantum(quantum) and _ZERO < amount < AMOUNT_MAX):
            check_amount(amount, line.currency, field=f"lines[{index}].amount")
        if line.side is _DEBIT:
            debits += 1
            net[line.currency] = net.get(line.currency, _ZERO) + amount
        else:
            net[line.currency] = net.get(line.currency, _ZERO) - amount
    if any(net.values()):
        for currency, (debit_total, credit_total) in totals_per_currency(entry).items():
            if debit_total != credit_total:
                raise UnbalancedEntry(
                    f"{currency} debits {debit_total} do not equal credits {credit_total}", field="lines"
                )
    assert 0 < debits < len(entry.lines), "a balanced entry of positive amounts has both sides"


_ZERO = Decimal(0)
_DEBIT = Side.DEBIT
"""An enum member read from its class goes through a descriptor: once here, not per line."""
