"""Money on a loan: disbursement and repayment, each ONE journal entry built by the product's
posting rules and booked in the same unit of work as the loan transaction it records.

Every movement locks the loan row (SELECT ... FOR UPDATE; a repayment, the UPDATE that marks
the loan changed) before reading what was already paid, so two repayments on one loan are
applied one after the other and never allocate the same due twice. An Idempotency-Key makes a retry safe: the same key with the same body
answers the original transaction, with another body 409.

Where the money comes from or goes is a `FundsChannel`: a payment type (its fund-source GL
account from reference data, unless the product maps one for it), or a deposit account
through the `DepositAccounts` port, which `servicing.loans.deposit_link` implements (the
deposit transaction points at the loan's one entry; lock order: the loan, then the account).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Final, Protocol

import msgspec
from sqlalchemy import bindparam, exists, func, insert, select, text, update

from chart_of_accounts.db.tables import GLAccountRow
from ledger.model import JournalEntry, Reference
from ledger.money import check_amount, normalize_amount
from ledger.reversal import reverse
from products.accounting import ProductAccounting, build_entry
from products.events import EventPart, LoanClassification, ProductEvent, TermBucket
from products.loans.allocation import AllocationLine, Due, RepaymentPlan, plan_repayment
from products.loans.model import Schedule
from products.loans.position import LoanPosition, loan_position, remaining_dues
from products.loans.product import LoanProduct
from products.loans.product_charges import vat_on_charge
from products.loans.terms import LoanTerms
from products.posting_rules import AccountingRole, Component, EventKind, ProductKind
from products.reference.db.tables import ChargeRow, PaymentTypeRow
from products.reference.taxes import tax_rate_on
from servicing.errors import Conflict, InvalidInput, NotFound
from servicing.ids import uuid7
from servicing.journal import book_entries
from servicing.loans import deposit_link, schedules
from servicing.loans.applications import get_product_in, load_record, load_row
from servicing.loans.capitalised_income import deferral_release
from servicing.loans.db.tables import LoanRow, LoanTransactionRow
from servicing.loans.model import (
    AddCharge,
    Disburse,
    FundsChannel,
    LoanArrearsView,
    LoanRecord,
    LoanStatement,
    LoanStatus,
    LoanTransaction,
    LoanView,
    PayoffQuote,
    Repay,
    StatementItem,
    StatementLine,
    Waive,
)
from servicing.loans.overpayments import overpayment_held
from servicing.loans.provision_release import release_with_repayment
from servicing.loans.receivable_true_up import Settlement, true_up_settlements
from servicing.queries import load_entry
from servicing.reference.charge_taxes import tax_of_charge
from servicing.staff.scope import OfficeScope
from servicing.unit_of_work import UnitOfWork, UnitOfWorkFactory

SOURCE_TYPE: Final = "loan-transaction"
_TRANSACTIONS: Final = LoanTransactionRow.__table__
TRANSACTIONS_LISTED_MAX: Final = 10_000


class DepositAccounts(Protocol):
    """The seam to deposit accounts: check a movement on the client's locked account inside the
    loan's unit of work and answer its leg (the deposit-control account the loan entry uses as
    fund source; the transaction it appends once the entry is booked)."""

    async def move(self, uow: UnitOfWork, account_id: int, *, client_id: int, amount: Decimal, currency: str,
                   credit: bool, value_date: date, reference: str, actor: str = ...) -> deposit_link.DepositLeg: ...


class IdempotencyMismatch(Conflict):
    code = "idempotency-key-reused"


def _fingerprint(command: msgspec.Struct) -> str:
    return hashlib.sha256(msgspec.json.encode(command)).hexdigest()


def _plain(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def to_transaction(row: LoanTransactionRow) -> LoanTransaction:
    return LoanTransaction(
        transaction_id=row.id, loan_id=row.loan_id, sequence_number=row.sequence_number, kind=row.kind,
        reverses_transaction_id=row.reverses_transaction_id,
        value_date=row.value_date, currency=row.currency.strip(), amount=_plain(row.amount),
        principal=_plain(row.principal), interest=_plain(row.interest), fee=_plain(row.fee),
        penalty=_plain(row.penalty), vat=_plain(row.vat), overpayment=_plain(row.overpayment),
        classification=row.classification, payment_type_id=row.payment_type_id, charge_id=row.charge_id,
        receipt_number=row.receipt_number,
        allocation=tuple(msgspec.convert(row.allocation, list[AllocationLine])),
        journal_entry_id=row.journal_entry_id, created_at=row.created_at, created_by=row.created_by)


def _replayed_in(history: Sequence[Any], kind: str, key: str | None,
                 fingerprint: str) -> LoanTransaction | None:
    """`_replayed` on a history already read under the loan's lock."""
    if key is None:
        return None
    row = next((t for t in history if t.kind == kind and t.idempotency_key == key), None)
    if row is None:
        return None
    if row.request_fingerprint != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was used for another request body", field="Idempotency-Key")
    return to_transaction(row)


async def _replayed(uow: UnitOfWork, loan_id: int, kind: str, key: str | None, fingerprint: str) -> LoanTransaction | None:
    if key is None:
        return None
    row = await uow.session.scalar(select(LoanTransactionRow).where(
        LoanTransactionRow.loan_id == loan_id, LoanTransactionRow.kind == kind,
        LoanTransactionRow.idempotency_key == key))
    if row is None:
        return None
    if row.request_fingerprint != fingerprint:
        raise IdempotencyMismatch("this Idempotency-Key was used for another request body", field="Idempotency-Key")
    return to_transaction(row)


class _PaymentType(msgspec.Struct, frozen=True):
    """An active payment type's fund-source GL account code (None: the product's own)."""

    code: str | None


async def _fund_source(uow: UnitOfWork, accounting: ProductAccounting, channel: FundsChannel, *,
                       deposits: DepositAccounts | None, loan: LoanRow, amount: Decimal, credit: bool,
                       value_date: date, actor: str = "system", payment_type: _PaymentType | None = None,
                       ) -> tuple[ProductAccounting, int | None, deposit_link.DepositLeg | None]:
    """The product's accounting with the channel's fund-source account in place (and the
    deposit leg when the money comes from or goes to a deposit account). ``payment_type`` is
    the channel's payment type when the caller already read it (`_lock_for_repayment`)."""
    if (channel.payment_type_id is None) == (channel.deposit_account_id is None):
        raise InvalidInput("give either payment_type_id or deposit_account_id", field="payment_type_id")
    if channel.deposit_account_id is not None:
        # The account with those holding the loan's holds, in id order: a repayment that pays
        # the loan off releases them after it has taken the money from this one.
        await deposit_link.lock_loan_accounts(uow, [loan.id], also=[channel.deposit_account_id])
        leg = await (deposits or deposit_link.LINKED).move(
            uow, channel.deposit_account_id, client_id=loan.client_id, amount=amount, currency=loan.currency.strip(),
            credit=credit, value_date=value_date, reference=f"prêt n° {loan.id}", actor=actor)
        return msgspec.structs.replace(
            accounting, accounts={**accounting.accounts, AccountingRole.FUND_SOURCE: leg.fund_source}), None, leg
    assert channel.payment_type_id is not None
    if payment_type is None:
        found = (await uow.session.execute(text(
            "SELECT a.code FROM payment_type p LEFT JOIN gl_account a ON a.id = p.gl_account_id "
            "WHERE p.id = :id AND p.active"), {"id": channel.payment_type_id})).one_or_none()
        payment_type = None if found is None else _PaymentType(found.code)
    if payment_type is None:
        raise InvalidInput(f"no active payment type {channel.payment_type_id}", field="payment_type_id")
    overrides = dict(accounting.payment_type_accounts)
    if channel.payment_type_id not in overrides and payment_type.code is not None:
        overrides[channel.payment_type_id] = payment_type.code
    return msgspec.structs.replace(accounting, payment_type_accounts=overrides), channel.payment_type_id, None


async def _locked(uow: UnitOfWork, loan_id: int, scope: OfficeScope | None) -> LoanRow:
    return await load_row(uow, loan_id, scope=scope, for_update=True)


_ACTIVE_PAYMENT_TYPE = (PaymentTypeRow.id == bindparam("payment_type_id"), PaymentTypeRow.active)
_LOCK_FOR_REPAYMENT: Final = (
    update(LoanRow).where(LoanRow.id == bindparam("loan_id"))
    .values(updated_at=func.now(), updated_by=bindparam("actor"))
    .returning(LoanRow, exists().where(*_ACTIVE_PAYMENT_TYPE),
               select(GLAccountRow.code).select_from(PaymentTypeRow)
               .join(GLAccountRow, GLAccountRow.id == PaymentTypeRow.gl_account_id)
               .where(*_ACTIVE_PAYMENT_TYPE).scalar_subquery()))
"""Built once: a statement's construction and cache key cost more than its round trip."""


async def _lock_for_repayment(uow: UnitOfWork, loan_id: int, scope: OfficeScope, *, actor: str,
                              payment_type_id: int | None) -> tuple[LoanRow, _PaymentType | None]:
    """The loan locked and marked changed by ``actor`` in one round trip (an UPDATE takes the
    row lock a SELECT ... FOR UPDATE would; a repayment changes the loan anyway), with the
    channel's payment type read in the same statement. A loan outside the user's offices is
    unknown to them (the transaction is rolled back)."""
    answer = (await uow.session.execute(
        _LOCK_FOR_REPAYMENT, {"loan_id": loan_id, "actor": actor, "payment_type_id": payment_type_id or 0},
        execution_options={"synchronize_session": False})).one_or_none()
    if answer is None or not scope.includes(answer[0].office_id):
        raise NotFound(f"no loan {loan_id}", field="loan_id")
    row, active, gl_code = answer
    return row, (_PaymentType(gl_code) if active and payment_type_id is not None else None)


async def _next_sequence(uow: UnitOfWork, loan_id: int) -> tuple[int, date | None]:
    row = (await uow.session.execute(select(func.max(LoanTransactionRow.sequence_number),
                                            func.max(LoanTransactionRow.value_date)).where(
        LoanTransactionRow.loan_id == loan_id))).one()
    return int(row[0] or 0) + 1, row[1]


def _check_value_date(value_date: date, *, today: date, not_before: date | None, what: str,
                      since: str = "the loan's last transaction") -> None:
    if value_date > today:
        raise InvalidInput(f"a {what} cannot be dated in the future (today is {today})", field="value_date")
    if not_before is not None and value_date < not_before:
        raise InvalidInput(f"a {what} cannot be dated before {not_before}, {since}", field="value_date")


async def _backdated(uow: UnitOfWork, row: LoanRow, value_date: date, last_date: date | None, today: date) -> bool:
    """The event is dated before a transaction of the loan or on a day its office has already
    closed: it is taken with a restatement (`servicing.loans.restatement`). The office's last
    closed day is read only for an event dated before today or on the last transaction's day."""
    from servicing.loans import restatement

    if last_date is not None and value_date < last_date:
        return True
    if value_date >= today and (last_date is None or value_date > last_date):
        return False
    return restatement.needs_restatement(value_date, last_transaction=last_date,
                                         last_closed=await restatement.last_closed_day(uow, row.office_id))


def _closed_since(history: Sequence[Any], value_date: date) -> bool:
    from servicing.loans import restatement

    return restatement.closed_since(history, value_date)


def _entry(accounting: ProductAccounting, event: ProductEvent, *, loan: LoanRow, value_date: date,
           description: str, actor: str, sequence: int) -> JournalEntry | None:
    """The loan transaction's entry (None when the product's rules post nothing for it)."""
    return build_entry(ProductKind.LOAN, accounting, event, entry_id=uuid7(), office_id=loan.office_id,
                       value_date=value_date, description=description[:500], actor=actor,
                       reference=Reference(source_type=SOURCE_TYPE, source_id=f"{loan.id}/{sequence}"))


def _with_leg(entry: JournalEntry | None, leg: deposit_link.DepositLeg | None) -> JournalEntry | None:
    """The entry with its deposit-account leg (the overdraft part moved, when there is one)."""
    if leg is None:
        return entry
    if entry is None:
        raise InvalidInput("this loan product posts nothing: money cannot move on a deposit account for it",
                           field="deposit_account_id")
    return leg.adjust(entry)


async def _book(uow: UnitOfWork, accounting: ProductAccounting, event: ProductEvent, *, loan: LoanRow,
                value_date: date, description: str, actor: str, sequence: int,
                leg: deposit_link.DepositLeg | None = None) -> Any:
    entry = _with_leg(_entry(accounting, event, loan=loan, value_date=value_date, description=description,
                             actor=actor, sequence=sequence), leg)
    if entry is None:
        return None
    booked = await book_entries(uow, [entry])
    if leg is not None:
        await leg.record(uow, entry.entry_id)
    return booked[0].entry.entry_id


def _booked(row: LoanRow) -> dict[str, Any]:
    """The classification and term bucket the loan's postings use (classified accounts of the product)."""
    return {"classification": LoanClassification(row.booked_classification),
            "term": TermBucket(row.term_bucket or TermBucket.SHORT.value)}


async def _fee_charge_ids(uow: UnitOfWork, product: LoanProduct) -> dict[str, int]:
    """The product's charges by the name the schedule gives their fees (to use their own income account)."""
    rows = (await uow.session.execute(select(ChargeRow.name, ChargeRow.id).where(
        ChargeRow.id.in_(product.charge_ids)))).all()
    return {name[:80]: charge_id for name, charge_id in rows}


# --------------------------------------------------------------------------- disbursement

async def disburse(uow_factory: UnitOfWorkFactory, loan_id: int, command: Disburse, *, actor: str,
                   scope: OfficeScope, idempotency_key: str | None = None,
                   deposits: DepositAccounts | None = None, today: date | None = None) -> LoanTransaction:
    """Pay out an approved loan in full on ``value_date``: the schedule is generated from the
    frozen terms at that date and kept on the loan; the entry debits the portfolio and credits
    the fund source, less the disbursement fees (and their VAT) withheld; under upfront
    accrual it also recognises the schedule's whole interest. One tranche of the whole amount
    (`servicing.loans.tranches.pay_out`, which builds on this module's helpers)."""
    from servicing.loans.tranches import pay_out

    return await pay_out(uow_factory, loan_id, value_date=command.value_date, amount=None, channel=command.channel,
                         fingerprint=_fingerprint(command), actor=actor, scope=scope,
                         idempotency_key=idempotency_key, deposits=deposits, today=today)


# --------------------------------------------------------------------------- repayment

def _lines(rows: Sequence[LoanTransactionRow], kind: str) -> list[AllocationLine]:
    """Allocation lines of the transactions of a kind that stand (not reversed): what repayments
    paid, what charges added, what waivers forgave."""
    lines: list[AllocationLine] = []
    for row in schedules.not_reversed(rows, kind):
        lines.extend(msgspec.convert(row.allocation, list[AllocationLine]))
    return lines


def _paid_lines(rows: Sequence[LoanTransactionRow]) -> list[AllocationLine]:
    """Paid: by repayments, or by a rescheduling that turned the due into principal."""
    return [*_lines(rows, "repayment"), *_lines(rows, "rescheduling")]


def _settled(rows: Sequence[LoanTransactionRow]) -> list[AllocationLine]:
    """Paid or forgiven."""
    return [*_paid_lines(rows), *_lines(rows, "waiver")]


def _position(schedule: Schedule, rows: Sequence[LoanTransactionRow], on: date) -> LoanPosition:
    return loan_position(schedule, _paid_lines(rows), on, charged=_lines(rows, "charge"), waived=_lines(rows, "waiver"))


def position_from_history(terms: LoanTerms, stored: Schedule, product: LoanProduct, rows: Sequence[Any],
                          on: date) -> tuple[Schedule, LoanPosition]:
    """The schedule as it stands on ``on`` (recalculated for products that recalculate) and the
    position the loan's transactions give on it: what the loan view shows, and what the close
    of business ages (rows need the columns `schedules.standing` and `_position` read)."""
    schedule = schedules.schedule_on(terms, stored, product, rows, on)
    return schedule, _position(schedule, rows, on)


def is_doubtful(product: LoanProduct, position: LoanPosition, *, booked_classification: str | None = None,
                arrears_status: str | None = None) -> bool:
    """Whether a repayment follows the product's doubtful (souffrant) order: the loan is booked
    doubtful (the close of business reclassified it), or the last close held it non-performing
    (the NPA exit rule keeps it there until its arrears are fully paid), or it is already
    overdue longer than the product's days to NPA (a day not yet closed)."""
    if booked_classification == LoanClassification.DOUBTFUL.value or arrears_status == "non_performing":
        return True
    return product.days_to_npa is not None and position.days_overdue > product.days_to_npa


async def arrears_status(uow: UnitOfWork, loan_id: int) -> str | None:
    """The status the last close of business left the loan in (`loan_arrears_state`), if any."""
    status: str | None = await uow.session.scalar(text(
        "SELECT status FROM loan_arrears_state WHERE loan_id = :id"), {"id": loan_id})
    return status


async def repay(uow_factory: UnitOfWorkFactory, loan_id: int, command: Repay, *, actor: str, scope: OfficeScope,
                idempotency_key: str | None = None, deposits: DepositAccounts | None = None,
                today: date | None = None) -> LoanTransaction:
    """Take a repayment: allocated oldest instalment first, components in the product's healthy
    or doubtful order; what exceeds everything owed goes to the overpayment liability. The
    loan closes when nothing is left outstanding."""
    fingerprint = _fingerprint(command)
    async with uow_factory() as uow:
        row, payment_type = await _lock_for_repayment(uow, loan_id, scope, actor=actor,
                                                      payment_type_id=command.channel.payment_type_id)
        history = await _history_rows(uow, loan_id)
        replay = _replayed_in(history, "repayment", idempotency_key, fingerprint)
        if replay is not None:
            return replay
        if row.status != LoanStatus.ACTIVE.value and not (
                row.status == LoanStatus.CLOSED.value and _closed_since(history, command.value_date)):
            raise Conflict(f"loan {loan_id} is {row.status}; repayments are taken on active loans only (or dated "
                           "before the repayment that closed it)", field="loan_id")
        check_amount(command.amount, row.currency.strip(), field="amount")
        last_date = max((t.value_date for t in history), default=None)
        day = today or date.today()
        _check_value_date(command.value_date, today=day, not_before=row.disbursed_on, what="repayment",
                          since="the loan's disbursement")
        backdated = await _backdated(uow, row, command.value_date, last_date, day)
        product = await get_product_in(uow, row.product_id, row.product_version)
        accounting, payment_type_id, leg = await _fund_source(
            uow, product.accounting, command.channel, deposits=deposits, loan=row, amount=command.amount,
            credit=False, value_date=command.value_date, actor=actor, payment_type=payment_type)
        if backdated:
            transaction = await _restated_repayment(
                uow, row, product, command, accounting=accounting, payment_type_id=payment_type_id, leg=leg,
                actor=actor, idempotency_key=idempotency_key, fingerprint=fingerprint)
        else:
            transaction = await _take_repayment(
                uow, row, product, amount=command.amount, value_date=command.value_date, accounting=accounting,
                payment_type_id=payment_type_id, receipt_number=command.channel.receipt_number, actor=actor,
                idempotency_key=idempotency_key, fingerprint=fingerprint, history=history, leg=leg, touched=True)
        answer = to_transaction(transaction)
        await uow.commit()
    return answer


async def _restated_repayment(uow: UnitOfWork, row: LoanRow, product: LoanProduct, command: Repay, *,
                              accounting: ProductAccounting, payment_type_id: int | None,
                              leg: deposit_link.DepositLeg | None, actor: str, idempotency_key: str | None,
                              fingerprint: str) -> Any:
    """A repayment dated before the loan's last transaction or a closed day: taken on its own
    value date within a restatement of the loan (later repayments re-applied after it, the close
    of business's effects re-derived). Answers its transaction's row."""
    async def take(uow: UnitOfWork, row: LoanRow, history: Sequence[Any], sequence: int,
                   standing: tuple[str, str | None]) -> Any:
        return await _take_repayment(
            uow, row, product, amount=command.amount, value_date=command.value_date, accounting=accounting,
            payment_type_id=payment_type_id, receipt_number=command.channel.receipt_number, actor=actor,
            idempotency_key=idempotency_key, fingerprint=fingerprint, history=history, leg=leg, sequence=sequence,
            standing=standing)

    return await _taken_in_restatement(uow, row, product, value_date=command.value_date, actor=actor, take=take)


async def _taken_in_restatement(uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, value_date: date,
                                actor: str, take: Any) -> Any:
    """Take one backdated event (``take``, a `restatement.Apply`) on its own day within a
    restatement of the loan from that day; answers what ``take`` wrote."""
    from servicing.loans import restatement

    taken: list[Any] = []

    async def apply(uow: UnitOfWork, row: LoanRow, history: Sequence[Any], sequence: int,
                    standing: tuple[str, str | None]) -> Any:
        taken.append(await take(uow, row, history, sequence, standing))
        return taken[-1]

    await restatement.restate(uow, row, product, since=value_date, actor=actor,
                              pending=[restatement.Pending(value_date=value_date, apply=apply)])
    return taken[0]


async def undo_disbursement(uow_factory: UnitOfWorkFactory, loan_id: int, *, actor: str,
                            scope: OfficeScope) -> LoanTransaction:
    """Take back a disbursement made by mistake: its entry is reversed (mirror entry on its value
    date) and the loan is approved again, without schedule, ready to be disbursed correctly.
    Refused while a repayment stands (reverse the repayments first) and on a loan paid out in
    several tranches (undo them one by one: `servicing.loans.tranches.undo_last_tranche`)."""
    from servicing.loans.tranches import undo_last_tranche

    return await undo_last_tranche(uow_factory, loan_id, actor=actor, scope=scope, whole=True)


async def _reverse_transaction(uow: UnitOfWork, original: LoanTransactionRow, *, kind: str, sequence: int,
                               actor: str, description: str) -> LoanTransactionRow:
    """The mirror of a transaction: its entry reversed on the same value date, a row pointing at it."""
    entry_id = None
    if original.journal_entry_id is not None:
        booked = await load_entry(uow.session, original.journal_entry_id)
        assert booked is not None, original.journal_entry_id
        mirror = reverse(booked.entry, reversal_id=uuid7(), value_date=original.value_date,
                         description=description[:500], actor=actor)
        entry_id = (await book_entries(uow, [mirror]))[0].entry.entry_id
        await deposit_link.reverse_movements(uow, original.journal_entry_id, entry_id, value_date=original.value_date,
                                             actor=actor)
    reversal = LoanTransactionRow(
        loan_id=original.loan_id, sequence_number=sequence, kind=kind, reverses_transaction_id=original.id,
        value_date=original.value_date, currency=original.currency, amount=original.amount,
        principal=original.principal, interest=original.interest, fee=original.fee, penalty=original.penalty,
        vat=original.vat, overpayment=original.overpayment, classification=original.classification,
        payment_type_id=original.payment_type_id, receipt_number=original.receipt_number, allocation=[],
        charge_id=original.charge_id, journal_entry_id=entry_id, created_by=actor)
    uow.session.add(reversal)
    return reversal


async def _history(uow: UnitOfWork, loan_id: int) -> list[LoanTransactionRow]:
    return list((await uow.session.scalars(select(LoanTransactionRow).where(
        LoanTransactionRow.loan_id == loan_id).order_by(LoanTransactionRow.sequence_number))).all())


_HISTORY_ROWS: Final = (select(*_TRANSACTIONS.c).where(_TRANSACTIONS.c.loan_id == bindparam("loan_id"))
                        .order_by(_TRANSACTIONS.c.sequence_number))
_INSERT_TRANSACTION: Final = insert(_TRANSACTIONS).returning(*_TRANSACTIONS.c)


async def _history_rows(uow: UnitOfWork, loan_id: int) -> list[Any]:
    """The loan's transactions as plain rows (the columns of `LoanTransactionRow`), for a
    command that only reads them: no ORM objects to build and track."""
    return list((await uow.session.execute(_HISTORY_ROWS, {"loan_id": loan_id})).all())


class PlannedRepayment(msgspec.Struct, frozen=True, kw_only=True):
    """A repayment planned on a loan (`plan_loan_repayment`)."""

    plan: RepaymentPlan
    schedule: Schedule | None
    """The recalculated schedule the loan keeps after it (products with interest recalculation),
    None when the stored schedule stands."""
    closes: bool
    """Nothing is left outstanding once it is applied."""


def _terms(terms: Any) -> LoanTerms:
    """The loan's frozen terms from its row (a jsonb value, or its text)."""
    if isinstance(terms, LoanTerms):
        return terms
    if isinstance(terms, str | bytes):
        return msgspec.json.decode(terms, type=LoanTerms)
    return msgspec.convert(terms, LoanTerms)


def repayment_doubtful(product: LoanProduct, terms: Any, stored: Schedule, history: Sequence[Any], on: date, *,
                       booked_classification: str | None = None, arrears_status: str | None = None) -> bool:
    """The loan repays in the doubtful order on ``on``: booked doubtful, or held non-performing by
    the last close (the NPA exit rule), or its position as the loan view shows it
    (`position_from_history`: the schedule recalculated on the day for products that
    recalculate) is doubtful by `is_doubtful`. Only a product with a doubtful threshold needs
    the position."""
    if booked_classification == LoanClassification.DOUBTFUL.value or arrears_status == "non_performing":
        return True
    if product.days_to_npa is None:
        return False
    return is_doubtful(product, position_from_history(_terms(terms), stored, product, history, on)[1])


def repayment_dues(product: LoanProduct, terms: Any, stored: Schedule, history: Sequence[Any], on: date,
                   amount: Decimal) -> list[Due]:
    """What a payment of ``amount`` on ``on`` settles: what the stored schedule leaves due, or,
    for a product with interest recalculation, the dues `schedules.payable_dues` locks on that
    day (the pre-closure dues when the amount pays the loan off)."""
    if product.interest_recalculation:
        return schedules.payable_dues(_terms(terms), stored, product, history, on, amount)[1]
    return remaining_dues(stored, _settled(history), _lines(history, "charge"))


def plan_loan_repayment(product: LoanProduct, terms: Any, stored: Schedule, history: Sequence[Any], amount: Decimal,
                        on: date, *, dues: Sequence[Due] | None = None, booked_classification: str | None = None,
                        arrears_status: str | None = None) -> PlannedRepayment:
    """The one repayment planner of loans (counter, deposit account, automatic collection,
    re-application after a reversal): the dues of `repayment_dues` (or ``dues``, when the
    caller already has them for a product that does not recalculate) allocated by
    `products.loans.allocation.plan_repayment` in the order `repayment_doubtful` chooses; for a
    recalculating product, the schedule the loan keeps afterwards. Pure (``history`` rows carry
    the columns `schedules.standing` reads)."""
    doubtful = repayment_doubtful(product, terms, stored, history, on, booked_classification=booked_classification,
                                  arrears_status=arrears_status)
    if dues is None or product.interest_recalculation:
        dues = repayment_dues(product, terms, stored, history, on, amount)
    plan = plan_repayment(product, amount, dues, doubtful=doubtful, on=on)
    if not product.interest_recalculation:
        return PlannedRepayment(plan=plan, schedule=None, closes=not plan.left)
    allocation = plan.allocation
    kept = schedules.schedule_after(_terms(terms), stored, product, history, on,
                                    allocation.total(Component.PRINCIPAL), allocation.lines)
    closes = not remaining_dues(kept, [*_settled(history), *allocation.lines], _lines(history, "charge"))
    return PlannedRepayment(plan=plan, schedule=kept, closes=closes)


def repayment_row_values(plan: RepaymentPlan, amount: Decimal) -> dict[str, Any]:
    """The columns of a repayment's loan transaction that its plan decides."""
    totals = {part.component: part.amount for part in plan.parts}
    zero = Decimal(0)
    return {"amount": amount, "principal": totals.get(Component.PRINCIPAL, zero),
            "interest": totals.get(Component.INTEREST, zero), "fee": totals.get(Component.FEE, zero),
            "penalty": totals.get(Component.PENALTY, zero), "vat": totals.get(Component.VAT, zero),
            "overpayment": plan.allocation.overpayment,
            "classification": (LoanClassification.DOUBTFUL if plan.doubtful else LoanClassification.HEALTHY).value}


async def _take_repayment(uow: UnitOfWork, row: LoanRow, product: LoanProduct, *, amount: Decimal, value_date: date,
                          accounting: ProductAccounting, payment_type_id: int | None, receipt_number: str | None,
                          actor: str, idempotency_key: str | None, fingerprint: str | None,
                          history: Sequence[Any] | None = None,
                          leg: deposit_link.DepositLeg | None = None, touched: bool = False,
                          sequence: int | None = None, standing: tuple[str, str | None] | None = None) -> Any:
    """Allocate and book one repayment on the locked loan, against what its history (read
    under the lock; read here when not given) left due (``touched``: the lock already marked
    the loan changed, so it is updated again only when its status or schedule changes).
    A restatement (`servicing.loans.restatement`) passes the history as it stood on the value
    date, the ``sequence`` to write and the loan's ``standing`` on that day (booked class,
    arrears status), which choose the healthy or doubtful order; the provision is then left to
    the restatement (released as of its last closed day), not released with the repayment.
    Answers the transaction's row as inserted (the columns of `LoanTransactionRow`)."""
    assert row.schedule is not None
    currency = row.currency.strip()
    if history is None:
        history = await _history(uow, row.id)
    if sequence is None:
        sequence = max((t.sequence_number for t in history), default=0) + 1
    booked_class, status = standing if standing is not None else (row.booked_classification,
                                                                   await arrears_status(uow, row.id))
    planned = plan_loan_repayment(product, row.terms, msgspec.convert(row.schedule, Schedule), history, amount,
                                  value_date, booked_classification=booked_class, arrears_status=status)
    plan = planned.plan
    if plan.splits_instalment:
        raise InvalidInput("the product takes whole instalments only: pay the instalments in full", field="amount")
    # Cash rule: the principal repaid carries its share of the interest a rescheduling capitalised.
    release = await deferral_release(uow, row, product, history,
                                     principal_paid=plan.allocation.total(Component.PRINCIPAL))
    event = ProductEvent(kind=EventKind.REPAYMENT, currency=currency,
                         parts=plan.parts + (release.parts() if release is not None else ()),
                         payment_type_id=payment_type_id, **_booked(row))
    entry = _with_leg(_entry(accounting, event, loan=row, value_date=value_date,
                             description=f"Remboursement prêt n° {row.id}", actor=actor, sequence=sequence), leg)
    entry_id = entry.entry_id if entry is not None else None
    # A plain INSERT ... RETURNING (the unit of work's flush machinery costs more than the row).
    transaction = (await uow.session.execute(_INSERT_TRANSACTION, {
        "loan_id": row.id, "sequence_number": sequence, "kind": "repayment", "value_date": value_date,
        "currency": currency, **repayment_row_values(plan, amount), "payment_type_id": payment_type_id,
        "reverses_transaction_id": None, "charge_id": None, "receipt_number": receipt_number,
        "allocation": msgspec.to_builtins(plan.allocation.lines), "journal_entry_id": entry_id,
        "idempotency_key": idempotency_key, "request_fingerprint": fingerprint, "created_by": actor})).one()
    if planned.schedule is not None:
        row.schedule = msgspec.to_builtins(planned.schedule)
    status = (LoanStatus.CLOSED if planned.closes else LoanStatus.ACTIVE).value
    if row.status != status:
        row.status = status
    if planned.closes:
        row.closed_on = value_date  # the day it left the portfolio (a catch-up ages it up to then)
        await deposit_link.release_loan_holds(uow, row.id, on=value_date, actor=actor)
    if not touched:
        row.updated_at = func.now()
        row.updated_by = actor
    await uow.session.flush()
    if entry is not None:
        # Booked last: the journal's shared rows (the office's chain head, the accounts' cached
        # balances) stay locked only from here to the commit. The transaction's reference to
        # its entry is checked at commit (deferred foreign key, revision 0018).
        await book_entries(uow, [entry])
        if leg is not None:
            await leg.record(uow, entry.entry_id)
        # The receivables trued up first: the provision released next reads them.
        await true_up_settlements(uow, [Settlement(
            loan=row, product=product, schedule=planned.schedule or msgspec.convert(row.schedule, Schedule),
            interest=plan.allocation.total(Component.INTEREST), fee=plan.allocation.total(Component.FEE),
            closes=planned.closes, value_date=value_date)], actor=actor)
        if standing is None:  # a restatement books the provision its last closed day requires, at its end
            await release_with_repayment(uow, row, product,
                                         principal_repaid=plan.allocation.total(Component.PRINCIPAL), value_date=value_date,
                                         sequence=sequence, actor=actor)
    return transaction


async def reverse_repayment(uow_factory: UnitOfWorkFactory, loan_id: int, transaction_id: int, *, actor: str,
                            scope: OfficeScope) -> list[LoanTransaction]:
    """Reverse a repayment: its entry is reversed (on its own value date), and so is every later
    repayment's, which is then taken again, in order, on what is now due, so every allocation
    stays as if the reversed repayment had never been received. A closed loan reopens when
    something is due again. Answers the transactions written (reversals, then re-applications)."""
    async with uow_factory() as uow:
        row = await _locked(uow, loan_id, scope)
        history = await _history(uow, loan_id)
        reversed_ids = {t.reverses_transaction_id for t in history if t.reverses_transaction_id is not None}
        target = next((t for t in history if t.id == transaction_id), None)
        if target is None:
            raise NotFound(f"loan {loan_id} has no transaction {transaction_id}", field="transaction_id")
        if target.kind != "repayment":
            own = {"write_off": f"POST /api/v1/loans/{loan_id}/write-off/reversal",
                   "recovery": f"POST /api/v1/loans/{loan_id}/recoveries/{transaction_id}/reversal"}.get(target.kind)
            raise Conflict(f"transaction {transaction_id} is a {target.kind}; only repayments are reversed here"
                           + (f": reverse it through {own}" if own else ""), field="transaction_id")
        if target.id in reversed_ids:
            raise Conflict(f"transaction {transaction_id} is already reversed", field="transaction_id")
        if any(t.kind == "rescheduling" and t.sequence_number > target.sequence_number for t in history):
            raise Conflict(f"transaction {transaction_id} precedes the loan's rescheduling, whose plan was drawn on "
                           "what it paid: it is not reversed", field="transaction_id")
        later = [t for t in history if t.kind == "repayment" and t.sequence_number > target.sequence_number
                 and t.id not in reversed_ids]
        product = await get_product_in(uow, row.product_id, row.product_version)
        sequence = max(t.sequence_number for t in history)
        written: list[Any] = []
        restates = await _reversal_restates(uow, row, target, later)
        if restates:
            # Dated on or before a closed day (or before a repayment taken after it): the loan is
            # restated from the reversed repayment's day, later repayments re-applied in date order.
            from servicing.loans import restatement

            written.append(await _reverse_transaction(
                uow, target, kind="repayment_reversal", sequence=sequence + 1, actor=actor,
                description=f"Annulation remboursement prêt n° {loan_id}"))
            await uow.session.flush()
            await _reopen(uow, row, product, target.value_date, actor)
            restated = await restatement.restate(uow, row, product, since=target.value_date, actor=actor)
            written += restated.written
            later = []
        for original in [] if restates else [target, *later]:
            sequence += 1
            written.append(await _reverse_transaction(
                uow, original, kind="repayment_reversal", sequence=sequence, actor=actor,
                description=f"Annulation remboursement prêt n° {loan_id}"))
        await uow.session.flush()
        for original in later:
            account_id = await deposit_link.funds_of(uow, original.journal_entry_id)
            channel = (FundsChannel(deposit_account_id=account_id) if account_id is not None
                       else FundsChannel(payment_type_id=original.payment_type_id))
            accounting, payment_type_id, leg = await _fund_source(
                uow, product.accounting, channel, deposits=None, loan=row, amount=_plain(original.amount),
                credit=False, value_date=original.value_date, actor=actor)
            written.append(await _take_repayment(
                uow, row, product, amount=_plain(original.amount), value_date=original.value_date, accounting=accounting,
                payment_type_id=payment_type_id, receipt_number=original.receipt_number, actor=actor,
                idempotency_key=None, fingerprint=None, leg=leg))
        if not later and not restates:
            await _reopen(uow, row, product, target.value_date, actor)
        await uow.session.flush()
        if overpayment_held(await _history(uow, loan_id)) < 0:
            raise Conflict("part of the overpayment this reversal takes back was already refunded to the borrower",
                           field="transaction_id")
        for transaction in written:
            if isinstance(transaction, LoanTransactionRow):  # the re-applications are rows as inserted
                await uow.session.refresh(transaction)
        answer = [to_transaction(t) for t in written]
        await uow.commit()
    return answer


async def _reversal_restates(uow: UnitOfWork, row: LoanRow, target: LoanTransactionRow,
                             later: Sequence[LoanTransactionRow]) -> bool:
    """A reversal restates the loan when its repayment is dated on or before a day the office
    has closed, or when a repayment received after it is dated before it (a backdated one)."""
    from servicing.loans import restatement

    if any(t.value_date < target.value_date for t in later):
        return True
    closed = await restatement.last_closed_day(uow, row.office_id)
    return closed is not None and target.value_date <= closed


async def _reopen(uow: UnitOfWork, row: LoanRow, product: LoanProduct, on: date, actor: str) -> None:
    """After a reversal: the schedule as it stands on ``on`` and the status what is left due says
    (a closed loan reopens when something is due again)."""
    assert row.schedule is not None
    now = await _history(uow, row.id)
    schedule = schedules.schedule_on(msgspec.convert(row.terms, LoanTerms), msgspec.convert(
        row.schedule, Schedule), product, now, on)
    row.schedule = msgspec.to_builtins(schedule)
    row.status = (LoanStatus.ACTIVE if remaining_dues(schedule, _settled(now), _lines(now, "charge"))
                  else LoanStatus.CLOSED).value
    row.closed_on = row.closed_on if row.status == LoanStatus.CLOSED.value else None
    row.updated_at = func.now()
    row.updated_by = actor
    await uow.session.flush()


# --------------------------------------------------------------------------- charges and waivers

_CHARGEABLE = {Component.FEE: EventKind.FEE_CHARGE, Component.PENALTY: EventKind.PENALTY_CHARGE}
WAIVABLE: Final = (Component.INTEREST, Component.FEE, Component.PENALTY)


async def _active_for_change(uow: UnitOfWork, loan_id: int, scope: OfficeScope, kind: str, key: str | None,
                             fingerprint: str, value_date: date, today: date | None
                             ) -> tuple[LoanRow, LoanTransaction | None, list[LoanTransactionRow], LoanProduct, bool]:
    """The locked active loan (or closed since ``value_date``: `restatement.closed_since`), the
    answer of a replayed request, its history, its product, and whether the change is backdated
    (dated before its last transaction or on a closed day: the caller takes it within a
    restatement of the loan)."""
    row = await _locked(uow, loan_id, scope)
    replay = await _replayed(uow, loan_id, kind, key, fingerprint)
    if replay is not None:
        return row, replay, [], await get_product_in(uow, row.product_id, row.product_version), False
    history = await _history(uow, loan_id)
    if row.status != LoanStatus.ACTIVE.value and not (
            row.status == LoanStatus.CLOSED.value and _closed_since(history, value_date)):
        raise Conflict(f"loan {loan_id} is {row.status}; only an active loan takes this", field="loan_id")
    day = today or date.today()
    last = max(t.value_date for t in history)
    _check_value_date(value_date, today=day, not_before=row.disbursed_on, what=kind, since="the loan's disbursement")
    backdated = await _backdated(uow, row, value_date, last, day)
    return row, None, history, await get_product_in(uow, row.product_id, row.product_version), backdated


async def add_charge(uow_factory: UnitOfWorkFactory, loan_id: int, command: AddCharge, *, actor: str,
                     scope: OfficeScope, idempotency_key: str | None = None, today: date | None = None) -> LoanTransaction:
    """Add a fee or penalty to an active loan, due with the instalment holding its due date (the
    last one after the schedule's end). Under accrual it is recognised now (fee or penalty charge
    event); under cash, when it is paid."""
    fingerprint = _fingerprint(command)
    async with uow_factory() as uow:
        row, replay, history, product, backdated = await _active_for_change(
            uow, loan_id, scope, "charge", idempotency_key, fingerprint, command.value_date, today)
        if replay is not None:
            return replay
        check_amount(command.amount, row.currency.strip(), field="amount")
        transaction = await _write_charge(uow, row, product, command, sequence=history[-1].sequence_number + 1,
                                          actor=actor, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if backdated:
            from servicing.loans import restatement

            await restatement.restate(uow, row, product, since=command.value_date, actor=actor)
        await uow.session.refresh(transaction)
        answer = to_transaction(transaction)
        await uow.commit()
    return answer


async def _write_charge(uow: UnitOfWork, row: LoanRow, product: LoanProduct, command: AddCharge, *, sequence: int,
                        actor: str, idempotency_key: str | None, fingerprint: str | None) -> LoanTransactionRow:
    """Write one charge on the locked loan (its entry under accrual, its VAT owed beside it, on
    the instalment holding its due date); answers its row, flushed."""
    currency = row.currency.strip()
    component = Component.FEE
    vat = Decimal(0)
    due = command.due_date or command.value_date
    if command.charge_id is not None:
        charge = await uow.session.get(ChargeRow, command.charge_id)
        if charge is None or not charge.active or charge.applies_to != "loan" or charge.currency.strip() != currency:
            raise InvalidInput(f"no active loan charge {command.charge_id} in {currency}", field="charge_id")
        component = Component.PENALTY if charge.is_penalty else Component.FEE
        # Taxed at the rate in force on the day the charge falls due (none if the institution is exempt).
        vat = vat_on_charge(command.amount, tax_rate_on(await tax_of_charge(uow.session, charge), due),
                            product.rounding, currency)
    assert row.schedule is not None
    schedule = msgspec.convert(row.schedule, Schedule)
    instalment = next((i.number for i in schedule.instalments if i.due_date >= due), schedule.instalments[-1].number)
    # The charge's VAT (its tax rate) is owed with it and, like the schedule's, posted when collected.
    lines = [AllocationLine(instalment=instalment, component=component, amount=command.amount)]
    if vat > 0:
        lines.append(AllocationLine(instalment=instalment, component=Component.VAT, amount=vat))
    event = ProductEvent(kind=_CHARGEABLE[component], currency=currency, parts=(
        EventPart(component=component, amount=command.amount, charge_id=command.charge_id),), **_booked(row))
    entry_id = await _book(uow, product.accounting, event, loan=row, value_date=command.value_date,
                           description=f"Frais sur prêt n° {row.id}", actor=actor, sequence=sequence)
    transaction = LoanTransactionRow(
        loan_id=row.id, sequence_number=sequence, kind="charge", value_date=command.value_date, currency=currency,
        amount=command.amount + vat, fee=command.amount if component is Component.FEE else Decimal(0),
        penalty=command.amount if component is Component.PENALTY else Decimal(0), vat=vat,
        classification=row.booked_classification, charge_id=command.charge_id,
        allocation=msgspec.to_builtins(lines), journal_entry_id=entry_id, idempotency_key=idempotency_key,
        request_fingerprint=fingerprint, created_by=actor)
    uow.session.add(transaction)
    await uow.session.flush()
    return transaction


async def waive(uow_factory: UnitOfWorkFactory, loan_id: int, command: Waive, *, actor: str, scope: OfficeScope,
                idempotency_key: str | None = None, today: date | None = None) -> LoanTransaction:
    """Forgive interest, fees or penalties still owed, oldest instalment first (or on one). Under
    accrual the income recognised is reversed (waiver event); under cash nothing was recognised.
    Dated before the loan's last transaction or on a closed day, it is taken on its own day
    within a restatement (`servicing.loans.restatement`): on what was owed that day, later
    repayments and waivers re-applied after it, the close's effects re-derived."""
    fingerprint = _fingerprint(command)
    if command.component not in {c.value for c in WAIVABLE}:
        raise InvalidInput("only interest, fee or penalty is waived", field="component")
    async with uow_factory() as uow:
        row, replay, history, product, backdated = await _active_for_change(
            uow, loan_id, scope, "waiver", idempotency_key, fingerprint, command.value_date, today)
        if replay is not None:
            return replay
        check_amount(command.amount, row.currency.strip(), field="amount")
        if backdated:
            async def take(uow: UnitOfWork, row: LoanRow, history: Sequence[Any], sequence: int,
                           standing: tuple[str, str | None]) -> Any:
                return await _take_waiver(uow, row, product, command, history=history, sequence=sequence,
                                          actor=actor, idempotency_key=idempotency_key, fingerprint=fingerprint,
                                          restated=True)

            transaction = await _taken_in_restatement(uow, row, product, value_date=command.value_date, actor=actor,
                                                      take=take)
        else:
            transaction = await _take_waiver(uow, row, product, command, history=history,
                                             sequence=history[-1].sequence_number + 1, actor=actor,
                                             idempotency_key=idempotency_key, fingerprint=fingerprint)
        await uow.session.refresh(transaction)
        answer = to_transaction(transaction)
        await uow.commit()
    return answer


async def _take_waiver(uow: UnitOfWork, row: LoanRow, product: LoanProduct, command: Waive, *,
                       history: Sequence[Any], sequence: int, actor: str, idempotency_key: str | None,
                       fingerprint: str | None, restated: bool = False) -> LoanTransactionRow:
    """Write one waiver on the locked loan against what ``history`` (as it stood on the waiver's
    day, for a restatement) leaves owed on the schedule of that day; answers its row."""
    component = Component(command.component)
    currency = row.currency.strip()
    assert row.schedule is not None
    schedule = msgspec.convert(row.schedule, Schedule)
    if restated:  # the schedule of that day (recalculated on the history as it then stood)
        schedule = schedules.schedule_on(msgspec.convert(row.terms, LoanTerms), schedule, product, history,
                                         command.value_date)
    owed = [d for d in remaining_dues(schedule, _settled(history), _lines(history, "charge"))
            if d.component is component and (command.instalment is None or d.instalment == command.instalment)]
    total = sum((d.amount for d in owed), Decimal(0))
    if command.amount > total:
        raise InvalidInput(f"only {total} {currency} of {component.value} is owed"
                           + (f" on instalment {command.instalment}" if command.instalment else "")
                           + (f" on {command.value_date}" if restated else ""), field="amount")
    left = command.amount
    lines: list[AllocationLine] = []
    for due in owed:
        if left == 0:
            break
        taken = min(left, due.amount)
        lines.append(AllocationLine(instalment=due.instalment, component=component, amount=taken))
        left -= taken
    event = ProductEvent(kind=EventKind.WAIVER, currency=currency,
                         parts=(EventPart(component=component, amount=command.amount),), **_booked(row))
    entry_id = await _book(uow, product.accounting, event, loan=row, value_date=command.value_date,
                           description=f"Remise sur prêt n° {row.id}", actor=actor, sequence=sequence)
    transaction = LoanTransactionRow(
        loan_id=row.id, sequence_number=sequence, kind="waiver", value_date=command.value_date, currency=currency,
        amount=command.amount, interest=command.amount if component is Component.INTEREST else Decimal(0),
        fee=command.amount if component is Component.FEE else Decimal(0),
        penalty=command.amount if component is Component.PENALTY else Decimal(0),
        classification=row.booked_classification, receipt_number=None,
        allocation=msgspec.to_builtins(lines), journal_entry_id=entry_id, idempotency_key=idempotency_key,
        request_fingerprint=fingerprint, created_by=actor)
    uow.session.add(transaction)
    closes = not remaining_dues(schedule, [*_settled(history), *lines], _lines(history, "charge"))
    status = (LoanStatus.CLOSED if closes else LoanStatus.ACTIVE).value
    if row.status != status:
        row.status = status
    if closes:
        row.closed_on = command.value_date  # the day it left the portfolio (a catch-up ages it up to then)
        await deposit_link.release_loan_holds(uow, row.id, on=command.value_date, actor=actor)
    row.updated_at = func.now()
    row.updated_by = actor
    await uow.session.flush()
    # Forgiven interest (fees) not yet recognised is recognised first, so the waiver's reversal
    # of income meets income that was booked; a waiver closing the loan leaves no receivable.
    await true_up_settlements(uow, [Settlement(
        loan=row, product=product, schedule=schedule, interest=transaction.interest, fee=transaction.fee,
        closes=closes, value_date=command.value_date)], actor=actor)
    return transaction


# --------------------------------------------------------------------------- read

async def transactions(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope) -> list[LoanTransaction]:
    async with uow:
        await load_row(uow, loan_id, scope=scope)
        rows = (await uow.session.scalars(select(LoanTransactionRow).where(
            LoanTransactionRow.loan_id == loan_id).order_by(LoanTransactionRow.sequence_number)
            .limit(TRANSACTIONS_LISTED_MAX))).all()
        return [to_transaction(row) for row in rows]


STATEMENT_HEADER: Final = ("sequence", "kind", "value_date", "amount", "principal", "interest", "fee", "penalty",
                           "vat", "overpayment", "receipt_number", "journal_entry_id", "account_code", "side",
                           "line_amount")


async def statement(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope) -> LoanStatement:
    """Every transaction of the loan with the lines of its journal entry, read from the journal."""
    async with uow:
        row = await load_row(uow, loan_id, scope=scope)
        history = await _history(uow, loan_id)
        entry_ids = [t.journal_entry_id for t in history if t.journal_entry_id is not None]
        found = (await uow.session.execute(text(
            "SELECT l.entry_id, a.code, l.side, l.amount FROM journal_line l JOIN gl_account a ON a.id = l.account_id "
            "WHERE l.entry_id = ANY(:ids) ORDER BY l.entry_id, l.line_no"), {"ids": entry_ids})).all()
        # An entry the close of business shares between loans shows this loan's share, not every loan's lines.
        shared = (await uow.session.execute(text(
            "SELECT s.loan_transaction_id, a.code, s.side, s.amount FROM loan_entry_share s"
            " JOIN gl_account a ON a.id = s.account_id WHERE s.loan_transaction_id = ANY(:ids)"
            " ORDER BY s.loan_transaction_id, s.side DESC, a.code"), {"ids": [t.id for t in history]})).all()
        answer = LoanStatement(loan_id=loan_id, client_id=row.client_id, currency=row.currency.strip(), items=())
        transactions = [to_transaction(t) for t in history]
    lines: dict[Any, list[StatementLine]] = {}
    for entry_id, code, side, amount in found:
        lines.setdefault(entry_id, []).append(StatementLine(
            account_code=code, side="debit" if side == "D" else "credit", amount=_plain(amount)))
    shares: dict[int, list[StatementLine]] = {}
    for transaction_id, code, side, amount in shared:
        shares.setdefault(transaction_id, []).append(StatementLine(
            account_code=code, side="debit" if side == "D" else "credit", amount=_plain(amount)))
    items = tuple(StatementItem(transaction=t, journal_lines=tuple(
        shares[t.transaction_id] if t.transaction_id in shares else lines.get(t.journal_entry_id, ())))
        for t in transactions)
    return msgspec.structs.replace(answer, items=items)


def statement_rows(loan_statement: LoanStatement) -> list[tuple[Any, ...]]:
    """One CSV row per journal line (a transaction without entry gets one row without line)."""
    rows: list[tuple[Any, ...]] = []
    for item in loan_statement.items:
        t = item.transaction
        head = (t.sequence_number, t.kind, t.value_date, t.amount, t.principal, t.interest, t.fee, t.penalty, t.vat,
                t.overpayment, t.receipt_number, t.journal_entry_id)
        for line in item.journal_lines or (None,):
            rows.append(head + ((line.account_code, line.side, line.amount) if line else (None, None, None)))
    return rows


async def payoff_quote(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope, on: date) -> PayoffQuote:
    async with uow:
        record = await load_record(uow, loan_id, scope=scope)
        if record.status is not LoanStatus.ACTIVE or record.schedule is None:
            raise Conflict(f"loan {loan_id} is {record.status.value}; only an active loan has a payoff quote",
                           field="loan_id")
        history = await _history(uow, loan_id)
        product = await get_product_in(uow, record.product_id, record.product_version)
        basis = "schedule"
        schedule = record.schedule
        if product.interest_recalculation:
            last = max(t.value_date for t in history)
            if on < last:
                raise InvalidInput(f"a payoff is quoted from the loan's last transaction ({last}) on", field="on")
            schedule, _dues = schedules.payable_dues(record.terms, schedule, product, history, on, None)
            basis = product.interest_recalculation_settings.pre_closure_interest.value
        position = _position(schedule, history, on)

    def left(component: Component) -> Decimal:
        return position.component(component).outstanding

    return PayoffQuote(loan_id=loan_id, on=on, currency=record.currency, principal=left(Component.PRINCIPAL),
                       interest=left(Component.INTEREST), fee=left(Component.FEE), penalty=left(Component.PENALTY),
                       vat=left(Component.VAT), total=position.outstanding, basis=basis)


async def loan_view(uow: UnitOfWork, loan_id: int, *, scope: OfficeScope, as_of: date | None = None) -> LoanView:
    """The loan with its schedule and, once disbursed, its position derived from its transactions."""
    async with uow:
        record: LoanRecord = await load_record(uow, loan_id, scope=scope)
        if record.schedule is None:
            return LoanView(loan=record, position=None)
        history = await _history(uow, loan_id)
        product = await get_product_in(uow, record.product_id, record.product_version)
        schedule, position = position_from_history(record.terms, record.schedule, product, history,
                                                   as_of or date.today())
        aged = (await uow.session.execute(_ARREARS_OF_LOAN, {"loan": loan_id})).one_or_none()
        arrears = None if aged is None else LoanArrearsView(
            business_date=aged.business_date, days_overdue=aged.days_overdue,
            overdue_amount=normalize_amount(aged.overdue_amount, record.currency),
            overdue_principal=normalize_amount(aged.overdue_principal, record.currency), status=aged.status,
            bucket=aged.bucket_label, classification=aged.classification,
            provision_rate_percent=schedules.plain(aged.provision_rate_percent))
        return LoanView(loan=msgspec.structs.replace(record, schedule=schedule), position=position, arrears=arrears)


_ARREARS_OF_LOAN = text("""
    SELECT business_date, days_overdue, overdue_amount, overdue_principal, status, bucket_label, classification,
           provision_rate_percent FROM loan_arrears_state WHERE loan_id = :loan
""")
