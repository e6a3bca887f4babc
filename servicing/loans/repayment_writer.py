"""Counter repayments in groups: concurrent repayment requests on different loans share one
database transaction (group commit, as the journal service and the deposit movement writer do).

A group is ONE unit of work and a fixed number of statements whatever its size:

1. its loans locked in id order (SELECT ... FOR UPDATE, the lock order of the collection, so
   concurrent groups, collections and single repayments queue and never deadlock), each with
   its schedule and terms as text and the payment type's fund-source account;
2. under those locks, every loan's transactions (with the last close's arrears status and
   whether a provision was ever booked): a fresh snapshot, so a repayment committed while we
   waited for a lock is seen and nothing is allocated twice;
3. each repayment planned in memory exactly as a single one is (`movements.plan_loan_repayment`,
   the product's healthy or doubtful order) and its entry built from the product's rules;
4. one INSERT of the loan transactions (which also marks the loans changed), one `book_entries`
   for every entry, one commit.

A refused repayment (not active, bad amount or date, unknown loan, an Idempotency-Key reused
with another body) is answered with its own error and writes nothing; a replay answers the
original transaction. What the group does not handle in memory is taken ALONE by the request
through `movements.repay`, in its own transaction, once the group has released its locks: a
repayment from a deposit account, a product that recalculates interest, a repayment that
closes the loan (holds released, status changed), a loan with provisions booked (the release
on repayment), an unknown payment type. If the database refuses the group as a whole (a
closed period, a deadlock, anything), nothing of it is committed and every request of it is
taken alone, so a failure only fails its own request.

Two requests on the same loan never share a group: the later one waits for the next group,
and sees the first one's transaction in its history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import date
from typing import Any, Final

import msgspec
from sqlalchemy import text

from ledger.errors import LedgerError
from ledger.model import JournalEntry
from ledger.money import check_amount
from products.events import ProductEvent
from products.loans.model import Schedule
from products.posting_rules import Component, EventKind
from servicing.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable, sqlstate_of
from servicing.journal import book_entries
from servicing.loans import movements
from servicing.loans.applications import get_product_in
from servicing.loans.capitalised_income import capitalises, releases
from servicing.loans.model import LoanStatus, LoanTransaction, Repay
from servicing.loans.receivable_true_up import Settlement, true_up_settlements
from servicing.loans.restatement import closed_since, needs_restatement
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

_log = logging.getLogger(__name__)

GROUP_REPAYMENTS_MAX: Final = 64
"""Repayments per group (one transaction): enough to take every waiting request of a busy
counter at once, few enough that a group's locks are held briefly."""
QUEUE_REPAYMENTS_MAX: Final = 5_000
WRITERS: Final = 1
"""Groups in flight: one, because groups of the same offices queue at their journal chain
heads anyway; while one group is in the database the next one gathers its requests."""


class CounterRepayment(msgspec.Struct, frozen=True, kw_only=True):
    """One repayment request as the HTTP API received it."""

    loan_id: int
    command: Repay
    actor: str
    scope: OfficeScope
    idempotency_key: str | None = None


class _Alone:
    """The outcome of a repayment the group leaves to the request itself (`movements.repay`)."""


ALONE: Final = _Alone()


class CommitOutcomeUnknown(ServiceUnavailable):
    """The connection failed during the group's commit: it may or may not have committed, so
    its requests are not taken again (a retry with the same Idempotency-Key answers the
    original transaction if there is one)."""

    def __init__(self) -> None:
        super().__init__("the repayment's outcome is unknown (the database connection failed while committing): "
                         "send it again with the same Idempotency-Key")

Outcome = LoanTransaction | Exception | _Alone

_LOCK: Final = text("""
SELECT l.id, l.client_id, l.office_id, l.product_id, l.product_version, l.currency, l.status, l.disbursed_on,
       CAST(l.schedule AS text) AS schedule, CAST(l.terms AS text) AS terms, l.booked_classification, l.term_bucket,
       p.active AS payment_type_active, a.code AS payment_type_code,
       (SELECT max(d.business_date) FROM business_day d WHERE d.office_id = l.office_id) AS last_closed
  FROM loan l
  JOIN unnest(CAST(:ids AS int[]), CAST(:payment_types AS int[])) AS r (id, payment_type_id) ON r.id = l.id
  LEFT JOIN payment_type p ON p.id = r.payment_type_id
  LEFT JOIN gl_account a ON a.id = p.gl_account_id
 ORDER BY l.id FOR UPDATE OF l
""")
_HISTORY: Final = text("""
WITH k AS MATERIALIZED (
  SELECT k.id, (SELECT s.status FROM loan_arrears_state s WHERE s.loan_id = k.id) AS arrears_status,
         EXISTS (SELECT 1 FROM loan_provision_movement m WHERE m.loan_id = k.id) AS provisioned
    FROM unnest(CAST(:ids AS int[])) AS k (id)
)
SELECT t.*, k.arrears_status, k.provisioned
  FROM loan_transaction t JOIN k ON k.id = t.loan_id
 WHERE t.loan_id = ANY(CAST(:ids AS int[])) ORDER BY t.loan_id, t.sequence_number
""")
"""The loans' transactions, each row carrying its loan's arrears status and whether a provision
was ever booked for it: both read once per loan (materialized), not once per transaction."""
_COLUMNS: Final = ("loan_id", "sequence_number", "value_date", "currency", "amount", "principal", "interest", "fee",
                   "penalty", "vat", "overpayment", "classification", "payment_type_id", "receipt_number",
                   "allocation", "journal_entry_id", "idempotency_key", "request_fingerprint", "created_by")
_TYPES: Final = ("int", "int", "date", "char(3)", "numeric", "numeric", "numeric", "numeric", "numeric", "numeric",
                 "numeric", "varchar", "int", "varchar", "text", "uuid", "varchar", "varchar", "varchar")
_INSERT: Final = text(f"""
WITH touched AS (
  UPDATE loan l SET updated_at = now(), updated_by = u.actor
    FROM unnest(CAST(:loan_id AS int[]), CAST(:created_by AS varchar[])) AS u (id, actor)
   WHERE l.id = u.id
)
INSERT INTO loan_transaction (kind, {", ".join(_COLUMNS)})
SELECT 'repayment', {", ".join("CAST(t.allocation AS jsonb)" if c == "allocation" else f"t.{c}" for c in _COLUMNS)}
  FROM unnest({", ".join(f"CAST(:{c} AS {t}[])" for c, t in zip(_COLUMNS, _TYPES, strict=True))})
       AS t ({", ".join(_COLUMNS)})
RETURNING *
""")
"""The group's loan transactions, and the loans they touch marked changed by their actor (the
single path's lock does that with an UPDATE; here the lock is a SELECT ... FOR UPDATE so that a
refused repayment leaves its loan untouched)."""


class _Planned(msgspec.Struct, frozen=True, kw_only=True):
    index: int
    values: dict[str, Any]
    entry: JournalEntry | None
    settlement: Settlement
    actor: str


def _plan_one(item: CounterRepayment, loan: Any, history: list[Any], product: Any, *, today: date,
              accounting: Any, index: int) -> Outcome | _Planned:
    """One repayment planned in memory on its locked loan (the checks of `movements.repay`, in
    its order), or its outcome when it is answered without writing (a replay, an error) or left
    to the single path."""
    command = item.command
    fingerprint = movements._fingerprint(command)
    replay = movements._replayed_in(history, "repayment", item.idempotency_key, fingerprint)
    if replay is not None:
        return replay
    if loan.status == LoanStatus.CLOSED.value and closed_since(history, command.value_date):
        return ALONE  # dated before the repayment that closed it: restated by the single path
    if loan.status != LoanStatus.ACTIVE.value:
        raise Conflict(f"loan {loan.id} is {loan.status}; repayments are taken on active loans only", field="loan_id")
    currency = loan.currency.strip()
    check_amount(command.amount, currency, field="amount")
    last_date = max((t.value_date for t in history), default=None)
    movements._check_value_date(command.value_date, today=today, not_before=loan.disbursed_on, what="repayment",
                                since="the loan's disbursement")
    if needs_restatement(command.value_date, last_transaction=last_date, last_closed=loan.last_closed):
        return ALONE  # backdated (before a transaction or on a closed day): restated by the single path
    if product.interest_recalculation or any(t.provisioned for t in history[:1]):
        return ALONE
    if releases(product) and capitalises(history):
        return ALONE  # the cash rule's capitalised-income deferral is released with it (read from the journal)
    schedule = msgspec.json.decode(loan.schedule, type=Schedule)
    planned = movements.plan_loan_repayment(
        product, loan.terms, schedule, history, command.amount, command.value_date,
        booked_classification=loan.booked_classification,
        arrears_status=history[0].arrears_status if history else None)
    if planned.closes:
        return ALONE
    plan = planned.plan
    if plan.splits_instalment:
        raise InvalidInput("the product takes whole instalments only: pay the instalments in full", field="amount")
    sequence = max((t.sequence_number for t in history), default=0) + 1
    event = ProductEvent(kind=EventKind.REPAYMENT, currency=currency, parts=plan.parts,
                         payment_type_id=command.channel.payment_type_id, **movements._booked(loan))
    entry = movements._entry(accounting, event, loan=loan, value_date=command.value_date,
                             description=f"Remboursement prêt n° {loan.id}", actor=item.actor, sequence=sequence)
    values = movements.repayment_row_values(plan, command.amount)
    values.update(loan_id=loan.id, sequence_number=sequence, value_date=command.value_date, currency=currency,
                  payment_type_id=command.channel.payment_type_id, receipt_number=command.channel.receipt_number,
                  allocation=msgspec.json.encode(plan.allocation.lines).decode(),
                  journal_entry_id=entry.entry_id if entry is not None else None,
                  idempotency_key=item.idempotency_key, request_fingerprint=fingerprint, created_by=item.actor)
    settlement = Settlement(loan=loan, product=product, schedule=schedule, interest=plan.allocation.total(
        Component.INTEREST), fee=plan.allocation.total(Component.FEE), closes=False, value_date=command.value_date)
    return _Planned(index=index, values=values, entry=entry, settlement=settlement, actor=item.actor)


async def take_repayments(uow: UnitOfWork, items: Sequence[CounterRepayment], *,
                          today: date | None = None) -> list[Outcome]:
    """Take a group of counter repayments on distinct loans in the caller's unit of work and
    commit it: each answered with its transaction, its own error, or ALONE (see the module)."""
    assert 1 <= len(items) <= GROUP_REPAYMENTS_MAX, len(items)
    assert len({item.loan_id for item in items}) == len(items), "one repayment per loan in a group"
    day = today or date.today()
    outcomes: list[Outcome | None] = [None] * len(items)
    for index, item in enumerate(items):
        if item.command.channel.deposit_account_id is not None or item.command.channel.payment_type_id is None:
            outcomes[index] = ALONE  # a deposit leg, or the single path's own refusal of the channel
    todo = [index for index, outcome in enumerate(outcomes) if outcome is None]
    if not todo:
        return [outcome for outcome in outcomes if outcome is not None]
    session = uow.session
    loans: dict[int, Any] = {row.id: row for row in (await session.execute(_LOCK, {
        "ids": [items[i].loan_id for i in todo],
        "payment_types": [items[i].command.channel.payment_type_id for i in todo]})).all()}
    histories: dict[int, list[Any]] = {}
    if loans:
        for row in (await session.execute(_HISTORY, {"ids": list(loans)})).all():
            histories.setdefault(row.loan_id, []).append(row)
    planned: list[_Planned] = []
    for index in todo:
        item = items[index]
        loan = loans.get(item.loan_id)
        try:
            if loan is None or not item.scope.includes(loan.office_id):
                raise NotFound(f"no loan {item.loan_id}", field="loan_id")
            if not loan.payment_type_active:
                outcomes[index] = ALONE  # unknown or inactive: the single path refuses it with its reason
                continue
            product = await get_product_in(uow, loan.product_id, loan.product_version)
            accounting, _payment_type_id, _leg = await movements._fund_source(
                uow, product.accounting, item.command.channel, deposits=None, loan=loan, amount=item.command.amount,
                credit=False, value_date=item.command.value_date, actor=item.actor,
                payment_type=movements._PaymentType(loan.payment_type_code))
            outcome = _plan_one(item, loan, histories.get(loan.id, []), product, today=day, accounting=accounting,
                                index=index)
        except LedgerError as error:  # refused: answered with its own error, nothing written
            outcomes[index] = error
            continue
        if isinstance(outcome, _Planned):
            planned.append(outcome)
        else:
            outcomes[index] = outcome
    if planned:
        rows = (await session.execute(_INSERT, {
            column: [p.values[column] for p in planned] for column in _COLUMNS})).all()
        by_loan: dict[int, Any] = {row.loan_id: row for row in rows}
        await book_entries(uow, [p.entry for p in planned if p.entry is not None])
        # What each repayment settles beyond the receivables is recognised with it, as alone.
        for actor in sorted({p.actor for p in planned}):
            await true_up_settlements(uow, [p.settlement for p in planned if p.actor == actor], actor=actor)
        # The answers are built before the commit: once it has succeeded nothing may fail, or
        # the requests would be taken again.
        for p in planned:
            outcomes[p.index] = movements.to_transaction(by_loan[p.values["loan_id"]])
        try:
            await uow.commit()
        except Exception as error:
            if sqlstate_of(error) is None:  # no answer from the server: it may have committed
                raise CommitOutcomeUnknown() from error
            raise
    assert all(outcome is not None for outcome in outcomes), outcomes
    return [outcome for outcome in outcomes if outcome is not None]


class _Pending:
    __slots__ = ("future", "item")

    def __init__(self, item: CounterRepayment, future: asyncio.Future[Outcome]) -> None:
        self.item = item
        self.future = future


class RepaymentWriter:
    """Groups concurrent counter repayments into shared transactions (see the module docstring);
    each request gets its own answer."""

    def __init__(self, uow_factory: UnitOfWorkFactory, *, writers: int = WRITERS) -> None:
        assert 1 <= writers <= 8, writers
        self._uow_factory = uow_factory
        self._writer_count = writers
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []
        self._deferred: list[_Pending] = []
        """Requests on a loan already in the group being taken: first in the next group."""

    async def repay(self, item: CounterRepayment) -> LoanTransaction:
        """Take one repayment through a group (or alone when the group leaves it so)."""
        if item.command.channel.deposit_account_id is None:
            outcome = await self._submit(item)
            if isinstance(outcome, LoanTransaction):
                return outcome
            if isinstance(outcome, Exception):
                raise outcome
        return await movements.repay(self._uow_factory, item.loan_id, item.command, actor=item.actor,
                                     scope=item.scope, idempotency_key=item.idempotency_key)

    async def _submit(self, item: CounterRepayment) -> Outcome:
        if not self._writers:
            self._writers = [asyncio.create_task(self._loop()) for _ in range(self._writer_count)]
        if self._queue.qsize() >= QUEUE_REPAYMENTS_MAX:
            raise ServiceUnavailable("too many repayments waiting; send the request again shortly")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(item, future))
        return await future

    async def aclose(self) -> None:
        for task in self._writers:
            task.cancel()
        for task in self._writers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._writers = []
        waiting, self._deferred = self._deferred, []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for pending in waiting:
            if not pending.future.done():
                pending.future.set_exception(ServiceUnavailable("shutting down; send the request again"))

    async def _loop(self) -> None:
        while True:
            waiting, self._deferred = self._deferred, []
            if not waiting:
                waiting.append(await self._queue.get())
            group: list[_Pending] = []
            loans: set[int] = set()
            while True:
                for pending in waiting:
                    if pending.item.loan_id in loans or len(group) >= GROUP_REPAYMENTS_MAX:
                        self._deferred.append(pending)  # after this group's commit, in arrival order
                    else:
                        loans.add(pending.item.loan_id)
                        group.append(pending)
                if self._queue.empty() or len(group) >= GROUP_REPAYMENTS_MAX:
                    break
                waiting = [self._queue.get_nowait() for _ in range(self._queue.qsize())]
            await self._run(group)

    async def _run(self, group: list[_Pending]) -> None:
        outcomes: Sequence[Outcome]
        try:
            async with self._uow_factory() as uow:
                outcomes = await take_repayments(uow, [pending.item for pending in group])
        except CommitOutcomeUnknown as error:
            outcomes = [error] * len(group)
        except Exception as error:  # the group as a whole failed: nothing committed, each request alone
            _log.info("loan repayment group of %d failed (%s); each taken alone", len(group), error)
            outcomes = [ALONE] * len(group)
        except BaseException:  # cancelled (shutting down): answer before going
            for pending in group:
                if not pending.future.done():
                    pending.future.set_exception(ServiceUnavailable("shutting down; send the request again"))
            raise
        for pending, outcome in zip(group, outcomes, strict=True):
            if not pending.future.done():
                pending.future.set_result(outcome)
