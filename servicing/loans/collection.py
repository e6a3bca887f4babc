"""Automatic collection (prélèvement automatique): on a date D, each active loan linked to a
deposit account has everything due on or before D and still unpaid taken from that account,
within its available balance (holds respected, the account's overdraft limit usable).

- A loan whose product takes partial instalment payments gets what the account can give; one
  that does not gets whole instalments only (oldest first), never part of one.
- Every loan with something due gets one `loan_collection` row for D: due, collected, missing
  (and why). Rows with something missing are the insufficient-funds events
  (`loan_insufficient_funds` view) the alerting work reads.
- Idempotent per date: the row is unique per (loan, D) and written in the same transaction as
  the repayment it made, so a second run for D collects nothing, and a crash loses or doubles
  nothing (a chunk is committed whole or not at all; the next run takes up where it stopped).

Loans are selected set-based (keyset by id) and processed in chunks, each chunk ONE database
transaction: its loans locked in id order, then their deposit accounts in id order (the lock
order of `servicing.loans.deposit_link`), so concurrent counter repayments wait for the chunk
and never deadlock with it. Each collected amount is a repayment taken exactly as at the
counter (`movements._take_repayment`: the product's allocation order, one journal entry whose
fund source is the deposit product's deposit-control account, the deposit transaction pointing
at it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Final

import msgspec
from sqlalchemy import select, text

from ledger.limits import PAGE_SIZE_MAX
from products.deposits import AccountStatus
from products.loans.allocation import Due
from products.loans.model import Schedule
from products.loans.position import remaining_dues
from products.posting_rules import AccountingRole
from servicing.deposits import repository as repo
from servicing.errors import InvalidInput
from servicing.loans import deposit_link
from servicing.loans.applications import get_product_in
from servicing.loans.db.tables import LoanRow, LoanTransactionRow
from servicing.loans.movements import _lines, _settled, _take_repayment
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

CHUNK_LOANS: Final = 500
RECEIPT_PREFIX: Final = "PRLV"


class CollectionSummary(msgspec.Struct, kw_only=True):
    """What a run did (so far, while it runs)."""

    collection_date: date
    loans_seen: int = 0
    loans_collected_in_full: int = 0
    loans_collected_in_part: int = 0
    loans_with_nothing_collected: int = 0
    amount_due: Decimal = Decimal(0)
    amount_collected: Decimal = Decimal(0)
    amount_missing: Decimal = Decimal(0)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def shortfalls(self) -> int:
        return self.loans_collected_in_part + self.loans_with_nothing_collected


class InsufficientFunds(msgspec.Struct, frozen=True, kw_only=True):
    """A collection that could not take everything due."""

    event_id: int
    loan_id: int
    collection_date: date
    deposit_account_id: int | None
    currency: str
    amount_due: Decimal
    amount_collected: Decimal
    amount_missing: Decimal
    reason: str


def due_by(dues: list[Due], on: date) -> list[Due]:
    return [d for d in dues if d.due_date <= on]


def collectable(dues: list[Due], available: Decimal, *, partial_allowed: bool) -> Decimal:
    """What to take of ``dues`` (due by the date, oldest instalment first) from ``available``:
    as much as there is when the product takes partial payments, else whole instalments only."""
    total = sum((d.amount for d in dues), Decimal(0))
    if partial_allowed or total <= available:
        return min(total, max(available, Decimal(0)))
    taken = Decimal(0)
    for instalment in sorted({d.instalment for d in dues}):
        whole = sum((d.amount for d in dues if d.instalment == instalment), Decimal(0))
        if taken + whole > available:
            break
        taken += whole
    return taken


_SELECT = """
SELECT l.id FROM loan l JOIN loan_deposit_link k ON k.loan_id = l.id
 WHERE l.status = 'active' AND l.id > :after
   AND CAST(l.schedule -> 'instalments' -> 0 ->> 'due_date' AS date) <= :on
   AND NOT EXISTS (SELECT 1 FROM loan_collection c WHERE c.loan_id = l.id AND c.collection_date = :on)
   {scope}
 ORDER BY l.id LIMIT :limit
"""


async def collect(uow_factory: UnitOfWorkFactory, on: date, *, actor: str, scope: OfficeScope | None = None,
                  chunk_size: int = CHUNK_LOANS, today: date | None = None,
                  progress: Callable[[CollectionSummary], None] | None = None) -> CollectionSummary:
    """Collect everything due on or before ``on`` from the linked deposit accounts."""
    if on > (today or date.today()):
        raise InvalidInput("a collection cannot be run for a future date", field="collection_date")
    assert 1 <= chunk_size <= 5_000, chunk_size
    summary = CollectionSummary(collection_date=on)
    started = time.perf_counter()
    after = 0
    condition = "" if scope is None or scope.whole_institution else "AND " + scope.sql_condition("l.office_id")
    while True:
        async with uow_factory() as uow:
            params: dict[str, object] = {"after": after, "on": on, "limit": chunk_size}
            if condition:
                assert scope is not None
                params["scope_office_id"] = scope.office_id
            ids = list((await uow.session.scalars(text(_SELECT.format(scope=condition)), params)).all())
            if not ids:
                break
            after = ids[-1]
            await _collect_chunk(uow, ids, on, actor, summary)
            await uow.commit()
        summary.chunks += 1
        summary.seconds = time.perf_counter() - started
        if progress is not None:
            progress(summary)
    summary.seconds = time.perf_counter() - started
    return summary


async def _collect_chunk(uow: UnitOfWork, ids: list[int], on: date, actor: str, summary: CollectionSummary) -> None:
    session = uow.session
    # Lock order: the loans (id order), then their deposit accounts (id order).
    loans = list((await session.scalars(select(LoanRow).where(LoanRow.id.in_(ids), LoanRow.status == "active")
                                        .order_by(LoanRow.id).with_for_update())).all())
    done = set((await session.scalars(text(
        "SELECT loan_id FROM loan_collection WHERE loan_id = ANY(:ids) AND collection_date = :on"),
        {"ids": ids, "on": on})).all())
    loans = [loan for loan in loans if loan.id not in done]
    links = dict((await session.execute(text(
        "SELECT loan_id, deposit_account_id FROM loan_deposit_link WHERE loan_id = ANY(:ids)"),
        {"ids": [loan.id for loan in loans]})).all())
    await repo.lock_accounts(session, list(links.values()))
    histories: dict[int, list[LoanTransactionRow]] = {}
    for transaction in (await session.scalars(select(LoanTransactionRow).where(
            LoanTransactionRow.loan_id.in_([loan.id for loan in loans]))
            .order_by(LoanTransactionRow.loan_id, LoanTransactionRow.sequence_number))).all():
        histories.setdefault(transaction.loan_id, []).append(transaction)
    rows: list[dict[str, object]] = []
    for loan in loans:
        history = histories.get(loan.id, [])
        if not history or max(t.value_date for t in history) > on:
            continue  # money moved after the date: a later run (or the counter) takes what is due
        assert loan.schedule is not None
        schedule = msgspec.convert(loan.schedule, Schedule)
        dues = due_by(remaining_dues(schedule, _settled(history), _lines(history, "charge")), on)
        due = sum((d.amount for d in dues), Decimal(0))
        if due == 0:
            continue
        account_id = int(links[loan.id])
        account = await repo.load_account(session, account_id)
        product = await get_product_in(uow, loan.product_id, loan.product_version)
        reason = ""
        if account.status is not AccountStatus.ACTIVE:
            reason = f"deposit account {account_id} is {account.status.value}"
            taken = Decimal(0)
        elif account.currency != loan.currency.strip() or account.client_id != loan.client_id:
            reason = f"deposit account {account_id} is not the borrower's in {loan.currency.strip()}"
            taken = Decimal(0)
        else:
            free = deposit_link.available(account)
            taken = collectable(dues, free, partial_allowed=product.partial_instalment_payment_allowed)
            if taken < due:
                reason = f"{free} available on deposit account {account_id}"
        transaction_id = None
        if taken > 0:
            leg = await deposit_link.LINKED.move(
                uow, account_id, client_id=loan.client_id, amount=taken, currency=loan.currency.strip(), credit=False,
                value_date=on, reference=f"prêt n° {loan.id} (prélèvement du {on})", actor=actor)
            accounting = msgspec.structs.replace(
                product.accounting, accounts={**product.accounting.accounts, AccountingRole.FUND_SOURCE: leg.fund_source})
            written = await _take_repayment(
                uow, loan, product, amount=taken, value_date=on, accounting=accounting, payment_type_id=None,
                receipt_number=f"{RECEIPT_PREFIX} {on.isoformat()}", actor=actor, idempotency_key=None,
                fingerprint=None, leg=leg)
            transaction_id = written.id
        rows.append({"loan_id": loan.id, "on": on, "account_id": account_id, "currency": loan.currency.strip(),
                     "due": due, "taken": taken, "missing": due - taken, "transaction_id": transaction_id,
                     "reason": reason[:300], "actor": actor})
        summary.loans_seen += 1
        summary.amount_due += due
        summary.amount_collected += taken
        summary.amount_missing += due - taken
        if taken == due:
            summary.loans_collected_in_full += 1
        elif taken > 0:
            summary.loans_collected_in_part += 1
        else:
            summary.loans_with_nothing_collected += 1
    if rows:
        await session.execute(text(
            "INSERT INTO loan_collection (loan_id, collection_date, deposit_account_id, currency, amount_due,"
            " amount_collected, amount_missing, loan_transaction_id, reason, created_by)"
            " VALUES (:loan_id, :on, :account_id, :currency, :due, :taken, :missing, :transaction_id, :reason, :actor)"),
            rows)


async def insufficient_funds(uow: UnitOfWork, *, on: date, scope: OfficeScope, after_id: int = 0,
                             limit: int = PAGE_SIZE_MAX) -> list[InsufficientFunds]:
    """The insufficient-funds events of a collection date (loans of the user's offices)."""
    condition = "" if scope.whole_institution else "AND " + scope.sql_condition("l.office_id")
    async with uow:
        found = (await uow.session.execute(text(
            "SELECT e.event_id, e.loan_id, e.collection_date, e.deposit_account_id, e.currency, e.amount_due,"
            " e.amount_collected, e.amount_missing, e.reason FROM loan_insufficient_funds e"
            f" JOIN loan l ON l.id = e.loan_id WHERE e.collection_date = :on AND e.event_id > :after {condition}"
            " ORDER BY e.event_id LIMIT :limit"),
            {"on": on, "after": after_id, "limit": limit, "scope_office_id": scope.office_id})).all()
    return [InsufficientFunds(event_id=r.event_id, loan_id=r.loan_id, collection_date=r.collection_date,
                              deposit_account_id=r.deposit_account_id, currency=r.currency.strip(),
                              amount_due=repo._plain(r.amount_due), amount_collected=repo._plain(r.amount_collected),
                              amount_missing=repo._plain(r.amount_missing), reason=r.reason) for r in found]
