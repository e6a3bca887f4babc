"""From a product's accounting settings and an event to the lines of a balanced entry.

`posting_lines` answers "given this product, this event and these amounts, which
lines?" without touching the database; `build_entry` wraps them in a `JournalEntry`
for the journal service. `check_accounting` validates a product's account mapping
against the chart (accounts exist, are postable detail accounts, have a type the role
accepts and take the product's currency).

Resolution of a role's account, most specific first:

1. fund source: the payment type's account (cheque -> bank), else the mapped account;
2. fee and penalty income: the charge's own account, else the mapped account;
3. portfolio, interest receivable and income, provisions and their expense and reversal:
   the account for the loan's classification and term, else the mapped account.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Final
from uuid import UUID

import msgspec

from ledger.errors import InvalidAmount, UnknownCurrency
from ledger.limits import ACCOUNT_CODE_LENGTH_MAX
from ledger.model import JournalEntry, Line, Reference, Side
from ledger.money import check_amount
from products.errors import PostingError, ProductError
from products.events import EVENT_PARTS_MAX, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import (
    CHARGE_ROLES,
    CLASSIFIED_ROLES,
    EVENT_COMPONENTS,
    EVENT_KINDS,
    ROLE_ACCOUNT_TYPES,
    RULE_TABLES,
    AccountingRole,
    AccountingRule,
    EventKind,
    ProductKind,
    roles_allowed,
    roles_used,
)

OVERRIDES_MAX: Final = 200


class ClassifiedAccount(msgspec.Struct, frozen=True, kw_only=True):
    """Account of a role for loans of one classification and term (seed 002's
    "attributs durée": nature sain/souffrant/immobilisé/provisions x court/moyen/long terme)."""

    classification: LoanClassification
    term: TermBucket
    role: AccountingRole
    account_code: str


class ProductAccounting(msgspec.Struct, frozen=True, kw_only=True):
    """A product's accounting rule and its map from roles to GL accounts, with overrides."""

    rule: AccountingRule = AccountingRule.NONE
    # default_factory rather than `= {}`: Litestar's schema generator hashes field defaults.
    accounts: dict[AccountingRole, str] = msgspec.field(default_factory=dict)
    payment_type_accounts: dict[int, str] = msgspec.field(default_factory=dict)
    """Payment type id -> fund-source account (cheque -> bank, mobile money -> float)."""
    charge_accounts: dict[int, str] = msgspec.field(default_factory=dict)
    """Charge id (fee or penalty) -> its own income account."""
    classified_accounts: tuple[ClassifiedAccount, ...] = ()


class AccountFacts(msgspec.Struct, frozen=True, kw_only=True):
    """What the catalogue needs to know of a GL account to accept it in a mapping."""

    code: str
    type: str
    is_header: bool
    active: bool
    currency: str | None


def resolve_account(accounting: ProductAccounting, role: AccountingRole, *, event: ProductEvent,
                    charge_id: int | None, classification: LoanClassification) -> str:
    """The account a role posts to for this event (see the module docstring for the order)."""
    if role is AccountingRole.FUND_SOURCE and event.payment_type_id is not None:
        override = accounting.payment_type_accounts.get(event.payment_type_id)
        if override is not None:
            return override
    if role in CHARGE_ROLES and charge_id is not None:
        override = accounting.charge_accounts.get(charge_id)
        if override is not None:
            return override
    if role in CLASSIFIED_ROLES:
        for classified in accounting.classified_accounts:
            if (classified.role is role and classified.classification is classification
                    and classified.term is event.term):
                return classified.account_code
    account = accounting.accounts.get(role)
    if account is None:
        raise PostingError(f"accounting.accounts.{role.value}", "this role has no account in the product")
    return account


def check_event(kind: ProductKind, event: ProductEvent) -> None:
    """Refuse an event the product kind does not know, or whose parts are not valid amounts."""
    if event.kind not in EVENT_KINDS[kind]:
        raise PostingError("kind", f"a {kind.value} product has no {event.kind.value} events")
    if not event.parts:
        raise PostingError("parts", "an event has at least one part")
    if len(event.parts) > EVENT_PARTS_MAX:
        raise PostingError("parts", f"an event has at most {EVENT_PARTS_MAX} parts")
    allowed = EVENT_COMPONENTS[(kind, event.kind)]
    for index, part in enumerate(event.parts):
        if part.component not in allowed:
            names = ", ".join(sorted(c.value for c in allowed))
            raise PostingError(f"parts[{index}].component",
                               f"a {event.kind.value} has no {part.component.value} part; it has {names}")
        try:
            check_amount(part.amount, event.currency, field=f"parts[{index}].amount")
        except (InvalidAmount, UnknownCurrency) as error:
            raise PostingError(error.field or "currency", error.message) from error
    if event.kind is EventKind.RECLASSIFICATION:
        if event.previous_classification is None:
            raise PostingError("previous_classification", "a reclassification says which classification it leaves")
        if event.previous_classification is event.classification:
            raise PostingError("classification", "a reclassification changes the classification")


def posting_lines(kind: ProductKind, accounting: ProductAccounting, event: ProductEvent) -> tuple[Line, ...]:
    """The lines the product's rules post for this event, merged per account and side.

    Pure. Parts the rule does not post (an accrual under cash accounting) and parts whose
    debit and credit resolve to the same account (a reclassification with no classified
    accounts) produce no line; an empty result means "nothing to post".
    """
    check_event(kind, event)
    table = RULE_TABLES[(kind, accounting.rule)]
    totals: dict[tuple[str, Side], Decimal] = {}
    for part in event.parts:
        pair = table.get((event.kind, part.component))
        if pair is None:
            continue
        debit_role, credit_role = pair
        credit_classification = event.previous_classification or event.classification
        debit = resolve_account(accounting, debit_role, event=event, charge_id=part.charge_id,
                                classification=event.classification)
        credit = resolve_account(accounting, credit_role, event=event, charge_id=part.charge_id,
                                 classification=credit_classification)
        if debit == credit:
            continue
        totals[(debit, Side.DEBIT)] = totals.get((debit, Side.DEBIT), Decimal(0)) + part.amount
        totals[(credit, Side.CREDIT)] = totals.get((credit, Side.CREDIT), Decimal(0)) + part.amount
    lines = tuple(
        Line(account_code=code, side=side, amount=amount, currency=event.currency)
        for (code, side), amount in sorted(totals.items(), key=lambda item: (item[0][1] is Side.CREDIT, item[0][0]))
    )
    assert not lines or len(lines) >= 2, lines
    assert sum(line.amount for line in lines if line.side is Side.DEBIT) == sum(
        line.amount for line in lines if line.side is Side.CREDIT), lines
    return lines


def build_entry(kind: ProductKind, accounting: ProductAccounting, event: ProductEvent, *, entry_id: UUID,
                office_id: int, value_date: date, description: str, actor: str,
                reference: Reference | None = None) -> JournalEntry | None:
    """The journal entry of the event, or `None` when the product's rules post nothing for it."""
    lines = posting_lines(kind, accounting, event)
    if not lines:
        return None
    return JournalEntry(entry_id=entry_id, office_id=office_id, value_date=value_date, description=description,
                        lines=lines, actor=actor, reference=reference)


def check_accounting(kind: ProductKind, currency: str, accounting: ProductAccounting,
                     chart: Mapping[str, AccountFacts], *, payment_type_ids: frozenset[int],
                     charge_ids: frozenset[int]) -> None:
    """Refuse a mapping that cannot post: a missing role, an unknown, header, disabled,
    wrong-type or other-currency account, an override for an unknown payment type or charge."""
    if (kind, accounting.rule) not in RULE_TABLES:
        raise ProductError("accounting.rule", f"a {kind.value} product cannot use {accounting.rule.value} accounting")
    if accounting.rule is AccountingRule.NONE:
        if accounting.accounts or accounting.payment_type_accounts or accounting.charge_accounts \
                or accounting.classified_accounts:
            raise ProductError("accounting.accounts", "a product without accounting maps no accounts")
        return
    overrides = (len(accounting.payment_type_accounts) + len(accounting.charge_accounts)
                 + len(accounting.classified_accounts))
    if overrides > OVERRIDES_MAX:
        raise ProductError("accounting", f"at most {OVERRIDES_MAX} account overrides")
    needed = roles_used(kind, accounting.rule)
    allowed = roles_allowed(kind, accounting.rule)
    for role in sorted(needed):
        if role not in accounting.accounts:
            raise ProductError(f"accounting.accounts.{role.value}", f"{accounting.rule.value} accounting needs this account")
    for role in sorted(accounting.accounts):
        if role not in allowed:
            raise ProductError(f"accounting.accounts.{role.value}",
                               f"a {kind.value} product under {accounting.rule.value} accounting does not use this role")
        _check_account(f"accounting.accounts.{role.value}", accounting.accounts[role], role, currency, chart)
    for payment_type_id, code in sorted(accounting.payment_type_accounts.items()):
        field = f"accounting.payment_type_accounts.{payment_type_id}"
        if payment_type_id not in payment_type_ids:
            raise ProductError(field, f"unknown payment type {payment_type_id}")
        _check_account(field, code, AccountingRole.FUND_SOURCE, currency, chart)
    for charge_id, code in sorted(accounting.charge_accounts.items()):
        field = f"accounting.charge_accounts.{charge_id}"
        if charge_id not in charge_ids:
            raise ProductError(field, f"charge {charge_id} is not one of the product's charges")
        if not any(role in needed for role in CHARGE_ROLES):
            raise ProductError(field, "this product has no fee or penalty income")
        _check_account(field, code, AccountingRole.FEE_INCOME, currency, chart)
    seen: set[tuple[LoanClassification, TermBucket, AccountingRole]] = set()
    for index, classified in enumerate(accounting.classified_accounts):
        field = f"accounting.classified_accounts[{index}]"
        if kind is not ProductKind.LOAN:
            raise ProductError(field, "only loan products have classified accounts")
        if classified.role not in CLASSIFIED_ROLES:
            names = ", ".join(sorted(r.value for r in CLASSIFIED_ROLES))
            raise ProductError(f"{field}.role", f"only {names} vary by classification and term")
        if classified.role not in needed:
            raise ProductError(f"{field}.role", f"{accounting.rule.value} accounting does not use this role")
        key = (classified.classification, classified.term, classified.role)
        if key in seen:
            raise ProductError(field, "this classification, term and role are already mapped")
        seen.add(key)
        _check_account(f"{field}.account_code", classified.account_code, classified.role, currency, chart)


def _check_account(field: str, code: str, role: AccountingRole, currency: str,
                   chart: Mapping[str, AccountFacts]) -> None:
    if not code or len(code) > ACCOUNT_CODE_LENGTH_MAX:
        raise ProductError(field, f"an account code has 1 to {ACCOUNT_CODE_LENGTH_MAX} characters")
    account = chart.get(code)
    if account is None:
        raise ProductError(field, f"unknown account {code!r}")
    if account.is_header:
        raise ProductError(field, f"account {code} is a header account; map one of its detail accounts")
    if not account.active:
        raise ProductError(field, f"account {code} is disabled")
    allowed = ROLE_ACCOUNT_TYPES[role]
    if account.type not in allowed:
        kinds = " or ".join(sorted(allowed))
        raise ProductError(field, f"account {code} is {account.type}; {role.value} needs {kinds}")
    if account.currency is not None and account.currency != currency:
        raise ProductError(field, f"account {code} takes {account.currency} only, the product is in {currency}")
