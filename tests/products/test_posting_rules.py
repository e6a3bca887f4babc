"""Posting rules as data: every event through every rule table gives a balanced entry of
positive amounts on the mapped accounts, overrides win, and the hand-checked examples an
accountant knows hold for each accounting rule."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.invariants import check_entry
from ledger.model import Line, Side
from products.accounting import (
    AccountFacts,
    ClassifiedAccount,
    ProductAccounting,
    build_entry,
    check_accounting,
    posting_lines,
)
from products.errors import PostingError, ProductError
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.posting_rules import (
    EVENT_COMPONENTS,
    EVENT_KINDS,
    ROLE_ACCOUNT_TYPES,
    RULE_TABLES,
    AccountingRole,
    AccountingRule,
    Component,
    EventKind,
    ProductKind,
    roles_allowed,
)

R = AccountingRole
C = Component
E = EventKind


def full_mapping(kind: ProductKind, rule: AccountingRule, **overrides: object) -> ProductAccounting:
    """Each role on its own account named after it."""
    accounts = {role: f"GL-{role.value}" for role in roles_allowed(kind, rule)}
    return ProductAccounting(rule=rule, accounts=accounts, **overrides)  # type: ignore[arg-type]


def parts(*pairs: tuple[Component, str]) -> tuple[EventPart, ...]:
    return tuple(EventPart(component=c, amount=Decimal(a)) for c, a in pairs)


def as_set(lines: tuple[Line, ...]) -> set[tuple[str, str, str]]:
    return {(line.side.value[0].upper(), line.account_code, str(line.amount)) for line in lines}


def lines_of(kind: ProductKind, rule: AccountingRule, event: ProductEvent, **overrides: object) -> set[tuple[str, str, str]]:
    return as_set(posting_lines(kind, full_mapping(kind, rule, **overrides), event))


LOAN = ProductKind.LOAN
CASH, PERIODIC, UPFRONT = AccountingRule.CASH, AccountingRule.ACCRUAL_PERIODIC, AccountingRule.ACCRUAL_UPFRONT

REPAYMENT = ProductEvent(kind=E.REPAYMENT, currency="XOF", parts=parts(
    (C.PRINCIPAL, "80000"), (C.INTEREST, "12000"), (C.FEE, "2000"), (C.PENALTY, "500"), (C.VAT, "2175"),
    (C.OVERPAYMENT, "325")))


def test_repayment_under_cash_credits_income() -> None:
    assert lines_of(LOAN, CASH, REPAYMENT) == {
        ("D", "GL-fund_source", "97000"),
        ("C", "GL-loan_portfolio", "80000"),
        ("C", "GL-interest_income", "12000"),
        ("C", "GL-fee_income", "2000"),
        ("C", "GL-penalty_income", "500"),
        ("C", "GL-vat_payable", "2175"),
        ("C", "GL-overpayment_liability", "325"),
    }


@pytest.mark.parametrize("rule", [PERIODIC, UPFRONT])
def test_repayment_under_accrual_settles_receivables(rule: AccountingRule) -> None:
    assert lines_of(LOAN, rule, REPAYMENT) == {
        ("D", "GL-fund_source", "97000"),
        ("C", "GL-loan_portfolio", "80000"),
        ("C", "GL-interest_receivable", "12000"),
        ("C", "GL-fees_receivable", "2000"),
        ("C", "GL-penalties_receivable", "500"),
        ("C", "GL-vat_payable", "2175"),
        ("C", "GL-overpayment_liability", "325"),
    }


def test_disbursement_per_rule() -> None:
    event = ProductEvent(kind=E.DISBURSEMENT, currency="XOF", parts=parts(
        (C.PRINCIPAL, "1000000"), (C.FEE, "10000"), (C.VAT, "1700"), (C.INTEREST, "180000")))
    common = {("D", "GL-loan_portfolio", "1000000"), ("C", "GL-fund_source", "1000000"),
              ("D", "GL-fund_source", "11700"), ("C", "GL-fee_income", "10000"), ("C", "GL-vat_payable", "1700")}
    assert lines_of(LOAN, CASH, event) == common
    assert lines_of(LOAN, PERIODIC, event) == common
    assert lines_of(LOAN, UPFRONT, event) == common | {("D", "GL-interest_receivable", "180000"),
                                                       ("C", "GL-interest_income", "180000")}


def test_accruals_post_only_under_accrual_periodic() -> None:
    accrual = ProductEvent(kind=E.INTEREST_ACCRUAL, currency="XOF", parts=parts((C.INTEREST, "411")))
    assert lines_of(LOAN, CASH, accrual) == set()
    assert lines_of(LOAN, UPFRONT, accrual) == set(), "upfront recognised it at disbursement"
    assert lines_of(LOAN, PERIODIC, accrual) == {("D", "GL-interest_receivable", "411"), ("C", "GL-interest_income", "411")}
    fee = ProductEvent(kind=E.FEE_CHARGE, currency="XOF", parts=parts((C.FEE, "1500")))
    assert lines_of(LOAN, CASH, fee) == set()
    assert lines_of(LOAN, PERIODIC, fee) == {("D", "GL-fees_receivable", "1500"), ("C", "GL-fee_income", "1500")}
    penalty = ProductEvent(kind=E.PENALTY_CHARGE, currency="XOF", parts=parts((C.PENALTY, "750")))
    assert lines_of(LOAN, UPFRONT, penalty) == {("D", "GL-penalties_receivable", "750"), ("C", "GL-penalty_income", "750")}


def test_waiver_reverses_recognised_income_only() -> None:
    waiver = ProductEvent(kind=E.WAIVER, currency="XOF", parts=parts((C.INTEREST, "3000"), (C.PENALTY, "500")))
    assert lines_of(LOAN, CASH, waiver) == set()
    assert lines_of(LOAN, PERIODIC, waiver) == {
        ("D", "GL-interest_income", "3000"), ("C", "GL-interest_receivable", "3000"),
        ("D", "GL-penalty_income", "500"), ("C", "GL-penalties_receivable", "500")}


def test_write_off_splits_provisioned_principal() -> None:
    event = ProductEvent(kind=E.WRITE_OFF, currency="XOF", classification=LoanClassification.DOUBTFUL, parts=parts(
        (C.PRINCIPAL, "40000"), (C.PRINCIPAL_COVERED_BY_PROVISION, "60000"), (C.INTEREST, "9000")))
    assert lines_of(LOAN, PERIODIC, event) == {
        ("D", "GL-losses_written_off", "49000"), ("D", "GL-provisions", "60000"),
        ("C", "GL-loan_portfolio", "100000"), ("C", "GL-interest_receivable", "9000")}
    # Under cash accounting interest was never recognised: writing it off posts nothing.
    assert lines_of(LOAN, CASH, event) == {
        ("D", "GL-losses_written_off", "40000"), ("D", "GL-provisions", "60000"), ("C", "GL-loan_portfolio", "100000")}


def test_provisions_recovery_transfers() -> None:
    for kind, debit, credit in [
        (E.PROVISION, "GL-provision_expense", "GL-provisions"),
        (E.PROVISION_REVERSAL, "GL-provisions", "GL-provision_reversal_income"),
        (E.RECOVERY, "GL-fund_source", "GL-recovery_income"),
        (E.OVERPAYMENT_REFUND, "GL-overpayment_liability", "GL-fund_source"),
    ]:
        event = ProductEvent(kind=kind, currency="XOF", parts=parts((C.AMOUNT, "25000")))
        assert lines_of(LOAN, CASH, event) == {("D", debit, "25000"), ("C", credit, "25000")}
    out = ProductEvent(kind=E.TRANSFER_OUT, currency="XOF", parts=parts((C.PRINCIPAL, "5000")))
    assert lines_of(LOAN, CASH, out) == {("D", "GL-transfers_suspense", "5000"), ("C", "GL-loan_portfolio", "5000")}


def test_classified_accounts_follow_classification_and_term() -> None:
    classified = (
        ClassifiedAccount(classification=LoanClassification.DOUBTFUL, term=TermBucket.SHORT,
                          role=R.LOAN_PORTFOLIO, account_code="292"),
        ClassifiedAccount(classification=LoanClassification.HEALTHY, term=TermBucket.MEDIUM,
                          role=R.LOAN_PORTFOLIO, account_code="2031"),
        ClassifiedAccount(classification=LoanClassification.DOUBTFUL, term=TermBucket.SHORT,
                          role=R.INTEREST_RECEIVABLE, account_code="2071-D"),
    )
    move = ProductEvent(kind=E.RECLASSIFICATION, currency="XOF", classification=LoanClassification.DOUBTFUL,
                        previous_classification=LoanClassification.HEALTHY, term=TermBucket.SHORT,
                        parts=parts((C.PRINCIPAL, "300000"), (C.INTEREST, "4500")))
    assert lines_of(LOAN, PERIODIC, move, classified_accounts=classified) == {
        ("D", "292", "300000"), ("C", "GL-loan_portfolio", "300000"),
        ("D", "2071-D", "4500"), ("C", "GL-interest_receivable", "4500")}
    medium = ProductEvent(kind=E.DISBURSEMENT, currency="XOF", term=TermBucket.MEDIUM, parts=parts((C.PRINCIPAL, "9")))
    assert ("D", "2031", "9") in lines_of(LOAN, CASH, medium, classified_accounts=classified)
    no_override = msgspec_replace(move, parts=parts((C.PRINCIPAL, "1")))
    assert lines_of(LOAN, CASH, no_override) == set(), "same account on both sides moves nothing"


def msgspec_replace(event: ProductEvent, **changes: object) -> ProductEvent:
    import msgspec

    return msgspec.structs.replace(event, **changes)


def test_payment_type_and_charge_overrides() -> None:
    event = ProductEvent(kind=E.REPAYMENT, currency="XOF", payment_type_id=2, parts=(
        EventPart(component=C.PRINCIPAL, amount=Decimal(1000)),
        EventPart(component=C.FEE, amount=Decimal(100), charge_id=7),
        EventPart(component=C.FEE, amount=Decimal(50), charge_id=8),
        EventPart(component=C.PENALTY, amount=Decimal(30), charge_id=9)))
    got = lines_of(LOAN, CASH, event, payment_type_accounts={2: "114"}, charge_accounts={7: "7022", 9: "7023"})
    assert got == {("D", "114", "1180"), ("C", "GL-loan_portfolio", "1000"), ("C", "7022", "100"),
                   ("C", "GL-fee_income", "50"), ("C", "7023", "30")}
    other_payment = msgspec_replace(event, payment_type_id=3)
    assert ("D", "GL-fund_source", "1180") in lines_of(LOAN, CASH, other_payment, payment_type_accounts={2: "114"})


DEPOSIT, TERM = ProductKind.DEPOSIT, ProductKind.TERM_DEPOSIT


def test_deposit_events_per_rule() -> None:
    deposit = ProductEvent(kind=E.DEPOSIT, currency="XOF", parts=parts((C.OVERDRAFT, "2000"), (C.AMOUNT, "8000")))
    assert lines_of(DEPOSIT, CASH, deposit) == {("D", "GL-fund_source", "10000"), ("C", "GL-overdraft_portfolio", "2000"),
                                                ("C", "GL-deposit_control", "8000")}
    posting = ProductEvent(kind=E.INTEREST_POSTING, currency="XOF", parts=parts((C.INTEREST, "1250")))
    assert lines_of(DEPOSIT, CASH, posting) == {("D", "GL-interest_on_deposits_expense", "1250"),
                                                ("C", "GL-deposit_control", "1250")}
    assert lines_of(DEPOSIT, PERIODIC, posting) == {("D", "GL-interest_payable", "1250"), ("C", "GL-deposit_control", "1250")}
    accrual = ProductEvent(kind=E.DEPOSIT_INTEREST_ACCRUAL, currency="XOF", parts=parts((C.INTEREST, "41")))
    assert lines_of(DEPOSIT, CASH, accrual) == set()
    assert lines_of(TERM, PERIODIC, accrual) == {("D", "GL-interest_on_deposits_expense", "41"),
                                                 ("C", "GL-interest_payable", "41")}
    penalty = ProductEvent(kind=E.PREMATURE_CLOSURE_PENALTY, currency="XOF",
                           parts=parts((C.PENALTY, "5000"), (C.VAT, "850")))
    assert lines_of(TERM, CASH, penalty) == {("D", "GL-deposit_control", "5850"), ("C", "GL-penalty_income", "5000"),
                                             ("C", "GL-vat_payable", "850")}
    withdrawal = ProductEvent(kind=E.WITHDRAWAL, currency="XOF", parts=parts((C.OVERDRAFT, "100")))
    with pytest.raises(PostingError, match="no overdraft part"):
        posting_lines(TERM, full_mapping(TERM, CASH), withdrawal)


def test_refusals_name_the_field() -> None:
    mapping = full_mapping(LOAN, CASH)
    with pytest.raises(PostingError) as error:
        posting_lines(LOAN, mapping, ProductEvent(kind=E.DEPOSIT, currency="XOF", parts=parts((C.AMOUNT, "1"))))
    assert error.value.field == "kind"
    with pytest.raises(PostingError) as error:
        posting_lines(LOAN, mapping, ProductEvent(kind=E.REPAYMENT, currency="XOF", parts=parts((C.PRINCIPAL, "1.5"))))
    assert error.value.field == "parts[0].amount"
    with pytest.raises(PostingError) as error:
        posting_lines(LOAN, mapping, ProductEvent(kind=E.REPAYMENT, currency="XOF", parts=parts((C.PRINCIPAL, "-1"))))
    assert error.value.field == "parts[0].amount"
    with pytest.raises(PostingError) as error:
        posting_lines(LOAN, mapping, ProductEvent(kind=E.RECLASSIFICATION, currency="XOF",
                                                  parts=parts((C.PRINCIPAL, "1"))))
    assert error.value.field == "previous_classification"
    assert posting_lines(LOAN, ProductAccounting(), REPAYMENT) == (), "no accounting posts nothing"


def chart_for(mapping: ProductAccounting) -> dict[str, AccountFacts]:
    return {code: AccountFacts(code=code, type=sorted(ROLE_ACCOUNT_TYPES[role])[0], is_header=False, active=True,
                               currency=None) for role, code in mapping.accounts.items()}


def test_check_accounting_refuses_bad_accounts() -> None:
    mapping = full_mapping(LOAN, PERIODIC)
    chart = chart_for(mapping)
    check_accounting(LOAN, "XOF", mapping, chart, payment_type_ids=frozenset(), charge_ids=frozenset())

    def refused(chart: dict[str, AccountFacts], mapping: ProductAccounting = mapping, **ids: frozenset[int]) -> str:
        with pytest.raises(ProductError) as error:
            check_accounting(LOAN, "XOF", mapping, chart, payment_type_ids=ids.get("payment_type_ids", frozenset()),
                             charge_ids=ids.get("charge_ids", frozenset()))
        return f"{error.value.field}: {error.value.message}"

    portfolio = "GL-loan_portfolio"
    as_income = {**chart, portfolio: AccountFacts(code=portfolio, type="income", is_header=False, active=True, currency=None)}
    assert "needs asset" in refused(as_income)
    header = {**chart, portfolio: AccountFacts(code=portfolio, type="asset", is_header=True, active=True, currency=None)}
    assert refused(header).startswith("accounting.accounts.loan_portfolio: account GL-loan_portfolio is a header")
    euro = {**chart, portfolio: AccountFacts(code=portfolio, type="asset", is_header=False, active=True, currency="EUR")}
    assert "EUR only" in refused(euro)
    missing = {k: v for k, v in chart.items() if k != portfolio}
    assert "unknown account" in refused(missing)
    partial = ProductAccounting(rule=PERIODIC, accounts={k: v for k, v in mapping.accounts.items() if k is not R.RECOVERY_INCOME})
    assert refused(chart, partial).startswith("accounting.accounts.recovery_income")
    with_deposit_role = ProductAccounting(rule=PERIODIC, accounts={**mapping.accounts, R.DEPOSIT_CONTROL: portfolio})
    assert refused(chart, with_deposit_role).startswith("accounting.accounts.deposit_control")
    unknown_payment = msgspec_replace(mapping, payment_type_accounts={5: "GL-fund_source"})  # type: ignore[arg-type]
    assert "unknown payment type 5" in refused(chart, unknown_payment)  # type: ignore[arg-type]
    with pytest.raises(ProductError, match="cannot use accrual_upfront"):
        check_accounting(DEPOSIT, "XOF", ProductAccounting(rule=UPFRONT), {}, payment_type_ids=frozenset(),
                         charge_ids=frozenset())


# --- properties -------------------------------------------------------------------------

PRODUCT_RULES = sorted(RULE_TABLES)
ACCOUNT_POOL = [f"A{i}" for i in range(6)]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[ProductKind, ProductAccounting, ProductEvent]:
    kind, rule = draw(st.sampled_from(PRODUCT_RULES))
    event_kind = draw(st.sampled_from(sorted(EVENT_KINDS[kind])))
    components = sorted(EVENT_COMPONENTS[(kind, event_kind)])
    currency = draw(st.sampled_from(["XOF", "EUR", "KWD"]))
    places = {"XOF": 0, "EUR": 2, "KWD": 3}[currency]
    amount = st.integers(min_value=1, max_value=10**12).map(lambda n: Decimal(n).scaleb(-places))
    event_parts = draw(st.lists(st.builds(EventPart, component=st.sampled_from(components), amount=amount,
                                          charge_id=st.none() | st.integers(1, 3)), min_size=1, max_size=12))
    # Random accounts from a small pool: different roles often share one, which must still balance.
    accounts = {role: draw(st.sampled_from(ACCOUNT_POOL)) for role in roles_allowed(kind, rule)}
    classification = draw(st.sampled_from(list(LoanClassification)))
    previous = draw(st.sampled_from([c for c in LoanClassification if c is not classification]))
    classified = tuple(
        ClassifiedAccount(classification=draw(st.sampled_from(list(LoanClassification))),
                          term=draw(st.sampled_from(list(TermBucket))), role=draw(st.sampled_from(sorted(accounts))),
                          account_code=draw(st.sampled_from(ACCOUNT_POOL)))
        for _ in range(draw(st.integers(0, 4)))) if kind is LOAN and accounts else ()
    accounting = ProductAccounting(
        rule=rule, accounts=accounts, classified_accounts=classified,
        payment_type_accounts=draw(st.dictionaries(st.integers(1, 3), st.sampled_from(ACCOUNT_POOL), max_size=2)),
        charge_accounts=draw(st.dictionaries(st.integers(1, 3), st.sampled_from(ACCOUNT_POOL), max_size=2)))
    event = ProductEvent(kind=event_kind, currency=currency, parts=tuple(event_parts),
                         payment_type_id=draw(st.none() | st.integers(1, 3)), classification=classification,
                         previous_classification=previous if event_kind is E.RECLASSIFICATION else None,
                         term=draw(st.sampled_from(list(TermBucket))))
    return kind, accounting, event


@settings(max_examples=400, deadline=None)
@given(scenario())
def test_any_event_through_any_rule_table_balances(case: tuple[ProductKind, ProductAccounting, ProductEvent]) -> None:
    kind, accounting, event = case
    lines = posting_lines(kind, accounting, event)
    assert all(line.amount > 0 for line in lines)
    assert all(line.currency == event.currency for line in lines)
    assert len({(line.account_code, line.side) for line in lines}) == len(lines), "merged per account and side"
    debits = sum((line.amount for line in lines if line.side is Side.DEBIT), Decimal(0))
    credits = sum((line.amount for line in lines if line.side is Side.CREDIT), Decimal(0))
    assert debits == credits
    posted = [part for part in event.parts if (event.kind, part.component) in RULE_TABLES[(kind, accounting.rule)]]
    assert debits <= sum((part.amount for part in posted), Decimal(0)), "never more than the event's amounts"
    used = set(accounting.accounts.values()) | set(accounting.payment_type_accounts.values()) \
        | set(accounting.charge_accounts.values()) | {c.account_code for c in accounting.classified_accounts}
    assert {line.account_code for line in lines} <= used
    entry = build_entry(kind, accounting, event, entry_id=UUID(int=1), office_id=1,
                        value_date=__import__("datetime").date(2026, 11, 23), description="test", actor="tests")
    if lines:
        assert entry is not None
        check_entry(entry)
    else:
        assert entry is None


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_distinct_accounts_conserve_every_posted_amount(case: tuple[ProductKind, ProductAccounting, ProductEvent]) -> None:
    """With one account per role and no overrides, every posted part moves exactly its amount."""
    kind, accounting, event = case
    distinct = full_mapping(kind, accounting.rule)
    lines = posting_lines(kind, distinct, event)
    table = RULE_TABLES[(kind, accounting.rule)]
    posted = [p for p in event.parts if (event.kind, p.component) in table
              and event.kind is not E.RECLASSIFICATION]
    debits = sum((line.amount for line in lines if line.side is Side.DEBIT), Decimal(0))
    if event.kind is not E.RECLASSIFICATION:
        assert debits == sum((p.amount for p in posted), Decimal(0))
    for role, _types in ROLE_ACCOUNT_TYPES.items():
        assert all(line.account_code != f"GL-{role.value}" or role in distinct.accounts for line in lines)
