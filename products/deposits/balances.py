"""Balances of a deposit account and the rules a withdrawal must pass.

Everything here folds the account's own transactions, which the servicing layer stores next
to the journal entry each of them posted; nothing is cached. Three figures:

* **ledger balance**: credits (deposits, interest) minus debits (withdrawals, fees,
  overdraft interest, withholding tax). Negative only inside an overdraft.
* **on hold**: amounts placed on hold (guarantees, cash collateral) and not yet released.
  A hold does not move money, so it is not in the journal and not in the ledger balance.
* **available balance** = ledger balance - on hold - minimum balance + overdraft limit:
  what the client can still take out, fees included.

`check_withdrawal` answers a withdrawal request with either the fee to charge and the
transactions to record, or a refusal and its reason. It never raises for an ordinary
refusal, and it cannot change anything: its inputs are frozen.
"""

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

import msgspec

from ledger.limits import AMOUNT_MAX
from products.deposits.errors import DepositError
from products.deposits.limits import TRANSACTIONS_PER_CALCULATION_MAX
from products.rounding import Rounder

_ZERO: Final = Decimal(0)
_HUNDRED: Final = Decimal(100)


class TransactionKind(StrEnum):
    """What an account transaction is; values are the wire names."""

    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    FEE = "fee"
    INTEREST = "interest"
    OVERDRAFT_INTEREST = "overdraft_interest"
    WITHHOLDING_TAX = "withholding_tax"
    HOLD_PLACED = "hold_placed"
    HOLD_RELEASED = "hold_released"
    FEE_TAX = "fee_tax"
    """VAT/TAF charged with a fee (the charge's tax rate), owed to the State."""
    DEPOSIT_REVERSAL = "deposit_reversal"
    WITHDRAWAL_REVERSAL = "withdrawal_reversal"
    FEE_REVERSAL = "fee_reversal"
    FEE_TAX_REVERSAL = "fee_tax_reversal"


BALANCE_SIGN: Final[dict[TransactionKind, int]] = {
    TransactionKind.DEPOSIT: 1,
    TransactionKind.INTEREST: 1,
    TransactionKind.WITHDRAWAL: -1,
    TransactionKind.FEE: -1,
    TransactionKind.OVERDRAFT_INTEREST: -1,
    TransactionKind.WITHHOLDING_TAX: -1,
    TransactionKind.HOLD_PLACED: 0,
    TransactionKind.HOLD_RELEASED: 0,
    TransactionKind.FEE_TAX: -1,
    TransactionKind.DEPOSIT_REVERSAL: -1,
    TransactionKind.WITHDRAWAL_REVERSAL: 1,
    TransactionKind.FEE_REVERSAL: 1,
    TransactionKind.FEE_TAX_REVERSAL: 1,
}
"""Effect of each kind on the ledger balance: +1 credit, -1 debit, 0 none (holds)."""

INTEREST_KINDS: Final = frozenset({TransactionKind.INTEREST, TransactionKind.OVERDRAFT_INTEREST})
"""Kinds posted at the close of their value date: they count in the interest base from the next day."""

REVERSAL_OF: Final[dict[TransactionKind, TransactionKind]] = {
    TransactionKind.DEPOSIT: TransactionKind.DEPOSIT_REVERSAL,
    TransactionKind.WITHDRAWAL: TransactionKind.WITHDRAWAL_REVERSAL,
    TransactionKind.FEE: TransactionKind.FEE_REVERSAL,
    TransactionKind.FEE_TAX: TransactionKind.FEE_TAX_REVERSAL,
}
"""The kind that cancels each reversible kind: same amount, opposite effect on the balance."""

assert set(BALANCE_SIGN) == set(TransactionKind)
assert all(BALANCE_SIGN[k] == -BALANCE_SIGN[r] for k, r in REVERSAL_OF.items())


class AccountTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """One movement of a deposit account, as the account's history stores it.

    Parameters
    ----------
    kind
        What it is; the sign comes from `BALANCE_SIGN`, never from ``amount``.
    amount
        Strictly positive, exact in the product's decimals.
    value_date
        The day it counts from for balances and interest.
    hold_id
        For holds: which hold is placed or released (a release names the hold it frees).
    """

    kind: TransactionKind
    amount: Decimal
    value_date: date
    hold_id: str | None = None


class AccountStatus(StrEnum):
    """Lifecycle of a deposit account, as far as money movements care."""

    PENDING = "pending"  # opened, not yet activated: no movement
    ACTIVE = "active"
    FROZEN = "frozen"  # debits refused (a court order, a dispute); credits accepted
    BLOCKED = "blocked"  # every movement refused
    CLOSED = "closed"


class AccountBalances(msgspec.Struct, frozen=True, kw_only=True):
    """Ledger balance and holds after folding an account's transactions."""

    ledger_balance: Decimal
    on_hold: Decimal
    holds: dict[str, Decimal] = msgspec.field(default_factory=dict)


class BalanceRules(msgspec.Struct, frozen=True, kw_only=True):
    """The product (or account override) settings that bound the available balance."""

    minimum_balance: Decimal = _ZERO
    overdraft_limit: Decimal = _ZERO

    def __post_init__(self) -> None:
        if self.minimum_balance < 0:
            raise ValueError("minimum_balance must not be negative")
        if self.overdraft_limit < 0:
            raise ValueError("overdraft_limit must not be negative")


def fold_balances(transactions: Iterable[AccountTransaction]) -> AccountBalances:
    """Ledger balance and open holds from the account's transactions (any order).

    Raises `DepositError` when a release frees more than its hold still holds, or names an
    unknown hold: such a history is corrupt and must not be served.
    """
    balance = _ZERO
    holds: dict[str, Decimal] = {}
    for count, transaction in enumerate(transactions, start=1):
        assert count <= TRANSACTIONS_PER_CALCULATION_MAX, count
        assert transaction.amount > 0, transaction
        sign = BALANCE_SIGN[transaction.kind]
        if sign:
            balance += sign * transaction.amount
        elif transaction.kind is TransactionKind.HOLD_PLACED:
            hold_id = _hold_id(transaction)
            holds[hold_id] = holds.get(hold_id, _ZERO) + transaction.amount
        else:
            hold_id = _hold_id(transaction)
            held = holds.get(hold_id, _ZERO)
            if transaction.amount > held:
                raise DepositError(
                    "hold_id", f"release of {transaction.amount} exceeds hold {hold_id!r} ({held})"
                )
            holds[hold_id] = held - transaction.amount
    open_holds = {hold_id: amount for hold_id, amount in holds.items() if amount > 0}
    return AccountBalances(ledger_balance=balance, on_hold=sum(open_holds.values(), _ZERO), holds=open_holds)


def _hold_id(transaction: AccountTransaction) -> str:
    if transaction.hold_id is None:
        raise DepositError("hold_id", f"a {transaction.kind.value} transaction must name its hold")
    return transaction.hold_id


def available_balance(balances: AccountBalances, rules: BalanceRules) -> Decimal:
    """Ledger balance - on hold - minimum balance + overdraft limit (may be negative)."""
    return balances.ledger_balance - balances.on_hold - rules.minimum_balance + rules.overdraft_limit


def balance_on(transactions: Iterable[AccountTransaction], day: date) -> Decimal:
    """Ledger balance at the end of ``day``: every transaction value-dated on or before it."""
    return sum(
        (
            BALANCE_SIGN[t.kind] * t.amount
            for t in transactions
            if t.value_date <= day and BALANCE_SIGN[t.kind]
        ),
        _ZERO,
    )


def interest_effective_day(transaction: AccountTransaction) -> date:
    """First day a transaction counts in the interest base.

    Interest is posted at the close of its value date (the last day of the posting period),
    after that day's interest was computed, so it earns from the next day. Every other
    movement counts in the end-of-day balance of its value date.
    """
    if transaction.kind in INTEREST_KINDS:
        return transaction.value_date + timedelta(days=1)
    return transaction.value_date


class AccountState(msgspec.Struct, frozen=True, kw_only=True):
    """What a withdrawal check needs to know about the account now."""

    status: AccountStatus
    balances: AccountBalances


class WithdrawalFee(msgspec.Struct, frozen=True, kw_only=True):
    """Fee charged on each withdrawal: flat + percent of the amount, then bounded by min/max."""

    flat_amount: Decimal = _ZERO
    percent_of_amount: Decimal = _ZERO
    minimum_amount: Decimal | None = None
    maximum_amount: Decimal | None = None

    def __post_init__(self) -> None:
        if self.flat_amount < 0 or self.percent_of_amount < 0:
            raise ValueError("fee amounts and percent must not be negative")
        minimum, maximum = self.minimum_amount, self.maximum_amount
        if minimum is not None and maximum is not None and minimum > maximum:
            raise ValueError("fee minimum_amount must not exceed maximum_amount")


class WithdrawalRules(msgspec.Struct, frozen=True, kw_only=True):
    """Settings a withdrawal is checked against, mapped from the product and account."""

    balance: BalanceRules = msgspec.field(default_factory=BalanceRules)
    fee: WithdrawalFee | None = None


class RefusalReason(StrEnum):
    """Why a movement is refused; the API turns each into a problem type."""

    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    AMOUNT_TOO_LARGE = "amount_too_large"
    WRONG_PRECISION = "wrong_precision"
    ACCOUNT_PENDING = "account_pending"
    ACCOUNT_FROZEN = "account_frozen"
    ACCOUNT_BLOCKED = "account_blocked"
    ACCOUNT_CLOSED = "account_closed"
    ACCOUNT_DORMANT = "account_dormant"
    BELOW_MINIMUM_BALANCE = "below_minimum_balance"
    INSUFFICIENT_AVAILABLE_BALANCE = "insufficient_available_balance"


class MovementRefused(msgspec.Struct, frozen=True, kw_only=True, tag="refused"):
    """A refused deposit or withdrawal: nothing is to be recorded."""

    reason: RefusalReason
    field: str
    message: str


class WithdrawalAccepted(msgspec.Struct, frozen=True, kw_only=True, tag="accepted"):
    """An accepted withdrawal: the fee and the transactions to record, and the result."""

    amount: Decimal
    fee: Decimal
    transactions: tuple[AccountTransaction, ...]
    ledger_balance_after: Decimal
    available_balance_after: Decimal


class DepositAccepted(msgspec.Struct, frozen=True, kw_only=True, tag="accepted"):
    """An accepted deposit and the transaction to record."""

    amount: Decimal
    transaction: AccountTransaction
    ledger_balance_after: Decimal


_DEBIT_REFUSALS: Final[dict[AccountStatus, tuple[RefusalReason, str]]] = {
    AccountStatus.PENDING: (RefusalReason.ACCOUNT_PENDING, "the account is not activated yet"),
    AccountStatus.FROZEN: (RefusalReason.ACCOUNT_FROZEN, "the account is frozen: no withdrawal"),
    AccountStatus.BLOCKED: (RefusalReason.ACCOUNT_BLOCKED, "the account is blocked: no movement"),
    AccountStatus.CLOSED: (RefusalReason.ACCOUNT_CLOSED, "the account is closed"),
}
_CREDIT_REFUSALS: Final[dict[AccountStatus, tuple[RefusalReason, str]]] = {
    status: refusal for status, refusal in _DEBIT_REFUSALS.items() if status is not AccountStatus.FROZEN
}


def fee_tax(fee: Decimal, rate_percent: Decimal, rounder: Rounder) -> Decimal:
    """VAT/TAF on a fee, charged to the client on top of it: fee x rate / 100, rounded the
    product's way. *Example*: a 200 XOF fee under the 17 % TAF pays 34 of tax."""
    assert fee >= 0, fee
    assert 0 <= rate_percent <= _HUNDRED, rate_percent
    return rounder.round(fee * rate_percent / _HUNDRED)


def withdrawal_fee(amount: Decimal, fee: WithdrawalFee | None, rounder: Rounder) -> Decimal:
    """Fee for withdrawing ``amount``: flat + percent, bounded by min/max, rounded the product's way."""
    if fee is None:
        return rounder.zero()
    raw = fee.flat_amount + amount * fee.percent_of_amount / _HUNDRED
    if fee.minimum_amount is not None:
        raw = max(raw, fee.minimum_amount)
    if fee.maximum_amount is not None:
        raw = min(raw, fee.maximum_amount)
    return rounder.round(raw)


def check_withdrawal(
    state: AccountState, amount: Decimal, value_date: date, rules: WithdrawalRules, rounder: Rounder
) -> WithdrawalAccepted | MovementRefused:
    """Accept a withdrawal with its fee, or refuse it with the reason.

    The checks run from the cheapest to the most specific: the amount itself, the account's
    status, then the money. Amount plus fee must fit in the available balance. The reason
    is "below minimum balance" when the funds not on hold would cover it but the ledger
    balance would end below the minimum; otherwise "insufficient available balance".
    """
    refused = _refusal_before_money(amount, state.status, _DEBIT_REFUSALS, rounder)
    if refused is not None:
        return refused
    fee = withdrawal_fee(amount, rules.fee, rounder)
    available = available_balance(state.balances, rules.balance)
    debit = amount + fee
    if debit > available:
        minimum = rules.balance.minimum_balance
        crosses_minimum = state.balances.ledger_balance - debit < minimum
        if minimum > 0 and crosses_minimum and debit <= available + minimum:
            return MovementRefused(
                reason=RefusalReason.BELOW_MINIMUM_BALANCE,
                field="amount",
                message=f"the balance must stay at or above {minimum}; "
                f"at most {max(available - fee, _ZERO)} can be withdrawn",
            )
        return MovementRefused(
            reason=RefusalReason.INSUFFICIENT_AVAILABLE_BALANCE,
            field="amount",
            message=f"available balance is {available}; {amount} plus fee {fee} exceeds it",
        )
    transactions: list[AccountTransaction] = [
        AccountTransaction(kind=TransactionKind.WITHDRAWAL, amount=amount, value_date=value_date)
    ]
    if fee > 0:
        transactions.append(AccountTransaction(kind=TransactionKind.FEE, amount=fee, value_date=value_date))
    accepted = WithdrawalAccepted(
        amount=amount,
        fee=fee,
        transactions=tuple(transactions),
        ledger_balance_after=state.balances.ledger_balance - debit,
        available_balance_after=available - debit,
    )
    assert accepted.available_balance_after >= 0, accepted
    return accepted


def check_deposit(
    state: AccountState, amount: Decimal, value_date: date, rounder: Rounder
) -> DepositAccepted | MovementRefused:
    """Accept a deposit, or refuse it: bad amount, account pending, blocked or closed (frozen accepts)."""
    refused = _refusal_before_money(amount, state.status, _CREDIT_REFUSALS, rounder)
    if refused is not None:
        return refused
    return DepositAccepted(
        amount=amount,
        transaction=AccountTransaction(kind=TransactionKind.DEPOSIT, amount=amount, value_date=value_date),
        ledger_balance_after=state.balances.ledger_balance + amount,
    )


def _refusal_before_money(
    amount: Decimal,
    status: AccountStatus,
    refusals: dict[AccountStatus, tuple[RefusalReason, str]],
    rounder: Rounder,
) -> MovementRefused | None:
    """The amount's own checks, then the account status's, for deposits and withdrawals alike."""
    refused = _check_amount(amount, rounder)
    if refused is not None:
        return refused
    status_refusal = refusals.get(status)
    if status_refusal is not None:
        return MovementRefused(reason=status_refusal[0], field="account", message=status_refusal[1])
    return None


def _check_amount(amount: Decimal, rounder: Rounder) -> MovementRefused | None:
    if not amount.is_finite() or amount <= 0:
        return MovementRefused(
            reason=RefusalReason.AMOUNT_NOT_POSITIVE,
            field="amount",
            message="amount must be greater than zero",
        )
    if amount >= AMOUNT_MAX:
        return MovementRefused(
            reason=RefusalReason.AMOUNT_TOO_LARGE,
            field="amount",
            message=f"amount must be below {AMOUNT_MAX:,.0f}",
        )
    if amount != amount.quantize(rounder.quantum):
        return MovementRefused(
            reason=RefusalReason.WRONG_PRECISION,
            field="amount",
            message=f"amounts have {rounder.decimals} decimal(s); {amount} is not exact in that unit",
        )
    return None
