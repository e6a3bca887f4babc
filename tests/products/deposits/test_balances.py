"""Deposit account balances and the withdrawal/deposit checks: examples and properties."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from products.deposits import (
    AccountBalances,
    AccountState,
    AccountStatus,
    AccountTransaction,
    BalanceRules,
    DepositAccepted,
    DepositError,
    MovementRefused,
    RefusalReason,
    TransactionKind,
    WithdrawalAccepted,
    WithdrawalFee,
    WithdrawalRules,
    available_balance,
    balance_on,
    check_deposit,
    check_withdrawal,
    fold_balances,
    withdrawal_fee,
)
from products.rounding import Rounding, compile_rounding

XOF = compile_rounding(Rounding(), "XOF")
EUR = compile_rounding(Rounding(), "EUR")
DAY = date(2026, 3, 2)
K = TransactionKind


def tx(kind: TransactionKind, amount: str, day: date = DAY, hold_id: str | None = None) -> AccountTransaction:
    return AccountTransaction(kind=kind, amount=Decimal(amount), value_date=day, hold_id=hold_id)


def state_of(
    transactions: list[AccountTransaction], status: AccountStatus = AccountStatus.ACTIVE
) -> AccountState:
    return AccountState(status=status, balances=fold_balances(transactions))


def test_fold_balances_every_kind() -> None:
    """100,000 in, 30,000 out, fee 500, interest 1,200, overdraft interest 0 (none), tax 120;
    hold A 20,000 then released 5,000; hold B 1,000.
    Ledger = 100,000 - 30,000 - 500 + 1,200 - 120 = 70,580; on hold = 15,000 + 1,000 = 16,000."""
    balances = fold_balances(
        [
            tx(K.DEPOSIT, "100000"),
            tx(K.WITHDRAWAL, "30000"),
            tx(K.FEE, "500"),
            tx(K.INTEREST, "1200"),
            tx(K.WITHHOLDING_TAX, "120"),
            tx(K.HOLD_PLACED, "20000", hold_id="A"),
            tx(K.HOLD_RELEASED, "5000", hold_id="A"),
            tx(K.HOLD_PLACED, "1000", hold_id="B"),
        ]
    )
    assert balances.ledger_balance == Decimal(70580)
    assert balances.on_hold == Decimal(16000)
    assert balances.holds == {"A": Decimal(15000), "B": Decimal(1000)}


def test_fully_released_hold_disappears() -> None:
    balances = fold_balances([tx(K.HOLD_PLACED, "10", hold_id="A"), tx(K.HOLD_RELEASED, "10", hold_id="A")])
    assert balances.on_hold == 0
    assert balances.holds == {}


@pytest.mark.parametrize(
    "transactions",
    [
        [tx(K.HOLD_PLACED, "10", hold_id="A"), tx(K.HOLD_RELEASED, "11", hold_id="A")],
        [tx(K.HOLD_RELEASED, "1", hold_id="nope")],
        [tx(K.HOLD_PLACED, "1")],
    ],
)
def test_corrupt_hold_history_is_refused(transactions: list[AccountTransaction]) -> None:
    with pytest.raises(DepositError) as raised:
        fold_balances(transactions)
    assert raised.value.field == "hold_id"


def test_available_balance_formula() -> None:
    """balance 50,000 - hold 8,000 - minimum 5,000 + overdraft 20,000 = 57,000."""
    balances = AccountBalances(ledger_balance=Decimal(50000), on_hold=Decimal(8000))
    rules = BalanceRules(minimum_balance=Decimal(5000), overdraft_limit=Decimal(20000))
    assert available_balance(balances, rules) == Decimal(57000)


def test_balance_on_counts_value_dates_up_to_the_day() -> None:
    history = [tx(K.DEPOSIT, "100", date(2026, 1, 1)), tx(K.WITHDRAWAL, "40", date(2026, 1, 5))]
    assert balance_on(history, date(2026, 1, 4)) == Decimal(100)
    assert balance_on(history, date(2026, 1, 5)) == Decimal(60)


def test_withdrawal_fee_flat_percent_min_max() -> None:
    """Flat 100 + 1 % of amount, min 250, max 2,000 (XOF, half-even to the unit).
    10,000 -> 100 + 100 = 200 -> min 250; 50,050 -> 100 + 500.5 = 600.5 -> 600 (half even);
    500,000 -> 100 + 5,000 -> max 2,000."""
    fee = WithdrawalFee(
        flat_amount=Decimal(100),
        percent_of_amount=Decimal(1),
        minimum_amount=Decimal(250),
        maximum_amount=Decimal(2000),
    )
    assert withdrawal_fee(Decimal(10000), fee, XOF) == Decimal(250)
    assert withdrawal_fee(Decimal(50050), fee, XOF) == Decimal(600)
    assert withdrawal_fee(Decimal(500000), fee, XOF) == Decimal(2000)
    assert withdrawal_fee(Decimal(500000), None, XOF) == 0


def test_accepted_withdrawal_returns_fee_and_transactions() -> None:
    """Balance 100,000, minimum 10,000, fee 1 % -> withdraw 50,000: fee 500, balance after 49,500,
    available after 49,500 - 10,000 = 39,500."""
    rules = WithdrawalRules(
        balance=BalanceRules(minimum_balance=Decimal(10000)), fee=WithdrawalFee(percent_of_amount=Decimal(1))
    )
    result = check_withdrawal(state_of([tx(K.DEPOSIT, "100000")]), Decimal(50000), DAY, rules, XOF)
    assert isinstance(result, WithdrawalAccepted)
    assert result.fee == Decimal(500)
    assert [t.kind for t in result.transactions] == [K.WITHDRAWAL, K.FEE]
    assert result.ledger_balance_after == Decimal(49500)
    assert result.available_balance_after == Decimal(39500)


def test_withdrawal_into_overdraft_up_to_the_limit() -> None:
    """Balance 1,000 with a 5,000 overdraft: 6,000 is accepted (balance -5,000), 6,001 is not."""
    rules = WithdrawalRules(balance=BalanceRules(overdraft_limit=Decimal(5000)))
    state = state_of([tx(K.DEPOSIT, "1000")])
    accepted = check_withdrawal(state, Decimal(6000), DAY, rules, XOF)
    assert isinstance(accepted, WithdrawalAccepted)
    assert accepted.ledger_balance_after == Decimal(-5000)
    refused = check_withdrawal(state, Decimal(6001), DAY, rules, XOF)
    assert isinstance(refused, MovementRefused)
    assert refused.reason is RefusalReason.INSUFFICIENT_AVAILABLE_BALANCE


def test_refusal_reasons() -> None:
    rules = WithdrawalRules(balance=BalanceRules(minimum_balance=Decimal(10000)))
    funded = [tx(K.DEPOSIT, "100000")]
    cases: list[tuple[AccountState, str, RefusalReason]] = [
        (state_of(funded), "0", RefusalReason.AMOUNT_NOT_POSITIVE),
        (state_of(funded), "-5", RefusalReason.AMOUNT_NOT_POSITIVE),
        (state_of(funded), "100.5", RefusalReason.WRONG_PRECISION),  # XOF has no minor unit
        (state_of(funded), "1e30", RefusalReason.AMOUNT_TOO_LARGE),
        (state_of(funded, AccountStatus.FROZEN), "100", RefusalReason.ACCOUNT_FROZEN),
        (state_of(funded, AccountStatus.BLOCKED), "100", RefusalReason.ACCOUNT_BLOCKED),
        (state_of(funded, AccountStatus.CLOSED), "100", RefusalReason.ACCOUNT_CLOSED),
        (state_of(funded, AccountStatus.PENDING), "100", RefusalReason.ACCOUNT_PENDING),
        (state_of(funded), "95000", RefusalReason.BELOW_MINIMUM_BALANCE),  # money there, minimum not kept
        (state_of(funded), "100001", RefusalReason.INSUFFICIENT_AVAILABLE_BALANCE),
        (
            state_of([*funded, tx(K.HOLD_PLACED, "95000", hold_id="g")]),
            "1000",
            RefusalReason.INSUFFICIENT_AVAILABLE_BALANCE,
        ),
    ]
    for state, amount, reason in cases:
        result = check_withdrawal(state, Decimal(amount), DAY, rules, XOF)
        assert isinstance(result, MovementRefused), (amount, reason)
        assert result.reason is reason, (amount, result)


def test_eur_precision_two_decimals() -> None:
    state = state_of([tx(K.DEPOSIT, "100.00")])
    assert isinstance(
        check_withdrawal(state, Decimal("10.25"), DAY, WithdrawalRules(), EUR), WithdrawalAccepted
    )
    refused = check_withdrawal(state, Decimal("10.255"), DAY, WithdrawalRules(), EUR)
    assert isinstance(refused, MovementRefused)
    assert refused.reason is RefusalReason.WRONG_PRECISION


def test_deposit_accepted_on_frozen_refused_on_blocked_and_closed() -> None:
    funded = [tx(K.DEPOSIT, "10")]
    assert isinstance(
        check_deposit(state_of(funded, AccountStatus.FROZEN), Decimal(5), DAY, XOF), DepositAccepted
    )
    for status in (AccountStatus.BLOCKED, AccountStatus.CLOSED, AccountStatus.PENDING):
        assert isinstance(check_deposit(state_of(funded, status), Decimal(5), DAY, XOF), MovementRefused)
    refused = check_deposit(state_of(funded), Decimal("5.5"), DAY, XOF)
    assert isinstance(refused, MovementRefused)
    assert refused.reason is RefusalReason.WRONG_PRECISION


def _histories() -> st.SearchStrategy[list[AccountTransaction]]:
    money = st.integers(min_value=1, max_value=10**7).map(Decimal)
    movement = st.builds(
        lambda kind, amount: tx(kind, str(amount)),
        st.sampled_from([K.DEPOSIT, K.WITHDRAWAL, K.FEE, K.INTEREST, K.OVERDRAFT_INTEREST]),
        money,
    )
    holds = st.builds(
        lambda amount, name: tx(K.HOLD_PLACED, str(amount), hold_id=name), money, st.sampled_from("abc")
    )
    return st.lists(st.one_of(movement, holds), max_size=20)


_FEES = st.one_of(
    st.none(),
    st.builds(
        WithdrawalFee,
        flat_amount=st.integers(0, 1000).map(Decimal),
        percent_of_amount=st.decimals(min_value=0, max_value=5, places=2),
        minimum_amount=st.none() | st.integers(0, 500).map(Decimal),
        maximum_amount=st.none() | st.integers(500, 5000).map(Decimal),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    history=_histories(),
    amount=st.integers(min_value=-10, max_value=10**7).map(Decimal),
    minimum=st.integers(0, 10**5).map(Decimal),
    overdraft=st.integers(0, 10**6).map(Decimal),
    fee=_FEES,
    status=st.sampled_from(list(AccountStatus)),
)
def test_accepted_withdrawal_never_makes_available_negative_and_refusal_changes_nothing(
    history: list[AccountTransaction],
    amount: Decimal,
    minimum: Decimal,
    overdraft: Decimal,
    fee: WithdrawalFee | None,
    status: AccountStatus,
) -> None:
    rules = WithdrawalRules(balance=BalanceRules(minimum_balance=minimum, overdraft_limit=overdraft), fee=fee)
    state = state_of(history, status)
    before = fold_balances(history)
    result = check_withdrawal(state, amount, DAY, rules, XOF)
    assert state.balances == before  # the input is untouched either way
    if isinstance(result, MovementRefused):
        return
    assert status is AccountStatus.ACTIVE
    after = fold_balances([*history, *result.transactions])
    assert available_balance(after, rules.balance) >= 0
    assert available_balance(after, rules.balance) == result.available_balance_after
    assert after.ledger_balance == result.ledger_balance_after
    assert after.ledger_balance == before.ledger_balance - amount - result.fee
