"""Write-off (« passage en perte ») of a loan, by hand or by the close of business, and the
recoveries taken on it afterwards.

A write-off (`products.loans.write_off`) takes the loan's whole outstanding out of the books in
one WRITE_OFF entry under its booked class and term: the principal first against the provision
booked for the loan under that class (« pertes couvertes par la provision »: Dr provisions), the
rest to losses (« pertes non couvertes »); under accrual rules the interest, fees and penalties
receivable go to losses too. The provision booked beyond the principal, and any still booked
under a class the loan has left, is released (PROVISION_REVERSAL). The provision rows
(`loan_provision_movement`) record what the write-off used and released, so the provision
booked for the loan comes back to zero. The loan becomes `written_off`: out of the active
portfolio (collection, accrual, arrears, classification and provisioning read active loans
only), its history kept. An outbox event `loan.written_off` is written in the same transaction.

**Guarantees first.** Before the loss is booked, the cash guarantees held for the loan on the
borrower's deposit accounts (mandatory savings, cash collateral, guarantee on own funds: the
loan's open holds) are applied to it when the product says so (`apply_guarantees_on_write_off`,
true by default): every hold of the loan is released, and what it held (within the account's
free balance and what the loan owes) is taken as a repayment from that account, allocated in
the product's order like any repayment. Only the rest is written off. A product that does not
apply them only releases the holds: a written-off loan holds nothing.

A recovery is money received later on a written-off loan: recovery income, VAT included where
the product charges VAT on recoveries; never more, in total, than what the write-off left
unpaid. Idempotency-Key as for every money movement.

**Reversals.** A write-off made by mistake is reversed (`reverse_write_off`): its entry and the
provision releases it posted are mirrored on their own date, the provision it used and released
is booked again (allowance rows pointing at the mirror entries), and the loan is active again
under the class it had; refused while a recovery on it stands (reverse the recovery first). The
guarantees it applied are given back in the same transaction: their repayments reversed (the
money back on the deposit account, their entries mirrored) and the holds it released placed
again as they were. A recovery is reversed (`reverse_recovery`) by its mirror entry; money taken from a deposit account
goes back to it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

import msgspec
from sqlalchemy import func, text

from ledger.model import Reference
from ledger.money import check_amount, normalize_amount
from ledger.reversal import reverse
from products.accounting import build_entry
from products.events import LoanClassification, ProductEvent, TermBucket
from products.loans.model import Schedule
from products.loans.product import LoanProduct
from products.loans.provisioning import ProvisionMovement
from products.loans.write_off import recovery, write_off
from products.posting_rules import LOAN_RECEIVABLE_RULES, Component, EventKind, ProductKind
from products.rounding import compile_rounding
from servicing.deposits import repository as deposit_repository
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.loans import deposit_link
from servicing.loans.applications import get_product_in
from servicing.loans.capitalised_income import deferral_release
from servicing.loans.db.tables import LoanRow, LoanTransactionRow
from servicing.loans.model import FundsChannel, LoanStatus, LoanTransaction
from servicing.loans.movements import (
    DepositAccounts,
    _book,
    _check_value_date,
    _fingerprint,
    _fund_source,
    _history,
    _locked,
    _position,
    _replayed_in,
    _reverse_transaction,
    _take_repayment,
    to_transaction,
)
from servicing.loans.provisions import ProvisionMovementRow, booked_provisions, record_movements
from servicing.loans.reconciliation import SUBLEDGER_BY_LOAN_SQL
from servicing.loans.schedules import not_reversed
from servicing.outbox import OutboxEvent, record_events
from servicing.queries import load_entry
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

REASON_LENGTH_MAX: Final = 500
ACCRUAL_RULES: Final = LOAN_RECEIVABLE_RULES
PROVISION_SOURCE: Final = "loan-provisioning"


class WriteOffLoan(msgspec.Struct, frozen=True, kw_only=True):
    reason: str
    value_date: date | None = None


class Recover(msgspec.Struct, frozen=True, kw_only=True):
    value_date: date
    amount: Decimal
    channel: FundsChannel
    note: str = ""


class ReverseTransaction(msgspec.Struct, frozen=True, kw_only=True):
    """What a reversal request asks (its Idempotency-Key's fingerprint)."""

    kind: str
    transaction_id: int | None = None


_LOAN_HOLDS = text("""
SELECT h.account_id, sum(h.amount) AS held
  FROM loan_hold l JOIN deposit_hold h ON h.id = l.hold_id
 WHERE l.loan_id = :loan_id AND h.released_on IS NULL
 GROUP BY h.account_id ORDER BY h.account_id
""")


_LOCK_LOANS = text("SELECT id FROM loan WHERE id = ANY(CAST(:ids AS int[])) ORDER BY id FOR UPDATE")


async def lock_for_write_off(uow: UnitOfWork, loan_ids: Sequence[int]) -> None:
    """Lock the loans (ascending id), then the deposit accounts holding their guarantees
    (ascending id): the lock order of repayments and collection (`servicing.loans.deposit_link`),
    taken whole before anything is written. A write-off applies guarantees, so it locks accounts;
    writing off several loans in one transaction and locking each one's accounts after it would
    hold an account while waiting for the next loan, which a repayment of that loan from that
    account (loan, then account) holds: a deadlock. Holds are placed only under their loan's
    lock, so the accounts read here are all the write-offs will touch."""
    ids = sorted(set(loan_ids))
    await uow.session.execute(_LOCK_LOANS, {"ids": ids})
    await deposit_link.lock_loan_accounts(uow, ids)  # the accounts holding their guarantees


async def apply_guarantees(uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, on: date,
                           actor: str) -> list[Any]:
    """Release every open hold of the locked loan and, when the product applies guarantees on
    write-off, take what each account held for it as a repayment from that account (within the
    account's free balance and what the loan still owes). Lock order: the loan (held by the
    caller), then the accounts in ascending id, before the holds are released (a hold released
    by hand locks its account first, then the hold). Answers the repayments taken (rows as
    inserted)."""
    await deposit_link.lock_loan_accounts(uow, [row.id])
    held = (await uow.session.execute(_LOAN_HOLDS, {"loan_id": row.id})).all()
    await deposit_link.release_loan_holds(uow, row.id, on=on, actor=actor)
    if not product.apply_guarantees_on_write_off:
        return []
    assert row.schedule is not None
    currency = row.currency.strip()
    taken: list[Any] = []
    for account_id, amount in held:
        if row.status != LoanStatus.ACTIVE.value:
            break  # the guarantees already paid everything off
        owed = _owed_by_contract(msgspec.convert(row.schedule, Schedule), await _history(uow, row.id), on)
        account = await deposit_repository.load_account(uow.session, account_id, for_update=True)
        if account.status.value != "active":
            continue  # a closed or blocked account moves nothing: its hold is only released
        take = normalize_amount(min(Decimal(amount), deposit_link.free_funds(account), owed), currency)
        if take <= 0:
            continue
        accounting, _payment_type_id, leg = await _fund_source(
            uow, product.accounting, FundsChannel(deposit_account_id=account_id), deposits=None, loan=row,
            amount=take, credit=False, value_date=on, actor=actor)
        taken.append(await _take_repayment(
            uow, row, product, amount=take, value_date=on, accounting=accounting, payment_type_id=None,
            receipt_number=None, actor=actor, idempotency_key=None, fingerprint=None, leg=leg))
    return taken


def _owed_by_contract(schedule: Schedule, history: list[LoanTransactionRow], on: date) -> Decimal:
    """What the borrower still owed on ``on``: the principal outstanding and the interest, fees,
    penalties and their VAT fallen due and unpaid (what a later recovery may bring in)."""
    position = _position(schedule, history, on)
    overdue = sum((position.component(c).overdue for c in (Component.INTEREST, Component.FEE, Component.PENALTY,
                                                           Component.VAT)), Decimal(0))
    return position.component(Component.PRINCIPAL).outstanding + overdue


async def write_off_locked(uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, on: date, actor: str, reason: str,
                           history: list[LoanTransactionRow], idempotency_key: str | None = None,
                           fingerprint: str | None = None, rule: str = "manual") -> LoanTransactionRow:
    """Write off the locked active loan on ``on`` (see the module docstring): the guarantees held
    for it first, then the rest. Guarantees that pay everything off close the loan instead: the
    answer is then their (last) repayment."""
    currency = row.currency.strip()
    guarantees = await apply_guarantees(uow, row, product, on=on, actor=actor)
    if guarantees:
        if row.status != LoanStatus.ACTIVE.value:
            return guarantees[-1]  # type: ignore[no-any-return]
        history = await _history(uow, row.id)
    sub = (await uow.session.execute(text(SUBLEDGER_BY_LOAN_SQL), {"ids": [row.id]})).one_or_none()
    accrual = product.accounting.rule in ACCRUAL_RULES

    def books(value: Decimal | None, *, receivable: bool) -> Decimal:
        if value is None or (receivable and not accrual):
            return normalize_amount(Decimal(0), currency)
        return normalize_amount(max(Decimal(value), Decimal(0)), currency)

    principal = books(sub.principal if sub else None, receivable=False)
    classification = LoanClassification(row.booked_classification)
    term = TermBucket(row.term_bucket or TermBucket.SHORT.value)
    booked = {cls: normalize_amount(value, currency)
              for cls, value in (await booked_provisions(uow, [row.id])).get(row.id, {}).items()}
    # Cash rule: the capitalised interest still deferred is cleared against its deferral, not lost.
    deferred = await deferral_release(uow, row, product, history, principal_paid=principal, event=EventKind.WRITE_OFF)
    cleared = deferred.total if deferred is not None else Decimal(0)
    split = write_off(principal_outstanding=principal - cleared, provision_booked=booked.get(classification, Decimal(0)),
                      interest_receivable=books(sub.interest if sub else None, receivable=True),
                      fees_receivable=books(sub.fee if sub else None, receivable=True),
                      penalties_receivable=books(sub.penalty if sub else None, receivable=True))
    assert row.schedule is not None
    owed = _owed_by_contract(msgspec.convert(row.schedule, Schedule), history, on)
    in_books = (split.principal_covered + split.principal_not_covered + cleared + split.interest + split.fees
                + split.penalties)
    amount = max(owed, in_books)
    if amount <= 0:
        raise Conflict(f"loan {row.id} owes nothing: there is nothing to write off", field="loan_id")
    sequence = max(t.sequence_number for t in history) + 1
    description = f"Passage en perte prêt n° {row.id} : {reason}"
    event = split.event(currency, classification=classification, term=term)
    if deferred is not None:
        event = ProductEvent(kind=EventKind.WRITE_OFF, currency=currency, classification=classification, term=term,
                             parts=(event.parts if event is not None else ()) + deferred.parts())
    entry_id = (await _book(uow, product.accounting, event, loan=row, value_date=on, description=description,
                            actor=actor, sequence=sequence) if event is not None else None)
    movements: list[ProvisionMovementRow] = []

    def movement(kind: str, cls: LoanClassification, value: Decimal, entry: UUID | None) -> ProvisionMovementRow:
        return ProvisionMovementRow(
            loan_id=row.id, business_date=on, office_id=row.office_id, product_id=row.product_id,
            product_version=row.product_version, currency=currency, classification=cls.value, term=term.value,
            kind=kind, amount=value, required=Decimal(0), rate_percent=None, bucket_label=None,
            journal_entry_id=entry)

    if split.principal_covered > 0:
        movements.append(movement("write_off", classification, split.principal_covered, entry_id))
    releases = [(cls, value) for cls, value in sorted(booked.items()) if cls is not classification and value > 0]
    if split.provision_released > 0:
        releases.append((classification, split.provision_released))
    entries = []
    for cls, value in releases:
        release = ProvisionMovement(kind=EventKind.PROVISION_REVERSAL, classification=cls, amount=value)
        entry = build_entry(ProductKind.LOAN, product.accounting, release.event(currency, term=term), entry_id=uuid7(),
                            office_id=row.office_id, value_date=on, actor=actor,
                            description=f"Reprise de provision, passage en perte prêt n° {row.id}",
                            reference=_provision_reference(row.id, sequence, cls))
        if entry is not None:
            entries.append(entry)
        movements.append(movement("release", cls, value, entry.entry_id if entry is not None else None))
    await book_entries(uow, entries)
    await record_movements(uow, movements, actor)
    transaction = LoanTransactionRow(
        loan_id=row.id, sequence_number=sequence, kind="write_off", value_date=on, currency=currency, amount=amount,
        principal=principal, interest=split.interest, fee=split.fees, penalty=split.penalties,
        classification=classification.value, allocation=[], journal_entry_id=entry_id,
        idempotency_key=idempotency_key, request_fingerprint=fingerprint, created_by=actor)
    uow.session.add(transaction)
    row.status = LoanStatus.WRITTEN_OFF.value
    row.closed_on = on
    row.booked_classification = LoanClassification.WRITTEN_OFF.value
    row.updated_at = func.now()
    row.updated_by = actor
    await record_events(uow, [OutboxEvent(
        event_type="loan.written_off", subject_type="loan", subject_id=row.id, occurred_on=on,
        dedup_key=f"written_off:loan-{row.id}", office_id=row.office_id, payload={
            "loan_id": row.id, "currency": currency, "rule": rule, "reason": reason, "amount": str(amount),
            "principal_covered_by_provision": str(split.principal_covered),
            "principal_not_covered": str(split.principal_not_covered), "interest": str(split.interest),
            "capitalised_income_cleared": str(cleared),
            "fees": str(split.fees), "penalties": str(split.penalties),
            "guarantees_applied": str(sum((Decimal(t.amount) for t in guarantees), Decimal(0))),
            "provision_released": str(sum((value for _cls, value in releases), Decimal(0)))})])
    await uow.session.flush()
    await uow.session.refresh(transaction)
    return transaction


def _provision_reference(loan_id: int, sequence: int, classification: LoanClassification) -> Reference:
    return Reference(source_type=PROVISION_SOURCE, source_id=f"write-off/{loan_id}/{sequence}/{classification.value}")


async def _locked_in_status(uow: UnitOfWork, loan_id: int, scope: OfficeScope, kind: str, key: str | None,
                            fingerprint: str, status: LoanStatus, refusal: str
                            ) -> tuple[LoanRow, list[LoanTransactionRow], LoanTransaction | None]:
    """The loan locked with its history, and the original transaction when this is a replay of
    the same Idempotency-Key; 409 when the loan is not in ``status``."""
    row = await _locked(uow, loan_id, scope)
    history = await _history(uow, loan_id)
    replay = _replayed_in(history, kind, key, fingerprint)
    if replay is None and row.status != status.value:
        raise Conflict(f"loan {loan_id} is {row.status}; {refusal}", field="loan_id")
    return row, history, replay


async def write_off_loan(uow_factory: UnitOfWorkFactory, loan_id: int, command: WriteOffLoan, *, actor: str,
                         scope: OfficeScope, idempotency_key: str | None = None,
                         today: date | None = None) -> LoanTransaction:
    """Write an active loan off by hand (the reason is kept in the entry and the outbox event)."""
    reason = command.reason.strip()
    if not reason:
        raise InvalidInput("say why the loan is written off", field="reason")
    if len(reason) > REASON_LENGTH_MAX:
        raise InvalidInput(f"at most {REASON_LENGTH_MAX} characters", field="reason")
    fingerprint = _fingerprint(command)
    today = today or date.today()
    on = command.value_date or today
    async with uow_factory() as uow:
        row, history, replay = await _locked_in_status(
            uow, loan_id, scope, "write_off", idempotency_key, fingerprint, LoanStatus.ACTIVE,
            "only an active loan is written off")
        if replay is not None:
            return replay
        _check_value_date(on, today=today, not_before=max(t.value_date for t in history), what="write-off")
        product = await get_product_in(uow, row.product_id, row.product_version)
        transaction = await write_off_locked(uow, row, product, on=on, actor=actor, reason=reason, history=history,
                                             idempotency_key=idempotency_key, fingerprint=fingerprint)
        answer = to_transaction(transaction)
        await uow.commit()
    return answer


async def recover(uow_factory: UnitOfWorkFactory, loan_id: int, command: Recover, *, actor: str, scope: OfficeScope,
                  idempotency_key: str | None = None, deposits: DepositAccounts | None = None,
                  today: date | None = None) -> LoanTransaction:
    """Take money received on a written-off loan as recovery income (and its VAT)."""
    fingerprint = _fingerprint(command)
    async with uow_factory() as uow:
        row, history, replay = await _locked_in_status(
            uow, loan_id, scope, "recovery", idempotency_key, fingerprint, LoanStatus.WRITTEN_OFF,
            "recoveries are taken on written-off loans only (an active loan takes repayments)")
        if replay is not None:
            return replay
        currency = row.currency.strip()
        check_amount(command.amount, currency, field="amount")
        _check_value_date(command.value_date, today=today or date.today(),
                          not_before=max(t.value_date for t in history), what="recovery")
        written = sum((t.amount for t in _standing(history, "write_off")), Decimal(0))
        recovered = sum((t.amount for t in _standing(history, "recovery")), Decimal(0))
        if command.amount > written - recovered:
            raise InvalidInput(f"only {written - recovered} {currency} written off is left to recover",
                               field="amount")
        product = await get_product_in(uow, row.product_id, row.product_version)
        split = recovery(command.amount, product.vat_on_recoveries_percent,
                         compile_rounding(product.rounding, currency))
        accounting, payment_type_id, leg = await _fund_source(
            uow, product.accounting, command.channel, deposits=deposits, loan=row, amount=command.amount,
            credit=False, value_date=command.value_date, actor=actor)
        sequence = max(t.sequence_number for t in history) + 1
        entry_id = await _book(uow, accounting, split.event(currency, payment_type_id=payment_type_id), loan=row,
                               value_date=command.value_date, description=f"Récupération sur prêt amorti n° {loan_id}",
                               actor=actor, sequence=sequence, leg=leg)
        transaction = LoanTransactionRow(
            loan_id=loan_id, sequence_number=sequence, kind="recovery", value_date=command.value_date,
            currency=currency, amount=command.amount, vat=split.vat, classification=LoanClassification.WRITTEN_OFF.value,
            payment_type_id=payment_type_id, receipt_number=command.channel.receipt_number, allocation=[],
            journal_entry_id=entry_id, idempotency_key=idempotency_key, request_fingerprint=fingerprint,
            created_by=actor)
        uow.session.add(transaction)
        return await _committed(uow, row, transaction, actor)


def _standing(history: list[LoanTransactionRow], kind: str) -> list[LoanTransactionRow]:
    """The loan's transactions of ``kind`` not reversed."""
    return not_reversed(history, kind)


_WRITE_OFF_PROVISIONS = text("""
SELECT m.kind, m.classification, m.term, m.amount, m.journal_entry_id
  FROM loan_provision_movement m
 WHERE m.loan_id = :loan_id AND m.kind IN ('write_off', 'release') AND m.created_at = :created_at
 ORDER BY m.id
""")
"""The provision a write-off used and released: the movement rows written in its transaction."""


async def reverse_write_off(uow_factory: UnitOfWorkFactory, loan_id: int, *, actor: str, scope: OfficeScope,
                            idempotency_key: str | None = None) -> LoanTransaction:
    """Reverse the loan's write-off (see the module docstring); answers the reversal."""
    fingerprint = _fingerprint(ReverseTransaction(kind="write_off"))
    async with uow_factory() as uow:
        row, history, replay = await _locked_in_status(
            uow, loan_id, scope, "write_off_reversal", idempotency_key, fingerprint, LoanStatus.WRITTEN_OFF,
            "only a written-off loan has a write-off to reverse")
        if replay is not None:
            return replay
        target = _standing(history, "write_off")[-1]
        recoveries = [t for t in _standing(history, "recovery") if t.sequence_number > target.sequence_number]
        if recoveries:
            raise Conflict(f"recovery {recoveries[-1].id} was taken on loan {loan_id} after its write-off: reverse "
                           f"it first (POST /api/v1/loans/{loan_id}/recoveries/{recoveries[-1].id}/reversal)",
                           field="loan_id")
        sequence = max(t.sequence_number for t in history) + 1
        reversal = await _reverse_transaction(uow, target, kind="write_off_reversal", sequence=sequence, actor=actor,
                                              description=f"Annulation passage en perte prêt n° {loan_id}")
        reversal.idempotency_key = idempotency_key
        reversal.request_fingerprint = fingerprint
        await _restore_provisions(uow, row, target, reversal, actor=actor)
        given_back = await _give_guarantees_back(uow, row, target, history, sequence=sequence, actor=actor)
        row.status = LoanStatus.ACTIVE.value
        row.closed_on = None
        row.booked_classification = target.classification
        await record_events(uow, [OutboxEvent(
            event_type="loan.write_off_reversed", subject_type="loan", subject_id=loan_id,
            occurred_on=target.value_date, dedup_key=f"write_off_reversed:loan-{loan_id}:{target.id}",
            office_id=row.office_id, payload={"loan_id": loan_id, "write_off_transaction_id": target.id,
                                              "classification": target.classification,
                                              "guarantees_given_back": str(given_back)})])
        return await _committed(uow, row, reversal, actor)


async def _committed(uow: UnitOfWork, row: LoanRow, transaction: LoanTransactionRow, actor: str) -> LoanTransaction:
    """Mark the loan changed by ``actor``, commit, and answer the transaction written."""
    row.updated_at = func.now()
    row.updated_by = actor
    await uow.session.flush()
    await uow.session.refresh(transaction)
    answer = to_transaction(transaction)
    await uow.commit()
    return answer


async def _restore_provisions(uow: UnitOfWork, row: LoanRow, target: LoanTransactionRow,
                              reversal: LoanTransactionRow, *, actor: str) -> None:
    """Book again the provision the write-off used (its own entry, now mirrored) and released (its
    release entries, mirrored here on their date): allowance rows pointing at the mirror entries.
    The mirrors carry the accounts the write-off used, whatever the product maps today."""
    await uow.session.flush()  # the reversal's entry id
    used = (await uow.session.execute(_WRITE_OFF_PROVISIONS, {"loan_id": row.id,
                                                              "created_at": target.created_at})).all()
    mirrors: dict[UUID, UUID | None] = {}
    if target.journal_entry_id is not None:
        mirrors[target.journal_entry_id] = reversal.journal_entry_id
    entries = []
    for movement in used:
        entry_id = movement.journal_entry_id
        if entry_id is None or entry_id in mirrors:
            continue
        booked = await load_entry(uow.session, entry_id)
        assert booked is not None, entry_id
        mirror = reverse(booked.entry, reversal_id=uuid7(), value_date=booked.entry.value_date, actor=actor,
                         description=f"Annulation reprise de provision, passage en perte prêt n° {row.id}"[:500])
        entries.append(mirror)
        mirrors[entry_id] = mirror.entry_id
    await book_entries(uow, entries)
    await record_movements(uow, [ProvisionMovementRow(
        loan_id=row.id, business_date=target.value_date, office_id=row.office_id, product_id=row.product_id,
        product_version=row.product_version, currency=row.currency.strip(), classification=m.classification,
        term=m.term, kind="allowance", amount=m.amount, required=None, rate_percent=None, bucket_label=None,
        journal_entry_id=None if m.journal_entry_id is None else mirrors[m.journal_entry_id]) for m in used], actor)


_RELEASED_BY_WRITE_OFF = text("""
SELECT h.id, h.account_id, h.amount, h.description, l.requirement, s.instalment_number
  FROM loan_hold l JOIN deposit_hold h ON h.id = l.hold_id
  LEFT JOIN loan_savings_hold s ON s.hold_id = h.id
 WHERE l.loan_id = :loan_id AND h.released_at = :released_at
 ORDER BY h.account_id, h.id
""")
"""The loan's holds the write-off released (in its transaction, so at its transaction's time)."""


async def _give_guarantees_back(uow: UnitOfWork, row: LoanRow, target: LoanTransactionRow,
                                history: list[LoanTransactionRow], *, sequence: int, actor: str) -> Decimal:
    """Undo the guarantees the write-off applied, in the reversal's transaction: each repayment it
    took from a deposit account is reversed (its entry mirrored on its date, the money given back
    to the account), and every hold it released is placed again on its account for the same
    amount and requirement (the instalment savings' own rows too), dated the write-off's day.
    Lock order: the loan (held), then the accounts in ascending id. Refused (409) when an
    account can no longer cover a hold once given its money back (its owner spent the freed
    funds): the write-off stands. Answers the amount given back."""
    from servicing.loans.movements import _reopen

    applied = [t for t in _standing(history, "repayment")
               if t.created_at == target.created_at and t.value_date == target.value_date
               and t.sequence_number < target.sequence_number]
    released = (await uow.session.execute(_RELEASED_BY_WRITE_OFF, {
        "loan_id": row.id, "released_at": target.created_at})).all()
    funded = [await deposit_link.funds_of(uow, t.journal_entry_id) for t in applied]
    await deposit_repository.lock_accounts(uow.session, [a for a in funded if a is not None]
                                           + [h.account_id for h in released])
    for offset, repayment in enumerate(applied, start=1):
        await _reverse_transaction(uow, repayment, kind="repayment_reversal", sequence=sequence + offset,
                                   actor=actor, description=f"Annulation réalisation des garanties, prêt n° {row.id}")
    by_account: dict[int, list[Any]] = {}
    for hold in released:
        by_account.setdefault(hold.account_id, []).append(hold)
    for account_id, holds in sorted(by_account.items()):
        account = await deposit_repository.load_account(uow.session, account_id, for_update=True)
        wanted = sum((Decimal(h.amount) for h in holds), Decimal(0))
        if wanted > deposit_link.free_funds(account):
            raise Conflict(f"deposit account {account_id} no longer holds the {wanted} the write-off of loan {row.id} "
                           f"released from its guarantees (only {deposit_link.free_funds(account)} is free): the "
                           "guarantees cannot be restored with the loan", field="loan_id")
        for hold in holds:
            hold_id = await deposit_link.place_loan_hold(
                uow, account, row.id, hold.requirement, Decimal(hold.amount), description=hold.description,
                on=target.value_date, actor=actor)
            if hold.instalment_number is not None:
                await uow.session.execute(text(
                    "INSERT INTO loan_savings_hold (hold_id, loan_id, instalment_number) VALUES (:h, :l, :n)"),
                    {"h": hold_id, "l": row.id, "n": hold.instalment_number})
    if applied:
        await uow.session.flush()
        product = await get_product_in(uow, row.product_id, row.product_version)
        await _reopen(uow, row, product, target.value_date, actor)  # the schedule as it stands without them
    return sum((Decimal(t.amount) for t in applied), Decimal(0))


async def reverse_recovery(uow_factory: UnitOfWorkFactory, loan_id: int, transaction_id: int, *, actor: str,
                           scope: OfficeScope, idempotency_key: str | None = None) -> LoanTransaction:
    """Reverse a recovery: its entry mirrored on its date, money taken from a deposit account given
    back to it; the loan stays written off, the amount is recoverable again."""
    fingerprint = _fingerprint(ReverseTransaction(kind="recovery", transaction_id=transaction_id))
    async with uow_factory() as uow:
        row, history, replay = await _locked_in_status(
            uow, loan_id, scope, "recovery_reversal", idempotency_key, fingerprint, LoanStatus.WRITTEN_OFF,
            "recoveries are taken, and reversed, on written-off loans only")
        if replay is not None:
            return replay
        target = next((t for t in history if t.id == transaction_id), None)
        if target is None:
            raise NotFound(f"loan {loan_id} has no transaction {transaction_id}", field="transaction_id")
        if target.kind != "recovery":
            raise Conflict(f"transaction {transaction_id} is a {target.kind}, not a recovery", field="transaction_id")
        if target not in _standing(history, "recovery"):
            raise Conflict(f"recovery {transaction_id} is already reversed", field="transaction_id")
        sequence = max(t.sequence_number for t in history) + 1
        reversal = await _reverse_transaction(uow, target, kind="recovery_reversal", sequence=sequence, actor=actor,
                                              description=f"Annulation récupération sur prêt amorti n° {loan_id}")
        reversal.idempotency_key = idempotency_key
        reversal.request_fingerprint = fingerprint
        return await _committed(uow, row, reversal, actor)
