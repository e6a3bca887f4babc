"""Loans and the client's deposit account: money moved on the account inside the loan's unit
of work, the holds a loan places, the account a loan is linked to.

One journal entry per event. A disbursement into the account, a repayment from it, a refund to
it: the loan's posting rules build the entry with the deposit product's deposit-control account
as the fund source, and the deposit transaction written here points at that same entry. When
the account is overdrawn (or the debit draws on the overdraft), the part that repays or draws
the overdraft is moved from the deposit-control account to the deposit product's overdraft
portfolio by two more lines of the same entry, exactly as a deposit movement posts it.

**Lock order** (everywhere, so concurrent repayments, refunds and collection runs never
deadlock): loan rows first, in ascending id, then deposit accounts, in ascending id. A loan
movement locks its loan (`SELECT ... FOR UPDATE`) and then the account; a collection chunk locks
its loans then its accounts; deposit-only movements lock accounts only. Nothing locks a loan
while holding a deposit account. Holds come last: a hold is placed or released only on a locked
account (`lock_loan_accounts` before `release_loan_holds` touches a hold), as a deposit movement
or a hold released by hand does (account, then hold).

The checks are the deposit module's own (`check_deposit`, `check_withdrawal`: status, precision,
available balance with holds, minimum balance and the account's overdraft limit), and the cached
balance is updated in the same statement as the transaction is appended, as the deposit module
does, so `grandlivre verify` (deposit-balances) checks it the same way.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import text

from ledger.model import JournalEntry, Line, Side
from products.deposits import (
    AccountBalances,
    AccountState,
    AccountStatus,
    MovementRefused,
    TransactionKind,
    WithdrawalRules,
    available_balance,
    check_deposit,
    check_withdrawal,
)
from products.deposits.balances import REVERSAL_OF
from products.loans.instalment_savings import saves_per_instalment
from products.loans.requirements import LoanRequirements
from servicing.deposits import posting
from servicing.deposits import repository as repo
from servicing.deposits.commands import HoldReason, MovementRefusedError
from servicing.deposits.terms import AccountRules, ProductTerms, product_terms
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

FIELD: Final = "deposit_account_id"
HOLD_REASONS: Final = {"mandatory_savings": HoldReason.GUARANTEE, "cash_collateral": HoldReason.CASH_COLLATERAL,
                       "guarantee_own_funds": HoldReason.GUARANTEE}
"""The deposit hold reason of each loan requirement (the link table keeps the requirement itself)."""
_LABELS: Final = {"mandatory_savings": "Épargne obligatoire", "cash_collateral": "Caution financière",
                  "guarantee_own_funds": "Garantie sur fonds propres"}


class DepositLeg:
    """The deposit side of one loan event, checked on the locked account: what the loan entry
    uses as fund source, the overdraft lines to add, and the transaction to append once the
    entry's id is known."""

    def __init__(self, account: repo.AccountRow, terms: ProductTerms, *, amount: Decimal, credit: bool,
                 value_date: date, description: str, actor: str) -> None:
        self.account = account
        self.terms = terms
        self.amount = amount
        self.credit = credit
        self.value_date = value_date
        self.description = description
        self.actor = actor
        if credit:
            _funds, self.overdraft = posting.credit_split(account.balance, amount)
        else:
            _funds, self.overdraft = posting.debit_split(account.balance, amount)
        control = terms.control_account()
        assert control is not None
        self.fund_source: str = control

    @property
    def account_id(self) -> int:
        return self.account.account_id

    def adjust(self, entry: JournalEntry) -> JournalEntry:
        """The entry with the overdraft part moved from deposit control to the overdraft portfolio."""
        if self.overdraft == 0:
            return entry
        overdraft_account = self.terms.overdraft_account()
        assert overdraft_account is not None, "an overdrawn account's product maps its overdraft portfolio"
        currency = entry.lines[0].currency
        control_side, overdraft_side = (Side.DEBIT, Side.CREDIT) if self.credit else (Side.CREDIT, Side.DEBIT)
        extra = (Line(account_code=self.fund_source, side=control_side, amount=self.overdraft, currency=currency),
                 Line(account_code=overdraft_account, side=overdraft_side, amount=self.overdraft, currency=currency))
        return msgspec.structs.replace(entry, lines=entry.lines + extra)

    @property
    def balance_after(self) -> Decimal:
        return self.account.balance + (self.amount if self.credit else -self.amount)

    def transaction(self, entry_id: UUID | None) -> repo.NewTransaction:
        """The account transaction, pointing at the loan's entry."""
        return repo.NewTransaction(
            account_id=self.account_id, kind=TransactionKind.DEPOSIT if self.credit else TransactionKind.WITHDRAWAL,
            amount=self.amount, balance_after=self.balance_after, value_date=self.value_date, actor=self.actor,
            description=self.description[:500], journal_entry_id=entry_id)

    async def record(self, uow: UnitOfWork, entry_id: UUID | None) -> repo.TransactionRecord:
        """Append the account transaction and store the new balance, in one statement."""
        recorded = await repo.insert_transactions(uow.session, [self.transaction(entry_id)],
                                                  balances={self.account_id: self.balance_after})
        return recorded[0]


def _state(account: repo.AccountRow) -> AccountState:
    return AccountState(status=account.status,
                        balances=AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold))


def _limits(account: repo.AccountRow) -> AccountRules:
    return AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=account.overdraft_limit)


def available(account: repo.AccountRow) -> Decimal:
    """What a debit may take: balance less holds and minimum balance, plus the overdraft limit
    (zero unless the account is active)."""
    if account.status is not AccountStatus.ACTIVE:
        return Decimal(0)
    return max(Decimal(0), available_balance(
        AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold), _limits(account).balance_rules()))


def free_funds(account: repo.AccountRow) -> Decimal:
    """The client's own money free on the account: balance less holds and minimum balance, the
    overdraft not counted (what a hold may cover, what a guarantee applied may take)."""
    return max(Decimal(0), available_balance(
        AccountBalances(ledger_balance=account.balance, on_hold=account.on_hold),
        AccountRules(minimum_balance=account.minimum_balance, overdraft_limit=Decimal(0)).balance_rules()))


async def client_account(uow: UnitOfWork, account_id: int, *, client_id: int, currency: str,
                         field: str = FIELD) -> tuple[repo.AccountRow, ProductTerms]:
    """The client's active deposit account in the currency, locked; refused (422 naming the
    field) when it is another client's, in another currency, not active, or posts nothing."""
    try:
        account = await repo.load_account(uow.session, account_id, for_update=True)
    except NotFound as error:
        raise InvalidInput(f"unknown deposit account {account_id}", field=field) from error
    if account.client_id != client_id:
        raise InvalidInput(f"deposit account {account_id} belongs to another client", field=field)
    if account.currency != currency:
        raise InvalidInput(f"deposit account {account_id} is in {account.currency}, the loan in {currency}",
                           field=field)
    if account.status is not AccountStatus.ACTIVE:
        raise InvalidInput(f"deposit account {account_id} is {account.status.value}: no loan money moves on it",
                           field=field)
    terms = await product_terms(uow.session, account.product_id, account.product_version)
    if not terms.posts or terms.control_account() is None:
        raise InvalidInput(f"the product of deposit account {account_id} posts nothing to the ledger", field=field)
    return account, terms


def _refused(refusal: MovementRefused) -> MovementRefusedError:
    return MovementRefusedError(refusal, field="amount" if refusal.field == "amount" else FIELD)


class LinkedDepositAccounts:
    """The `DepositAccounts` port of `servicing.loans.movements`, on PostgreSQL."""

    async def move(self, uow: UnitOfWork, account_id: int, *, client_id: int, amount: Decimal, currency: str,
                   credit: bool, value_date: date, reference: str, actor: str = "system") -> DepositLeg:
        account, terms = await client_account(uow, account_id, client_id=client_id, currency=currency)
        if account.activated_on is not None and value_date < account.activated_on:
            raise InvalidInput(f"deposit account {account_id} was activated on {account.activated_on}",
                               field="value_date")
        if not credit:
            return debit_leg(account, terms, amount, value_date, reference=reference, actor=actor)
        checked = check_deposit(_state(account), amount, value_date, terms.rounder)
        if isinstance(checked, MovementRefused):
            raise _refused(checked)
        return DepositLeg(account, terms, amount=amount, credit=True, value_date=value_date,
                          description=f"Crédit {reference}", actor=actor)


def debit_leg(account: repo.AccountRow, terms: ProductTerms, amount: Decimal, value_date: date, *, reference: str,
              actor: str) -> DepositLeg:
    """A debit of the account checked by the deposit module's rules (status, precision, available
    balance with holds, minimum balance, overdraft limit); refused with the field to fix."""
    checked = check_withdrawal(_state(account), amount, value_date,
                               WithdrawalRules(balance=_limits(account).balance_rules()), terms.rounder)
    if isinstance(checked, MovementRefused):
        raise _refused(checked)
    return DepositLeg(account, terms, amount=amount, credit=False, value_date=value_date,
                      description=f"Débit {reference}", actor=actor)


LINKED: Final = LinkedDepositAccounts()


# --------------------------------------------------------------------------- link and holds

async def link(uow: UnitOfWork, loan_id: int, account_id: int, *, on: date, actor: str) -> None:
    """Link the loan to the deposit account (repayments and collection take from it)."""
    await uow.session.execute(text(
        "INSERT INTO loan_deposit_link (loan_id, deposit_account_id, linked_on, linked_by)"
        " VALUES (:loan_id, :account_id, :on, :actor)"
        " ON CONFLICT (loan_id) DO UPDATE SET deposit_account_id = EXCLUDED.deposit_account_id,"
        " linked_on = EXCLUDED.linked_on, linked_by = EXCLUDED.linked_by, linked_at = now()"
        " WHERE loan_deposit_link.deposit_account_id <> EXCLUDED.deposit_account_id"),
        {"loan_id": loan_id, "account_id": account_id, "on": on, "actor": actor})


async def linked_account(uow: UnitOfWork, loan_id: int) -> int | None:
    found = await uow.session.scalar(text("SELECT deposit_account_id FROM loan_deposit_link WHERE loan_id = :id"),
                                     {"id": loan_id})
    return int(found) if found is not None else None


def required_holds(requirements: LoanRequirements) -> list[tuple[str, Decimal]]:
    """What the product makes the borrower keep on their account while the loan runs: mandatory
    savings (when an amount is known upfront), the minimum cash collateral, and the own-funds
    share of the guarantee when the product holds guarantee funds."""
    wanted = [("mandatory_savings", requirements.mandatory_savings_amount),
              ("cash_collateral", requirements.cash_collateral_min_amount),
              ("guarantee_own_funds", requirements.guarantee_own_funds_min_amount
               if requirements.hold_guarantee_funds else None)]
    return [(name, amount) for name, amount in wanted if amount is not None and amount > 0]


async def place_loan_holds(uow: UnitOfWork, loan_id: int, client_id: int, currency: str,
                           requirements: LoanRequirements, *, account_id: int | None, on: date, actor: str) -> None:
    """Place the loan's holds on the account (the one disbursed into, else the linked one); the
    account's available balance must cover them (422 naming ``deposit_account_id``)."""
    holds = required_holds(requirements)
    if not holds:
        return
    account_id = account_id or await linked_account(uow, loan_id)
    total = sum((amount for _name, amount in holds), Decimal(0))
    if account_id is None:
        raise InvalidInput(f"the product holds {total} {currency} on the borrower's deposit account "
                           "(mandatory savings, cash collateral, guarantee): disburse into it or link one", field=FIELD)
    account, _terms = await client_account(uow, account_id, client_id=client_id, currency=currency)
    free = free_funds(account)
    if total > free:
        raise InvalidInput(" and ".join(f"{amount} of {name.replace('_', ' ')}" for name, amount in holds)
                           + f" must be held on deposit account {account_id}; only {free} {currency} is available",
                           field=FIELD)
    for name, amount in holds:
        await place_loan_hold(uow, account, loan_id, name, amount, description=f"{_LABELS[name]} prêt n° {loan_id}",
                              on=on, actor=actor)


async def place_loan_hold(uow: UnitOfWork, account: repo.AccountRow, loan_id: int, requirement: str, amount: Decimal,
                          *, description: str, on: date, actor: str) -> int:
    """One hold of the loan on the locked account (its deposit hold, the `loan_hold` row saying
    which requirement it covers, the account's ``hold_placed`` transaction); answers its id."""
    hold_id = await uow.session.scalar(text(
        "INSERT INTO deposit_hold (account_id, amount, reason, description, placed_on, placed_by)"
        " VALUES (:account_id, :amount, :reason, :description, :on, :actor) RETURNING id"),
        {"account_id": account.account_id, "amount": amount, "reason": HOLD_REASONS[requirement].value,
         "description": description, "on": on, "actor": actor})
    assert hold_id is not None
    await uow.session.execute(text(
        "INSERT INTO loan_hold (hold_id, loan_id, requirement) VALUES (:hold_id, :loan_id, :requirement)"),
        {"hold_id": hold_id, "loan_id": loan_id, "requirement": requirement})
    await repo.insert_transactions(uow.session, [repo.NewTransaction(
        account_id=account.account_id, kind=TransactionKind.HOLD_PLACED, amount=amount, balance_after=account.balance,
        value_date=on, actor=actor, hold_id=hold_id, description=f"Blocage {description}")])
    return int(hold_id)


async def loan_disbursed(uow: UnitOfWork, loan: Any, requirements: LoanRequirements, leg: DepositLeg | None, *,
                         on: date, actor: str) -> None:
    """After a disbursement: the account paid into becomes the loan's linked account, and the
    holds the product requires are placed on it (or on the account linked before). A product
    saving a rate of each instalment needs that account too (the close of business holds the
    savings on it: `servicing.loans.instalment_savings`)."""
    if leg is not None:
        await link(uow, loan.id, leg.account_id, on=on, actor=actor)
    elif saves_per_instalment(requirements.mandatory_savings) and await linked_account(uow, loan.id) is None:
        savings = requirements.mandatory_savings
        assert savings is not None
        raise InvalidInput(f"the product saves {savings.rate_percent} % of each instalment on the borrower's deposit "
                           "account: disburse into it or link one", field=FIELD)
    await place_loan_holds(uow, loan.id, loan.client_id, loan.currency.strip(), requirements,
                           account_id=leg.account_id if leg is not None else None, on=on, actor=actor)


_LOCK_LOAN_ACCOUNTS = text("""
SELECT a.id FROM deposit_account a
 WHERE a.id IN (SELECT unnest(CAST(:also AS bigint[]))
                 UNION SELECT h.account_id FROM loan_hold l JOIN deposit_hold h ON h.id = l.hold_id
                        WHERE l.loan_id = ANY(CAST(:loan_ids AS int[])) AND h.released_on IS NULL)
 ORDER BY a.id FOR UPDATE OF a
""")
"""One probe of the primary key per account (a union, not an OR that would scan the table)."""


async def lock_loan_accounts(uow: UnitOfWork, loan_ids: list[int], *, also: list[int] | None = None) -> None:
    """Lock, in ascending id, the deposit accounts holding open holds of the (locked) loans, with
    the accounts ``also`` named (the account a movement takes from or pays into): the step
    between the loans and the holds in the lock order. Releasing a hold without its account
    locked takes the hold's row lock first and then waits for the account (the deposit
    transaction recording the release references it), while a hold released by hand, a
    withdrawal or a transfer locks the account first and then the hold: a deadlock. Holds are
    placed only under their loan's lock, so the accounts read here are all a release touches."""
    await uow.session.execute(_LOCK_LOAN_ACCOUNTS, {"loan_ids": loan_ids, "also": also or []})


async def release_loan_holds(uow: UnitOfWork, loan_id: int, *, on: date, actor: str,
                             hold_ids: list[int] | None = None) -> None:
    """Release every open hold the loan placed (loan closed, or its disbursement undone), or
    only ``hold_ids`` among them. Their accounts are locked first (`lock_loan_accounts`: a
    no-op for those the caller locked already, which it does first when it also moves money
    on another account)."""
    await lock_loan_accounts(uow, [loan_id])
    only = "" if hold_ids is None else " AND h.id = ANY(:hold_ids)"
    released = (await uow.session.execute(text(
        "UPDATE deposit_hold h SET released_on = :on, released_by = :actor, released_at = now()"
        "  FROM loan_hold l WHERE l.hold_id = h.id AND l.loan_id = :loan_id AND h.released_on IS NULL" + only +
        " RETURNING h.id, h.account_id, h.amount, (SELECT balance FROM deposit_account a WHERE a.id = h.account_id)"),
        {"on": on, "actor": actor, "loan_id": loan_id, "hold_ids": hold_ids or []})).all()
    if released:
        await repo.insert_transactions(uow.session, [repo.NewTransaction(
            account_id=account_id, kind=TransactionKind.HOLD_RELEASED, amount=amount, balance_after=balance,
            value_date=on, actor=actor, hold_id=hold_id, description=f"Levée de blocage prêt n° {loan_id}")
            for hold_id, account_id, amount, balance in released])


async def reverse_movements(uow: UnitOfWork, original_entry_id: UUID | None, reversal_entry_id: UUID | None, *,
                            value_date: date, actor: str) -> None:
    """The deposit side of a reversed loan transaction: each deposit transaction its entry moved
    is mirrored (a credit taken back, a debit given back), pointing at the reversal entry. Taking
    back a credit must fit the account's available balance (409 otherwise)."""
    if original_entry_id is None:
        return
    moved = (await uow.session.execute(text(
        "SELECT id, account_id, kind, amount FROM deposit_transaction"
        " WHERE journal_entry_id = :id AND kind IN ('deposit', 'withdrawal') ORDER BY account_id, id"),
        {"id": original_entry_id})).all()
    for transaction_id, account_id, kind, amount in moved:
        account = await repo.load_account(uow.session, account_id, for_update=True)
        terms = await product_terms(uow.session, account.product_id, account.product_version)
        amount = repo._plain(amount)
        taking_back = kind == TransactionKind.DEPOSIT.value
        if taking_back:
            checked = check_withdrawal(_state(account), amount, value_date,
                                       WithdrawalRules(balance=_limits(account).balance_rules()), terms.rounder)
            if isinstance(checked, MovementRefused):
                raise Conflict(f"deposit account {account_id} cannot give back the {amount} it received: "
                               f"{checked.message}", field=FIELD)
        balance = account.balance + (-amount if taking_back else amount)
        await repo.insert_transactions(uow.session, [repo.NewTransaction(
            account_id=account_id, kind=REVERSAL_OF[TransactionKind(kind)],
            amount=amount, balance_after=balance, value_date=value_date, actor=actor, reverses_id=transaction_id,
            description=f"Annulation opération {transaction_id}", journal_entry_id=reversal_entry_id)],
            balances={account_id: balance})


async def funds_of(uow: UnitOfWork, entry_id: UUID | None) -> int | None:
    """The deposit account a loan transaction's entry moved, if any (to take a repayment again
    from the same account when a reversal re-applies it)."""
    if entry_id is None:
        return None
    found = await uow.session.scalar(text(
        "SELECT account_id FROM deposit_transaction WHERE journal_entry_id = :id AND kind IN ('deposit', 'withdrawal')"
        " AND reverses_id IS NULL ORDER BY id LIMIT 1"), {"id": entry_id})
    return int(found) if found is not None else None


async def deposits_available(uow: UnitOfWork, client_id: int, currency: str) -> Decimal:
    """What the client's active deposit accounts in the currency hold free of holds and above
    their minimum balance (overdraft not counted): the borrower's own funds for the eligibility
    rules."""
    found = await uow.session.scalar(text(
        "SELECT coalesce(sum(greatest(a.balance - a.minimum_balance - coalesce((SELECT sum(h.amount)"
        " FROM deposit_hold h WHERE h.account_id = a.id AND h.released_on IS NULL), 0), 0)), 0)"
        " FROM deposit_account a WHERE a.client_id = :client_id AND a.currency = :currency AND a.status = 'active'"),
        {"client_id": client_id, "currency": currency})
    return repo._plain(Decimal(found))


class LoanDepositLink(msgspec.Struct, frozen=True, kw_only=True):
    loan_id: int
    deposit_account_id: int
    linked_on: date
    linked_by: str


async def link_loan(uow_factory: UnitOfWorkFactory, loan_id: int, account_id: int, *, actor: str,
                    scope: OfficeScope) -> LoanDepositLink:
    """Link an approved or active loan to its borrower's active deposit account in its currency
    (lock order: the loan, then the account)."""
    async with uow_factory() as uow:
        loan = (await uow.session.execute(text(
            "SELECT id, client_id, office_id, currency, status FROM loan WHERE id = :id FOR UPDATE"),
            {"id": loan_id})).one_or_none()
        if loan is None or not scope.includes(loan.office_id):
            raise NotFound(f"unknown loan {loan_id}", field="loan_id")
        if loan.status not in ("approved", "active"):
            raise Conflict(f"loan {loan_id} is {loan.status}; only an approved or active loan is linked",
                           field="loan_id")
        await client_account(uow, account_id, client_id=loan.client_id, currency=loan.currency.strip())
        on = date.today()
        await link(uow, loan_id, account_id, on=on, actor=actor)
        row = (await uow.session.execute(text(
            "SELECT loan_id, deposit_account_id, linked_on, linked_by FROM loan_deposit_link WHERE loan_id = :id"),
            {"id": loan_id})).one()
        await uow.commit()
    return LoanDepositLink(loan_id=row.loan_id, deposit_account_id=row.deposit_account_id, linked_on=row.linked_on,
                           linked_by=row.linked_by)
