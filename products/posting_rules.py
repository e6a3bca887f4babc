"""Posting rules as data: for each accounting rule, which accounting role each product
movement debits and which it credits.

A product never decides its postings in code. It picks an `AccountingRule` (none, cash,
accrual periodic, accrual upfront) and maps every `AccountingRole` to a GL account; the
tables below say, for each (event kind, component) pair, the debit role and the credit
role. A pair missing from a rule's table is simply not posted under that rule: interest
accrual under cash accounting, a waiver of income never recognised, and so on.

The tables are the accountant's documentation as much as the program: docs/products.md
prints them, and `accounting.build_entry` is the only code that reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class ProductKind(StrEnum):
    LOAN = "loan"
    DEPOSIT = "deposit"
    TERM_DEPOSIT = "term_deposit"


class AccountingRule(StrEnum):
    """None posts nothing; cash recognises income when paid; accrual periodic recognises
    it as it is earned (end-of-day accruals); accrual upfront recognises a loan's whole
    interest at disbursement."""

    NONE = "none"
    CASH = "cash"
    ACCRUAL_PERIODIC = "accrual_periodic"
    ACCRUAL_UPFRONT = "accrual_upfront"


class AccountingRole(StrEnum):
    """What a GL account stands for in a product's postings."""

    FUND_SOURCE = "fund_source"
    LOAN_PORTFOLIO = "loan_portfolio"
    INTEREST_RECEIVABLE = "interest_receivable"
    FEES_RECEIVABLE = "fees_receivable"
    PENALTIES_RECEIVABLE = "penalties_receivable"
    INTEREST_INCOME = "interest_income"
    FEE_INCOME = "fee_income"
    PENALTY_INCOME = "penalty_income"
    RECOVERY_INCOME = "recovery_income"
    LOSSES_WRITTEN_OFF = "losses_written_off"
    OVERPAYMENT_LIABILITY = "overpayment_liability"
    TRANSFERS_SUSPENSE = "transfers_suspense"
    VAT_PAYABLE = "vat_payable"
    PROVISION_EXPENSE = "provision_expense"
    PROVISIONS = "provisions"
    PROVISION_REVERSAL_INCOME = "provision_reversal_income"
    DEPOSIT_CONTROL = "deposit_control"
    INTEREST_ON_DEPOSITS_EXPENSE = "interest_on_deposits_expense"
    INTEREST_PAYABLE = "interest_payable"
    OVERDRAFT_PORTFOLIO = "overdraft_portfolio"
    WITHHOLDING_TAX_PAYABLE = "withholding_tax_payable"
    CAPITALISED_INCOME_DEFERRED = "capitalised_income_deferred"
    """Cash rule: interest and penalties a rescheduling turned into principal, not yet collected
    (« produits capitalisés à recevoir », as the banking chart's « intérêts réservés »)."""


R = AccountingRole
# Account types as the chart spells them (products depend on the ledger only, not on the chart).
_A, _L, _I, _E = "asset", "liability", "income", "expense"

ROLE_ACCOUNT_TYPES: Final[Mapping[AccountingRole, frozenset[str]]] = MappingProxyType({
    R.FUND_SOURCE: frozenset({_A}),
    R.LOAN_PORTFOLIO: frozenset({_A}),
    R.INTEREST_RECEIVABLE: frozenset({_A}),
    R.FEES_RECEIVABLE: frozenset({_A}),
    R.PENALTIES_RECEIVABLE: frozenset({_A}),
    R.INTEREST_INCOME: frozenset({_I}),
    R.FEE_INCOME: frozenset({_I}),
    R.PENALTY_INCOME: frozenset({_I}),
    R.RECOVERY_INCOME: frozenset({_I}),
    R.LOSSES_WRITTEN_OFF: frozenset({_E}),
    R.OVERPAYMENT_LIABILITY: frozenset({_L}),
    R.TRANSFERS_SUSPENSE: frozenset({_A, _L}),
    R.VAT_PAYABLE: frozenset({_L}),
    R.PROVISION_EXPENSE: frozenset({_E}),
    # Contra-asset in the SFD chart (class 29, credit balance); some charts keep it a liability.
    R.PROVISIONS: frozenset({_A, _L}),
    R.PROVISION_REVERSAL_INCOME: frozenset({_I}),
    R.DEPOSIT_CONTROL: frozenset({_L}),
    R.INTEREST_ON_DEPOSITS_EXPENSE: frozenset({_E}),
    R.INTEREST_PAYABLE: frozenset({_L}),
    R.OVERDRAFT_PORTFOLIO: frozenset({_A}),
    R.WITHHOLDING_TAX_PAYABLE: frozenset({_L}),
    # A credit balance against the portfolio: some charts keep it a contra-asset, others a liability.
    R.CAPITALISED_INCOME_DEFERRED: frozenset({_A, _L}),
})
"""Account types a role accepts: a loan portfolio is an asset, interest income is income..."""
assert set(ROLE_ACCOUNT_TYPES) == set(AccountingRole)


class EventKind(StrEnum):
    DISBURSEMENT = "disbursement"
    REPAYMENT = "repayment"
    INTEREST_ACCRUAL = "interest_accrual"
    FEE_CHARGE = "fee_charge"
    PENALTY_CHARGE = "penalty_charge"
    WAIVER = "waiver"
    WRITE_OFF = "write_off"
    RECOVERY = "recovery"
    PROVISION = "provision"
    PROVISION_REVERSAL = "provision_reversal"
    RECLASSIFICATION = "reclassification"
    OVERPAYMENT_REFUND = "overpayment_refund"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    DEPOSIT_INTEREST_ACCRUAL = "deposit_interest_accrual"
    INTEREST_POSTING = "interest_posting"
    DEPOSIT_FEE = "deposit_fee"
    OVERDRAFT_INTEREST = "overdraft_interest"
    PREMATURE_CLOSURE_PENALTY = "premature_closure_penalty"
    RESCHEDULING = "rescheduling"


class Component(StrEnum):
    """A part of an event's amount: a repayment splits into principal, interest, fees..."""

    PRINCIPAL = "principal"
    PRINCIPAL_COVERED_BY_PROVISION = "principal_covered_by_provision"
    INTEREST = "interest"
    FEE = "fee"
    PENALTY = "penalty"
    VAT = "vat"
    OVERPAYMENT = "overpayment"
    AMOUNT = "amount"
    OVERDRAFT = "overdraft"
    WITHHOLDING_TAX = "withholding_tax"
    """The part of posted interest withheld for the state (IRC/IRCM), owed to the tax office."""
    CAPITALISED_INTEREST = "capitalised_interest"
    """Cash rule: interest a rescheduling capitalised, deferred, released as its principal is
    repaid (or cleared against the principal written off)."""
    CAPITALISED_PENALTY = "capitalised_penalty"
    """Cash rule: the same for capitalised penalties."""


E, C = EventKind, Component
Rule = tuple[AccountingRole, AccountingRole]
"""(debit role, credit role)."""
RuleTable = Mapping[tuple[EventKind, Component], Rule]

_LOAN_CASH: Final[dict[tuple[EventKind, Component], Rule]] = {
    (E.DISBURSEMENT, C.PRINCIPAL): (R.LOAN_PORTFOLIO, R.FUND_SOURCE),
    # Charges withheld at disbursement are collected then, under every rule.
    (E.DISBURSEMENT, C.FEE): (R.FUND_SOURCE, R.FEE_INCOME),
    (E.DISBURSEMENT, C.VAT): (R.FUND_SOURCE, R.VAT_PAYABLE),
    (E.REPAYMENT, C.PRINCIPAL): (R.FUND_SOURCE, R.LOAN_PORTFOLIO),
    (E.REPAYMENT, C.INTEREST): (R.FUND_SOURCE, R.INTEREST_INCOME),
    (E.REPAYMENT, C.FEE): (R.FUND_SOURCE, R.FEE_INCOME),
    (E.REPAYMENT, C.PENALTY): (R.FUND_SOURCE, R.PENALTY_INCOME),
    # VAT / TAF on financial services falls due on collection, whatever the income rule.
    (E.REPAYMENT, C.VAT): (R.FUND_SOURCE, R.VAT_PAYABLE),
    (E.REPAYMENT, C.OVERPAYMENT): (R.FUND_SOURCE, R.OVERPAYMENT_LIABILITY),
    (E.OVERPAYMENT_REFUND, C.AMOUNT): (R.OVERPAYMENT_LIABILITY, R.FUND_SOURCE),
    (E.WRITE_OFF, C.PRINCIPAL): (R.LOSSES_WRITTEN_OFF, R.LOAN_PORTFOLIO),
    (E.WRITE_OFF, C.PRINCIPAL_COVERED_BY_PROVISION): (R.PROVISIONS, R.LOAN_PORTFOLIO),
    (E.RECOVERY, C.AMOUNT): (R.FUND_SOURCE, R.RECOVERY_INCOME),
    (E.RECOVERY, C.VAT): (R.FUND_SOURCE, R.VAT_PAYABLE),
    (E.PROVISION, C.AMOUNT): (R.PROVISION_EXPENSE, R.PROVISIONS),
    (E.PROVISION_REVERSAL, C.AMOUNT): (R.PROVISIONS, R.PROVISION_REVERSAL_INCOME),
    # Debit under the new classification, credit under the previous one.
    (E.RECLASSIFICATION, C.PRINCIPAL): (R.LOAN_PORTFOLIO, R.LOAN_PORTFOLIO),
    (E.TRANSFER_OUT, C.PRINCIPAL): (R.TRANSFERS_SUSPENSE, R.LOAN_PORTFOLIO),
    (E.TRANSFER_IN, C.PRINCIPAL): (R.LOAN_PORTFOLIO, R.TRANSFERS_SUSPENSE),
    # A rescheduling that capitalises unpaid interest or penalties: they become principal. Under
    # cash they were never income, and capitalising collects nothing: prudence (no income on an
    # uncollected claim, the more so on a loan in difficulty) keeps them off the income statement
    # on a deferred account until the borrower pays.
    (E.RESCHEDULING, C.INTEREST): (R.LOAN_PORTFOLIO, R.CAPITALISED_INCOME_DEFERRED),
    (E.RESCHEDULING, C.PENALTY): (R.LOAN_PORTFOLIO, R.CAPITALISED_INCOME_DEFERRED),
    # The deferral is income as the borrower pays it: a repayment's principal carries its share of
    # what was capitalised (`products.loans.rescheduling.capitalised_income_released`).
    (E.REPAYMENT, C.CAPITALISED_INTEREST): (R.CAPITALISED_INCOME_DEFERRED, R.INTEREST_INCOME),
    (E.REPAYMENT, C.CAPITALISED_PENALTY): (R.CAPITALISED_INCOME_DEFERRED, R.PENALTY_INCOME),
    # Written off, the capitalised part of the principal was never income: it is cleared against
    # its deferral, not charged to losses (nor against the provision).
    (E.WRITE_OFF, C.CAPITALISED_INTEREST): (R.CAPITALISED_INCOME_DEFERRED, R.LOAN_PORTFOLIO),
    (E.WRITE_OFF, C.CAPITALISED_PENALTY): (R.CAPITALISED_INCOME_DEFERRED, R.LOAN_PORTFOLIO),
}
_CASH_DEFERRAL: Final = frozenset(key for key, (debit, _credit) in _LOAN_CASH.items()
                                  if debit is R.CAPITALISED_INCOME_DEFERRED)
"""Releases of the cash rule's deferral: the accrual rules capitalise receivables, nothing is deferred."""

_LOAN_ACCRUAL_PERIODIC: Final[dict[tuple[EventKind, Component], Rule]] = {
    **_LOAN_CASH,
    (E.INTEREST_ACCRUAL, C.INTEREST): (R.INTEREST_RECEIVABLE, R.INTEREST_INCOME),
    (E.FEE_CHARGE, C.FEE): (R.FEES_RECEIVABLE, R.FEE_INCOME),
    (E.PENALTY_CHARGE, C.PENALTY): (R.PENALTIES_RECEIVABLE, R.PENALTY_INCOME),
    (E.REPAYMENT, C.INTEREST): (R.FUND_SOURCE, R.INTEREST_RECEIVABLE),
    (E.REPAYMENT, C.FEE): (R.FUND_SOURCE, R.FEES_RECEIVABLE),
    (E.REPAYMENT, C.PENALTY): (R.FUND_SOURCE, R.PENALTIES_RECEIVABLE),
    (E.WAIVER, C.INTEREST): (R.INTEREST_INCOME, R.INTEREST_RECEIVABLE),
    (E.WAIVER, C.FEE): (R.FEE_INCOME, R.FEES_RECEIVABLE),
    (E.WAIVER, C.PENALTY): (R.PENALTY_INCOME, R.PENALTIES_RECEIVABLE),
    (E.WRITE_OFF, C.INTEREST): (R.LOSSES_WRITTEN_OFF, R.INTEREST_RECEIVABLE),
    (E.WRITE_OFF, C.FEE): (R.LOSSES_WRITTEN_OFF, R.FEES_RECEIVABLE),
    (E.WRITE_OFF, C.PENALTY): (R.LOSSES_WRITTEN_OFF, R.PENALTIES_RECEIVABLE),
    (E.RECLASSIFICATION, C.INTEREST): (R.INTEREST_RECEIVABLE, R.INTEREST_RECEIVABLE),
    # Accrual: the interest and penalties were recognised (accrued, charged): the receivable
    # becomes principal, the income statement does not move.
    (E.RESCHEDULING, C.INTEREST): (R.LOAN_PORTFOLIO, R.INTEREST_RECEIVABLE),
    (E.RESCHEDULING, C.PENALTY): (R.LOAN_PORTFOLIO, R.PENALTIES_RECEIVABLE),
}

for _key in _CASH_DEFERRAL:
    del _LOAN_ACCRUAL_PERIODIC[_key]

_LOAN_ACCRUAL_UPFRONT: Final[dict[tuple[EventKind, Component], Rule]] = {
    **_LOAN_ACCRUAL_PERIODIC,
    (E.DISBURSEMENT, C.INTEREST): (R.INTEREST_RECEIVABLE, R.INTEREST_INCOME),
}
# Upfront: the whole interest is recognised at disbursement, so there is nothing left to accrue.
del _LOAN_ACCRUAL_UPFRONT[(E.INTEREST_ACCRUAL, C.INTEREST)]

_DEPOSIT_CASH: Final[dict[tuple[EventKind, Component], Rule]] = {
    (E.DEPOSIT, C.AMOUNT): (R.FUND_SOURCE, R.DEPOSIT_CONTROL),
    # Money paid into an overdrawn account first repays the overdraft.
    (E.DEPOSIT, C.OVERDRAFT): (R.FUND_SOURCE, R.OVERDRAFT_PORTFOLIO),
    (E.WITHDRAWAL, C.AMOUNT): (R.DEPOSIT_CONTROL, R.FUND_SOURCE),
    (E.WITHDRAWAL, C.OVERDRAFT): (R.OVERDRAFT_PORTFOLIO, R.FUND_SOURCE),
    (E.INTEREST_POSTING, C.INTEREST): (R.INTEREST_ON_DEPOSITS_EXPENSE, R.DEPOSIT_CONTROL),
    (E.DEPOSIT_FEE, C.FEE): (R.DEPOSIT_CONTROL, R.FEE_INCOME),
    (E.DEPOSIT_FEE, C.VAT): (R.DEPOSIT_CONTROL, R.VAT_PAYABLE),
    (E.OVERDRAFT_INTEREST, C.INTEREST): (R.OVERDRAFT_PORTFOLIO, R.INTEREST_INCOME),
    (E.PREMATURE_CLOSURE_PENALTY, C.PENALTY): (R.DEPOSIT_CONTROL, R.PENALTY_INCOME),
    (E.PREMATURE_CLOSURE_PENALTY, C.VAT): (R.DEPOSIT_CONTROL, R.VAT_PAYABLE),
    # Interest posted splits into the net credited to the client (the interest part) and the
    # tax withheld at source (IRC/IRCM), owed to the state: gross expense = net + tax.
    (E.INTEREST_POSTING, C.WITHHOLDING_TAX): (R.INTEREST_ON_DEPOSITS_EXPENSE, R.WITHHOLDING_TAX_PAYABLE),
    # A premature closure that claws interest back refunds the tax withheld on it to the client.
    (E.PREMATURE_CLOSURE_PENALTY, C.WITHHOLDING_TAX): (R.WITHHOLDING_TAX_PAYABLE, R.DEPOSIT_CONTROL),
}

_DEPOSIT_ACCRUAL: Final[dict[tuple[EventKind, Component], Rule]] = {
    **_DEPOSIT_CASH,
    (E.DEPOSIT_INTEREST_ACCRUAL, C.INTEREST): (R.INTEREST_ON_DEPOSITS_EXPENSE, R.INTEREST_PAYABLE),
    (E.INTEREST_POSTING, C.INTEREST): (R.INTEREST_PAYABLE, R.DEPOSIT_CONTROL),
    (E.INTEREST_POSTING, C.WITHHOLDING_TAX): (R.INTEREST_PAYABLE, R.WITHHOLDING_TAX_PAYABLE),
}

_TERM_DEPOSIT_EXCLUDED: Final = {
    (E.DEPOSIT, C.OVERDRAFT), (E.WITHDRAWAL, C.OVERDRAFT), (E.OVERDRAFT_INTEREST, C.INTEREST),
}


def _frozen(table: Mapping[tuple[EventKind, Component], Rule], drop: set[tuple[EventKind, Component]] | None = None
            ) -> RuleTable:
    return MappingProxyType({key: rule for key, rule in table.items() if key not in (drop or set())})


RULE_TABLES: Final[Mapping[tuple[ProductKind, AccountingRule], RuleTable]] = MappingProxyType({
    (ProductKind.LOAN, AccountingRule.NONE): _frozen({}),
    (ProductKind.LOAN, AccountingRule.CASH): _frozen(_LOAN_CASH),
    (ProductKind.LOAN, AccountingRule.ACCRUAL_PERIODIC): _frozen(_LOAN_ACCRUAL_PERIODIC),
    (ProductKind.LOAN, AccountingRule.ACCRUAL_UPFRONT): _frozen(_LOAN_ACCRUAL_UPFRONT),
    (ProductKind.DEPOSIT, AccountingRule.NONE): _frozen({}),
    (ProductKind.DEPOSIT, AccountingRule.CASH): _frozen(_DEPOSIT_CASH),
    (ProductKind.DEPOSIT, AccountingRule.ACCRUAL_PERIODIC): _frozen(_DEPOSIT_ACCRUAL),
    (ProductKind.TERM_DEPOSIT, AccountingRule.NONE): _frozen({}),
    (ProductKind.TERM_DEPOSIT, AccountingRule.CASH): _frozen(_DEPOSIT_CASH, _TERM_DEPOSIT_EXCLUDED),
    (ProductKind.TERM_DEPOSIT, AccountingRule.ACCRUAL_PERIODIC): _frozen(_DEPOSIT_ACCRUAL, _TERM_DEPOSIT_EXCLUDED),
})
"""Every accounting rule a product kind offers. Deposits have no upfront accrual."""

EVENT_KINDS: Final[Mapping[ProductKind, frozenset[EventKind]]] = MappingProxyType({
    kind: frozenset(event for (k, _rule), table in RULE_TABLES.items() if k is kind for event, _c in table)
    for kind in ProductKind
})
"""Events a product kind knows (an event of another kind is refused, not silently ignored)."""

EVENT_COMPONENTS: Final[Mapping[tuple[ProductKind, EventKind], frozenset[Component]]] = MappingProxyType({
    (kind, event): frozenset(
        component for (k, _rule), table in RULE_TABLES.items() if k is kind
        for (e, component) in table if e is event
    )
    for kind in ProductKind for event in EVENT_KINDS[kind]
})
"""Components an event of a product kind may carry, under any rule."""


def rule_table(kind: ProductKind, rule: AccountingRule) -> RuleTable:
    """The table for a product kind and rule; `None` when the kind does not offer the rule."""
    return RULE_TABLES[(kind, rule)]


LOAN_RECEIVABLE_RULES: Final = frozenset(
    rule for rule in AccountingRule
    if (ProductKind.LOAN, rule) in RULE_TABLES
    and RULE_TABLES[(ProductKind.LOAN, rule)].get((E.REPAYMENT, C.INTEREST), (R.FUND_SOURCE, None))[1]
    is R.INTEREST_RECEIVABLE)
"""The rules under which a loan carries interest, fees and penalties receivable (a repayment
settles the receivable, not income): read from the tables, so the close of business, the
write-off and the provisions never keep a list of their own."""

LOAN_INTEREST_ACCRUAL_RULES: Final = frozenset(
    rule for rule in AccountingRule
    if (E.INTEREST_ACCRUAL, C.INTEREST) in RULE_TABLES.get((ProductKind.LOAN, rule), {}))
"""The rules under which the close of business accrues a loan's interest day by day (accrual
periodic; upfront recognised it at disbursement): read from the tables, as above."""

LOAN_INTEREST_RECOGNITION: Final[Mapping[AccountingRule, EventKind]] = MappingProxyType({
    rule: event
    for (kind, rule), table in RULE_TABLES.items() if kind is ProductKind.LOAN
    for (event, component), (debit, credit) in table.items()
    if component is C.INTEREST and debit is R.INTEREST_RECEIVABLE and credit is not R.INTEREST_RECEIVABLE})
"""The event by which each rule recognises a loan's interest as receivable (accrual periodic: the
night's ``INTEREST_ACCRUAL``; upfront: the ``DISBURSEMENT``'s interest; cash: none). A settlement's
true-up (`servicing.loans.receivable_true_up`) recognises interest, or takes back interest
recognised and never to be paid (a recalculated payoff), by this event, as the table maps it
(mirrored: Dr what it credited, income or a deferral / Cr the receivable). Read from the tables."""
assert all(sum(1 for (e, c), (d, k) in RULE_TABLES[(ProductKind.LOAN, rule)].items()
               if c is C.INTEREST and d is R.INTEREST_RECEIVABLE and k is not R.INTEREST_RECEIVABLE) == 1
           for rule in LOAN_INTEREST_RECOGNITION), "one recognising event per rule"


OPTIONAL_ROLES: Final = frozenset({R.WITHHOLDING_TAX_PAYABLE, R.CAPITALISED_INCOME_DEFERRED})
"""Roles a product maps only when the institution needs them: withholding tax on interest is
posted only where a tax rate is configured (reference data), so a product without it posts
no tax and need not map the account; posting a tax without the account is refused. Likewise a
cash-rule loan product maps the capitalised-income account only to capitalise at rescheduling."""


def roles_used(kind: ProductKind, rule: AccountingRule) -> frozenset[AccountingRole]:
    """Roles a product must map to use this rule: every role its table names but the optional ones."""
    return roles_allowed(kind, rule) - OPTIONAL_ROLES


def roles_allowed(kind: ProductKind, rule: AccountingRule) -> frozenset[AccountingRole]:
    """Roles a product may map under this rule: every role its table names."""
    return frozenset(role for pair in RULE_TABLES[(kind, rule)].values() for role in pair)


# Roles whose account may depend on the loan's classification and term (seed 002).
CLASSIFIED_ROLES: Final = frozenset({
    R.LOAN_PORTFOLIO, R.INTEREST_RECEIVABLE, R.INTEREST_INCOME,
    R.PROVISIONS, R.PROVISION_EXPENSE, R.PROVISION_REVERSAL_INCOME,
})
# Roles a charge (fee or penalty) may redirect to its own income account.
CHARGE_ROLES: Final = frozenset({R.FEE_INCOME, R.PENALTY_INCOME})
