"""From account movements to journal entries, through the product's posting rules only.

A movement is described as product events (`deposit`, `withdrawal`, `deposit_fee`,
`interest_posting`, `overdraft_interest`); `products.accounting.posting_lines` turns each
into lines. Money paid into an overdrawn account first repays the overdraft, and money
taken beyond the balance draws on it: the `overdraft` part of the event, which the rules
post to the overdraft portfolio instead of the deposit control account.

Lines of the events of one movement are merged into one entry: same account and side add
up; a transfer's two fund-source legs (money leaving one account and entering the other)
net out when both products use the same fund source, while the deposit control and
overdraft accounts keep their gross debit and credit, so the GL shows both accounts moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID

from ledger.model import JournalEntry, Line, Reference, Side
from products.accounting import posting_lines
from products.events import EventPart, ProductEvent
from products.posting_rules import Component, EventKind, ProductKind
from servicing.deposits.terms import ProductTerms

SOURCE_TYPE: Final = "deposit-account"
RUN_SOURCE_TYPE: Final = "deposit-interest-run"
_ZERO: Final = Decimal(0)


def debit_split(balance_before: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(from the client's funds, drawn on the overdraft) of a debit of ``amount``."""
    from_funds = max(_ZERO, min(amount, balance_before))
    return from_funds, amount - from_funds


def credit_split(balance_before: Decimal, amount: Decimal) -> tuple[Decimal, Decimal]:
    """(to the client's funds, repaying the overdraft) of a credit of ``amount``."""
    repaying = min(amount, max(_ZERO, -balance_before))
    return amount - repaying, repaying


def money_event(kind: EventKind, terms: ProductTerms, funds: Decimal, overdraft: Decimal,
                payment_type_id: int | None) -> ProductEvent | None:
    parts = tuple(EventPart(component=component, amount=amount) for component, amount in
                  ((Component.AMOUNT, funds), (Component.OVERDRAFT, overdraft)) if amount > 0)
    if not parts:
        return None
    return ProductEvent(kind=kind, currency=terms.currency, parts=parts, payment_type_id=payment_type_id)


def fee_event(terms: ProductTerms, fees: Iterable[tuple[int, Decimal]],
              taxes: Iterable[tuple[int, Decimal]] = ()) -> ProductEvent | None:
    """The fees of a movement and their VAT/TAF (to the VAT payable role)."""
    parts = tuple(EventPart(component=Component.FEE, amount=amount, charge_id=charge_id) for charge_id, amount in fees)
    parts += tuple(EventPart(component=Component.VAT, amount=amount, charge_id=charge_id)
                   for charge_id, amount in taxes)
    if not parts:
        return None
    return ProductEvent(kind=EventKind.DEPOSIT_FEE, currency=terms.currency, parts=parts)


def interest_event(kind: EventKind, terms: ProductTerms, amount: Decimal) -> ProductEvent:
    assert kind in (EventKind.INTEREST_POSTING, EventKind.OVERDRAFT_INTEREST), kind
    return ProductEvent(kind=kind, currency=terms.currency,
                        parts=(EventPart(component=Component.INTEREST, amount=amount),))


def movement_lines(events: Iterable[tuple[ProductTerms, ProductEvent | None]]) -> tuple[Line, ...]:
    """Every event's lines from its product's rules, merged into one entry's lines."""
    gross: dict[tuple[str, Side], Decimal] = {}
    kept: set[str] = set()
    currency = ""
    for terms, event in events:
        if event is None or not terms.posts:
            continue
        kept |= {code for code in (terms.control_account(), terms.overdraft_account()) if code}
        for line in posting_lines(ProductKind.DEPOSIT, terms.accounting, event):
            currency = line.currency
            gross[(line.account_code, line.side)] = gross.get((line.account_code, line.side), _ZERO) + line.amount
    lines: list[Line] = []
    for code in sorted({code for code, _side in gross}):
        debit = gross.get((code, Side.DEBIT), _ZERO)
        credit = gross.get((code, Side.CREDIT), _ZERO)
        if code in kept:
            lines += [Line(account_code=code, side=side, amount=amount, currency=currency)
                      for side, amount in ((Side.DEBIT, debit), (Side.CREDIT, credit)) if amount > 0]
        elif debit != credit:
            side = Side.DEBIT if debit > credit else Side.CREDIT
            lines.append(Line(account_code=code, side=side, amount=abs(debit - credit), currency=currency))
    lines.sort(key=lambda line: (line.side is Side.CREDIT, line.account_code))
    return tuple(lines)


def movement_entry(lines: tuple[Line, ...], *, entry_id: UUID, office_id: int, value_date: date, description: str,
                   actor: str, account_id: int | None, run: str | None = None) -> JournalEntry | None:
    """The journal entry of a movement (referencing its account) or of a run's batch
    (referencing the run), or None when its product posts nothing."""
    if not lines:
        return None
    assert len(lines) >= 2, lines
    return JournalEntry(entry_id=entry_id, office_id=office_id, value_date=value_date, description=description[:500],
                        lines=lines, actor=actor,
                        reference=Reference(source_type=SOURCE_TYPE, source_id=str(account_id)) if run is None
                        else Reference(source_type=RUN_SOURCE_TYPE, source_id=run[:100]))
