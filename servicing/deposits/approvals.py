"""Maker-checker on large withdrawals and transfers (the existing approvals mechanism).

An approval rule per command (`deposit-account.withdrawal`, `deposit-account.transfer`; PUT
/api/v1/approval-rules/{command}) says above which amount (and in which currency) a movement
needs a second person. Such a movement is checked as if it ran now (status, dormancy, limits,
fees and their tax) and stored pending; in the same transaction its funds (amount, fees and
tax) are held on the account (a `pending_approval` hold naming the pending command), so they
cannot be spent meanwhile. Nothing moves yet and nothing is posted.

Another user with the rule's permission approves it: the movement then runs through the same
service as a direct one, releasing its hold in the same transaction (idempotency key: the
maker's, else the approval's, so a second approval or a retry never moves money twice). If
it fails then (the account was blocked meanwhile), the command is marked failed and the hold
is released. A rejection releases the hold. The maker cannot decide on their own command.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.errors import LedgerError
from products.deposits import TransactionKind
from servicing.deposits import movements
from servicing.deposits import repository as repo
from servicing.deposits.commands import Transfer, Withdraw
from servicing.deposits.terms import product_terms, today
from servicing.errors import InvalidInput, NotFound
from servicing.staff.maker_checker import ApprovableCommand, MakerChecker, PendingCommand
from servicing.staff.sessions import Principal
from servicing.unit_of_work import UnitOfWorkFactory

WITHDRAWAL: Final = "deposit-account.withdrawal"
TRANSFER: Final = "deposit-account.transfer"
PENDING_APPROVAL: Final = "pending_approval"


class PendingWithdrawal(msgspec.Struct, frozen=True, kw_only=True):
    """A withdrawal waiting for approval, with what the rule compares (currency) and who sees it (office)."""

    command: Withdraw
    currency: str
    office_id: int


class PendingTransfer(msgspec.Struct, frozen=True, kw_only=True):
    command: Transfer
    currency: str
    office_id: int


Pending = PendingWithdrawal | PendingTransfer


def _source(command: Withdraw | Transfer) -> int:
    return command.account_id if isinstance(command, Withdraw) else command.from_account_id


async def _hold_funds(session: AsyncSession, command: Withdraw | Transfer, approval_id: uuid.UUID) -> None:
    """Check the movement as if it ran now and hold what it would take (amount, fees, tax)."""
    field = "account_id" if isinstance(command, Withdraw) else "from_account_id"
    account = await repo.load_account(session, _source(command), for_update=True)
    terms = await product_terms(session, account.product_id, account.product_version)
    value_date = movements.value_date_of(command.value_date, account)
    charges = Decimal(0)
    if isinstance(command, Withdraw):
        fees = terms.fees_for(command.amount) if command.amount.is_finite() and command.amount > 0 else []
        charges = sum((fee for _c, fee in fees), Decimal(0)) + sum(
            (tax for _c, tax in terms.taxes_on(fees, value_date)), Decimal(0))
    else:
        if command.to_account_id == command.from_account_id:
            raise InvalidInput("a transfer goes to another account", field="to_account_id")
        try:
            target = await repo.load_account(session, command.to_account_id)
        except NotFound as error:
            raise NotFound(error.message, field="to_account_id") from error
        if target.currency != account.currency:
            raise InvalidInput(f"account {target.account_id} is in {target.currency}, not {account.currency}",
                               field="to_account_id")
    movements.refuse_if_dormant(account, terms, value_date, "account" if field == "account_id" else field)
    movements.check_debit(account, terms, command.amount + charges, value_date)
    held = command.amount + charges
    hold_id = await session.scalar(text(
        "INSERT INTO deposit_hold (account_id, amount, reason, description, placed_on, placed_by, approval_id)"
        " VALUES (:account_id, :amount, :reason, :description, :day, :actor, :approval_id) RETURNING id"),
        {"account_id": account.account_id, "amount": held, "reason": PENDING_APPROVAL,
         "description": f"Fonds réservés : opération {approval_id} en attente d'approbation", "day": today(),
         "actor": command.actor, "approval_id": approval_id})
    await repo.insert_transactions(session, [repo.NewTransaction(
        account_id=account.account_id, kind=TransactionKind.HOLD_PLACED, amount=held, balance_after=account.balance,
        value_date=today(), actor=command.actor, hold_id=hold_id,
        description="Blocage : opération en attente d'approbation")])


def _approval_id(key: str) -> uuid.UUID:
    assert key.startswith("approval-"), key
    return uuid.UUID(key.removeprefix("approval-"))


async def _release(uow_factory: UnitOfWorkFactory, approval_id: uuid.UUID, actor: str) -> None:
    """Release the hold of a pending command that will not run (rejected, or failed)."""
    async with uow_factory() as uow:
        session = uow.session
        hold = (await session.execute(text(
            "SELECT id, account_id, amount FROM deposit_hold WHERE approval_id = :id AND released_on IS NULL"),
            {"id": approval_id})).one_or_none()
        if hold is None:
            return
        account = await repo.load_account(session, hold.account_id, for_update=True)
        await session.execute(text(
            "UPDATE deposit_hold SET released_on = :day, released_by = :actor, released_at = now()"
            " WHERE id = :id AND released_on IS NULL"), {"day": today(), "actor": actor, "id": hold.id})
        await repo.insert_transactions(session, [repo.NewTransaction(
            account_id=account.account_id, kind=TransactionKind.HOLD_RELEASED, amount=hold.amount,
            balance_after=account.balance, value_date=today(), actor=actor, hold_id=hold.id,
            description="Levée du blocage : opération non approuvée")])
        await uow.commit()


def approvable_movements(uow_factory: UnitOfWorkFactory) -> tuple[ApprovableCommand[PendingWithdrawal],
                                                                  ApprovableCommand[PendingTransfer]]:
    """The two commands to register with the application's MakerChecker."""

    async def run(pending: Pending, approval_key: str) -> movements.MovementResult:
        approval_id = _approval_id(approval_key)
        async with uow_factory() as uow:
            hold_id = await uow.session.scalar(text(
                "SELECT id FROM deposit_hold WHERE approval_id = :id AND released_on IS NULL"), {"id": approval_id})
        command = msgspec.structs.replace(pending.command, releases_hold_id=hold_id,
                                          idempotency_key=pending.command.idempotency_key or approval_key)
        try:
            return await movements.apply_one(uow_factory(), command)
        except LedgerError:
            await _release(uow_factory, approval_id, "maker-checker")
            raise

    async def reject(pending: Pending, approval_key: str) -> None:
        await _release(uow_factory, _approval_id(approval_key), "maker-checker")

    withdrawal: ApprovableCommand[PendingWithdrawal] = ApprovableCommand(
        name=WITHDRAWAL, payload_type=PendingWithdrawal, run=run, on_reject=reject,
        amounts=lambda p: {p.currency: p.command.amount}, office_of=lambda p: p.office_id,
        summary=lambda p: f"Retrait de {p.command.amount} {p.currency} du compte {p.command.account_id}")
    transfer: ApprovableCommand[PendingTransfer] = ApprovableCommand(
        name=TRANSFER, payload_type=PendingTransfer, run=run, on_reject=reject,
        amounts=lambda p: {p.currency: p.command.amount}, office_of=lambda p: p.office_id,
        summary=lambda p: f"Virement de {p.command.amount} {p.currency} du compte {p.command.from_account_id} "
                          f"vers le compte {p.command.to_account_id}")
    return withdrawal, transfer


async def submit_for_approval(maker_checker: MakerChecker, uow_factory: UnitOfWorkFactory,
                              command: Withdraw | Transfer, maker: Principal) -> PendingCommand | None:
    """The pending command when the movement needs a second person (its funds then held), else
    None: run it now. Costs nothing but a cached rule lookup when no rule is enabled."""
    name = WITHDRAWAL if isinstance(command, Withdraw) else TRANSFER
    rule = (await maker_checker.rules()).get(name)
    if rule is None or not rule.enabled:
        return None
    async with uow_factory() as uow:
        account = await repo.load_account(uow.session, _source(command), scope=maker.scope)
    payload: Pending = PendingWithdrawal(command=command, currency=account.currency, office_id=account.office_id) \
        if isinstance(command, Withdraw) else \
        PendingTransfer(command=command, currency=account.currency, office_id=account.office_id)

    async def hold_funds(session: AsyncSession, approval_id: uuid.UUID) -> None:
        await _hold_funds(session, command, approval_id)

    return await maker_checker.submit(name, payload, maker, idempotency_key=command.idempotency_key,
                                      on_pending=hold_funds)
